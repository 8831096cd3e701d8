/* The proxy engine (proxy.h). One forwarded request:
 *
 *   a connection: an idle pooled one (reused) or a new one to
 *   127.0.0.1:port; the request head (built once, kept for the one retry);
 *   the body as the client sends it, only when the backend took what went
 *   before (so the backend's pace reaches the client); meanwhile the
 *   response: its head (PROXY_HEAD_MAX, 1xx heads skipped), then its body
 *   (Content-Length, chunked, or to the end of the connection) given to the
 *   client's stream, read only when the stream took the previous bytes.
 *
 * Before the response head: failures answer 502.3 (IIS's "Bad Gateway:
 * forwarder connection error"). After it: the client's connection is cut,
 * never a complete-looking response. A connection goes back to the pool
 * only when both messages ended on their framing and the backend did not
 * say Connection: close.
 *
 * The connections and their pool are in proxy_pool.c, the request head in
 * proxy_request.c, the response's head and body framing read in
 * proxy_response.c (proxy_int.h holds what they share). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "later.h"
#include "log.h"
#include "proxy_int.h"
#include "tunnel.h"
#include "util.h"
#include "worker.h"

/* ---- events ---- */

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void
timer_arm(struct preq *q)
{
	uint64_t now, at, d;
	struct timeval tv;

	if (q->done)
		return;
	if (!q->timer_set) {
		evtimer_assign(&q->timer, q->pool->base, on_timer, q);
		q->timer_set = true;
	}
	if (q->paused) { /* the client is the slow one: no backend deadline */
		(void)evtimer_del(&q->timer);
		return;
	}
	/* armed: it fires at the older deadline and on_timer() arms it again
	 * from last_activity (not moved on every event of the request) */
	if (evtimer_pending(&q->timer, NULL))
		return;
	now = wasp_now_usec();
	at = q->last_activity + q->timeout_usec;
	d = at > now ? at - now : 0;
	tv = (struct timeval){ .tv_sec = (time_t)(d / 1000000), .tv_usec = (suseconds_t)(d % 1000000) };
	(void)evtimer_add(&q->timer, &tv);
}

static void
detach(struct preq *q, bool reusable)
{
	if (q->c)
		proxy_conn_release(q->c, reusable);
	q->c = NULL;
}

static void
finish(struct preq *q, bool reusable)
{
	if (q->done)
		return;
	q->done = true;
	if (q->timer_set)
		(void)event_del(&q->timer);
	detach(q, reusable);
}

static void
preq_cleanup(void *p)
{
	struct preq *q = p;

	finish(q, false);
}

static void
preq_fail(struct preq *q, unsigned status, unsigned substatus, const char *why)
{
	struct wasp_request *req = q->req;

	wasp_log(WASP_LOG_ERR, "proxy to %s: %s (%s %s)", q->pool->name, why,
		 wasp_request_method(req), wasp_request_path(req));
	finish(q, false);
	if (q->streaming) {
		wasp_response_stream_abort(req);
		return;
	}
	wasp_response_clear_body(req);
	req->n_headers = 0;
	wasp_response_set_status(req, status, substatus);
	wasp_request_set_error_detail(req, why);
	worker_later_resume(q->later, WASP_DONE);
}

/* A new connection and the head again: the reused one was closed by the
 * backend while idle and nothing of the body went. true when it did. */
static bool
preq_retry(struct preq *q)
{
	bool reused;

	if (!q->reused || q->answered || q->body_taken || q->retried)
		return false;
	q->retried = true;
	wasp_log(WASP_LOG_DEBUG, "proxy: a kept connection to %s was closed, retrying "
		 "on a new one", q->pool->name);
	detach(q, false);
	q->write_failed = false;
	if (proxy_conn_get(q->pool, true, &q->c, &reused) < 0) {
		q->c = NULL;
		return false;
	}
	q->reused = false;
	q->sent = false;
	q->out = (const uint8_t *)q->head;
	q->out_off = 0;
	q->out_len = q->head_len;
	proxy_conn_own(q->c, q);
	return true;
}

