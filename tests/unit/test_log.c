#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

/* Run fn with stderr redirected into a pipe; return what it wrote. */
static char *
capture(void (*fn)(void))
{
	static char buf[4096];
	int p[2], saved;
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(p[1], STDERR_FILENO), 0);
	close(p[1]);
	fn();
	fflush(stderr);
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

static void
emit(void)
{
	int r = log_errno(-ENOENT, "open '%s'", "x.conf");

	ck_assert_int_eq(r, -ENOENT);
	log_warning("pool '%s' is slow, ignoring", "p");
	log_debug("not shown");
}

START_TEST(test_plain_prefix)
{
	char *out;

	unsetenv("JOURNAL_STREAM");
	wasp_log_init("wasptest", LOG_INFO);
	out = capture(emit);
	ck_assert_msg(strstr(out, "wasptest[") == out, "got '%s'", out);
	ck_assert_ptr_nonnull(strstr(out, "open 'x.conf': No such file or directory\n"));
	ck_assert_ptr_nonnull(strstr(out, "pool 'p' is slow, ignoring\n"));
	ck_assert_ptr_null(strstr(out, "not shown"));
}
END_TEST

START_TEST(test_journal_priority_prefix)
{
	char *out;

	setenv("JOURNAL_STREAM", "8:12345", 1);
	wasp_log_init("wasptest", LOG_DEBUG);
	out = capture(emit);
	ck_assert_msg(strncmp(out, "<3>open 'x.conf'", 16) == 0, "got '%s'", out);
	ck_assert_ptr_nonnull(strstr(out, "\n<4>pool 'p' is slow, ignoring\n"));
	ck_assert_ptr_nonnull(strstr(out, "\n<7>not shown\n"));
	unsetenv("JOURNAL_STREAM");
}
END_TEST

START_TEST(test_long_line_truncated)
{
	static char big[5000];
	char *out;

	memset(big, 'a', sizeof(big) - 1);
	unsetenv("JOURNAL_STREAM");
	wasp_log_init("wasptest", LOG_INFO);
	fflush(stderr);
	{
		int p[2], saved = dup(STDERR_FILENO);
		static char buf[8192];
		ssize_t n;

		ck_assert_int_eq(pipe(p), 0);
		dup2(p[1], STDERR_FILENO);
		close(p[1]);
		log_info("%s", big);
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		n = read(p[0], buf, sizeof(buf) - 1);
		close(p[0]);
		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		out = buf;
	}
	/* one line, ending in a newline, no longer than the line buffer */
	ck_assert_int_le(strlen(out), 2048);
	ck_assert_int_eq(out[strlen(out) - 1], '\n');
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("format");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_plain_prefix);
	tcase_add_test(tc, test_journal_priority_prefix);
	tcase_add_test(tc, test_long_line_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(log_suite());
}
