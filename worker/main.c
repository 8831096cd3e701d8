/* wasp-worker: the w3wp of wasp. Started by waspd with its activator channel
 * as fd 3 (WASP_CHANNEL_FD); gets its configuration (a sealed memfd), the
 * routing table and its handoff channels, reports READY, then serves the
 * connections adapters hand it through the integrated pipeline. Answers
 * PING from the event loop (so a hung loop stops answering), reports stats
 * every second, drains on DRAIN, and exits when waspd goes away. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apphost.h"
#include "appprocs.h"
#include "arena.h"
#include "config.h"
#include "ipc.h"
#include "memfd.h"
#include "log.h"
#include "util.h"
#include "worker.h"


static void
maybe_ready(struct worker_env *env)
{
	const char *hang;
	int r;

	/* the routing table has come (it is parsed only once a request needs
	 * it: env_routes()) */
	if (env->ready || !env->config || (!env->routes && env->routes_fd < 0))
		return;
	hang = getenv("WASP_TEST_HANG_STARTUP");
	if (hang && streq(hang, env->pool_name)) {
		log_notice("WASP_TEST_HANG_STARTUP: pool '%s' never reports ready", env->pool_name);
		return;
	}
	r = wasp_send_worker_ready(env->activator, 0);
	if (r < 0)
		wasp_fatal("send READY: %s", strerror(-r));
	env->ready = true;
	log_debug("pool '%s': worker %u ready with %zu application(s)", env->pool_name,
		  env->worker_id, env->n_apps);
	worker_preload(env);
	/* Building the configuration freed more than it kept (the memfd's
	 * text, jansson's tree, the merge's scratch arena): give those pages
	 * back, after READY so starting does not wait for it. An idle worker
	 * is what a pool costs (docs/performance.md). */
	(void)malloc_trim(0);
}

static int
on_worker_config(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker_env *env = userdata;
	_cleanup_close_ int fd = msg->fd;
	_cleanup_free_ char *buf = NULL;
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_msg_worker_config wc;
	/* a request's effective section is a cache hit; the web.config files it
	 * came from are re-stat'ed at most once a second */
	struct wasp_config_opts opts = { .revalidate_usec = WORKER_CONFIG_REVALIDATE_USEC };
	struct wasp_config *cfg = NULL;
	struct wasp_apphost *ah = NULL;
	const char *pool;
	size_t len;
	int r;

	if (env->config) {
		log_warning("a second WORKER_CONFIG, ignoring");
		return 0;
	}
	memcpy(&wc, msg->payload, sizeof(wc));
	r = wasp_memfd_read(fd, WASP_CONFIG_SERIAL_MAX, &buf, &len);
	if (r < 0)
		wasp_fatal("read the configuration memfd: %s", strerror(-r));
	r = wasp_config_deserialize(buf, len, &opts, &cfg, &diags);
	if (r >= 0)
		r = wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &diags);
	if (r < 0) {
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
		wasp_fatal("load the configuration: %s", strerror(-r));
	}
	wasp_diag_list_done(&diags);
	env->config = cfg;
	env->apphost = ah;
	/* waspd's index of the pool, for its messages and the routing table;
	 * the configuration is only this pool's part of the generation, which
	 * names the pool (docs/design.md) */
	env->pool_id = wc.pool_id;
	env->worker_id = wc.worker_id;
	env->generation = wc.generation;
	/* the pool's name and applications before the modules' init_process,
	 * which may ask for them */
	pool = wasp_config_pool(cfg);
	if (!pool) {
		log_error("the configuration names no application pool");
		exit(EXIT_FAILURE);
	}
	for (size_t i = 0; i < ah->n_pools && !env->pool_name; i++)
		if (strcaseeq(ah->pools[i].name, pool) && !(env->pool_name = strdup(pool)))
			wasp_fatal("out of memory");
	if (!env->pool_name) {
		log_error("pool '%s' is not in the configuration", pool);
		exit(EXIT_FAILURE);
	}
	wasp_log_set_pool(env->pool_name);
	env->flags = wc.flags;
	env_fit_fd_limit(env);
	r = env_build_apps(env);
	if (r < 0)
		wasp_fatal("applications of pool '%s': %s", env->pool_name, strerror(-r));
	r = env_load_modules(env, wc.flags);
	if (r < 0)
		wasp_fatal("modules: %s", strerror(-r));
	maybe_ready(env);
	return 0;
}

/* Kept as it is: parsing it (70 KB of JSON with 200 sites) would delay
 * READY, and only a later request on a keep-alive connection needs it. */
static int
on_route_table(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker_env *env = userdata;

	env_set_routes_fd(env, msg->fd);
	maybe_ready(env);
	return 0;
}