/* The connection failed before a byte of the request went: another
 * backend (ARR's farm), when the caller has one. true when it does. */
static bool
preq_failover(struct preq *q)
{
	struct proxy_pool *next;

	if (!q->o.failover || q->sent || q->answered || q->body_taken ||
	    q->failovers >= q->o.max_failovers)
		return false;
	q->failovers++;
	next = q->o.failover(q->o.failover_userdata, q->pool);
	if (!next)
		return false;
	wasp_log(WASP_LOG_WARNING, "proxy: %s cannot be reached, trying %s", q->pool->name,
		 next->name);
	detach(q, false);
	q->pool = next;
	q->write_failed = false;
	q->retried = false;
	if (proxy_conn_get(next, false, &q->c, &q->reused) < 0) {
		q->c = NULL;
		return preq_failover(q);
	}
	q->out = (const uint8_t *)q->head;
	q->out_off = 0;
	q->out_len = q->head_len;
	q->head_out = false;
	proxy_conn_own(q->c, q);
	return true;
}

/* ---- the response ---- */

/* Bytes of the head from in: 1 when a final head is applied, 0 more
 * needed, -errno. */
static int
head_feed(struct preq *q)
{
	for (;;) {
		size_t avail = q->in_len - q->in_off, n, start;
		char *e;
		int r;

		if (avail == 0)
			return 0;
		if (q->rhead_len == 0 && avail <= q->head_max &&
		    (e = memmem(q->in + q->in_off, avail, "\r\n\r\n", 4))) {
			/* the whole head in one read: parsed where it is */
			char *saved = q->rhead;

			q->rhead = (char *)q->in + q->in_off;
			q->rhead_len = (size_t)(e + 4 - q->rhead);
			q->in_off += q->rhead_len;
			r = proxy_head_apply(q);
			q->rhead = saved;
			q->rhead_len = 0;
			if (r != 0)
				return r;
			continue;
		}
		if (!q->rhead && !(q->rhead = wasp_request_alloc(q->req, q->head_max + 1)))
			return -ENOMEM;
		n = MIN(avail, q->head_max - q->rhead_len);
		if (n == 0)
			return -E2BIG;
		start = q->rhead_len > 3 ? q->rhead_len - 3 : 0;
		memcpy(q->rhead + q->rhead_len, q->in + q->in_off, n);
		e = memmem(q->rhead + start, q->rhead_len + n - start, "\r\n\r\n", 4);
		if (!e) {
			q->rhead_len += n;
			q->in_off += n;
			if (q->rhead_len >= q->head_max)
				return -E2BIG;
			continue;
		}
		n = (size_t)(e + 4 - (q->rhead + q->rhead_len)); /* of this piece */
		q->rhead_len += n;
		q->in_off += n;
		r = proxy_head_apply(q);
		if (r != 0)
			return r;
		q->rhead_len = 0; /* a 1xx: the next head */
	}
}

/* The response body is whole: give the connection back when clean. */
static void
body_end(struct preq *q)
{
	bool reusable = !q->close_after && q->body_done && !q->write_failed &&
			q->in_off == q->in_len;
	struct wasp_request *req = q->req;
	bool streaming = q->streaming;

	finish(q, reusable);
	if (streaming)
		(void)wasp_response_stream_end(req);
}

/* Give body bytes to the client's stream. true when all went. */
static bool
flush_pend(struct preq *q)
{
	while (q->pend_len > 0) {
		ssize_t n = wasp_response_stream_write(q->req, q->pend, q->pend_len);

		if (n == -EAGAIN) {
			q->paused = true;
			return false;
		}
		if (n < 0) {
			/* the client went away, or a module replaced the body */
			wasp_log(WASP_LOG_DEBUG, "proxy: the response is not wanted any more");
			finish(q, false);
			return false;
		}
		q->pend += n;
		q->pend_len -= (size_t)n;
	}
	return true;
}

/* The backend switched protocols: its connection (and what it sent after
 * the 101) goes to a tunnel that the client's connection joins once the
 * 101 is out. */
