/* Starting child processes (the listener and workers) with clone(CLONE_VM |
 * CLONE_VFORK): no copy of waspd's page tables. fd 3 = the child's
 * activator channel (WASP_CHANNEL_FD=3), every other descriptor but
 * stdin/stdout/stderr closed, default signal dispositions and an empty
 * signal mask, the target identity (setgroups, setresgid, setresuid),
 * SIGINT ignored (Ctrl-C is waspd's to handle),
 * PR_SET_NO_NEW_PRIVS, and PR_SET_PDEATHSIG so no child outlives a waspd
 * that was killed; a minimal environment (spawn_env). A failure in the child before exec travels back over a
 * CLOEXEC pipe, so the caller gets -errno instead of a mysterious exit. */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "waspd.h"

extern char **environ;

/* What a child keeps of waspd's environment; nothing else reaches it
 * (services get a clean environment, and waspd's may hold secrets):
 * PATH, the locale and the time zone, JOURNAL_STREAM (the child shares
 * waspd's stderr), wasp's own WASP_* variables (WASP_CHANNEL_FD aside: each
 * child gets its own), and the sanitizers' options of a sanitizer build.
 * HOME, USER and LOGNAME are the target identity's, or waspd's when it does
 * not change identity. */
static bool
env_kept(const char *kv, bool same_user)
{
	static const char *const keep[] = {
		"PATH=", "LANG=", "LANGUAGE=", "TZ=", "JOURNAL_STREAM=",
		"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "MSAN_OPTIONS=", "TSAN_OPTIONS=",
	};
	static const char *const own[] = { "HOME=", "USER=", "LOGNAME=" };

	if (startswith(kv, "WASP_CHANNEL_FD=") || startswith(kv, "WASP_NODUMP="))
		return false; /* set for each child */
	if (startswith(kv, "LC_") || startswith(kv, "WASP_"))
		return strchr(kv, '=') != NULL;
	for (size_t i = 0; i < ELEMENTSOF(keep); i++)
		if (startswith(kv, keep[i]))
			return true;
	for (size_t i = 0; same_user && i < ELEMENTSOF(own); i++)
		if (startswith(kv, own[i]))
			return true;
	return false;
}

/* Whether kv's name is among the first n entries of list (NULL-terminated
 * when n is SIZE_MAX). */
static bool
env_overridden(const char *kv, const char *const *list, size_t n)
{
	const char *eq = strchr(kv, '=');
	size_t len = eq ? (size_t)(eq - kv) + 1 : strlen(kv);

	for (size_t i = 0; list && i < n && list[i]; i++)
		if (strncmp(kv, list[i], len) == 0)
			return true;
	return false;
}

/* Build the child's environment before fork (no allocation after fork):
 * the variables env_kept() lets through, the pool's environmentVariables
 * over them (a later one of the same name wins, as in IIS's collection),
 * the caller's extra_env over both, then WASP_CHANNEL_FD and the
 * identity's HOME and USER. */
static char **
spawn_env(const struct spawn_opts *o, char *ret_bufs[static 4])
{
	bool change = o->ident && o->ident->change;
	size_t n = 0, k = 0;
	char **envp;

	for (char **e = environ; *e; e++)
		n++;
	for (const char *const *x = o->extra_env; x && *x; x++)
		n++;
	n += o->n_pool_env;
	envp = calloc(n + 7, sizeof(char *));
	if (!envp)
		return NULL;
	for (char **e = environ; *e; e++) {
		if (!env_kept(*e, !change) || env_overridden(*e, o->extra_env, SIZE_MAX) ||
		    env_overridden(*e, o->pool_env, o->n_pool_env))
			continue;
		envp[k++] = *e;
	}
	for (size_t i = 0; i < o->n_pool_env; i++) {
		const char *kv = o->pool_env[i];
		if (env_overridden(kv, o->extra_env, SIZE_MAX) ||
		    env_overridden(kv, o->pool_env + i + 1, o->n_pool_env - i - 1) ||
		    startswith(kv, "WASP_CHANNEL_FD=") ||
		    (change && (startswith(kv, "HOME=") || startswith(kv, "USER="))))
			continue;
		envp[k++] = (char *)(uintptr_t)kv;
	}
	for (const char *const *x = o->extra_env; x && *x; x++)
		envp[k++] = (char *)(uintptr_t)*x;
	envp[k++] = (char *)"WASP_CHANNEL_FD=3";
	if (change) {
		/* The child makes itself non-dumpable (exec resets the flag). */
		envp[k++] = (char *)"WASP_NODUMP=1";
		if (asprintf(&ret_bufs[0], "HOME=%s", strempty(o->ident->home)) >= 0)
			envp[k++] = ret_bufs[0];
		if (asprintf(&ret_bufs[1], "USER=%s", strempty(o->ident->name)) >= 0)
			envp[k++] = ret_bufs[1];
		if (asprintf(&ret_bufs[2], "LOGNAME=%s", strempty(o->ident->name)) >= 0)
			envp[k++] = ret_bufs[2];
	}
	envp[k] = NULL;
	return envp;
}

/* In the child: report errno over the pipe and exit. */
_Noreturn static void
child_fail(int pipe_fd, int err)
{
	(void)!write(pipe_fd, &err, sizeof(err));
	_exit(127);
}

