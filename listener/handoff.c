/* Worker channels: HANDOFF a connection (fd + site id + application path +
 * the bytes read) to the least busy worker of its pool in one message, keep
 * our copy of the fd until HANDOFF_ACK, route again what comes back with
 * HANDBACK, and what was not acknowledged when a channel closes. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "util.h"

static bool
worker_full(const struct lsn_worker *w)
{
	return w->full || (w->capacity > 0 && w->n_inflight + w->owned >= w->capacity);
}

bool
lsn_handoff_pool_full(struct lsn_pool *p)
{
	struct lsn_worker *w;

	if (p->n_workers == 0)
		return false;
	TAILQ_FOREACH(w, &p->workers, link)
		if (!w->gone && !worker_full(w))
			return false;
	return true;
}

static struct lsn_worker *
pick_worker(struct lsn_pool *p)
{
	struct lsn_worker *w, *best = NULL;
	uint64_t best_load = UINT64_MAX;

	TAILQ_FOREACH(w, &p->workers, link) {
		uint64_t load = w->n_inflight + w->owned;
		if (!w->gone && load < best_load && !worker_full(w)) {
			best = w;
			best_load = load;
		}
	}
	return best;
}

/* 0: the connection is taken care of (handed off, or rejected because it
 * cannot travel); -ENOENT: no usable worker, the caller queues it. */
int
lsn_handoff_send(struct lsn_env *env, struct lsn_pool *p, struct lsn_conn *c)
{
	struct wasp_msg_handoff h;
	struct wasp_ipc_writer wr;
	size_t plen = c->app->path_len;
	/* http is what a HANDOFF without a protocol means */
	const char *proto = strcaseeq(env->ops->name, "http") ? "" : env->ops->name;
	size_t protolen = strlen(proto);
	struct lsn_worker *w;

	if (c->relay || c->ktls) {
		proto = "https";
		protolen = 5;
	}
	h = (struct wasp_msg_handoff){
		.conn_id = c->id,
		.site_id = c->site->id,
		.app_path_len = (uint32_t)plen,
		.data_len = c->len,
		.generation = c->table->rt->generation,
		.flags = WASP_HANDOFF_F_ACK_MANY,
		.protocol_len = (uint32_t)protolen,
		.tls_len = c->relay ? (uint32_t)lsn_relay_info_len(c->relay)
				    : (uint32_t)lsn_ktls_facts_len(c->ktls),
		.tls_mac_len = c->ktls ? WASP_TLS_MAC_LEN : 0,
		.local_port = c->local_port,
		.peer_port = c->peer_port,
	};
	memcpy(h.local_addr, c->local, 16);
	memcpy(h.peer_addr, c->peer, 16);
	wasp_ipc_writer_init(&wr, env->scratch, WASP_IPC_MAX_PAYLOAD);
	wasp_ipc_put_bytes(&wr, &h, sizeof(h));
	wasp_ipc_put_bytes(&wr, c->app->path, plen);
	wasp_ipc_put_bytes(&wr, proto, protolen);
	if (c->relay)
		lsn_relay_put_info(c->relay, &wr);
	else if (c->ktls)
		lsn_ktls_put(c->ktls, &wr);
	wasp_ipc_put_bytes(&wr, c->buf, c->len);
	if (wr.error) {
		lsn_conn_reject(env, c, 431, "request too large to hand off");
		return 0;
	}

	while ((w = pick_worker(p))) {
		/* Not WASP_IPC_SEND_CLOSE_FD: we keep our copy until the ACK. */
		int r = wasp_ipc_channel_send(w->ch, WASP_MSG_HANDOFF, c->id, wr.buf, wr.len,
					      c->fd, 0);
		if (r == 0) {
			c->state = LSN_CONN_INFLIGHT;
			c->worker = w;
			TAILQ_INSERT_TAIL(&w->inflight, c, link);
			w->n_inflight++;
			env->stats.handed_off++;
			p->m.handoffs++;
			p->m_dirty = true;
			/* among equally loaded workers, the one chosen longest ago
			 * goes first: short connections spread over a web garden */
			if (TAILQ_NEXT(w, link)) {
				TAILQ_REMOVE(&p->workers, w, link);
				TAILQ_INSERT_TAIL(&p->workers, w, link);
			}
			return 0;
		}
		log_debug_errno(r, "handoff to worker %u (pid %u) failed", w->worker_id, w->pid);
		lsn_handoff_worker_gone(env, w);
	}
	return lsn_handoff_pool_full(p) ? -EBUSY : -ENOENT;
}

