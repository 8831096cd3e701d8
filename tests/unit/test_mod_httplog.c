/* worker/logwriter.c: the W3C extended log as IIS writes it (fields and
 * their order, escaping, the header block, file names per period) and the
 * writer (a new file starts with its header, UTC rollover, a reopened file
 * gets a header block only when its last one has other fields, nothing
 * reaches the file before a flush). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logwriter.h"
#include "testutil.h"

/* 2026-11-21 23:59:59 UTC, a Saturday */
#define T_SAT_2359 ((time_t)1795305599)

static char *top;

static void
setup(void)
{
	testutil_fd_setup();
	top = testutil_mkdtemp();
}

static void
teardown(void)
{
	testutil_rmtree(top);
	free(top);
	testutil_fd_teardown();
}

static char *
read_file(const char *dir, const char *name)
{
	char p[PATH_MAX];
	static char buf[65536];
	ssize_t n;
	int fd;

	ck_assert_int_lt(snprintf(p, sizeof(p), "%s/%s", dir, name), (int)sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static const struct w3c_entry example = {
	.time = T_SAT_2359,
	.site_name = "W3SVC1",
	.computer_name = "host1",
	.server_ip = "127.0.0.1",
	.method = "GET",
	.uri_stem = "/a b/c.html",
	.uri_query = "x=1&y=2",
	.server_port = 8080,
	.user_name = NULL,
	.client_ip = "::1",
	.version = "HTTP/1.1",
	.user_agent = "curl/8.0 (x86_64)",
	.cookie = "",
	.referer = "http://r.test/p q",
	.host = "a.test",
	.status = 404,
	.substatus = 3,
	.win32_status = 0,
	.bytes_sent = 1234,
	.bytes_received = 99,
	.time_taken_ms = 15,
};

START_TEST(fields_default_is_iis_default)
{
	char buf[512];

	w3c_fields(W3C_F_DEFAULT, buf, sizeof(buf));
	ck_assert_str_eq(buf, "date time s-ip cs-method cs-uri-stem cs-uri-query s-port "
			      "cs-username c-ip cs(User-Agent) cs(Referer) sc-status "
			      "sc-substatus sc-win32-status time-taken");
}
END_TEST

START_TEST(fields_all_in_iis_order)
{
	char buf[512];

	w3c_fields(0x3fffff, buf, sizeof(buf));
	ck_assert_str_eq(buf,
			 "date time s-sitename s-computername s-ip cs-method cs-uri-stem "
			 "cs-uri-query s-port cs-username c-ip cs-version cs(User-Agent) "
			 "cs(Cookie) cs(Referer) cs-host sc-status sc-substatus "
			 "sc-win32-status sc-bytes cs-bytes time-taken");
}
END_TEST

START_TEST(line_all_fields)
{
	char buf[2048];
	int n = w3c_format_line(0x3fffff, &example, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "2026-11-21 23:59:59 W3SVC1 host1 127.0.0.1 GET /a+b/c.html "
			      "x=1&y=2 8080 - ::1 HTTP/1.1 curl/8.0+(x86_64) - "
			      "http://r.test/p+q a.test 404 3 0 1234 99 15\n");
	ck_assert_int_eq(n, (int)strlen(buf));
}
END_TEST

START_TEST(line_selected_fields)
{
	char buf[2048];
	int n = w3c_format_line(W3C_F_METHOD | W3C_F_HTTP_STATUS | W3C_F_HTTP_SUB_STATUS |
					W3C_F_BYTES_SENT,
				&example, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "GET 404 3 1234\n");
}
END_TEST

START_TEST(line_escapes)
{
	struct w3c_entry e = example;
	char buf[2048];

	/* control bytes never break the line or the columns; a leading '#'
	 * would read as a directive */
	e.method = "#X";
	e.uri_stem = "/a\nb\tc\x7f";
	e.user_agent = "";
	e.uri_query = NULL;
	ck_assert_int_gt(w3c_format_line(W3C_F_METHOD | W3C_F_URI_STEM | W3C_F_URI_QUERY |
						 W3C_F_USER_AGENT,
					 &e, buf, sizeof(buf)),
			 0);
	ck_assert_str_eq(buf, "%23X /a%0Ab%09c%7F - -\n");
	/* not first: '#' stays */
	ck_assert_int_gt(w3c_format_line(W3C_F_SERVER_IP | W3C_F_METHOD, &e, buf, sizeof(buf)),
			 0);
	ck_assert_str_eq(buf, "127.0.0.1 #X\n");
	ck_assert_int_gt(w3c_format_line(W3C_F_TIME | W3C_F_METHOD, &e, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "23:59:59 #X\n");
}
END_TEST

START_TEST(line_buffer_too_small)
{
	char buf[16];

	ck_assert_int_lt(w3c_format_line(0x3fffff, &example, buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(header_block)
{
	char buf[1024];
	int n = w3c_format_header(W3C_F_DATE | W3C_F_TIME | W3C_F_HTTP_STATUS, T_SAT_2359, buf,
				  sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_msg(strncmp(buf, "#Software: wasp ", 16) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\n#Version: 1.0\n#Date: 2026-11-21 23:59:59\n"
					  "#Fields: date time sc-status\n"));
	ck_assert_int_eq(buf[n - 1], '\n');
}
END_TEST

START_TEST(file_names)
{
	char name[32];
	time_t s, e;

	w3c_file_name(W3C_PERIOD_DAILY, T_SAT_2359, name, &s, &e);
	ck_assert_str_eq(name, "u_ex261121.log");
	ck_assert_int_eq(e - s, 86400);
	ck_assert_int_eq(e, T_SAT_2359 + 1);
	w3c_file_name(W3C_PERIOD_DAILY, T_SAT_2359 + 1, name, NULL, NULL);
	ck_assert_str_eq(name, "u_ex261122.log");
	w3c_file_name(W3C_PERIOD_HOURLY, T_SAT_2359, name, &s, &e);
	ck_assert_str_eq(name, "u_ex26112123.log");
	ck_assert_int_eq(e, T_SAT_2359 + 1);
	ck_assert_int_eq(e - s, 3600);
	w3c_file_name(W3C_PERIOD_HOURLY, T_SAT_2359 + 1, name, NULL, NULL);
	ck_assert_str_eq(name, "u_ex26112200.log");
	w3c_file_name(W3C_PERIOD_MONTHLY, T_SAT_2359, name, &s, &e);
	ck_assert_str_eq(name, "u_ex2611.log");
	ck_assert_int_eq(e, T_SAT_2359 + 1 + 9 * 86400); /* December 1st */
	/* Sunday the 1st of November 2026 starts week 1; Saturday the 21st
	 * is in week 3; Sunday the 22nd starts week 4 */
	w3c_file_name(W3C_PERIOD_WEEKLY, T_SAT_2359, name, &s, &e);
	ck_assert_str_eq(name, "u_ex261103.log");
	ck_assert_int_eq(e, T_SAT_2359 + 1);
	ck_assert_int_eq(e - s, 7 * 86400);
	w3c_file_name(W3C_PERIOD_WEEKLY, T_SAT_2359 + 1, name, NULL, NULL);
	ck_assert_str_eq(name, "u_ex261104.log");
	/* localTimeRollover: the files follow local time (UTC-5 here) */
	setenv("TZ", "EST5", 1);
	tzset();
	w3c_file_name(W3C_PERIOD_DAILY | W3C_PERIOD_LOCAL_TIME, T_SAT_2359, name, &s, &e);
	ck_assert_str_eq(name, "u_ex261121.log");
	ck_assert_int_eq(e, T_SAT_2359 + 1 + 5 * 3600);
	ck_assert_int_eq(e - s, 86400);
	w3c_file_name(W3C_PERIOD_DAILY | W3C_PERIOD_LOCAL_TIME, T_SAT_2359 + 1 + 5 * 3600, name,
		      NULL, NULL);
	ck_assert_str_eq(name, "u_ex261122.log");
	w3c_file_name(W3C_PERIOD_HOURLY | W3C_PERIOD_LOCAL_TIME, T_SAT_2359, name, NULL, NULL);
	ck_assert_str_eq(name, "u_ex26112118.log");
	unsetenv("TZ");
	tzset();
	/* the last week of November ends with the month (Monday the 30th) */
	w3c_file_name(W3C_PERIOD_WEEKLY, T_SAT_2359 + 1 + 8 * 86400, name, &s, &e);
	ck_assert_str_eq(name, "u_ex261105.log");
	ck_assert_int_eq(e, T_SAT_2359 + 1 + 9 * 86400);
}
END_TEST

START_TEST(writer_new_file_has_header_and_rolls_over_at_utc_midnight)
{
	char dir[PATH_MAX], line[2048];
	struct logwriter *w;
	struct stat st;
	const char *f;
	int n;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/logs/W3SVC7", top), (int)sizeof(dir));
	w = logwriter_new(dir, W3C_PERIOD_DAILY, W3C_F_DEFAULT);
	ck_assert_ptr_nonnull(w);
	n = w3c_format_line(W3C_F_DEFAULT, &example, line, sizeof(line));
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, line, (size_t)n), 0);
	/* batched: nothing on disk before a flush */
	ck_assert_int_ne(stat(dir, &st), 0);
	ck_assert(logwriter_pending(w));
	/* the next second is another day: the first day's lines go out */
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359 + 1, line, (size_t)n), 0);
	f = read_file(dir, "u_ex261121.log");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(count(f, "#Fields: "), 1);
	ck_assert_int_eq(count(f, "#Version: 1.0\n"), 1);
	ck_assert_int_eq(count(f, line), 1);
	ck_assert_msg(strncmp(f, "#Software: ", 11) == 0, "%s", f);
	ck_assert_ptr_null(read_file(dir, "u_ex261122.log"));
	ck_assert_int_eq(logwriter_flush(w), 0);
	ck_assert(!logwriter_pending(w));
	f = read_file(dir, "u_ex261122.log");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(count(f, "#Fields: "), 1);
	ck_assert_int_eq(count(f, line), 1);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	logwriter_free(w);
}
END_TEST

START_TEST(writer_reopen_same_fields_no_second_header)
{
	char dir[PATH_MAX], line[2048];
	struct logwriter *w;
	const char *f;
	int n;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/W3SVC1", top), (int)sizeof(dir));
	n = w3c_format_line(W3C_F_DEFAULT, &example, line, sizeof(line));
	w = logwriter_new(dir, W3C_PERIOD_DAILY, W3C_F_DEFAULT);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, line, (size_t)n), 0);
	w = logwriter_free(w); /* flushes */
	/* another process (a recycled worker) with the same fields */
	w = logwriter_new(dir, W3C_PERIOD_DAILY, W3C_F_DEFAULT);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, line, (size_t)n), 0);
	w = logwriter_free(w);
	f = read_file(dir, "u_ex261121.log");
	ck_assert_int_eq(count(f, "#Fields: "), 1);
	ck_assert_int_eq(count(f, line), 2);
	/* with other fields: a header block of its own before its lines */
	w = logwriter_new(dir, W3C_PERIOD_DAILY, W3C_F_METHOD);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, "GET\n", 4), 0);
	w = logwriter_free(w);
	f = read_file(dir, "u_ex261121.log");
	ck_assert_int_eq(count(f, "#Fields: "), 2);
	ck_assert_ptr_nonnull(strstr(f, "#Fields: cs-method\nGET\n"));
	ck_assert_int_eq(strlen(strstr(f, "#Fields: cs-method\nGET\n")),
			 strlen("#Fields: cs-method\nGET\n"));
}
END_TEST

