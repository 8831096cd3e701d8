/* The listener core's process: connection objects (from a free list, with
 * their head buffer), reading the head, routing, rejecting, and
 * wasp_listener_main(). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "libevent-util.h"
#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "util.h"

/* ---- connections --------------------------------------------------------- */

struct lsn_conn *
lsn_conn_by_id(struct lsn_env *env, uint32_t id)
{
	uint32_t slot = (id & LSN_CONN_MAX) - 1;
	struct lsn_conn *c;

	if (id == 0 || slot >= env->n_slots)
		return NULL;
	c = env->slots[slot];
	return c && c->id == id && c->state != LSN_CONN_FREE ? c : NULL;
}

/* No request line known (a new connection, or one handed back). */
static void
conn_forget_request(struct lsn_conn *c)
{
	c->req_version = NULL;
	c->req_method_off = c->req_method_len = 0;
	c->req_uri_off = c->req_uri_len = 0;
}

/* Keep where the request line is in c->buf, for the HTTPERR log. */
static void
conn_note_request(struct lsn_conn *c, const struct wasp_peek_key *key)
{
	const char *end = c->buf + c->len;

	conn_forget_request(c);
	c->req_version = key->version;
	if (key->method && key->method >= c->buf && key->method + key->method_len <= end) {
		c->req_method_off = (uint32_t)(key->method - c->buf);
		c->req_method_len = (uint32_t)key->method_len;
	}
	if (key->target && key->target >= c->buf && key->target + key->target_len <= end) {
		c->req_uri_off = (uint32_t)(key->target - c->buf);
		c->req_uri_len = (uint32_t)key->target_len;
	}
}

/* A connection object for fd (taken over), or NULL at the limit or on OOM
 * (fd is closed then). */
struct lsn_conn *
lsn_conn_new(struct lsn_env *env, int fd)
{
	struct lsn_conn *c = TAILQ_FIRST(&env->free_conns);

	if (c) {
		TAILQ_REMOVE(&env->free_conns, c, link);
	} else {
		if (env->n_slots >= env->max_conns)
			goto fail;
		c = calloc(1, sizeof(*c));
		if (!c)
			goto fail;
		c->cap = (uint32_t)env->max_head;
		c->buf = malloc(c->cap);
		if (!c->buf) {
			free(c);
			goto fail;
		}
		c->env = env;
		env->slots[env->n_slots] = c;
		c->id = ++env->n_slots; /* slot + 1, reuse 0 */
	}
	/* A new id for the slot: an old ACK cannot match the new connection. */
	c->id = (c->id & LSN_CONN_MAX) |
		((((c->id >> LSN_CONN_SLOT_BITS) + 1) & 0xfff) << LSN_CONN_SLOT_BITS);
	c->state = LSN_CONN_READING;
	c->fd = fd;
	c->len = 0;
	c->peek_flags = 0;
	c->rd_eof = false;
	c->sock_id = UINT32_MAX;
	c->sock_gen = 0;
	c->ev_set = false;
	c->table = NULL;
	c->site = NULL;
	c->app = NULL;
	c->pool = NULL;
	c->worker = NULL;
	c->qe.queued = false;
	c->peer_counted = false;
	c->have_addrs = false;
	c->relay = NULL;
	c->ktls = NULL;
	conn_forget_request(c);
	c->t_start = wasp_now_usec();
	c->in_reading = true;
	TAILQ_INSERT_TAIL(&env->reading, c, rlink);
	env->n_conns++;
	return c;
fail:
	(void)safe_close(fd);
	return NULL;
}

void
lsn_conn_head_done(struct lsn_env *env, struct lsn_conn *c)
{
	if (!c->in_reading)
		return;
	TAILQ_REMOVE(&env->reading, c, rlink);
	c->in_reading = false;
}

static void
conn_unroute(struct lsn_env *env, struct lsn_conn *c)
{
	if (c->table) {
		if (c->site && c->table->site_conns[c->site->index] > 0)
			c->table->site_conns[c->site->index]--;
		lsn_table_unref(c->table);
	}
	c->table = NULL;
	c->site = NULL;
	c->app = NULL;
	c->pool = NULL;
}

