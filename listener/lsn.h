/* Internal to the listener core: the process state (struct lsn_env), the
 * objects it manages, and the functions the files of listener/ call in each
 * other. Adapters include listener.h only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "ipc.h"
#include "listener.h"
#include "msg.h"
#include "queue.h"
#include "route.h"

struct lsn_client;
struct lsn_env;
struct lsn_pool;
struct lsn_worker;
struct lsn_relay;
struct lsn_tls;

/* A routing table generation with a reference count: connections that
 * routed with it (queued, in flight) keep it, so their site and application
 * path stay valid after a new generation arrived. */
struct lsn_table {
	struct wasp_route_table *rt;
	unsigned refs;
	uint32_t *site_conns; /* per site index: connections held (maxConnections) */
};

enum lsn_conn_state {
	LSN_CONN_FREE,
	LSN_CONN_READING, /* waiting for the head; ev armed */
	LSN_CONN_QUEUED,  /* in pool->queue */
	LSN_CONN_INFLIGHT, /* handed to worker, not yet acknowledged */
	LSN_CONN_LINGER,   /* error answered; draining the client's bytes until EOF */
};

struct lsn_conn {
	uint32_t id; /* slot + 1 | reuse << LSN_CONN_SLOT_BITS; never 0 */
	enum lsn_conn_state state;
	int fd;
	struct lsn_env *env;
	uint32_t sock_id;  /* accepted on this socket of generation sock_gen; */
	uint32_t sock_gen; /* UINT32_MAX after a handback */
	struct event ev;      /* read + header timeout (embedded: no malloc) */
	bool ev_set;
	char *buf;            /* bytes read so far, kept until the ACK */
	uint32_t len, cap;
	unsigned peek_flags;  /* from the last peek() */
	bool rd_eof;          /* the client shut down its side (half-close) while queued */
	uint64_t t_start;     /* usec: accept, or handback */
	struct wasp_queue_entry qe; /* in a pool queue (enqueue time) */
	/* route */
	struct lsn_table *table; /* ref held while routed */
	const struct wasp_route_site *site;
	const struct wasp_route_app *app;
	struct lsn_pool *pool;
	struct lsn_worker *worker; /* INFLIGHT */
	TAILQ_ENTRY(lsn_conn) link; /* worker->inflight, or the free list */
	TAILQ_ENTRY(lsn_conn) rlink; /* env->reading while its head is incomplete */
	bool in_reading;
	bool peer_counted; /* counted in env->clients under peer */
	/* the request line as far as peek() read it, for the HTTPERR log: the
	 * method and the target as offsets into buf (len 0: not known) */
	const char *req_version; /* static, NULL: not known */
	uint32_t req_method_off, req_method_len;
	uint32_t req_uri_off, req_uri_len;
	uint8_t peer[16];  /* client address (IPv4 mapped into IPv6) */
	uint8_t local[16]; /* local address, the same way */
	uint16_t peer_port, local_port;
	bool have_addrs;   /* peer and local are known */
	struct lsn_relay *relay; /* a TLS connection: fd is the plaintext end */
	struct lsn_ktls *ktls;   /* a kTLS connection: fd is the TCP socket */
};

TAILQ_HEAD(lsn_conn_list, lsn_conn);

#define LSN_LINGER_USEC 2000000 /* at most this long after an error response */
#define LSN_CONN_SLOT_BITS 20
#define LSN_CONN_MAX ((1u << LSN_CONN_SLOT_BITS) - 1)

struct lsn_worker {
	uint32_t worker_id;
	uint32_t pid;
	struct lsn_pool *pool;
	struct wasp_ipc_channel *ch;
	struct lsn_conn_list inflight; /* handed, not acknowledged */
	uint32_t n_inflight;
	uint64_t owned; /* acknowledged, minus handed back and released (WORKER_ROOM) */
	uint32_t capacity; /* connections it can hold (WORKER_ROOM), 0: unknown */
	bool full;      /* refused a connection: none until its next WORKER_ROOM */
	bool gone;      /* WORKER_GONE: no new connections */
	TAILQ_ENTRY(lsn_worker) link; /* pool->workers */
	struct lsn_worker *id_next;   /* env->worker_ids' chain (workers.c) */
};

TAILQ_HEAD(lsn_worker_list, lsn_worker);

