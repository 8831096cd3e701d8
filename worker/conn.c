/* A client connection handed to this worker: HTTP/1.1 framing around the
 * pipeline. One request at a time per connection (so pipelined responses go
 * out in order): read and parse a head, route it (another pool's request
 * hands the connection back), read and discard a body, run the pipeline,
 * write the response (head + memory body in one sendmsg, or head with
 * MSG_MORE then sendfile; for files over WORKER_CORK_MIN the socket is
 * corked around head and file instead, which measured ~10% less CPU per
 * MiB than MSG_MORE), then the next request from the same buffer.
 * Draining, a connection between requests goes back to the adapter (with
 * whatever it had buffered) rather than being closed, so a keep-alive
 * client never sees its connection drop because a pool recycled.
 *
 * Memory: a connection between requests holds no buffer: its input buffer
 * and request arena (which holds the parser state) go back to the worker's
 * spare pools when it waits with nothing buffered, and come back when bytes
 * arrive, so an idle keep-alive connection costs a few hundred bytes and a
 * busy one allocates nothing per request.
 *
 * One edge-triggered libevent event per connection watches read and write
 * for its whole life, added only once the connection first has to wait (a
 * connection whose head came with the HANDOFF and whose response fit in the
 * socket is served and closed without an epoll_ctl; a keep-alive one costs
 * one per connection, none per request);
 * `readable`/`writable` remember whether the kernel may have more for us.
 * One timer per connection enforces a deadline that moves lazily: moving it
 * costs nothing; the timer re-arms itself when it fires early. */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "arena.h"
#include "route.h"
#include "log.h"
#include "util.h"
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
};

struct conn {
	struct conn *next, *prev;
	struct worker_env *env;
	int fd;
	struct event ev;    /* read/write, edge-triggered; added once it must wait */
	struct event timer;
	bool ev_added;
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

	uint32_t site_id;       /* from the HANDOFF, for the first request */
	struct wapp *first_app; /* NULL: not one of ours; route it */

	struct sockaddr_storage local, peer;
	socklen_t local_len, peer_len;
	bool peer_done;
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
};

static void conn_process(struct conn *c);

static uint64_t
conn_timeout(const struct conn *c)
{
	return c->app && c->app->connection_timeout_usec ? c->app->connection_timeout_usec
							 : WORKER_DEFAULT_CONN_TIMEOUT_USEC;
}

static void conn_set_deadline(struct conn *c, uint64_t usec_from_now);

static uint64_t
xfer_count(const struct conn *c)
{
	return c->xfer == XFER_WRITE ? c->req.bytes_out : c->body_read;
}

/* Wait for the client to take part of a response or send part of a body:
 * connectionTimeout from now (HTTP.sys's EntityBody timer: each wait after
 * progress gets another interval) and, with minBytesPerSecond, a rate check
 * once a second that progress does not postpone, so a client that trickles
 * a byte now and then is cut off too. No timer per byte: the counters are
 * the ones the transfer keeps anyway. */
static void
conn_wait_xfer(struct conn *c, enum conn_xfer x)
{
	uint64_t now = wasp_now_usec(), at;

	if (c->xfer != x) {
		c->xfer = x;
		c->xfer_start = now;
		c->xfer_base = xfer_count(c);
		c->rate_check_at = now + WORKER_RATE_GRACE_USEC;
	}
	c->stall_at = now + conn_timeout(c);
	at = c->stall_at;
	if (c->env->min_bytes_per_sec > 0)
		at = MIN(at, c->rate_check_at);
	conn_set_deadline(c, at > now ? at - now : 0);
}

/* The rate check of a transfer (its deadline passed before it stalled):
 * true when the client moved fewer than minBytesPerSecond bytes a second
 * since the grace period; otherwise the next check is armed. */
static bool
xfer_too_slow(struct conn *c, uint64_t now)
{
	uint64_t bytes = xfer_count(c) - c->xfer_base, min = c->env->min_bytes_per_sec;
	uint64_t elapsed = now - c->xfer_start;

	if (elapsed > WORKER_RATE_GRACE_USEC &&
	    bytes * 1000000 < min * (elapsed - WORKER_RATE_GRACE_USEC)) {
		log_debug("connection too slow: %llu bytes in %llu ms (minBytesPerSecond %llu)",
			  (unsigned long long)bytes, (unsigned long long)(elapsed / 1000),
			  (unsigned long long)min);
		return true;
	}
	c->rate_check_at = now + WORKER_RATE_CHECK_USEC;
	conn_set_deadline(c, MIN(c->stall_at, c->rate_check_at) - now);
	return false;
}

static void
conn_set_deadline(struct conn *c, uint64_t usec_from_now)
{
	uint64_t now;
	struct timeval tv;

	if (usec_from_now == UINT64_MAX) {
		c->deadline = UINT64_MAX;
		return;
	}
	now = wasp_now_usec();
	c->deadline = now + usec_from_now;
	if (c->timer_at && c->timer_at <= c->deadline)
		return; /* fires first; re-arms then */
	tv.tv_sec = (time_t)(usec_from_now / 1000000);
	tv.tv_usec = (suseconds_t)(usec_from_now % 1000000);
	(void)event_add(&c->timer, &tv);
	c->timer_at = c->deadline;
}

