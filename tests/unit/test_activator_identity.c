/* Unit tests for the pools' identities (activator/identity.c) as root
 * would resolve them (env.is_root set; nothing changes credentials here):
 * ApplicationPoolIdentity uids from --pool-uid-range are distinct and in
 * the range for 10,000 pools, stay with their pools across a reload that
 * adds pools before them and removes others, and LocalService pools share
 * one uid no ApplicationPoolIdentity pool takes. */
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "apphost.h"
#include "log.h"
#include "pool_internal.h"
#include "testutil.h"
#include "util.h"

#define N_POOLS 10000
#define UID_FIRST 300000u
#define UID_LAST (UID_FIRST + N_POOLS + N_POOLS / 5)

static struct wasp_env env;

static void
setup(void)
{
	wasp_log_set_max_priority(LOG_WARNING);
	env = (struct wasp_env){
		.is_root = true,
		.uid_first = UID_FIRST,
		.uid_last = UID_LAST,
		.routes_fd = -1,
	};
}

static void
teardown(void)
{
	pools_free(&env);
}

/* n pools named <prefix><i>, ApplicationPoolIdentity unless said. */
static struct wasp_apphost *
apphost_make(size_t n, const char *prefix)
{
	struct wasp_apphost *ah = calloc(1, sizeof(*ah));

	ck_assert_ptr_nonnull(ah);
	ah->pools = calloc(n, sizeof(*ah->pools));
	ck_assert_ptr_nonnull(ah->pools);
	ah->n_pools = n;
	for (size_t i = 0; i < n; i++) {
		char *name;
		ck_assert_int_ge(asprintf(&name, "%s%zu", prefix, i), 0);
		ah->pools[i] = (struct wasp_apppool){
			.name = name,
			.start_mode = WASP_START_ON_DEMAND,
			.process_model = { .max_processes = 1,
					   .identity_type = WASP_IDENTITY_APPLICATION_POOL_IDENTITY },
		};
	}
	return ah;
}

static void
apphost_free(struct wasp_apphost *ah)
{
	for (size_t i = 0; i < ah->n_pools; i++)
		free((void *)(uintptr_t)ah->pools[i].name);
	free(ah->pools);
	free(ah);
}

static int
uid_cmp(const void *a, const void *b)
{
	uid_t x = *(const uid_t *)a, y = *(const uid_t *)b;
	return x < y ? -1 : x > y;
}

/* Every pool of the range has a uid of its own, in the range. */
static void
assert_uids_distinct(void)
{
	_cleanup_free_ uid_t *uids = calloc(env.n_pools, sizeof(*uids));
	size_t n = 0;

	ck_assert_ptr_nonnull(uids);
	for (size_t i = 0; i < env.n_pools; i++) {
		const struct pool *p = &env.pools[i];
		ck_assert_int_eq(p->ident_error, 0);
		ck_assert(p->ident.change);
		ck_assert_uint_ge(p->ident.uid, UID_FIRST);
		ck_assert_uint_le(p->ident.uid, UID_LAST);
		ck_assert_uint_eq(p->ident.gid, p->ident.uid);
		if (p->cfg->process_model.identity_type == WASP_IDENTITY_APPLICATION_POOL_IDENTITY)
			uids[n++] = p->ident.uid;
	}
	qsort(uids, n, sizeof(*uids), uid_cmp);
	for (size_t i = 1; i < n; i++)
		ck_assert_msg(uids[i - 1] != uids[i], "uid %u given twice", (unsigned)uids[i]);
}