struct lsn_pool {
	char *name;
	uint32_t id;              /* in the current table; UINT32_MAX: removed */
	const struct wasp_route_pool *rp; /* current table's entry, NULL if removed */
	uint32_t state;           /* WASP_POOL_* (table, then POOL_STATE) */
	struct wasp_queue queue;
	struct event *ev_expire;  /* the queue head's startupTimeLimit */
	struct lsn_worker_list workers;
	uint32_t n_workers;       /* not gone */
	bool demand_sent;
	uint64_t demand_time;
	struct lsn_env *env;
	/* metrics since the last ADAPTER_POOL_METRICS (metrics.c) */
	struct wasp_msg_adapter_pool_metrics m;
	bool m_dirty;
	uint32_t queued_sent;
	TAILQ_ENTRY(lsn_pool) link;
};

TAILQ_HEAD(lsn_pool_list, lsn_pool);

struct lsn_socket {
	int fd;
	uint32_t id;
	bool tls; /* https: connections go through a TLS relay */
	struct event *ev;
	struct lsn_env *env;
};

/* A LISTEN_SOCKET received for a generation whose ROUTE_TABLE is still to come. */
struct lsn_pending_socket {
	int fd;
	uint32_t id;
	uint32_t generation;
};

/* The HTTPERR log's files (httperr.c). */
struct lsn_httperr {
	int dfd;       /* the HTTPERR directory; -1: not logging */
	int fd;        /* httperr<seq>.log; -1: not open yet */
	uint32_t seq;
	uint64_t size; /* of the open file */
	uint64_t max_size;
	uint32_t max_files;
	bool warned;   /* a write failed (said once) */
};

struct lsn_env {
	struct event_base *base;
	const struct wasp_listener_ops *ops;
	void *userdata;
	size_t max_head;
	struct timeval header_timeout; /* a libevent common timeout */
	uint64_t header_timeout_usec;
	uint32_t header_timeout_ms;
	uint32_t header_timeout_default_ms; /* when the routing table sets none */

	struct wasp_ipc_channel *act; /* the activator channel */
	bool registered;

	struct lsn_table *table; /* current generation, NULL before the first */
	struct lsn_socket *sockets;
	size_t n_sockets;
	struct lsn_pending_socket *pending;
	size_t n_pending, n_pending_alloc;

	struct lsn_pool_list pools; /* every pool, current or removed-with-workers */
	struct lsn_pool **pool_by_id; /* current table's ids */
	size_t n_pool_by_id;
	/* every worker of every pool by worker id (workers.c) */
	struct lsn_worker **worker_ids;
	uint32_t worker_ids_mask, n_worker_ids;

	/* connections */
	struct lsn_conn **slots; /* by slot; NULL = never allocated */
	uint32_t n_slots;        /* allocated so far (<= max_conns) */
	uint32_t max_conns;
	uint32_t n_conns;        /* held now */
	uint64_t n_owned;        /* held by workers (sum of their owned) */
	struct lsn_conn_list free_conns;
	/* connections still reading their head, oldest first: the first to
	 * close when the limit is reached (accept.c) */
	struct lsn_conn_list reading;
	bool shedding;           /* at the limit, closing unfinished heads (logged once) */
	/* connections held per client address (client.c) */
	uint32_t max_per_client; /* maxConnectionsPerClient; 0: no limit */
	struct lsn_client *clients;
	uint32_t clients_mask;   /* slots - 1 (a power of two) */
	uint64_t client_seed[2];

	/* accept */
	bool accept_paused;      /* EMFILE: timer running */
	bool accept_full;        /* at max_conns */
	struct event *ev_accept_resume;

	uint8_t *scratch; /* WASP_IPC_MAX_PAYLOAD bytes for building HANDOFFs */

	struct event *ev_stats;
	struct event *ev_term;
	struct event *ev_quit;
	bool quitting; /* SIGQUIT: accepting no more, exiting once n_conns is 0 */
	struct wasp_msg_adapter_stats stats, stats_sent;
	/* since the last ADAPTER_METRICS (metrics.c) */
	struct wasp_msg_adapter_metrics metrics;
	uint32_t metrics_active_sent;
	uint64_t metrics_accepted_sent;
	/* TLS counters since the last ADAPTER_TLS_METRICS (tlsfail.c, tlsclient.c) */
	struct wasp_msg_adapter_tls_metrics tls_metrics;
	bool tls_metrics_dirty;
	int exit_status;
	bool exiting; /* tearing down: drop connections, route nothing */
	struct lsn_httperr httperr;
	struct lsn_tls *tls; /* TLS contexts and relays (tls.c, relay.c) */
};

