/* Backend processes of the httpPlatform and aspNetCore modules (backend.h).
 *
 * A process slot (processesPerApplication of them) starts on the first
 * request that finds none ready: a free loopback port is chosen (bound to
 * port 0 and let go), the program started with it in port_var and in
 * %port_var% of its arguments and environment, fd 0 /dev/null, fds 1 and 2
 * the stdoutLogFile (stdoutLogEnabled) or the worker's log. It is ready
 * once a connection to the port succeeds (tried every PROBE_USEC); a start
 * that does not get there within startupTimeLimit, or whose process exits
 * first, is killed and tried again, attempts times in all; then the waiting
 * requests fail (502.5). An exit nobody asked for, during a start or after,
 * counts for rapidFailsPerMinute; past it no start is tried for the rest of
 * the minute. A crashed process starts again on the next request. Stopping
 * sends SIGTERM, then SIGKILL after the shutdown limit.
 *
 * The port, arguments, environment and log file a process starts with are
 * made in backend_env.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "appprocs.h"
#include "backend.h"
#include "backend_env.h"
#include "child.h"
#include "log.h"
#include "proxy.h"
#include "util.h"

#define PROBE_USEC 20000
#define RAPID_WINDOW_USEC (60ULL * 1000000)

enum pstate { P_OFF, P_STARTING, P_READY };

/* A process on its way out (stopped, or killed after a failed start). */
struct dying {
	struct dying *next, *prev;
	pid_t pid;
	int pidfd;
	struct event *ev, *kill;
	uint64_t kill_at;
	struct appproc ap; /* listed as stopping */
};

struct bproc {
	struct backend *b;
	enum pstate state;
	pid_t pid;
	int pidfd, probe_fd;
	struct event *pid_ev, *timer;
	uint16_t port;
	unsigned tries;
	uint64_t started;
	struct proxy_pool *pool;
	struct appproc ap; /* as waspd lists it */
};

struct backend {
	struct backend *next;
	struct event_base *base;
	char *key, *fingerprint;
	struct backend_conf conf;
	struct bproc *procs;
	unsigned n_procs, rr;
	struct backend_waiter *q_head, *q_tail;
	unsigned n_queued;
	struct event *dispatch;
	uint64_t fail_window_start;
	unsigned fails;
	const char *last_why;
	char token[33];
};

static struct backend *backends;
static struct dying *dying;

/* ---- processes on their way out ---- */

static void
dying_free(struct dying *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		dying = d->next;
	if (d->next)
		d->next->prev = d->prev;
	appproc_remove(&d->ap);
	if (d->ev)
		event_free(d->ev);
	if (d->kill)
		event_free(d->kill);
	safe_close(d->pidfd);
	free(d);
}

static void
on_dying_exit(evutil_socket_t fd, short what, void *arg)
{
	struct dying *d = arg;
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	log_debug("backend process %d ended", (int)d->pid);
	dying_free(d);
}

static void
on_dying_kill(evutil_socket_t fd, short what, void *arg)
{
	struct dying *d = arg;

	log_warning("backend process %d still there after its shutdown limit, killing it",
		    (int)d->pid);
	(void)kill(d->pid, SIGKILL);
}

/* Hand p's process over to the dying list: signal now, SIGKILL after
 * usec (0: SIGKILL at once). */