/* Release the object (closing our fd; the connection itself lives on if a
 * worker has its own copy). */
void
lsn_conn_free(struct lsn_env *env, struct lsn_conn *c)
{
	if (!c || c->state == LSN_CONN_FREE)
		return;
	if (c->ev_set)
		(void)event_del(&c->ev);
	c->ev_set = false;
	if (c->state == LSN_CONN_INFLIGHT && c->worker) {
		TAILQ_REMOVE(&c->worker->inflight, c, link);
		c->worker->n_inflight--;
		c->worker = NULL;
	}
	if (c->state == LSN_CONN_QUEUED && c->pool) {
		wasp_queue_remove(&c->pool->queue, &c->qe);
		lsn_pool_rearm(env, c->pool);
	}
	conn_unroute(env, c);
	lsn_conn_head_done(env, c);
	lsn_client_remove(env, c);
	if (c->relay)
		lsn_relay_attach(c->relay, NULL);
	lsn_ktls_free(c->ktls);
	c->ktls = NULL;
	c->fd = safe_close(c->fd);
	c->state = LSN_CONN_FREE;
	/* Big handback buffers go back to the normal size. */
	if (c->cap > env->max_head) {
		char *b = realloc(c->buf, env->max_head);
		if (b) {
			c->buf = b;
			c->cap = (uint32_t)env->max_head;
		}
	}
	TAILQ_INSERT_HEAD(&env->free_conns, c, link);
	env->n_conns--;
	lsn_accept_check(env);
	if (env->quitting && env->n_conns == 0)
		(void)event_base_loopexit(env->base, NULL);
}

static void
conn_on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_conn *c = arg;
	struct lsn_env *env = c->env;
	uint64_t now, left;
	struct timeval tv;

	c->ev_set = false;
	if (what & EV_READ) {
		for (int i = 0; i < 4; i++) {
			ssize_t n = read(c->fd, c->buf, c->cap);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				goto again;
			break; /* EOF, error, or a client that keeps sending */
		}
	}
	lsn_conn_free(env, c);
	return;
again:
	now = wasp_now_usec();
	if (now >= c->t_start + LSN_LINGER_USEC) {
		lsn_conn_free(env, c);
		return;
	}
	left = c->t_start + LSN_LINGER_USEC - now;
	tv = (struct timeval){ .tv_sec = (time_t)(left / 1000000),
			       .tv_usec = (suseconds_t)(left % 1000000) };
	if (event_add(&c->ev, &tv) < 0) {
		lsn_conn_free(env, c);
		return;
	}
	c->ev_set = true;
}

static void
conn_linger(struct lsn_env *env, struct lsn_conn *c)
{
	struct timeval tv = { .tv_sec = LSN_LINGER_USEC / 1000000,
			      .tv_usec = LSN_LINGER_USEC % 1000000 };

	if (c->ev_set)
		(void)event_del(&c->ev);
	c->ev_set = false;
	conn_unroute(env, c);
	c->state = LSN_CONN_LINGER;
	c->t_start = wasp_now_usec();
	event_assign(&c->ev, env->base, c->fd, EV_READ, conn_on_linger, c);
	if (event_add(&c->ev, &tv) < 0) {
		lsn_conn_free(env, c);
		return;
	}
	c->ev_set = true;
}

static void conn_reject(struct lsn_env *env, struct lsn_conn *c, unsigned status,
			const char *reason);

void
lsn_conn_reject(struct lsn_env *env, struct lsn_conn *c, unsigned status, const char *reason)
{
	lsn_metrics_reject(env, c, lsn_reject_reason(status));
	conn_reject(env, c, status, reason);
}

void
lsn_conn_reject_503(struct lsn_env *env, struct lsn_conn *c, enum wasp_reject_reason why,
		    const char *reason)
{
	lsn_metrics_reject(env, c, why);
	conn_reject(env, c, 503, reason);
}

