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
 * A relayed connection (a unix socket) is watched for writing only while a
 * write waits: a unix socket says it is writable each time its peer reads,
 * which would wake the worker once more per response.
 * One timer per connection enforces a deadline that moves lazily: moving it
 * costs nothing; the timer re-arms itself when it fires early. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "conn.h"
#include "route.h"
#include "log.h"
#include "util.h"

static void conn_process(struct conn *c);

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

struct wasp_arena *
conn_arena_get(struct worker_env *env)
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
		c->req_arena = conn_arena_get(c->env);
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

	tunnel_notify_gone(c);
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
	free(c->tls);
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

ssize_t
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

/* Hand the connection back to the listener with data as what it read
 * (flags: WASP_HANDBACK_F_*). */
static void
handback(struct conn *c, const void *data, size_t len, uint32_t flags)
{
	int fd = TAKE_FD(c->fd);
	int r;

	if (!c->chan) {
		safe_close(fd);
		conn_free(c);
		return;
	}
	r = wchan_handback(c->chan, fd, 0, data, len, flags, c->tls);
	if (r < 0)
		log_warning_errno(r, "hand back connection, dropping it");
	else
		c->acked = false; /* the adapter counts the HANDBACK itself */
	conn_free(c);
}

void
conn_handback(struct conn *c)
{
	handback(c, c->in ? c->in + c->in_start : NULL, c->in_end - c->in_start, 0);
}

/* wasp_request_reroute(): the rewritten head, then what followed the
 * client's head (wasp_request_reroute checked that it fits). */
static void
conn_reroute(struct conn *c)
{
	struct wasp_request *req = &c->req;
	size_t rest = c->in_end - c->in_start;
	char *buf = wasp_arena_alloc(c->req_arena, req->reroute_len + rest);

	if (!buf) {
		conn_free(c);
		return;
	}
	memcpy(buf, req->reroute_head, req->reroute_len);
	if (rest)
		memcpy(buf + req->reroute_len, c->in + c->in_start, rest);
	handback(c, buf, req->reroute_len + rest, req->reroute_flags);
}

