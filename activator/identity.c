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
 *    configuration holds (struct identity_taken: a set of the uids, so n
 *    pools resolve in O(n)), or one that belongs to a passwd user. The
 *    uid does not move when pools are added or reordered unless two names
 *    collide,
 *  - LocalService / NetworkService: one uid each from the same range, shared
 *    by every pool of that identityType (as Windows' two service accounts),
 *    hashed from "NT AUTHORITY\\LocalService" or "...\\NetworkService"
 *    (never the listener's: the range skips passwd users),
 *  - LocalSystem: root.
 * As an ordinary user, everything keeps the daemon's credentials. */
#include <assert.h>
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


/* ---- the uids a configuration's pools hold -------------------------------- */

int
identity_taken_init(struct identity_taken *t, size_t n_pools)
{
	size_t cap = 16;

	while (cap < 2 * n_pools + 2)
		cap *= 2;
	*t = (struct identity_taken){ .slots = calloc(cap, sizeof(*t->slots)), .cap = cap };
	return t->slots ? 0 : -ENOMEM;
}

void
identity_taken_done(struct identity_taken *t)
{
	free(t->slots);
	*t = (struct identity_taken){ 0 };
}

/* The slot of uid, or the empty slot where it would go (the set is never
 * more than half full: identity_taken_init sized it for every pool). */
static uint32_t *
taken_slot(const struct identity_taken *t, uid_t uid)
{
	size_t mask = t->cap - 1, i = ((uint32_t)uid * UINT32_C(2654435761)) & mask;

	while (t->slots[i] && t->slots[i] != (uint32_t)uid + 1)
		i = (i + 1) & mask;
	return &t->slots[i];
}

/* Whether an identityType takes its uid from --pool-uid-range. */
static bool
identity_in_range(enum wasp_identity_type t)
{
	return t == WASP_IDENTITY_APPLICATION_POOL_IDENTITY || t == WASP_IDENTITY_LOCAL_SERVICE ||
	       t == WASP_IDENTITY_NETWORK_SERVICE;
}

void
identity_taken_add(struct identity_taken *t, const struct pool *p)
{
	enum wasp_identity_type type = p->cfg->process_model.identity_type;
	uint32_t *slot;

	if (!p->ident.change || !identity_in_range(type))
		return;
	if (type != WASP_IDENTITY_APPLICATION_POOL_IDENTITY &&
	    !t->service[type == WASP_IDENTITY_NETWORK_SERVICE])
		t->service[type == WASP_IDENTITY_NETWORK_SERVICE] = &p->ident;
	slot = taken_slot(t, p->ident.uid);
	if (*slot)
		return;
	assert(2 * (t->n + 1) <= t->cap);
	*slot = (uint32_t)p->ident.uid + 1;
	t->n++;
}

static bool
uid_taken(const struct identity_taken *t, uid_t uid)
{
	return *taken_slot(t, uid) || getpwuid(uid) != NULL;
}

/* A uid of the range for `key` (a pool's name, or a service account's),
 * named `display`, that no pool in `taken` holds. */
static int
identity_from_range(struct wasp_env *env, const struct identity_taken *taken, const char *key,
		    const char *display, struct wasp_identity *ret)
{
	uint32_t range = env->uid_last - env->uid_first + 1;
	uint32_t start = hash_lower_str(key) % range;

	for (uint32_t k = 0; k < range; k++) {
		uid_t uid = env->uid_first + (start + k) % range;
		if (uid_taken(taken, uid))
			continue;
		*ret = (struct wasp_identity){ .change = true, .uid = uid, .gid = (gid_t)uid };
		return identity_set_strings(ret, display, "/");
	}
	return -EUSERS; /* the range is full */
}

static int
identity_app_pool(struct wasp_env *env, const struct pool *pool,
		  const struct identity_taken *taken, struct wasp_identity *ret)
{
	_cleanup_free_ char *display = NULL;

	if (asprintf(&display, "pool:%s", pool->name) < 0)
		return -ENOMEM;
	return identity_from_range(env, taken, pool->name, display, ret);
}

/* LocalService or NetworkService: the uid another pool of that type holds,
 * else one of the range for the Windows account's name. */
static int
identity_service(struct wasp_env *env, const struct pool *pool,
		 const struct identity_taken *taken, struct wasp_identity *ret)
{
	bool local = pool->cfg->process_model.identity_type == WASP_IDENTITY_LOCAL_SERVICE;
	const struct wasp_identity *s = taken->service[!local];

	if (s) {
		*ret = (struct wasp_identity){ .change = true, .uid = s->uid, .gid = s->gid };
		return identity_set_strings(ret, s->name, "/");
	}
	return identity_from_range(env, taken,
				   local ? "NT AUTHORITY\\LocalService" : "NT AUTHORITY\\NetworkService",
				   local ? "LocalService" : "NetworkService", ret);
}

int
identity_pool(struct wasp_env *env, const struct pool *pool, const struct identity_taken *taken,
	      struct wasp_identity *ret)
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
		return identity_service(env, pool, taken, ret);
	case WASP_IDENTITY_APPLICATION_POOL_IDENTITY:
	default:
		return identity_app_pool(env, pool, taken, ret);
	}
}
