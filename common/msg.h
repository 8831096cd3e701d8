/* The message catalogue of wasp's internal channels: WASP_MSG_TABLE below
 * declares each message's contract once (number, payload, length, fd), and
 * the type enum, the channel's central checks (common/ipc.c), the typed send
 * helpers (common/ipc.h) and the layout assertions at the end of this file
 * all come from it. Types live in numbered blocks that are never renumbered;
 * a retired value stays as a comment. Payload layouts are fixed-width, host
 * order, without padding (the compiler refuses any); fixed structs are
 * decoded by a memcpy into a local (never cast in place). Bump
 * WASP_IPC_VERSION on any layout change. docs/adapter-protocol.md is the
 * prose version of this file for protocol adapter authors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WASP_IPC_VERSION 5

enum wasp_ipc_role {
	WASP_ROLE_ACTIVATOR = 1,
	WASP_ROLE_ADAPTER = 2, /* a protocol listener such as wasp-http */
	WASP_ROLE_WORKER = 3,
	WASP_ROLE_CONTROL = 4,
	WASP_ROLE__COUNT,
	WASP_ROLE_INVALID = -22,
};

/* The message table: every message type, once. Columns:
 *   NAME, name  WASP_MSG_NAME, and wasp_send_name() (ipc.h)
 *   number      on the wire; in numbered blocks that are never renumbered
 *   shape       EMPTY    no payload
 *               FIXED    exactly one payload struct
 *               VAR      the payload struct, then bytes whose lengths it gives
 *               ARRAY    one or more payload structs
 *               CHANNEL  FIXED, sent and read by the channel itself (ipc.c)
 *   payload     the payload struct (its type; "void" for EMPTY)
 *   size        its size on the wire, checked against sizeof at compile time
 *   fd          NONE: an fd is a protocol error; REQUIRED: one must come
 * A receiver's handler sees only messages that keep their row: wasp_ipc's
 * channel checks the length against the shape and size and the fd against
 * the fd column before dispatch, and cuts the peer off otherwise. */