static char *
inbuf_get(struct worker_env *env)
{
	return env->n_spare_bufs ? env->spare_bufs[--env->n_spare_bufs] : malloc(WORKER_INBUF_SIZE);
}

static void
inbuf_put(struct worker_env *env, char *b)
{
	if (env->n_spare_bufs < WORKER_SPARE_MAX)
		env->spare_bufs[env->n_spare_bufs++] = b;
	else
		free(b);
}

static struct wasp_arena *
arena_get(struct worker_env *env)
{
	return env->n_spare_arenas ? env->spare_arenas[--env->n_spare_arenas] : wasp_arena_new();
}

/* Runs the arena's cleanups (fds, timers of the request) and keeps it. */
static void
arena_put(struct worker_env *env, struct wasp_arena *a)
{
	if (env->n_spare_arenas < WORKER_SPARE_MAX) {
		wasp_arena_reset(a);
		env->spare_arenas[env->n_spare_arenas++] = a;
	} else {
		wasp_arena_free(a);
	}
}

/* Nothing buffered and no request: give the memory back until bytes come. */
static void
conn_release_buffers(struct conn *c)
{
	if (c->in_start != c->in_end || c->req_active)
		return;
	if (c->in) {
		inbuf_put(c->env, c->in);
		c->in = NULL;
		c->in_start = c->in_end = 0;
	}
	if (c->req_arena) {
		arena_put(c->env, c->req_arena);
		c->req_arena = NULL;
		c->http = NULL;
	}
}

/* The parser state for the next request (in the request arena). */
static bool
conn_ensure_http(struct conn *c)
{
	if (!c->req_arena) {
		c->req_arena = arena_get(c->env);
		if (!c->req_arena)
			return false;
	}
	if (!c->http) {
		c->http = wasp_arena_alloc(c->req_arena, sizeof(*c->http));
		if (!c->http)
			return false;
		wasp_http_request_init(c->http);
	}
	return true;
}

static void
conn_free(struct conn *c)
{
	struct worker_env *env = c->env;

	if (c->req_active) {
		env->n_busy--;
		c->req_active = false;
	}
	if (c->in_callback) {
		/* still on the stack: stop everything, free on the way out */
		c->dead = true;
		(void)event_del(&c->ev);
		(void)event_del(&c->timer);
		c->fd = safe_close(c->fd);
		return;
	}
	/* No epoll_ctl when it was never added (served without waiting) */
	if (c->ev_added)
		(void)event_del(&c->ev);
	if (c->timer_at)
		(void)event_del(&c->timer);
	safe_close(c->fd);
	if (c->req_arena)
		arena_put(env, c->req_arena);
	if (c->in)
		inbuf_put(env, c->in);
	if (c->chan) {
		if (c->acked)
			wchan_release(c->chan);
		wchan_unref(c->chan);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		env->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	env->n_conns--;
	free(c);
	env_check_drained(env);
}

/* Close now, or shut our side and read what the client still sends (so a
 * close with unread input does not turn into a reset that destroys the
 * response on its way). */
static void
conn_close(struct conn *c)
{
	if (c->linger && c->fd >= 0 && shutdown(c->fd, SHUT_WR) == 0) {
		c->state = CS_LINGER;
		c->linger = false;
		conn_set_deadline(c, WORKER_LINGER_USEC);
		conn_process(c);
		return;
	}
	conn_free(c);
}

/* Read more into the input buffer. > 0 bytes read, 0 EOF, -EAGAIN, -errno. */
static ssize_t
conn_read(struct conn *c)
{
	size_t space;
	ssize_t n;

	if (!c->readable)
		return -EAGAIN;
	if (!c->in) {
		c->in = inbuf_get(c->env);
		if (!c->in)
			return -ENOMEM;
		c->in_start = c->in_end = 0;
	}
	if (c->in_start == c->in_end) {
		c->in_start = c->in_end = 0;
	} else if (c->in_start > 0) { /* the parser allows the head to move */
		memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
		c->in_end -= c->in_start;
		c->in_start = 0;
	}
	space = WORKER_INBUF_SIZE - c->in_end;
	if (space == 0)
		return -ENOBUFS;
	do
		n = read(c->fd, c->in + c->in_end, space);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN) {
			c->readable = false;
			return -EAGAIN;
		}
		return -errno;
	}
	if ((size_t)n < space && !c->rdhup)
		c->readable = false; /* drained; the next edge says when there is more */
	c->in_end += (size_t)n;
	return n;
}