static int
on_handoff_channel(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker_env *env = userdata;
	struct wasp_msg_handoff_channel hc;
	int r;

	memcpy(&hc, msg->payload, sizeof(hc));
	if (env->draining) {
		safe_close(msg->fd);
		return 0;
	}
	r = wchan_add(env, msg->fd, hc.adapter_id);
	if (r < 0)
		log_errno(r, "handoff channel of adapter %u", hc.adapter_id);
	return 0;
}

static int
on_ping(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct wasp_msg_ping ping;

	memcpy(&ping, msg->payload, sizeof(ping));
	return wasp_send_pong(ch, msg->hdr.seq, &ping);
}

static int
on_requests_query(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct wasp_msg_requests_query q;

	memcpy(&q, msg->payload, sizeof(q));
	(void)requests_answer(userdata, ch, msg->hdr.seq, &q);
	return 0;
}

static int
on_drain(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker_env *env = userdata;

	if (env->draining)
		return 0;
	log_debug("draining: %u connection(s)", env->n_conns);
	env->draining = true;
	conn_drain_all(env);
	env_check_drained(env);
	return 0;
}

/* SIGTERM (someone other than waspd stopping us, e.g. systemd stopping the
 * unit's cgroup): drain like DRAIN. */
static void
on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct worker_env *env = arg;

	(void)on_drain(env->activator, NULL, env);
}

static void
on_activator_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct worker_env *env = userdata;

	if (err < 0)
		log_error("activator channel: %s, exiting", strerror(-err));
	else
		log_debug("activator went away, exiting");
	env->activator = wasp_ipc_channel_free(env->activator);
	event_base_loopbreak(env->base);
}

static const struct wasp_ipc_handler activator_handlers[] = {
	{ WASP_MSG_WORKER_CONFIG, on_worker_config },
	{ WASP_MSG_ROUTE_TABLE, on_route_table },
	{ WASP_MSG_HANDOFF_CHANNEL, on_handoff_channel },
	{ WASP_MSG_PING, on_ping },
	{ WASP_MSG_DRAIN, on_drain },
	{ WASP_MSG_REQUESTS_QUERY, on_requests_query },
};

static const struct wasp_ipc_channel_ops activator_ops = {
	.role = WASP_ROLE_WORKER,
	.peer_role = WASP_ROLE_ACTIVATOR,
	.handlers = activator_handlers,
	.n_handlers = ELEMENTSOF(activator_handlers),
	.on_close = on_activator_close,
};

/* Private (Private_Clean + Private_Dirty) and resident memory in KiB, from
 * smaps_rollup, else statm (private approximated as resident - shared). */
static void
read_memory(uint64_t *ret_private_kb, uint64_t *ret_rss_kb)
{
	char buf[4096];
	uint64_t priv = 0, rss = 0;
	ssize_t n;
	int fd;

	*ret_private_kb = *ret_rss_kb = 0;
	fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		safe_close(fd);
		if (n > 0) {
			buf[n] = '\0';
			for (char *line = buf; line && *line; line = strchr(line, '\n')) {
				unsigned long long v;

				if (*line == '\n')
					line++;
				if (sscanf(line, "Rss: %llu kB", &v) == 1)
					rss = v;
				else if (sscanf(line, "Private_Clean: %llu kB", &v) == 1 ||
					 sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
					priv += v;
			}
			*ret_private_kb = priv;
			*ret_rss_kb = rss;
			return;
		}
	}
	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		unsigned long long size, res, shared;
		long page_kb = sysconf(_SC_PAGESIZE) / 1024;

		n = read(fd, buf, sizeof(buf) - 1);
		safe_close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (sscanf(buf, "%llu %llu %llu", &size, &res, &shared) == 3) {
				*ret_rss_kb = res * (uint64_t)page_kb;
				*ret_private_kb = (res - MIN(res, shared)) * (uint64_t)page_kb;
			}
		}
	}
}

/* Requests per site since the last report (the pool's applications, a
 * site's summed), as few WORKER_SITE_STATS as they need. */
static void
send_site_stats(struct worker_env *env)
{
	struct wasp_msg_site_requests batch[64];
	size_t n = 0;

	for (size_t i = 0; i < env->n_apps; i++) {
		struct wapp *a = &env->apps[i];
		uint64_t d = a->requests - a->requests_reported;
		size_t k;

		if (d == 0)
			continue;
		a->requests_reported = a->requests;
		for (k = 0; k < n && batch[k].site_id != a->site_id; k++)
			;
		if (k == n)
			batch[n++] = (struct wasp_msg_site_requests){ .site_id = a->site_id };
		batch[k].requests += d;
		if (n == ELEMENTSOF(batch)) {
			(void)wasp_send_worker_site_stats(env->activator, 0, batch, n);
			n = 0;
		}
	}
	if (n > 0)
		(void)wasp_send_worker_site_stats(env->activator, 0, batch, n);
}

