/* Starting a CGI or FastCGI process (cgi.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgi.h"

size_t
cgi_split_args(char *s, char **argv, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		char *start, *o;

		s += strspn(s, " \t");
		if (!*s)
			break;
		start = o = s;
		for (bool q = false; *s && (q || (*s != ' ' && *s != '\t')); s++) {
			if (*s == '"')
				q = !q;
			else
				*o++ = *s;
		}
		if (*s)
			s++;
		*o = '\0';
		argv[n++] = start;
	}
	return n;
}

size_t
cgi_script_argv(char *script_processor, char *script, char **argv, size_t max)
{
	size_t n_words = 0, n = 0;
	unsigned subst = 0;

	if (max == 0) {
		argv[0] = NULL;
		return 0;
	}
	if (script_processor)
		n_words = cgi_split_args(script_processor, argv, max);
	for (size_t k = 0; k < n_words; k++) {
		if (strcmp(argv[k], "%s") != 0)
			argv[n++] = argv[k];
		else if (subst++ == 0)
			argv[n++] = script;
	}
	if ((n_words == 0 || !subst) && n < max)
		argv[n++] = script;
	argv[n] = NULL;
	return n;
}

/* The child makes system calls only (it runs on the worker's memory until
 * it execs). */
static pid_t __attribute__((noinline))
spawn_child(const int fds[3], const char *cwd, bool new_group, pid_t parent,
	    char *const argv[], char *const envp[], volatile int *ret_err)
{
	pid_t pid = vfork();

	if (pid == 0) {
		sigset_t none;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		if (new_group && setpgid(0, 0) < 0) {
			*ret_err = errno;
			_exit(127);
		}
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0 && dup2(fds[i], i) < 0) {
				*ret_err = errno;
				_exit(127);
			}
		(void)syscall(SYS_close_range, 3U, ~0U, 0U);
		if (cwd && chdir(cwd) < 0) {
			*ret_err = errno;
			_exit(127);
		}
		execve(argv[0], argv, envp);
		*ret_err = errno;
		_exit(127);
	}
	return pid;
}

pid_t
cgi_spawn(const int fds[3], const char *cwd, bool new_group, char *const argv[],
	  char *const envp[])
{
	volatile int child_err = 0;
	pid_t pid = spawn_child(fds, cwd, new_group, getpid(), argv, envp, &child_err);

	if (pid < 0)
		return -errno;
	if (child_err) {
		(void)waitpid(pid, NULL, 0);
		return -child_err;
	}
	return pid;
}
