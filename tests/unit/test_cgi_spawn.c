/* Unit tests for worker/cgi/spawn.c (a scriptProcessor split into words
 * and made a CGI request's argv) and worker/child.c (starting a process as
 * CgiModule does: its descriptors, directory, process group, an exec or a
 * chdir that fails). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgi/cgi.h"
#include "child.h"
#include "testutil.h"

START_TEST(test_split_args)
{
	char s[] = "  /usr/bin/python3\t-u  \"a b\" x\"y z\"w  ", *argv[8];
	char t[] = "a b c d", *few[2];

	ck_assert_uint_eq(cgi_split_args(s, argv, 8), 4);
	ck_assert_str_eq(argv[0], "/usr/bin/python3");
	ck_assert_str_eq(argv[1], "-u");
	ck_assert_str_eq(argv[2], "a b");
	ck_assert_str_eq(argv[3], "xy zw");
	ck_assert_uint_eq(cgi_split_args(t, few, 2), 2); /* at most max */
	ck_assert_str_eq(few[1], "b");
}
END_TEST

START_TEST(test_script_argv)
{
	char script[] = "/srv/www/s.py", *argv[5];
	char p1[] = "/usr/bin/python3 -u %s %s", p2[] = "/usr/bin/perl -T", p3[] = "",
	     p4[] = "/bin/x a b c d e f";

	ck_assert_uint_eq(cgi_script_argv(p1, script, argv, 4), 3);
	ck_assert_str_eq(argv[0], "/usr/bin/python3");
	ck_assert_str_eq(argv[1], "-u");
	ck_assert_str_eq(argv[2], script); /* the first %s; the second is dropped */
	ck_assert_ptr_null(argv[3]);
	ck_assert_uint_eq(cgi_script_argv(p2, script, argv, 4), 3); /* no %s: after */
	ck_assert_str_eq(argv[2], script);
	ck_assert_uint_eq(cgi_script_argv(p3, script, argv, 4), 1); /* the program itself */
	ck_assert_str_eq(argv[0], script);
	ck_assert_ptr_null(argv[1]);
	ck_assert_uint_eq(cgi_script_argv(NULL, script, argv, 4), 1);
	ck_assert_uint_eq(cgi_script_argv(p4, script, argv, 4), 4); /* bounded */
	ck_assert_ptr_null(argv[4]);
}
END_TEST

static char *
read_all(int fd)
{
	static char buf[4096];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return buf;
}

START_TEST(test_spawn)
{
	char *dir = testutil_mkdtemp(), *real = realpath(dir, NULL);
	char *argv[] = { (char *)"/bin/sh", (char *)"-c",
			 (char *)"read x; pwd; echo \"$x $V\"; ls /proc/self/fd | wc -l", NULL };
	char *envp[] = { (char *)"V=env", NULL };
	int in[2], out[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(worker_child_spawn((const int[3]){ in[0], out[1], -1 },
					    &(const struct worker_child_opts){ .cwd = dir,
									       .new_group = true },
					    argv, envp, &pid, NULL),
			 0);
	ck_assert_int_gt(pid, 0);
	close(in[0]);
	close(out[1]);
	ck_assert_int_eq(getpgid(pid), pid); /* its own group (it waits on stdin) */
	ck_assert_int_eq(write(in[1], "hi\n", 3), 3);
	close(in[1]);
	/* in its directory, with its environment, fds 0-2 and ls's own only */
	char want[4200];
	snprintf(want, sizeof(want), "%s\nhi env\n4\n", real);
	ck_assert_str_eq(read_all(out[0]), want);
	close(out[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	argv[0] = (char *)"/nonexistent/program";
	ck_assert_int_eq(worker_child_spawn((const int[3]){ -1, -1, -1 }, NULL, argv, envp, &pid,
					    NULL),
			 -ENOENT);
	argv[0] = (char *)"/bin/sh";
	ck_assert_int_eq(worker_child_spawn((const int[3]){ -1, -1, -1 },
					    &(const struct worker_child_opts){ .cwd = "/nonexistent" },
					    argv, envp, &pid, NULL),
			 -ENOENT);
	testutil_rmtree(dir);
	free(dir);
	free(real);
}
END_TEST

static Suite *
cgi_suite(void)
{
	Suite *s = suite_create("cgi_spawn");
	TCase *tc = tcase_create("args");

	tcase_add_test(tc, test_split_args);
	tcase_add_test(tc, test_script_argv);
	suite_add_tcase(s, tc);
	tc = tcase_create("spawn");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_spawn);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(cgi_suite());
}