static void
close_all_from(int first)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0)
		return;
#endif
	for (int fd = first; fd < 65536; fd++)
		(void)close(fd);
}

struct child_args {
	const struct spawn_opts *o;
	char **envp;
	int pipe_rd, pipe_wr;
	pid_t parent;
};

/* The child, on its own stack but in waspd's memory (CLONE_VM|CLONE_VFORK:
 * waspd is suspended until it execs or exits). It changes no memory of
 * waspd's (errno aside) and calls no allocator: system calls only. */
static int
child_main(void *arg)
{
	const struct child_args *a = arg;
	const struct spawn_opts *o = a->o;
	int wfd = a->pipe_wr;
	sigset_t none;

	(void)close(a->pipe_rd);
	/* Handlers are reset by execve; dispositions set to ignore are not. */
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	/* Ctrl-C in a terminal signals the whole foreground process group:
	 * only waspd acts on it (a graceful drain); children stop when waspd
	 * tells them. */
	(void)signal(SIGINT, SIG_IGN);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* The pipe must not land on fd 3. */
	if (wfd == 3) {
		wfd = fcntl(3, F_DUPFD_CLOEXEC, 4);
		if (wfd < 0)
			_exit(127);
	}
	if (o->channel_fd == 3) {
		int fl = fcntl(3, F_GETFD);
		if (fl < 0 || fcntl(3, F_SETFD, fl & ~FD_CLOEXEC) < 0)
			child_fail(wfd, errno);
	} else if (dup2(o->channel_fd, 3) < 0) {
		child_fail(wfd, errno);
	}
	/* Keep 0-3 and the error pipe; close everything else. */
	if (wfd != 4) {
		if (dup3(wfd, 4, O_CLOEXEC) < 0)
			child_fail(wfd, errno);
		wfd = 4;
	}
	close_all_from(5);

	/* Raw system calls: glibc's wrappers would signal every thread of the
	 * process, whose memory this child shares. */
	if (o->ident && o->ident->change) {
		/* An empty capability bounding set, while still privileged
		 * (CAP_SETPCAP): nothing the child execs can ever gain a
		 * capability. One not in the set already needs no dropping
		 * (waspd may lack CAP_SETPCAP in a container); EINVAL past the
		 * kernel's last capability. */
		for (int cap = 0; cap < 64; cap++) {
			int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
			if (in < 0 && errno == EINVAL)
				break;
			if (in != 0 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
				child_fail(wfd, errno);
		}
		if (syscall(SYS_setgroups, o->ident->n_groups, o->ident->groups) < 0)
			child_fail(wfd, errno);
		if (syscall(SYS_setresgid, o->ident->gid, o->ident->gid, o->ident->gid) < 0)
			child_fail(wfd, errno);
		if (syscall(SYS_setresuid, o->ident->uid, o->ident->uid, o->ident->uid) < 0)
			child_fail(wfd, errno);
	}
	/* After the credential change: it would clear the setting. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(wfd, errno);
	if (getppid() != a->parent)
		_exit(127); /* waspd died already */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(wfd, errno);
	(void)umask(022);
	if (chdir("/") < 0)
		child_fail(wfd, errno);
	execve(o->path, o->argv, a->envp);
	child_fail(wfd, errno);
}

#define CHILD_STACK_SIZE (256 * 1024)

int
spawn_child(const struct spawn_opts *o, pid_t *ret_pid)
{
	char *bufs[4] = { 0 };
	_cleanup_free_ char **envp = NULL;
	_cleanup_free_ char *stack = NULL;
	int pipefd[2] = { -1, -1 };
	int err = 0, r;
	ssize_t n;
	pid_t pid;
	sigset_t all, saved;
	struct child_args args;

	envp = spawn_env(o, bufs);
	stack = malloc(CHILD_STACK_SIZE);
	if (!envp || !stack) {
		r = -ENOMEM;
		goto out;
	}
	r = neg_errno(pipe2(pipefd, O_CLOEXEC));
	if (r < 0)
		goto out;
	args = (struct child_args){
		.o = o, .envp = envp, .pipe_rd = pipefd[0], .pipe_wr = pipefd[1], .parent = getpid()
	};

	/* No signal handler of waspd's (libevent's writes to its own
	 * notification socket) may run in the child before exec. The child
	 * shares waspd's memory until it execs (no copy of waspd's page
	 * tables, which grow with the configuration), and waspd waits
	 * meanwhile. */
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &saved);
	pid = clone(child_main, stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
	if (pid < 0)
		r = -errno;
	(void)sigprocmask(SIG_SETMASK, &saved, NULL);
	if (pid < 0)
		goto out;

	/* The child has exec'd or exited: the pipe holds its errno, or reads
	 * EOF (CLOEXEC) once the exec succeeded. */
	(void)close(pipefd[1]);
	pipefd[1] = -1;
	do
		n = read(pipefd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(err)) {
		/* The child failed and exits 127; reap.c collects it. */
		r = -(err > 0 ? err : EIO);
		goto out;
	}
	*ret_pid = pid;
	r = 0;
out:
	safe_close(pipefd[0]);
	safe_close(pipefd[1]);
	for (size_t i = 0; i < ELEMENTSOF(bufs); i++)
		free(bufs[i]);
	return r;
}