static void
start_error(struct conn *c, unsigned status)
{
	struct wasp_request *req = &c->req;

	if (!c->req_active) {
		if (!c->req_arena)
			c->req_arena = arena_get(c->env);
		if (!c->req_arena) { /* no memory for an error page: just close */
			c->state = CS_CLOSE;
			return;
		}
		request_init(req, c->env, c, c->req_arena, NULL);
		req->start_usec = wasp_now_usec();
		c->req_active = true;
		c->env->n_busy++;
	}
	request_set_error(req, status, 0);
	c->close_after = true;
	c->linger = true;
	pipeline_skip_to_send(req);
	c->state = CS_RUN;
}

/* Hand the connection back to the adapter with everything not yet served
 * (this request's bytes included). The connection is gone afterwards. */
static void
conn_handback(struct conn *c)
{
	int fd = TAKE_FD(c->fd);
	int r;

	if (!c->chan) {
		safe_close(fd);
		conn_free(c);
		return;
	}
	r = wchan_handback(c->chan, fd, 0, c->in ? c->in + c->in_start : NULL,
			   c->in_end - c->in_start);
	if (r < 0)
		log_warning_errno(r, "hand back connection, dropping it");
	else
		c->acked = false; /* the adapter counts the HANDBACK itself */
	conn_free(c);
}

/* Decide who serves the request whose head is at in_start: this worker's
 * application (returned), or nobody here (NULL: hand back). */
static struct wapp *
conn_route(struct conn *c, bool *ret_handback)
{
	struct worker_env *env = c->env;
	const struct wasp_http_request *h = c->http;
	struct wasp_route_table *routes;
	struct wasp_route_result rr;
	struct wapp *app;
	bool first = c->first;
	int r;

	*ret_handback = false;
	if (first) {
		c->first = false;
		if (c->first_app)
			return c->first_app;
	}
	routes = env_routes(env); /* parsed on the first need */
	if (!routes)
		return first ? NULL : c->app;
	if (c->local_len == 0) { /* only connections that keep alive need it */
		c->local_len = sizeof(c->local);
		if (getsockname(c->fd, (struct sockaddr *)&c->local, &c->local_len) < 0)
			c->local_len = 0;
		c->rsock = NULL;
	}
	if (c->rsock_gen != env->routes_gen || !c->rsock) {
		c->rsock = wasp_route_find_socket(routes, (struct sockaddr *)&c->local,
						  c->local_len);
		c->rsock_gen = env->routes_gen;
		c->last_rapp = NULL;
	}
	if (!c->rsock) {
		*ret_handback = true;
		return NULL;
	}
	r = wasp_route_lookup(c->rsock, (struct sockaddr *)&c->local, h->host.ptr, h->host.len,
			      h->path.ptr, h->path.len, &rr);
	if (r < 0 || rr.pool != env->route_pool) {
		*ret_handback = true;
		return NULL;
	}
	if (rr.app == c->last_rapp && c->app)
		return c->app;
	app = env_find_app(env, rr.site->id, rr.app->path);
	c->last_rapp = app ? rr.app : NULL;
	return app;
}

/* A complete head of head_len bytes is at in_start. Returns false when the
 * connection went away (handed back). */
static bool
start_request(struct conn *c, size_t head_len)
{
	struct worker_env *env = c->env;
	const struct wasp_http_request *h = c->http;
	struct wasp_request *req = &c->req;
	bool handback;
	struct wapp *app;
	char *path;
	int n;

	app = conn_route(c, &handback);
	if (handback) {
		conn_handback(c);
		return false;
	}
	c->in_start += head_len;
	request_init(req, env, c, c->req_arena, h);
	req->start_usec = wasp_now_usec();
	req->bytes_in = head_len;
	c->req_active = true;
	env->n_busy++;
	c->state = CS_RUN;
	if (!app) {
		log_warning("no application of pool '%s' for site %u, path '%.*s'",
			    strempty(env->pool_name), c->site_id, (int)h->path.len, h->path.ptr);
		start_error(c, 500);
		return true;
	}
	c->app = app;
	req->app = app;
	req->method =
		h->method != WASP_HTTP_METHOD_OTHER
			? wasp_http_method_name(h->method)
			: wasp_arena_strndup(c->req_arena, h->method_str.ptr, h->method_str.len);
	req->head = h->method == WASP_HTTP_METHOD_HEAD;
	if (h->query.ptr)
		req->query = wasp_arena_strndup(c->req_arena, h->query.ptr, h->query.len);
	path = wasp_arena_alloc(c->req_arena, h->path.len + 2);
	if (!req->method || !req->query || !path) {
		start_error(c, 500);
		return true;
	}
	if (h->form == WASP_HTTP_FORM_AUTHORITY) {
		/* CONNECT: we are no proxy, for any resource (RFC 9110 15.6.2) */
		start_error(c, 501);
		return true;
	}
	if (h->form == WASP_HTTP_FORM_ASTERISK) {
		/* OPTIONS * asks about the server, not a resource (RFC 9110
		 * 9.3.7): no handler maps it. req->path stays "" (the site's
		 * root for configuration; the log shows the raw "*"). */
		req->status = 200;
		if (wasp_response_add_header(req, "Allow", WORKER_ALLOW_SERVER) < 0 ||
		    wasp_response_add_header(req, "Public", WORKER_ALLOW_SERVER) < 0) {
			start_error(c, 500);
			return true;
		}
		pipeline_skip_to_send(req);
	} else {
		n = wasp_http_url_normalize(h->path.ptr, h->path.len, path, h->path.len + 2,
					    &req->path_flags);
		if (n < 0) {
			log_debug("bad URL path: %s", wasp_http_url_strerror(n));
			start_error(c, 400);
			return true;
		}
		req->path = path;
		req->vdir = vdir_match(app, path, &req->rel);
	}

	/* the body: read on demand by a module, or discarded after the response */
	c->body_open = false;
	c->body_err = 0;
	c->body_read = c->body_left = c->body_limit = 0;
	c->xfer = XFER_NONE;
	c->pend_len = 0;
	c->body_wait_fn = NULL;
	c->continue_sent = !h->expect_continue;
	if (h->chunked) {
		/* a declared chunk over the limit fails at once (413); a module
		 * can set its own limit (wasp_request_set_body_limit) */
		struct wasp_http_limits lim = env->limits;
		lim.body = WORKER_MAX_DISCARD_BODY;
		wasp_http_chunked_init(&c->chunked, &lim);
		c->body_chunked = true;
		c->body_open = true;
	} else if (h->has_content_length && h->content_length > 0) {
		c->body_chunked = false;
		c->body_left = h->content_length;
		c->body_open = true;
	}
	return true;
}

