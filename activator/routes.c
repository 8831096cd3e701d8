/* The routing table (docs/adapter-protocol.md): sockets, pools (with their
 * current state) and sites with bindings and applications, as JSON in a
 * sealed memfd. Adapters route connections with it; workers use it to tell
 * whether a request on a keep-alive connection belongs to their pool. */
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>

#include "apphost.h"
#include "config.h"
#include "memfd.h"
#include "log.h"
#include "waspd.h"

#define USEC_PER_MSEC 1000ULL
#define SEC_WEB_LIMITS "system.applicationHost/webLimits"

static json_t *
routes_build(struct wasp_env *env)
{
	json_t *root = json_object(), *socks = json_array(), *pools = json_array(),
	       *sites = json_array();
	/* webLimits headerWaitTimeout: 0 (IIS's default) leaves the adapter's own
	 * limit (wasp-http: 30 s) */
	const struct wasp_element *wl =
		env->cfg ? wasp_config_section(env->cfg, SEC_WEB_LIMITS) : NULL;
	uint64_t header_wait = wasp_element_get_uint(wl, "headerWaitTimeout", 0) / USEC_PER_MSEC;
	uint64_t per_client = wasp_element_get_uint(wl, "maxConnectionsPerClient", 0);
	int r = 0;

	if (!root || !socks || !pools || !sites)
		goto oom;
	r |= json_object_set_new(root, "generation", json_integer(env->generation));
	r |= json_object_set_new(root, "headerWaitTimeoutMs",
				 json_integer((json_int_t)header_wait));
	r |= json_object_set_new(root, "maxConnectionsPerClient",
				 json_integer((json_int_t)per_client));
	r |= json_object_set(root, "sockets", socks);
	r |= json_object_set(root, "pools", pools);
	r |= json_object_set(root, "sites", sites);

	for (size_t i = 0; i < env->n_socks; i++) {
		const struct listen_sock *s = &env->socks[i];
		r |= json_array_append_new(socks,
					   json_pack("{s:I, s:s, s:s, s:i}", "id", (json_int_t)s->id,
						     "protocol", s->protocol, "address",
						     s->address, "port", (int)s->port));
	}
	for (size_t i = 0; i < env->n_pools; i++) {
		const struct pool *p = &env->pools[i];
		const struct wasp_apppool *c = p->cfg;
		r |= json_array_append_new(
			pools,
			json_pack("{s:I, s:s, s:s, s:I, s:s, s:I, s:I}", "id", (json_int_t)p->id,
				  "name", p->name, "state", pool_state_name(p->state),
				  "queueLength", (json_int_t)c->queue_length,
				  "loadBalancerCapabilities",
				  c->failure.load_balancer_capabilities == WASP_LB_TCP_LEVEL
					  ? "TcpLevel"
					  : "HttpLevel",
				  "startupTimeLimitMs",
				  (json_int_t)(c->process_model.startup_time_limit / USEC_PER_MSEC),
				  "maxProcesses", (json_int_t)c->process_model.max_processes));
	}
	for (size_t i = 0; i < env->ah->n_sites; i++) {
		const struct wasp_site *site = &env->ah->sites[i];
		json_t *bindings = json_array(), *apps = json_array(), *js;

		js = json_pack("{s:I, s:s, s:o, s:o, s:I, s:I}", "id", (json_int_t)site->id,
			       "name", site->name, "bindings", bindings, "apps", apps,
			       "connectionTimeoutMs",
			       (json_int_t)(site->limits.connection_timeout / USEC_PER_MSEC),
			       "maxConnections", (json_int_t)site->limits.max_connections);
		if (!js)
			goto oom;
		r |= json_array_append_new(sites, js);
		for (size_t j = 0; j < site->n_bindings; j++) {
			const struct wasp_binding *b = &site->bindings[j];
			r |= json_array_append_new(bindings,
						   json_pack("{s:s, s:s, s:i, s:s}", "protocol",
							     b->protocol, "address", b->ip, "port",
							     (int)b->port, "host", strempty(b->host)));
		}
		for (size_t j = 0; j < site->n_apps; j++) {
			const struct wasp_application *a = &site->apps[j];
			if (a->pool_id == UINT32_MAX || a->pool_id >= env->n_pools)
				continue; /* reported when the configuration was loaded */
			r |= json_array_append_new(apps, json_pack("{s:s, s:I}", "path", a->path,
								   "pool", (json_int_t)a->pool_id));
		}
	}
	json_decref(socks);
	json_decref(pools);
	json_decref(sites);
	if (r)
		goto oom_root;
	return root;
oom:
	json_decref(socks);
	json_decref(pools);
	json_decref(sites);
oom_root:
	json_decref(root);
	return NULL;
}

char *
routes_json(struct wasp_env *env)
{
	json_t *j = routes_build(env);
	char *s;

	if (!j)
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* The table only changes with a pool's state (and, later, a reload), so
 * one sealed memfd serves every worker and adapter until then; each gets
 * its own descriptor of it (receivers read it with pread, so the shared
 * file offset does not matter). */
int
routes_memfd(struct wasp_env *env)
{
	int fd;

	if (env->routes_fd < 0) {
		_cleanup_free_ char *s = routes_json(env);
		if (!s)
			return -ENOMEM;
		fd = wasp_memfd_create_sealed("wasp-routes", s, strlen(s));
		if (fd < 0)
			return fd;
		env->routes_fd = fd;
	}
	fd = fcntl(env->routes_fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

void
routes_invalidate(struct wasp_env *env)
{
	env->routes_fd = safe_close(env->routes_fd);
}

/* Made once per pool and generation (a worker of the pool gets its own
 * descriptor of it): a worker's start and memory then depend on its own
 * sites, not on how many the generation has. A new generation drops them
 * all. */
int
config_memfd(struct wasp_env *env, const struct pool *p)
{
	int fd;

	if (env->config_fds && env->config_fds_generation != env->generation)
		config_memfd_drop(env);
	if (p->id >= env->n_config_fds) {
		size_t n = MAX(env->n_pools, (size_t)p->id + 1);
		int *v = realloc(env->config_fds, n * sizeof(int));

		if (!v)
			return -ENOMEM;
		for (size_t i = env->n_config_fds; i < n; i++)
			v[i] = -1;
		if (!env->config_fds)
			/* once per generation, at its first worker: what loading it
			 * and building its first routing tables freed (several times
			 * the configuration's size) goes back to the system */
			(void)malloc_trim(0);
		env->config_fds = v;
		env->n_config_fds = n;
		env->config_fds_generation = env->generation;
	}
	if (env->config_fds[p->id] < 0) {
		fd = wasp_config_serialize_pool_memfd(env->cfg, env->ah, p->name);
		if (fd < 0)
			return fd;
		env->config_fds[p->id] = fd;
	}
	fd = fcntl(env->config_fds[p->id], F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

void
config_memfd_drop(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_config_fds; i++)
		safe_close(env->config_fds[i]);
	free(env->config_fds);
	env->config_fds = NULL;
	env->n_config_fds = 0;
}
