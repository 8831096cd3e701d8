/* FastCGI application processes (procs.h).
 *
 * A process is started with vfork (the child shares the worker's memory
 * until it execs, so nothing of the worker is copied): PR_SET_PDEATHSIG
 * SIGKILL (no process outlives its worker), fd 0 its listening socket, fd 1
 * /dev/null, fd 2 the worker's stderr, nothing else, default SIGPIPE, an
 * empty signal mask. The socket is bound in a directory of mode 0700 that
 * the worker made for itself; the worker connects to it at once and unlinks
 * the name, so no other process can ever reach the application. The
 * process is watched through a pidfd on the event loop (no SIGCHLD).
 *
 * Requests wait in a FIFO of queueLength; a process that becomes free takes
 * the first waiter from the loop (never from inside the releasing request's
 * code). An idle process ends after idleTimeout, a process after
 * instanceMaxRequests requests, every process when the monitorChangesTo
 * file changes (checked once a second; busy ones after their request). A
 * process is ended with SIGKILL when signalBeforeTerminateSeconds is 0, as
 * IIS terminates it, else SIGTERM and SIGKILL that many seconds later. An
 * exit nobody asked for counts for rapidFailsPerMinute. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "appprocs.h"
#include "child.h"
#include "config.h"
#include "libevent-util.h"
#include "log.h"
#include "procs.h"
#include "record.h"
#include "util.h"

#define RAPID_WINDOW_USEC (60ULL * 1000000)
#define MONITOR_USEC 1000000
#define FCGI_MAX_ARGS 64
#define FCGI_WARMUP_ID 1

extern char **environ;

struct fcgi_inst {
	struct fcgi_inst *next, *prev;
	struct fcgi_app *app;
	pid_t pid;
	int pidfd, fd;
	struct event *pid_ev, *timer; /* timer: idle timeout, then the SIGKILL */
	struct event *drain_ev;        /* reading an abandoned answer (fcgi_inst_drain) */
	struct fcgi_parser drain;
	unsigned requests, gen;
	bool busy, exited, stopping;
	bool warming; /* preloaded: its warm-up request is not answered yet */
	struct appproc ap; /* as waspd lists it */
};

struct fcgi_app {
	struct fcgi_app *next;
	struct event_base *base;
	char *key;
	struct fcgi_conf conf;
	char **argv, **envp;
	struct fcgi_inst *insts;
	unsigned n_insts, n_busy, gen;
	struct fcgi_waiter *q_head, *q_tail;
	unsigned n_queued;
	struct event *dispatch, *monitor;
	char *monitor_path;
	struct stat mon_st;
	bool mon_exists;
	uint64_t fail_window_start;
	unsigned fails;
};

static struct fcgi_app *apps;

static uint64_t
now_usec(void)
{
	return wasp_now_usec();
}

static void inst_stop(struct fcgi_inst *i);

static void
timer_in(struct event *ev, uint64_t usec)
{
	struct timeval tv = wasp_timeval_from_usec(usec);

	(void)event_add(ev, &tv);
}

static void
inst_free(struct fcgi_inst *i)
{
	struct fcgi_app *a = i->app;

	if (i->prev)
		i->prev->next = i->next;
	else
		a->insts = i->next;
	if (i->next)
		i->next->prev = i->prev;
	a->n_insts--;
	appproc_remove(&i->ap);
	i->pid_ev = wasp_event_free(i->pid_ev);
	i->timer = wasp_event_free(i->timer);
	i->drain_ev = wasp_event_free(i->drain_ev);
	safe_close(i->pidfd);
	safe_close(i->fd);
	free(i);
	/* room for a process a queued request is waiting for */
	if (a->q_head)
		event_active(a->dispatch, EV_TIMEOUT, 0);
}