/* A 503 of a TcpLevel pool, or of an adapter with no error to write, is a
 * reset. */
static bool
conn_reject_resets(const struct lsn_env *env, const struct lsn_conn *c, unsigned status)
{
	if (status != 503)
		return false;
	return env->ops->reset_503 ||
	       (c->pool && c->pool->rp && c->pool->rp->lb == WASP_ROUTE_LB_TCP);
}

/* Answer an error (or reset, conn_reject_resets()) and close. */
static void
conn_reject(struct lsn_env *env, struct lsn_conn *c, unsigned status, const char *reason)
{
	if (status == 503)
		env->stats.rejected_503++;
	else if (status >= 400 && status < 500)
		env->stats.rejected_400++;
	log_debug("connection %u: %u %s%s%s", c->id, status, strempty(reason),
		  c->pool ? " pool " : "", c->pool ? c->pool->name : "");
	lsn_httperr_log(env, c, status, reason);
	if (conn_reject_resets(env, c, status)) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	} else if (status > 0) {
		env->ops->write_error(env->userdata, c->fd, status, reason,
				      status == 503 ? WASP_LISTENER_RETRY_AFTER_S : 0, c->peek_flags);
		/* FIN after the response, then read and drop what the client
		 * still sends for a moment: closing with unread bytes would send
		 * a RST that can destroy the response before it is read. */
		if (!env->exiting && shutdown(c->fd, SHUT_WR) == 0) {
			conn_linger(env, c);
			return;
		}
	}
	lsn_conn_free(env, c);
}

void
lsn_conn_drop(struct lsn_env *env, struct lsn_conn *c, const char *reason)
{
	lsn_httperr_log(env, c, 0, reason);
	lsn_conn_free(env, c);
}

/* The header timeout passed: a started head is answered 408 (issue: "header
 * read time, 408 then close"); a connection that sent nothing is just closed,
 * as nginx does (HTTP.sys's Timer_ConnectionIdle). */
static void
conn_timed_out(struct lsn_env *env, struct lsn_conn *c)
{
	if (c->len == 0 && c->relay && lsn_tls_timed_out(env, c))
		return; /* in its TLS handshake (Timer_SslHandshake) */
	if (c->len == 0) {
		log_debug("connection %u: nothing sent within the header timeout", c->id);
		lsn_conn_drop(env, c, "Timer_ConnectionIdle");
		return;
	}
	lsn_conn_reject(env, c, 408, "no complete head within the header timeout");
}

static void
conn_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_conn *c = arg;
	struct lsn_env *env = c->env;

	(void)fd;
	c->ev_set = false;
	if (what & EV_TIMEOUT) {
		conn_timed_out(env, c);
		return;
	}
	lsn_conn_read(env, c);
}

/* Wait for more of the head. The header timeout counts from accept (or
 * handback), not from the last read: a client trickling bytes does not get
 * more time. The first wait uses the common timeout (O(1) in libevent). */
static int
conn_wait(struct lsn_env *env, struct lsn_conn *c)
{
	struct timeval tv;

	event_assign(&c->ev, env->base, c->fd, EV_READ, conn_on_event, c);
	if (c->len == 0) {
		tv = env->header_timeout;
	} else {
		uint64_t now = wasp_now_usec(), deadline = c->t_start + env->header_timeout_usec;
		if (now >= deadline)
			return -ETIMEDOUT;
		tv = (struct timeval){ .tv_sec = (time_t)((deadline - now) / 1000000),
				       .tv_usec = (suseconds_t)((deadline - now) % 1000000) };
	}
	if (event_add(&c->ev, &tv) < 0)
		return -ENOMEM;
	c->ev_set = true;
	return 0;
}

