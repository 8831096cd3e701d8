/* The processes waspd starts, as one table of roles (program, where meson
 * builds it, the identity it runs as, its --test-hooks stand-in), and the
 * one path that starts any of them: the program's path, a channel
 * socketpair whose one end becomes the child's fd 3, spawn_child() with
 * the identity the role's rule names. Adapters (adapter.c) and workers
 * (pool_worker.c) both start here, through env->procs so that the
 * activator's unit tests can put a fake in its place. */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "ipc.h"
#include "log.h"
#include "waspd.h"

static const struct proc_role proc_roles[] = {
	[PROC_ADAPTER_HTTP] = {
		.name = "HTTP adapter",
		.program = "wasp-http",
		.build_path = "protocols/http/wasp-http",
		.protocol = "http",
		.ident = PROC_IDENT_LISTENER,
		/* a fake adapter that breaks the protocol, to test that waspd
		 * survives it */
		.test_program_var = "WASP_TEST_ADAPTER_PROGRAM",
	},
	[PROC_ADAPTER_TCP] = {
		.name = "TCP adapter",
		.program = "wasp-tcp",
		.build_path = "protocols/tcp/wasp-tcp",
		.protocol = "tcp",
		.ident = PROC_IDENT_LISTENER,
	},
	[PROC_WORKER] = {
		.name = "worker",
		.program = "wasp-worker",
		.build_path = "worker/wasp-worker",
		.ident = PROC_IDENT_POOL,
		/* POOL:PATH, a fake worker for that pool only */
		.test_program_var = "WASP_TEST_WORKER_PROGRAM",
		.test_program_per_pool = true,
	},
	[PROC_ADAPTER_CONFIGURED] = {
		.name = "listener adapter",
		.program = "(listenerAdapters executable)",
		.build_path = "",
		.ident = PROC_IDENT_LISTENER,
	},
};

const struct proc_role *
proc_role(enum proc_role_id id)
{
	assert(id >= 0 && id < PROC_ROLE__COUNT);
	return &proc_roles[id];
}

const struct proc_role *
proc_role_for_protocol(const char *protocol)
{
	for (size_t i = 0; i < ELEMENTSOF(proc_roles); i++)
		if (proc_roles[i].protocol && proc_protocol_serves(proc_roles[i].protocol, protocol))
			return &proc_roles[i];
	return NULL;
}

bool
proc_protocol_serves(const char *adapter, const char *protocol)
{
	/* wasp-http terminates TLS itself: https is its protocol too */
	return strcaseeq(adapter, protocol) ||
	       (strcaseeq(adapter, "http") && strcaseeq(protocol, "https"));
}

const char *
test_hook_value(const char *var, const char *name, bool last)
{
	const char *v = getenv(var);
	const char *colon = v ? (last ? strrchr(v, ':') : strchr(v, ':')) : NULL;

	if (!colon || (size_t)(colon - v) != strlen(name) ||
	    strncmp(v, name, (size_t)(colon - v)) != 0)
		return NULL;
	return colon + 1;
}

/* Full path of role's program, malloc'd: the build tree when waspd runs
 * from it, else the installed libexec directory; with --test-hooks, the
 * role's stand-in when its variable names one. */
static char *
proc_program_path(const struct wasp_env *env, const struct proc_role *role,
		  const struct pool *pool, bool *ret_stand_in)
{
	const char *v = NULL;
	char *p;

	if (env->test_hooks && role->test_program_var && !role->test_program_per_pool)
		v = getenv(role->test_program_var);
	else if (env->test_hooks && role->test_program_var && pool)
		v = test_hook_value(role->test_program_var, pool->name, false);
	*ret_stand_in = v != NULL;
	if (v)
		return strdup(v);
	if (env->build_root) {
		if (asprintf(&p, "%s/%s", env->build_root, role->build_path) < 0)
			return NULL;
		return p;
	}
	if (asprintf(&p, "%s/%s", env->program_dir, role->program) < 0)
		return NULL;
	return p;
}

static const struct wasp_identity *
proc_identity(const struct wasp_env *env, const struct proc_role *role, const struct pool *pool)
{
	switch (role->ident) {
	case PROC_IDENT_LISTENER:
		return &env->listener_ident;
	case PROC_IDENT_POOL:
		return pool ? &pool->ident : NULL;
	}
	return NULL;
}

static int
proc_spawn_real(struct wasp_env *env, const struct proc_start *s, pid_t *ret_pid, int *ret_fd)
{
	const struct proc_role *role = s->role;
	bool stand_in = false;
	_cleanup_free_ char *path = s->path ? strdup(s->path)
					    : proc_program_path(env, role, s->pool, &stand_in);
	_cleanup_free_ char *title = NULL;
	char *argv[] = { NULL, NULL };
	struct spawn_opts o = {
		.path = path,
		.argv = s->argv ? s->argv : argv,
		.ident = s->ident ? s->ident : proc_identity(env, role, s->pool),
		.extra_env = s->extra_env,
	};
	int fds[2], r;

	if (!path)
		return log_errno(-ENOMEM, "%s: program path", role->name);
	if (!o.ident)
		return log_errno(-EINVAL, "%s: no identity", role->name);
	if (role->ident == PROC_IDENT_POOL) {
		o.pool_env = s->pool->cfg->env;
		o.n_pool_env = s->pool->cfg->n_env;
	}
	/* What ps shows (a worker: its pool, as w3wp's `-ap "NAME"`); the
	 * kernel's comm stays the program's file name, for pgrep and top.
	 * A test stand-in shows its own path. */
	if (s->title && !stand_in) {
		title = strdup(s->title);
		if (!title)
			return log_errno(-ENOMEM, "%s: title", role->name);
	}
	argv[0] = title ? title : path;
	r = wasp_ipc_socketpair(fds);
	if (r < 0)
		return log_errno(r, "%s%s%s%s channel", s->pool ? "pool '" : "",
				 s->pool ? s->pool->name : "", s->pool ? "': " : "", role->name);
	o.channel_fd = fds[1];
	r = spawn_child(&o, ret_pid);
	safe_close(fds[1]);
	if (r < 0) {
		safe_close(fds[0]);
		if (s->pool)
			return log_errno(r, "pool '%s': cannot start %s as %s", s->pool->name, path,
					 o.ident->change ? o.ident->name : "the daemon's user");
		return log_errno(r, "cannot start %s", path);
	}
	*ret_fd = fds[0];
	return 0;
}

static int
proc_kill_real(struct wasp_env *env, pid_t pid, int sig)
{
	if (pid <= 0)
		return -ESRCH;
	return kill(pid, sig) < 0 ? -errno : 0;
}

const struct proc_ops proc_ops_real = {
	.spawn = proc_spawn_real,
	.kill = proc_kill_real,
};