static void
on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_inst *i = arg;
	struct fcgi_app *a = i->app;
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)i->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	i->exited = true;
	appproc_remove(&i->ap);
	log_debug("FastCGI process %d of '%s' ended (%s %d)", (int)i->pid, a->key,
		  si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
	/* unexpected: nobody asked, or it died its own way before our
	 * signal (a failure status, another signal) */
	if (!i->stopping || (si.si_code == CLD_EXITED && si.si_status != 0) ||
	    (si.si_code != CLD_EXITED && si.si_status != SIGTERM && si.si_status != SIGKILL)) {
		uint64_t now = now_usec();

		if (si.si_code == CLD_EXITED)
			log_warning("FastCGI process %d of '%s' exited unexpectedly with status %d",
				    (int)i->pid, a->key, si.si_status);
		else
			log_warning("FastCGI process %d of '%s' was killed by signal %d",
				    (int)i->pid, a->key, si.si_status);
		if (now - a->fail_window_start > RAPID_WINDOW_USEC) {
			a->fail_window_start = now;
			a->fails = 0;
		}
		a->fails++;
	}
	(void)event_del(i->pid_ev);
	if (!i->busy)
		inst_free(i);
	/* a busy one goes when its request lets it go (the request sees the
	 * connection end) */
}

static void
on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_inst *i = arg;

	if (!i->exited)
		(void)kill(i->pid, SIGKILL);
}

static void
on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_inst *i = arg;

	log_debug("FastCGI process %d of '%s' idle for idleTimeout, ending it", (int)i->pid,
		  i->app->key);
	inst_stop(i);
}

/* End the process: SIGKILL, or SIGTERM and SIGKILL after
 * signalBeforeTerminateSeconds. Its connection closes now. */
static void
inst_stop(struct fcgi_inst *i)
{
	unsigned secs = i->app->conf.signal_before_terminate;

	if (i->stopping)
		return;
	i->stopping = true;
	i->ap.state = WASP_APP_PROC_STOPPING;
	i->fd = safe_close(i->fd);
	if (i->exited)
		return;
	if (secs == 0) {
		(void)kill(i->pid, SIGKILL);
		return;
	}
	(void)kill(i->pid, SIGTERM);
	(void)event_del(i->timer);
	event_assign(i->timer, i->app->base, -1, 0, on_kill_timer, i);
	timer_in(i->timer, secs * 1000000ULL);
}

/* A listening socket at a fresh name, in a directory of mode 0700 made for
 * it (mkdtemp: only this worker's identity can reach it), and the worker's
 * connection to it; the name and the directory are gone on return, so
 * nothing is left behind in $TMPDIR even when the worker is killed. */
static int
make_sockets(int *ret_listen, int *ret_conn)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int l = -1, c = -1;
	char dir[sizeof(sa.sun_path) - 8];
	int r;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/wasp-fcgi-XXXXXX",
			     tmp && *tmp == '/' ? tmp : "/tmp") >= sizeof(dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(dir)) {
		r = -errno;
		log_errno(r, "FastCGI: cannot create a socket directory in '%s'",
			  tmp && *tmp == '/' ? tmp : "/tmp");
		return r;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l < 0 || c < 0)
		r = -errno;
	else if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0)
		r = -errno;
	else
		r = connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	(void)unlink(sa.sun_path);
	(void)rmdir(dir);
	if (r < 0)
		return r;
	*ret_listen = TAKE_FD(l);
	*ret_conn = TAKE_FD(c);
	return 0;
}