#define WASP_MSG_TABLE(X)                                                                          \
	/* 1: every channel */                                                                     \
	/* first message both ways */                                                              \
	X(HELLO, hello, 1, CHANNEL, struct wasp_msg_hello, 16, NONE)                               \
	/* 100: control (reserved; waspctl speaks JSON on control.sock) */                         \
	/* 200: activator <-> adapter (listener) */                                                \
	/* A->act: the adapter's protocol */                                                       \
	X(ADAPTER_REGISTER, adapter_register, 200, FIXED, struct wasp_msg_adapter_register,        \
	  32, NONE)                                                                                \
	/* act->A, act->W: fd = sealed memfd, the JSON routing table                               \
	 * (docs/adapter-protocol.md); payload: its generation */                                  \
	X(ROUTE_TABLE, route_table, 201, FIXED, uint32_t, 4, REQUIRED)                             \
	/* act->A: fd = listening socket */                                                        \
	X(LISTEN_SOCKET, listen_socket, 202, FIXED, struct wasp_msg_listen_socket, 8, REQUIRED)    \
	/* A->act: start a worker */                                                               \
	X(POOL_DEMAND, pool_demand, 203, FIXED, struct wasp_msg_pool_ref, 8, NONE)                 \
	/* act->A: fd = handoff channel to a ready worker */                                       \
	X(WORKER_CHANNEL, worker_channel, 204, FIXED, struct wasp_msg_worker_ref, 16, REQUIRED)    \
	/* act->A: send it no more connections (draining, dead or hung) */                         \
	X(WORKER_GONE, worker_gone, 205, FIXED, struct wasp_msg_worker_ref, 16, NONE)              \
	/* act->A */                                                                               \
	X(POOL_STATE, pool_state, 206, FIXED, struct wasp_msg_pool_state, 16, NONE)                \
	/* A->act */                                                                               \
	X(ADAPTER_STATS, adapter_stats, 207, FIXED, struct wasp_msg_adapter_stats, 40, NONE)       \
	/* 300: activator <-> worker */                                                            \
	/* act->W: fd = sealed memfd with the serialized config generation */                      \
	X(WORKER_CONFIG, worker_config, 300, FIXED, struct wasp_msg_worker_config, 16, REQUIRED)   \
	/* W->act */                                                                               \
	X(WORKER_READY, worker_ready, 301, EMPTY, void, 0, NONE)                                   \
	/* act->W */                                                                               \
	X(PING, ping, 302, FIXED, struct wasp_msg_ping, 8, NONE)                                   \
	/* W->act: the PING's token echoed */                                                      \
	X(PONG, pong, 303, FIXED, struct wasp_msg_ping, 8, NONE)                                   \
	/* W->act */                                                                               \
	X(WORKER_STATS, worker_stats, 304, FIXED, struct wasp_msg_worker_stats, 32, NONE)          \
	/* act->W: finish and exit */                                                              \
	X(DRAIN, drain, 305, EMPTY, void, 0, NONE)                                                 \
	/* act->W: fd = this worker's end of a handoff channel with an adapter */                  \
	X(HANDOFF_CHANNEL, handoff_channel, 306, FIXED, struct wasp_msg_handoff_channel,           \
	  8, REQUIRED)                                                                             \
	/* W->act: the handoff channel with that adapter broke (not its EOF); waspd pairs          \
	 * them again */                                                                           \
	X(HANDOFF_CHANNEL_LOST, handoff_channel_lost, 307, FIXED, struct wasp_msg_handoff_channel, \
	  8, NONE)                                                                                 \
	/* 400: adapter <-> worker (handoff channel) */                                            \
	/* A->W: fd = connection; the struct, app_path_len bytes of path, protocol_len bytes of    \
	 * protocol, tls_len bytes of TLS facts, tls_mac_len bytes of their MAC (kTLS), then       \
	 * data_len bytes already read */                                                          \
	X(HANDOFF, handoff, 400, VAR, struct wasp_msg_handoff, 72, REQUIRED)                       \
	/* W->A: the worker owns those connections now (several refs after HANDOFFs with           \
	 * WASP_HANDOFF_F_ACK_MANY) */                                                             \
	X(HANDOFF_ACK, handoff_ack, 401, ARRAY, struct wasp_msg_conn_ref, 8, NONE)                 \
	/* W->A: fd = connection; the struct, then data_len unread bytes, then (a kTLS socket      \
	 * acknowledged) its HANDOFF's TLS facts and MAC echoed: route it again (another pool,     \
	 * or the worker is draining and had not acknowledged it) */                               \
	X(HANDBACK, handback, 402, VAR, struct wasp_msg_handback, 12, REQUIRED)                    \
	/* W->A: the worker did not take those connections (at its connection limit, or the        \
	 * fd could not be received); the adapter still holds them and routes them again */        \
	X(HANDOFF_REFUSED, handoff_refused, 403, ARRAY, struct wasp_msg_conn_ref, 8, NONE)         \
	/* W->A: how many connections the worker can hold, and how many it closed */               \
	X(WORKER_ROOM, worker_room, 404, FIXED, struct wasp_msg_worker_room, 8, NONE)            \
	/* 330: worker -> activator, application processes */                                     \
	/* W->act: the application processes the worker runs now (sent when the set changed):     \
	 * the struct, then count struct wasp_msg_app_proc */                                      \
	X(WORKER_APPS, worker_apps, 330, VAR, struct wasp_msg_worker_apps, 8, NONE)                \
	/* metrics and the requests executing now (docs/metrics.md) */                            \
	/* A->act: the listener's counters since its last report (its connections now) */        \
	X(ADAPTER_METRICS, adapter_metrics, 260, FIXED, struct wasp_msg_adapter_metrics, 88,     \
	  NONE)                                                                                    \
	/* A->act: per pool, counters since the last report (its queue's length now) */           \
	X(ADAPTER_POOL_METRICS, adapter_pool_metrics, 261, ARRAY,                                  \
	  struct wasp_msg_adapter_pool_metrics, 56, NONE)                                          \
	/* act->W: which requests execute now? */                                                  \
	X(REQUESTS_QUERY, requests_query, 360, FIXED, struct wasp_msg_requests_query, 8, NONE)    \
	/* W->act: the struct, then data_len bytes: count records, each a struct               \
	 * wasp_msg_request_info and its url_len bytes of URL */                                   \
	X(REQUESTS_REPLY, requests_reply, 361, VAR, struct wasp_msg_requests_reply, 16, NONE)    \
	/* W->act: requests served per site since the last one (with WORKER_STATS) */             \
	X(WORKER_SITE_STATS, worker_site_stats, 362, ARRAY, struct wasp_msg_site_requests, 16,   \
	  NONE)                                                                                    \
	/* adapters that register over adapter.sock (docs/adapter-protocol.md) */                 \
	/* act->A: ADAPTER_REGISTER refused (why), then the activator closes the channel */       \
	X(ADAPTER_REFUSED, adapter_refused, 208, FIXED, struct wasp_msg_adapter_refused, 128,    \
	  NONE)                                                                                    \
	/* TLS (docs/metrics.md) */                                                                \
	/* A->act: TLS counters since the last report (failed handshakes by kind, client          \
	 * certificates asked for after the handshake) */                                          \
	X(ADAPTER_TLS_METRICS, adapter_tls_metrics, 262, FIXED,                                    \
	  struct wasp_msg_adapter_tls_metrics, 72, NONE)

