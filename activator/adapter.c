/* Protocol adapters (the HTTP listener wasp-http is one): waspd starts them
 * with fd 3 = their activator channel, answers ADAPTER_REGISTER with the
 * listening sockets of that protocol and the routing table, gives them a
 * handoff channel to every ready worker, takes their POOL_DEMANDs, and
 * restarts them when they die. The listening sockets stay open in waspd, so
 * a restart never closes one. docs/adapter-protocol.md has the message order. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ipc.h"
#include "log.h"
#include "waspd.h"

#define USEC_PER_SEC 1000000ULL
#define ADAPTER_FAST_EXIT_USEC USEC_PER_SEC
#define ADAPTER_RESTART_MAX_USEC (10 * USEC_PER_SEC)
#define ADAPTER_KILL_USEC (5 * USEC_PER_SEC)

static void adapter_arm_kill(struct adapter *a);

struct adapter *
adapter_by_pid(struct wasp_env *env, pid_t pid)
{
	for (struct adapter *a = env->adapters; a; a = a->next)
		if (a->pid == pid && !a->external)
			return a;
	return NULL;
}

static struct adapter *
adapter_by_id(struct wasp_env *env, uint32_t id)
{
	for (struct adapter *a = env->adapters; a; a = a->next)
		if (a->id == id)
			return a;
	return NULL;
}

bool
adapters_running(const struct wasp_env *env)
{
	for (const struct adapter *a = env->adapters; a; a = a->next)
		if (a->pid > 0 && !a->external)
			return true;
	return false;
}

static void
adapters_send(struct wasp_env *env, uint16_t type, const void *payload, size_t len)
{
	for (struct adapter *a = env->adapters; a; a = a->next) {
		if (!a->ch || !a->registered)
			continue;
		int r = wasp_ipc_channel_send(a->ch, type, 0, payload, len, -1, 0);
		if (r < 0)
			log_warning_errno(r, "adapter '%s' (pid %d): send message %u, ignoring",
					  a->protocol, (int)a->pid, type);
	}
}

void
adapters_send_pool_state(struct wasp_env *env, const struct wasp_msg_pool_state *m)
{
	adapters_send(env, WASP_MSG_POOL_STATE, m, sizeof(*m));
}

void
adapters_send_worker_gone(struct wasp_env *env, const struct wasp_msg_worker_ref *m)
{
	adapters_send(env, WASP_MSG_WORKER_GONE, m, sizeof(*m));
}

/* Send one worker's handoff channel end to one adapter. Takes fd. */
static void
adapter_send_worker_channel(struct adapter *a, struct worker *w, int fd)
{
	struct wasp_msg_worker_ref ref = {
		.pool_id = w->pool->id,
		.worker_id = w->id,
		.pid = (uint32_t)w->pid,
		.generation = a->env->generation,
	};
	int r = wasp_send_worker_channel(a->ch, 0, &ref, fd, WASP_IPC_SEND_CLOSE_FD);
	if (r < 0)
		log_warning_errno(r, "adapter '%s': send worker %u's channel, ignoring",
				  a->protocol, w->id);
	else
		log_debug("adapter '%s' (pid %d): handoff channel to worker %u (pid %d)",
			  a->protocol, (int)a->pid, w->id, (int)w->pid);
}

/* Make a handoff channel between adapter a and worker w: the worker's end
 * goes to the worker now, the adapter's end when the worker is ready. */
static int
adapter_pair_one(struct adapter *a, struct worker *w)
{
	struct wasp_msg_handoff_channel hc = { .adapter_id = a->id };
	struct handoff_pair *p;
	int fds[2], r;

	if (!w->ch)
		return 0;
	r = wasp_ipc_socketpair(fds);
	if (r < 0)
		return log_errno(r, "handoff channel for worker %u", w->id);
	r = wasp_send_handoff_channel(w->ch, 0, &hc, fds[1], WASP_IPC_SEND_CLOSE_FD);
	if (r < 0) {
		safe_close(fds[0]);
		return log_errno(r, "send handoff channel to worker %u", w->id);
	}
	if (w->state == WORKER_READY) {
		adapter_send_worker_channel(a, w, fds[0]);
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		safe_close(fds[0]);
		return -ENOMEM;
	}
	p->adapter_id = a->id;
	p->adapter_fd = fds[0];
	p->next = w->pairs;
	w->pairs = p;
	return 0;
}

int
adapters_pair_worker(struct wasp_env *env, struct worker *w)
{
	for (struct adapter *a = env->adapters; a; a = a->next) {
		if (!a->ch || !a->registered)
			continue;
		int r = adapter_pair_one(a, w);
		if (r < 0)
			return r;
	}
	return 0;
}