struct lsn_worker *
lsn_handoff_find_worker(struct lsn_env *env, uint32_t worker_id)
{
	return lsn_workers_find(env, worker_id);
}

void
lsn_handoff_worker_gone(struct lsn_env *env, struct lsn_worker *w)
{
	if (w->gone)
		return;
	w->gone = true;
	w->pool->n_workers--;
	log_debug("worker %u (pid %u) of '%s': no new connections", w->worker_id, w->pid,
		  w->pool->name);
}

/* Take c out of w's in-flight list (it stays READING, routed). */
static void
inflight_remove(struct lsn_worker *w, struct lsn_conn *c)
{
	TAILQ_REMOVE(&w->inflight, c, link);
	w->n_inflight--;
	c->worker = NULL;
	c->state = LSN_CONN_READING;
}

void
lsn_handoff_worker_free(struct lsn_env *env, struct lsn_worker *w)
{
	struct lsn_conn_list again = TAILQ_HEAD_INITIALIZER(again);
	struct lsn_conn *c;
	unsigned n = 0;

	lsn_handoff_worker_gone(env, w);
	while ((c = TAILQ_FIRST(&w->inflight))) {
		inflight_remove(w, c);
		TAILQ_INSERT_TAIL(&again, c, link);
		n++;
	}
	TAILQ_REMOVE(&w->pool->workers, w, link);
	lsn_workers_remove(env, w);
	w->ch = wasp_ipc_channel_free(w->ch);
	/* what it held went with it */
	env->n_owned -= MIN(w->owned, env->n_owned);
	free(w);
	lsn_accept_check(env);
	if (n > 0 && !env->exiting)
		log_info("%u connection(s) not acknowledged by a closed worker: routing them again",
			 n);
	while ((c = TAILQ_FIRST(&again))) {
		TAILQ_REMOVE(&again, c, link);
		if (env->exiting)
			lsn_conn_free(env, c);
		else
			lsn_conn_route(env, c);
	}
}

static void
worker_on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct lsn_worker *w = userdata;
	struct lsn_pool *p = w->pool;

	if (err < 0)
		log_warning_errno(err, "handoff channel of worker %u (pid %u) failed", w->worker_id,
				  w->pid);
	else
		log_debug("handoff channel of worker %u (pid %u) closed", w->worker_id, w->pid);
	lsn_handoff_worker_free(p->env, w);
	/* A pool removed by a new generation goes with its last worker. */
	if (p->id == UINT32_MAX && TAILQ_EMPTY(&p->workers) && wasp_queue_len(&p->queue) == 0)
		lsn_pool_free(p->env, p);
}

/* HANDOFF_ACK: one or more connection refs (a worker acknowledges what it
 * took on one wakeup in one message). */
static int
worker_on_ack(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_worker *w = userdata;
	struct lsn_env *env = w->pool->env;

	for (size_t off = 0; off < msg->len; off += sizeof(struct wasp_msg_conn_ref)) {
		struct wasp_msg_conn_ref ref;
		struct lsn_conn *c;

		memcpy(&ref, msg->payload + off, sizeof(ref));
		c = lsn_conn_by_id(env, ref.conn_id);
		if (!c || c->state != LSN_CONN_INFLIGHT || c->worker != w) {
			log_debug("worker %u acknowledged unknown connection %u, ignoring",
				  w->worker_id, ref.conn_id);
			continue;
		}
		inflight_remove(w, c);
		w->owned++;
		env->n_owned++;
		lsn_conn_free(env, c); /* closes our copy: the worker has its own */
	}
	return 0;
}