static void
proc_retire(struct bproc *p, uint64_t usec)
{
	struct backend *b = p->b;
	struct dying *d;

	if (p->pid_ev)
		event_free(p->pid_ev);
	p->pid_ev = NULL;
	if (p->timer)
		(void)event_del(p->timer);
	p->probe_fd = safe_close(p->probe_fd);
	proxy_pool_set_port(p->pool, 0);
	p->state = P_OFF;
	if (p->pid <= 0) {
		appproc_remove(&p->ap);
		p->pidfd = safe_close(p->pidfd);
		return;
	}
	(void)kill(p->pid, usec ? SIGTERM : SIGKILL);
	d = calloc(1, sizeof(*d));
	if (!d) { /* reaped blocking: out of memory is the end anyway */
		(void)kill(p->pid, SIGKILL);
		(void)waitpid(p->pid, NULL, 0);
		appproc_remove(&p->ap);
		p->pidfd = safe_close(p->pidfd);
		p->pid = 0;
		return;
	}
	appproc_move(&d->ap, &p->ap);
	d->ap.state = WASP_APP_PROC_STOPPING;
	d->pid = p->pid;
	d->pidfd = p->pidfd;
	d->kill_at = wasp_now_usec() + usec;
	d->ev = event_new(b->base, d->pidfd, EV_READ | EV_PERSIST, on_dying_exit, d);
	d->kill = evtimer_new(b->base, on_dying_kill, d);
	if (d->ev)
		(void)event_add(d->ev, NULL);
	if (d->kill && usec) {
		struct timeval tv = { .tv_sec = (time_t)(usec / 1000000),
				      .tv_usec = (suseconds_t)(usec % 1000000) };
		(void)evtimer_add(d->kill, &tv);
	}
	d->next = dying;
	if (dying)
		dying->prev = d;
	dying = d;
	p->pid = 0;
	p->pidfd = -1;
}

/* ---- waiting requests ---- */

static void
queue_remove(struct backend_waiter *w)
{
	struct backend *b = w->b;

	if (w->prev)
		w->prev->next = w->next;
	else
		b->q_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->q_tail = w->prev;
	w->next = w->prev = NULL;
	w->queued = false;
	b->n_queued--;
}

void
backend_waiter_cancel(struct backend_waiter *w)
{
	if (w->queued)
		queue_remove(w);
}

static struct bproc *
ready_proc(struct backend *b)
{
	for (unsigned k = 0; k < b->n_procs; k++) {
		struct bproc *p = &b->procs[(b->rr + k) % b->n_procs];

		if (p->state == P_READY) {
			b->rr = (unsigned)(p - b->procs) + 1;
			p->ap.requests++;
			return p;
		}
	}
	return NULL;
}

bool
backend_running(const struct backend *b)
{
	for (unsigned k = 0; k < b->n_procs; k++)
		if (b->procs[k].state != P_OFF)
			return true;
	return false;
}

/* Ready processes for the queued requests, or their failure when none
 * is ready or starting any more. */
static void
on_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct backend *b = arg;

	while (b->q_head) {
		struct backend_waiter *w = b->q_head;
		struct bproc *p = ready_proc(b);

		if (!p && backend_running(b))
			return; /* a start is under way */
		queue_remove(w);
		w->ready(w, p ? p->pool : NULL, b->last_why);
	}
}

static void
count_fail(struct backend *b)
{
	uint64_t now = wasp_now_usec();

	if (now - b->fail_window_start > RAPID_WINDOW_USEC) {
		b->fail_window_start = now;
		b->fails = 0;
	}
	b->fails++;
}

static bool
rapid_failed(struct backend *b)
{
	if (wasp_now_usec() - b->fail_window_start > RAPID_WINDOW_USEC) {
		b->fails = 0;
		return false;
	}
	return b->fails > 0 && b->fails >= b->conf.rapid_fails;
}

/* ---- starting ---- */

static int proc_start(struct bproc *p);

/* A start failed (why): again while attempts are left, else the waiters
 * hear it. */
static void
start_failed(struct bproc *p, const char *why)
{
	struct backend *b = p->b;

	log_warning("%s: %s (attempt %u of %u)", b->conf.label, why, p->tries, b->conf.attempts);
	b->last_why = why;
	proc_retire(p, 0);
	if (p->tries < b->conf.attempts && !rapid_failed(b) && proc_start(p) == 0)
		return;
	p->tries = 0;
	event_active(b->dispatch, EV_TIMEOUT, 0);
}

