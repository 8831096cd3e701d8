/* The worker's process state: set-up, this pool's applications and their
 * virtual directories (from the typed apphost view), and the drained check. */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "apphost.h"
#include "arena.h"
#include "config.h"
#include "libevent-util.h"
#include "memfd.h"
#include "route.h"
#include "log.h"
#include "util.h"
#include "worker.h"

int
env_init(struct worker_env *env, struct event_base *base)
{
	if (!(event_base_get_features(base) & EV_FEATURE_ET))
		return log_errno(-EOPNOTSUPP, "the event loop backend '%s' has no edge triggering",
				 event_base_get_method(base));
	env->base = base;
	env->server.env = env;
	env->pid = getpid();
	env->limits = wasp_http_default_limits;
	env->header_timeout_usec = WORKER_HEADER_TIMEOUT_USEC;
	env->routes_fd = -1;
	env->fcache = fcache_new(0);
	if (!env->fcache)
		return -ENOMEM;
	return 0;
}

void
env_fit_fd_limit(struct worker_env *env)
{
	struct rlimit rl;
	uint64_t soft, fc, n;
	const char *s;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	/* Test hook, with WASP_WORKER_F_TEST_HEADERS only (waspd --test-hooks
	 * passes it as WASP_TEST_WORKER_NOFILE=POOL:N): a lower limit. */
	if ((env->flags & WASP_WORKER_F_TEST_HEADERS) && (s = getenv("WASP_TEST_NOFILE")) &&
	    wasp_parse_u64(s, UINT32_MAX, &n) >= 0 && n < rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max = n;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warning_errno(-errno, "WASP_TEST_NOFILE=%s, ignoring", s);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	soft = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : MIN((uint64_t)rl.rlim_cur, UINT32_MAX);
	/* the open file cache gets a quarter, at most FCACHE_MAX */
	fc = MAX(MIN((uint64_t)FCACHE_MAX, soft / 4), 1);
	if (!env->fcache || fcache_size(env->fcache) == 0) {
		struct fcache *nc = fcache_new(fc);
		if (nc) {
			fcache_free(env->fcache);
			env->fcache = nc;
		}
	}
	env->conn_max = soft > fc + WORKER_FD_RESERVE ? (uint32_t)(soft - fc - WORKER_FD_RESERVE)
						      : 1;
	log_debug("descriptor limit %llu: at most %u connections, %llu cached files",
		  (unsigned long long)soft, env->conn_max, (unsigned long long)fc);
}

int
env_load_modules(struct worker_env *env, uint32_t flags)
{
	int r;

	env->flags = flags;
	env->hooks = hooks_new();
	if (!env->hooks)
		return -ENOMEM;
	r = modules_init(env, flags & WASP_WORKER_F_TEST_HEADERS);
	if (r < 0)
		return r;
	hooks_seal(env->hooks);
	return 0;
}

static void
apps_free(struct worker_env *env)
{
	for (size_t i = 0; i < env->n_apps; i++) {
		for (size_t j = 0; j < env->apps[i].n_vdirs; j++)
			vdir_close(&env->apps[i].vdirs[j]);
		pipe_unref(env->apps[i].pipe);
		env->apps[i].pipe = NULL;
	}
	env->apps = NULL;
	env->n_apps = 0;
	env->apps_arena = wasp_arena_free(env->apps_arena);
}

void
env_done(struct worker_env *env)
{
	conn_free_all(env);
	streamconn_free_all(env);
	worker_preload_free();
	wchan_close_all(env);
	env->exit_timer = wasp_event_free(env->exit_timer);
	env->stats_timer = wasp_event_free(env->stats_timer);
	env->exit_timer = env->stats_timer = NULL;
	while (env->n_spare_bufs > 0)
		free(env->spare_bufs[--env->n_spare_bufs]);
	while (env->n_spare_arenas > 0)
		wasp_arena_free(env->spare_arenas[--env->n_spare_arenas]);
	env->fcache = fcache_free(env->fcache);
	config_states_free(env);
	if (env->hooks)
		modules_exit(env);
	env->hooks = hooks_free(env->hooks);
	apps_free(env);
	env->routes = wasp_route_table_free(env->routes);
	env->routes_fd = safe_close(env->routes_fd);
	free(env->pool_name);
	env->pool_name = NULL;
}

static int
vdir_cmp(const void *a, const void *b)
{
	const struct wvdir *x = a, *y = b;

	return x->url_len > y->url_len ? -1 : x->url_len < y->url_len;
}

/* "/" + "/img" -> "/img"; "/app" + "/" -> "/app"; "/app" + "/img" -> "/app/img". */
static char *
vdir_url(struct wasp_arena *a, const char *app_path, const char *vdir_path)
{
	size_t n;
	char *s;

	if (streq(app_path, "/"))
		s = wasp_arena_strdup(a, vdir_path);
	else if (streq(vdir_path, "/"))
		s = wasp_arena_strdup(a, app_path);
	else
		s = wasp_arena_printf(a, "%s%s", app_path, vdir_path);
	if (!s)
		return NULL;
	n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

/* Whether the site (or siteDefaults, when the configuration merged it in)
 * writes its own limits connectionTimeout; otherwise webLimits' applies, as
 * HTTP.sys's server-wide timer does for a site that does not set one. */
static bool
site_sets_connection_timeout(const struct wasp_element *sites, const char *name)
{
	const struct wasp_element *site = sites && name ? wasp_element_find_item(sites, name) : NULL;
	const struct wasp_attr *at =
		site ? wasp_element_attr(wasp_element_child(site, "limits"), "connectionTimeout")
		     : NULL;

	return !sites || (at && at->is_set);
}

int
env_build_apps(struct worker_env *env)
{
	const struct wasp_apphost *ah = env->apphost;
	const struct wasp_element *wl, *sites;
	struct wasp_arena *a;
	uint64_t web_timeout;
	size_t n = 0, k = 0;

	apps_free(env);
	/* webLimits minBytesPerSecond (defaults applied: IIS's 240) and
	 * connectionTimeout (a site's own limits connectionTimeout wins) */
	wl = env->config ? wasp_config_section(env->config, "system.applicationHost/webLimits")
			 : NULL;
	sites = env->config ? wasp_config_section(env->config, "system.applicationHost/sites")
			    : NULL;
	env->min_bytes_per_sec = wasp_element_get_uint(wl, "minBytesPerSecond", 0);
	web_timeout = wasp_element_get_uint(wl, "connectionTimeout", 0);
	if (!ah || !env->pool_name)
		return 0;
	for (size_t i = 0; i < ah->n_sites; i++)
		for (size_t j = 0; j < ah->sites[i].n_apps; j++)
			if (strcaseeq(strempty(ah->sites[i].apps[j].application_pool),
				      env->pool_name))
				n++;
	a = env->apps_arena = wasp_arena_new();
	if (!a)
		return -ENOMEM;
	env->apps = wasp_arena_zalloc(a, MAX(n, (size_t)1) * sizeof(struct wapp));
	if (!env->apps)
		return -ENOMEM;
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *site = &ah->sites[i];

		for (size_t j = 0; j < site->n_apps; j++) {
			const struct wasp_application *app = &site->apps[j];
			struct wapp *w;

			if (!strcaseeq(strempty(app->application_pool), env->pool_name))
				continue;
			w = &env->apps[k++];
			w->site_id = site->id;
			w->site_name = site->name;
			w->path = app->path;
			w->path_len = strlen(app->path);
			w->preload = app->preload_enabled;
			w->connection_timeout_usec =
				site_sets_connection_timeout(sites, site->name)
					? site->limits.connection_timeout
					: web_timeout;
			w->vdirs = wasp_arena_zalloc(a, MAX(app->n_vdirs, (size_t)1) *
								sizeof(struct wvdir));
			if (!w->vdirs)
				return -ENOMEM;
			for (size_t v = 0; v < app->n_vdirs; v++) {
				struct wvdir *d = &w->vdirs[w->n_vdirs];
				char *phys;
				size_t len;

				d->url = vdir_url(a, app->path, app->vdirs[v].path);
				phys = wasp_arena_strdup(a, app->vdirs[v].physical_path);
				if (!d->url || !phys)
					return -ENOMEM;
				len = strlen(phys);
				while (len > 1 && phys[len - 1] == '/')
					phys[--len] = '\0';
				d->url_len = strlen(d->url);
				d->physical_path = phys;
				d->root_fd = -1;
				w->n_vdirs++;
			}
			qsort(w->vdirs, w->n_vdirs, sizeof(struct wvdir), vdir_cmp);
		}
	}
	env->n_apps = k;
	return 0;
}

void
env_set_routes_fd(struct worker_env *env, int fd)
{
	safe_close(env->routes_fd);
	env->routes_fd = fd;
}

struct wasp_route_table *
env_routes(struct worker_env *env)
{
	_cleanup_close_ int fd = TAKE_FD(env->routes_fd);
	_cleanup_free_ char *buf = NULL;
	struct wasp_route_table *t = NULL;
	char err[256] = "";
	size_t len;
	int r;

	if (fd < 0)
		return env->routes;
	r = wasp_memfd_read(fd, WORKER_ROUTES_MAX_BYTES, &buf, &len);
	if (r >= 0)
		r = wasp_route_table_parse(buf, len, NULL, &t, err, sizeof(err));
	if (r < 0) {
		log_warning_errno(r, "routing table %s, keeping the previous one", err);
		return env->routes;
	}
	wasp_route_table_free(env->routes);
	env->routes = t;
	env->routes_gen++;
	env->route_pool = env->pool_name ? wasp_route_pool_by_name(t, env->pool_name) : NULL;
	return t;
}

struct wapp *
env_find_app(struct worker_env *env, uint32_t site_id, const char *path)
{
	for (size_t i = 0; i < env->n_apps; i++) {
		struct wapp *w = &env->apps[i];
		if (w->site_id == site_id && strcaseeq(w->path, path))
			return w;
	}
	return NULL;
}

static void
env_on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
	env_check_drained(arg);
}

void
env_check_drained(struct worker_env *env)
{
	if (!env->draining || env->n_conns > 0)
		return;
	if (wchan_queued(env) > 0) {
		/* a HANDBACK still waits for room on its channel: look again soon */
		struct timeval tv = { 0, 10000 };
		if (!env->exit_timer)
			env->exit_timer = evtimer_new(env->base, env_on_exit_timer, env);
		if (env->exit_timer && evtimer_add(env->exit_timer, &tv) == 0)
			return;
	}
	log_debug("drained, exiting");
	event_base_loopbreak(env->base);
}
