#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "testutil.h"

START_TEST(test_alloc_aligned)
{
	struct wasp_arena *a = wasp_arena_new();

	ck_assert_ptr_nonnull(a);
	for (int i = 1; i < 5000; i += 7) {
		char *p = wasp_arena_alloc(a, (size_t)i);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % WASP_ARENA_ALIGN, 0);
		memset(p, 0xab, (size_t)i);
	}
	a = wasp_arena_free(a);
	ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_big_and_strings)
{
	struct wasp_arena *a = wasp_arena_new();
	char *big = wasp_arena_zalloc(a, 1 << 20);

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(big[(1 << 20) - 1], 0);
	ck_assert_str_eq(wasp_arena_strdup(a, "hello"), "hello");
	ck_assert_str_eq(wasp_arena_strndup(a, "hello", 3), "hel");
	ck_assert_str_eq(wasp_arena_printf(a, "%s-%d", "x", 42), "x-42");
	/* strings are packed: "ab" and "c" take 5 bytes of the block, not two
	 * aligned slots; an allocation after them is aligned again */
	{
		char *s1 = wasp_arena_strdup(a, "ab"), *s2 = wasp_arena_strdup(a, "c");
		void *p = wasp_arena_alloc(a, 8);

		ck_assert_ptr_eq(s2, s1 + 3);
		ck_assert_str_eq(s1, "ab");
		ck_assert_uint_eq((uintptr_t)p % WASP_ARENA_ALIGN, 0);
	}
	wasp_arena_free(a);
}
END_TEST

/* A big block (64 KiB: a proxied request's buffers) that an arena gave
 * back is kept for the next big allocation of about its size, in any
 * arena; not for one of less than half its size; one over 256 KiB is not
 * kept. */
START_TEST(test_big_spare_reuse)
{
	struct wasp_arena *a = wasp_arena_new(), *b = wasp_arena_new();

	(void)wasp_arena_spare_drop();
	ck_assert_ptr_nonnull(wasp_arena_alloc(a, 65536));
	ck_assert_ptr_nonnull(wasp_arena_alloc(a, 1 << 20));
	wasp_arena_reset(a);
	ck_assert_ptr_nonnull(wasp_arena_alloc(b, 20000)); /* not the spare */
	ck_assert_ptr_nonnull(wasp_arena_alloc(b, 65000)); /* the spare */
	ck_assert_uint_eq(wasp_arena_spare_drop(), 0);
	wasp_arena_reset(b); /* both kept now */
	ck_assert_uint_eq(wasp_arena_spare_drop(), 20000 + 65536);
	ck_assert_uint_eq(wasp_arena_spare_drop(), 0);
	wasp_arena_free(b);
	wasp_arena_free(a);
}
END_TEST

/* The block an arena outgrew its first one with is kept for the next
 * arena's (here: b's first block). */
START_TEST(test_block_spare_reuse)
{
	struct wasp_arena *a, *b;

	(void)wasp_arena_spare_drop();
	a = wasp_arena_new();
	/* quarter blocks (the largest that are not big): three fit in the
	 * first block (less its header), the fourth is a second block's first */
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(wasp_arena_alloc(a, WASP_ARENA_BLOCK_SIZE / 4));
	wasp_arena_reset(a);
	b = wasp_arena_new();
	ck_assert_uint_eq(wasp_arena_spare_drop(), 0);
	wasp_arena_free(b);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(wasp_arena_alloc(a, WASP_ARENA_BLOCK_SIZE / 4));
	wasp_arena_reset(a);
	ck_assert_uint_gt(wasp_arena_spare_drop(), WASP_ARENA_BLOCK_SIZE / 2);
	wasp_arena_free(a);
}
END_TEST

/* printf into the current block's room, or elsewhere when it does not fit */
START_TEST(test_printf_room)
{
	struct wasp_arena *a = wasp_arena_new();
	char *s1, *s2, *s3;

	for (int i = 0; i < 3; i++) /* three quarter blocks: less than one left */
		ck_assert_ptr_nonnull(wasp_arena_alloc(a, WASP_ARENA_BLOCK_SIZE / 4));
	s1 = wasp_arena_printf(a, "%s-%d", "short", 1);
	s2 = wasp_arena_printf(a, "%05000d", 7); /* over the room left */
	s3 = wasp_arena_printf(a, "%s", "");
	ck_assert_str_eq(s1, "short-1");
	ck_assert_uint_eq(strlen(s2), 5000);
	ck_assert(s2[0] == '0' && s2[4999] == '7');
	ck_assert_str_eq(s3, "");
	ck_assert_str_eq(s1, "short-1");
	wasp_arena_free(a);
}
END_TEST

static int cleanup_order[4];
static int cleanup_n;

static void
record(void *data)
{
	cleanup_order[cleanup_n++] = (int)(intptr_t)data;
}

START_TEST(test_cleanups_and_fds)
{
	struct wasp_arena *a = wasp_arena_new();
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cleanup_n = 0;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(wasp_arena_add_fd(a, fd), 0);
	ck_assert_int_eq(wasp_arena_add_cleanup(a, record, (void *)1), 0);
	ck_assert_int_eq(wasp_arena_add_cleanup(a, record, (void *)2), 0);
	wasp_arena_reset(a);
	ck_assert_int_eq(cleanup_n, 2);
	ck_assert_int_eq(cleanup_order[0], 2);
	ck_assert_int_eq(cleanup_order[1], 1);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	/* Reusable after reset; cleanups registered afterwards run on free. */
	for (int i = 0; i < 100; i++)
		ck_assert_ptr_nonnull(wasp_arena_alloc(a, 1000));
	ck_assert_int_eq(wasp_arena_add_cleanup(a, record, (void *)3), 0);
	wasp_arena_free(a);
	ck_assert_int_eq(cleanup_n, 3);
	ck_assert_ptr_null(wasp_arena_free(NULL));
}
END_TEST

static Suite *
arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("alloc");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_alloc_aligned);
	tcase_add_test(tc, test_big_and_strings);
	tcase_add_test(tc, test_big_spare_reuse);
	tcase_add_test(tc, test_block_spare_reuse);
	tcase_add_test(tc, test_printf_room);
	tcase_add_test(tc, test_cleanups_and_fds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(arena_suite());
}