static void
switch_to_tunnel(struct preq *q)
{
	struct pconn *c = q->c;
	struct proxy_pool *p = c->pool;
	struct ptunnel *t;
	int r;

	(void)event_del(&c->ev);
	q->c = NULL;
	proxy_conn_unbusy(p);
	t = ptunnel_new(p->base, c->fd, q->in + q->in_off, q->in_len - q->in_off);
	free(c);
	proxy_pool_maybe_free(p);
	finish(q, false);
	r = t ? wasp_response_upgrade(q->req, q->upgrade, ptunnel_on_switch, t) : -ENOMEM;
	if (r < 0) {
		if (t)
			ptunnel_on_switch(NULL, t);
		wasp_log(WASP_LOG_ERR, "proxy: cannot switch protocols: %s", strerror(-r));
		q->req->n_headers = 0;
		wasp_response_set_status(q->req, 502, 3);
	}
}

void
proxy_on_writable(struct wasp_request *req, void *userdata)
{
	struct preq *q = userdata;

	if (q->done)
		return;
	q->paused = false;
	q->last_activity = wasp_now_usec();
	proxy_pump(q);
}

static void
read_backend(struct preq *q)
{
	for (;;) {
		ssize_t n;
		int r;

		if (q->pend_len && !flush_pend(q))
			return;
		if (q->done)
			return;
		if (q->head_done && q->switched) {
			switch_to_tunnel(q);
			return;
		}
		if (q->head_done) {
			if (!proxy_body_take(q)) {
				preq_fail(q, 502, 3, "a malformed chunked response body");
				return;
			}
			if (q->pend_len)
				continue;
			if (proxy_body_complete(q)) {
				body_end(q);
				return;
			}
		} else if (q->in_off < q->in_len) {
			r = head_feed(q);
			if (r < 0) {
				preq_fail(q, 502, q->o.substatus,
					  r == -E2BIG     ? "a response head over the limit"
					  : r == -ENOMEM  ? "out of memory"
					  : r == -EPROTO ? "a 101 response to a request that asked no upgrade"
							 : "a malformed response head");
				return;
			}
			if (r > 0) {
				q->head_done = true;
				worker_later_resume(q->later, WASP_DONE);
			}
			continue;
		}
		if (q->paused || q->c->drained)
			return;
		q->in_off = q->in_len = 0;
		n = read(q->c->fd, q->in, PROXY_IN_BUF);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			q->c->drained = errno == EAGAIN;
			return;
		}
		if (n <= 0) {
			if (n < 0)
				wasp_log(WASP_LOG_DEBUG, "proxy: read: %s", strerror(errno));
			if (preq_retry(q) || preq_failover(q)) {
				proxy_pump(q);
				return;
			}
			if (q->head_done && q->framing == BODY_CLOSE && n == 0) {
				body_end(q);
				return;
			}
			preq_fail(q, 502, q->o.substatus,
				  q->head_done ? "the backend closed the connection mid-response"
					       : n == 0 ? "the backend closed the connection"
							: "the connection to the backend failed");
			return;
		}
		q->answered = true;
		q->in_len = (size_t)n;
		q->last_activity = wasp_now_usec();
	}
}

/* ---- the request body ---- */

static void
on_body(struct wasp_request *req, void *userdata)
{
	struct preq *q = userdata;

	q->body_wait = false;
	if (!q->done)
		proxy_pump(q);
}

/* The next piece of the client's body into out (chunk-framed when its
 * length is unknown). */