int
adapters_repair_worker(struct wasp_env *env, struct worker *w, uint32_t adapter_id)
{
	struct adapter *a = adapter_by_id(env, adapter_id);

	if (!a || !a->ch || !a->registered)
		return -ENOENT;
	return adapter_pair_one(a, w);
}

void
adapters_announce_worker(struct wasp_env *env, struct worker *w)
{
	struct handoff_pair *p;

	while ((p = w->pairs)) {
		struct adapter *a = adapter_by_id(env, p->adapter_id);
		w->pairs = p->next;
		if (a && a->ch && a->registered)
			adapter_send_worker_channel(a, w, p->adapter_fd);
		else
			safe_close(p->adapter_fd); /* that adapter died meanwhile */
		free(p);
	}
}

/* ---- messages from the adapter ------------------------------------------ */

/* One generation to one adapter: its protocol's listening sockets (when
 * with_sockets), then the routing table. */
static int
adapter_send_generation(struct adapter *a, bool with_sockets)
{
	struct wasp_env *env = a->env;
	struct wasp_msg_listen_socket ls = { .generation = env->generation };
	uint32_t gen = env->generation;
	int fd, r;

	for (size_t i = 0; with_sockets && i < env->n_socks; i++) {
		if (!proc_protocol_serves(a->protocol, env->socks[i].protocol))
			continue;
		ls.socket_id = env->socks[i].id;
		r = wasp_send_listen_socket(a->ch, 0, &ls, env->socks[i].fd, 0);
		if (r < 0)
			return log_errno(r, "adapter '%s': send listening socket", a->protocol);
	}
	fd = routes_memfd(env);
	if (fd < 0)
		return log_errno(fd, "routing table");
	r = wasp_send_route_table(a->ch, 0, &gen, fd, WASP_IPC_SEND_CLOSE_FD);
	if (r < 0)
		return log_errno(r, "adapter '%s': send routing table", a->protocol);
	return 0;
}

void
adapters_send_generation(struct wasp_env *env, bool with_sockets)
{
	for (struct adapter *a = env->adapters; a; a = a->next)
		if (a->registered && a->ch)
			(void)adapter_send_generation(a, with_sockets);
}

static int
adapter_on_register(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct adapter *a = userdata;
	struct wasp_env *env = a->env;
	struct wasp_msg_adapter_register reg;
	int r;

	memcpy(&reg, msg->payload, sizeof(reg));
	if (!memchr(reg.protocol, 0, sizeof(reg.protocol)) || !reg.protocol[0]) {
		log_error("adapter (pid %d): ADAPTER_REGISTER with a malformed protocol name",
			  (int)a->pid);
		return -EBADMSG;
	}
	if (a->registered) {
		log_error("adapter '%s' (pid %d): registered twice", a->protocol, (int)a->pid);
		return -EPROTO;
	}
	if (a->external) {
		struct wasp_msg_adapter_refused no;

		r = adapter_sock_check(a, reg.protocol, &no);
		if (r < 0) {
			(void)wasp_send_adapter_refused(ch, msg->hdr.seq, &no);
			return r;
		}
	}
	if (a->exe && !strcaseeq(reg.protocol, a->protocol_hint)) {
		log_error("adapter %s (pid %d) registered '%s', started for '%s'", a->program,
			  (int)a->pid, reg.protocol, a->protocol_hint);
		return -EPROTO;
	}
	memcpy(a->protocol, reg.protocol, sizeof(a->protocol));
	if (a->external)
		adapter_sock_settled(a);
	a->registered = true;
	log_info("adapter '%s' (pid %d) registered", a->protocol, (int)a->pid);

	/* 1. the listening sockets of its protocol, 2. the routing table */
	r = adapter_send_generation(a, true);
	if (r < 0)
		return r;
	/* 3. a handoff channel to every live worker (ready ones now) */
	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w; w = w->next)
			if (w->state == WORKER_READY || w->state == WORKER_STARTING)
				(void)adapter_pair_one(a, w);
	return 0;
}

struct pool *
pool_by_ref(struct wasp_env *env, uint32_t pool_id, uint32_t generation)
{
	/* Sent before the adapter had the newest generation: pool ids are
	 * that generation's, the pool is the one of the same name. */
	if (generation == env->generation)
		return pool_id < env->n_pools ? &env->pools[pool_id] : NULL;
	if (env->prev_generation && generation == env->prev_generation &&
	    pool_id < env->n_prev_pool_names)
		return pool_by_name(env, env->prev_pool_names[pool_id]);
	return NULL;
}

