/* The listener's workers by worker id (listener/workers.c): every worker
 * added is found by its id through the table's growth, a removed one is
 * not, the others still are, and lsn_handoff_find_worker() finds them by
 * id alone (without a pass over the pools: with 10,000 pools that pass
 * was a third of the listener's part of a first request). */
#include <stdlib.h>

#include "lsn.h"
#include "testutil.h"

#define N 1000

START_TEST(test_find_add_remove)
{
	struct lsn_env env = { 0 };
	struct lsn_worker *w = calloc(N, sizeof(*w));

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_null(lsn_workers_find(&env, 1));
	lsn_workers_remove(&env, &w[0]); /* not added, no table: a no-op */
	for (uint32_t i = 0; i < N; i++) {
		/* in sequence as waspd hands them out, with gaps */
		w[i].worker_id = 3 * i + 1;
		ck_assert_int_eq(lsn_workers_add(&env, &w[i]), 0);
	}
	ck_assert_uint_eq(env.n_worker_ids, N);
	ck_assert_uint_ge(env.worker_ids_mask + 1, N);
	for (uint32_t i = 0; i < N; i++) {
		ck_assert_ptr_eq(lsn_workers_find(&env, 3 * i + 1), &w[i]);
		ck_assert_ptr_eq(lsn_handoff_find_worker(&env, 3 * i + 1), &w[i]);
		ck_assert_ptr_null(lsn_workers_find(&env, 3 * i + 2));
	}
	for (uint32_t i = 0; i < N; i += 2)
		lsn_workers_remove(&env, &w[i]);
	ck_assert_uint_eq(env.n_worker_ids, N / 2);
	for (uint32_t i = 0; i < N; i++)
		ck_assert_ptr_eq(lsn_workers_find(&env, 3 * i + 1), i % 2 ? &w[i] : NULL);
	lsn_workers_remove(&env, &w[0]); /* removed already: a no-op */
	ck_assert_uint_eq(env.n_worker_ids, N / 2);
	lsn_workers_done(&env);
	ck_assert_ptr_null(lsn_workers_find(&env, 2));
	free(w);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("listener_workers");
	TCase *tc = tcase_create("workers");

	tcase_add_test(tc, test_find_add_remove);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
