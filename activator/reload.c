/* Configuration reload (SIGHUP, `waspctl reload`): read applicationHost.config
 * again and apply it without dropping a connection the change does not
 * affect. A file with an error changes nothing (every error is logged with
 * file, line and attribute; the first one goes back to waspctl). Otherwise
 * a new generation:
 *   - listening sockets: the ones that stay keep their descriptors (and
 *     backlogs); new bindings are bound (a failure there also changes
 *     nothing), sockets no binding needs any more are closed;
 *   - pools: records of pools that stay move over with their workers;
 *     new pools are added (AlwaysRunning ones started); removed pools
 *     stop (their workers drain) and leave the table at the next reload;
 *   - a pool whose workers would get a different configuration (its own
 *     settings, its sites, the sections they inherit) is recycled, with
 *     overlapping, unless recycling/@disallowRotationOnConfigChange; its
 *     workers still starting (sent the previous configuration) are
 *     started again;
 *   - the adapters get the new sockets (when they changed) and routing
 *     table, the workers the new routing table (docs/adapter-protocol.md
 *     "Later generations").
 * Earlier generations stay in memory while a removed pool still uses one. */
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "apphost.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "metrics_conf.h"
#include "waspd.h"

/* Reuse prev's entries when the file allows (config/reuse.c): 1 with
 * *ret_cfg and *ret_ah, 0 to load it whole, -ENOMEM. */
static int
config_reuse(const char *path, const struct wasp_config_opts *opts, struct wasp_config *prev,
	     struct wasp_config **ret_cfg, struct wasp_apphost **ret_ah, struct wasp_diag_list *diags)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (!prev)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	/* what cannot be read, the whole load reports */
	if (fd < 0 || wasp_read_fd(fd, WASP_CONFIG_FILE_MAX, &buf, &len) < 0)
		return 0;
	r = wasp_config_reload_buffer(buf, len, path, opts, prev, ret_cfg, ret_ah, diags);
	if (r == 1)
		log_info("%s: the unchanged sites and pools of the previous generation reused", path);
	return r;
}

/* "file:line: error: attribute 'x': message" of the first error. */
int
config_load(const char *path, const struct wasp_config_opts *opts, struct wasp_config *prev,
	    struct wasp_config **ret_cfg, struct wasp_apphost **ret_ah, struct wasp_diag_list *diags)
{
	int r = config_reuse(path, opts, prev, ret_cfg, ret_ah, diags);

	if (r < 0)
		return r;
	if (r == 0) {
		r = wasp_config_load_file(path, opts, ret_cfg, diags);
		if (r < 0 || !*ret_cfg)
			return r;
		r = wasp_apphost_build(*ret_cfg, wasp_config_arena(*ret_cfg), ret_ah, diags);
		if (r < 0)
			return r;
	}
	r = metrics_conf_check(*ret_cfg, diags);
	if (r >= 0)
		r = adapter_decls_read(*ret_cfg, NULL, diags);
	if (r < 0) {
		*ret_ah = NULL; /* in the configuration's arena */
		return r;
	}
	/* the typed view is all waspd reads of these two: their merged
	 * elements (a few KiB per site) go */
	wasp_config_section_release(*ret_cfg, "system.applicationHost/sites");
	wasp_config_section_release(*ret_cfg, "system.applicationHost/applicationPools");
	return 0;
}

static char *
first_error(const struct wasp_diag_list *d)
{
	for (size_t i = 0; i < d->n; i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f;

		if (d->items[i].severity != WASP_DIAG_ERROR)
			continue;
		f = open_memstream(&buf, &len);
		if (!f)
			return NULL;
		(void)wasp_diag_print(&d->items[i], f);
		if (fclose(f) != 0) {
			free(buf);
			return NULL;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			buf[--len] = '\0';
		return buf;
	}
	return NULL;
}

/* Whether a worker of pool `name` would get another configuration. */
static bool
pool_config_changed(const struct wasp_config *a, const struct wasp_apphost *a_ah,
		    const struct wasp_config *b, const struct wasp_apphost *b_ah, const char *name)
{
	_cleanup_free_ char *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;

	if (wasp_config_pool_digest(a, a_ah, name, &x, &nx) < 0 ||
	    wasp_config_pool_digest(b, b_ah, name, &y, &ny) < 0)
		return true;
	return nx != ny || memcmp(x, y, nx) != 0;
}

static void
names_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void
reload_gc(struct wasp_env *env)
{
	size_t k = 0;

	for (size_t i = 0; i < env->n_old_cfgs; i++) {
		bool used = false;

		for (size_t j = 0; j < env->n_pools && !used; j++)
			used = env->pools[j].gen == env->old_cfgs[i];
		if (used)
			env->old_cfgs[k++] = env->old_cfgs[i];
		else
			wasp_config_free(env->old_cfgs[i]);
	}
	env->n_old_cfgs = k;
}

static int
reload_fail(struct wasp_env *env, int r, char **ret_msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
reload_fail(struct wasp_env *env, int r, char **ret_msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_msg, fmt, ap) < 0)
		*ret_msg = NULL;
	va_end(ap);
	if (env->stopping || env->retiring)
		return r;
	env->reload_failed = true;
	status_notify(env, "READY=1");
	return r;
}