#define WASP_MSG_ENUM_(NAME, name, num, shape, type, size, fd) WASP_MSG_##NAME = num,
enum wasp_msg_type { WASP_MSG_TABLE(WASP_MSG_ENUM_) };

/* A payload struct with padding in it or at its end fails the build. */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wpadded"

struct wasp_msg_hello {
	uint32_t version; /* WASP_IPC_VERSION */
	uint32_t role;    /* enum wasp_ipc_role */
	uint32_t pid;
	uint32_t reserved;
};

#define WASP_PROTOCOL_NAME_MAX 32
#define WASP_POOL_NAME_MAX 256
#define WASP_APP_PATH_MAX 1024

struct wasp_msg_adapter_register {
	char protocol[WASP_PROTOCOL_NAME_MAX]; /* NUL-terminated: "http", "net.tcp", ... */
};

struct wasp_msg_listen_socket {
	uint32_t generation;
	uint32_t socket_id; /* index into the routing table's "sockets" array */
};

struct wasp_msg_pool_ref {
	uint32_t pool_id; /* index into the routing table's "pools" array */
	uint32_t generation;
};

struct wasp_msg_worker_ref {
	uint32_t pool_id;
	uint32_t worker_id; /* unique for the activator's lifetime */
	uint32_t pid;
	uint32_t generation;
};

enum wasp_pool_state {
	WASP_POOL_STARTING = 0,
	WASP_POOL_STARTED = 1,
	WASP_POOL_STOPPING = 2,
	WASP_POOL_STOPPED = 3,
	WASP_POOL_STATE__COUNT,
	WASP_POOL_STATE_INVALID = -22,
};

enum wasp_pool_stop_reason {
	WASP_POOL_REASON_NONE = 0,
	WASP_POOL_REASON_OPERATOR = 1,
	WASP_POOL_REASON_RAPID_FAIL = 2,
	WASP_POOL_REASON_STARTUP_FAILED = 3, /* startupTimeLimit passed with no ready worker */
	WASP_POOL_REASON_AUTOSTART = 4,      /* autoStart="false": never started */
};

struct wasp_msg_pool_state {
	uint32_t pool_id;
	uint32_t state;  /* enum wasp_pool_state */
	uint32_t reason; /* enum wasp_pool_stop_reason */
	uint32_t generation;
};

struct wasp_msg_adapter_stats {
	uint64_t accepted;
	uint64_t handed_off;
	uint64_t rejected_503;
	uint64_t rejected_400;
	uint32_t queued; /* connections waiting for a worker now */
	uint32_t reserved;
};

struct wasp_msg_worker_config {
	uint32_t pool_id;
	uint32_t worker_id;
	uint32_t generation;
	uint32_t flags; /* WASP_WORKER_F_* */
};

#define WASP_WORKER_F_TEST_HEADERS 0x01 /* add X-Wasp-Pool / X-Wasp-Pid (tests only) */

struct wasp_msg_handoff_channel {
	uint32_t adapter_id; /* unique for the activator's lifetime */
	uint32_t reserved;
};

struct wasp_msg_ping {
	uint64_t token;
};

