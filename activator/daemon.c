/* waspd, the activation service (the WAS role): loads applicationHost.config,
 * binds every binding's socket, starts the protocol adapters (wasp-http) and
 * the application pools' workers, serves the control socket, and runs until
 * SIGTERM, when it drains every worker (bounded by shutdownTimeLimit), stops
 * the adapters and exits. Stays in the foreground; logs to stderr. */
#include <event2/event.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "apphost.h"
#include "config.h"
#include "fs.h"
#include "ipc.h"
#include "libevent-util.h"
#include "log.h"
#include "waspd.h"
#include "wasp-build.h"

#define USEC_PER_SEC 1000000ULL
#define SHUTDOWN_GRACE_USEC (5 * USEC_PER_SEC)
#define DEFAULT_UID_FIRST 65536
#define DEFAULT_UID_LAST 99999

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: waspd [-c FILE] [OPTIONS]\n"
		"Runs the wasp activation service in the foreground.\n\n"
		"  -c, --config FILE         applicationHost.config to serve\n"
		"                            (default " WASPD_DEFAULT_CONFIG ")\n"
		"  -r, --runtime-dir DIR     where control.sock goes (default $RUNTIME_DIRECTORY,\n"
		"                            else /run/wasp)\n"
		"      --listener-user USER  user the listener runs as when started as root\n"
		"                            (default wasp-http, else nobody)\n"
		"      --pool-uid-range A-B  uids for ApplicationPoolIdentity pools (default %d-%d)\n"
		"      --admin-group GROUP   its members may use every waspctl verb (control.sock)\n"
		"      --read-group GROUP    its members may use waspctl list (control.sock)\n"
		"      --watch-config=no     do not reload when applicationHost.config changes\n"
		"                            (SIGHUP and waspctl reload still do)\n"
		"      --test-hooks          enable the workers' test switches (tests only)\n"
		"      --test-config         check the configuration and exit\n"
		"  -h, --help                this text\n"
		"      --version             print the version\n",
		DEFAULT_UID_FIRST, DEFAULT_UID_LAST);
}

enum {
	OPT_LISTENER_USER = 0x100,
	OPT_UID_RANGE,
	OPT_ADMIN_GROUP,
	OPT_READ_GROUP,
	OPT_WATCH_CONFIG,
	OPT_TEST_HOOKS,
	OPT_TEST_CONFIG,
	OPT_VERSION,
};

static int
parse_uid_range(const char *s, uint32_t *first, uint32_t *last)
{
	_cleanup_free_ char *a = strdup(s);
	char *dash;
	uint64_t x, y;

	if (!a)
		return -ENOMEM;
	dash = strchr(a, '-');
	if (!dash)
		return -EINVAL;
	*dash = 0;
	if (wasp_parse_u64(a, UINT32_MAX - 2, &x) < 0 ||
	    wasp_parse_u64(dash + 1, UINT32_MAX - 2, &y) < 0 || x == 0 || y < x)
		return -EINVAL;
	*first = (uint32_t)x;
	*last = (uint32_t)y;
	return 0;
}

/* A group by name or number; one that does not exist is an error (control
 * access is not granted to a group nobody can be in by mistake). */
static int
parse_group(const char *option, const char *s, gid_t *gid, bool *set)
{
	struct group *gr = getgrnam(s);
	uint64_t x;

	if (gr)
		*gid = gr->gr_gid;
	else if (wasp_parse_u64(s, UINT32_MAX - 1, &x) == 0)
		*gid = (gid_t)x;
	else {
		log_error("%s '%s': no such group", option, s);
		return -EINVAL;
	}
	*set = true;
	return 0;
}

