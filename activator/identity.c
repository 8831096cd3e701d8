/* Who the listener and each pool's workers run as.
 *
 * As root: the listener runs as an unprivileged user of its own
 * (--listener-user, default "wasp-http" when it exists, else "nobody"),
 * which no pool shares (any process of a uid can take another's
 * descriptors with pidfd_getfd); a pool's workers run as
 *  - SpecificUser: processModel userName (a passwd user),
 *  - ApplicationPoolIdentity: a dedicated uid/gid for the pool, taken from
 *    the range --pool-uid-range (default 65536-99999, clear of the ranges
 *    systemd reserves, docs/design.md "Identities"): FNV-1a hash of the
 *    pool name (case-folded, as IIS pool names are case-insensitive) modulo
 *    the range size, probing forward past a uid another pool of the same
 *    configuration already took, or one that belongs to a passwd user. The
 *    uid does not move when pools are added or reordered unless two names
 *    collide,
 *  - LocalService / NetworkService: one uid each from the same range, shared
 *    by every pool of that identityType (as Windows' two service accounts),
 *    hashed from "NT AUTHORITY\\LocalService" or "...\\NetworkService"
 *    (never the listener's: the range skips passwd users),
 *  - LocalSystem: root.
 * As an ordinary user, everything keeps the daemon's credentials. */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "log.h"
#include "waspd.h"

void
identity_done(struct wasp_identity *id)
{
	free(id->groups);
	free(id->name); /* and home, in the same allocation */
	*id = (struct wasp_identity){ 0 };
}

/* name and home in one allocation, home after name's NUL (a pool's
 * identity is one malloc, not two; identity_done frees both). */
static int
identity_set_strings(struct wasp_identity *id, const char *name, const char *home)
{
	size_t nl = strlen(name), hl = strlen(home);
	char *s = malloc(nl + hl + 2);

	if (!s)
		return -ENOMEM;
	memcpy(s, name, nl + 1);
	memcpy(s + nl + 1, home, hl + 1);
	id->name = s;
	id->home = s + nl + 1;
	return 0;
}

int
identity_from_user(const char *user, struct wasp_identity *ret)
{
	struct passwd pwbuf, *pw = NULL;
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	int ngroups = 64, r;

	if (sz < 16384)
		sz = 16384;
	buf = malloc((size_t)sz);
	if (!buf)
		return -ENOMEM;
	r = getpwnam_r(user, &pwbuf, buf, (size_t)sz, &pw);
	if (r > 0)
		return -r;
	if (!pw) {
		uint64_t u;
		if (wasp_parse_u64(user, UINT32_MAX - 1, &u) < 0)
			return -ENOENT;
		r = getpwuid_r((uid_t)u, &pwbuf, buf, (size_t)sz, &pw);
		if (r > 0)
			return -r;
		if (!pw)
			return -ENOENT;
	}
	for (;;) {
		int n = ngroups;
		gid_t *g = realloc(groups, sizeof(gid_t) * (size_t)n);
		if (!g)
			return -ENOMEM;
		groups = g;
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) >= 0) {
			ngroups = n;
			break;
		}
		if (n <= ngroups)
			n = ngroups * 2;
		ngroups = n;
	}
	*ret = (struct wasp_identity){
		.change = true,
		.uid = pw->pw_uid,
		.gid = pw->pw_gid,
		.n_groups = (size_t)ngroups,
	};
	ret->groups = TAKE_PTR(groups);
	if (identity_set_strings(ret, pw->pw_name, pw->pw_dir ? pw->pw_dir : "/") < 0) {
		identity_done(ret);
		return -ENOMEM;
	}
	return 0;
}

static int
identity_self(struct wasp_identity *ret)
{
	*ret = (struct wasp_identity){ .change = false, .uid = getuid(), .gid = getgid() };
	return 0;
}

