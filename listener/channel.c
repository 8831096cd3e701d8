/* The activator channel (fd 3): register the protocol, take listening
 * sockets and routing table generations, worker channels, pool states and
 * WORKER_GONE; ask for workers (POOL_DEMAND) and report ADAPTER_STATS.
 * The channel closing means waspd is gone: the adapter exits (the listening
 * sockets stay open in waspd, which starts a new adapter). */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "memfd.h"
#include "util.h"

#define ROUTE_TABLE_MAX (64u << 20)

static void
sockets_close(struct lsn_env *env)
{
	for (size_t i = 0; i < env->n_sockets; i++)
		lsn_accept_stop(&env->sockets[i]);
	free(env->sockets);
	env->sockets = NULL;
	env->n_sockets = 0;
}

static void
pending_drop(struct lsn_env *env, uint32_t keep_generation, bool keep)
{
	size_t j = 0;

	for (size_t i = 0; i < env->n_pending; i++) {
		if (keep && env->pending[i].generation == keep_generation)
			env->pending[j++] = env->pending[i];
		else
			(void)safe_close(env->pending[i].fd);
	}
	env->n_pending = j;
}

static int
act_on_listen_socket(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_env *env = userdata;
	struct wasp_msg_listen_socket ls;

	memcpy(&ls, msg->payload, sizeof(ls));
	if (env->n_pending == env->n_pending_alloc) {
		size_t n = env->n_pending_alloc ? env->n_pending_alloc * 2 : 8;
		struct lsn_pending_socket *a = realloc(env->pending, n * sizeof(*a));
		if (!a) {
			(void)safe_close(msg->fd);
			return log_errno(-ENOMEM, "listening socket %u", ls.socket_id);
		}
		env->pending = a;
		env->n_pending_alloc = n;
	}
	env->pending[env->n_pending++] = (struct lsn_pending_socket){
		.fd = msg->fd, .id = ls.socket_id, .generation = ls.generation };
	return 0;
}

/* Sockets that came with this generation replace the old ones (all of
 * them); a generation without LISTEN_SOCKETs keeps the sockets it has. */
static int
apply_sockets(struct lsn_env *env, const struct wasp_route_table *rt)
{
	struct lsn_socket *socks;
	size_t n = 0;

	for (size_t i = 0; i < env->n_pending; i++)
		if (env->pending[i].generation == rt->generation)
			n++;
	if (n == 0) {
		pending_drop(env, 0, false);
		return 0;
	}
	socks = calloc(rt->n_sockets ? rt->n_sockets : 1, sizeof(*socks));
	if (!socks)
		return -ENOMEM;
	for (size_t i = 0; i < rt->n_sockets; i++)
		socks[i] = (struct lsn_socket){ .fd = -1, .id = (uint32_t)i, .env = env };
	for (size_t i = 0; i < env->n_pending; i++) {
		struct lsn_pending_socket *ps = &env->pending[i];
		if (ps->generation != rt->generation)
			continue;
		if (ps->id >= rt->n_sockets || socks[ps->id].fd >= 0) {
			log_warning("listening socket %u is not in routing table %u, closing it",
				    ps->id, rt->generation);
			continue;
		}
		socks[ps->id].fd = ps->fd;
		socks[ps->id].tls = strcaseeq(rt->sockets[ps->id].protocol, "https");
		ps->fd = -1;
	}
	pending_drop(env, 0, false);
	sockets_close(env);
	env->sockets = socks;
	env->n_sockets = rt->n_sockets;
	for (size_t i = 0; i < env->n_sockets; i++) {
		if (socks[i].fd < 0)
			continue;
		if (lsn_accept_start(env, &socks[i]) < 0)
			return log_errno(-ENOMEM, "listening socket %zu", i);
	}
	return 0;
}

static int
pool_name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct lsn_pool *const *)a)->name, (*(struct lsn_pool *const *)b)->name);
}

/* The pools of the table by name: those the listener has (found through a
 * sorted array: thousands of pools, each looked up once), new ones made. */
static int
table_pools(struct lsn_env *env, const struct wasp_route_table *rt, struct lsn_pool **by_id)
{
	_cleanup_free_ struct lsn_pool **have = NULL;
	struct lsn_pool *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &env->pools, link)
		n++;
	have = calloc(n ? n : 1, sizeof(*have));
	if (!have)
		return -ENOMEM;
	n = 0;
	TAILQ_FOREACH(p, &env->pools, link)
		have[n++] = p;
	qsort(have, n, sizeof(*have), pool_name_cmp);
	for (size_t i = 0; i < rt->n_pools; i++) {
		struct lsn_pool key = { .name = (char *)(uintptr_t)rt->pools[i].name }, *k = &key;
		struct lsn_pool **f = n ? bsearch(&k, have, n, sizeof(*have), pool_name_cmp) : NULL;

		by_id[i] = f ? *f : lsn_pool_new(env, rt->pools[i].name);
		if (!by_id[i])
			return -ENOMEM;
	}
	return 0;
}

/* TLS set up with the first https socket; certificates the table names
 * loaded (again when changed). */