START_TEST(writer_file_deleted_starts_again)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct logwriter *w;
	const char *f;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/W3SVC5", top), (int)sizeof(dir));
	ck_assert_int_lt(snprintf(p, sizeof(p), "%s/u_ex261121.log", dir), (int)sizeof(p));
	w = logwriter_new(dir, W3C_PERIOD_DAILY, W3C_F_METHOD);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, "A\n", 2), 0);
	ck_assert_int_eq(logwriter_flush(w), 0);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, "B\n", 2), 0);
	ck_assert_int_eq(logwriter_flush(w), 0);
	f = read_file(dir, "u_ex261121.log");
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(strncmp(f, "#Software: ", 11) == 0 && strstr(f, "#Fields: cs-method\nB\n") &&
			      !strstr(f, "A\n"),
		      "%s", f);
	logwriter_free(w);
}
END_TEST

START_TEST(writer_hourly)
{
	char dir[PATH_MAX];
	struct logwriter *w;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/W3SVC2", top), (int)sizeof(dir));
	w = logwriter_new(dir, W3C_PERIOD_HOURLY, W3C_F_METHOD);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359 - 3600, "A\n", 2), 0);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, "B\n", 2), 0);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359 + 1, "C\n", 2), 0);
	w = logwriter_free(w);
	ck_assert_ptr_nonnull(strstr(read_file(dir, "u_ex26112122.log"), "#Fields: cs-method\nA\n"));
	ck_assert_ptr_nonnull(strstr(read_file(dir, "u_ex26112123.log"), "#Fields: cs-method\nB\n"));
	ck_assert_ptr_nonnull(strstr(read_file(dir, "u_ex26112200.log"), "#Fields: cs-method\nC\n"));
}
END_TEST

