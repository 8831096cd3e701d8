/* Switching protocols (wasp_response_upgrade): after a 101 the client's
 * connection becomes a module's (a WebSocket tunnel). The connection stays
 * in the worker's list, so a draining worker waits for it, but the state
 * machine stops: no events, no deadline of ours; the module reads and
 * writes the socket and ends it with wasp_tunnel_close() (conn.c, which
 * frees connections). */
#include <errno.h>
#include <event2/event.h>
#include <string.h>

#include "arena.h"
#include "conn.h"
#include "util.h"

void
tunnel_notify_gone(struct conn *c)
{
	void (*fn)(struct wasp_tunnel *t, void *userdata) = c->tun_fn;

	c->tun_fn = NULL;
	if (fn)
		fn(NULL, c->tun_ud);
}

void
tunnel_prepare(struct conn *c)
{
	struct wasp_request *req = &c->req;

	if (c->tun_fn && (req->status != 101 || c->close_after || !req->http ||
			  req->http->version != WASP_HTTP_1_1)) {
		req->upgrade = NULL; /* not switching after all */
		tunnel_notify_gone(c);
	}
	if (req->upgrade && req->status == 101)
		req->keep_alive = true; /* "Connection: Upgrade", never close */
}

bool
tunnel_take(struct conn *c)
{
	void (*fn)(struct wasp_tunnel *t, void *userdata) = c->tun_fn;

	if (!fn)
		return false;
	if (c->close_after || c->state != CS_IDLE) { /* a body was left: no switch */
		tunnel_notify_gone(c);
		return false;
	}
	c->state = CS_TUNNEL;
	if (c->ev_added)
		(void)event_del(&c->ev);
	c->ev_added = false;
	if (c->timer_at)
		(void)event_del(&c->timer);
	c->timer_at = 0;
	c->deadline = UINT64_MAX;
	c->xfer = XFER_NONE;
	fn((struct wasp_tunnel *)c, c->tun_ud); /* tun_fn stays: told if the worker ends it */
	return true;
}

/* ---- the module API ---- */

int
wasp_response_upgrade(struct wasp_request *req, const char *protocol,
		      void (*fn)(struct wasp_tunnel *t, void *userdata), void *userdata)
{
	struct conn *c = req->conn;

	if (!c || !fn || c->tun_fn || !req->http || req->http->version != WASP_HTTP_1_1 ||
	    !protocol || !*protocol)
		return -EINVAL;
	for (const char *p = protocol; *p; p++) /* a token (with a "/version") */
		if (*p <= ' ' || *p >= 127 || strchr("\"(),:;<=>?@[\\]{}", *p))
			return -EINVAL;
	req->upgrade = wasp_arena_strdup(req->arena, protocol);
	if (!req->upgrade)
		return -ENOMEM;
	req->status = 101;
	req->substatus = 0;
	c->tun_fn = fn;
	c->tun_ud = userdata;
	return 0;
}

int
wasp_tunnel_fd(const struct wasp_tunnel *t)
{
	return ((const struct conn *)t)->fd;
}

const void *
wasp_tunnel_input(const struct wasp_tunnel *t, size_t *ret_len)
{
	const struct conn *c = (const struct conn *)t;

	*ret_len = c->in ? c->in_end - c->in_start : 0;
	return c->in ? c->in + c->in_start : NULL;
}