static void
on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
	struct bproc *p = arg;
	struct backend *b = p->b;
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	if (si.si_code == CLD_EXITED)
		log_warning("%s: process %d exited with status %d", b->conf.label, (int)p->pid,
			    si.si_status);
	else
		log_warning("%s: process %d was killed by signal %d", b->conf.label, (int)p->pid,
			    si.si_status);
	count_fail(b);
	p->pid = 0; /* reaped: nothing to signal */
	if (p->state == P_STARTING) {
		start_failed(p, "the process exited before it listened on its port");
		return;
	}
	proc_retire(p, 0);
	b->last_why = "the process exited";
}

static void
on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct bproc *p = arg;
	struct backend *b = p->b;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool up = false;

	if (p->probe_fd >= 0) {
		struct pollfd pf = { .fd = p->probe_fd, .events = POLLOUT };
		int err = 0;
		socklen_t l = sizeof(err);

		if (poll(&pf, 1, 0) == 1) {
			if (getsockopt(p->probe_fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && !err)
				up = true;
			p->probe_fd = safe_close(p->probe_fd);
		}
	} else {
		p->probe_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (p->probe_fd >= 0) {
			if (connect(p->probe_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
				up = true;
			if (up || errno != EINPROGRESS)
				p->probe_fd = safe_close(p->probe_fd);
		}
	}
	if (up) {
		p->probe_fd = safe_close(p->probe_fd);
		p->state = P_READY;
		p->ap.state = WASP_APP_PROC_IDLE;
		p->tries = 0;
		proxy_pool_set_port(p->pool, p->port);
		log_info("%s: process %d listens on 127.0.0.1:%u", b->conf.label, (int)p->pid,
			 (unsigned)p->port);
		event_active(b->dispatch, EV_TIMEOUT, 0);
		return;
	}
	if (wasp_now_usec() - p->started >= b->conf.startup_usec) {
		count_fail(b);
		start_failed(p, "the process did not listen on its port within startupTimeLimit");
		return;
	}
	(void)evtimer_add(p->timer, &(struct timeval){ .tv_usec = PROBE_USEC });
}

/* Busy while a request is on one of its connections. */
static void
proc_refresh(struct appproc *ap)
{
	struct bproc *p = ap->userdata;

	if (p->state == P_READY)
		ap->state = proxy_pool_busy(p->pool) ? WASP_APP_PROC_BUSY : WASP_APP_PROC_IDLE;
}

static int
proc_start(struct bproc *p)
{
	struct backend *b = p->b;
	_cleanup_close_ int devnull = -1, logfd = -1;
	char **argv = NULL, **envp = NULL;
	int fds[3], r;
	size_t n = 0;

	r = backend_free_port(&p->port);
	if (r < 0)
		return r;
	while (b->conf.argv[n])
		n++;
	argv = calloc(n + 1, sizeof(char *));
	if (!argv)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++)
		if (!(argv[k] = backend_subst(b->conf.argv[k], b->conf.port_var, p->port))) {
			r = -ENOMEM;
			goto out;
		}
	envp = backend_envp(&b->conf, p->port, b->token);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!envp || devnull < 0) {
		r = envp ? -errno : -ENOMEM;
		goto out;
	}
	logfd = backend_log_open(&b->conf);
	fds[0] = devnull;
	fds[1] = logfd >= 0 ? logfd : STDERR_FILENO;
	fds[2] = fds[1];
	r = worker_child_spawn(fds, NULL, argv, envp, &p->pid, &p->pidfd);
	if (r < 0) {
		log_errno(r, "%s: cannot start '%s'", b->conf.label, argv[0]);
		b->last_why = "the process could not be started";
		goto out;
	}
	p->tries++;
	p->state = P_STARTING;
	appproc_add(&p->ap, p->pid, b->conf.kind, b->conf.argv[0], WASP_APP_PROC_STARTING);
	p->ap.refresh = proc_refresh;
	p->ap.userdata = p;
	p->started = wasp_now_usec();
	p->pid_ev = event_new(b->base, p->pidfd, EV_READ | EV_PERSIST, on_exit_ev, p);
	if (!p->pid_ev || event_add(p->pid_ev, NULL) < 0 ||
	    evtimer_add(p->timer, &(struct timeval){ .tv_usec = PROBE_USEC }) < 0) {
		proc_retire(p, 0);
		r = -ENOMEM;
		goto out;
	}
	log_info("%s: started process %d on port %u", b->conf.label, (int)p->pid,
		 (unsigned)p->port);
out:
	worker_strv_free(argv);
	worker_strv_free(envp);
	return r;
}

