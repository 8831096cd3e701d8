/* Shared helpers for the Check unit tests. */
#pragma once

#include <check.h>

/* Number of open fds in this process (entries in /proc/self/fd). */
int testutil_count_fds(void);

/* Checked fixture: records the fd count in setup and fails the test in
 * teardown when fds leaked. Use with tcase_add_checked_fixture(). */
void testutil_fd_setup(void);
void testutil_fd_teardown(void);

/* A fresh temporary directory (mkdtemp under $TMPDIR); removed recursively
 * by testutil_rmtree(). Returns malloc'd path. */
char *testutil_mkdtemp(void);
void testutil_rmtree(const char *path);
/* Write a file (creating it) with the given contents; fails the test on error. */
void testutil_write_file(const char *path, const char *contents);

/* Run a suite and return the process exit code. */
int testutil_run(Suite *s);