/* Take up to len decoded body bytes into buf (NULL: drop them). Returns the
 * number taken (> 0), 0 at the end of the body, -EAGAIN when nothing is
 * buffered, or c->body_err. Never reads the socket. */
static ssize_t
body_take(struct conn *c, void *buf, size_t len)
{
	size_t avail;

	if (c->body_err)
		return c->body_err;
	if (c->pend_len) {
		size_t n = MIN(len, c->pend_len);
		if (buf)
			memcpy(buf, c->in + c->pend_off, n);
		c->pend_off += n;
		c->pend_len -= n;
		return (ssize_t)n;
	}
	if (!c->body_open)
		return 0;
	while ((avail = c->in_end - c->in_start) > 0) {
		struct wasp_http_str data;
		size_t used = 0, n;
		int r;

		if (!c->body_chunked) {
			n = (size_t)MIN(MIN((uint64_t)avail, c->body_left), (uint64_t)len);
			if (buf)
				memcpy(buf, c->in + c->in_start, n);
			c->in_start += n;
			c->body_left -= n;
			c->body_read += n;
			c->req.bytes_in += n;
			if (c->body_left == 0)
				c->body_open = false;
			return (ssize_t)n;
		}
		r = wasp_http_chunked_decode(&c->chunked, c->in + c->in_start, avail, &used, &data);
		if (r < 0)
			return c->body_err = c->chunked.err_status == 413 ? -EMSGSIZE : -EBADMSG;
		c->in_start += used;
		c->req.bytes_in += used;
		if (r == WASP_HTTP_CHUNK_DONE) {
			c->body_open = false;
			return 0;
		}
		if (r == WASP_HTTP_CHUNK_DATA && data.len > 0) {
			n = MIN(len, data.len);
			if (buf)
				memcpy(buf, data.ptr, n);
			/* the rest of the slice stays where it is, before in_start;
			 * nothing moves the buffer until it is taken */
			c->pend_off = (size_t)(data.ptr - c->in) + n;
			c->pend_len = data.len - n;
			c->body_read += data.len;
			return (ssize_t)n;
		}
	}
	return -EAGAIN;
}

/* Over the module's limit (wasp_request_set_body_limit)? */
static bool
body_over_limit(struct conn *c)
{
	return c->body_limit && c->body_read > c->body_limit;
}

/* Discard the rest of the body after the response. 1 when it is all in,
 * 0 when more is needed, -errno (close). */
static int
body_discard(struct conn *c)
{
	for (;;) {
		ssize_t n = body_take(c, NULL, SIZE_MAX);

		if (n == 0)
			return 1;
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		if (c->body_read > WORKER_MAX_DISCARD_BODY)
			return -EMSGSIZE;
	}
}

/* The response is ready but a body is unread. Decide: discard the body
 * first (true: CS_DRAIN; its errors then replace the response, so a broken
 * or oversized body is answered as if it had been read up front), or
 * answer now and close (false). */
static bool
drain_decide(struct conn *c)
{
	struct wasp_request *req = &c->req;

	if (!(c->body_open || c->pend_len) || c->body_err)
		return false;
	if (!c->continue_sent)
		return false; /* the client waits for a 100 Continue it will not get */
	/* a module that refused the request and asked for the connection to
	 * end (RequestFilteringModule: a body over its limit, 404.13) is
	 * answered at once, with its status */
	if (req->no_keep_alive)
		return false;
	if (!c->body_chunked && c->body_read + c->body_left > WORKER_MAX_DISCARD_BODY) {
		/* not worth reading: too big (our cap, as for a chunked body) */
		request_replace_with_error(req, 413, 0);
		return false;
	}
	/* otherwise the body is read first, also when the client closes after
	 * this request, so a broken body gets its 400 as if it had been read
	 * up front */
	if (c->close_after || !req->http)
		return false;
	/* discarding stops at our cap even when a module allows more, and a
	 * declared chunk over it fails at once */
	if (c->body_chunked &&
	    (!c->chunked.p_max_body || c->chunked.p_max_body > WORKER_MAX_DISCARD_BODY))
		c->chunked.p_max_body = WORKER_MAX_DISCARD_BODY;
	return true;
}

