#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

static int init_max = LOG_INFO;

/* Run fn with stderr redirected into a pipe (or onto fd `onto` when >= 0)
 * and the log set up for it, as a daemon starts; return what it wrote. */
static char *
capture_onto(void (*fn)(void), int onto, int rd)
{
	static char buf[4096];
	int p[2] = { rd, onto }, saved;
	ssize_t n;

	if (onto < 0)
		ck_assert_int_eq(pipe(p), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(p[1], STDERR_FILENO), 0);
	close(p[1]);
	if (getenv("TEST_JOURNAL_STREAM_OF_STDERR")) {
		struct stat st;
		char v[64];

		ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
		snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
		setenv("JOURNAL_STREAM", v, 1);
	}
	wasp_log_init("wasptest", init_max);
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

static char *
capture(void (*fn)(void))
{
	return capture_onto(fn, -1, -1);
}

/* "2026-12-07T11:22:39.123+0000 " at s; what follows it. */
static const char *
skip_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddd+dddd ";

	for (size_t i = 0; shape[i]; i++) {
		bool ok = shape[i] == 'd'   ? isdigit((unsigned char)s[i])
			  : shape[i] == '+' ? (s[i] == '+' || s[i] == '-')
					    : s[i] == shape[i];
		ck_assert_msg(ok, "no timestamp at '%s'", s);
	}
	return s + strlen(shape);
}

static void
emit(void)
{
	int r = log_errno(-ENOENT, "open '%s'", "x.conf");

	ck_assert_int_eq(r, -ENOENT);
	log_warning("pool '%s' is slow, ignoring", "p");
	log_debug("not shown");
}

/* stderr a pipe or file, not the journal: each line has a timestamp. */
START_TEST(test_plain_prefix)
{
	char *out;

	unsetenv("JOURNAL_STREAM");
	init_max = LOG_INFO;
	out = capture(emit);
	ck_assert_msg(strstr(skip_timestamp(out), "wasptest[") == skip_timestamp(out), "got '%s'",
		      out);
	ck_assert_msg(strstr(out, "]: error: open 'x.conf'"), "got '%s'", out);
	ck_assert_msg(strstr(out, "]: warning: pool 'p' is slow"), "got '%s'", out);
	ck_assert_msg(strstr(skip_timestamp(strchr(out, '\n') + 1), "wasptest[") ==
			      skip_timestamp(strchr(out, '\n') + 1),
		      "got '%s'", out);
	ck_assert_ptr_nonnull(strstr(out, "open 'x.conf': No such file or directory\n"));
	ck_assert_ptr_nonnull(strstr(out, "pool 'p' is slow, ignoring\n"));
	ck_assert_ptr_null(strstr(out, "not shown"));
}
END_TEST

START_TEST(test_journal_priority_prefix)
{
	char *out;

	/* journald's native socket cannot be reached: stderr with priorities */
	setenv("WASP_JOURNAL_SOCKET", "/nonexistent/journal/socket", 1);
	setenv("TEST_JOURNAL_STREAM_OF_STDERR", "1", 1);
	init_max = LOG_DEBUG;
	out = capture(emit);
	unsetenv("TEST_JOURNAL_STREAM_OF_STDERR");
	unsetenv("WASP_JOURNAL_SOCKET");
	ck_assert_msg(strncmp(out, "<3>open 'x.conf'", 16) == 0, "got '%s'", out);
	ck_assert_ptr_nonnull(strstr(out, "\n<4>pool 'p' is slow, ignoring\n"));
	ck_assert_ptr_nonnull(strstr(out, "\n<7>not shown\n"));
	unsetenv("JOURNAL_STREAM");
}
END_TEST

static void
emit_pool(void)
{
	log_notice("first\nsecond");
	wasp_log_set_pool("DefaultAppPool");
	(void)log_errno(-EACCES, "open '%s'", "x");
}

/* Next datagram on fd as a NUL-terminated buffer; its length. */
static size_t
recv_entry(int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);

	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

/* Does entry (n bytes) hold the line "NAME=value"? */
static bool
has_field(const char *entry, size_t n, const char *field)
{
	size_t fl = strlen(field);

	for (const char *p = entry; p < entry + n;) {
		const char *nl = memchr(p, '\n', (size_t)(entry + n - p));

		if (!nl)
			return false;
		if ((size_t)(nl - p) == fl && memcmp(p, field, fl) == 0)
			return true;
		p = nl + 1;
	}
	return false;
}