/* Read what is there and decide; re-arm the read event when incomplete. */
void
lsn_conn_read(struct lsn_env *env, struct lsn_conn *c)
{
	for (;;) {
		ssize_t n = c->len < c->cap ? read(c->fd, c->buf + c->len, c->cap - c->len) : 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = c->ev_set ? 0 : conn_wait(env, c);
			if (r == -ETIMEDOUT)
				conn_timed_out(env, c);
			else if (r < 0)
				lsn_conn_free(env, c);
			return;
		}
		if (n <= 0) {
			/* EOF or error before a complete head: nothing to answer
			 * (logged when a request had started). */
			log_debug("connection %u: closed by the client after %u bytes", c->id,
				  c->len);
			if (c->len > 0)
				lsn_conn_drop(env, c, "Connection_Dropped");
			else
				lsn_conn_free(env, c);
			return;
		}
		c->len += (uint32_t)n;
		lsn_conn_route(env, c);
		return;
	}
}

void
lsn_conn_drop_event(struct lsn_conn *c)
{
	if (c->ev_set)
		(void)event_del(&c->ev);
	c->ev_set = false;
}

/* A queued connection: keep what else the client sends (it travels with the
 * HANDOFF), up to the buffer, and notice when it goes away. An EOF is not
 * a reason to give up: its head is complete, and a client that sent its
 * requests and shut down its sending side (RFC 9112 9.6: `nc -N`, some
 * HTTP/1.0 clients) waits for the answers. A FIN cannot tell that from a
 * client that closed altogether, so the connection keeps its place in the
 * queue (bounded by queueLength) and is no longer watched; the worker
 * finds out when it writes. A reset or another error leaves the queue. */
static void
conn_on_queued(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_conn *c = arg;
	struct lsn_env *env = c->env;
	ssize_t n;

	c->ev_set = false;
	do
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		log_debug("connection %u: client shut down its side while queued, kept", c->id);
		c->rd_eof = true;
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		log_debug("connection %u: closed by the client while queued", c->id);
		lsn_conn_drop(env, c, "Connection_Dropped");
		return;
	}
	if (n > 0)
		c->len += (uint32_t)n;
	lsn_conn_watch_queued(env, c);
}

void
lsn_conn_watch_queued(struct lsn_env *env, struct lsn_conn *c)
{
	if (c->ev_set || c->len >= c->cap || c->rd_eof)
		return;
	event_assign(&c->ev, env->base, c->fd, EV_READ, conn_on_queued, c);
	if (event_add(&c->ev, NULL) == 0)
		c->ev_set = true;
}

/* A routed connection counted against its site and handed to its pool: to
 * an idle worker at once, else into the pool's queue. */
static void
conn_place(struct lsn_env *env, struct lsn_conn *c, struct lsn_table *t,
	   const struct wasp_route_result *res)
{
	struct lsn_pool *p;

	c->table = t;
	t->refs++;
	c->site = res->site;
	c->app = res->app;
	p = env->pool_by_id[res->pool->id];
	c->pool = p;
	if (res->site->max_connections > 0 &&
	    t->site_conns[res->site->index] >= res->site->max_connections) {
		c->site = NULL; /* not counted */
		lsn_conn_reject(env, c, 503, "site maxConnections reached");
		return;
	}
	t->site_conns[res->site->index]++;
	if (p->state == WASP_POOL_STOPPED || p->state == WASP_POOL_STOPPING) {
		lsn_conn_reject_503(env, c, WASP_REJECT_503_STOPPED, "application pool stopped");
		return;
	}
	if (p->n_workers > 0 && wasp_queue_len(&p->queue) == 0 &&
	    lsn_handoff_send(env, p, c) == 0) {
		/* Web garden: like WAS, start another worker on a request
		 * while the pool has fewer than maxProcesses (asked once until
		 * one arrives). */
		if (p->rp && p->n_workers < p->rp->max_processes)
			lsn_channel_demand(env, p);
		return;
	}
	lsn_pool_enqueue(env, p, c);
}