/* The request is over: account, free its memory, decide about the next. */
static void
request_end(struct conn *c)
{
	struct worker_env *env = c->env;
	bool keep = c->req.keep_alive;

	env->n_requests++;
	if (c->app)
		c->app->requests++;
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

/* Each state's step returns true to go on with the connection's next
 * state, false when it waits (for the socket, a module) or is gone. */

/* CS_IDLE, CS_HEAD: parse a head from what is buffered, or read more. */
static bool
step_head(struct conn *c)
{
	struct worker_env *env = c->env;
	ssize_t n;
	int r;

	if (env->draining) {
		/* no new requests here: the listener routes them */
		conn_handback(c);
		return false;
	}
	if (c->in_end > c->in_start) {
		if (!conn_ensure_http(c)) {
			conn_free(c);
			return false;
		}
		r = wasp_http_parse_head(c->in + c->in_start, c->in_end - c->in_start,
					 &env->limits, c->http);
		if (r > 0)
			return start_request(c, (size_t)r);
		if (r < 0) {
			log_debug("bad request: %s", strempty(c->http->err_reason));
			start_error(c, c->http->err_status ? c->http->err_status : 400);
			return true;
		}
		if (c->state == CS_IDLE) {
			/* first bytes of a request: the head has a deadline */
			c->state = CS_HEAD;
			conn_set_deadline(c, MIN(env->header_timeout_usec, conn_timeout(c)));
		}
	}
	n = conn_read(c);
	if (n == -EAGAIN) {
		if (c->state == CS_IDLE) {
			conn_release_buffers(c);
			conn_set_deadline(c, conn_timeout(c));
		}
		return false;
	}
	if (n <= 0) { /* EOF, error, or a head that does not fit */
		conn_free(c);
		return false;
	}
	return true;
}

/* Read more of a body being discarded (CS_BODY, CS_DRAIN). */
static bool
step_read_body(struct conn *c)
{
	ssize_t n = conn_read(c);

	if (n == -EAGAIN) {
		conn_wait_xfer(c, XFER_BODY);
		return false;
	}
	if (n <= 0) {
		conn_free(c);
		return false;
	}
	return true;
}

/* CS_BODY: after the response, discard the rest of the body. */
static bool
step_body(struct conn *c)
{
	int r = body_discard(c);

	if (r == 1) {
		c->pend_len = 0;
		c->state = CS_IDLE;
		return true;
	}
	if (r < 0) {
		log_debug_errno(r, "discard request body");
		conn_free(c);
		return false;
	}
	return step_read_body(c);
}

/* The response is ready: on to writing it. */
static bool
step_send(struct conn *c)
{
	if (c->req.reroute_head) {
		conn_reroute(c);
		return false;
	}
	if (!send_prepare(c)) {
		conn_free(c);
		return false;
	}
	c->state = CS_WRITE;
	return true;
}

/* CS_RUN: the pipeline. */
static bool
step_run(struct conn *c)
{
	switch (pipeline_run(&c->req)) {
	case PIPELINE_PENDING:
		/* waiting for body bytes is bounded by connectionTimeout;
		 * other pending work by its module */
		if (c->body_wait_fn)
			conn_wait_xfer(c, XFER_BODY);
		else
			conn_set_deadline(c, UINT64_MAX);
		return false;
	case PIPELINE_SEND:
		if (!stream_producing(&c->req) && drain_decide(c)) {
			c->state = CS_DRAIN;
			return true;
		}
		return step_send(c);
	case PIPELINE_END:
		c->state = CS_POST;
		return true;
	}
	return true;
}

/* CS_DRAIN: before the response, discard the body no module read. */
static bool
step_drain(struct conn *c)
{
	int r = drain_body(c);

	if (r < 0 && !drain_failed(c, r)) {
		conn_free(c);
		return false;
	}
	if (r != 0) {
		c->pend_len = 0;
		return step_send(c);
	}
	return step_read_body(c);
}

/* CS_WRITE: write the response. */
static bool
step_write(struct conn *c)
{
	int r = send_write(c);

	if (r == -EAGAIN) {
		conn_wait_xfer(c, XFER_WRITE);
		return false;
	}
	if (r == 0) {
		/* a streamed body waits for its producer, whose own limits
		 * bound the wait; the next transfer is measured afresh */
		c->xfer = XFER_NONE;
		conn_set_deadline(c, UINT64_MAX);
		return false;
	}
	if (r < 0) {
		log_debug_errno(r, "write response");
		conn_cut(c, r);
		return true;
	}
	c->state = CS_POST;
	return true;
}

/* CS_POST: LogRequest, EndRequest, then the next request or the close. */
static bool
step_post(struct conn *c)
{
	bool cut;

	if (pipeline_run(&c->req) == PIPELINE_PENDING) {
		conn_set_deadline(c, UINT64_MAX);
		return false;
	}
	cut = c->req.win32_status != 0;
	request_end(c);
	if (cut) { /* the response was cut: nothing more on it */
		conn_free(c);
		return false;
	}
	if (tunnel_take(c))
		return false;
	if (c->close_after) {
		conn_close(c);
		return false;
	}
	return true;
}

/* CS_LINGER: read and drop what the client still sends. */
static bool
step_linger(struct conn *c)
{
	ssize_t n;

	c->in_start = c->in_end = 0;
	n = conn_read(c);
	if (n == -EAGAIN)
		return false;
	if (n <= 0) {
		conn_free(c);
		return false;
	}
	return true;
}

static void
conn_process(struct conn *c)
{
	bool more = true;

	while (more) {
		switch (c->state) {
		case CS_IDLE:
		case CS_HEAD:
			more = step_head(c);
			break;
		case CS_BODY:
			more = step_body(c);
			break;
		case CS_RUN:
			more = step_run(c);
			break;
		case CS_DRAIN:
			more = step_drain(c);
			break;
		case CS_WRITE:
			more = step_write(c);
			break;
		case CS_POST:
			more = step_post(c);
			break;
		case CS_CLOSE:
			conn_free(c);
			return;
		case CS_TUNNEL:
			return;
		case CS_LINGER:
			more = step_linger(c);
			break;
		}
	}
}

static void conn_on_io(evutil_socket_t fd, short what, void *arg);

static short
conn_events(const struct conn *c)
{
	return EV_READ | EV_CLOSED | EV_ET | EV_PERSIST | (c->ev_write ? EV_WRITE : 0);
}

/* Watch the socket once the connection has to wait for it. A connection
 * served in one go (the head came with the HANDOFF, the response fit in the
 * socket) never touches epoll; one added later hears of readiness that came
 * meanwhile, as epoll reports it on insertion. */
static void
conn_watch(struct conn *c)
{
	bool ev_write = !c->relayed || !c->writable;

	if (c->ev_added && ev_write == c->ev_write)
		return;
	if (c->ev_added)
		(void)event_del(&c->ev);
	c->ev_added = false;
	c->ev_write = ev_write;
	event_assign(&c->ev, c->env->base, c->fd, conn_events(c), conn_on_io, c);
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
		/* a streaming handler may still read the body meanwhile */
		if (c->body_wait_fn && c->readable && !c->in_callback) {
			c->in_callback = true;
			conn_body_notify(c);
			c->in_callback = false;
			if (c->dead) {
				conn_free(c);
				break;
			}
		}
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

void
conn_stream_kick(struct conn *c)
{
	if (c->state == CS_WRITE && !c->dead)
		event_active(&c->ev, EV_WRITE, 0);
}

void
conn_resume(struct conn *c)
{
	if (c->state == CS_RUN || c->state == CS_POST)
		conn_enter(c);
}

int
conn_fd_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
		int r = -errno;
		safe_close(fd);
		return r;
	}
	return 0;
}