/* stderr is the journal and its native socket answers: an entry per line
 * with priority, identity, pid, the pool once set and errno; nothing on
 * stderr. */
START_TEST(test_journal_native)
{
	char *dir = testutil_mkdtemp(), path[256], pid[64], buf[4096];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *bin = "MESSAGE\n\x0c\0\0\0\0\0\0\0first\nsecond\n";
	int fd;
	size_t n;
	char *out;

	snprintf(path, sizeof(path), "%s/journal", dir);
	ck_assert_int_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("WASP_JOURNAL_SOCKET", path, 1);
	setenv("TEST_JOURNAL_STREAM_OF_STDERR", "1", 1);
	init_max = LOG_INFO;
	out = capture(emit_pool);
	unsetenv("TEST_JOURNAL_STREAM_OF_STDERR");
	unsetenv("WASP_JOURNAL_SOCKET");
	unsetenv("JOURNAL_STREAM");
	ck_assert_msg(out[0] == '\0', "stderr got '%s'", out);
	snprintf(pid, sizeof(pid), "SYSLOG_PID=%d", (int)getpid());

	n = recv_entry(fd, buf, sizeof(buf));
	ck_assert(has_field(buf, n, "PRIORITY=5"));
	ck_assert(has_field(buf, n, "SYSLOG_IDENTIFIER=wasptest"));
	ck_assert(has_field(buf, n, pid));
	ck_assert(!memmem(buf, n, "WASP_POOL=", 10));
	/* a message with a newline in the binary form */
	ck_assert_msg(memmem(buf, n, bin, 29) != NULL, "entry '%s'", buf);

	n = recv_entry(fd, buf, sizeof(buf));
	ck_assert(has_field(buf, n, "PRIORITY=3"));
	ck_assert(has_field(buf, n, "SYSLOG_IDENTIFIER=wasptest"));
	ck_assert(has_field(buf, n, "WASP_POOL=DefaultAppPool"));
	ck_assert(has_field(buf, n, "ERRNO=13"));
	ck_assert(has_field(buf, n, "MESSAGE=open 'x': Permission denied"));
	ck_assert_int_lt(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	wasp_log_init("wasptest", LOG_INFO); /* closes the socket it held */
	close(fd);
	unlink(path);
	rmdir(dir);
	free(dir);
}
END_TEST

/* A worker's lines name its pool after the identity. */
START_TEST(test_pool_prefix)
{
	char *out;

	unsetenv("JOURNAL_STREAM");
	init_max = LOG_INFO;
	out = capture(emit_pool);
	ck_assert_msg(strstr(out, "wasptest[") && strstr(out, "]: notice: first\nsecond\n"),
		      "got '%s'", out);
	ck_assert_msg(strstr(out, "wasptest/DefaultAppPool[") &&
			      strstr(out, "]: error: open 'x': Permission denied\n"),
		      "got '%s'", out);
}
END_TEST

/* JOURNAL_STREAM names another stream (inherited by a process whose stderr
 * was redirected): not the journal. */
START_TEST(test_journal_stream_elsewhere)
{
	char *out;

	setenv("JOURNAL_STREAM", "8:12345", 1);
	init_max = LOG_INFO;
	out = capture(emit);
	unsetenv("JOURNAL_STREAM");
	ck_assert_msg(strncmp(skip_timestamp(out), "wasptest[", 9) == 0, "got '%s'", out);
}
END_TEST

/* A terminal: no timestamp (the person reading it has a clock). */
START_TEST(test_tty_no_timestamp)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY), s;
	char *out;

	if (m < 0)
		return; /* no pseudo-terminals here */
	ck_assert_int_eq(grantpt(m), 0);
	ck_assert_int_eq(unlockpt(m), 0);
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(s, 0);
	unsetenv("JOURNAL_STREAM");
	init_max = LOG_INFO;
	out = capture_onto(emit, s, m); /* closes both */
	ck_assert_msg(strncmp(out, "wasptest[", 9) == 0, "got '%s'", out);
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
	tcase_add_test(tc, test_journal_stream_elsewhere);
	tcase_add_test(tc, test_journal_native);
	tcase_add_test(tc, test_pool_prefix);
	tcase_add_test(tc, test_tty_no_timestamp);
	tcase_add_test(tc, test_long_line_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(log_suite());
}
