/* What the parts of the proxy engine share (proxy.c: the request's
 * course; proxy_pool.c: the connections; proxy_request.c: the request
 * head; proxy_response.c: the response read). Private to worker/proxy/. */
#pragma once

#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy.h"

struct wasp_http_str;
struct wasp_request;

#define PROXY_IN_BUF 65536
#define PROXY_BODY_CHUNK 32768
#define PROXY_CHUNK_LINE_MAX 1024 /* a chunk-size line with its extensions */
#define PROXY_TRAILER_MAX 16384

/* A connection to a backend: one edge-triggered event for its whole life
 * (no epoll_ctl per request); busy, it drives its request; idle, anything
 * readable means the backend closed it (or sent garbage). */
struct pconn {
	struct pconn *next, *prev;
	struct proxy_pool *pool;
	struct preq *owner; /* NULL while idle */
	struct event ev;
	unsigned gen; /* the pool's address generation it was made for */
	int fd;
	/* read to EAGAIN and no EV_READ edge since: a read would find nothing
	 * (the event is edge-triggered, so a read after sending the request
	 * head would only cost a syscall) */
	bool drained;
};

struct proxy_pool {
	struct event_base *base;
	struct pconn *idle;
	unsigned n_idle, n_busy;
	struct sockaddr_storage addr; /* family AF_UNSPEC: none */
	socklen_t addr_len;
	unsigned gen; /* bumped when the address changes */
	char name[64]; /* the address, for the log */
	bool dead;
};

enum framing { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

struct preq {
	struct wasp_request *req;
	struct proxy_pool *pool;
	struct pconn *c;
	struct proxy_opts o; /* a copy: add[] is not used after the head is built */
	unsigned failovers;
	uint64_t timeout_usec, last_activity;
	size_t head_max;
	struct event timer;
	bool timer_set;
	struct worker_later *later;
	/* to the backend */
	char *head;
	size_t head_len;
	uint8_t *body;
	const uint8_t *out;
	size_t out_off, out_len;
	bool reused, head_out, body_done, body_wait, body_taken, chunked_in, write_failed;
	bool sent; /* a byte went on this connection */
	/* from it */
	uint8_t *in;
	size_t in_off, in_len;
	char *rhead;
	size_t rhead_len;
	bool answered, head_done, streaming, paused, done, retried, close_after, is_head;
	const char *upgrade; /* the client's Upgrade value, when it goes on */
	bool switched;       /* the backend answered 101 */
	enum framing framing;
	uint64_t left;
	enum chunk_state ch;
	char line[PROXY_CHUNK_LINE_MAX];
	size_t line_len, trailer_len;
	const uint8_t *pend;
	size_t pend_len;
};

/* proxy_pool.c */
int proxy_conn_get(struct proxy_pool *p, bool fresh, struct pconn **ret, bool *ret_reused);
void proxy_conn_own(struct pconn *c, struct preq *q);
void proxy_conn_release(struct pconn *c, bool reusable);
void proxy_conn_unbusy(struct proxy_pool *p);
void proxy_pool_maybe_free(struct proxy_pool *p);

/* proxy_request.c */
int proxy_head_build(struct preq *q, const struct proxy_opts *o);
bool proxy_name_is(const struct wasp_http_str *n, const char *s);
/* Is n one of set's names (case-insensitive)? Lengths compared first: no
 * strlen per field. */
#define PROXY_STR(s) { s, sizeof(s) - 1 }
bool proxy_name_in(const struct wasp_http_str *n, const struct wasp_http_str *set, size_t k);
bool proxy_connection_names(const char *value, size_t vl, const struct wasp_http_str *name);
bool proxy_token_in(const char *v, size_t vl, const char *tok);

/* proxy_response.c */
int proxy_head_apply(struct preq *q);
bool proxy_body_take(struct preq *q);
bool proxy_body_complete(const struct preq *q);

/* proxy.c */
void proxy_pump(struct preq *q);
void proxy_on_writable(struct wasp_request *req, void *userdata);
