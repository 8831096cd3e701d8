/* The module registry: the built-in module table, the modules loaded from
 * .so files listed in system.webServer/globalModules, and the process-level
 * module calls. Built-in modules register through exactly the API
 * (wasp/module.h) that loaded modules use. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builtin_modules.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* The built-in modules, each always available by name and enabled per
 * application by <modules> (builtin_modules.h lists them). */
#define X(sym, name) extern const struct wasp_module sym;
WASP_BUILTIN_MODULES(X)
#undef X

static const struct {
	const struct wasp_module *m;
	const char *name; /* as the built-in <modules> list names it */
} builtin_modules[] = {
#define X(sym, name) { &sym, name },
	WASP_BUILTIN_MODULES(X)
#undef X
};

#define GLOBAL_MODULES_SECTION "system.webServer/globalModules"
#define MODULE_SYMBOL "wasp_module"

static bool
is_builtin_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(builtin_modules); i++)
		if (strcaseeq(builtin_modules[i].name, name))
			return true;
	return false;
}

int
module_find(const struct worker_env *env, const char *name, size_t len)
{
	for (size_t i = 0; i < env->n_modules; i++)
		if (strlen(env->modules[i].name) == len &&
		    strncasecmp(env->modules[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static int
module_add(struct worker_env *env, const struct wasp_module *m, const char *name, const char *image,
	   void *dl, bool core)
{
	if (env->n_modules == WORKER_MAX_MODULES)
		return log_errno(-E2BIG, "module '%s': more than %d modules", name,
				 WORKER_MAX_MODULES);
	if (module_find(env, name, strlen(name)) >= 0)
		return log_errno(-EEXIST, "module '%s' is listed twice", name);
	env->modules[env->n_modules++] =
		(struct wmodule){ .m = m, .name = name, .image = image, .dl = dl, .core = core };
	return 0;
}

/* dlopen image and add the module it exports. An error names the file. */
static int
module_load_image(struct worker_env *env, const char *name, const char *image)
{
	const struct wasp_module *m;
	void *dl;
	int r;

	if (*image != '/')
		return log_errno(-EINVAL,
				 "module '%s': image '%s' is not an absolute path", name, image);
	dl = dlopen(image, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return log_errno(-ELIBBAD, "module '%s': cannot load '%s': %s", name, image,
				 dlerror());
	m = dlsym(dl, MODULE_SYMBOL);
	if (!m) {
		log_error("module '%s': '%s' exports no '" MODULE_SYMBOL "'", name, image);
		dlclose(dl);
		return -ELIBBAD;
	}
	if (m->abi != WASP_MODULE_ABI) {
		log_error("module '%s': '%s' was built for module ABI %u, this worker has %u", name,
			  image, m->abi, WASP_MODULE_ABI);
		dlclose(dl);
		return -ELIBBAD;
	}
	r = module_add(env, m, name, image, dl, false);
	if (r < 0)
		dlclose(dl);
	return r;
}

/* globalModules: a built-in's name (whatever its image: "builtin", or an
 * IIS .dll path) is the built-in; a Windows .dll is skipped with a warning
 * (a real IIS file loads as it is); anything else is dlopen'ed. */
static int
modules_load_global(struct worker_env *env)
{
	const struct wasp_element *sec;

	if (!env->config)
		return 0;
	sec = wasp_config_section(env->config, GLOBAL_MODULES_SECTION);
	if (!sec)
		return 0;
	for (size_t i = 0; i < sec->n_items; i++) {
		const struct wasp_element *it = sec->items[i];
		const char *name = wasp_element_get_str(it, "name", "");
		const char *image = wasp_element_get_str(it, "image", "");
		size_t n = strlen(image);
		int r;

		if (!*name || is_builtin_name(name))
			continue;
		if (streq(image, "builtin")) {
			log_warning("globalModules: no built-in module '%s', ignored", name);
			continue;
		}
		if (n >= 4 && strcaseeq(image + n - 4, ".dll")) {
			log_debug("globalModules: '%s' (%s) is a Windows module, ignored", name,
				  image);
			continue;
		}
		r = module_load_image(env, name, image);
		if (r < 0)
			return r;
	}
	return 0;
}

int
modules_init(struct worker_env *env, bool test_hooks)
{
	struct wasp_hooks *hooks = env->hooks;
	int r;

	/* the core's own, before any module's: no <modules> list removes them */
	r = sslpolicy_register(hooks);
	if (r < 0)
		return log_errno(r, "the HTTPS policy's hooks");
	if (test_hooks) {
		r = module_add(env, &mod_test, mod_test.name, NULL, NULL, true);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(builtin_modules); i++) {
		const struct wasp_module *m = builtin_modules[i].m;

		/* the built-in <modules> list enables it by the listed name */
		if (!m->name || !streq(m->name, builtin_modules[i].name))
			return log_errno(-EPROTO, "built-in module '%s' is named '%s'",
					 builtin_modules[i].name, strempty(m->name));
		r = module_add(env, m, m->name, NULL, NULL, false);
		if (r < 0)
			return r;
	}
	r = modules_load_global(env);
	if (r < 0)
		return r;
	for (size_t i = 0; i < env->n_modules; i++) {
		const struct wmodule *w = &env->modules[i];
		const char *what = w->image ? w->image : "built in";

		if (w->m->abi != WASP_MODULE_ABI)
			return log_errno(-EPROTO, "module '%s' (%s): ABI %u, this worker has %u",
					 w->name, what, w->m->abi, WASP_MODULE_ABI);
		r = module_register(env, (uint32_t)i);
		if (r < 0)
			return r;
		if (w->m->init_process) {
			r = w->m->init_process(&env->server);
			if (r < 0)
				return log_errno(r, "module '%s' (%s): init_process", w->name,
						 what);
		}
		hooks->cur_module = (uint32_t)i;
		r = w->m->register_hooks ? w->m->register_hooks(hooks) : 0;
		hooks->cur_module = WHOOK_CORE;
		if (r < 0)
			return log_errno(r, "module '%s' (%s): register_hooks", w->name, what);
	}
	return 0;
}

static size_t
module_hash(const struct wasp_module *m)
{
	uint64_t h = (uint64_t)(uintptr_t)m * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 32) & (WORKER_MODULE_INDEX_SLOTS - 1);
}

int
module_register(struct worker_env *env, uint32_t i)
{
	const struct wmodule *w = &env->modules[i];
	const struct wasp_module *m = w->m;
	size_t j;

	for (j = module_hash(m); env->module_keys[j]; j = (j + 1) & (WORKER_MODULE_INDEX_SLOTS - 1))
		if (env->module_keys[j] == m)
			return log_errno(-EEXIST, "module '%s': its struct is loaded twice", w->name);
	env->module_keys[j] = m;
	env->module_slots[j] = (uint8_t)(i + 1);
	env->modules[i].conf_base = (uint32_t)env->n_confs;
	if (m->n_sections > WORKER_MAX_MODULE_SECTIONS - env->n_confs ||
	    (m->n_sections && !m->sections))
		return log_errno(-E2BIG, "module '%s': too many configuration sections", w->name);
	for (size_t k = 0; k < m->n_sections; k++) {
		const struct wasp_module_section *sec = &m->sections[k];

		if (!sec->name || !sec->build)
			return log_errno(-EINVAL, "module '%s': section %zu has no name or build",
					 w->name, k);
		/* what wasp cannot read it does not pretend to serve */
		if (env->config && !wasp_config_section(env->config, sec->name))
			return log_errno(-ENOENT, "module '%s': no configuration section '%s' in the schema",
					 w->name, sec->name);
		env->confs[env->n_confs++] = (struct wconf){ .sec = sec, .env = env };
	}
	return 0;
}

int
module_index(const struct worker_env *env, const struct wasp_module *m)
{
	for (size_t j = module_hash(m); env->module_keys[j];
	     j = (j + 1) & (WORKER_MODULE_INDEX_SLOTS - 1))
		if (env->module_keys[j] == m)
			return env->module_slots[j] - 1;
	return -1;
}

void
modules_exit(struct worker_env *env)
{
	for (size_t i = env->n_modules; i-- > 0;) {
		struct wmodule *w = &env->modules[i];

		if (w->m->exit_process)
			w->m->exit_process(&env->server);
		/* a loaded module's code stays mapped: hooks and state may still
		 * point into it until the process ends */
	}
	env->n_modules = 0;
	memset(env->module_keys, 0, sizeof(env->module_keys));
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
cstates_grow(struct worker_env *env)
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
config_state_get(struct worker_env *env, const struct wasp_element *e, wasp_config_build_fn build,
		 void (*free_fn)(void *), void *userdata)
{
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

static void *
conf_build(const struct wasp_element *e, void *userdata)
{
	struct wconf *c = userdata;

	return c->sec->build(e, &c->env->server);
}

const void *
module_conf_get(struct worker_env *env, size_t i, const struct wasp_element *e)
{
	struct wconf *c = &env->confs[i];

	/* keyed by (element, build, userdata): one struct per distinct
	 * element and declared section */
	return config_state_get(env, e, conf_build, c->sec->free_conf, c);
}

void
config_states_free(struct worker_env *env)
{
	request_config_cache_free(env); /* it points at the states */
	for (size_t i = 0; i < env->n_cstates_alloc; i++) {
		struct cstate *c = &env->cstates[i];
		if (c->elem && c->state && c->free_fn)
			c->free_fn(c->state);
	}
	free(env->cstates);
	env->cstates = NULL;
	env->n_cstates = env->n_cstates_alloc = 0;
}
