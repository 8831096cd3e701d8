/* A client connection's private state, shared by the files that serve it:
 * conn.c (the state machine, its events and its life), dispatch.c (a
 * request's start), body.c (the request body), send.c (writing the
 * response) and deadline.c (timeouts and minBytesPerSecond). The rest of
 * the worker sees struct conn as opaque (worker.h). */
#pragma once

#include <event2/event_struct.h>
#include <netinet/in.h>
#include <sys/uio.h>

#include "http/http.h"
#include "worker.h"

/* What a connection waits on, for webLimits minBytesPerSecond and the
 * connectionTimeout of a transfer in progress. */
enum conn_xfer {
	XFER_NONE,
	XFER_BODY,  /* reading the request body (for a module, or discarding it) */
	XFER_WRITE, /* writing the response */
};

enum conn_state {
	CS_IDLE,   /* waiting for the first byte of a request */
	CS_HEAD,   /* part of a head is in */
	CS_DRAIN,  /* before the response: discarding the body no module read */
	CS_BODY,   /* after the response: discarding the rest of a body */
	CS_RUN,    /* in the pipeline */
	CS_WRITE,  /* writing the response */
	CS_POST,   /* LogRequest, EndRequest */
	CS_LINGER, /* closing: our side shut, reading what the client still sends */
	CS_CLOSE,  /* close now */
	CS_TUNNEL, /* a module's (wasp_response_upgrade): no events of ours */
};

struct conn {
	struct conn *next, *prev;
	struct worker_env *env;
	int fd;
	struct event ev;    /* read/write, edge-triggered; added once it must wait */
	struct event timer;
	bool ev_added;
	bool ev_write; /* ev watches for writing (a relayed one only while a write waits) */
	uint64_t deadline; /* UINT64_MAX: none */
	uint64_t timer_at; /* when the timer fires, 0 when not armed */
	/* a transfer's progress (conn_wait_xfer): since xfer_start it moved
	 * xfer_count() - xfer_base bytes; it stalls at stall_at
	 * (connectionTimeout from its last wait), its rate is checked at
	 * rate_check_at */
	enum conn_xfer xfer;
	uint64_t xfer_start, xfer_base, stall_at, rate_check_at;
	struct wchan *chan;
	enum conn_state state;
	bool readable, writable, rdhup;
	bool first; /* the first request: routed by the adapter */
	bool body_chunked;
	bool close_after; /* close once this response is out */
	bool linger;      /* unread input may be left: linger when closing */
	bool in_callback;
	bool dead;   /* closed inside a callback: free on the way out */
	bool corked; /* TCP_CORK set for this response */
	bool acked;  /* the adapter counts it among ours until released or handed back */
	bool nodelay; /* TCP_NODELAY set (a streamed response) */
	bool relayed; /* the plaintext end of the listener's TLS relay (AF_UNIX) */

	uint32_t site_id;       /* from the HANDOFF, for the first request */
	struct wapp *first_app; /* NULL: not one of ours; route it */

	struct sockaddr_storage local, peer; /* from the HANDOFF */
	socklen_t local_len, peer_len;       /* 0: not known */
	struct conn_tls *tls; /* a TLS connection's facts (HTTPS, CERT_*); NULL: plain */
	/* LOCAL_ADDR and REMOTE_ADDR as text, made at the first ask ("" before) */
	char local_text[INET6_ADDRSTRLEN], peer_text[INET6_ADDRSTRLEN];
	const struct wasp_route_socket *rsock;
	unsigned rsock_gen;
	const struct wasp_route_app *last_rapp;
	struct wapp *app; /* of the last request */

	struct wasp_arena *req_arena; /* reset after each request; NULL while idle */
	char *in;                     /* WORKER_INBUF_SIZE bytes; NULL while idle */
	size_t in_start, in_end;      /* unconsumed input: in[in_start..in_end) */
	/* the request body, read on demand (wasp_request_read_body) */
	bool body_open;          /* bytes of it may still come */
	bool continue_sent;      /* 100 Continue went out (or was not asked for) */
	int body_err;            /* 0, or what reading it ran into (-EBADMSG, ...) */
	uint64_t body_left;      /* Content-Length bodies */
	uint64_t body_read;      /* decoded bytes so far */
	uint64_t body_limit;     /* 0: none (wasp_request_set_body_limit) */
	unsigned body_limit_status, body_limit_substatus;
	size_t pend_off, pend_len; /* decoded chunk bytes not yet taken (before in_start) */
	struct wasp_http_chunked chunked;
	void (*body_wait_fn)(struct wasp_request *req, void *userdata);
	void *body_wait_userdata;
	struct wasp_http_request *http; /* in req_arena; NULL between requests */

