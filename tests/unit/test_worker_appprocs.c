/* worker/appprocs.c: the application processes a worker lists for waspd:
 * entries added, moved and removed; the set read at most max entries with
 * the total beside it (WORKER_APPS is bounded); a refresh callback asked
 * before the set is read; an application cut at its field's size. */
#include <string.h>

#include "appprocs.h"
#include "testutil.h"
#include "util.h"

static unsigned refreshed;

static void
refresh(struct appproc *ap)
{
	refreshed++;
	ap->state = WASP_APP_PROC_BUSY;
}

START_TEST(test_fill_bounded)
{
	struct appproc a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct wasp_msg_app_proc out[4];
	char long_name[400];
	uint32_t total;
	size_t n;

	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	appproc_add(&a, 10, WASP_APP_PROC_FASTCGI, "/usr/bin/php-cgi", WASP_APP_PROC_IDLE);
	appproc_add(&b, 11, WASP_APP_PROC_CGI, long_name, WASP_APP_PROC_BUSY);
	appproc_add(&c, 12, WASP_APP_PROC_HTTP_PLATFORM, "/usr/bin/node", WASP_APP_PROC_STARTING);
	c.refresh = refresh;
	a.requests = 5;

	n = appprocs_fill(out, 2, &total);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(total, 3);
	ck_assert_uint_eq(refreshed, 1); /* every entry refreshed, listed or not */

	n = appprocs_fill(out, ELEMENTSOF(out), &total);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(total, 3);
	for (size_t k = 0; k < n; k++) {
		ck_assert_ptr_nonnull(memchr(out[k].application, 0, sizeof(out[k].application)));
		if (out[k].pid == 10) {
			ck_assert_uint_eq(out[k].requests, 5);
			ck_assert_str_eq(out[k].application, "/usr/bin/php-cgi");
		} else if (out[k].pid == 11) {
			ck_assert_uint_eq(strlen(out[k].application), WASP_APP_PROC_NAME_MAX - 1);
		} else {
			ck_assert_uint_eq(out[k].pid, 12);
			ck_assert_uint_eq(out[k].state, WASP_APP_PROC_BUSY); /* refreshed */
		}
	}

	/* moved: the same process under another entry, not refreshed by c's */
	appproc_move(&d, &c);
	ck_assert(!c.listed && d.listed);
	appproc_remove(&c); /* a no-op */
	appproc_remove(&b);
	n = appprocs_fill(out, ELEMENTSOF(out), &total);
	ck_assert_uint_eq(total, 2);
	ck_assert_uint_eq(n, 2);
	appproc_remove(&a);
	appproc_remove(&d);
	ck_assert_uint_eq(appprocs_fill(out, ELEMENTSOF(out), &total), 0);
	ck_assert_uint_eq(total, 0);
}
END_TEST

static Suite *
worker_appprocs_suite(void)
{
	Suite *s = suite_create("worker_appprocs");
	TCase *tc = tcase_create("appprocs");

	tcase_add_test(tc, test_fill_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_appprocs_suite());
}