static void
apply_tls(struct lsn_env *env, const struct wasp_route_table *rt)
{
	bool any = false;

	for (size_t i = 0; i < env->n_sockets; i++)
		any |= env->sockets[i].tls;
	if (!env->tls && any) {
		int r = lsn_tls_init(env);
		if (r < 0) {
			log_errno(r, "TLS cannot be set up: https connections are closed");
			lsn_tls_done(env);
		}
	}
	lsn_tls_table_changed(env);
}

static int
apply_table(struct lsn_env *env, struct wasp_route_table *rt)
{
	struct lsn_table *t = calloc(1, sizeof(*t));
	struct lsn_pool **by_id = calloc(rt->n_pools ? rt->n_pools : 1, sizeof(*by_id));
	struct lsn_pool *p, *next;
	struct lsn_table *old;
	int r;

	if (t)
		t->site_conns = calloc(rt->n_sites ? rt->n_sites : 1, sizeof(*t->site_conns));
	if (!t || !by_id || !t->site_conns || table_pools(env, rt, by_id) < 0)
		goto oom;
	/* From here on nothing fails: switch atomically. */
	TAILQ_FOREACH(p, &env->pools, link) {
		p->id = UINT32_MAX;
		p->rp = NULL;
	}
	for (size_t i = 0; i < rt->n_pools; i++) {
		p = by_id[i];
		p->id = (uint32_t)i;
		p->rp = &rt->pools[i];
		wasp_queue_set_max(&p->queue, p->rp->queue_length);
	}
	t->rt = rt;
	t->refs = 1;
	old = env->table;
	env->table = t;
	free(env->pool_by_id);
	env->pool_by_id = by_id;
	env->n_pool_by_id = rt->n_pools;
	/* before the sockets: they take it for TCP_DEFER_ACCEPT */
	lsn_set_header_timeout(env, rt->header_wait_ms ? rt->header_wait_ms
						       : env->header_timeout_default_ms);
	env->max_per_client = rt->max_per_client;
	if ((r = apply_sockets(env, rt)) < 0)
		log_warning_errno(r, "routing table %u: sockets, ignoring", rt->generation);
	apply_tls(env, rt);
	log_debug("routing table %u: %zu sockets, %zu sites, %zu pools", rt->generation,
		  rt->n_sockets, rt->n_sites, rt->n_pools);

	for (p = TAILQ_FIRST(&env->pools); p; p = next) {
		next = TAILQ_NEXT(p, link);
		if (!p->rp) {
			/* Removed: its queue gets 503; it goes once its workers did. */
			lsn_pool_flush(env, p, 503, "application pool removed");
			if (TAILQ_EMPTY(&p->workers))
				lsn_pool_free(env, p);
			continue;
		}
		lsn_pool_set_state(env, p, p->rp->state, WASP_POOL_REASON_NONE);
		lsn_pool_rearm(env, p);
	}
	lsn_table_unref(old);
	return 0;
oom:
	if (t)
		free(t->site_conns);
	free(t);
	free(by_id);
	wasp_route_table_free(rt);
	return log_errno(-ENOMEM, "routing table");
}

static int
act_on_route_table(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_env *env = userdata;
	_cleanup_close_ int fd = msg->fd;
	_cleanup_free_ char *json = NULL;
	struct wasp_route_table *rt;
	uint32_t gen;
	char err[256];
	size_t len;
	int r;

	memcpy(&gen, msg->payload, sizeof(gen));
	r = wasp_memfd_read(fd, ROUTE_TABLE_MAX, &json, &len);
	if (r < 0) {
		log_errno(r, "routing table %u: cannot read it, keeping the previous one", gen);
		pending_drop(env, gen, false);
		return 0;
	}
	r = wasp_route_table_parse(json, len, env->ops->name, &rt, err, sizeof(err));
	if (r < 0) {
		log_error("routing table %u: %s; keeping the previous one", gen, err);
		pending_drop(env, gen, false);
		return 0;
	}
	if (rt->generation != gen)
		log_warning("routing table says generation %u, its message %u; using %u",
			    rt->generation, gen, gen);
	rt->generation = gen;
	(void)apply_table(env, rt);
	return 0;
}

static struct lsn_pool *
pool_of_ref(struct lsn_env *env, uint32_t pool_id, uint32_t generation, const char *what)
{
	if (!env->table || pool_id >= env->n_pool_by_id) {
		log_warning("%s for unknown application pool %u (generation %u), ignoring", what,
			    pool_id, generation);
		return NULL;
	}
	if (generation != env->table->rt->generation)
		log_debug("%s for generation %u while %u is current", what, generation,
			  env->table->rt->generation);
	return env->pool_by_id[pool_id];
}

static int
act_on_worker_channel(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
		      void *userdata)
{
	struct lsn_env *env = userdata;
	struct wasp_msg_worker_ref ref;
	struct lsn_pool *p;

	memcpy(&ref, msg->payload, sizeof(ref));
	p = pool_of_ref(env, ref.pool_id, ref.generation, "WORKER_CHANNEL");
	if (!p) {
		(void)safe_close(msg->fd);
		return 0;
	}
	(void)lsn_handoff_add_worker(env, p, &ref, msg->fd);
	return 0;
}