	struct wasp_request req;
	bool req_active;
	struct iovec iov[2];
	size_t iov_n;
	off_t file_off;
	uint64_t file_left;
	/* wasp_response_upgrade(): told when the tunnel opens, or that it
	 * will not (or no longer) be the module's */
	void (*tun_fn)(struct wasp_tunnel *t, void *userdata);
	void *tun_ud;
};

/* ---- conn.c ---- */

/* Read more into the input buffer. > 0 bytes read, 0 EOF, -EAGAIN, -errno. */
ssize_t conn_read(struct conn *c);
/* A request arena, from the worker's spares or new. NULL on OOM. */
struct wasp_arena *conn_arena_get(struct worker_env *env);
/* Hand the connection back to the adapter with everything not yet served
 * (this request's bytes included). The connection is gone afterwards. */
void conn_handback(struct conn *c);

/* ---- dispatch.c ---- */

/* A complete head of head_len bytes is at in_start: route it and start the
 * request (CS_RUN). false when the connection went away (handed back). */
bool start_request(struct conn *c, size_t head_len);
/* Start an error response (status) for a request that cannot be served, and
 * close after it. */
void start_error(struct conn *c, unsigned status);

/* ---- deadline.c ---- */

/* connectionTimeout of the connection's application (IIS's default without one). */
uint64_t conn_timeout(const struct conn *c);
/* The connection's deadline: usec_from_now from now, UINT64_MAX for none.
 * Moving it costs nothing; the timer re-arms itself when it fires early. */
void conn_set_deadline(struct conn *c, uint64_t usec_from_now);
/* Wait for the client to take part of a response or send part of a body. */
void conn_wait_xfer(struct conn *c, enum conn_xfer x);
/* The rate check of a transfer: true when the client is too slow. */
bool xfer_too_slow(struct conn *c, uint64_t now);

/* ---- body.c ---- */

/* Set up the body of the request whose head is h (nothing read yet). */
void body_start(struct conn *c, const struct wasp_http_request *h);
/* Drop what is buffered of the body (after the response: CS_BODY). 1 when
 * it is all in, 0 when more is needed, -errno (-EMSGSIZE over our cap). */
int body_discard(struct conn *c);
/* The response is ready but a body is unread: true to discard the body
 * first (CS_DRAIN), false to answer now (and close). */
bool drain_decide(struct conn *c);
/* CS_DRAIN: discard the unread body. 1 done, 0 more needed, -errno. */
int drain_body(struct conn *c);
/* drain_body() failed with r: true when the response was replaced with the
 * error (then send it), false when the connection must close. */
bool drain_failed(struct conn *c, int r);

/* ---- send.c ---- */

/* At the start of a connection: is it relayed (c->relayed)? */
void send_init(struct conn *c);

/* Prepare the response for writing (and decide keep-alive). false: failed
 * (close the connection). */
bool send_prepare(struct conn *c);
/* Write what is left of the response. 1 done, -EAGAIN, -errno. */
int send_write(struct conn *c);
/* The response could not be sent whole (err: the send's -errno, or
 * -ETIMEDOUT): on to LogRequest with sc-win32-status saying why. */
void conn_cut(struct conn *c, int err);

/* ---- tunnel.c ---- */

/* Tell the module its switch will not happen, or is over (conn_free). */
void tunnel_notify_gone(struct conn *c);
/* Before the head is written: no switch unless a 101 goes out on an
 * HTTP/1.1 connection that stays open; a switching response keeps it. */
void tunnel_prepare(struct conn *c);
/* After EndRequest (CS_POST): true when the connection became the
 * module's (the state machine stops for it). */
bool tunnel_take(struct conn *c);