static void
next_body(struct preq *q)
{
	size_t pre = q->chunked_in ? 10 : 0;
	ssize_t n;

	if (q->body_done || q->body_wait || q->write_failed || q->out_len > q->out_off)
		return;
	if (!q->body && !(q->body = wasp_request_alloc(q->req, PROXY_BODY_CHUNK + 16))) {
		preq_fail(q, 500, 0, "out of memory");
		return;
	}
	n = wasp_request_read_body(q->req, q->body + pre, PROXY_BODY_CHUNK);
	if (n == -EAGAIN) {
		if (wasp_request_wait_body(q->req, on_body, q) == 0)
			q->body_wait = true;
		return;
	}
	if (n < 0) {
		unsigned st = wasp_response_status(q->req);
		preq_fail(q, st >= 400 ? st : 502, st >= 400 ? wasp_response_substatus(q->req) : 3,
			  "the request body could not be read");
		return;
	}
	if (n > 0)
		q->body_taken = true;
	else
		q->body_done = true;
	if (!q->chunked_in) {
		q->out = q->body;
		q->out_off = 0;
		q->out_len = (size_t)n;
		return;
	}
	if (n == 0) {
		memcpy(q->body, "0\r\n\r\n", 5);
		q->out = q->body;
		q->out_off = 0;
		q->out_len = 5;
		return;
	}
	/* "%8zx\r\n" ends right before the data */
	char hex[16];
	int hl = snprintf(hex, sizeof(hex), "%zx\r\n", (size_t)n);
	memcpy(q->body + pre - (size_t)hl, hex, (size_t)hl);
	memcpy(q->body + pre + (size_t)n, "\r\n", 2);
	q->out = q->body + pre - (size_t)hl;
	q->out_off = 0;
	q->out_len = (size_t)hl + (size_t)n + 2;
}

static void
write_backend(struct preq *q)
{
	for (;;) {
		ssize_t n;

		if (q->head_out)
			next_body(q);
		if (q->done || q->write_failed || q->out_off >= q->out_len)
			return;
		n = send(q->c->fd, q->out + q->out_off, q->out_len - q->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			wasp_log(WASP_LOG_DEBUG, "proxy: write: %s", strerror(errno));
			if (preq_retry(q) || preq_failover(q))
				continue;
			/* the backend may answer without reading everything
			 * (a 413): what it says still counts, read on */
			q->write_failed = true;
			q->out_off = q->out_len = 0;
			return;
		}
		q->sent = true;
		q->out_off += (size_t)n;
		if (q->out_off == q->out_len) {
			q->out_off = q->out_len = 0;
			q->head_out = true;
		}
	}
}

void
proxy_pump(struct preq *q)
{
	if (!q->done)
		write_backend(q);
	if (!q->done)
		read_backend(q);
	if (!q->done)
		timer_arm(q);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct preq *q = arg;

	if (q->done || q->paused)
		return;
	if (wasp_now_usec() >= q->last_activity + q->timeout_usec) {
		preq_fail(q, 502, 3, "the backend did not answer in time");
		return;
	}
	timer_arm(q);
}

int
proxy_forward(struct wasp_request *req, struct proxy_pool *pool, const struct proxy_opts *o)
{
	struct preq *q = wasp_request_alloc(req, sizeof(*q));
	int r;

	if (!q)
		return -ENOMEM;
	*q = (struct preq){ .req = req, .pool = pool, .timeout_usec = o->timeout_usec, .o = *o,
			    .head_max = o->head_max ? o->head_max : PROXY_HEAD_MAX };
	if (!q->o.substatus)
		q->o.substatus = 3;
	q->o.add = NULL;
	q->o.n_add = 0;
	q->is_head = streq(wasp_request_method(req), "HEAD");
	q->in = wasp_request_alloc(req, PROXY_IN_BUF);
	q->later = worker_later_new(req);
	if (!q->in || !q->later || proxy_head_build(q, o) < 0 ||
	    wasp_request_on_cleanup(req, preq_cleanup, q) < 0)
		return -ENOMEM;
	q->last_activity = wasp_now_usec();
	r = proxy_conn_get(pool, false, &q->c, &q->reused);
	if (r < 0) {
		q->c = NULL;
		if (r != -EUSERS && preq_failover(q))
			return 0;
		preq_fail(q, 502, q->o.substatus,
			  r == -ECONNREFUSED ? "the backend refused the connection"
			  : r == -EUSERS     ? "too many connections to backends in use (PROXY_BUSY_MAX)"
					     : "cannot connect to the backend");
		return 0;
	}
	q->out = (const uint8_t *)q->head;
	q->out_len = q->head_len;
	proxy_conn_own(q->c, q);
	timer_arm(q);
	return 0;
}