START_TEST(writer_unwritable_dir_drops_lines)
{
	char dir[PATH_MAX], file[PATH_MAX];
	struct logwriter *w;

	/* a directory under a regular file: nobody, root included, creates it */
	ck_assert_int_lt(snprintf(file, sizeof(file), "%s/plain", top), (int)sizeof(file));
	testutil_write_file(file, "x\n");
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/logs/W3SVC1", file), (int)sizeof(dir));
	w = logwriter_new(dir, W3C_PERIOD_DAILY, W3C_F_METHOD);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, "A\n", 2), 0);
	ck_assert_int_lt(logwriter_flush(w), 0);
	ck_assert(!logwriter_pending(w));
	/* the next line is tried again (and dropped again), nothing leaks */
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, "B\n", 2), 0);
	ck_assert_int_lt(logwriter_flush(w), 0);
	logwriter_free(w);
}
END_TEST

START_TEST(writer_big_batch)
{
	char dir[PATH_MAX], line[128];
	struct logwriter *w;
	struct stat st;
	char p[PATH_MAX];
	const char *f;
	off_t expect = 0;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/W3SVC3", top), (int)sizeof(dir));
	w = logwriter_new(dir, W3C_PERIOD_DAILY, W3C_F_METHOD);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	/* more than the buffer holds: whole lines go out as it fills */
	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(logwriter_append(w, T_SAT_2359, line, sizeof(line)), 0);
		expect += (off_t)sizeof(line);
	}
	w = logwriter_free(w);
	ck_assert_int_lt(snprintf(p, sizeof(p), "%s/u_ex261121.log", dir), (int)sizeof(p));
	ck_assert_int_eq(stat(p, &st), 0);
	f = read_file(dir, "u_ex261121.log");
	ck_assert_ptr_nonnull(strstr(f, "#Fields: cs-method\nxxx"));
	ck_assert_int_eq(st.st_size, (off_t)(strstr(f, "xxx") - f) + expect);
}
END_TEST