/* CS_DRAIN: discard the unread body. 1 done, 0 more needed, -errno (the
 * response is replaced with the error, or the connection closes). */
static int
drain_body(struct conn *c)
{
	for (;;) {
		ssize_t n = body_take(c, NULL, SIZE_MAX);

		if (n == 0)
			return 1;
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		if (c->body_read > WORKER_MAX_DISCARD_BODY)
			return c->body_err = -EMSGSIZE;
	}
}

/* Prepare the response for writing. false: failed (connection closed). */
static bool
prepare_write(struct conn *c)
{
	struct wasp_request *req = &c->req;
	struct worker_env *env = c->env;
	bool bodyless = req->head || req->status < 200 || req->status == 204 || req->status == 304;
	int64_t clen = req->file_fd >= 0 ? (int64_t)req->file_len : (int64_t)req->body_len;
	char *head;
	int n;

	if (c->body_open || c->pend_len)
		c->close_after = true; /* drain_decide() chose not to read it */
	req->keep_alive = req->http && req->http->keep_alive && !c->close_after &&
			  !(env->draining && !wchan_open(c->chan)) && !req->no_keep_alive &&
			  wasp_http_response_can_keep_alive(req->http, clen);
	n = request_build_head(req, &head);
	if (n < 0) {
		log_errno(n, "build response head");
		return false;
	}
	c->iov[0] = (struct iovec){ head, (size_t)n };
	c->iov_n = 1;
	c->file_left = 0;
	if (!bodyless) {
		if (req->file_fd >= 0) {
			c->file_off = req->file_off;
			c->file_left = req->file_len;
		} else if (req->body_len) {
			c->iov[1] = (struct iovec){ req->body, req->body_len };
			c->iov_n = 2;
		}
	}
	return true;
}

/* Write what is left of the response. 1 done, -EAGAIN, -errno. */
static int
conn_write(struct conn *c)
{
	struct wasp_request *req = &c->req;

	if (!c->writable)
		return -EAGAIN;
	if (c->iov_n > 0 && c->file_left > WORKER_CORK_MIN) {
		int one = 1;
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
		c->corked = true;
	}
	while (c->iov_n > 0) {
		struct msghdr mh = { .msg_iov = c->iov, .msg_iovlen = c->iov_n };
		int more = c->file_left && !c->corked ? MSG_MORE : 0;
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | more);
		size_t left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->writable = false;
				return -EAGAIN;
			}
			return -errno;
		}
		left = (size_t)n;
		req->bytes_out += (uint64_t)n;
		while (c->iov_n > 0 && left >= c->iov[0].iov_len) {
			left -= c->iov[0].iov_len;
			c->iov[0] = c->iov[1];
			c->iov_n--;
		}
		if (c->iov_n > 0) {
			c->iov[0].iov_base = (char *)c->iov[0].iov_base + left;
			c->iov[0].iov_len -= left;
		}
	}
	while (c->file_left > 0) {
		size_t chunk = (size_t)MIN(c->file_left, (uint64_t)(1 << 30));
		ssize_t n = sendfile(c->fd, req->file_fd, &c->file_off, chunk);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->writable = false;
				return -EAGAIN;
			}
			return -errno;
		}
		if (n == 0) /* the file shrank under us: the framing is broken */
			return -EIO;
		c->file_left -= (uint64_t)n;
		req->bytes_out += (uint64_t)n;
	}
	if (c->corked) {
		int zero = 0;
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
		c->corked = false;
	}
	return 1;
}

/* The response could not be sent whole (err: the send's -errno, or
 * -ETIMEDOUT): the connection is over, but the request still goes through
 * LogRequest and EndRequest, with sc-win32-status saying why, as IIS logs
 * it: 64 (ERROR_NETNAME_DELETED) when the client went away, 1236
 * (ERROR_CONNECTION_ABORTED) when the worker gave up on the connection. */
static void
conn_cut(struct conn *c, int err)
{
	c->req.win32_status = wasp_errno_is_disconnect(err) ? 64 : 1236;
	c->req.keep_alive = false;
	c->state = CS_POST;
}

