/* Processes a worker starts for its applications (FastCGI processes,
 * httpPlatform and aspNetCore backends): its own children, running as the
 * pool's identity, ended with it. */
#pragma once

#include <sys/types.h>

/* Start argv[0] with envp: vfork (the child shares the worker's memory until
 * it execs, so nothing of the worker is copied), PR_SET_PDEATHSIG SIGKILL
 * (no process outlives its worker), fds[0..2] as its fds 0..2 and nothing
 * else open, default SIGPIPE, an empty signal mask. 0 with *ret_pid and
 * *ret_pidfd (a pidfd to watch it on the event loop, no SIGCHLD), or -errno
 * (the child's own when it could not exec; it is reaped). */
int worker_child_spawn(const int fds[3], char *const *argv, char *const *envp, pid_t *ret_pid,
		       int *ret_pidfd);

/* argv for a program and its arguments string: split at blanks, "double
 * quotes" group (at most max arguments). NULL on OOM. Free with
 * worker_strv_free(). */
char **worker_argv_build(const char *path, const char *args, size_t max);
void worker_strv_free(char **v);