static int
parse_args(struct wasp_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "listener-user", required_argument, NULL, OPT_LISTENER_USER },
		{ "pool-uid-range", required_argument, NULL, OPT_UID_RANGE },
		{ "admin-group", required_argument, NULL, OPT_ADMIN_GROUP },
		{ "read-group", required_argument, NULL, OPT_READ_GROUP },
		{ "watch-config", required_argument, NULL, OPT_WATCH_CONFIG },
		{ "test-hooks", no_argument, NULL, OPT_TEST_HOOKS },
		{ "test-config", no_argument, NULL, OPT_TEST_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:r:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			env->config_path = optarg;
			break;
		case 'r':
			free(env->runtime_dir);
			env->runtime_dir = strdup(optarg);
			if (!env->runtime_dir)
				return -ENOMEM;
			break;
		case OPT_LISTENER_USER:
			env->listener_user = optarg;
			break;
		case OPT_UID_RANGE:
			if (parse_uid_range(optarg, &env->uid_first, &env->uid_last) < 0) {
				log_error("--pool-uid-range '%s': expected FIRST-LAST, like 65536-99999",
					  optarg);
				return -EINVAL;
			}
			break;
		case OPT_ADMIN_GROUP:
			if (parse_group("--admin-group", optarg, &env->ctl_admin_group.gid,
					&env->ctl_admin_group.set) < 0)
				return -EINVAL;
			break;
		case OPT_READ_GROUP:
			if (parse_group("--read-group", optarg, &env->ctl_read_group.gid,
					&env->ctl_read_group.set) < 0)
				return -EINVAL;
			break;
		case OPT_WATCH_CONFIG:
			if (!streq(optarg, "yes") && !streq(optarg, "no")) {
				log_error("--watch-config '%s': expected yes or no", optarg);
				return -EINVAL;
			}
			env->no_watch = streq(optarg, "no");
			break;
		case OPT_TEST_HOOKS:
			env->test_hooks = true;
			break;
		case OPT_TEST_CONFIG:
			log_error("--test-config is handled before the daemon starts");
			return -EINVAL;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("waspd %s\n", WASP_VERSION);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!env->config_path)
		env->config_path = WASPD_DEFAULT_CONFIG;
	return 0;
}

/* Where wasp-http and wasp-worker are: the build tree when waspd runs from
 * it, else the installed libexec directory. */
static int
find_programs(struct wasp_env *env)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *root = WASP_BUILD_ROOT;
	size_t rl = strlen(root);

	if (n > 0) {
		exe[n] = 0;
		if (strncmp(exe, root, rl) == 0 && exe[rl] == '/') {
			env->build_root = strdup(root);
			if (!env->build_root)
				return -ENOMEM;
			log_debug("running from the build tree %s", root);
		}
	}
	env->program_dir = strdup(WASP_LIBEXECDIR);
	return env->program_dir ? 0 : -ENOMEM;
}

/* control.sock goes into dir: anyone who can write there could put a socket
 * of their own in its place first (and take waspctl's requests) or keep
 * waspd from starting. So it must be waspd's user's, writable by no one
 * else (a sticky world-writable directory like /tmp is refused too: the
 * name can still be squatted). */