/* The request is over: account, free its memory, decide about the next. */
static void
request_end(struct conn *c)
{
	struct worker_env *env = c->env;
	bool keep = c->req.keep_alive;

	env->n_requests++;
	env->n_busy--;
	c->req_active = false;
	wasp_arena_reset(c->req_arena);
	c->http = NULL; /* it was in the arena */
	c->close_after = false;
	if (!keep) {
		if (c->in_end > c->in_start)
			c->linger = true;
		c->state = CS_IDLE; /* so conn_close does not see a request */
		c->close_after = true;
		return;
	}
	c->state = c->body_open || c->pend_len ? CS_BODY : CS_IDLE;
}

static void
conn_process(struct conn *c)
{
	struct worker_env *env = c->env;

	for (;;) {
		ssize_t n;
		bool cut;
		int r;

		switch (c->state) {
		case CS_IDLE:
		case CS_HEAD:
			if (env->draining) {
				/* no new requests here: the listener routes them */
				conn_handback(c);
				return;
			}
			if (c->in_end > c->in_start) {
				if (!conn_ensure_http(c)) {
					conn_free(c);
					return;
				}
				r = wasp_http_parse_head(c->in + c->in_start,
							 c->in_end - c->in_start, &env->limits,
							 c->http);
				if (r > 0) {
					if (!start_request(c, (size_t)r))
						return;
					continue;
				}
				if (r < 0) {
					log_debug("bad request: %s", strempty(c->http->err_reason));
					start_error(c, c->http->err_status ? c->http->err_status
									   : 400);
					continue;
				}
				if (c->state == CS_IDLE) {
					/* first bytes of a request: the head has a deadline */
					c->state = CS_HEAD;
					conn_set_deadline(
						c, MIN(env->header_timeout_usec, conn_timeout(c)));
				}
			}
			n = conn_read(c);
			if (n == -EAGAIN) {
				if (c->state == CS_IDLE) {
					conn_release_buffers(c);
					conn_set_deadline(c, conn_timeout(c));
				}
				return;
			}
			if (n <= 0) { /* EOF, error, or a head that does not fit */
				conn_free(c);
				return;
			}
			continue;
		case CS_BODY:
			r = body_discard(c);
			if (r == 1) {
				c->pend_len = 0;
				c->state = CS_IDLE;
				continue;
			}
			if (r < 0) {
				log_debug_errno(r, "discard request body");
				conn_free(c);
				return;
			}
			n = conn_read(c);
			if (n == -EAGAIN) {
				conn_wait_xfer(c, XFER_BODY);
				return;
			}
			if (n <= 0) {
				conn_free(c);
				return;
			}
			continue;
		case CS_RUN:
			switch (pipeline_run(&c->req)) {
			case PIPELINE_PENDING:
				/* waiting for body bytes is bounded by connectionTimeout;
				 * other pending work by its module */
				if (c->body_wait_fn)
					conn_wait_xfer(c, XFER_BODY);
				else
					conn_set_deadline(c, UINT64_MAX);
				return;
			case PIPELINE_SEND:
				if (drain_decide(c)) {
					c->state = CS_DRAIN;
					continue;
				}
				if (!prepare_write(c)) {
					conn_free(c);
					return;
				}
				c->state = CS_WRITE;
				continue;
			case PIPELINE_END:
				c->state = CS_POST;
				continue;
			}
			continue;
		case CS_DRAIN:
			r = drain_body(c);
			if (r < 0) {
				if (r == -EMSGSIZE || r == -EBADMSG) {
					struct wasp_request *req = &c->req;
					unsigned st = c->chunked.err_status;

					if (r == -EBADMSG)
						request_replace_with_error(req, st ? st : 400, 0);
					else if (c->body_limit_status && c->body_limit &&
						 c->body_limit <= WORKER_MAX_DISCARD_BODY)
						/* a module's limit, under ours, was crossed */
						request_replace_with_error(req, c->body_limit_status,
									   c->body_limit_substatus);
					else
						request_replace_with_error(req, 413, 0);
					c->linger = true;
				} else {
					log_debug_errno(r, "discard request body");
					conn_free(c);
					return;
				}
			}
			if (r != 0) {
				c->pend_len = 0;
				if (!prepare_write(c)) {
					conn_free(c);
					return;
				}
				c->state = CS_WRITE;
				continue;
			}
			n = conn_read(c);
			if (n == -EAGAIN) {
				conn_wait_xfer(c, XFER_BODY);
				return;
			}
			if (n <= 0) {
				conn_free(c);
				return;
			}
			continue;
		case CS_WRITE:
			r = conn_write(c);
			if (r == -EAGAIN) {
				conn_wait_xfer(c, XFER_WRITE);
				return;
			}
			if (r < 0) {
				log_debug_errno(r, "write response");
				conn_cut(c, r);
				continue;
			}
			c->state = CS_POST;
			continue;
		case CS_POST:
			if (pipeline_run(&c->req) == PIPELINE_PENDING) {
				conn_set_deadline(c, UINT64_MAX);
				return;
			}
			cut = c->req.win32_status != 0;
			request_end(c);
			if (cut) { /* the response was cut: nothing more on it */
				conn_free(c);
				return;
			}
			if (c->close_after) {
				conn_close(c);
				return;
			}
			continue;
		case CS_CLOSE:
			conn_free(c);
			return;
		case CS_LINGER:
			c->in_start = c->in_end = 0;
			n = conn_read(c);
			if (n == -EAGAIN)
				return;
			if (n <= 0) {
				conn_free(c);
				return;
			}
			continue;
		}
	}
}