static int
adapter_on_pool_demand(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
		       void *userdata)
{
	struct adapter *a = userdata;
	struct wasp_msg_pool_ref ref;

	struct wasp_env *env = a->env;
	struct pool *p;

	memcpy(&ref, msg->payload, sizeof(ref));
	if (!a->registered)
		return -EPROTO;
	p = pool_by_ref(env, ref.pool_id, ref.generation);
	if (!p) {
		log_warning("adapter '%s' (pid %d): demand for unknown pool %u (generation %u), "
			    "ignoring",
			    a->protocol, (int)a->pid, ref.pool_id, ref.generation);
		return 0;
	}
	pool_on_demand(p);
	return 0;
}

static int
adapter_on_stats(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct adapter *a = userdata;

	if (!a->registered)
		return -EPROTO;
	memcpy(&a->stats, msg->payload, sizeof(a->stats));
	return 0;
}

static int
adapter_on_metrics(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct adapter *a = userdata;
	struct wasp_msg_adapter_metrics m;

	if (!a->registered)
		return -EPROTO;
	memcpy(&m, msg->payload, sizeof(m));
	metrics_on_adapter(a->env, &m);
	return 0;
}

static int
adapter_on_tls_metrics(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
		       void *userdata)
{
	struct adapter *a = userdata;
	struct wasp_msg_adapter_tls_metrics m;

	if (!a->registered)
		return -EPROTO;
	memcpy(&m, msg->payload, sizeof(m));
	metrics_on_adapter_tls(a->env, &m);
	return 0;
}

static int
adapter_on_pool_metrics(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
			void *userdata)
{
	struct adapter *a = userdata;
	struct wasp_msg_adapter_pool_metrics m[64];
	size_t n = msg->len / sizeof(m[0]);

	if (!a->registered)
		return -EPROTO;
	for (size_t off = 0; off < n; off += ELEMENTSOF(m)) {
		size_t k = MIN(n - off, ELEMENTSOF(m));
		memcpy(m, (const uint8_t *)msg->payload + off * sizeof(m[0]), k * sizeof(m[0]));
		metrics_on_adapter_pools(a->env, m, k);
	}
	return 0;
}

static void
adapter_on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct adapter *a = userdata;

	if (a->external) {
		struct wasp_env *env = a->env;
		bool was = a->registered;

		if (was)
			log_warning("adapter '%s' (pid %d, registered over adapter.sock) went away%s%s",
				    a->protocol, (int)a->pid, err < 0 ? ": " : "",
				    err < 0 ? strerror(-err) : "");
		else if (err < 0 && err != -EPERM)
			log_warning_errno(err, "adapter.sock: peer pid %d cut off", (int)a->pid);
		adapter_forget(a);
		/* a reload may have given its protocol to an adapter waspd starts */
		if (was && !env->stopping && !env->retiring)
			(void)adapters_start(env);
		return;
	}
	if (err < 0 && !wasp_errno_is_disconnect(err)) {
		log_errno(err, "adapter '%s' (pid %d): channel error, killing it",
			  a->registered ? a->protocol : a->protocol_hint, (int)a->pid);
		if (a->pid > 0)
			(void)a->env->procs->kill(a->env, a->pid, SIGKILL);
	} else if (a->pid > 0 && !a->env->stopping && !a->env->retiring) {
		log_warning("adapter '%s' (pid %d) closed its channel",
			    a->registered ? a->protocol : a->protocol_hint, (int)a->pid);
		/* It is exiting; if it does not, make sure. */
		adapter_arm_kill(a);
	}
	a->registered = false;
	a->ch = wasp_ipc_channel_free(a->ch);
}

static const struct wasp_ipc_handler adapter_handlers[] = {
	{ WASP_MSG_ADAPTER_REGISTER, adapter_on_register },
	{ WASP_MSG_POOL_DEMAND, adapter_on_pool_demand },
	{ WASP_MSG_ADAPTER_STATS, adapter_on_stats },
	{ WASP_MSG_ADAPTER_METRICS, adapter_on_metrics },
	{ WASP_MSG_ADAPTER_TLS_METRICS, adapter_on_tls_metrics },
	{ WASP_MSG_ADAPTER_POOL_METRICS, adapter_on_pool_metrics },
};

static const struct wasp_ipc_channel_ops adapter_ops = {
	.role = WASP_ROLE_ACTIVATOR,
	.peer_role = WASP_ROLE_ADAPTER,
	.handlers = adapter_handlers,
	.n_handlers = ELEMENTSOF(adapter_handlers),
	.on_close = adapter_on_close,
};