static int
check_runtime_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return log_errno(-errno, "runtime directory %s", dir);
	if (!S_ISDIR(st.st_mode)) {
		log_error("runtime directory %s is not a directory (use --runtime-dir DIR)", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		log_error("runtime directory %s is owned by uid %u, not by waspd's user (uid %u): "
			  "its owner could replace control.sock; use a directory of waspd's user "
			  "(--runtime-dir DIR)",
			  dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_error("runtime directory %s is writable by %s (mode %04o): anyone who can "
			  "write there could put their own control.sock in its place; make it "
			  "writable by its owner only (chmod go-w) or use another --runtime-dir",
			  dir, (st.st_mode & S_IWOTH) ? "others" : "its group",
			  (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

static int
setup_runtime_dir(struct wasp_env *env)
{
	int r;

	if (!env->runtime_dir) {
		const char *rd = getenv("RUNTIME_DIRECTORY");
		if (rd && *rd) {
			/* systemd may list several, separated by ':'; the first is ours. */
			env->runtime_dir = strndup(rd, strcspn(rd, ":"));
		} else {
			env->runtime_dir = strdup("/run/wasp");
		}
		if (!env->runtime_dir)
			return -ENOMEM;
	}
	r = wasp_mkdir_p(env->runtime_dir, 0755, 0755, 0);
	if (r < 0)
		return log_errno(r, "runtime directory %s (use --runtime-dir DIR)",
				 env->runtime_dir);
	return check_runtime_dir(env->runtime_dir);
}

static int
load_config(struct wasp_env *env)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	int r;

	r = config_load(env->config_path, &opts, NULL, &env->cfg, &env->ah, &diags);
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_WARNING);
	if (r < 0) {
		if (diags.n_errors)
			log_error("%s: %zu error(s), not starting", env->config_path,
				  diags.n_errors);
		else
			log_errno(r, "cannot load %s", env->config_path);
	}
	wasp_diag_list_done(&diags);
	/* loading freed more than it kept (libxml2's trees, the merge's
	 * scratch): return it, waspd stays resident (docs/performance.md) */
	(void)malloc_trim(0);
	return r;
}

void
daemon_check_shutdown(struct wasp_env *env)
{
	/* handing over: once the adapters finished what they held, drain */
	if (env->retiring && !env->stopping && !adapters_running(env))
		daemon_stop(env, "the listener handed over");
	if (!env->stopping)
		return;
	if (pools_count_workers(env) > 0)
		return;
	if (adapters_running(env)) {
		adapters_stop(env); /* idempotent: SIGTERM, kill timer */
		return;
	}
	if (env->exiting)
		return;
	env->exiting = true;
	log_info("every worker and adapter has exited");
	event_base_loopexit(env->base, NULL);
}

static void
daemon_on_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;

	log_warning("shutdown: processes still running after the drain deadline, killing them");
	pools_kill_all(env, SIGKILL);
	for (struct adapter *a = env->adapters; a; a = a->next)
		if (a->pid > 0)
			(void)env->procs->kill(env, a->pid, SIGKILL);
}

void
daemon_stop(struct wasp_env *env, const char *why)
{
	uint64_t limit = 0;

	log_notice("%s: shutting down (draining workers)", why);
	env->stopping = true;
	for (size_t i = 0; i < env->n_pools; i++)
		limit = MAX(limit, env->pools[i].cfg->process_model.shutdown_time_limit);
	limit += SHUTDOWN_GRACE_USEC;
	env->stop_deadline = wasp_now_usec() + limit;
	status_notify(env, "STOPPING=1");
	status_extend_stop(env);
	struct timeval tv = wasp_timeval_from_usec(limit);
	env->shutdown_timer = evtimer_new(env->base, daemon_on_shutdown_timeout, env);
	if (env->shutdown_timer)
		event_add(env->shutdown_timer, &tv);
	pools_shutdown(env);
	daemon_check_shutdown(env);
}

static void
daemon_on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct wasp_env *env = arg;
	char why[32];

	if (env->stopping) {
		log_notice("signal %d again: killing every child now", (int)sig);
		daemon_on_shutdown_timeout(-1, 0, env);
		return;
	}
	if (!env->retiring && fdstore_holds(env)) {
		/* the sockets outlive us (a restart): connections wait in their
		 * backlogs for the next waspd rather than meet draining pools */
		log_notice("signal %d: the service manager keeps the listening sockets: the "
			   "listener hands over what it holds, then the workers drain",
			   (int)sig);
		(void)sd_notify(0, "STOPPING=1\nSTATUS=handing over the listening sockets");
		env->retiring = true;
		adapters_quit(env);
		daemon_check_shutdown(env);
		return;
	}
	(void)snprintf(why, sizeof(why), "signal %d", (int)sig);
	daemon_stop(env, why);
}

static void
daemon_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

/* systemd's watchdog (WatchdogSec=): ping at half the interval from the
 * event loop, so a wedged loop stops the pings. */
static int
setup_watchdog(struct wasp_env *env)
{
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	usec /= 2;
	tv = wasp_timeval_from_usec(usec);
	env->watchdog = event_new(env->base, -1, EV_PERSIST, daemon_on_watchdog, env);
	if (!env->watchdog || event_add(env->watchdog, &tv) < 0)
		return -ENOMEM;
	log_info("systemd watchdog: pinging every %llu ms", (unsigned long long)(usec / 1000));
	return 0;
}

static void
daemon_on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct wasp_env *env = arg;
	_cleanup_free_ char *msg = NULL;

	/* daemon_reload logs what it did or why not */
	(void)daemon_reload(env, &msg);
}

static int
setup_signals(struct wasp_env *env)
{
	(void)signal(SIGPIPE, SIG_IGN);
	env->sig_chld = evsignal_new(env->base, SIGCHLD, reap_on_sigchld, env);
	env->sig_term = evsignal_new(env->base, SIGTERM, daemon_on_sigterm, env);
	env->sig_int = evsignal_new(env->base, SIGINT, daemon_on_sigterm, env);
	env->sig_hup = evsignal_new(env->base, SIGHUP, daemon_on_sighup, env);
	if (!env->sig_chld || !env->sig_term || !env->sig_int || !env->sig_hup)
		return -ENOMEM;
	if (event_add(env->sig_chld, NULL) < 0 || event_add(env->sig_term, NULL) < 0 ||
	    event_add(env->sig_int, NULL) < 0 || event_add(env->sig_hup, NULL) < 0)
		return -EIO;
	return 0;
}