static int
act_on_worker_gone(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_env *env = userdata;
	struct wasp_msg_worker_ref ref;
	struct lsn_worker *w;

	memcpy(&ref, msg->payload, sizeof(ref));
	w = lsn_handoff_find_worker(env, ref.worker_id);
	if (w) {
		lsn_handoff_worker_gone(env, w);
		/* Connections waiting for this pool need another worker. */
		if (wasp_queue_len(&w->pool->queue) > 0 && w->pool->n_workers == 0)
			lsn_channel_demand(env, w->pool);
	}
	return 0;
}

static int
act_on_pool_state(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct lsn_env *env = userdata;
	struct wasp_msg_pool_state ps;
	struct lsn_pool *p;

	memcpy(&ps, msg->payload, sizeof(ps));
	p = pool_of_ref(env, ps.pool_id, ps.generation, "POOL_STATE");
	if (p)
		lsn_pool_set_state(env, p, ps.state, ps.reason);
	return 0;
}

static void
act_on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct lsn_env *env = userdata;

	if (err < 0) {
		log_errno(err, "activator channel failed: exiting");
		env->exit_status = 1;
	} else {
		log_info("activator channel closed (waspd is gone): exiting");
		env->exit_status = 0;
	}
	env->act = wasp_ipc_channel_free(env->act);
	(void)event_base_loopexit(env->base, NULL);
}

static void
act_on_hello(struct wasp_ipc_channel *ch, const struct wasp_msg_hello *hello, void *userdata)
{
	struct lsn_env *env = userdata;
	struct wasp_msg_adapter_register reg = { 0 };
	int r;

	(void)snprintf(reg.protocol, sizeof(reg.protocol), "%s", env->ops->name);
	r = wasp_send_adapter_register(ch, wasp_ipc_channel_next_seq(ch), &reg);
	if (r < 0)
		log_errno(r, "ADAPTER_REGISTER");
	else
		env->registered = true;
}

static const struct wasp_ipc_handler act_handlers[] = {
	{ WASP_MSG_LISTEN_SOCKET, act_on_listen_socket },
	{ WASP_MSG_ROUTE_TABLE, act_on_route_table },
	{ WASP_MSG_WORKER_CHANNEL, act_on_worker_channel },
	{ WASP_MSG_WORKER_GONE, act_on_worker_gone },
	{ WASP_MSG_POOL_STATE, act_on_pool_state },
};

static const struct wasp_ipc_channel_ops act_ops = {
	.role = WASP_ROLE_ADAPTER,
	.peer_role = WASP_ROLE_ACTIVATOR,
	.handlers = act_handlers,
	.n_handlers = ELEMENTSOF(act_handlers),
	.on_close = act_on_close,
	.on_hello = act_on_hello,
};

int
lsn_channel_start(struct lsn_env *env, int fd)
{
	env->act = wasp_ipc_channel_new(env->base, fd, &act_ops, env);
	if (!env->act)
		return log_errno(-ENOMEM, "activator channel");
	return 0;
}

void
lsn_channel_demand(struct lsn_env *env, struct lsn_pool *p)
{
	struct wasp_msg_pool_ref ref;
	uint64_t now = wasp_now_usec();
	uint64_t limit = (uint64_t)(p->rp ? p->rp->startup_time_limit_ms : 90000) * 1000;
	int r;

	if (!env->act || !env->table || p->id == UINT32_MAX)
		return;
	if (p->state == WASP_POOL_STOPPED || p->state == WASP_POOL_STOPPING)
		return;
	/* Once until a worker arrives; again if none came within the startup
	 * time limit (the activator may have given up on that attempt). */
	if (p->demand_sent && now - p->demand_time < limit)
		return;
	ref = (struct wasp_msg_pool_ref){ .pool_id = p->id,
					  .generation = env->table->rt->generation };
	r = wasp_send_pool_demand(env->act, wasp_ipc_channel_next_seq(env->act), &ref);
	if (r < 0) {
		log_warning_errno(r, "POOL_DEMAND for '%s'", p->name);
		return;
	}
	log_debug("application pool '%s': asked the activator for a worker", p->name);
	p->demand_sent = true;
	p->demand_time = now;
}

void
lsn_channel_send_stats(struct lsn_env *env)
{
	struct lsn_pool *p;
	uint32_t queued = 0;

	if (!env->act || !env->registered)
		return;
	TAILQ_FOREACH(p, &env->pools, link)
		queued += wasp_queue_len(&p->queue);
	env->stats.queued = queued;
	if (memcmp(&env->stats, &env->stats_sent, sizeof(env->stats)) == 0)
		return;
	if (wasp_send_adapter_stats(env->act, 0, &env->stats) == 0)
		env->stats_sent = env->stats;
}

void
lsn_channel_done(struct lsn_env *env)
{
	env->act = wasp_ipc_channel_free(env->act);
	pending_drop(env, 0, false);
	free(env->pending);
	env->pending = NULL;
	env->n_pending_alloc = 0;
	sockets_close(env);
}
