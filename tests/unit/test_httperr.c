/* The HTTPERR log's files (listener/httperr.c) and settings
 * (common/httperr.c): rolling by size to httperr<N+1>.log, at most
 * max_files kept, the newest continued after a restart, the header on each
 * new file; malformed settings refused with the variable named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httperr.h"
#include "lsn.h"
#include "testutil.h"

static bool
file_exists(const char *dir, unsigned n, off_t *size)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/httperr%u.log", dir, n);
	if (stat(path, &st) < 0)
		return false;
	if (size)
		*size = st.st_size;
	return true;
}

static char *
file_text(const char *dir, unsigned n)
{
	static char buf[4096];
	char path[512];
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "%s/httperr%u.log", dir, n);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

START_TEST(test_roll_and_bound)
{
	char *dir = testutil_mkdtemp();
	struct lsn_httperr h;
	char line[64];
	off_t size;

	ck_assert_int_eq(lsn_httperr_open(&h, dir, 400, 3), 0);
	for (int i = 0; i < 40; i++) {
		int n = snprintf(line, sizeof(line), "2026-12-07 10:00:00 line %02d\n", i);
		ck_assert_int_eq(lsn_httperr_write(&h, line, (size_t)n, 0), 0);
	}
	/* 40 lines of 28 bytes, under 400 bytes a file with its header: the
	 * newest three files kept, none over the size */
	ck_assert_uint_gt(h.seq, 3);
	for (unsigned n = 1; n <= h.seq; n++) {
		bool kept = n + 3 > h.seq;

		ck_assert_msg(file_exists(dir, n, &size) == kept, "httperr%u.log", n);
		if (kept) {
			ck_assert_int_le(size, 400);
			ck_assert_ptr_nonnull(strstr(file_text(dir, n), "#Fields: date time c-ip"));
			ck_assert(strncmp(file_text(dir, n), "#Software: wasp ", 16) == 0);
		}
	}
	ck_assert_ptr_nonnull(strstr(file_text(dir, h.seq), "line 39\n"));
	lsn_httperr_close(&h);

	/* a restart continues the newest file; fewer files kept now */
	{
		unsigned newest = h.seq;

		ck_assert_int_eq(lsn_httperr_open(&h, dir, 400, 1), 0);
		ck_assert_uint_eq(h.seq, newest);
		ck_assert(!file_exists(dir, newest - 1, NULL));
		ck_assert_int_eq(lsn_httperr_write(&h, "again\n", 6, 0), 0);
		ck_assert_ptr_nonnull(strstr(file_text(dir, h.seq), "again\n"));
		if (h.seq == newest) /* appended after the old lines */
			ck_assert_ptr_nonnull(strstr(file_text(dir, newest), "line 39\nagain\n"));
		else /* the newest was full: rolled, and only one file kept */
			ck_assert(!file_exists(dir, newest, NULL));
		lsn_httperr_close(&h);
	}
	testutil_rmtree(dir);
	free(dir);
}
END_TEST

/* Other names in the directory are not taken for log files. */
START_TEST(test_other_names)
{
	char *dir = testutil_mkdtemp(), path[512];
	struct lsn_httperr h;

	snprintf(path, sizeof(path), "%s/httperr07.log", dir);
	testutil_write_file(path, "x");
	snprintf(path, sizeof(path), "%s/httperr5.log.gz", dir);
	testutil_write_file(path, "x");
	snprintf(path, sizeof(path), "%s/httperr.log", dir);
	testutil_write_file(path, "x");
	ck_assert_int_eq(lsn_httperr_open(&h, dir, 1 << 20, 10), 0);
	ck_assert_uint_eq(h.seq, 1);
	lsn_httperr_close(&h);
	testutil_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_settings)
{
	struct wasp_httperr_settings s;
	const char *bad;

	unsetenv("WASP_HTTP_ENABLE_ERROR_LOGGING");
	unsetenv("WASP_HTTP_ERROR_LOG_FILE_TRUNCATE_SIZE");
	unsetenv("WASP_HTTP_ERROR_LOG_MAX_FILES");
	unsetenv("WASP_HTTP_ERROR_LOGGING_DIR");
	setenv("WASP_LOG_DIR", "/srv/logs", 1);
	ck_assert_int_eq(wasp_httperr_settings(&s, &bad), 0);
	ck_assert(s.enabled);
	ck_assert_str_eq(s.dir, "/srv/logs/HTTPERR");
	ck_assert_uint_eq(s.truncate_size, 1024 * 1024);
	ck_assert_uint_eq(s.max_files, 10);

	setenv("WASP_HTTP_ERROR_LOGGING_DIR", "/var/log/x/", 1);
	setenv("WASP_HTTP_ERROR_LOG_FILE_TRUNCATE_SIZE", "2097152", 1);
	setenv("WASP_HTTP_ENABLE_ERROR_LOGGING", "0", 1);
	ck_assert_int_eq(wasp_httperr_settings(&s, &bad), 0);
	ck_assert(!s.enabled);
	ck_assert_str_eq(s.dir, "/var/log/x/HTTPERR");
	ck_assert_uint_eq(s.truncate_size, 2097152);

	setenv("WASP_HTTP_ERROR_LOG_FILE_TRUNCATE_SIZE", "1000", 1); /* under 1 MiB */
	ck_assert_int_eq(wasp_httperr_settings(&s, &bad), -EINVAL);
	ck_assert_str_eq(bad, "WASP_HTTP_ERROR_LOG_FILE_TRUNCATE_SIZE");
	ck_assert(!s.enabled);
	unsetenv("WASP_HTTP_ERROR_LOG_FILE_TRUNCATE_SIZE");
	setenv("WASP_HTTP_ERROR_LOG_MAX_FILES", "0", 1);
	ck_assert_int_eq(wasp_httperr_settings(&s, &bad), -EINVAL);
	ck_assert_str_eq(bad, "WASP_HTTP_ERROR_LOG_MAX_FILES");
	unsetenv("WASP_HTTP_ERROR_LOG_MAX_FILES");
	setenv("WASP_HTTP_ERROR_LOGGING_DIR", "relative", 1);
	ck_assert_int_eq(wasp_httperr_settings(&s, &bad), -EINVAL);
	ck_assert_str_eq(bad, "WASP_HTTP_ERROR_LOGGING_DIR");
	unsetenv("WASP_HTTP_ERROR_LOGGING_DIR");
	unsetenv("WASP_HTTP_ENABLE_ERROR_LOGGING");
	unsetenv("WASP_LOG_DIR");
}
END_TEST

static Suite *
httperr_suite(void)
{
	Suite *s = suite_create("httperr");
	TCase *tc = tcase_create("files");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_roll_and_bound);
	tcase_add_test(tc, test_other_names);
	tcase_add_test(tc, test_settings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(httperr_suite());
}