int
backend_acquire(struct backend *b, struct backend_waiter *w, struct proxy_pool **ret_pool)
{
	struct bproc *p;
	bool starting = false;
	int r = 0;

	w->b = b;
	if (rapid_failed(b))
		return -EAGAIN;
	for (unsigned k = 0; k < b->n_procs; k++) {
		p = &b->procs[k];
		if (p->state == P_OFF)
			r = proc_start(p);
		starting |= p->state == P_STARTING;
	}
	p = ready_proc(b);
	if (p) {
		*ret_pool = p->pool;
		return 0;
	}
	if (!starting)
		return r < 0 ? r : -ECHILD;
	if (b->n_queued >= BACKEND_WAITERS_MAX)
		return -EBUSY;
	w->next = NULL;
	w->prev = b->q_tail;
	if (b->q_tail)
		b->q_tail->next = w;
	else
		b->q_head = w;
	b->q_tail = w;
	w->queued = true;
	b->n_queued++;
	return 1;
}

void
backend_stop(struct backend *b)
{
	for (unsigned k = 0; k < b->n_procs; k++) {
		struct bproc *p = &b->procs[k];

		if (p->state != P_OFF) {
			log_info("%s: stopping process %d", b->conf.label, (int)p->pid);
			proc_retire(p, b->conf.shutdown_usec);
		}
		p->tries = 0;
	}
	b->last_why = "the application was stopped";
	if (b->q_head)
		event_active(b->dispatch, EV_TIMEOUT, 0);
}

/* ---- the backends ---- */

static char **
strv_copy(char *const *v)
{
	size_t n = 0;
	char **r;

	while (v && v[n])
		n++;
	r = calloc(n + 1, sizeof(char *));
	for (size_t k = 0; r && k < n; k++)
		if (!(r[k] = strdup(v[k]))) {
			worker_strv_free(r);
			return NULL;
		}
	return r;
}

static void
free_const(const char *p)
{
	free((void *)(uintptr_t)p);
}

static void
conf_free(struct backend_conf *c)
{
	worker_strv_free(c->argv);
	worker_strv_free(c->env);
	free_const(c->port_var);
	free_const(c->token_var);
	free_const(c->log_base);
	free_const(c->label);
	*c = (struct backend_conf){ 0 };
}

static int
conf_copy(struct backend_conf *d, const struct backend_conf *s)
{
	*d = *s;
	d->argv = strv_copy(s->argv);
	d->env = strv_copy(s->env);
	d->port_var = strdup(s->port_var);
	d->token_var = s->token_var ? strdup(s->token_var) : NULL;
	d->log_base = s->log_base ? strdup(s->log_base) : NULL;
	d->label = strdup(s->label);
	d->attempts = MAX(d->attempts, 1u);
	d->processes = MIN(MAX(d->processes, 1u), (unsigned)BACKEND_PROCS_MAX);
	if (!d->argv || !d->env || !d->port_var || !d->label || (s->log_base && !d->log_base) ||
	    (s->token_var && !d->token_var)) {
		conf_free(d);
		return -ENOMEM;
	}
	return 0;
}

static void
procs_free(struct backend *b, bool stop)
{
	for (unsigned k = 0; k < b->n_procs; k++) {
		struct bproc *p = &b->procs[k];

		if (stop && p->state != P_OFF)
			proc_retire(p, b->conf.shutdown_usec);
		appproc_remove(&p->ap);
		if (p->timer)
			event_free(p->timer);
		proxy_pool_free(p->pool);
	}
	free(b->procs);
	b->procs = NULL;
	b->n_procs = 0;
}

