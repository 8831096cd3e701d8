/* The built-in module table and the process-level module calls. Built-in
 * modules register through exactly the API (wasp/module.h) that modules
 * loaded from .so files will use. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

extern const struct wasp_module mod_httplog;
extern const struct wasp_module mod_defaultdoc;
extern const struct wasp_module mod_dirlist;
static const struct wasp_module *const builtin_modules[] = {
	&mod_static,
	&mod_httplog,
	&mod_defaultdoc,
	&mod_dirlist,
};

static int
module_load(const struct wasp_module *m, struct wasp_server *srv, struct wasp_hooks *hooks)
{
	int r;

	if (m->abi != WASP_MODULE_ABI)
		return log_errno(-EPROTO, "module '%s': ABI %u, this worker has %u", m->name,
				 m->abi, WASP_MODULE_ABI);
	if (m->init_process) {
		r = m->init_process(srv);
		if (r < 0)
			return log_errno(r, "module '%s': init_process", m->name);
	}
	r = m->register_hooks ? m->register_hooks(hooks) : 0;
	if (r < 0)
		return log_errno(r, "module '%s': register_hooks", m->name);
	return 0;
}

int
modules_init(struct wasp_server *srv, struct wasp_hooks *hooks, bool test_hooks)
{
	int r;

	if (test_hooks) {
		r = module_load(&mod_test, srv, hooks);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(builtin_modules); i++) {
		r = module_load(builtin_modules[i], srv, hooks);
		if (r < 0)
			return r;
	}
	return 0;
}

void
modules_exit(struct wasp_server *srv)
{
	for (size_t i = ELEMENTSOF(builtin_modules); i-- > 0;)
		if (builtin_modules[i]->exit_process)
			builtin_modules[i]->exit_process(srv);
	if ((srv->env->flags & WASP_WORKER_F_TEST_HEADERS) && mod_test.exit_process)
		mod_test.exit_process(srv);
}

const char *
wasp_server_pool_name(const struct wasp_server *srv)
{
	return strempty(srv->env->pool_name);
}

struct event_base *
wasp_server_event_base(struct wasp_server *srv)
{
	return srv->env->base;
}

const struct wasp_element *
wasp_server_config(struct wasp_server *srv, const char *section)
{
	if (!srv->env->config || !section)
		return NULL;
	return wasp_config_section(srv->env->config, section);
}

void
wasp_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)wasp_log_internalv(priority < LOG_ERR ? LOG_ERR : priority, 0, fmt, ap);
	va_end(ap);
}

/* ---- module-owned configuration state ---- */

struct cstate {
	const struct wasp_element *elem; /* NULL: free slot */
	wasp_config_build_fn build;
	void *userdata;
	void *state;
	void (*free_fn)(void *);
};

static size_t
cstate_hash(const struct wasp_element *e, wasp_config_build_fn build, void *userdata)
{
	uint64_t h = (uint64_t)(uintptr_t)e * 0x9E3779B97F4A7C15ULL;

	h ^= (uint64_t)(uintptr_t)build * 0xC2B2AE3D27D4EB4FULL;
	h ^= (uint64_t)(uintptr_t)userdata * 0x165667B19E3779F9ULL;
	return (size_t)(h ^ (h >> 29));
}

static int
cstates_grow(struct wasp_env *env)
{
	size_t n = env->n_cstates_alloc ? env->n_cstates_alloc * 2 : 64;
	struct cstate *a = calloc(n, sizeof(*a));

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < env->n_cstates_alloc; i++) {
		struct cstate *o = &env->cstates[i];
		size_t j;

		if (!o->elem)
			continue;
		for (j = cstate_hash(o->elem, o->build, o->userdata) & (n - 1); a[j].elem;
		     j = (j + 1) & (n - 1))
			;
		a[j] = *o;
	}
	free(env->cstates);
	env->cstates = a;
	env->n_cstates_alloc = n;
	return 0;
}

const void *
wasp_request_config_state(struct wasp_request *req, const char *section,
			  wasp_config_build_fn build, void (*free_fn)(void *), void *userdata)
{
	struct wasp_env *env = req->env;
	const struct wasp_element *e = wasp_request_config(req, section);
	size_t mask, i;

	if (!e || !build)
		return NULL;
	if (env->n_cstates_alloc) {
		mask = env->n_cstates_alloc - 1;
		for (i = cstate_hash(e, build, userdata) & mask; env->cstates[i].elem;
		     i = (i + 1) & mask) {
			struct cstate *c = &env->cstates[i];
			if (c->elem == e && c->build == build && c->userdata == userdata)
				return c->state;
		}
	}
	/* the first request with this effective section: build it once (the
	 * element lives as long as the configuration, so its address is a key) */
	if ((env->n_cstates + 1) * 2 > env->n_cstates_alloc && cstates_grow(env) < 0)
		return NULL;
	mask = env->n_cstates_alloc - 1;
	for (i = cstate_hash(e, build, userdata) & mask; env->cstates[i].elem; i = (i + 1) & mask)
		;
	env->cstates[i] = (struct cstate){
		.elem = e,
		.build = build,
		.userdata = userdata,
		.state = build(e, userdata),
		.free_fn = free_fn,
	};
	env->n_cstates++;
	return env->cstates[i].state;
}

void
config_states_free(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_cstates_alloc; i++) {
		struct cstate *c = &env->cstates[i];
		if (c->elem && c->state && c->free_fn)
			c->free_fn(c->state);
	}
	free(env->cstates);
	env->cstates = NULL;
	env->n_cstates = env->n_cstates_alloc = 0;
}