START_TEST(distinct_and_stable)
{
	struct wasp_apphost *ah = apphost_make(N_POOLS, "pool"), *ah2 = apphost_make(N_POOLS, "x");
	_cleanup_free_ uid_t *before = calloc(N_POOLS, sizeof(*before));

	ck_assert_ptr_nonnull(before);
	env.ah = ah;
	ck_assert_int_eq(pools_init(&env), 0);
	ck_assert_uint_eq(env.n_pools, N_POOLS);
	assert_uids_distinct();
	for (size_t i = 0; i < N_POOLS; i++)
		before[i] = env.pools[i].ident.uid;

	/* The reload: 1,000 new pools first, then pool1000..pool9999 (pool0..
	 * pool999 removed). The new pools are resolved before the kept ones
	 * in order, and must still not take their uids. */
	for (size_t i = 0; i < N_POOLS; i++) {
		char *name;
		free((void *)(uintptr_t)ah2->pools[i].name);
		if (i < 1000)
			ck_assert_int_ge(asprintf(&name, "new%zu", i), 0);
		else
			ck_assert_int_ge(asprintf(&name, "pool%zu", i), 0);
		ah2->pools[i].name = name;
	}
	env.ah = ah2;
	ck_assert_int_eq(pools_reload(&env, NULL, ah2, NULL), 0);
	ck_assert_uint_eq(env.n_pools, N_POOLS);
	assert_uids_distinct();
	for (size_t i = 1000; i < N_POOLS; i++)
		ck_assert_uint_eq(env.pools[i].ident.uid, before[i]);
	pools_free(&env);
	apphost_free(ah);
	apphost_free(ah2);
}
END_TEST

/* A uid does not depend on the pools before it: the same name gets the
 * same uid in another configuration when nothing collides. */
START_TEST(uid_from_name)
{
	struct wasp_apphost *a = apphost_make(2, "p"), *b = apphost_make(1, "p");
	uid_t first;

	free((void *)(uintptr_t)b->pools[0].name);
	b->pools[0].name = strdup("p1");
	env.ah = a;
	ck_assert_int_eq(pools_init(&env), 0);
	first = env.pools[1].ident.uid;
	pools_free(&env);
	env.ah = b;
	ck_assert_int_eq(pools_init(&env), 0);
	ck_assert_uint_eq(env.pools[0].ident.uid, first);
	pools_free(&env);
	apphost_free(a);
	apphost_free(b);
}
END_TEST

/* LocalService pools share one uid, which no ApplicationPoolIdentity pool
 * takes, also when they come after them or are added by a reload. */
START_TEST(service_shared)
{
	struct wasp_apphost *ah = apphost_make(1000, "s"), *ah2 = apphost_make(1000, "s");
	uid_t service = 0;
	bool seen = false;

	for (size_t i = 0; i < 1000; i += 7) {
		ah->pools[i].process_model.identity_type = WASP_IDENTITY_LOCAL_SERVICE;
		ah2->pools[i].process_model.identity_type = WASP_IDENTITY_LOCAL_SERVICE;
	}
	env.ah = ah;
	ck_assert_int_eq(pools_init(&env), 0);
	assert_uids_distinct();
	for (size_t i = 0; i < env.n_pools; i++) {
		const struct pool *p = &env.pools[i];
		if (p->cfg->process_model.identity_type != WASP_IDENTITY_LOCAL_SERVICE) {
			if (seen)
				ck_assert_uint_ne(p->ident.uid, service);
			continue;
		}
		ck_assert_str_eq(p->ident.name, "LocalService");
		if (!seen)
			service = p->ident.uid;
		seen = true;
		ck_assert_uint_eq(p->ident.uid, service);
	}
	for (size_t i = 0; i < env.n_pools; i++)
		if (env.pools[i].cfg->process_model.identity_type !=
		    WASP_IDENTITY_LOCAL_SERVICE)
			ck_assert_uint_ne(env.pools[i].ident.uid, service);
	/* A reload that turns pool 1 into a LocalService pool: it joins. */
	ah2->pools[1].process_model.identity_type = WASP_IDENTITY_LOCAL_SERVICE;
	ck_assert_int_eq(pools_reload(&env, NULL, ah2, NULL), 0);
	ck_assert_uint_eq(env.pools[1].ident.uid, service);
	ck_assert_str_eq(env.pools[1].ident.name, "LocalService");
	pools_free(&env);
	apphost_free(ah);
	apphost_free(ah2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("activator_identity");
	TCase *tc = tcase_create("identity");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, distinct_and_stable);
	tcase_add_test(tc, uid_from_name);
	tcase_add_test(tc, service_shared);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