static int
procs_make(struct backend *b)
{
	b->procs = calloc(b->conf.processes, sizeof(*b->procs));
	if (!b->procs)
		return -ENOMEM;
	b->n_procs = b->conf.processes;
	for (unsigned k = 0; k < b->n_procs; k++) {
		struct bproc *p = &b->procs[k];

		*p = (struct bproc){ .b = b, .pidfd = -1, .probe_fd = -1 };
		p->timer = evtimer_new(b->base, on_probe, p);
		p->pool = proxy_pool_new(b->base);
		if (!p->timer || !p->pool)
			return -ENOMEM;
	}
	return 0;
}

static int
token_make(char out[33])
{
	uint8_t r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) /* never short for 16 bytes */
		return log_errno(-errno, "getrandom");
	for (size_t k = 0; k < sizeof(r); k++)
		snprintf(out + 2 * k, 3, "%02x", r[k]);
	return 0;
}

const char *
backend_token(const struct backend *b)
{
	return b->token;
}

struct backend *
backend_find(const char *key, const char *fingerprint)
{
	for (struct backend *b = backends; b; b = b->next)
		if (streq(b->key, key))
			return streq(b->fingerprint, fingerprint) ? b : NULL;
	return NULL;
}

struct backend *
backend_get(struct event_base *base, const char *key, const char *fingerprint,
	    const struct backend_conf *conf)
{
	struct backend *b;
	struct backend_conf c;

	for (b = backends; b; b = b->next)
		if (streq(b->key, key))
			break;
	if (b && streq(b->fingerprint, fingerprint))
		return b;
	if (conf_copy(&c, conf) < 0)
		return NULL;
	if (b) { /* its configuration changed: new processes */
		char *fp = strdup(fingerprint);

		if (!fp) {
			conf_free(&c);
			return NULL;
		}
		log_info("%s: the configuration changed, restarting", b->conf.label);
		procs_free(b, true);
		conf_free(&b->conf);
		free(b->fingerprint);
		b->fingerprint = fp;
		b->conf = c;
		b->fails = 0;
		if (procs_make(b) < 0)
			return NULL; /* out of memory: the worker cannot go on anyway */
		if (b->q_head)
			event_active(b->dispatch, EV_TIMEOUT, 0);
		return b;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		conf_free(&c);
		return NULL;
	}
	b->base = base;
	b->conf = c;
	b->key = strdup(key);
	b->fingerprint = strdup(fingerprint);
	b->dispatch = event_new(base, -1, 0, on_dispatch, b);
	if (!b->key || !b->fingerprint || !b->dispatch || token_make(b->token) < 0 ||
	    procs_make(b) < 0)
		return NULL; /* left: out of memory at this size ends the worker */
	b->next = backends;
	backends = b;
	return b;
}

/* Wait for the dying processes up to their SIGKILL time, then kill. */
static void
reap_all(void)
{
	for (;;) {
		uint64_t now = wasp_now_usec(), next = UINT64_MAX;
		struct pollfd pf[64];
		nfds_t n = 0;

		for (struct dying *d = dying, *nx; d; d = nx) {
			siginfo_t si = { 0 };

			nx = d->next;
			if (waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED | WNOHANG) == 0 &&
			    si.si_pid != 0) {
				dying_free(d);
				continue;
			}
			if (now >= d->kill_at)
				(void)kill(d->pid, SIGKILL);
			else
				next = MIN(next, d->kill_at);
			if (n < ELEMENTSOF(pf))
				pf[n++] = (struct pollfd){ .fd = d->pidfd, .events = POLLIN };
		}
		if (!dying)
			return;
		(void)poll(pf, n, next == UINT64_MAX ? 100 : (int)MIN((next - now) / 1000 + 1, 100));
	}
}

void
backends_free(void)
{
	while (backends) {
		struct backend *b = backends;

		backends = b->next;
		procs_free(b, true);
		while (b->q_head)
			queue_remove(b->q_head);
		event_free(b->dispatch);
		conf_free(&b->conf);
		free(b->key);
		free(b->fingerprint);
		free(b);
	}
	reap_all();
}
