/* Adapters waspd starts for a listenerAdapters entry with an executable:
 * that program, its arguments (words separated by blanks, no shell) and
 * userName (root only; the listener's identity when none), started and
 * restarted like wasp-http (adapter.c), with its activator channel as fd 3,
 * for the entry's protocol once one of its bindings has a socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "waspd.h"

#define ADAPTER_ARGS_MAX 64

/* argv: exe, then arguments split on blanks. NULL on OOM or too many. */
static char **
split_args(const char *exe, const char *args)
{
	_cleanup_free_ char *copy = strdup(args ? args : "");
	char **argv = calloc(ADAPTER_ARGS_MAX + 2, sizeof(*argv));
	size_t n = 0;
	char *save = NULL;

	if (!copy || !argv || !(argv[n++] = strdup(exe)))
		goto fail;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n > ADAPTER_ARGS_MAX || !(argv[n++] = strdup(w)))
			goto fail;
	}
	return argv;
fail:
	for (size_t i = 0; argv && i < n; i++)
		free(argv[i]);
	free(argv);
	return NULL;
}

/* The identity an entry's program runs as: userName (as root), else the
 * listener's; not root, only waspd's own user. 0 or -errno (logged). */
static int
configured_identity(struct wasp_env *env, const struct adapter_decl *d, struct wasp_identity *ret)
{
	int r;

	if (!d->user)
		return identity_listener(env, ret);
	r = identity_from_user(d->user, ret);
	if (r < 0)
		return log_errno(r, "%s:%d: listener adapter '%s': userName '%s'", strempty(d->file),
				 d->line, d->name, d->user);
	if (!env->is_root) {
		if (ret->uid != getuid()) {
			identity_done(ret);
			log_error("%s:%d: listener adapter '%s': waspd is not root and cannot start "
				  "it as '%s'; not started",
				  strempty(d->file), d->line, d->name, d->user);
			return -EPERM;
		}
		ret->change = false;
	}
	return 0;
}

static bool
has_socket(const struct wasp_env *env, const char *protocol)
{
	for (size_t i = 0; i < env->n_socks; i++)
		if (strcaseeq(env->socks[i].protocol, protocol))
			return true;
	return false;
}

static int
start_one(struct wasp_env *env, const struct adapter_decl *d)
{
	struct adapter *a = adapter_new(env, proc_role(PROC_ADAPTER_CONFIGURED));

	if (!a)
		return -ENOMEM;
	snprintf(a->hint, sizeof(a->hint), "%s", d->name);
	a->protocol_hint = a->hint;
	a->exe = strdup(d->executable);
	a->argv = split_args(d->executable, d->arguments);
	if (!a->exe || !a->argv) {
		adapter_forget(a);
		return log_errno(-ENOMEM, "listener adapter '%s' (at most %d arguments)", d->name,
				 ADAPTER_ARGS_MAX);
	}
	a->program = a->exe;
	if (configured_identity(env, d, &a->ident) < 0) {
		/* not started (never as another user than the entry's) */
		adapter_forget(a);
		return 0;
	}
	(void)adapter_spawn(a);
	return 0;
}

int
adapters_start_configured(struct wasp_env *env)
{
	for (size_t i = 0; i < env->adapter_decls.n; i++) {
		const struct adapter_decl *d = &env->adapter_decls.items[i];

		if (!d->executable || !has_socket(env, d->name) || adapter_of_protocol(env, d->name))
			continue;
		int r = start_one(env, d);
		if (r < 0)
			return r;
	}
	return 0;
}

void
adapter_configured_done(struct adapter *a)
{
	if (!a->exe)
		return;
	for (size_t i = 0; a->argv && a->argv[i]; i++)
		free(a->argv[i]);
	free(a->argv);
	a->argv = NULL;
	identity_done(&a->ident);
	free(a->exe);
	a->exe = NULL;
}