/* Load and build the configuration file: 0 with *ret_cfg and *ret_ah, or
 * what reload_fail() returns (diagnostics logged, nothing changed). */
static int
reload_load(struct wasp_env *env, struct wasp_config **ret_cfg, struct wasp_apphost **ret_ah,
	    char **ret_msg)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	struct wasp_config *cfg = NULL;
	int r;

	r = config_load(env->config_path, &opts, env->cfg, &cfg, ret_ah, &diags);
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_WARNING);
	if (r < 0) {
		_cleanup_free_ char *e = first_error(&diags);
		size_t n_errors = diags.n_errors;

		wasp_diag_list_done(&diags);
		wasp_config_free(cfg);
		if (n_errors) {
			log_error("%s: %zu error(s), the running configuration stays",
				  env->config_path, n_errors);
			return reload_fail(env, -EINVAL, ret_msg,
					   "%zu error(s), the running configuration stays: %s",
					   n_errors, e ? e : env->config_path);
		}
		log_errno(r, "cannot load %s, the running configuration stays", env->config_path);
		return reload_fail(env, r, ret_msg, "cannot load %s: %s; the running configuration stays",
				   env->config_path, strerror(-r));
	}
	wasp_diag_list_done(&diags);
	*ret_cfg = cfg;
	return 0;
}

/* Recycle the pools whose workers' configuration changed (changed[i] for
 * ah's pool i), unless disallowRotationOnConfigChange keeps them. */
static void
reload_recycle_changed(struct wasp_env *env, const struct wasp_apphost *ah, const bool *changed,
		       size_t *ret_recycled, size_t *ret_kept)
{
	for (size_t i = 0; i < ah->n_pools; i++) {
		struct pool *p = &env->pools[i];

		if (!changed[i])
			continue;
		if (p->cfg->recycling.disallow_rotation_on_config_change) {
			log_info("pool '%s': its configuration changed; disallowRotationOnConfigChange "
				 "keeps its workers",
				 p->name);
			(*ret_kept)++;
		} else if (pool_recycle_config(p) == 0) {
			(*ret_recycled)++;
		}
	}
}

/* The new generation is in place (its pools too): it becomes the running
 * one, and the adapters, the workers and the pools hear of it. Takes names. */
static void
reload_switch(struct wasp_env *env, struct wasp_config *cfg, struct wasp_apphost *ah,
	      char **names, size_t n_names, bool socks_changed)
{
	env->old_cfgs[env->n_old_cfgs++] = env->cfg;
	env->cfg = cfg;
	env->ah = ah;
	names_free(env->prev_pool_names, env->n_prev_pool_names);
	env->prev_pool_names = names;
	env->n_prev_pool_names = n_names;
	env->prev_generation = env->generation;
	env->generation++;
	config_memfd_drop(env);
	routes_invalidate(env);
	logdirs_prepare(env);
	adapters_send_generation(env, socks_changed);
	/* a protocol's first binding, or a listenerAdapters entry's program */
	(void)adapters_start(env);
	pools_send_routes(env);
	pools_reload_start(env);
	routes_prepare_later(env);
}

/* changed[i]: whether new pool i's running workers would get another
 * configuration than the running generation gave them. */