static void
env_done(struct wasp_env *env)
{
	watch_close(env);
	control_close(env);
	adapter_sock_close(env);
	metrics_http_close(env);
	metrics_done(env);
	adapters_free(env);
	adapter_decls_done(&env->adapter_decls);
	pools_free(env);
	sockets_close(env);
	identity_done(&env->listener_ident);
	logdirs_forget(env);
	env->sig_chld = wasp_event_free(env->sig_chld);
	env->sig_term = wasp_event_free(env->sig_term);
	env->sig_int = wasp_event_free(env->sig_int);
	env->sig_hup = wasp_event_free(env->sig_hup);
	env->shutdown_timer = wasp_event_free(env->shutdown_timer);
	env->watchdog = wasp_event_free(env->watchdog);
	env->status_timer = wasp_event_free(env->status_timer);
	env->base = wasp_event_base_free(env->base);
	config_memfd_drop(env);
	safe_close(env->routes_fd);
	wasp_config_free(env->cfg);
	for (size_t i = 0; i < env->n_old_cfgs; i++)
		wasp_config_free(env->old_cfgs[i]);
	free(env->old_cfgs);
	for (size_t i = 0; i < env->n_prev_pool_names; i++)
		free(env->prev_pool_names[i]);
	free(env->prev_pool_names);
	free(env->site_stopped);
	free(env->runtime_dir);
	free(env->build_root);
	free(env->program_dir);
	free(env->exe);
	safe_close(env->restart_ready_fd);
}

/* ---- pool events: what the pools tell the adapters ------------------------ */

static void
daemon_on_pool_state(struct pool *p)
{
	struct wasp_msg_pool_state m = {
		.pool_id = p->id,
		.state = (uint32_t)p->state,
		.reason = (uint32_t)p->reason,
		.generation = p->env->generation,
	};

	routes_invalidate(p->env);
	adapters_send_pool_state(p->env, &m);
}

/* Test hook (--test-hooks only): WASP_TEST_SETUP_FAIL=POOL makes setting up
 * that pool's workers (configuration, routing table, handoff channels)
 * fail, as running out of descriptors would. */
static bool
worker_test_setup_fails(const struct pool *p)
{
	const char *pool = p->env->test_hooks ? getenv("WASP_TEST_SETUP_FAIL") : NULL;

	return pool && streq(pool, p->name);
}

/* The current routing table to worker w. */
static int
worker_send_routes(struct worker *w)
{
	struct wasp_env *env = w->pool->env;
	uint32_t gen = env->generation;
	int fd, r;

	fd = pool_routes_memfd(env, w->pool);
	if (fd < 0)
		return log_errno(fd, "routing table for worker %u", w->id);
	r = wasp_send_route_table(w->ch, 0, &gen, fd, WASP_IPC_SEND_CLOSE_FD);
	if (r < 0)
		return log_errno(r, "send routing table to worker %u", w->id);
	return 0;
}

void
pools_send_routes(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w; w = w->next)
			if (w->ch && w->state != WORKER_DEAD)
				(void)worker_send_routes(w);
}

/* A new worker's channel: its configuration, the routing table, then a
 * handoff channel per adapter. */
static int
daemon_on_worker_setup(struct worker *w)
{
	struct wasp_env *env = w->pool->env;
	struct wasp_msg_worker_config wc = {
		.pool_id = w->pool->id,
		.worker_id = w->id,
		.generation = env->generation,
		.flags = env->test_hooks ? WASP_WORKER_F_TEST_HEADERS : 0,
	};
	int fd, r;

	if (worker_test_setup_fails(w->pool))
		return -EMFILE;
	fd = config_memfd(env, w->pool);
	if (fd < 0)
		return log_errno(fd, "serialize the configuration for worker %u", w->id);
	r = wasp_send_worker_config(w->ch, 0, &wc, fd, WASP_IPC_SEND_CLOSE_FD);
	if (r < 0)
		return log_errno(r, "send configuration to worker %u", w->id);
	r = worker_send_routes(w);
	if (r < 0)
		return r;
	return adapters_pair_worker(env, w);
}

static void
daemon_on_worker_ready(struct worker *w)
{
	adapters_announce_worker(w->pool->env, w);
}

static void
daemon_on_worker_gone(struct worker *w)
{
	struct wasp_msg_worker_ref ref = {
		.pool_id = w->pool->id,
		.worker_id = w->id,
		.pid = (uint32_t)w->pid,
		.generation = w->pool->env->generation,
	};

	adapters_send_worker_gone(w->pool->env, &ref);
}

static int
daemon_on_worker_repair(struct worker *w, uint32_t adapter_id)
{
	return adapters_repair_worker(w->pool->env, w, adapter_id);
}

