/* SIGCHLD, delivered through the event loop: collect every exited child
 * with waitpid(WNOHANG) until none is left, and hand each to its owner (a
 * worker record or an adapter). Children waspd no longer tracks (orphaned
 * hung workers, a child that failed before exec) are only logged. */
#include <event2/event.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "log.h"
#include "waspd.h"

void
reap_on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;
	struct rusage ru;
	int status;
	pid_t pid;

	for (;;) {
		/* wait4: a worker's CPU time (its own children's included) stays
		 * its pool's (wasp_pool_cpu_seconds_total) */
		pid = wait4(-1, &status, WNOHANG, &ru);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			break; /* 0: none exited; ECHILD: no children */

		struct worker *w = worker_by_pid(env, pid);
		if (w) {
			pool_metrics_w(w->pool)->cpu_usec_exited +=
				(uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
				(uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
			worker_on_exit(w, status);
			continue;
		}
		struct adapter *a = adapter_by_pid(env, pid);
		if (a) {
			adapter_on_exit(a, status);
			continue;
		}
		if (WIFSIGNALED(status))
			log_debug("untracked child %d killed by signal %d", (int)pid,
				  WTERMSIG(status));
		else
			log_debug("untracked child %d exited with status %d", (int)pid,
				  WEXITSTATUS(status));
	}
	daemon_check_shutdown(env);
}