struct wasp_msg_worker_stats {
	uint64_t requests;   /* served since start */
	uint64_t private_kb; /* private (anonymous + dirty) memory */
	uint64_t rss_kb;
	uint32_t connections; /* owned now */
	uint32_t busy;        /* requests in progress now */
};

struct wasp_msg_handoff {
	uint32_t conn_id; /* adapter's id, echoed in ACK */
	uint32_t site_id;
	uint32_t app_path_len;
	uint32_t data_len;
	uint32_t generation;
	uint32_t flags; /* WASP_HANDOFF_F_* */
	/* the protocol's name follows the application path ("tcp"); 0: http */
	uint32_t protocol_len;
	/* a TLS connection's facts follow the protocol (struct wasp_msg_tls_info
	 * and its strings); 0: not TLS */
	uint32_t tls_len;
	/* the connection's addresses: IPv6, IPv4 mapped (::ffff:a.b.c.d) */
	uint8_t local_addr[16];
	uint8_t peer_addr[16];
	uint16_t local_port;
	uint16_t peer_port;
	/* a kTLS connection (the fd is the TCP socket, WASP_TLS_F_KTLS): the
	 * bytes of the MAC that follow the facts, which a HANDBACK echoes
	 * with them (WASP_TLS_MAC_LEN); 0: none */
	uint32_t tls_mac_len;
};
#define WASP_TLS_MAC_LEN 32

/* A TLS connection's facts (the HTTPS and CERT_ server variables): the
 * struct, then each string its lengths give, in this order, not
 * NUL-terminated. */
struct wasp_msg_tls_info {
	uint16_t version;     /* 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
	uint16_t key_bits;    /* the cipher's key (HTTPS_KEYSIZE) */
	uint16_t secret_bits; /* the server key (HTTPS_SECRETKEYSIZE) */
	uint16_t flags;       /* WASP_TLS_F_* */
	uint32_t verify_result; /* the client certificate's X509_V_* (0: verified) */
	uint16_t cipher_len;
	uint16_t sni_len;
	uint16_t server_subject_len;
	uint16_t server_issuer_len;
	uint16_t client_subject_len;
	uint16_t client_issuer_len;
	uint16_t client_serial_len;
	uint16_t client_cookie_len;
	uint16_t client_cert_len; /* DER; 0 when over the listener's limit */
	uint16_t reserved;
};

#define WASP_TLS_F_CLIENT_CERT 0x1   /* the client presented a certificate */
#define WASP_TLS_F_CLIENT_VERIFIED 0x2 /* and it verified against the CA bundle */
#define WASP_TLS_F_KTLS 0x4          /* the worker got the TCP socket (kernel TLS) */
#define WASP_TLS_F_CERT_ASKED 0x8    /* the client was asked for a certificate (handshake or later) */

/* The longest protocol name a HANDOFF carries. */
#define WASP_PROTOCOL_NAME_MAX 32

/* The adapter takes one HANDOFF_ACK naming several connections: the worker
 * may acknowledge the HANDOFFs it read together in one message. */
#define WASP_HANDOFF_F_ACK_MANY 0x1

struct wasp_msg_conn_ref {
	uint32_t conn_id;
	uint32_t reserved;
};

/* Sent once when the handoff channel opens (released 0) and after the
 * worker closed connections it had acknowledged (batched, see
 * docs/adapter-protocol.md): the adapter counts the connections a worker
 * holds. */
struct wasp_msg_worker_room {
	uint32_t capacity; /* connections it can hold at once (0: no limit) */
	uint32_t released; /* acknowledged connections it closed since the last one (not
			      those handed back) */
};

struct wasp_msg_handback {
	uint32_t conn_id; /* the HANDOFF's id when not acknowledged, else 0 */
	uint32_t data_len;
	uint32_t flags; /* WASP_HANDBACK_F_* */
};

/* The request needs a client certificate the connection has not been asked
 * for: the adapter asks (TLS renegotiation or post-handshake
 * authentication) before it routes the bytes again. */
#define WASP_HANDBACK_F_CLIENT_CERT 0x1

/* WORKER_APPS: a worker's application processes (FastCGI processes, CGI
 * programs, httpPlatform and aspNetCore backends), at most
 * WASP_APP_PROCS_MAX of them (total says how many it runs). */
