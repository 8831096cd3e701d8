/* Handoff channels: this worker's ends of the channels with protocol
 * adapters (one per adapter). HANDOFF brings a connection with the bytes the
 * adapter already read and its route; the worker takes it, and once the
 * HANDOFFs read on one wakeup are all taken acknowledges them in one
 * HANDOFF_ACK (when they say WASP_HANDOFF_F_ACK_MANY; else each at once) and
 * then serves them, so a connection is never served before it was
 * acknowledged; when draining it returns a connection unacknowledged with
 * HANDBACK.
 * HANDBACK also returns a keep-alive connection whose next request belongs
 * to another pool. A channel struct outlives its socket while connections
 * that came through it still refer to it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "ipc.h"
#include "libevent-util.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* Connections taken but not yet acknowledged, at most (a batch of more is
 * acknowledged in several messages). */
#define WCHAN_ACK_MAX 64

struct wchan {
	struct wchan *next, *prev; /* env->chans, while open */
	struct worker_env *env;
	struct wasp_ipc_channel *ch; /* NULL once closed */
	uint32_t adapter_id;
	unsigned refs; /* the list's (while open) + one per connection */
	/* taken in this read batch, to acknowledge and then serve */
	struct conn *pending[WCHAN_ACK_MAX];
	struct wasp_msg_conn_ref acks[WCHAN_ACK_MAX];
	uint32_t ack_seq; /* the first HANDOFF's seq */
	unsigned n_pending;
	/* acknowledged connections closed since the last WORKER_ROOM: sent
	 * in batches, at the stats tick, or after this pass of the loop when
	 * the room matters (wchan_release) */
	struct event *ev_room;
	uint32_t released;
	bool room_now; /* ev_room made active for this pass */
	bool refusing; /* refused a HANDOFF since the last WORKER_ROOM (logged once) */
};

void
wchan_ref(struct wchan *c)
{
	c->refs++;
}

void
wchan_unref(struct wchan *c)
{
	if (--c->refs == 0)
		free(c);
}

/* Close the connections taken but not acknowledged: the adapter, which
 * still holds them, routes them again when it sees the channel close. */
static void
wchan_discard_pending(struct wchan *c)
{
	unsigned n = c->n_pending;

	c->n_pending = 0;
	for (unsigned i = 0; i < n; i++)
		if (c->pending[i])
			conn_discard(c->pending[i]);
}

static void
wchan_close(struct wchan *c)
{
	struct worker_env *env = c->env;

	if (!c->ch)
		return;
	wchan_discard_pending(c);
	c->ev_room = wasp_event_free(c->ev_room);
	c->ev_room = NULL;
	c->ch = wasp_ipc_channel_free(c->ch);
	if (c->prev)
		c->prev->next = c->next;
	else
		env->chans = c->next;
	if (c->next)
		c->next->prev = c->prev;
	wchan_unref(c);
}

bool
wchan_open(const struct wchan *c)
{
	return c && c->ch;
}

static int
wchan_send_room(struct wchan *c)
{
	struct wasp_msg_worker_room room = { .capacity = c->env->conn_max,
					     .released = c->released };
	int r;

	r = wasp_send_worker_room(c->ch, 0, &room);
	if (r == 0) {
		c->released = 0;
		c->refusing = false;
	}
	return r;
}

static void
wchan_on_room(evutil_socket_t fd, short what, void *arg)
{
	struct wchan *c = arg;

	c->room_now = false;
	if (c->ch && (c->released > 0 || c->refusing))
		(void)wchan_send_room(c);
	if (c->ev_room)
		(void)event_del(c->ev_room); /* a pending delay, now moot */
}

void
wchan_release(struct wchan *c)
{
	struct worker_env *env = c->env;

	if (!c->ch || !c->ev_room)
		return;
	/* One WORKER_ROOM for WORKER_ROOM_BATCH closed connections, so a
	 * stream of short connections does not cost a message each (the rest
	 * goes with the next stats tick, wchan_flush_rooms); after this pass
	 * of the loop when the room matters: we refused a connection, or hold
	 * half our limit. No timer of its own: a wakeup costs more than the
	 * message it would save. */
	c->released++;
	if (c->room_now)
		return;
	if (c->refusing || (env->conn_max > 0 && env->n_conns * 2 >= env->conn_max) ||
	    c->released >= WORKER_ROOM_BATCH) {
		c->room_now = true;
		event_active(c->ev_room, EV_TIMEOUT, 1);
	}
}