/* listener.c: connection life cycle and routing */
/* A connection object (free list first) owning fd; NULL at the limit or on
 * OOM, with fd closed. */
struct lsn_conn *lsn_conn_new(struct lsn_env *env, int fd);
/* Back to the free list: out of any queue or in-flight list, events off,
 * our fd closed. NULL-safe; a no-op on a free object. */
void lsn_conn_free(struct lsn_env *env, struct lsn_conn *c);
/* Read what the socket has and route, or wait (header timeout from t_start). */
void lsn_conn_read(struct lsn_env *env, struct lsn_conn *c);
/* peek() the bytes held, route, then hand off, queue, or reject. */
void lsn_conn_route(struct lsn_env *env, struct lsn_conn *c);
void lsn_conn_drop_event(struct lsn_conn *c);
/* Out of env->reading: its head is complete (or it is going). */
void lsn_conn_head_done(struct lsn_env *env, struct lsn_conn *c);
/* While queued: watch for the client going away (and keep its bytes). */
void lsn_conn_watch_queued(struct lsn_env *env, struct lsn_conn *c);
/* Answer status (503 of a TcpLevel pool: reset instead), then close;
 * logged in HTTPERR. */
void lsn_conn_reject(struct lsn_env *env, struct lsn_conn *c, unsigned status, const char *reason);
/* A 503 counted as why (queue full, pool stopped) in the metrics. */
void lsn_conn_reject_503(struct lsn_env *env, struct lsn_conn *c, enum wasp_reject_reason why,
			 const char *reason);
/* Close without an answer, logged in HTTPERR with reason (an HTTP.sys
 * reason phrase: Timer_ConnectionIdle, Connection_Dropped...). */
void lsn_conn_drop(struct lsn_env *env, struct lsn_conn *c, const char *reason);
/* The live connection with this id (HANDOFF_ACK, HANDBACK), or NULL. */
struct lsn_conn *lsn_conn_by_id(struct lsn_env *env, uint32_t id);
void lsn_table_unref(struct lsn_table *t);
/* Use ms (> 0) as the header timeout for connections from now on. */
void lsn_set_header_timeout(struct lsn_env *env, uint32_t ms);

/* client.c: connections per client address (maxConnectionsPerClient) */
int lsn_client_init(struct lsn_env *env);
void lsn_client_done(struct lsn_env *env);
/* Count c for the peer sa; false (not counted) when that address holds
 * max_per_client connections already. */
bool lsn_client_add(struct lsn_env *env, struct lsn_conn *c, const struct sockaddr *sa,
		    socklen_t len);
/* c's addresses from the accepted socket's peer sa and its local address
 * (getsockname), or from the relay of a TLS connection's plaintext end;
 * false when fd is no IP connection. */
bool lsn_conn_set_addrs(struct lsn_conn *c, const struct sockaddr *sa, socklen_t len);
/* Uncount c (when it was counted). */
void lsn_client_remove(struct lsn_env *env, struct lsn_conn *c);

/* accept.c */
/* Non-blocking, TCP_DEFER_ACCEPT for client-speaks-first protocols, and a
 * read event. 0 or -errno. */
int lsn_accept_start(struct lsn_env *env, struct lsn_socket *s);
/* Event off, our copy of the socket closed (waspd keeps its own). */
void lsn_accept_stop(struct lsn_socket *s);
void lsn_accept_check(struct lsn_env *env); /* resume after a connection was released */
/* Connections held: the listener's own and those its workers hold. */
static inline uint64_t
lsn_accept_held(const struct lsn_env *env)
{
	return env->n_conns + env->n_owned;
}
int lsn_accept_init(struct lsn_env *env);
/* SIGQUIT (waspd hands over to a restarted one): accept no more; the loop
 * ends once the connections held are handed off or closed. */
void lsn_accept_quit(struct lsn_env *env);