const struct pool_events daemon_pool_events = {
	.pool_state = daemon_on_pool_state,
	.worker_setup = daemon_on_worker_setup,
	.worker_ready = daemon_on_worker_ready,
	.worker_gone = daemon_on_worker_gone,
	.worker_repair = daemon_on_worker_repair,
	.worker_reaped = daemon_check_shutdown,
};

/* waspd holds every listening socket and two channel ends per worker, and
 * its children inherit its limit: the soft RLIMIT_NOFILE goes up to the hard
 * limit (docs/design.md "Descriptor limits"). */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(-errno, "raise the descriptor limit to %llu, ignoring",
				  (unsigned long long)rl.rlim_max);
}

/* Start-up in its order: the event loop and signals, the listening
 * sockets, the runtime directory and control socket, the pools, their log
 * directories, the adapters, the AlwaysRunning workers, the watchdog. */
static int
daemon_start(struct wasp_env *env, struct clock *clock)
{
	int r;

	env->base = event_base_new();
	if (!env->base)
		return log_errno(-ENOMEM, "event loop");
	if (sites_state_init(env) < 0)
		return log_errno(-ENOMEM, "site states");
	clock_init_event(clock, env->base);
	env->clock = clock;
	r = setup_signals(env);
	if (r < 0)
		return log_errno(r, "signals");
	r = adapter_decls_apply(env, env->cfg);
	if (r < 0)
		return r;
	r = sockets_bind(env);
	if (r < 0)
		return r;
	r = setup_runtime_dir(env);
	if (r < 0)
		return r;
	r = control_open(env);
	if (r < 0)
		return r;
	r = adapter_sock_open(env);
	if (r < 0)
		return r;
	watch_open(env);
	r = metrics_http_apply(env);
	if (r < 0)
		return r;
	r = pools_init(env);
	if (r < 0)
		return log_errno(r, "application pools");
	/* before any worker: they write the logs as their pools' identities */
	logdirs_prepare(env);
	r = adapters_start(env);
	if (r < 0)
		return r;
	routes_prepare_later(env);
	pools_autostart(env);
	r = setup_watchdog(env);
	if (r < 0)
		return log_errno(r, "watchdog");
	return 0;
}

int
daemon_main(int argc, char **argv)
{
	struct wasp_env env = {
		.uid_first = DEFAULT_UID_FIRST,
		.uid_last = DEFAULT_UID_LAST,
		.generation = 1,
		.routes_fd = -1,
		.restart_ready_fd = -1,
		.events = &daemon_pool_events,
		.procs = &proc_ops_real,
	};
	struct clock clock;
	int r;

	wasp_log_init("waspd", LOG_INFO);
	r = restart_init(&env, argv);
	if (r < 0)
		return EXIT_FAILURE;
	r = parse_args(&env, argc, argv);
	if (r != 0) {
		env_done(&env);
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	env.is_root = geteuid() == 0;
	raise_fd_limit();
	env.background_start = sched_background_possible();
	if (!env.background_start)
		log_debug("recycle replacements start at normal priority: no CAP_SYS_NICE, and "
			  "RLIMIT_NICE does not allow leaving SCHED_IDLE");

	r = load_config(&env);
	if (r < 0)
		goto fail;
	r = find_programs(&env);
	if (r < 0)
		goto fail;
	if (!env.is_root)
		log_warning("not running as root: the listener and every application pool run "
			    "as uid %u (development mode)",
			    (unsigned)geteuid());
	r = identity_listener(&env, &env.listener_ident);
	if (r < 0) {
		log_errno(r, "listener user '%s'",
			  env.listener_user ? env.listener_user : WASP_LISTENER_USER "/nobody");
		goto fail;
	}

	r = daemon_start(&env, &clock);
	if (r < 0)
		goto fail;

	log_notice("waspd %s serving %s: %zu pool(s), %zu site(s), %zu listening socket(s)",
		   WASP_VERSION, env.config_path, env.n_pools, env.ah->n_sites, env.n_socks);
	r = status_start(&env);
	if (r < 0) {
		log_errno(r, "status timer");
		goto fail;
	}
	restart_ready(&env);

	if (event_base_dispatch(env.base) < 0) {
		r = log_errno(-EIO, "event loop");
		goto fail;
	}
	log_notice("waspd stopped");
	env_done(&env);
	return EXIT_SUCCESS;

fail:
	/* Children started before the failure must not outlive us. */
	pools_kill_all(&env, SIGKILL);
	env_done(&env);
	return EXIT_FAILURE;
}