/* Watch the socket once the connection has to wait for it. A connection
 * served in one go (the head came with the HANDOFF, the response fit in the
 * socket) never touches epoll; one added later hears of readiness that came
 * meanwhile, as epoll reports it on insertion. */
static void
conn_watch(struct conn *c)
{
	if (c->ev_added)
		return;
	if (event_add(&c->ev, NULL) < 0) {
		log_warning("cannot watch a connection, closing it");
		conn_free(c);
		return;
	}
	c->ev_added = true;
}

static void
conn_enter(struct conn *c)
{
	bool outer = c->in_callback;

	c->in_callback = true;
	conn_process(c);
	c->in_callback = outer;
	if (c->dead) {
		if (!outer)
			conn_free(c);
		return;
	}
	conn_watch(c);
}

/* A module waits for body bytes (wasp_request_wait_body): tell it once. */
static void
conn_body_notify(struct conn *c)
{
	void (*fn)(struct wasp_request *req, void *userdata) = c->body_wait_fn;
	bool outer = c->in_callback;

	c->body_wait_fn = NULL;
	c->in_callback = true;
	fn(&c->req, c->body_wait_userdata);
	c->in_callback = outer;
	if (!outer && c->dead)
		conn_free(c);
}

static void
conn_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (what & (EV_READ | EV_CLOSED))
		c->readable = true;
	if (what & EV_CLOSED)
		c->rdhup = true;
	if (what & EV_WRITE)
		c->writable = true;
	switch (c->state) {
	case CS_IDLE:
	case CS_HEAD:
	case CS_BODY:
	case CS_DRAIN:
	case CS_LINGER:
		if (c->readable)
			conn_enter(c);
		break;
	case CS_WRITE:
		if (c->writable)
			conn_enter(c);
		break;
	case CS_RUN:
		if (c->body_wait_fn && c->readable)
			conn_body_notify(c);
		break;
	default:
		break; /* the pipeline has it; the flags are remembered */
	}
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	uint64_t now = wasp_now_usec();

	c->timer_at = 0;
	if (c->deadline == UINT64_MAX)
		return;
	if (now < c->deadline) {
		uint64_t d = c->deadline - now;
		struct timeval tv = wasp_timeval_from_usec(d);
		(void)event_add(&c->timer, &tv);
		c->timer_at = c->deadline;
		return;
	}
	if (c->xfer != XFER_NONE && now < c->stall_at && c->env->min_bytes_per_sec > 0 &&
	    (c->state == CS_WRITE || c->state == CS_DRAIN || c->state == CS_BODY ||
	     (c->state == CS_RUN && c->body_wait_fn)) &&
	    !xfer_too_slow(c, now))
		return;
	c->deadline = UINT64_MAX;
	if (c->state == CS_HEAD) {
		start_error(c, 408);
		conn_enter(c);
		return;
	}
	if (c->state == CS_RUN && c->body_wait_fn) {
		/* the body stalled: the module hears it from read_body */
		c->body_err = -ETIMEDOUT;
		c->close_after = true;
		conn_body_notify(c);
		return;
	}
	log_debug("connection timed out");
	if (c->state == CS_WRITE) {
		conn_cut(c, -ETIMEDOUT);
		conn_enter(c);
		return;
	}
	if (c->state == CS_IDLE || c->state == CS_LINGER || c->state == CS_BODY ||
	    c->state == CS_DRAIN)
		conn_free(c);
}

bool
conn_local_addr(struct conn *c, const struct sockaddr_storage **ret, socklen_t *ret_len)
{
	if (c->local_len == 0) {
		c->local_len = sizeof(c->local);
		if (getsockname(c->fd, (struct sockaddr *)&c->local, &c->local_len) < 0)
			c->local_len = 0;
		c->rsock = NULL;
	}
	*ret = &c->local;
	*ret_len = c->local_len;
	return c->local_len > 0 &&
	       (c->local.ss_family == AF_INET || c->local.ss_family == AF_INET6);
}

bool
conn_peer_addr(struct conn *c, const struct sockaddr_storage **ret, socklen_t *ret_len)
{
	if (!c->peer_done) {
		c->peer_done = true;
		c->peer_len = sizeof(c->peer);
		if (getpeername(c->fd, (struct sockaddr *)&c->peer, &c->peer_len) < 0)
			c->peer_len = 0;
	}
	*ret = &c->peer;
	*ret_len = c->peer_len;
	return c->peer_len > 0 && (c->peer.ss_family == AF_INET || c->peer.ss_family == AF_INET6);
}

void
conn_resume(struct conn *c)
{
	if (c->state == CS_RUN || c->state == CS_POST)
		conn_enter(c);
}