void
wchan_flush_rooms(struct worker_env *env)
{
	for (struct wchan *c = env->chans; c; c = c->next)
		if (c->released > 0 && !c->room_now)
			(void)wchan_send_room(c);
}

/* Tell the adapter we did not take conn_id (it still holds the connection
 * and routes it again): at the connection limit, or its fd never reached us. */
static int
wchan_refuse(struct wchan *c, uint32_t conn_id, uint32_t seq, bool fd_lost)
{
	struct wasp_msg_conn_ref ref = { .conn_id = conn_id };

	if (!c->refusing) {
		log_warning("%s: refusing connections (%u held, limit %u)",
			    fd_lost ? "out of file descriptors" : "at the connection limit",
			    c->env->n_conns, c->env->conn_max);
		/* the adapter sends us nothing until our next WORKER_ROOM: one
		 * goes when a connection closes, and in any case after a while
		 * (descriptors that were short may be back without any) */
		if (!event_pending(c->ev_room, EV_TIMEOUT, NULL)) {
			struct timeval tv = { 0, WORKER_REFUSED_RETRY_USEC };
			(void)event_add(c->ev_room, &tv);
		}
	}
	c->refusing = true;
	return wasp_send_handoff_refused(c->ch, seq, &ref, 1);
}

int
wchan_handback(struct wchan *c, int fd, uint32_t conn_id, const void *data, size_t len,
	       uint32_t flags, const struct conn_tls *tls)
{
	struct wasp_msg_handback hb = { .conn_id = conn_id, .data_len = (uint32_t)len,
					.flags = flags };
	uint8_t buf[WASP_IPC_MAX_PAYLOAD];
	struct wasp_ipc_writer w;

	wasp_ipc_writer_init(&w, buf, sizeof(buf));
	wasp_ipc_put_bytes(&w, &hb, sizeof(hb));
	wasp_ipc_put_bytes(&w, data, len);
	/* a kTLS socket's facts go back with it: the listener has no copy */
	if (tls && tls->echo)
		wasp_ipc_put_bytes(&w, tls->echo, tls->echo_len);
	if (!c->ch || w.error) {
		safe_close(fd);
		return c->ch ? -EMSGSIZE : -ENOTCONN;
	}
	return wasp_ipc_channel_send(c->ch, WASP_MSG_HANDBACK, 0, w.buf, w.len, fd,
				     WASP_IPC_SEND_CLOSE_FD);
}

/* One HANDOFF_ACK for every connection taken in this batch, then serve them
 * in the order they came. 0, or -errno when the ACK could not be sent (they
 * are closed unserved: the channel is going, and the adapter routes them
 * again). */
static int
wchan_ack_pending(struct wchan *c)
{
	unsigned n = c->n_pending;
	int r;

	r = wasp_send_handoff_ack(c->ch, c->ack_seq, c->acks, n);
	if (r < 0) {
		wchan_discard_pending(c);
		return r;
	}
	c->n_pending = 0;
	/* the channel holds a reference of its own while open; serving may
	 * close it (a HANDBACK that fails), so keep it alive until the end */
	wchan_ref(c);
	for (unsigned i = 0; i < n; i++)
		if (c->pending[i])
			conn_start(c->pending[i]);
		else
			wchan_release(c); /* acknowledged, but closed already */
	wchan_unref(c);
	return 0;
}

/* A connection of another protocol than HTTP: for a stream handler,
 * acknowledged on its own (after what this batch took before it). */
static int
wchan_take_stream(struct wchan *c, uint32_t seq, const struct wasp_msg_handoff *ho, int fd,
		  const char *app_path, const char *proto, const void *data)
{
	struct wasp_msg_conn_ref ref = { .conn_id = ho->conn_id };
	struct wasp_stream *s;
	int r;

	if (c->n_pending > 0) {
		r = wchan_ack_pending(c);
		if (r < 0) {
			safe_close(fd);
			return r;
		}
	}
	r = streamconn_take(c->env, fd, c, ho->site_id, app_path, proto, data, ho->data_len, &s);
	if (r < 0) {
		/* acknowledged all the same, as an HTTP one (it is closed) */
		log_warning_errno(r, "take %s connection %u", proto, ho->conn_id);
		s = NULL;
	}
	r = wasp_send_handoff_ack(c->ch, seq, &ref, 1);
	if (r < 0) {
		if (s)
			streamconn_discard(s);
		return r;
	}
	if (s)
		streamconn_start(s);
	else
		wchan_release(c);
	return 0;
}

