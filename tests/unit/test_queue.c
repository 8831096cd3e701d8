#include <errno.h>
#include <stddef.h>

#include "queue.h"
#include "testutil.h"

struct item {
	int n;
	struct wasp_queue_entry qe;
};

#define item_of(e) ((struct item *)((char *)(e)-offsetof(struct item, qe)))

START_TEST(test_bound_and_order)
{
	struct wasp_queue q;
	struct item it[6];

	wasp_queue_init(&q, 4);
	for (int i = 0; i < 6; i++)
		it[i] = (struct item){ .n = i };
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(wasp_queue_push(&q, &it[i].qe, 100 + (uint64_t)i), 0);
	/* Full: the fifth is refused and not queued. */
	ck_assert_int_eq(wasp_queue_push(&q, &it[4].qe, 200), -ENOBUFS);
	ck_assert(!it[4].qe.queued);
	ck_assert_uint_eq(wasp_queue_len(&q), 4);
	/* FIFO. */
	ck_assert_int_eq(item_of(wasp_queue_pop(&q))->n, 0);
	ck_assert_int_eq(wasp_queue_push(&q, &it[4].qe, 200), 0);
	/* Remove from the middle, and a no-op remove of something not queued. */
	wasp_queue_remove(&q, &it[2].qe);
	wasp_queue_remove(&q, &it[2].qe);
	wasp_queue_remove(&q, &it[5].qe);
	ck_assert_uint_eq(wasp_queue_len(&q), 3);
	ck_assert_int_eq(item_of(wasp_queue_pop(&q))->n, 1);
	/* Put back at the head. */
	struct wasp_queue_entry *e = wasp_queue_pop(&q);
	ck_assert_int_eq(item_of(e)->n, 3);
	wasp_queue_push_head(&q, e);
	ck_assert_int_eq(item_of(wasp_queue_pop(&q))->n, 3);
	ck_assert_int_eq(item_of(wasp_queue_pop(&q))->n, 4);
	ck_assert_ptr_null(wasp_queue_pop(&q));
	ck_assert_uint_eq(wasp_queue_len(&q), 0);
}
END_TEST

START_TEST(test_zero_and_shrink)
{
	struct wasp_queue q;
	struct item it[3];

	/* queueLength 0 takes nothing. */
	wasp_queue_init(&q, 0);
	ck_assert_int_eq(wasp_queue_push(&q, &it[0].qe, 1), -ENOBUFS);
	/* A smaller bound keeps what is queued but refuses more. */
	wasp_queue_set_max(&q, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(wasp_queue_push(&q, &it[i].qe, 1), 0);
	wasp_queue_set_max(&q, 1);
	ck_assert_uint_eq(wasp_queue_len(&q), 3);
	ck_assert_ptr_nonnull(wasp_queue_pop(&q));
	ck_assert_ptr_nonnull(wasp_queue_pop(&q));
	ck_assert_int_eq(wasp_queue_push(&q, &it[0].qe, 1), -ENOBUFS);
	ck_assert_ptr_nonnull(wasp_queue_pop(&q));
	ck_assert_int_eq(wasp_queue_push(&q, &it[0].qe, 1), 0);
}
END_TEST

START_TEST(test_expiry)
{
	struct wasp_queue q;
	struct item it[3];

	wasp_queue_init(&q, 10);
	ck_assert_uint_eq(wasp_queue_deadline(&q, 1000), 0);
	ck_assert_ptr_null(wasp_queue_pop_expired(&q, 5000, 1000));
	ck_assert_int_eq(wasp_queue_push(&q, &it[0].qe, 1000), 0);
	ck_assert_int_eq(wasp_queue_push(&q, &it[1].qe, 1500), 0);
	ck_assert_int_eq(wasp_queue_push(&q, &it[2].qe, 3000), 0);
	/* The deadline is the oldest entry's. */
	ck_assert_uint_eq(wasp_queue_deadline(&q, 1000), 2000);
	ck_assert_ptr_null(wasp_queue_pop_expired(&q, 1999, 1000));
	ck_assert_ptr_eq(wasp_queue_pop_expired(&q, 2000, 1000), &it[0].qe);
	ck_assert_uint_eq(wasp_queue_deadline(&q, 1000), 2500);
	ck_assert_ptr_eq(wasp_queue_pop_expired(&q, 3999, 1000), &it[1].qe);
	ck_assert_ptr_null(wasp_queue_pop_expired(&q, 3999, 1000));
	ck_assert_uint_eq(wasp_queue_len(&q), 1);
	/* A clock that seems to go back expires nothing. */
	ck_assert_ptr_null(wasp_queue_pop_expired(&q, 10, 0));
	ck_assert_ptr_eq(wasp_queue_pop_expired(&q, 3000, 0), &it[2].qe);
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_bound_and_order);
	tcase_add_test(tc, test_zero_and_shrink);
	tcase_add_test(tc, test_expiry);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(queue_suite());
}
