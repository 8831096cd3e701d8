/* StreamExecModule: the stream handler "exec" for tcp connections, inetd's
 * way: the program of the application's system.webServer/streamExec runs
 * with the connection as its stdin and stdout (stderr: the worker's, the
 * journal), as the pool's identity (the worker's own), in a process group
 * of its own, in the worker's directory. It lives at most timeLimit (then
 * its process group is killed and the connection closed); at most
 * maxProcesses run at once in a worker (one more connection is closed at
 * once). The connection counts as open until the program exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "child.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "wasp/module.h"

#define EXEC_SECTION "system.webServer/streamExec"
#define EXEC_MAX_ARGS 64

struct xproc {
	struct wasp_stream *s;
	pid_t pid;
	int pidfd;
	struct event *exit_ev, *timer;
};

static unsigned exec_running;

static void
xproc_free(void *p)
{
	struct xproc *x = p;

	if (x->exit_ev)
		event_free(x->exit_ev);
	if (x->timer)
		event_free(x->timer);
	if (x->pid > 0) { /* the worker exits, or the stream is cut: the program goes */
		(void)kill(-x->pid, SIGKILL);
		(void)waitid(P_PIDFD, (id_t)x->pidfd, &(siginfo_t){ 0 }, WEXITED);
	}
	safe_close(x->pidfd);
	exec_running--;
	free(x);
}

static void
on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
	struct xproc *x = arg;
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)x->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	log_debug("exec: process %d ended (%s %d)", (int)x->pid,
		  si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
	x->pid = 0;
	wasp_stream_close(x->s); /* frees x */
}

static void
on_time_limit(evutil_socket_t fd, short what, void *arg)
{
	struct xproc *x = arg;

	log_warning("exec: process %d reached its timeLimit, killing it", (int)x->pid);
	(void)kill(-x->pid, SIGKILL); /* its exit closes the connection */
}

static int
exec_start(struct wasp_stream *s, void *userdata)
{
	const struct wasp_element *sec = wasp_stream_config(s, EXEC_SECTION);
	const char *path = sec ? wasp_element_get_str(sec, "path", "") : "";
	uint64_t limit_usec = wasp_element_get_uint(sec, "timeLimit", 0);
	uint64_t max = wasp_element_get_uint(sec, "maxProcesses", 0);
	struct event_base *base = wasp_server_event_base(wasp_stream_server(s));
	struct worker_child_opts opts = { .new_group = true };
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	struct timeval tv;
	struct xproc *x;
	char **argv;
	int fd = wasp_stream_fd(s), fl, r;

	if (!*path || path[0] != '/') {
		log_warning("exec: %s of '%s' names no program (an absolute path)", EXEC_SECTION,
			    wasp_stream_app_path(s));
		return -ENOENT;
	}
	if (exec_running >= max) {
		log_warning("exec: %u programs run already (maxProcesses), closing the connection",
			    exec_running);
		return -EBUSY;
	}
	/* the program reads and writes it as a plain blocking stdin/stdout
	 * (the flag is the socket's, shared with our descriptor: we do no I/O
	 * on it) */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	argv = worker_argv_build(path, wasp_element_get_str(sec, "arguments", ""), EXEC_MAX_ARGS);
	if (!argv)
		return -ENOMEM;
	x = calloc(1, sizeof(*x));
	if (!x) {
		worker_strv_free(argv);
		return -ENOMEM;
	}
	x->s = s;
	x->pidfd = -1;
	exec_running++;
	wasp_stream_set_context(s, x, xproc_free);
	r = worker_child_spawn((const int[3]){ fd, fd, -1 }, &opts, argv, envp, &x->pid,
			       &x->pidfd);
	worker_strv_free(argv);
	if (r < 0) {
		x->pid = 0;
		return log_warning_errno(r, "exec: start '%s'", path);
	}
	x->exit_ev = event_new(base, x->pidfd, EV_READ | EV_PERSIST, on_exit_ev, x);
	x->timer = evtimer_new(base, on_time_limit, x);
	tv = (struct timeval){ (time_t)(limit_usec / 1000000), (suseconds_t)(limit_usec % 1000000) };
	if (!x->exit_ev || !x->timer || event_add(x->exit_ev, NULL) < 0 ||
	    evtimer_add(x->timer, &tv) < 0)
		return -ENOMEM;
	return 0;
}

static int
exec_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add_stream(hooks, "tcp", "exec", exec_start, NULL);
}

const struct wasp_module mod_exec = {
	.abi = WASP_MODULE_ABI,
	.name = "StreamExecModule",
	.register_hooks = exec_register_hooks,
};