/* period MaxSize, truncateSize at IIS's minimum (1 MiB): u_extend1.log,
 * u_extend2.log, ... none over the size, each with its header, every line
 * once; a new writer (a recycled worker) goes on with the last file. */
static char *
read_big(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	ck_assert_int_lt(snprintf(p, sizeof(p), "%s/%s", dir, name), (int)sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	ck_assert_int_eq(n, st.st_size);
	buf[n] = '\0';
	return buf;
}

START_TEST(writer_max_size)
{
	const uint64_t max = 1048576;
	char dir[PATH_MAX], line[129], p[PATH_MAX];
	char *f;
	struct logwriter *w;
	struct stat st;
	size_t lines = 0;
	int i;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/W3SVC9", top), (int)sizeof(dir));
	w = logwriter_new(dir, W3C_PERIOD_MAX_SIZE, W3C_F_METHOD);
	logwriter_set_max_size(w, max);
	memset(line, 'x', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	for (i = 0; i < 20000; i++) /* 2.4 MiB: three files */
		ck_assert_int_eq(logwriter_append(w, T_SAT_2359 + i * 60, line, sizeof(line) - 1),
				 0);
	w = logwriter_free(w);
	for (i = 1; i <= 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "u_extend%d.log", i);
		ck_assert_int_lt(snprintf(p, sizeof(p), "%s/%s", dir, name), (int)sizeof(p));
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_msg((uint64_t)st.st_size <= max, "%s: %lld bytes", name,
			      (long long)st.st_size);
		f = read_big(dir, name);
		ck_assert_msg(strncmp(f, "#Software: ", 11) == 0, "%s", name);
		ck_assert_int_eq(count(f, "#Fields: "), 1);
		lines += (size_t)count(f, line);
		free(f);
		if (i < 3) /* full before the next one started */
			ck_assert_uint_gt((uint64_t)st.st_size + 65536, max);
	}
	ck_assert_uint_eq(lines, 20000);
	ck_assert_int_lt(snprintf(p, sizeof(p), "%s/u_extend4.log", dir), (int)sizeof(p));
	ck_assert_int_ne(stat(p, &st), 0);
	ck_assert_ptr_null(read_file(dir, "u_ex261121.log"));

	/* another writer appends to the last file (with a header block of its
	 * own: the file's is more than LOGWRITER_TAIL_SCAN back) */
	w = logwriter_new(dir, W3C_PERIOD_MAX_SIZE, W3C_F_METHOD);
	logwriter_set_max_size(w, max);
	ck_assert_int_eq(logwriter_append(w, T_SAT_2359, "LAST\n", 5), 0);
	w = logwriter_free(w);
	f = read_big(dir, "u_extend3.log");
	ck_assert_msg(strlen(f) > 300 && strstr(f, "xx\n#Software: ") &&
			      strcmp(f + strlen(f) - 24, "#Fields: cs-method\nLAST\n") == 0,
		      "tail: %s", f + strlen(f) - 300);
	ck_assert_int_ne(stat(p, &st), 0); /* still no u_extend4.log */
	free(f);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("mod_httplog");
	TCase *f = tcase_create("format");
	TCase *w = tcase_create("writer");

	tcase_add_test(f, fields_default_is_iis_default);
	tcase_add_test(f, fields_all_in_iis_order);
	tcase_add_test(f, line_all_fields);
	tcase_add_test(f, line_selected_fields);
	tcase_add_test(f, line_escapes);
	tcase_add_test(f, line_buffer_too_small);
	tcase_add_test(f, header_block);
	tcase_add_test(f, file_names);
	suite_add_tcase(s, f);

	tcase_add_checked_fixture(w, setup, teardown);
	tcase_add_test(w, writer_new_file_has_header_and_rolls_over_at_utc_midnight);
	tcase_add_test(w, writer_reopen_same_fields_no_second_header);
	tcase_add_test(w, writer_file_deleted_starts_again);
	tcase_add_test(w, writer_hourly);
	tcase_add_test(w, writer_unwritable_dir_drops_lines);
	tcase_add_test(w, writer_big_batch);
	tcase_add_test(w, writer_max_size);
	suite_add_tcase(s, w);
	return s;
}

int
main(void)
{
	return testutil_run(suite());
}