static int
inst_spawn(struct fcgi_app *a, struct fcgi_inst **ret)
{
	_cleanup_close_ int l = -1, c = -1, devnull = -1, pidfd = -1;
	struct fcgi_inst *i;
	pid_t pid;
	int r;

	r = make_sockets(&l, &c);
	if (r < 0) {
		log_errno(r, "FastCGI: cannot make a socket for '%s'", a->key);
		return r;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return -errno;
	r = worker_child_spawn((const int[3]){ l, devnull, STDERR_FILENO }, NULL, a->argv, a->envp,
			       &pid, &pidfd);
	if (r < 0) {
		log_errno(r, "FastCGI: cannot start '%s'", a->argv[0]);
		return r;
	}
	i = calloc(1, sizeof(*i));
	if (!i) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return -ENOMEM;
	}
	i->app = a;
	i->pid = pid;
	i->gen = a->gen;
	i->pidfd = TAKE_FD(pidfd);
	i->fd = TAKE_FD(c);
	i->pid_ev = event_new(a->base, i->pidfd, EV_READ | EV_PERSIST, on_exit_ev, i);
	i->timer = evtimer_new(a->base, on_idle_timer, i);
	i->next = a->insts;
	if (a->insts)
		a->insts->prev = i;
	a->insts = i;
	a->n_insts++;
	appproc_add(&i->ap, pid, WASP_APP_PROC_FASTCGI, a->key, WASP_APP_PROC_STARTING);
	if (!i->pid_ev || !i->timer || event_add(i->pid_ev, NULL) < 0) {
		inst_stop(i);
		(void)waitpid(pid, NULL, 0);
		i->exited = true;
		inst_free(i);
		return -ENOMEM;
	}
	log_debug("FastCGI: started process %d for '%s'", (int)pid, a->key);
	*ret = i;
	return 0;
}

static void
inst_assign(struct fcgi_inst *i, struct fcgi_waiter *w)
{
	i->busy = true;
	i->ap.state = WASP_APP_PROC_BUSY;
	i->ap.requests++;
	i->app->n_busy++;
	(void)event_del(i->timer);
	w->ready(w, i);
}

static struct fcgi_inst *
idle_inst(struct fcgi_app *a)
{
	for (struct fcgi_inst *i = a->insts; i; i = i->next)
		if (!i->busy && !i->stopping && !i->exited)
			return i;
	return NULL;
}

static bool
rapid_failed(struct fcgi_app *a)
{
	if (now_usec() - a->fail_window_start > RAPID_WINDOW_USEC) {
		a->fails = 0;
		return false;
	}
	return a->fails >= a->conf.rapid_fails_per_minute;
}

static unsigned
live_insts(const struct fcgi_app *a)
{
	unsigned n = 0;

	for (const struct fcgi_inst *i = a->insts; i; i = i->next)
		if (!i->stopping && !i->exited)
			n++;
	return n;
}

static bool
warming(const struct fcgi_app *a)
{
	for (const struct fcgi_inst *i = a->insts; i; i = i->next)
		if (i->warming && !i->stopping && !i->exited)
			return true;
	return false;
}

static void
queue_remove(struct fcgi_waiter *w)
{
	struct fcgi_app *a = w->app;

	if (w->prev)
		w->prev->next = w->next;
	else
		a->q_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		a->q_tail = w->prev;
	w->next = w->prev = NULL;
	w->queued = false;
	a->n_queued--;
}

/* Give free or new processes to the queued requests. */
static void
on_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_app *a = arg;

	while (a->q_head) {
		struct fcgi_waiter *w = a->q_head;
		struct fcgi_inst *i = idle_inst(a);

		if (!i) {
			if (live_insts(a) >= a->conf.max_instances || rapid_failed(a))
				return; /* a release or an exit dispatches again */
			if (inst_spawn(a, &i) < 0)
				return;
		}
		queue_remove(w);
		inst_assign(i, w);
	}
}