/* HANDOFF_REFUSED: the worker could not take these (at its connection limit,
 * or out of descriptors); we still hold them: route them again, to a worker
 * with room, into the queue, or 503. */
static int
worker_on_refused(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_worker *w = userdata;
	struct lsn_env *env = w->pool->env;

	if (!w->full)
		log_info("worker %u (pid %u) of '%s' is full (%llu connections): refusing more",
			 w->worker_id, w->pid, w->pool->name, (unsigned long long)w->owned);
	w->full = true;
	for (size_t off = 0; off < msg->len; off += sizeof(struct wasp_msg_conn_ref)) {
		struct wasp_msg_conn_ref ref;
		struct lsn_conn *c;

		memcpy(&ref, msg->payload + off, sizeof(ref));
		c = lsn_conn_by_id(env, ref.conn_id);
		if (!c || c->state != LSN_CONN_INFLIGHT || c->worker != w)
			continue;
		inflight_remove(w, c);
		lsn_conn_route(env, c);
	}
	return 0;
}

/* WORKER_ROOM: the worker's connection limit and the connections it closed. */
static int
worker_on_room(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_worker *w = userdata;
	struct lsn_env *env = w->pool->env;
	struct wasp_msg_worker_room room;
	uint64_t n;

	memcpy(&room, msg->payload, sizeof(room));
	n = MIN((uint64_t)room.released, w->owned);
	w->owned -= n;
	env->n_owned -= MIN(n, env->n_owned);
	w->capacity = room.capacity;
	w->full = false;
	lsn_accept_check(env);
	if (!w->gone && wasp_queue_len(&w->pool->queue) > 0)
		lsn_pool_drain(env, w->pool);
	return 0;
}

/* A handed back socket that is not a relay's: a kTLS one comes with its
 * facts and their MAC, or is closed (c is then freed). */
static int
handback_ktls(struct lsn_worker *w, struct lsn_conn *c, const void *echo, size_t len)
{
	int r = lsn_ktls_handback(c, echo, len);

	if (r < 0) {
		log_warning_errno(r, "worker %u (pid %u) handed back a kTLS connection without its "
				  "TLS facts or with facts that do not match it: closed it",
				  w->worker_id, w->pid);
		lsn_conn_free(w->pool->env, c);
	}
	return r;
}

