/* common/fs.h and the small helpers of common/util.h and libevent-util.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "libevent-util.h"
#include "testutil.h"
#include "util.h"

static mode_t
mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	return st.st_mode & 07777;
}

START_TEST(test_mkdir_p)
{
	char *dir = testutil_mkdtemp();
	char path[512], sub[512];
	mode_t old = umask(022);

	snprintf(path, sizeof(path), "%s/a/b/c//", dir);
	ck_assert_int_eq(wasp_mkdir_p(path, 0755, 0750, 0), 0);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	ck_assert_uint_eq(mode_of(sub), 0755);
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	ck_assert_uint_eq(mode_of(sub), 0750);
	/* what exists is left alone */
	ck_assert_int_eq(wasp_mkdir_p(sub, 0700, 0700, WASP_MKDIR_CHMOD), 0);
	ck_assert_uint_eq(mode_of(sub), 0750);

	/* the umask applies, unless asked otherwise */
	umask(077);
	snprintf(sub, sizeof(sub), "%s/u/v", dir);
	ck_assert_int_eq(wasp_mkdir_p(sub, 0755, 0755, 0), 0);
	ck_assert_uint_eq(mode_of(sub), 0700);
	snprintf(sub, sizeof(sub), "%s/w/x", dir);
	ck_assert_int_eq(wasp_mkdir_p(sub, 0755, 0755, WASP_MKDIR_CHMOD), 0);
	ck_assert_uint_eq(mode_of(sub), 0755);
	snprintf(sub, sizeof(sub), "%s/w", dir);
	ck_assert_uint_eq(mode_of(sub), 0755);
	umask(old);

	/* a file in the way of a parent */
	snprintf(sub, sizeof(sub), "%s/file", dir);
	testutil_write_file(sub, "x");
	snprintf(path, sizeof(path), "%s/file/d", dir);
	ck_assert_int_eq(wasp_mkdir_p(path, 0755, 0755, 0), -ENOTDIR);
	ck_assert_int_eq(wasp_mkdir_p("", 0755, 0755, 0), -EINVAL);
	testutil_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_read_file)
{
	char *dir = testutil_mkdtemp();
	char path[512], *buf = NULL;
	size_t len = 1;

	snprintf(path, sizeof(path), "%s/f", dir);
	testutil_write_file(path, "");
	ck_assert_int_eq(wasp_read_file(path, 10, &buf, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(buf, "");
	free(buf);

	testutil_write_file(path, "0123456789");
	ck_assert_int_eq(wasp_read_file(path, 10, &buf, &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(buf, "0123456789");
	free(buf);
	buf = NULL;
	ck_assert_int_eq(wasp_read_file(path, 9, &buf, &len), -EFBIG);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(wasp_read_file(path, 0, &buf, &len), -EFBIG);

	snprintf(path, sizeof(path), "%s/none", dir);
	ck_assert_int_eq(wasp_read_file(path, 10, &buf, &len), -ENOENT);
	ck_assert_int_eq(wasp_read_file(dir, 10, &buf, &len), -EISDIR);
	testutil_rmtree(dir);
	free(dir);
}
END_TEST

/* Bigger than the first buffer, and from a pipe (no size to go by): read
 * whole, and not one byte past the limit. */
START_TEST(test_read_fd_pipe)
{
	size_t n = 100000, len = 0;
	char *data = malloc(n), *buf = NULL;
	int p[2];

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	for (int round = 0; round < 2; round++) {
		pid_t pid;

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			size_t done = 0;

			close(p[0]);
			while (done < n) {
				ssize_t k = write(p[1], data + done, n - done);
				if (k <= 0)
					_exit(1);
				done += (size_t)k;
			}
			_exit(0);
		}
		close(p[1]);
		if (round == 0) {
			ck_assert_int_eq(wasp_read_fd(p[0], n, &buf, &len), 0);
			ck_assert_uint_eq(len, n);
			ck_assert_int_eq(memcmp(buf, data, n), 0);
			ck_assert_int_eq(buf[n], '\0');
			free(buf);
		} else {
			char rest[16];

			ck_assert_int_eq(wasp_read_fd(p[0], n - 10, &buf, &len), -EFBIG);
			/* n - 9 bytes taken: exactly 9 left */
			ck_assert_int_eq(read(p[0], rest, sizeof(rest)), 9);
		}
		close(p[0]);
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	}
	free(data);
}
END_TEST

START_TEST(test_timeval_from_usec)
{
	struct timeval tv = wasp_timeval_from_usec(UINT64_C(3999999));

	ck_assert_int_eq(tv.tv_sec, 3);
	ck_assert_int_eq(tv.tv_usec, 999999);
	tv = wasp_timeval_from_usec(0);
	ck_assert_int_eq(tv.tv_sec, 0);
	ck_assert_int_eq(tv.tv_usec, 0);
	tv = wasp_timeval_from_usec(UINT64_C(86400) * 1000000 + 1);
	ck_assert_int_eq(tv.tv_sec, 86400);
	ck_assert_int_eq(tv.tv_usec, 1);
}
END_TEST

START_TEST(test_errno_is_disconnect)
{
	ck_assert(wasp_errno_is_disconnect(-EPIPE));
	ck_assert(wasp_errno_is_disconnect(-ECONNRESET));
	ck_assert(!wasp_errno_is_disconnect(0));
	ck_assert(!wasp_errno_is_disconnect(-EAGAIN));
	ck_assert(!wasp_errno_is_disconnect(EPIPE));
}
END_TEST

START_TEST(test_event_free)
{
	struct event_base *base = event_base_new();
	_cleanup_(wasp_event_freep) struct event *scoped = NULL;
	struct event *ev;

	ck_assert_ptr_nonnull(base);
	ev = evtimer_new(base, NULL, NULL);
	ck_assert_ptr_nonnull(ev);
	ev = wasp_event_free(ev);
	ck_assert_ptr_null(ev);
	ck_assert_ptr_null(wasp_event_free(NULL));
	scoped = evtimer_new(base, NULL, NULL);
	ck_assert_ptr_nonnull(scoped);
	wasp_event_freep(&scoped);
	ck_assert_ptr_null(scoped);
	base = wasp_event_base_free(base);
	ck_assert_ptr_null(base);
	ck_assert_ptr_null(wasp_event_base_free(NULL));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("common_fs");
	TCase *tc = tcase_create("fs");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_mkdir_p);
	tcase_add_test(tc, test_read_file);
	tcase_add_test(tc, test_read_fd_pipe);
	tcase_add_test(tc, test_timeval_from_usec);
	tcase_add_test(tc, test_errno_is_disconnect);
	tcase_add_test(tc, test_event_free);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