int
fcgi_app_acquire(struct fcgi_app *a, struct fcgi_waiter *w)
{
	struct fcgi_inst *i;
	int r;

	w->app = a;
	if (rapid_failed(a))
		return -EAGAIN;
	if (!a->q_head) {
		i = idle_inst(a);
		/* a preloaded process still warming up is free in a moment: the
		 * request waits for it rather than for a new process's start */
		if (!i && !warming(a) && live_insts(a) < a->conf.max_instances) {
			r = inst_spawn(a, &i);
			if (r < 0)
				return r;
		}
		if (i) {
			inst_assign(i, w);
			return 0;
		}
	}
	if (a->n_queued >= a->conf.queue_length)
		return -EBUSY;
	w->next = NULL;
	w->prev = a->q_tail;
	if (a->q_tail)
		a->q_tail->next = w;
	else
		a->q_head = w;
	a->q_tail = w;
	w->queued = true;
	a->n_queued++;
	log_debug("FastCGI: a request waits for a process of '%s' (%u waiting)", a->key,
		  a->n_queued);
	return 1;
}

void
fcgi_waiter_cancel(struct fcgi_waiter *w)
{
	if (w->queued)
		queue_remove(w);
}

void
fcgi_inst_release(struct fcgi_inst *i, bool reusable)
{
	struct fcgi_app *a = i->app;

	i->busy = false;
	a->n_busy--;
	i->requests++;
	i->ap.state = WASP_APP_PROC_IDLE;
	log_debug("FastCGI process %d: request %u done%s", (int)i->pid, i->requests,
		  reusable ? "" : ", not reusable");
	if (!reusable || i->requests >= a->conf.instance_max_requests || i->gen != a->gen)
		inst_stop(i);
	if (i->exited) {
		inst_free(i);
		return;
	}
	if (!i->stopping) {
		event_assign(i->timer, a->base, -1, 0, on_idle_timer, i);
		timer_in(i->timer, a->conf.idle_usec);
	}
	if (a->q_head)
		event_active(a->dispatch, EV_TIMEOUT, 0);
}

/* ---- preloadEnabled ---- */

/* The warm-up request of a preloaded process: GET with SCRIPT_FILENAME "/",
 * which is no file (php-cgi answers "No input file specified."), so no
 * script of the application runs, but the process goes through a request's
 * start and end once, and it keeps the connection. PHP closes a connection
 * that brings no request within 5 s of accepting it, and the worker cannot
 * connect again (the socket's name is gone at once): without a request the
 * preloaded process was lost to the first request that came later than
 * that, which then waited for another process to start. */
static const struct {
	const char *name, *value;
} warmup_params[] = {
	{ "GATEWAY_INTERFACE", "CGI/1.1" }, { "SERVER_PROTOCOL", "HTTP/1.1" },
	{ "REQUEST_METHOD", "GET" },        { "REQUEST_URI", "/" },
	{ "SCRIPT_NAME", "/" },             { "SCRIPT_FILENAME", "/dev/null" },
	{ "QUERY_STRING", "" },             { "SERVER_SOFTWARE", "wasp" },
	{ "HTTP_USER_AGENT", "wasp-preload" },
};

static int
warmup_send(struct fcgi_inst *i)
{
	uint8_t buf[512], *o = buf + FCGI_BEGIN_REQUEST_LEN + FCGI_HEADER_LEN;
	size_t plen = 0;
	ssize_t n;

	fcgi_begin_request(buf, FCGI_WARMUP_ID, true);
	for (size_t k = 0; k < ELEMENTSOF(warmup_params); k++)
		plen += fcgi_nv_encode(o + plen, warmup_params[k].name,
				       strlen(warmup_params[k].name), warmup_params[k].value,
				       strlen(warmup_params[k].value));
	fcgi_header(buf + FCGI_BEGIN_REQUEST_LEN, FCGI_PARAMS, FCGI_WARMUP_ID, (uint16_t)plen, 0);
	o += plen;
	fcgi_header(o, FCGI_PARAMS, FCGI_WARMUP_ID, 0, 0);
	o += FCGI_HEADER_LEN;
	fcgi_header(o, FCGI_STDIN, FCGI_WARMUP_ID, 0, 0);
	o += FCGI_HEADER_LEN;
	/* a few hundred bytes into a new connection's empty buffer */
	n = write(i->fd, buf, (size_t)(o - buf));
	if (n < 0)
		return -errno;
	return n == o - buf ? 0 : -EIO;
}