static int
pools_changed(struct wasp_env *env, const struct wasp_config *cfg, const struct wasp_apphost *ah,
	      bool *changed)
{
	struct name_table new_names;

	if (name_table_init(&new_names, ah->n_pools) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ah->n_pools; i++)
		name_table_add(&new_names, ah->pools[i].name, (uint32_t)i);
	for (size_t i = 0; i < env->n_pools; i++) {
		const struct pool *p = &env->pools[i];
		const struct name_ref *n;

		if (p->removed || !p->workers || !(n = name_table_find(&new_names, p->name)))
			continue;
		changed[n->index] = pool_config_changed(env->cfg, env->ah, cfg, ah, p->name);
	}
	name_table_done(&new_names);
	return 0;
}

int
daemon_reload(struct wasp_env *env, char **ret_msg)
{
	struct wasp_config *cfg = NULL, **olds;
	struct wasp_apphost *ah = NULL;
	struct pools_reload_stats st = { 0 };
	_cleanup_free_ bool *changed = NULL, *stopped = NULL;
	char **names = NULL;
	size_t n_names = 0, recycled = 0, kept = 0;
	uint64_t t0 = wasp_now_usec();
	bool socks_changed = false;
	int r;

	*ret_msg = NULL;
	if (env->stopping || env->retiring)
		return reload_fail(env, -ESHUTDOWN, ret_msg,
				   env->stopping ? "waspd is shutting down"
						 : "this waspd hands over to a restarted one; reload that");
	/* MONOTONIC_USEC: systemd 253+ wants it with RELOADING=1 (older ones
	 * ignore it) */
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
			 (unsigned long long)t0);
	log_notice("reloading %s", env->config_path);

	r = reload_load(env, &cfg, &ah, ret_msg);
	if (r < 0)
		return r;

	/* Which running pools' workers would get another configuration, and
	 * the pool names of the generation that ends (see adapter.c). */
	changed = calloc(ah->n_pools + 1, sizeof(*changed));
	names = calloc(env->n_pools + 1, sizeof(*names));
	olds = realloc(env->old_cfgs, (env->n_old_cfgs + 1) * sizeof(*olds));
	if (olds)
		env->old_cfgs = olds;
	if (!changed || !names || !olds)
		goto oom;
	for (n_names = 0; n_names < env->n_pools; n_names++) {
		names[n_names] = strdup(env->pools[n_names].name);
		if (!names[n_names])
			goto oom;
	}
	if (pools_changed(env, cfg, ah, changed) < 0 || !(stopped = sites_state_carry(env, ah)))
		goto oom;

	/* the new listenerAdapters decide which bindings get sockets */
	struct adapter_decls old_decls = env->adapter_decls;
	env->adapter_decls = (struct adapter_decls){ 0 };
	r = adapter_decls_apply(env, cfg);
	if (r >= 0)
		r = sockets_reload(env, ah, &socks_changed);
	if (r < 0) {
		adapter_decls_done(&env->adapter_decls);
		env->adapter_decls = old_decls;
		names_free(names, n_names);
		wasp_config_free(cfg);
		return reload_fail(env, r, ret_msg,
				   "cannot listen on the new bindings (%s, see the log); the running "
				   "configuration stays",
				   strerror(-r));
	}
	adapter_decls_done(&old_decls);
	r = pools_reload(env, cfg, ah, &st);
	if (r < 0) /* the sockets are switched already: no way back */
		wasp_fatal("reload: application pools: out of memory");

	free(env->site_stopped);
	env->site_stopped = TAKE_PTR(stopped);
	reload_switch(env, cfg, ah, names, n_names, socks_changed);
	reload_recycle_changed(env, ah, changed, &recycled, &kept);
	reload_gc(env);
	(void)malloc_trim(0);
	/* the metrics endpoint moved, opened or closed: one that cannot
	 * listen is logged and stays closed */
	(void)metrics_http_apply(env);

	if (asprintf(ret_msg,
		     "reloaded %s in %.1f ms: generation %u, %zu pool(s) (%zu added, %zu removed, "
		     "%zu recycled, %zu changed but kept), %zu site(s), %zu listening socket(s)",
		     env->config_path, (double)(wasp_now_usec() - t0) / 1000.0, env->generation,
		     ah->n_pools, st.added, st.removed, recycled, kept, ah->n_sites,
		     env->n_socks) < 0)
		*ret_msg = NULL;
	log_notice("%s", *ret_msg ? *ret_msg : "configuration reloaded");
	env->reload_failed = false;
	status_notify(env, "READY=1");
	return 0;

oom:
	names_free(names, n_names);
	wasp_config_free(cfg);
	return reload_fail(env, -ENOMEM, ret_msg, "out of memory; the running configuration stays");
}
