/* worker/modules/mod_static.c and worker/mime.c: Range parsing (single,
 * suffix, open, clamped, several, unsatisfiable, invalid, too many), ETag
 * formatting and If-Match / If-None-Match list matching (strong and weak),
 * and the MIME map ("." and ".*", case, the built-in defaults). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "util.h"
#include "worker.h"
#include "modules/mod_static.h"

static int
ranges(const char *s, uint64_t size, struct static_range *out, size_t *n)
{
	*n = 0;
	return static_parse_ranges(s, size, out, STATIC_MAX_RANGES, n);
}

START_TEST(test_ranges_single)
{
	struct static_range r[STATIC_MAX_RANGES];
	size_t n;

	ck_assert_int_eq(ranges("bytes=0-9", 100, r, &n), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(r[0].first, 0);
	ck_assert_uint_eq(r[0].last, 9);
	ck_assert_int_eq(ranges("bytes=90-", 100, r, &n), 1);
	ck_assert_uint_eq(r[0].first, 90);
	ck_assert_uint_eq(r[0].last, 99);
	ck_assert_int_eq(ranges("bytes=-10", 100, r, &n), 1);
	ck_assert_uint_eq(r[0].first, 90);
	ck_assert_uint_eq(r[0].last, 99);
	ck_assert_int_eq(ranges("bytes=-1000", 100, r, &n), 1); /* the whole file */
	ck_assert_uint_eq(r[0].first, 0);
	ck_assert_uint_eq(r[0].last, 99);
	ck_assert_int_eq(ranges("bytes=50-1000", 100, r, &n), 1); /* clamped */
	ck_assert_uint_eq(r[0].last, 99);
	ck_assert_int_eq(ranges("Bytes = 5-5", 100, r, &n), 1);
	ck_assert_uint_eq(r[0].first, 5);
	ck_assert_uint_eq(r[0].last, 5);
	ck_assert_int_eq(ranges("bytes=99999999999999999999999-", 100, r, &n), -ERANGE);
}
END_TEST

START_TEST(test_ranges_several)
{
	struct static_range r[STATIC_MAX_RANGES];
	char many[512] = "bytes=0-0";
	size_t n;

	ck_assert_int_eq(ranges("bytes=0-1, 5-6,,-2", 10, r, &n), 1);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(r[1].first, 5);
	ck_assert_uint_eq(r[2].first, 8);
	/* unsatisfiable parts are dropped; all unsatisfiable: -ERANGE */
	ck_assert_int_eq(ranges("bytes=200-300,0-0", 100, r, &n), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ranges("bytes=100-", 100, r, &n), -ERANGE);
	ck_assert_int_eq(ranges("bytes=-0", 100, r, &n), -ERANGE);
	ck_assert_int_eq(ranges("bytes=0-", 0, r, &n), -ERANGE);
	for (int i = 1; i <= STATIC_MAX_RANGES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",%d-%d", i, i);
	ck_assert_int_eq(ranges(many, 100, r, &n), 0); /* too many: ignored */
}
END_TEST

START_TEST(test_ranges_invalid)
{
	struct static_range r[STATIC_MAX_RANGES];
	size_t n;
	static const char *const bad[] = {
		"items=0-1", "bytes", "bytes=", "bytes=5-1", "bytes=-", "bytes=a-b",
		"bytes=1-2;x", "bytes=1", "bytes 0-1", "bytes=0-1 2-3", "bytes=--1",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_msg(ranges(bad[i], 100, r, &n) == 0, "%s", bad[i]);
}
END_TEST

START_TEST(test_etag)
{
	struct stat st = { 0 };
	char e[64];
	size_t n;

	st.st_mtim.tv_sec = 1;
	st.st_mtim.tv_nsec = 2;
	st.st_size = 255;
	st.st_ino = 16;
	n = static_etag(&st, e);
	ck_assert_str_eq(e, "\"3b9aca02:ff:10\"");
	ck_assert_uint_eq(n, strlen(e));
	st.st_mtim.tv_sec = (time_t)0x7fffffff;
	st.st_size = (off_t)0x7fffffffffffffffLL;
	st.st_ino = (ino_t)~0ULL;
	ck_assert_uint_lt(static_etag(&st, e), 54);

	ck_assert(static_etag_list_match("\"a\"", 3, "\"a\"", 3, false));
	ck_assert(static_etag_list_match("\"b\", \"a\"", 8, "\"a\"", 3, false));
	ck_assert(static_etag_list_match("*", 1, "\"a\"", 3, false));
	ck_assert(static_etag_list_match("W/\"a\"", 5, "\"a\"", 3, true));
	ck_assert(!static_etag_list_match("W/\"a\"", 5, "\"a\"", 3, false)); /* strong */
	ck_assert(!static_etag_list_match("\"ab\"", 4, "\"a\"", 3, true));
	ck_assert(!static_etag_list_match("a", 1, "\"a\"", 3, true)); /* not a tag */
	ck_assert(!static_etag_list_match("\"a", 2, "\"a\"", 3, true));
	ck_assert(!static_etag_list_match("", 0, "\"a\"", 3, true));
}
END_TEST

START_TEST(test_mime_map)
{
	static const struct mime_pair pairs[] = {
		{ ".txt", "text/plain" }, { ".HTML", "text/html" }, { ".", "text/x-none" },
	};
	static const struct mime_pair star[] = { { ".*", "application/x-any" } };
	struct mime_map *m = mime_map_new(pairs, ELEMENTSOF(pairs));
	struct mime_map *s = mime_map_new(star, ELEMENTSOF(star));
	const struct mime_map *b = mime_map_builtin();

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(mime_map_size(m), 3);
	ck_assert_str_eq(mime_map_lookup(m, "/a/b.TXT"), "text/plain");
	ck_assert_str_eq(mime_map_lookup(m, "index.html"), "text/html");
	ck_assert_str_eq(mime_map_lookup(m, "/dir.d/README"), "text/x-none");
	ck_assert_str_eq(mime_map_lookup(m, "trailing."), "text/x-none");
	ck_assert_ptr_null(mime_map_lookup(m, "a.tar.gz"));
	ck_assert_ptr_null(mime_map_lookup(m, "a.txt.bak"));
	ck_assert_str_eq(mime_map_lookup(s, "a.whatever"), "application/x-any");
	ck_assert_str_eq(mime_map_lookup(s, "noext"), "application/x-any");
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_gt(mime_map_size(b), 60);
	ck_assert_str_eq(mime_map_lookup(b, "x.css"), "text/css");
	ck_assert_str_eq(mime_map_lookup(b, "x.bin"), "application/octet-stream");
	ck_assert_ptr_null(mime_map_lookup(b, "x.config"));
	ck_assert_ptr_null(mime_map_lookup(b, "README"));
	mime_map_free(m);
	mime_map_free(s);
}
END_TEST

static Suite *
mod_static_suite(void)
{
	Suite *s = suite_create("mod_static");
	TCase *tr = tcase_create("ranges");
	TCase *tv = tcase_create("validators");
	TCase *tm = tcase_create("mime");

	tcase_add_checked_fixture(tr, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tr, test_ranges_single);
	tcase_add_test(tr, test_ranges_several);
	tcase_add_test(tr, test_ranges_invalid);
	suite_add_tcase(s, tr);
	tcase_add_checked_fixture(tv, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tv, test_etag);
	suite_add_tcase(s, tv);
	tcase_add_checked_fixture(tm, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tm, test_mime_map);
	suite_add_tcase(s, tm);
	return s;
}

int
main(void)
{
	return testutil_run(mod_static_suite());
}