#define WASP_APP_PROCS_MAX 128
#define WASP_APP_PROC_NAME_MAX 232

enum wasp_app_proc_kind {
	WASP_APP_PROC_FASTCGI = 1,
	WASP_APP_PROC_CGI = 2,
	WASP_APP_PROC_HTTP_PLATFORM = 3,
	WASP_APP_PROC_ASPNETCORE = 4,
	WASP_APP_PROC_KIND__MAX = 4,
};

enum wasp_app_proc_state {
	WASP_APP_PROC_STARTING = 0,
	WASP_APP_PROC_IDLE = 1,
	WASP_APP_PROC_BUSY = 2,
	WASP_APP_PROC_STOPPING = 3,
	WASP_APP_PROC_STATE__MAX = 3,
};

struct wasp_msg_worker_apps {
	uint32_t count; /* entries that follow, <= WASP_APP_PROCS_MAX */
	uint32_t total; /* processes the worker runs (more than count: cut) */
};

struct wasp_msg_app_proc {
	uint32_t pid;
	uint32_t kind;  /* enum wasp_app_proc_kind */
	uint32_t state; /* enum wasp_app_proc_state */
	uint32_t reserved;
	uint64_t requests; /* requests given to it */
	char application[WASP_APP_PROC_NAME_MAX]; /* NUL-terminated: fullPath|arguments, the
						     program, or processPath (cut) */
};

/* Why the listener answered an error itself (ADAPTER_METRICS rejected[]). */
enum wasp_reject_reason {
	WASP_REJECT_400,            /* a head it cannot read, a bad Host */
	WASP_REJECT_404,            /* no site or application for the URL */
	WASP_REJECT_408,            /* no complete head within the header timeout */
	WASP_REJECT_414,            /* a path too long to route */
	WASP_REJECT_431,            /* a head too large */
	WASP_REJECT_503_QUEUE_FULL, /* the pool's queue (queueLength) or connections full */
	WASP_REJECT_503_STOPPED,    /* the pool is stopped */
	WASP_REJECT_503_OTHER,      /* startupTimeLimit, site maxConnections, no table */
	WASP_REJECT_OTHER,          /* any other status */
	WASP_REJECT__COUNT,
};

struct wasp_msg_adapter_metrics {
	uint64_t accepted;
	uint64_t rejected[WASP_REJECT__COUNT];
	uint32_t active; /* connections the listener holds now */
	uint32_t reserved;
};

struct wasp_msg_adapter_pool_metrics {
	uint32_t pool_id;
	uint32_t generation;
	uint64_t handoffs;        /* HANDOFFs a worker took (acknowledged or not) */
	uint64_t handbacks;       /* HANDBACKs from its workers */
	uint64_t dequeued;        /* connections that left the queue for a worker */
	uint64_t queue_wait_usec; /* the time they waited there, summed */
	uint64_t rejected_503;    /* 503s for this pool (queue full, stopped, ...) */
	uint32_t queued;          /* waiting now */
	uint32_t reserved;
};

struct wasp_msg_requests_query {
	uint64_t token;
};

struct wasp_msg_requests_reply {
	uint64_t token;
	uint32_t count;    /* records that follow (at most WASP_REQUESTS_MAX) */
	uint32_t data_len; /* bytes that follow */
};

#define WASP_REQUESTS_MAX 128   /* requests a worker reports at most */
#define WASP_REQUEST_URL_MAX 256 /* bytes of a URL reported, at most */

struct wasp_msg_request_info {
	uint64_t elapsed_usec;
	uint32_t site_id;
	uint32_t stage;   /* enum wasp_stage (module.h); WASP_REQUEST_STAGE_SENDING after it */
	uint32_t url_len; /* bytes of URL after the struct */
	uint32_t flags;   /* WASP_REQUEST_F_* */
	char method[16];  /* NUL-terminated, truncated */
	char client[48];  /* the client's address, NUL-terminated */
};

struct wasp_msg_site_requests {
	uint32_t site_id; /* the configured site id */
	uint32_t reserved;
	uint64_t requests; /* served since the last report */
};