/* Peek at the bytes, route, and hand off, queue or reject. */
void
lsn_conn_route(struct lsn_env *env, struct lsn_conn *c)
{
	struct wasp_peek_key key = { 0 };
	struct wasp_route_result res;
	struct lsn_table *t = env->table;
	enum wasp_peek_result pr;
	int r;

	pr = env->ops->peek(env->userdata, c->buf, c->len, c->len >= env->max_head, &key);
	c->peek_flags = key.flags;
	conn_note_request(c, &key);
	if (pr == WASP_PEEK_NEED_MORE) {
		if (c->len >= env->max_head) {
			lsn_conn_drop_event(c);
			lsn_conn_reject(env, c, 431, "request head too large");
			return;
		}
		lsn_conn_read(env, c);
		return;
	}
	lsn_conn_drop_event(c);
	lsn_conn_head_done(env, c);
	if (pr == WASP_PEEK_ERROR) {
		lsn_conn_reject(env, c, key.status ? key.status : 400, key.reason);
		return;
	}
	if (!t) {
		lsn_conn_reject(env, c, 503, "no routing table yet");
		return;
	}
	{
		const struct wasp_route_socket *rs = NULL;
		struct sockaddr_in6 local = { .sin6_family = AF_INET6 };

		if (!c->have_addrs) {
			lsn_conn_free(env, c);
			return;
		}
		memcpy(&local.sin6_addr, c->local, 16);
		local.sin6_port = htons(c->local_port);
		if (c->sock_id < t->rt->n_sockets && c->sock_gen == t->rt->generation)
			rs = &t->rt->sockets[c->sock_id];
		/* After a handback or a new generation: by the local address. */
		if (!rs)
			rs = wasp_route_find_socket(t->rt, (struct sockaddr *)&local, sizeof(local));
		r = rs ? wasp_route_lookup(rs, (struct sockaddr *)&local, key.host, key.host_len,
					   key.path, key.path_len, &res)
		       : -ENOENT;
	}
	conn_unroute(env, c);
	if (r == -ENOENT) {
		lsn_conn_reject(env, c, 400, "Invalid Hostname");
		return;
	}
	if (r == -ENAMETOOLONG) {
		lsn_conn_reject(env, c, 414, "request path too long to route");
		return;
	}
	if (r < 0) {
		lsn_conn_reject(env, c, 404, "no application");
		return;
	}
	conn_place(env, c, t, &res);
}

void
lsn_table_unref(struct lsn_table *t)
{
	if (!t || --t->refs > 0)
		return;
	wasp_route_table_free(t->rt);
	free(t->site_conns);
	free(t);
}

/* ---- process ------------------------------------------------------------- */

static void
on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct lsn_env *env = arg;

	log_info("SIGTERM: exiting");
	env->exit_status = 0;
	(void)event_base_loopexit(env->base, NULL);
}

static void
on_sigquit(evutil_socket_t sig, short what, void *arg)
{
	lsn_accept_quit(arg);
}

static void
on_stats(evutil_socket_t fd, short what, void *arg)
{
	lsn_channel_send_stats(arg);
	lsn_metrics_send(arg);
}