int
conn_prepare(struct worker_env *env, int fd, struct wchan *chan, uint32_t site_id,
	     const char *app_path, const void *data, size_t len, struct conn **ret)
{
	struct conn *c;
	int flags;

	if (len > WORKER_INBUF_SIZE) {
		safe_close(fd);
		return -EMSGSIZE;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
		int r = -errno;
		safe_close(fd);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		safe_close(fd);
		return -ENOMEM;
	}
	c->env = env;
	c->fd = fd;
	c->first = true;
	c->site_id = site_id;
	c->readable = c->writable = true;
	c->deadline = UINT64_MAX;
	c->first_app = env_find_app(env, site_id, app_path ? app_path : "/");
	if (len) {
		c->in = inbuf_get(env);
		if (c->in) {
			memcpy(c->in, data, len);
			c->in_end = len;
		}
	}
	event_assign(&c->ev, env->base, fd, EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST,
		     conn_on_io, c);
	evtimer_assign(&c->timer, env->base, conn_on_timer, c);
	/* linked first so that conn_free can unlink on any failure below */
	c->next = env->conns;
	if (env->conns)
		env->conns->prev = c;
	env->conns = c;
	env->n_conns++;
	if (chan) {
		wchan_ref(chan);
		c->chan = chan;
	}
	if (len && !c->in) {
		conn_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void
conn_start(struct conn *c)
{
	c->acked = true;
	conn_enter(c);
}

void
conn_discard(struct conn *c)
{
	conn_free(c);
}

int
conn_new(struct worker_env *env, int fd, struct wchan *chan, uint32_t site_id, const char *app_path,
	 const void *data, size_t len)
{
	struct conn *c;
	int r;

	r = conn_prepare(env, fd, chan, site_id, app_path, data, len, &c);
	if (r < 0)
		return r;
	conn_start(c);
	return 0;
}

void
conn_drain_all(struct worker_env *env)
{
	struct conn *c = env->conns;

	while (c) {
		struct conn *next = c->next;
		if (c->state == CS_IDLE || c->state == CS_HEAD)
			conn_handback(c);
		c = next;
	}
}

void
conn_free_all(struct worker_env *env)
{
	while (env->conns) {
		env->conns->in_callback = false;
		conn_free(env->conns);
	}
}

/* ---- the request body (module API) ---- */

int64_t
wasp_request_body_length(const struct wasp_request *req)
{
	if (!req->http)
		return 0;
	if (req->http->chunked)
		return -1;
	return req->http->has_content_length ? (int64_t)req->http->content_length : 0;
}

ssize_t
wasp_request_read_body(struct wasp_request *req, void *buf, size_t len)
{
	struct conn *c = req->conn;

	if (!c || !req->http || len == 0)
		return 0;
	for (;;) {
		ssize_t n = body_take(c, buf, len);

		if (n != -EAGAIN) {
			if (n > 0 && body_over_limit(c)) {
				c->body_err = -EMSGSIZE;
				c->pend_len = 0;
				n = -EMSGSIZE;
			}
			if (n == -EMSGSIZE || n == -EBADMSG) {
				/* the connection cannot go on after this request */
				c->close_after = true;
				if (req->status >= 400) /* keep an error already set */
					return n;
				req->n_headers = 0; /* nor what was set for another answer */
				if (n == -EBADMSG)
					request_set_error(req, 400, 0);
				else if (c->body_limit_status)
					request_set_error(req, c->body_limit_status,
							  c->body_limit_substatus);
				else
					request_set_error(req, 413, 0);
			}
			return n;
		}
		if (!c->continue_sent) {
			/* the client waits for this before it sends the body */
			static const char cont[] = WASP_HTTP_100_CONTINUE;
			ssize_t w = send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL);

			c->continue_sent = true;
			if (w != (ssize_t)sizeof(cont) - 1) {
				/* nothing of ours is in flight, so an empty socket
				 * takes 25 bytes: a client that does not read gets
				 * closed */
				c->close_after = true;
				return c->body_err = -ECONNRESET;
			}
		}
		n = conn_read(c);
		if (n == -EAGAIN)
			return -EAGAIN;
		if (n <= 0) {
			c->close_after = true;
			return c->body_err = n == 0 ? -ECONNRESET : (int)n;
		}
	}
}

int
wasp_request_wait_body(struct wasp_request *req,
		       void (*fn)(struct wasp_request *req, void *userdata), void *userdata)
{
	struct conn *c = req->conn;

	if (!c || !fn)
		return -EINVAL;
	c->body_wait_fn = fn;
	c->body_wait_userdata = userdata;
	if (c->readable) /* more may be there already: look from the loop */
		event_active(&c->ev, EV_READ, 0);
	return 0;
}

void
wasp_request_set_body_limit(struct wasp_request *req, uint64_t max, unsigned status,
			    unsigned substatus)
{
	struct conn *c = req->conn;

	if (!c)
		return;
	c->body_limit = max;
	c->body_limit_status = status;
	c->body_limit_substatus = substatus;
	c->chunked.p_max_body = max; /* declared chunk sizes are checked against it */
}