/* 16 bytes of address (IPv4 mapped) and a port as a sockaddr; len 0 for
 * none (all zero). */
static void
origin_addr(const uint8_t a[16], uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	static const uint8_t zero[16];
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	*len = 0;
	if (memcmp(a, zero, 16) == 0 && port == 0)
		return;
	if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a + 12, 4);
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return;
	}
	in6->sin6_family = AF_INET6;
	memcpy(&in6->sin6_addr, a, 16);
	in6->sin6_port = htons(port);
	*len = sizeof(*in6);
}

/* The HANDOFF's addresses and TLS facts: 0, -EBADMSG (malformed facts),
 * -ENOMEM. */
static int
handoff_origin(const struct wasp_msg_handoff *ho, const void *tls, struct conn_origin *o)
{
	int r = 0;

	origin_addr(ho->local_addr, ho->local_port, &o->local, &o->local_len);
	origin_addr(ho->peer_addr, ho->peer_port, &o->peer, &o->peer_len);
	if (ho->tls_mac_len && !ho->tls_len)
		return -EBADMSG;
	o->tls = ho->tls_len ? conn_tls_parse(tls, ho->tls_len, ho->tls_mac_len, &r) : NULL;
	return r;
}

static int
wchan_on_handoff(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct wchan *c = userdata;
	struct worker_env *env = c->env;
	struct wasp_msg_handoff ho;
	struct conn *conn;
	char app_path[WASP_APP_PATH_MAX + 1];
	char proto[WASP_PROTOCOL_NAME_MAX + 1];
	struct wasp_ipc_reader rd;
	const uint8_t *path, *pname, *tls, *data;
	struct conn_origin origin;
	int fd = msg->fd, r;

	/* the channel checked that the struct is there; what follows it is
	 * ours to check */
	wasp_ipc_reader_init(&rd, msg->payload, msg->len);
	memcpy(&ho, wasp_ipc_get_bytes(&rd, sizeof(ho)), sizeof(ho));
	path = wasp_ipc_get_bytes(&rd, ho.app_path_len);
	pname = wasp_ipc_get_bytes(&rd, ho.protocol_len);
	tls = wasp_ipc_get_bytes(&rd, ho.tls_len);
	(void)wasp_ipc_get_bytes(&rd, ho.tls_mac_len); /* follows tls */
	data = wasp_ipc_get_bytes(&rd, ho.data_len);
	if (!wasp_ipc_reader_done(&rd) || ho.app_path_len == 0 ||
	    ho.app_path_len > WASP_APP_PATH_MAX || memchr(path, '\0', ho.app_path_len) ||
	    ho.protocol_len > WASP_PROTOCOL_NAME_MAX ||
	    (ho.protocol_len && memchr(pname, '\0', ho.protocol_len))) {
		safe_close(fd);
		return log_errno(-EBADMSG, "malformed HANDOFF, closing the channel");
	}
	memcpy(app_path, path, ho.app_path_len);
	app_path[ho.app_path_len] = '\0';
	if (ho.protocol_len)
		memcpy(proto, pname, ho.protocol_len);
	proto[ho.protocol_len] = '\0';

	/* Out of descriptors (the fd was dropped on the way), or as many
	 * connections as we can hold with the descriptors left: refuse it, and
	 * keep the channel. */
	if (msg->fd_lost || (env->conn_max > 0 && env->n_conns >= env->conn_max)) {
		safe_close(fd);
		return wchan_refuse(c, ho.conn_id, msg->hdr.seq, msg->fd_lost);
	}

	if (env->draining || !env->ready) {
		/* not ours to take: back, unacknowledged, with its conn id */
		r = wchan_handback(c, fd, ho.conn_id, data, ho.data_len, 0, NULL);
		if (r < 0)
			log_warning_errno(r, "hand back connection %u", ho.conn_id);
		return 0;
	}
	if (proto[0] && !strcaseeq(proto, "http") && !strcaseeq(proto, "https"))
		return wchan_take_stream(c, msg->hdr.seq, &ho, fd, app_path, proto, data);
	r = handoff_origin(&ho, tls, &origin);
	if (r == -EBADMSG) {
		safe_close(fd);
		return log_errno(r, "malformed HANDOFF TLS facts, closing the channel");
	}
	/* An adapter that takes one ref per ACK gets each at once (what was
	 * batched before goes first, in order). */
	if (!(ho.flags & WASP_HANDOFF_F_ACK_MANY) && c->n_pending > 0) {
		r = wchan_ack_pending(c);
		if (r < 0) {
			safe_close(fd);
			return r;
		}
	}
	if (r == 0)
		r = conn_prepare(env, fd, c, ho.site_id, app_path, data, ho.data_len, &origin,
				 &conn);
	else
		safe_close(fd);
	if (r < 0) {
		/* acknowledged all the same: the adapter must not route again a
		 * connection that is closed now */
		log_warning_errno(r, "take connection %u", ho.conn_id);
		conn = NULL;
	}
	if (c->n_pending == 0)
		c->ack_seq = msg->hdr.seq;
	c->pending[c->n_pending] = conn;
	c->acks[c->n_pending++] = (struct wasp_msg_conn_ref){ .conn_id = ho.conn_id };
	if (!(ho.flags & WASP_HANDOFF_F_ACK_MANY) || c->n_pending == WCHAN_ACK_MAX)
		return wchan_ack_pending(c);
	return 0;
}