static int
parse_u32_arg(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint64_t v;

	if (wasp_parse_u64(s, max, &v) < 0 || v < min) {
		log_error("%s: '%s' is not a number in %u..%u", name, s, min, max);
		return -EINVAL;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* Every connection the listener holds is an fd, and fds also arrive on its
 * channels (a worker channel, a HANDBACK): if those hit RLIMIT_NOFILE the
 * kernel drops them (MSG_CTRUNC) and the channel is cut. So raise the soft
 * limit as far as needed and allowed, and keep max_conns under it with a
 * reserve, unless the operator set --max-connections (then only warn). */
static uint32_t
fit_fd_limit(uint32_t max_conns, bool explicit)
{
	struct rlimit rl;
	rlim_t need, reserve;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return max_conns;
	/* a TLS connection holds two (its TCP socket and the relay's end of
	 * its socketpair) */
	need = 2 * (rlim_t)max_conns + 256;
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = MIN(need, rl.rlim_max);
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return max_conns;
	reserve = MIN((rlim_t)256, rl.rlim_cur / 2);
	if (explicit) {
		log_warning("--max-connections %u with a descriptor limit of %llu: accepting will "
			    "pause when descriptors run out",
			    max_conns, (unsigned long long)rl.rlim_cur);
		return max_conns;
	}
	log_warning("descriptor limit %llu: holding at most %llu connections",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)(rl.rlim_cur - reserve));
	return (uint32_t)MAX(rl.rlim_cur - reserve, (rlim_t)1);
}

static void
env_done(struct lsn_env *env)
{
	struct lsn_pool *p;

	env->exiting = true;
	lsn_channel_done(env);
	while ((p = TAILQ_FIRST(&env->pools)))
		lsn_pool_free(env, p);
	for (uint32_t i = 0; i < env->n_slots; i++) {
		struct lsn_conn *c = env->slots[i];
		if (c->state != LSN_CONN_FREE)
			lsn_conn_free(env, c);
	}
	for (uint32_t i = 0; i < env->n_slots; i++) {
		free(env->slots[i]->buf);
		free(env->slots[i]);
	}
	free(env->slots);
	lsn_client_done(env);
	lsn_workers_done(env);
	free(env->pool_by_id);
	lsn_table_unref(env->table);
	free(env->scratch);
	lsn_httperr_close(&env->httperr);
	lsn_tls_done(env);
	env->ev_stats = wasp_event_free(env->ev_stats);
	env->ev_term = wasp_event_free(env->ev_term);
	env->ev_quit = wasp_event_free(env->ev_quit);
	env->ev_accept_resume = wasp_event_free(env->ev_accept_resume);
	env->base = wasp_event_base_free(env->base);
}

void
lsn_set_header_timeout(struct lsn_env *env, uint32_t ms)
{
	struct timeval tv = wasp_timeval_from_usec((uint64_t)ms * 1000);
	const struct timeval *ct;

	if (ms == 0 || ms == env->header_timeout_ms)
		return;
	/* libevent keeps at most 256 common timeouts per base; past that (many
	 * reloads changing it) a plain timeout does the same, a little slower */
	env->header_timeout = tv;
	ct = event_base_init_common_timeout(env->base, &env->header_timeout);
	if (ct)
		env->header_timeout = *ct;
	env->header_timeout_usec = (uint64_t)ms * 1000;
	env->header_timeout_ms = ms;
	log_debug("header timeout %u ms", ms);
}

struct lsn_args {
	uint32_t max_conns;
	bool max_conns_set;
	uint32_t header_ms;
	uint32_t chan_fd;
};

/* WASP_CHANNEL_FD and the command line into *a. Returns 0 to run, 1 when
 * --help was answered, -EINVAL on a bad argument (reported). */
static int
parse_args(const struct wasp_listener_ops *ops, int argc, char **argv, struct lsn_args *a)
{
	static const struct option options[] = {
		{ "max-connections", required_argument, NULL, 'm' },
		{ "header-timeout", required_argument, NULL, 't' },
		{ "channel-fd", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *e;
	int o;

	if ((e = getenv("WASP_CHANNEL_FD")) && parse_u32_arg("WASP_CHANNEL_FD", e, 0, 65535,
							     &a->chan_fd) < 0)
		return -EINVAL;
	while ((o = getopt_long(argc, argv, "m:t:f:h", options, NULL)) >= 0) {
		switch (o) {
		case 'm':
			if (parse_u32_arg("--max-connections", optarg, 1, LSN_CONN_MAX,
					  &a->max_conns) < 0)
				return -EINVAL;
			a->max_conns_set = true;
			break;
		case 't':
			if (parse_u32_arg("--header-timeout", optarg, 1, 3600000, &a->header_ms) < 0)
				return -EINVAL;
			break;
		case 'f':
			if (parse_u32_arg("--channel-fd", optarg, 0, 65535, &a->chan_fd) < 0)
				return -EINVAL;
			break;
		case 'h':
			printf("%s [--max-connections N] [--header-timeout MS] [--channel-fd FD]\n"
			       "A wasp protocol adapter (%s); started by waspd.\n",
			       argv[0], ops->name);
			return 1;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

int
wasp_listener_main(const struct wasp_listener_ops *ops, void *userdata, int argc, char **argv)
{
	struct lsn_env env = { .ops = ops, .userdata = userdata, .exit_status = 1,
			       .httperr = { .dfd = -1, .fd = -1 } };
	struct lsn_args args = {
		.max_conns = WASP_LISTENER_MAX_CONNECTIONS,
		.header_ms = ops->header_timeout_ms ? ops->header_timeout_ms
						    : WASP_LISTENER_HEADER_TIMEOUT_MS,
		.chan_fd = 3,
	};
	uint32_t max_conns, header_ms, chan_fd;
	struct event_config *cfg;
	struct timeval tv;
	int o;

	if ((o = wasp_nodump_from_env()) < 0) {
		(void)fprintf(stderr, "PR_SET_DUMPABLE: %s\n", strerror(-o));
		return 1;
	}
	wasp_log_init(argv[0] && strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : "wasp-listener",
		      LOG_INFO);
	o = parse_args(ops, argc, argv, &args);
	if (o != 0)
		return o < 0 ? 1 : 0;
	max_conns = args.max_conns;
	header_ms = args.header_ms;
	chan_fd = args.chan_fd;
	(void)signal(SIGPIPE, SIG_IGN);
	max_conns = fit_fd_limit(max_conns, args.max_conns_set);
	env.max_head = ops->max_head ? ops->max_head : WASP_LISTENER_MAX_HEAD;
	env.max_conns = max_conns;
	TAILQ_INIT(&env.pools);
	TAILQ_INIT(&env.free_conns);
	TAILQ_INIT(&env.reading);
	env.slots = calloc(max_conns, sizeof(*env.slots));
	env.scratch = malloc(WASP_IPC_MAX_PAYLOAD);
	cfg = event_config_new();
	if (cfg) {
		(void)event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
		env.base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	if (!env.slots || !env.scratch || !env.base || lsn_client_init(&env) < 0) {
		log_error("out of memory");
		goto out;
	}
	lsn_httperr_start(&env);
	env.header_timeout_default_ms = header_ms;
	lsn_set_header_timeout(&env, header_ms);
	env.ev_term = evsignal_new(env.base, SIGTERM, on_sigterm, &env);
	env.ev_quit = evsignal_new(env.base, SIGQUIT, on_sigquit, &env);
	env.ev_stats = event_new(env.base, -1, EV_PERSIST, on_stats, &env);
	tv = (struct timeval){ .tv_sec = WASP_LISTENER_STATS_INTERVAL_MS / 1000,
			       .tv_usec = (WASP_LISTENER_STATS_INTERVAL_MS % 1000) * 1000 };
	if (!env.ev_term || !env.ev_quit || !env.ev_stats || event_add(env.ev_term, NULL) < 0 ||
	    event_add(env.ev_quit, NULL) < 0 ||
	    event_add(env.ev_stats, &tv) < 0 || lsn_accept_init(&env) < 0) {
		log_error("out of memory");
		goto out;
	}
	if (fcntl((int)chan_fd, F_GETFD) < 0) {
		log_error("no activator channel on fd %u: %s is started by waspd", chan_fd,
			  argv[0]);
		goto out;
	}
	(void)fcntl((int)chan_fd, F_SETFD, FD_CLOEXEC);
	if (lsn_channel_start(&env, (int)chan_fd) < 0)
		goto out;
	log_debug("%s adapter started (max %u connections, header timeout %u ms)", ops->name,
		  max_conns, header_ms);
	env.exit_status = 0;
	if (event_base_dispatch(env.base) < 0) {
		log_error("event loop failed");
		env.exit_status = 1;
	}
out:
	env_done(&env);
	return env.exit_status;
}
