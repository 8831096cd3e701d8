/* worker/fcache.c: the open file cache: hits, revalidation after a second,
 * replaced and deleted files, the size bound, entries kept alive by their
 * users, and that it opens nothing unsafe. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"
#include "worker.h"

#define SEC 1000000ULL

static char *top, *root;
static struct wvdir v;

static void
setup(void)
{
	char p[PATH_MAX];

	testutil_fd_setup();
	top = testutil_mkdtemp();
	snprintf(p, sizeof(p), "%s/secret.txt", top);
	testutil_write_file(p, "secret\n");
	root = malloc(PATH_MAX);
	snprintf(root, PATH_MAX, "%s/www", top);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/f%d.txt", root, i);
		testutil_write_file(p, "0123456789");
	}
	snprintf(p, sizeof(p), "%s/out", root);
	ck_assert_int_eq(symlink("../secret.txt", p), 0);
	v = (struct wvdir){ .url = "/", .url_len = 1, .physical_path = root, .root_fd = -1 };
}

static void
teardown(void)
{
	vdir_close(&v);
	testutil_rmtree(top);
	free(top);
	free(root);
	testutil_fd_teardown();
}

static void
write_at(const char *name, const char *contents)
{
	char p[PATH_MAX], tmp[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, name);
	snprintf(tmp, sizeof(tmp), "%s/.tmp", root);
	testutil_write_file(tmp, contents);
	ck_assert_int_eq(rename(tmp, p), 0); /* a deployment replaces files */
}

START_TEST(test_hit_and_revalidate)
{
	struct fcache *fc = fcache_new(0);
	struct fcache_entry *a, *b, *c;

	ck_assert_int_eq(fcache_open(fc, &v, "f0.txt", 10 * SEC, &a), 0);
	ck_assert_int_eq(fcache_entry_stat(a)->st_size, 10);
	ck_assert_int_eq(fcache_open(fc, &v, "f0.txt", 10 * SEC + 500000, &b), 0);
	ck_assert_ptr_eq(a, b); /* no open within the second */
	ck_assert_uint_eq(fcache_size(fc), 1);
	fcache_unref(b);

	/* unchanged after a second: still the same entry */
	ck_assert_int_eq(fcache_open(fc, &v, "f0.txt", 12 * SEC, &b), 0);
	ck_assert_ptr_eq(a, b);
	fcache_unref(b);

	/* replaced: seen at the next check, the old fd stays usable by its user */
	write_at("f0.txt", "new contents!");
	ck_assert_int_eq(fcache_open(fc, &v, "f0.txt", 12 * SEC + 1, &b), 0);
	ck_assert_ptr_eq(a, b); /* within the second: not looked at yet */
	fcache_unref(b);
	ck_assert_int_eq(fcache_open(fc, &v, "f0.txt", 14 * SEC, &c), 0);
	ck_assert_int_eq(fcache_entry_stat(c)->st_size, 13);
	ck_assert_int_ne(fcntl(fcache_entry_fd(a), F_GETFD), -1);
	ck_assert_int_eq(fcache_entry_stat(a)->st_size, 10);
	fcache_unref(a); /* the replaced entry goes now */
	fcache_unref(c);
	ck_assert_uint_eq(fcache_size(fc), 1);
	fcache_free(fc);
}
END_TEST

START_TEST(test_deleted_and_unsafe)
{
	struct fcache *fc = fcache_new(0);
	struct fcache_entry *a;
	char p[PATH_MAX];

	ck_assert_int_eq(fcache_open(fc, &v, "f1.txt", 10 * SEC, &a), 0);
	fcache_unref(a);
	snprintf(p, sizeof(p), "%s/f1.txt", root);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(fcache_open(fc, &v, "f1.txt", 20 * SEC, &a), -ENOENT);
	ck_assert_uint_eq(fcache_size(fc), 0);

	ck_assert_int_eq(fcache_open(fc, &v, "out", 20 * SEC, &a), -ENOENT);
	ck_assert_int_eq(fcache_open(fc, &v, "../secret.txt", 20 * SEC, &a), -ENOENT);
	ck_assert_uint_eq(fcache_size(fc), 0);
	fcache_free(fc);
}
END_TEST

START_TEST(test_bounded)
{
	struct fcache *fc = fcache_new(2);
	struct fcache_entry *e0, *e1, *e2;

	ck_assert_int_eq(fcache_open(fc, &v, "f0.txt", SEC, &e0), 0);
	ck_assert_int_eq(fcache_open(fc, &v, "f1.txt", SEC, &e1), 0);
	ck_assert_int_eq(fcache_open(fc, &v, "f2.txt", SEC, &e2), 0);
	ck_assert_uint_eq(fcache_size(fc), 2);
	/* f0 was evicted while in use: its fd lives until its user is done */
	ck_assert_int_ne(fcntl(fcache_entry_fd(e0), F_GETFD), -1);
	fcache_unref(e0);
	fcache_unref(e1);
	fcache_unref(e2);
	/* freeing the cache while an entry is in use keeps that entry */
	ck_assert_int_eq(fcache_open(fc, &v, "f1.txt", SEC, &e1), 0);
	fcache_free(fc);
	ck_assert_int_ne(fcntl(fcache_entry_fd(e1), F_GETFD), -1);
	fcache_unref(e1);
}
END_TEST

/* FCACHE_LINKS_OUTSIDE_ROOT: a link out of the root opens, and is a
 * different entry from the same name opened without it */
START_TEST(test_links_outside_root)
{
	struct fcache *fc = fcache_new(0);
	struct fcache_entry *a, *b;

	ck_assert_ptr_nonnull(fc);
	ck_assert_int_eq(fcache_open(fc, &v, "out", SEC, &a), -ENOENT);
	ck_assert_int_eq(fcache_open_ex(fc, &v, "out", FCACHE_LINKS_OUTSIDE_ROOT, SEC, &a), 0);
	ck_assert_int_eq(fcache_entry_stat(a)->st_size, 7); /* "secret\n" */
	ck_assert_int_eq(fcache_open(fc, &v, "out", SEC, &b), -ENOENT); /* not that entry */
	ck_assert_int_eq(fcache_open_ex(fc, &v, "out", FCACHE_LINKS_OUTSIDE_ROOT, SEC, &b), 0);
	ck_assert_ptr_eq(a, b);
	fcache_unref(b);
	/* no ".." even so */
	ck_assert_int_eq(fcache_open_ex(fc, &v, "../secret.txt", FCACHE_LINKS_OUTSIDE_ROOT, SEC, &b),
			 -ENOENT);
	ck_assert_int_eq(fcache_open(fc, &v, "f0.txt", SEC, &b), 0);
	ck_assert_ptr_ne(a, b);
	fcache_unref(a);
	fcache_unref(b);
	ck_assert_uint_eq(fcache_size(fc), 2);
	fcache_free(fc);
}
END_TEST

static Suite *
worker_fcache_suite(void)
{
	Suite *s = suite_create("worker_fcache");
	TCase *tc = tcase_create("fcache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hit_and_revalidate);
	tcase_add_test(tc, test_deleted_and_unsafe);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_links_outside_root);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_fcache_suite());
}