static void
wchan_on_read_done(struct wasp_ipc_channel *ch, void *userdata)
{
	struct wchan *c = userdata;

	if (c->n_pending > 0 && wchan_ack_pending(c) < 0)
		wchan_close(c);
}

static void
wchan_on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct wchan *c = userdata;

	struct worker_env *env = c->env;
	uint32_t adapter_id = c->adapter_id;

	wchan_close(c); /* may free c */
	if (err < 0 && !wasp_errno_is_disconnect(err)) {
		/* The adapter cannot hand us connections any more, and waspd,
		 * which pings us on another channel, would take us for healthy:
		 * tell it, so that it pairs us with the adapter again (or
		 * replaces us). EOF needs no word: the adapter is gone, and its
		 * successor gets a new channel. */
		struct wasp_msg_handoff_channel hc = { .adapter_id = adapter_id };

		log_warning_errno(err, "handoff channel of adapter %u broken", adapter_id);
		if (env->activator)
			(void)wasp_send_handoff_channel_lost(env->activator, 0, &hc);
		return;
	}
	log_debug("handoff channel of adapter %u closed", adapter_id);
}

static const struct wasp_ipc_handler wchan_handlers[] = {
	{ WASP_MSG_HANDOFF, wchan_on_handoff },
};

static const struct wasp_ipc_channel_ops wchan_ops = {
	.role = WASP_ROLE_WORKER,
	.peer_role = WASP_ROLE_ADAPTER,
	.handlers = wchan_handlers,
	.n_handlers = ELEMENTSOF(wchan_handlers),
	.on_close = wchan_on_close,
	.on_read_done = wchan_on_read_done,
	.fd_may_be_lost = true,
};

int
wchan_add(struct worker_env *env, int sock, uint32_t adapter_id)
{
	struct wchan *c = calloc(1, sizeof(*c));

	if (!c) {
		safe_close(sock);
		return -ENOMEM;
	}
	c->env = env;
	c->adapter_id = adapter_id;
	c->refs = 1;
	c->ev_room = event_new(env->base, -1, 0, wchan_on_room, c);
	if (!c->ev_room) {
		safe_close(sock);
		free(c);
		return -ENOMEM;
	}
	c->ch = wasp_ipc_channel_new(env->base, sock, &wchan_ops, c);
	if (!c->ch) {
		event_free(c->ev_room);
		free(c);
		return -ENOMEM;
	}
	/* the adapter learns how many connections we can hold */
	(void)wchan_send_room(c);
	c->next = env->chans;
	if (env->chans)
		env->chans->prev = c;
	env->chans = c;
	return 0;
}

size_t
wchan_queued(struct worker_env *env)
{
	size_t n = 0;

	for (struct wchan *c = env->chans; c; c = c->next)
		n += wasp_ipc_channel_queued(c->ch);
	return n;
}

void
wchan_close_all(struct worker_env *env)
{
	while (env->chans)
		wchan_close(env->chans);
}
