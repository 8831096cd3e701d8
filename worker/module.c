/* The built-in module table and the process-level module calls. Built-in
 * modules register through exactly the API (wasp/module.h) that modules
 * loaded from .so files will use. */
#include <errno.h>

#include "log.h"
#include "util.h"
#include "worker.h"

static const struct wasp_module *const builtin_modules[] = {
	&mod_static,
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