/* ---- process ------------------------------------------------------------- */

static void
adapter_on_restart_timer(void *arg)
{
	struct adapter *a = arg;

	if (a->env->stopping || a->pid > 0)
		return;
	(void)adapter_spawn(a);
}

static void
adapter_on_kill_timer(void *arg)
{
	struct adapter *a = arg;

	if (a->pid > 0) {
		log_warning("adapter '%s' (pid %d) did not exit, killing it", a->protocol_hint,
			    (int)a->pid);
		(void)a->env->procs->kill(a->env, a->pid, SIGKILL);
	}
}

/* SIGKILL for a if it has not exited in ADAPTER_KILL_USEC; at once when
 * that cannot be timed. */
static void
adapter_arm_kill(struct adapter *a)
{
	int r = timer_arm(a->env->clock, &a->kill_timer, adapter_on_kill_timer, a,
			  ADAPTER_KILL_USEC);

	if (r < 0) {
		log_warning_errno(r, "adapter '%s' (pid %d): no timer to wait for its exit",
				  a->protocol_hint, (int)a->pid);
		adapter_on_kill_timer(a);
	}
}

int
adapter_spawn(struct adapter *a)
{
	struct wasp_env *env = a->env;
	struct proc_start s = {
		.role = a->role,
		.path = a->exe,
		.argv = a->argv,
		.ident = a->exe ? &a->ident : NULL,
	};
	int fd, r;
	pid_t pid;

	r = env->procs->spawn(env, &s, &pid, &fd);
	if (r < 0) {
		/* Try again later: a missing binary may be being rebuilt. */
		a->fast_exits++;
		adapter_on_exit(a, -1);
		return r;
	}
	a->pid = pid;
	a->stop_sent = false;
	a->started_mono = wasp_now_usec();
	a->registered = false;
	a->ch = wasp_ipc_channel_new(env->base, fd, &adapter_ops, a);
	if (!a->ch) {
		(void)env->procs->kill(env, pid, SIGKILL);
		return log_errno(-ENOMEM, "adapter channel");
	}
	const struct wasp_identity *id = s.ident ? s.ident : &env->listener_ident;
	log_info("started %s (pid %d) as %s", a->program, (int)pid,
		 id->change ? id->name : "the daemon's user");
	return 0;
}

void
adapter_on_exit(struct adapter *a, int status)
{
	struct wasp_env *env = a->env;
	uint64_t now = wasp_now_usec(), delay = 0;
	int r;

	if (status >= 0) {
		int level = env->stopping || env->retiring ? LOG_INFO : LOG_ERR;

		if (WIFSIGNALED(status))
			log_full_errno(level, 0, "%s (pid %d) killed by signal %d", a->program,
				       (int)a->pid, WTERMSIG(status));
		else
			log_full_errno(level, 0, "%s (pid %d) exited with status %d", a->program,
				       (int)a->pid, WEXITSTATUS(status));
		if (now - a->started_mono < ADAPTER_FAST_EXIT_USEC)
			a->fast_exits++;
		else
			a->fast_exits = 0;
	}
	a->pid = 0;
	a->registered = false;
	a->ch = wasp_ipc_channel_free(a->ch);
	timer_stop(a->kill_timer);
	metrics_on_adapter_gone(env);
	if (env->stopping || env->retiring) {
		daemon_check_shutdown(env);
		return;
	}
	/* Restart at once; back off when it keeps dying right after start. */
	if (a->fast_exits > 0)
		delay = MIN(100000ULL << MIN(a->fast_exits, 10U), ADAPTER_RESTART_MAX_USEC);
	log_info("restarting %s in %llu ms", a->program, (unsigned long long)(delay / 1000));
	r = timer_arm(env->clock, &a->restart_timer, adapter_on_restart_timer, a, delay);
	if (r < 0)
		log_errno(r, "%s: no timer to restart it with; it stays down", a->program);
}

struct adapter *
adapter_new(struct wasp_env *env, const struct proc_role *role)
{
	struct adapter *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->env = env;
	a->id = ++env->next_adapter_id;
	a->role = role;
	a->program = role->program;
	a->protocol_hint = role->protocol;
	a->next = env->adapters;
	env->adapters = a;
	return a;
}

static bool
adapter_of_role(const struct wasp_env *env, const struct proc_role *role)
{
	for (const struct adapter *a = env->adapters; a; a = a->next)
		if (a->role == role && !a->external)
			return true;
	return false;
}