int
conn_prepare(struct worker_env *env, int fd, struct wchan *chan, uint32_t site_id,
	     const char *app_path, const void *data, size_t len,
	     const struct conn_origin *origin, struct conn **ret)
{
	struct conn *c;
	int r;

	if (len > WORKER_INBUF_SIZE) {
		safe_close(fd);
		free(origin ? origin->tls : NULL);
		return -EMSGSIZE;
	}
	r = conn_fd_nonblock(fd);
	if (r < 0) {
		free(origin ? origin->tls : NULL);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		safe_close(fd);
		free(origin ? origin->tls : NULL);
		return -ENOMEM;
	}
	if (origin) {
		c->local = origin->local;
		c->local_len = origin->local_len;
		c->peer = origin->peer;
		c->peer_len = origin->peer_len;
		c->tls = origin->tls;
	}
	c->env = env;
	c->fd = fd;
	c->first = true;
	c->site_id = site_id;
	c->readable = c->writable = true;
	c->deadline = UINT64_MAX;
	c->first_app = env_find_app(env, site_id, app_path ? app_path : "/");
	send_init(c);
	if (len) {
		c->in = inbuf_get(env);
		if (c->in) {
			memcpy(c->in, data, len);
			c->in_end = len;
		}
	}
	c->ev_write = !c->relayed;
	event_assign(&c->ev, env->base, fd, conn_events(c), conn_on_io, c);
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

	r = conn_prepare(env, fd, chan, site_id, app_path, data, len, NULL, &c);
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

/* The module is done with its tunnel (tunnel.c): no word back to it. */
void
wasp_tunnel_close(struct wasp_tunnel *t)
{
	struct conn *c = (struct conn *)t;

	c->tun_fn = NULL;
	conn_free(c);
}
