/* The request body: read on demand by a module (wasp_request_read_body,
 * wasp_request_wait_body, with 100 Continue sent when first asked), limited
 * (wasp_request_set_body_limit), and otherwise discarded: before the
 * response when it is worth reading (so a broken or oversized body is
 * answered as if read up front), or after it. */
#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "util.h"

void
body_start(struct conn *c, const struct wasp_http_request *h)
{
	c->body_open = false;
	c->body_err = 0;
	c->body_read = c->body_left = c->body_limit = 0;
	c->pend_len = 0;
	c->body_wait_fn = NULL;
	c->continue_sent = !h->expect_continue;
	if (h->chunked) {
		/* a declared chunk over the limit fails at once (413); a module
		 * can set its own limit (wasp_request_set_body_limit) */
		struct wasp_http_limits lim = c->env->limits;
		lim.body = WORKER_MAX_DISCARD_BODY;
		wasp_http_chunked_init(&c->chunked, &lim);
		c->body_chunked = true;
		c->body_open = true;
	} else if (h->has_content_length && h->content_length > 0) {
		c->body_chunked = false;
		c->body_left = h->content_length;
		c->body_open = true;
	}
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

/* Drop what is buffered of the body (also after the response). 1 when it
 * is all in, 0 when more is needed, -errno (-EMSGSIZE over our cap). */
int
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
bool
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
int
drain_body(struct conn *c)
{
	int r = body_discard(c);

	if (r == -EMSGSIZE) /* over our cap: what the response says now */
		c->body_err = r;
	return r;
}


bool
drain_failed(struct conn *c, int r)
{
	struct wasp_request *req = &c->req;
	unsigned st = c->chunked.err_status;

	if (r != -EMSGSIZE && r != -EBADMSG) {
		log_debug_errno(r, "discard request body");
		return false;
	}
	if (r == -EBADMSG)
		request_replace_with_error(req, st ? st : 400, 0);
	else if (c->body_limit_status && c->body_limit && c->body_limit <= WORKER_MAX_DISCARD_BODY)
		/* a module's limit, under ours, was crossed */
		request_replace_with_error(req, c->body_limit_status, c->body_limit_substatus);
	else
		request_replace_with_error(req, 413, 0);
	c->linger = true;
	return true;
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