/* The adapters waspd starts itself: one per adapter role (process.c) whose
 * protocol has a listening socket, and has none yet (again after a reload:
 * the first tcp binding brings wasp-tcp). */
int
adapters_start(struct wasp_env *env)
{
	for (int i = 0; i < PROC_ROLE__COUNT; i++) {
		const struct proc_role *role = proc_role(i);
		const struct adapter_decl *d;
		bool needed = false;

		if (!role->protocol || adapter_of_role(env, role))
			continue;
		/* registered from outside (listenerAdapters' registerUser), or
		 * another program (its executable), or one registered already */
		d = adapter_decl_find(&env->adapter_decls, role->protocol);
		if ((d && (d->external || d->executable)) || adapter_of_protocol(env, role->protocol))
			continue;
		for (size_t j = 0; j < env->n_socks; j++)
			needed |= proc_protocol_serves(role->protocol, env->socks[j].protocol);
		if (!needed)
			continue;
		struct adapter *a = adapter_new(env, role);
		if (!a)
			return log_errno(-ENOMEM, "adapter");
		(void)adapter_spawn(a);
	}
	return adapters_start_configured(env);
}

/* Shutdown: the external adapters' channels close (they see waspd go). */
static void
adapters_forget_external(struct wasp_env *env)
{
	for (struct adapter *a = env->adapters, *next; a; a = next) {
		next = a->next;
		if (a->external)
			adapter_forget(a);
	}
}

void
adapters_stop(struct wasp_env *env)
{
	adapters_forget_external(env);
	for (struct adapter *a = env->adapters; a; a = a->next) {
		timer_stop(a->restart_timer);
		if (a->pid > 0 && !a->stop_sent) {
			a->stop_sent = true;
			log_info("stopping %s (pid %d)", a->program, (int)a->pid);
			(void)a->env->procs->kill(a->env, a->pid, SIGTERM);
			adapter_arm_kill(a);
		}
	}
}

void
adapters_quit(struct wasp_env *env)
{
	for (struct adapter *a = env->adapters; a; a = a->next) {
		timer_stop(a->restart_timer);
		if (a->pid > 0 && !a->stop_sent) {
			log_info("%s (pid %d): stop accepting, hand over what it holds", a->program,
				 (int)a->pid);
			(void)a->env->procs->kill(a->env, a->pid, SIGQUIT);
			adapter_arm_kill(a);
		}
	}
}

void
adapters_free(struct wasp_env *env)
{
	struct adapter *a;

	while ((a = env->adapters)) {
		env->adapters = a->next;
		timer_free(&a->register_timer);
		adapter_configured_done(a);
		if (a->pid > 0 && !a->external)
			(void)a->env->procs->kill(a->env, a->pid, SIGKILL);
		wasp_ipc_channel_free(a->ch);
		timer_free(&a->restart_timer);
		timer_free(&a->kill_timer);
		free(a);
	}
}

struct adapter *
adapter_new_external(struct wasp_env *env, int fd, pid_t pid)
{
	struct adapter *a = calloc(1, sizeof(*a));

	if (!a) {
		safe_close(fd);
		return NULL;
	}
	a->env = env;
	a->id = ++env->next_adapter_id;
	a->external = true;
	a->pid = pid;
	a->program = "adapter.sock peer";
	a->protocol_hint = "(unregistered)";
	a->started_mono = wasp_now_usec();
	a->ch = wasp_ipc_channel_new(env->base, fd, &adapter_ops, a);
	if (!a->ch) {
		free(a);
		return NULL;
	}
	a->next = env->adapters;
	env->adapters = a;
	return a;
}

void
adapter_forget(struct adapter *a)
{
	struct wasp_env *env = a->env;
	bool registered = a->registered;

	for (struct adapter **pp = &env->adapters; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	adapter_sock_settled(a);
	a->ch = wasp_ipc_channel_free(a->ch);
	timer_free(&a->register_timer);
	timer_free(&a->restart_timer);
	timer_free(&a->kill_timer);
	adapter_configured_done(a);
	free(a);
	if (registered)
		metrics_on_adapter_gone(env);
}

struct adapter *
adapter_of_protocol(struct wasp_env *env, const char *protocol)
{
	for (struct adapter *a = env->adapters; a; a = a->next) {
		if (a->registered && strcaseeq(a->protocol, protocol))
			return a;
		/* one waspd starts (running, or to be restarted) */
		if (!a->external && strcaseeq(a->protocol_hint, protocol))
			return a;
	}
	return NULL;
}
