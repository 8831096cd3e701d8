/* Processes a worker starts for its applications (CGI programs, FastCGI
 * processes, httpPlatform and aspNetCore backends): its own children,
 * running as the pool's identity, ended with it. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* What a caller may ask of a child beyond worker_child_spawn()'s
 * defaults (NULL: none of it). */
struct worker_child_opts {
	const char *cwd; /* its directory (NULL: the worker's) */
	bool new_group;  /* a process group of its own: kill(-pid) reaches what it starts */
};

/* Start argv[0] with envp: vfork (the child shares the worker's memory until
 * it execs, so nothing of the worker is copied), PR_SET_PDEATHSIG SIGKILL
 * (no process outlives its worker), fds[0..2] as its fds 0..2 (-1 keeps the
 * worker's: fd 2 is the journal) and nothing else open, default SIGPIPE, an
 * empty signal mask, and what opts asks. 0 with *ret_pid and *ret_pidfd (a
 * pidfd to watch it on the event loop, no SIGCHLD; none is opened when
 * ret_pidfd is NULL), or -errno (the child's own when it could not chdir or
 * exec; it is reaped). */
int worker_child_spawn(const int fds[3], const struct worker_child_opts *opts, char *const *argv,
		       char *const *envp, pid_t *ret_pid, int *ret_pidfd);

/* argv for a program and its arguments string: split at blanks, "double
 * quotes" group (at most max arguments). NULL on OOM. Free with
 * worker_strv_free(). */
char **worker_argv_build(const char *path, const char *args, size_t max);
void worker_strv_free(char **v);