/* pool.c: pools, queues and demand */
/* Queue c (503 when full) and ask for a worker if the pool has none. */
void lsn_pool_enqueue(struct lsn_env *env, struct lsn_pool *p, struct lsn_conn *c);
/* Reject every queued connection with status. */
void lsn_pool_flush(struct lsn_env *env, struct lsn_pool *p, unsigned status, const char *reason);
/* Hand queued connections to the pool's workers, oldest first. */
void lsn_pool_drain(struct lsn_env *env, struct lsn_pool *p);
/* A state from the table or POOL_STATE: Stopping/Stopped flush the queue. */
void lsn_pool_set_state(struct lsn_env *env, struct lsn_pool *p, uint32_t state, uint32_t reason);
/* A new pool of this name (the caller knows there is none); NULL on OOM. */
struct lsn_pool *lsn_pool_new(struct lsn_env *env, const char *name);
void lsn_pool_free(struct lsn_env *env, struct lsn_pool *p);
/* Arm the expiry timer for the queue head's startupTimeLimit (or stop it). */
void lsn_pool_rearm(struct lsn_env *env, struct lsn_pool *p);

/* handoff.c: worker channels */
/* HANDOFF to the least busy worker; 0 when c is taken care of (handed off,
 * or rejected because it cannot travel), -ENOENT when no worker took it,
 * -EBUSY when every worker is at its connection limit. */
int lsn_handoff_send(struct lsn_env *env, struct lsn_pool *p, struct lsn_conn *c);
/* Whether the pool has workers and each one holds as many connections as
 * it can. */
bool lsn_handoff_pool_full(struct lsn_pool *p);
/* A WORKER_CHANNEL: takes fd, then drains the pool's queue to it. */
int lsn_handoff_add_worker(struct lsn_env *env, struct lsn_pool *p,
			   const struct wasp_msg_worker_ref *ref, int fd);
struct lsn_worker *lsn_handoff_find_worker(struct lsn_env *env, uint32_t worker_id);

/* workers.c: the workers by worker id */
int lsn_workers_add(struct lsn_env *env, struct lsn_worker *w);
void lsn_workers_remove(struct lsn_env *env, struct lsn_worker *w);
struct lsn_worker *lsn_workers_find(struct lsn_env *env, uint32_t worker_id);
void lsn_workers_done(struct lsn_env *env);
/* WORKER_GONE (or a failed send): no new connections to w. */
void lsn_handoff_worker_gone(struct lsn_env *env, struct lsn_worker *w);
/* Close the channel and forget the worker; its unacknowledged connections
 * are routed again. */
void lsn_handoff_worker_free(struct lsn_env *env, struct lsn_worker *w);

/* httperr.c: the HTTPERR log */
/* Open it as the environment says (common/httperr.h); off, with a warning,
 * when it cannot be. */
void lsn_httperr_start(struct lsn_env *env);
/* One line for c: answered status (0: dropped) and the listener's reason. */
void lsn_httperr_log(struct lsn_env *env, struct lsn_conn *c, unsigned status, const char *reason);
/* The files themselves: dir must exist; the newest httperr<N>.log is
 * continued, files beyond the max_files newest removed. 0 or -errno. */
int lsn_httperr_open(struct lsn_httperr *h, const char *dir, uint64_t max_size, uint32_t max_files);
/* Append one line (rolling to the next file first when it would pass
 * max_size); now dates a new file's header. 0 or -errno. */
int lsn_httperr_write(struct lsn_httperr *h, const char *line, size_t len, time_t now);
void lsn_httperr_close(struct lsn_httperr *h);

/* channel.c: the activator channel */
/* Take over fd (fd 3), send HELLO; ADAPTER_REGISTER follows the peer's HELLO. */
int lsn_channel_start(struct lsn_env *env, int fd);
/* POOL_DEMAND, once until a worker arrives (again after startupTimeLimit). */
void lsn_channel_demand(struct lsn_env *env, struct lsn_pool *p);
/* ADAPTER_STATS when something changed since the last one. */
void lsn_channel_send_stats(struct lsn_env *env);
/* Channel, pending and listening sockets closed. */
void lsn_channel_done(struct lsn_env *env);

/* metrics.c */
/* What an error status answered by the listener counts as. */
enum wasp_reject_reason lsn_reject_reason(unsigned status);
/* Count c's rejection (and its pool's 503). */
void lsn_metrics_reject(struct lsn_env *env, struct lsn_conn *c, enum wasp_reject_reason why);
/* ADAPTER_POOL_METRICS and ADAPTER_METRICS with what changed since the last. */
void lsn_metrics_send(struct lsn_env *env);