static int
worker_on_handback(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_worker *w = userdata;
	struct lsn_env *env = w->pool->env;
	struct wasp_msg_handback hb;
	struct wasp_ipc_reader rd;
	const uint8_t *data, *echo;
	struct lsn_conn *c = NULL;
	size_t echo_len;
	int fd = msg->fd;

	/* the channel checked that the struct is there; then data_len bytes,
	 * and what follows is a kTLS socket's facts echoed */
	wasp_ipc_reader_init(&rd, msg->payload, msg->len);
	memcpy(&hb, wasp_ipc_get_bytes(&rd, sizeof(hb)), sizeof(hb));
	data = wasp_ipc_get_bytes(&rd, hb.data_len);
	echo_len = rd.left;
	echo = wasp_ipc_get_bytes(&rd, echo_len);
	if (!wasp_ipc_reader_done(&rd)) {
		(void)safe_close(fd);
		log_warning("worker %u (pid %u): HANDBACK with a wrong length", w->worker_id,
			    w->pid);
		return -EBADMSG;
	}
	w->pool->m.handbacks++;
	w->pool->m_dirty = true;
	if (hb.conn_id != 0) {
		/* Not acknowledged: we still hold it. Take the worker's fd (the
		 * same connection) and bytes, drop our copy; keep ours when the
		 * worker's did not reach us (out of descriptors). */
		c = lsn_conn_by_id(env, hb.conn_id);
		if (c && c->state == LSN_CONN_INFLIGHT && c->worker == w) {
			inflight_remove(w, c);
			if (fd >= 0) {
				(void)safe_close(c->fd);
				c->fd = fd;
			}
		} else {
			c = NULL;
		}
	} else if (w->owned > 0) {
		w->owned--;
		env->n_owned -= MIN((uint64_t)1, env->n_owned);
		lsn_accept_check(env);
	}
	if (!c && fd < 0) {
		/* its fd was dropped on the way (we are out of descriptors): the
		 * connection is lost, the channel is not */
		log_warning("worker %u (pid %u): a handed back connection did not reach us (out "
			    "of descriptors): closed",
			    w->worker_id, w->pid);
		return 0;
	}
	if (!c) {
		struct lsn_relay *relay = lsn_relay_find(env, fd);

		c = lsn_conn_new(env, fd);
		if (!c) {
			log_warning("no room for a handed back connection: closed it");
			return 0;
		}
		if (relay)
			lsn_relay_attach(relay, c);
		else if (handback_ktls(w, c, echo, echo_len) < 0)
			return 0;
		/* a TLS connection's addresses are the relay's; a socket that
		 * is neither ours nor an IP connection is not served */
		if (!lsn_conn_set_addrs(c, NULL, 0)) {
			log_warning("worker %u (pid %u) handed back a connection that is not one: "
				    "closed it",
				    w->worker_id, w->pid);
			lsn_conn_free(env, c);
			return 0;
		}
	}
	if (hb.data_len > c->cap) {
		char *b = realloc(c->buf, hb.data_len);
		if (!b) {
			lsn_conn_free(env, c);
			return 0;
		}
		c->buf = b;
		c->cap = hb.data_len;
	}
	memcpy(c->buf, data, hb.data_len);
	c->len = hb.data_len;
	c->sock_id = UINT32_MAX;
	c->t_start = wasp_now_usec();
	log_debug("connection %u handed back by worker %u with %u bytes", c->id, w->worker_id,
		  c->len);
	/* a request that wants a client certificate: asked for first (a
	 * kTLS connection cannot be) */
	if (hb.flags & WASP_HANDBACK_F_CLIENT_CERT)
		lsn_ktls_cert_asked(c);
	if ((hb.flags & WASP_HANDBACK_F_CLIENT_CERT) && lsn_tls_want_client_cert(env, c))
		return 0;
	/* The bytes may hold a complete request already: route before reading. */
	lsn_conn_route(env, c);
	return 0;
}

static const struct wasp_ipc_handler worker_handlers[] = {
	{ WASP_MSG_HANDOFF_ACK, worker_on_ack },
	{ WASP_MSG_HANDBACK, worker_on_handback },
	{ WASP_MSG_HANDOFF_REFUSED, worker_on_refused },
	{ WASP_MSG_WORKER_ROOM, worker_on_room },
};

static const struct wasp_ipc_channel_ops worker_ops = {
	.role = WASP_ROLE_ADAPTER,
	.peer_role = WASP_ROLE_WORKER,
	.handlers = worker_handlers,
	.n_handlers = ELEMENTSOF(worker_handlers),
	.on_close = worker_on_close,
	.fd_may_be_lost = true, /* a HANDBACK's: worker_on_handback copes */
};

int
lsn_handoff_add_worker(struct lsn_env *env, struct lsn_pool *p,
		       const struct wasp_msg_worker_ref *ref, int fd)
{
	struct lsn_worker *w = lsn_handoff_find_worker(env, ref->worker_id);

	if (w) {
		/* a new channel after the worker lost the old one (waspd pairs
		 * them again): it replaces the old, whose unacknowledged
		 * connections are routed again */
		log_info("worker %u (pid %u): a new handoff channel", w->worker_id, w->pid);
		lsn_handoff_worker_free(env, w);
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		(void)safe_close(fd);
		return -ENOMEM;
	}
	w->worker_id = ref->worker_id;
	w->pid = ref->pid;
	w->pool = p;
	TAILQ_INIT(&w->inflight);
	w->ch = wasp_ipc_channel_new(env->base, fd, &worker_ops, w);
	if (!w->ch || lsn_workers_add(env, w) < 0) {
		w->ch = wasp_ipc_channel_free(w->ch);
		free(w);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&p->workers, w, link);
	p->n_workers++;
	p->demand_sent = false;
	log_debug("worker %u (pid %u) of '%s' ready", w->worker_id, w->pid, p->name);
	lsn_pool_drain(env, p);
	return 0;
}
