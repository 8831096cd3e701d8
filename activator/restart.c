/* `waspctl restart` without systemd (nginx's binary upgrade): waspd forks,
 * and the child execs waspd again (the program at the path this one was
 * started from, with the same arguments) with the listening sockets on
 * fd 3... as LISTEN_FDS/LISTEN_FDNAMES, the names fdstore.c gives them: the
 * new waspd takes them for their bindings as it would systemd's. It starts
 * its own listener and workers on them and says, through a pipe, when it
 * serves. Then the old generation hands over: its listeners stop accepting
 * (SIGQUIT) and finish the connections they hold; once they exited, its
 * workers drain (shutdownTimeLimit) and the old waspd exits. The sockets
 * never close, so a client is never refused: until a listener of the new
 * generation accepts, it waits in the backlog.
 *
 * When the new waspd does not serve within RESTART_TIMEOUT_USEC (its
 * configuration does not load, it cannot start) the old one goes on as if
 * nothing happened. Under systemd this is refused: `systemctl restart`
 * keeps the sockets through the file descriptor store, and systemd would
 * not follow a main process that is not its child. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "waspd.h"

#define RESTART_FD_ENV "WASP_RESTART_FD"
/* Less than waspctl's own wait for an answer (30 s). */
#define RESTART_TIMEOUT_MS 25000

int
restart_init(struct wasp_env *env, char **argv)
{
	const char *v = getenv(RESTART_FD_ENV);
	char exe[PATH_MAX];
	ssize_t n;
	uint64_t fd;

	env->restart_ready_fd = -1;
	env->argv = argv;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		env->exe = strdup(exe);
		if (!env->exe)
			return -ENOMEM;
	}
	if (!v)
		return 0;
	if (wasp_parse_u64(v, INT_MAX, &fd) < 0 || fd < 3 || fcntl((int)fd, F_GETFD) < 0) {
		log_warning("%s=%s: not a descriptor, ignoring", RESTART_FD_ENV, v);
	} else {
		env->restart_ready_fd = (int)fd;
		(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	(void)unsetenv(RESTART_FD_ENV);
	return 0;
}

bool
restart_taking_over(const struct wasp_env *env)
{
	return env->restart_ready_fd >= 0;
}

void
restart_ready(struct wasp_env *env)
{
	if (env->restart_ready_fd < 0)
		return;
	if (write(env->restart_ready_fd, "1", 1) != 1)
		log_warning_errno(-errno, "cannot tell the waspd that restarted us that we serve");
	env->restart_ready_fd = safe_close(env->restart_ready_fd);
}

/* "name:name:..." of env->socks, for LISTEN_FDNAMES. */
static char *
restart_fdnames(const struct wasp_env *env)
{
	size_t size = env->n_socks * FDSTORE_NAME_MAX + 1, len = 0;
	char *s = malloc(size);

	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 0; i < env->n_socks; i++) {
		if (i)
			s[len++] = ':';
		if (fdstore_name(&env->socks[i], s + len, size - len) < 0) {
			free(s);
			return NULL;
		}
		len += strlen(s + len);
	}
	return s;
}

/* In the child: the sockets to 3..3+n-1, the pipe after them, the
 * environment that says so, exec. Never returns. */
static void
restart_exec(struct wasp_env *env, int ready_fd)
{
	int n = (int)env->n_socks, base = 3 + n + 1, fd;
	char num[32], *names = restart_fdnames(env);
	int *tmp = calloc((size_t)n + 1, sizeof(int));
	sigset_t none;

	if (!names || !tmp)
		_exit(127);
	/* first out of the way (above every target), then into place: dup2
	 * clears FD_CLOEXEC on the copy that stays */
	for (int i = 0; i < n; i++)
		if ((tmp[i] = fcntl(env->socks[i].fd, F_DUPFD_CLOEXEC, base)) < 0)
			_exit(127);
	if ((tmp[n] = fcntl(ready_fd, F_DUPFD_CLOEXEC, base)) < 0)
		_exit(127);
	for (int i = 0; i <= n; i++)
		if (dup2(tmp[i], 3 + i) < 0)
			_exit(127);
	fd = 3 + n;
	(void)snprintf(num, sizeof(num), "%d", n);
	(void)setenv("LISTEN_FDS", num, 1);
	(void)snprintf(num, sizeof(num), "%d", (int)getpid());
	(void)setenv("LISTEN_PID", num, 1);
	(void)setenv("LISTEN_FDNAMES", names, 1);
	(void)snprintf(num, sizeof(num), "%d", fd);
	(void)setenv(RESTART_FD_ENV, num, 1);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execv(env->exe, env->argv);
	_exit(127);
}

/* Wait for the new waspd's word: 1 it serves, 0 it exited first, -ETIMEDOUT. */
static int
restart_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t deadline = wasp_now_usec() + RESTART_TIMEOUT_MS * UINT64_C(1000);
	char c;

	for (;;) {
		uint64_t now = wasp_now_usec();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now + 999) / 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		return k == 1 ? 1 : 0;
	}
}

static int
restart_refuse(const struct wasp_env *env, char **ret_msg)
{
	const char *why = NULL;

	if (env->stopping)
		why = "waspd is shutting down";
	else if (env->retiring)
		why = "this waspd hands over to a restarted one already";
	else if (getenv("NOTIFY_SOCKET"))
		why = "waspd runs under systemd: use 'systemctl restart' (the file descriptor "
		      "store keeps the listening sockets)";
	else if (!env->exe || !env->argv)
		why = "waspd does not know its own program's path";
	if (!why)
		return 0;
	*ret_msg = strdup(why);
	return -EBUSY;
}

int
restart_request(struct wasp_env *env, char **ret_msg, pid_t *ret_pid)
{
	_cleanup_close_ int rd = -1;
	int p[2], r;
	pid_t pid;

	*ret_msg = NULL;
	r = restart_refuse(env, ret_msg);
	if (r < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return log_errno(-errno, "restart: pipe");
	rd = p[0];
	log_notice("restart: starting %s with the %zu listening socket(s)", env->exe,
		   env->n_socks);
	pid = fork();
	if (pid < 0) {
		r = log_errno(-errno, "restart: fork");
		safe_close(p[1]);
		return r;
	}
	if (pid == 0)
		restart_exec(env, p[1]);
	safe_close(p[1]);
	r = restart_wait(rd);
	if (r <= 0) {
		if (r == -ETIMEDOUT)
			(void)kill(pid, SIGKILL);
		if (asprintf(ret_msg,
			     "the new waspd (pid %d) %s; this one (pid %d) goes on serving "
			     "(its log says why)",
			     (int)pid,
			     r == -ETIMEDOUT ? "did not serve within 25 s and was killed"
					     : "exited before serving",
			     (int)getpid()) < 0)
			*ret_msg = NULL;
		log_error("restart: %s", *ret_msg ? *ret_msg : "the new waspd failed");
		return r < 0 ? r : -ECHILD;
	}
	if (asprintf(ret_msg,
		     "waspd pid %d serves now; this one (pid %d) hands over its connections, "
		     "drains its workers and exits",
		     (int)pid, (int)getpid()) < 0)
		*ret_msg = NULL;
	log_notice("restart: %s", *ret_msg ? *ret_msg : "the new waspd serves");
	*ret_pid = pid;
	env->retiring = true;
	status_notify(env, NULL);
	adapters_quit(env);
	daemon_check_shutdown(env);
	return 0;
}