int
identity_listener(struct wasp_env *env, struct wasp_identity *ret)
{
	int r;

	if (!env->is_root)
		return identity_self(ret);
	if (env->listener_user)
		return identity_from_user(env->listener_user, ret);
	r = identity_from_user(WASP_LISTENER_USER, ret);
	if (r == -ENOENT) {
		log_warning("user '%s' does not exist (the package creates it with "
			    "systemd-sysusers, wasp.conf); the listener runs as 'nobody'",
			    WASP_LISTENER_USER);
		r = identity_from_user("nobody", ret);
	}
	return r;
}


/* Whether an identityType takes its uid from --pool-uid-range. */
static bool
identity_in_range(enum wasp_identity_type t)
{
	return t == WASP_IDENTITY_APPLICATION_POOL_IDENTITY || t == WASP_IDENTITY_LOCAL_SERVICE ||
	       t == WASP_IDENTITY_NETWORK_SERVICE;
}

static bool
uid_taken(struct wasp_env *env, const struct pool *self, uid_t uid)
{
	for (size_t i = 0; i < env->n_pools; i++) {
		const struct pool *p = &env->pools[i];
		if (p == self)
			break; /* pools are resolved in order: only earlier ones count */
		if (p->ident.change && p->ident.uid == uid &&
		    identity_in_range(p->cfg->process_model.identity_type))
			return true;
	}
	return getpwuid(uid) != NULL;
}

/* A uid of the range for `key` (a pool's name, or a service account's),
 * named `display`. */
static int
identity_from_range(struct wasp_env *env, const struct pool *pool, const char *key,
		    const char *display, struct wasp_identity *ret)
{
	uint32_t range = env->uid_last - env->uid_first + 1;
	uint32_t start = hash_lower_str(key) % range;

	for (uint32_t k = 0; k < range; k++) {
		uid_t uid = env->uid_first + (start + k) % range;
		if (uid_taken(env, pool, uid))
			continue;
		*ret = (struct wasp_identity){ .change = true, .uid = uid, .gid = (gid_t)uid };
		return identity_set_strings(ret, display, "/");
	}
	return -EUSERS; /* the range is full */
}

static int
identity_app_pool(struct wasp_env *env, const struct pool *pool, struct wasp_identity *ret)
{
	_cleanup_free_ char *display = NULL;

	if (asprintf(&display, "pool:%s", pool->name) < 0)
		return -ENOMEM;
	return identity_from_range(env, pool, pool->name, display, ret);
}

/* LocalService or NetworkService: the uid an earlier pool of that type got,
 * else one of the range for the Windows account's name. */
static int
identity_service(struct wasp_env *env, const struct pool *pool, struct wasp_identity *ret)
{
	enum wasp_identity_type t = pool->cfg->process_model.identity_type;
	bool local = t == WASP_IDENTITY_LOCAL_SERVICE;

	for (size_t i = 0; i < env->n_pools && &env->pools[i] != pool; i++) {
		const struct pool *p = &env->pools[i];

		if (!p->ident.change || p->cfg->process_model.identity_type != t)
			continue;
		*ret = (struct wasp_identity){ .change = true, .uid = p->ident.uid,
					       .gid = p->ident.gid };
		return identity_set_strings(ret, p->ident.name, "/");
	}
	return identity_from_range(env, pool,
				   local ? "NT AUTHORITY\\LocalService" : "NT AUTHORITY\\NetworkService",
				   local ? "LocalService" : "NetworkService", ret);
}

int
identity_pool(struct wasp_env *env, const struct pool *pool, struct wasp_identity *ret)
{
	const struct wasp_apppool *c = pool->cfg;

	if (!env->is_root)
		return identity_self(ret);
	switch (c->process_model.identity_type) {
	case WASP_IDENTITY_SPECIFIC_USER:
		if (!c->process_model.user_name || !*c->process_model.user_name)
			return -EINVAL;
		return identity_from_user(c->process_model.user_name, ret);
	case WASP_IDENTITY_LOCAL_SYSTEM:
		return identity_self(ret);
	case WASP_IDENTITY_LOCAL_SERVICE:
	case WASP_IDENTITY_NETWORK_SERVICE:
		return identity_service(env, pool, ret);
	case WASP_IDENTITY_APPLICATION_POOL_IDENTITY:
	default:
		return identity_app_pool(env, pool, ret);
	}
}
