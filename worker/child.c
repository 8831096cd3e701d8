/* Child processes of the worker (child.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "util.h"

/* The child makes system calls only: it runs on the worker's memory until
 * it execs. */
static pid_t __attribute__((noinline))
spawn_child(const int fds[3], const struct worker_child_opts *o, pid_t parent,
	    char *const *argv, char *const *envp, volatile int *ret_err)
{
	pid_t pid = vfork();

	if (pid == 0) {
		sigset_t none;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		/* the worker's SCHED_BATCH is not the application's */
		(void)sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){ 0 });
		if (o->new_group && setpgid(0, 0) < 0) {
			*ret_err = errno;
			_exit(127);
		}
		for (int k = 0; k < 3; k++)
			if (fds[k] >= 0 && fds[k] != k && dup2(fds[k], k) < 0) {
				*ret_err = errno;
				_exit(127);
			}
		(void)syscall(SYS_close_range, 3U, ~0U, 0U);
		if (o->cwd && chdir(o->cwd) < 0) {
			*ret_err = errno;
			_exit(127);
		}
		execve(argv[0], argv, envp);
		*ret_err = errno;
		_exit(127);
	}
	return pid;
}

int
worker_child_spawn(const int fds[3], const struct worker_child_opts *opts, char *const *argv,
		   char *const *envp, pid_t *ret_pid, int *ret_pidfd)
{
	volatile int child_err = 0;
	pid_t pid;
	int pidfd = -1, r;

	pid = spawn_child(fds, opts ? opts : &(const struct worker_child_opts){ 0 }, getpid(), argv,
			  envp, &child_err);
	if (pid < 0)
		return -errno;
	if (child_err) {
		(void)waitpid(pid, NULL, 0);
		return -child_err;
	}
	if (ret_pidfd && (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
		r = -errno;
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return r;
	}
	*ret_pid = pid;
	if (ret_pidfd)
		*ret_pidfd = pidfd;
	return 0;
}

void
worker_strv_free(char **v)
{
	for (size_t k = 0; v && v[k]; k++)
		free(v[k]);
	free(v);
}

char **
worker_argv_build(const char *path, const char *args, size_t max)
{
	char **argv = calloc(max + 2, sizeof(char *));
	char *copy = strdup(args), *p = copy;
	size_t n = 0;

	if (!argv || !copy)
		goto oom;
	if (!(argv[n++] = strdup(path)))
		goto oom;
	while (*p && n <= max) {
		char *start, *o;

		p += strspn(p, " \t");
		if (!*p)
			break;
		start = o = p;
		for (bool q = false; *p && (q || (*p != ' ' && *p != '\t')); p++) {
			if (*p == '"')
				q = !q;
			else
				*o++ = *p;
		}
		if (*p)
			p++;
		*o = '\0';
		if (!(argv[n++] = strdup(start)))
			goto oom;
	}
	free(copy);
	return argv;
oom:
	free(copy);
	worker_strv_free(argv);
	return NULL;
}