/* Why an adapter's ADAPTER_REGISTER over adapter.sock was refused. */
enum wasp_register_refusal {
	WASP_REGISTER_REFUSED_UNDECLARED = 1, /* no listenerAdapters entry for the protocol */
	WASP_REGISTER_REFUSED_PERMISSION = 2, /* its uid and groups are not the entry's */
	WASP_REGISTER_REFUSED_TAKEN = 3,      /* the protocol has an adapter already */
	WASP_REGISTER_REFUSED_STARTED = 4,    /* waspd starts that protocol's adapter itself */
};

struct wasp_msg_adapter_refused {
	uint32_t reason;   /* enum wasp_register_refusal */
	uint32_t reserved;
	char message[120]; /* NUL-terminated, for the adapter's log */
};

/* Why a TLS handshake failed (ADAPTER_TLS_METRICS, the HTTPERR log). */
enum wasp_tls_failure {
	WASP_TLS_FAIL_NOT_TLS,      /* not a TLS ClientHello (plain HTTP, garbage) */
	WASP_TLS_FAIL_NO_SHARED,    /* no protocol version, cipher or group in common */
	WASP_TLS_FAIL_UNKNOWN_NAME, /* no certificate for the server name (SNI) */
	WASP_TLS_FAIL_ALERT,        /* the client ended it with an alert (our certificate) */
	WASP_TLS_FAIL_CLOSED,       /* the client closed the connection half-way */
	WASP_TLS_FAIL_TIMEOUT,      /* not done within the header timeout */
	WASP_TLS_FAIL_OTHER,
	WASP_TLS_FAIL__COUNT,
};

struct wasp_msg_adapter_tls_metrics {
	uint64_t handshake_failed[WASP_TLS_FAIL__COUNT]; /* by enum wasp_tls_failure */
	uint64_t cert_requested; /* client certificates asked for after the handshake */
	uint64_t cert_received;  /* and sent by the client */
};

#define WASP_REQUEST_F_TRUNCATED 0x1   /* the URL was longer than WASP_REQUEST_URL_MAX */
#define WASP_REQUEST_STAGE_SENDING 100 /* the pipeline is done; the response is going out */

#pragma GCC diagnostic pop

/* Each row's payload has the size its row says: a field added, removed or
 * resized changes the wire, and the table (and WASP_IPC_VERSION) with it. */
#define WASP_MSG_SIZE_OF_EMPTY(type) 0
#define WASP_MSG_SIZE_OF_FIXED(type) sizeof(type)
#define WASP_MSG_SIZE_OF_VAR(type) sizeof(type)
#define WASP_MSG_SIZE_OF_ARRAY(type) sizeof(type)
#define WASP_MSG_SIZE_OF_CHANNEL(type) sizeof(type)
#define WASP_MSG_ASSERT_(NAME, name, num, shape, type, size, fd) \
	_Static_assert(WASP_MSG_SIZE_OF_##shape(type) == (size), \
		       "WASP_MSG_" #NAME ": the payload's size is not the table's");
WASP_MSG_TABLE(WASP_MSG_ASSERT_)

enum wasp_msg_shape {
	WASP_MSG_SHAPE_EMPTY,
	WASP_MSG_SHAPE_FIXED,
	WASP_MSG_SHAPE_VAR,
	WASP_MSG_SHAPE_ARRAY,
	WASP_MSG_SHAPE_CHANNEL,
};

enum wasp_msg_fd {
	WASP_MSG_FD_NONE,
	WASP_MSG_FD_REQUIRED,
};

/* One row of WASP_MSG_TABLE, for the checks at run time. */
struct wasp_msg_contract {
	const char *name;   /* "HANDOFF" */
	uint16_t type;
	uint8_t shape;      /* enum wasp_msg_shape */
	uint8_t fd;         /* enum wasp_msg_fd */
	uint32_t size;      /* of the payload struct, 0 for EMPTY */
};

/* The row of type, NULL for a type not in the table. */
const struct wasp_msg_contract *wasp_msg_contract(uint16_t type);

/* Whether a payload of len bytes, with or without an fd, keeps contract c:
 * 0, or -EBADMSG. */
int wasp_msg_check(const struct wasp_msg_contract *c, size_t len, bool has_fd);