int
fcgi_app_preload(struct fcgi_app *a)
{
	struct fcgi_parser p;
	struct fcgi_inst *i;
	int r;

	if (live_insts(a) > 0 || rapid_failed(a))
		return 0;
	r = inst_spawn(a, &i);
	if (r < 0)
		return r;
	r = warmup_send(i);
	if (r < 0) {
		inst_stop(i);
		return r;
	}
	/* busy with its warm-up until the answer ends (activityTimeout at
	 * most); a request that comes meanwhile waits for it */
	i->busy = i->warming = true;
	a->n_busy++;
	fcgi_parser_init(&p, FCGI_WARMUP_ID);
	fcgi_inst_drain(i, &p, NULL, 0, now_usec() + a->conf.activity_usec);
	log_info("FastCGI: preloaded process %d for '%s'", (int)i->pid, a->key);
	return 1;
}

/* ---- the rest of an abandoned answer ---- */

static void
drain_done(struct fcgi_inst *i, bool clean)
{
	i->drain_ev = wasp_event_free(i->drain_ev);
	(void)event_del(i->timer);
	if (i->warming) {
		i->warming = false;
		if (clean)
			log_debug("FastCGI process %d of '%s' preloaded: its warm-up request "
				  "was answered", (int)i->pid, i->app->key);
		else
			log_warning("FastCGI process %d of '%s': no answer to its warm-up "
				    "request, ending it", (int)i->pid, i->app->key);
	} else
		log_debug("FastCGI process %d: the rest of an abandoned answer %s", (int)i->pid,
			  clean ? "drained, the process stays" : "could not be drained");
	fcgi_inst_release(i, clean);
}

/* Parse and drop data. 1 at FCGI_END_REQUEST with nothing after it, 0 for
 * more, -1 when the process cannot be trusted with another request. */
static int
drain_feed(struct fcgi_inst *i, const uint8_t *data, size_t len)
{
	while (len > 0) {
		struct fcgi_event ev;
		ssize_t n = fcgi_parse(&i->drain, data, len, &ev);

		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
		if (ev.type == FCGI_EV_END)
			return len == 0 ? 1 : -1;
	}
	return 0;
}

static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_inst *i = arg;
	uint8_t buf[16384];

	for (int rounds = 0; rounds < 16; rounds++) { /* then let others run */
		ssize_t n = read(i->fd, buf, sizeof(buf));
		int r;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			drain_done(i, false);
			return;
		}
		r = drain_feed(i, buf, (size_t)n);
		if (r != 0) {
			drain_done(i, r > 0);
			return;
		}
	}
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	drain_done(arg, false);
}

void
fcgi_inst_drain(struct fcgi_inst *i, const struct fcgi_parser *p, const uint8_t *data,
		size_t len, uint64_t deadline_usec)
{
	uint64_t now = now_usec(), d = deadline_usec > now ? deadline_usec - now : 0;
	int r;

	i->drain = *p;
	r = drain_feed(i, data, len);
	if (r != 0) {
		drain_done(i, r > 0);
		return;
	}
	i->drain_ev = event_new(i->app->base, i->fd, EV_READ | EV_PERSIST, on_drain, i);
	if (!i->drain_ev || event_add(i->drain_ev, NULL) < 0) {
		drain_done(i, false);
		return;
	}
	event_assign(i->timer, i->app->base, -1, 0, on_drain_timeout, i);
	timer_in(i->timer, d);
}

int
fcgi_inst_fd(const struct fcgi_inst *i)
{
	return i->fd;
}

pid_t
fcgi_inst_pid(const struct fcgi_inst *i)
{
	return i->pid;
}

const struct fcgi_conf *
fcgi_app_conf(const struct fcgi_app *a)
{
	return &a->conf;
}

/* ---- monitorChangesTo ---- */