static void
send_stats(struct worker_env *env)
{
	struct wasp_msg_worker_stats st = {
		.requests = env->n_requests,
		.connections = env->n_conns,
		.busy = env->n_busy,
	};

	if (!env->activator || !env->ready)
		return;
	read_memory(&st.private_kb, &st.rss_kb);
	(void)wasp_send_worker_stats(env->activator, 0, &st);
	send_site_stats(env);
}

static void
on_stats_timer(evutil_socket_t fd, short what, void *arg)
{
	struct worker_env *env = arg;

	wchan_flush_rooms(env);
	if (env->n_busy == 0 && env->n_requests == env->n_requests_tick &&
	    env->n_requests != env->n_requests_trimmed) {
		/* no request for a whole tick after serving some: what
		 * WORKER_TRIM_THRESHOLD kept goes back */
		env->n_requests_trimmed = env->n_requests;
		(void)wasp_arena_spare_drop();
		(void)malloc_trim(0);
	}
	env->n_requests_tick = env->n_requests;
	send_stats(env);
	if (env->activator && env->ready)
		(void)appprocs_report(env->activator);
}

/* SCHED_BATCH: the worker does not preempt the task that wakes it (the
 * listener, relaying a TLS connection's request or handing a connection
 * over), so on a busy CPU the listener passes on everything that is ready
 * and the worker serves it all in one wakeup, rather than two context
 * switches per request. Its share of the CPU is the same, and a CPU with
 * idle time runs it at once as before. A replacement that waspd started in
 * the background (SCHED_IDLE, activator/sched.c) stays there: waspd makes it
 * SCHED_BATCH when it comes to the foreground. The processes it starts
 * (CGI, FastCGI, httpPlatform) go back to SCHED_OTHER (worker_child_spawn). */
static void
sched_batch(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (sched_getscheduler(0) != SCHED_OTHER)
		return;
	if (sched_setscheduler(0, SCHED_BATCH, &sp) < 0)
		log_debug_errno(-errno, "SCHED_BATCH");
}

int
main(int argc, char **argv)
{
	struct worker_env env = { 0 };
	struct event_base *base;
	struct event *sigterm;
	const char *s;
	uint64_t chfd;
	struct timeval tv = { WORKER_STATS_INTERVAL_USEC / 1000000,
			      WORKER_STATS_INTERVAL_USEC % 1000000 };
	int r;

	wasp_log_init("wasp-worker", LOG_INFO);
	r = wasp_nodump_from_env();
	if (r < 0)
		wasp_fatal("PR_SET_DUMPABLE: %s", strerror(-r));
	s = getenv("WASP_CHANNEL_FD");
	if (!s || wasp_parse_u64(s, INT32_MAX, &chfd) < 0)
		wasp_fatal("WASP_CHANNEL_FD is not set: wasp-worker is started by waspd");
	if (fcntl((int)chfd, F_SETFD, FD_CLOEXEC) < 0)
		wasp_fatal("activator channel fd %d: %s", (int)chfd, strerror(errno));
	(void)unsetenv("WASP_CHANNEL_FD");
	(void)signal(SIGPIPE, SIG_IGN);
	(void)mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD);
	(void)mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD);
	sched_batch();

	base = event_base_new();
	if (!base)
		wasp_fatal("event loop: out of memory");
	r = env_init(&env, base);
	if (r < 0)
		wasp_fatal("start: %s", strerror(-r));
	env.activator = wasp_ipc_channel_new(base, (int)chfd, &activator_ops, &env);
	if (!env.activator)
		wasp_fatal("activator channel: out of memory");
	sigterm = evsignal_new(base, SIGTERM, on_sigterm, &env);
	if (!sigterm || event_add(sigterm, NULL) < 0)
		wasp_fatal("SIGTERM handler: out of memory");
	env.stats_timer = event_new(base, -1, EV_PERSIST, on_stats_timer, &env);
	if (!env.stats_timer || event_add(env.stats_timer, &tv) < 0)
		wasp_fatal("stats timer: out of memory");

	r = event_base_dispatch(base);
	if (r < 0)
		log_error("event loop failed");
	/* drained: the requests since the last report are the pool's too */
	if (env.draining)
		send_stats(&env);
	env.activator = wasp_ipc_channel_free(env.activator);
	env_done(&env);
	env.config = wasp_config_free(env.config);
	event_free(sigterm);
	event_base_free(base);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