static bool
stat_differs(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev || a->st_size != b->st_size ||
	       a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
	       a->st_ctim.tv_sec != b->st_ctim.tv_sec || a->st_ctim.tv_nsec != b->st_ctim.tv_nsec;
}

static void
on_monitor(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_app *a = arg;
	struct stat st;
	bool exists = stat(a->conf.monitor, &st) == 0;

	if (exists == a->mon_exists && (!exists || !stat_differs(&st, &a->mon_st)))
		return;
	a->mon_exists = exists;
	if (exists)
		a->mon_st = st;
	log_info("FastCGI: '%s' changed, recycling the processes of '%s'", a->conf.monitor,
		 a->key);
	a->gen++; /* busy ones end after their request */
	for (struct fcgi_inst *i = a->insts, *next; i; i = next) {
		next = i->next;
		if (!i->busy)
			inst_stop(i);
	}
}

/* ---- the application ---- */

static const struct wasp_element *
find_application(const struct wasp_element *section, const char *key)
{
	const char *bar = strchr(key, '|');
	size_t plen = bar ? (size_t)(bar - key) : strlen(key);
	const char *args = bar ? bar + 1 : "";

	for (size_t k = 0; section && k < section->n_items; k++) {
		const struct wasp_element *it = section->items[k];
		const char *fp = wasp_element_get_str(it, "fullPath", "");

		if (strlen(fp) == plen && memcmp(fp, key, plen) == 0 &&
		    streq(wasp_element_get_str(it, "arguments", ""), args))
			return it;
	}
	return NULL;
}

static bool
env_named(const char *entry, const char *name, size_t len)
{
	return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* The worker's environment, the application's environmentVariables over
 * it, and PHP_FCGI_MAX_REQUESTS = instanceMaxRequests unless they set it
 * (so php-cgi ends itself where the worker would end it, as IIS
 * documents). */
static char **
build_envp(const struct wasp_element *appl, unsigned max_requests)
{
	const struct wasp_element *vars = wasp_element_child(appl, "environmentVariables");
	size_t n_env = 0, n_vars = vars ? vars->n_items : 0, n = 0;
	char **envp;
	bool have_max = false;

	while (environ[n_env])
		n_env++;
	envp = calloc(n_env + n_vars + 2, sizeof(char *));
	if (!envp)
		return NULL;
	for (size_t k = 0; k < n_vars; k++) {
		const char *name = wasp_element_get_str(vars->items[k], "name", "");
		const char *value = wasp_element_get_str(vars->items[k], "value", "");

		if (!*name || strchr(name, '='))
			continue;
		if (asprintf(&envp[n], "%s=%s", name, value) < 0)
			return NULL;
		n++;
		if (streq(name, "PHP_FCGI_MAX_REQUESTS"))
			have_max = true;
	}
	for (size_t k = 0; k < n_env; k++) {
		size_t len = strcspn(environ[k], "=");
		bool overridden = false;

		for (size_t v = 0; v < n_vars && !overridden; v++)
			overridden = env_named(environ[k],
					       wasp_element_get_str(vars->items[v], "name", ""),
					       len) &&
				     strlen(wasp_element_get_str(vars->items[v], "name", "")) ==
					     len;
		if (overridden || (!have_max && env_named(environ[k], "PHP_FCGI_MAX_REQUESTS",
							   len)))
			continue;
		envp[n] = strdup(environ[k]); /* every entry its own, freed with it */
		if (!envp[n++])
			return NULL;
	}
	if (!have_max && asprintf(&envp[n++], "PHP_FCGI_MAX_REQUESTS=%u", max_requests) < 0)
		return NULL;
	return envp;
}

static unsigned
auto_max(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cpus > 0 ? (unsigned)cpus * FCGI_AUTO_PER_CPU : FCGI_AUTO_MIN;

	return n < FCGI_AUTO_MIN ? FCGI_AUTO_MIN : n;
}

static char *
monitor_path(const char *full_path, const char *m)
{
	const char *slash;
	char *r;

	if (!*m)
		return NULL;
	if (*m == '/')
		return strdup(m);
	/* relative: to the directory of fullPath, as IIS */
	slash = strrchr(full_path, '/');
	if (asprintf(&r, "%.*s/%s", slash ? (int)(slash - full_path) : 1,
		     slash ? full_path : ".", m) < 0)
		return NULL;
	return r;
}

struct fcgi_app *
fcgi_app_get(struct event_base *base, const struct wasp_element *section, const char *key,
	     int *ret_err)
{
	const struct wasp_element *appl;
	struct fcgi_app *a;
	unsigned max;

	for (a = apps; a; a = a->next)
		if (streq(a->key, key))
			return a;
	appl = find_application(section, key);
	if (!appl) {
		*ret_err = -ENOENT;
		return NULL;
	}
	*ret_err = -ENOMEM;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->base = base;
	a->key = strdup(key);
	max = (unsigned)wasp_element_get_uint(appl, "maxInstances", 0);
	a->conf = (struct fcgi_conf){
		.full_path = wasp_element_get_str(appl, "fullPath", ""),
		.arguments = wasp_element_get_str(appl, "arguments", ""),
		.max_instances = max ? max : auto_max(),
		.idle_usec = wasp_element_get_uint(appl, "idleTimeout", 300) * 1000000,
		.activity_usec = wasp_element_get_uint(appl, "activityTimeout", 30) * 1000000,
		.request_usec = wasp_element_get_uint(appl, "requestTimeout", 90) * 1000000,
		.instance_max_requests =
			(unsigned)wasp_element_get_uint(appl, "instanceMaxRequests", 200),
		.signal_before_terminate =
			(unsigned)wasp_element_get_uint(appl, "signalBeforeTerminateSeconds", 0),
		.queue_length = (unsigned)wasp_element_get_uint(appl, "queueLength", 1000),
		.rapid_fails_per_minute =
			(unsigned)wasp_element_get_uint(appl, "rapidFailsPerMinute", 10),
		.stderr_mode = (enum fcgi_stderr_mode)wasp_element_get_uint(appl, "stderrMode", 0),
	};
	a->monitor_path = monitor_path(a->conf.full_path,
				       wasp_element_get_str(appl, "monitorChangesTo", ""));
	a->conf.monitor = a->monitor_path;
	a->argv = worker_argv_build(a->conf.full_path, a->conf.arguments, FCGI_MAX_ARGS);
	a->envp = build_envp(appl, a->conf.instance_max_requests);
	a->dispatch = event_new(base, -1, 0, on_dispatch, a);
	if (!a->key || !a->argv || !a->envp || !a->dispatch ||
	    (*wasp_element_get_str(appl, "monitorChangesTo", "") && !a->conf.monitor)) {
		free(a->key);
		free(a);
		return NULL; /* the rest is left: out of memory at this size ends the worker */
	}
	if (a->conf.monitor) {
		a->mon_exists = stat(a->conf.monitor, &a->mon_st) == 0;
		a->monitor = event_new(base, -1, EV_PERSIST, on_monitor, a);
		if (a->monitor)
			timer_in(a->monitor, MONITOR_USEC);
	}
	a->next = apps;
	apps = a;
	*ret_err = 0;
	return a;
}

void
fcgi_apps_free(void)
{
	while (apps) {
		struct fcgi_app *a = apps;

		apps = a->next;
		while (a->insts) {
			struct fcgi_inst *i = a->insts;
			inst_stop(i);
			if (!i->exited)
				(void)kill(i->pid, SIGKILL);
			i->exited = true;
			inst_free(i);
		}
		a->monitor = wasp_event_free(a->monitor);
		a->dispatch = wasp_event_free(a->dispatch);
		worker_strv_free(a->argv);
		worker_strv_free(a->envp);
		free(a->monitor_path);
		free(a->key);
		free(a);
	}
}
