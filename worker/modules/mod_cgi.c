/* CgiModule: IIS's CGI handler (RFC 3875, CGI/1.1). A <handlers> entry
 * naming it (modules="CgiModule") runs, for each request, one process:
 *
 *   - without scriptProcessor, the requested file itself (path="*.cgi");
 *   - with one ("/usr/bin/python3 -u %s %s", as IIS writes it), that
 *     program with the script's path in place of the first "%s" (appended
 *     when there is none).
 *
 * The program must be allowed by system.webServer/security/
 * isapiCgiRestriction (the file's path, or the whole scriptProcessor
 * string, as IIS compares them), else 404.2. The process runs in the
 * script's directory as the pool's identity, a child of the worker that
 * dies with it (worker/cgi/spawn.c), with the CGI meta-variables
 * (worker/cgi/vars.c) over the worker's environment. The request body goes
 * to its stdin as it arrives (read from the client only when the pipe took
 * the previous piece), its stdout is the CGI response (worker/cgi/head.c),
 * streamed to the client (read from the pipe only while the client takes
 * it), its stderr goes to the log with its pid.
 *
 * system.webServer/cgi timeout bounds the process's life: it is ended
 * with what it started (SIGTERM to its process group, SIGKILL
 * CGI_KILL_GRACE_USEC later) and the request answered
 * 502.1 before the head, cut after. A head over CGI_HEAD_MAX, a malformed
 * one, or none at all is 502.2. A client that goes away before the end of
 * the output ends the process. At most CGI_MAX_PROCS processes per worker
 * (503.2 beyond); a body of unknown length is 411 (RFC 3875 passes
 * CONTENT_LENGTH). Nothing blocks the worker's event loop. */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "appprocs.h"
#include "arena.h"
#include "cgi/cgi.h"
#include "child.h"
#include "later.h"
#include "config.h"
#include "fastcgi/record.h"
#include "libevent-util.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define CGI_HEAD_MAX 65536      /* the response head a program sends */
#define CGI_IN_BUF 65536        /* read from its stdout at once */
#define CGI_OUT_READS 16        /* stdout reads per wakeup */
#define CGI_BODY_CHUNK 65536    /* request body read from the client at once */
#define CGI_ERR_BUF 4096        /* read from its stderr at once */
#define CGI_ERR_READS 16        /* stderr reads per wakeup */
#define CGI_STDERR_LOG_MAX 65536 /* stderr bytes logged per process; the rest is dropped */
#define CGI_MAX_PROCS 256       /* processes of one worker at once */
#define CGI_MAX_ARGS 64         /* words of a scriptProcessor */
#define CGI_KILL_GRACE_USEC (2ULL * 1000000) /* SIGTERM to SIGKILL */
#define CGI_TIMEOUT_DEFAULT_USEC (15ULL * 60 * 1000000) /* IIS: 00:15:00 */

extern char **environ;

struct creq;

/* One process: outlives its request when it does not exit with it (its
 * timeout still ends it). */
struct cproc {
	struct cproc *next, *prev;
	struct creq *creq; /* NULL once the request let go */
	pid_t pid;
	int pidfd;
	struct event *exit_ev, *timer; /* timer: the timeout, then the SIGKILL */
	bool killing, killed, exited;
	struct appproc ap; /* as waspd lists it */
};

struct creq {
	struct wasp_request *req;
	struct cproc *proc;
	pid_t pid;
	int fd_in, fd_out, fd_err;
	struct event ev_in, ev_out, ev_err;
	bool in_set, out_set, err_set;
	struct worker_later *later; /* resuming the request from the loop */
	/* the request body to stdin */
	uint8_t *body;
	size_t body_off, body_len;
	bool body_wait, stdin_done;
	/* stdout */
	struct fcgi_head head;
	uint8_t *out;
	const uint8_t *pend;
	size_t pend_len;
	const char *redirect; /* a local redirect's URL: the output is dropped */
	bool head_done, paused, out_eof, done;
	/* stderr */
	char *err;
	size_t err_logged;
};

static struct cproc *procs;
static unsigned n_procs;

/* ---- processes ---- */

static void
proc_free(struct cproc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	n_procs--;
	appproc_remove(&p->ap);
	p->exit_ev = wasp_event_free(p->exit_ev);
	p->timer = wasp_event_free(p->timer);
	safe_close(p->pidfd);
	free(p);
}

static void
on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cproc *p = arg;

	if (!p->exited)
		log_warning("CGI process %d did not end on SIGTERM, killing it", (int)p->pid);
	(void)kill(-p->pid, SIGKILL);
	p->killed = true;
	if (p->exited && !p->creq)
		proc_free(p);
}

/* SIGTERM now, SIGKILL CGI_KILL_GRACE_USEC later, to its process group
 * (what the program started goes with it). */
static void
proc_kill(struct cproc *p)
{
	struct timeval tv;

	if (p->killing)
		return;
	p->killing = true;
	p->ap.state = WASP_APP_PROC_STOPPING;
	(void)kill(-p->pid, SIGTERM);
	(void)event_del(p->timer);
	event_assign(p->timer, event_get_base(p->exit_ev), -1, 0, on_kill_timer, p);
	tv = wasp_timeval_from_usec(CGI_KILL_GRACE_USEC);
	(void)event_add(p->timer, &tv);
}

static void creq_timeout(struct creq *c);

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cproc *p = arg;

	log_warning("CGI process %d ran past system.webServer/cgi timeout, ending it",
		    (int)p->pid);
	proc_kill(p);
	if (p->creq)
		creq_timeout(p->creq);
}

static void
on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
	struct cproc *p = arg;
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	if (si.si_code == CLD_EXITED)
		log_debug("CGI process %d exited with status %d", (int)p->pid, si.si_status);
	else
		log_debug("CGI process %d was killed by signal %d", (int)p->pid, si.si_status);
	p->exited = true;
	appproc_remove(&p->ap);
	(void)event_del(p->exit_ev);
	/* while its request runs, the timeout still holds: what it started
	 * may hold its stdout open */
	if (!p->creq && (!p->killing || p->killed))
		proc_free(p);
}

/* Watch pid (a child): its exit through a pidfd, its timeout. */
static int
proc_new(struct event_base *base, pid_t pid, const char *program, uint64_t timeout_usec,
	 struct cproc **ret)
{
	struct cproc *p = calloc(1, sizeof(*p));
	struct timeval tv;

	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	p->next = procs;
	if (procs)
		procs->prev = p;
	procs = p;
	n_procs++;
	appproc_add(&p->ap, pid, WASP_APP_PROC_CGI, program, WASP_APP_PROC_BUSY);
	p->ap.requests = 1;
	if (p->pidfd >= 0) {
		p->exit_ev = event_new(base, p->pidfd, EV_READ | EV_PERSIST, on_exit_ev, p);
		p->timer = evtimer_new(base, on_timeout, p);
	}
	if (!p->exit_ev || !p->timer || event_add(p->exit_ev, NULL) < 0) {
		int r = p->pidfd < 0 ? -errno : -ENOMEM;

		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		proc_free(p);
		return r;
	}
	tv = wasp_timeval_from_usec(timeout_usec);
	(void)event_add(p->timer, &tv);
	*ret = p;
	return 0;
}

/* ---- one request ---- */

static void creq_pump(struct creq *c);

static struct event_base *
base_of(const struct creq *c)
{
	return wasp_server_event_base(wasp_request_server(c->req));
}

static void
ev_set(struct creq *c, struct event *ev, bool *set, int fd, bool want,
       void (*cb)(evutil_socket_t, short, void *), short what)
{
	if (fd < 0 || !want || c->done) {
		if (*set)
			(void)event_del(ev);
		*set = false;
		return;
	}
	if (*set)
		return;
	event_assign(ev, base_of(c), fd, (short)(what | EV_PERSIST), cb, c);
	*set = event_add(ev, NULL) == 0;
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	creq_pump(arg);
}

static void
io_update(struct creq *c)
{
	ev_set(c, &c->ev_in, &c->in_set, c->fd_in, c->body_len > c->body_off, on_io, EV_WRITE);
	ev_set(c, &c->ev_out, &c->out_set, c->fd_out, !c->paused && !c->pend_len, on_io,
	       EV_READ);
	ev_set(c, &c->ev_err, &c->err_set, c->fd_err, true, on_io, EV_READ);
}

static void
close_in(struct creq *c)
{
	ev_set(c, &c->ev_in, &c->in_set, -1, false, NULL, 0);
	c->fd_in = safe_close(c->fd_in);
	c->stdin_done = true;
}

/* The request is over for the process: it is ended unless its output
 * reached its end (then it may finish on its own, within its timeout). */
static void
creq_finish(struct creq *c)
{
	if (c->done)
		return;
	c->done = true;
	ev_set(c, &c->ev_in, &c->in_set, -1, false, NULL, 0);
	ev_set(c, &c->ev_out, &c->out_set, -1, false, NULL, 0);
	ev_set(c, &c->ev_err, &c->err_set, -1, false, NULL, 0);
	c->fd_in = safe_close(c->fd_in);
	c->fd_out = safe_close(c->fd_out);
	c->fd_err = safe_close(c->fd_err);
	if (c->proc) {
		struct cproc *p = c->proc;

		c->proc = NULL;
		p->creq = NULL;
		if (!c->out_eof)
			proc_kill(p);
		else if (p->exited)
			proc_free(p);
	}
}

static void
creq_cleanup(void *data)
{
	struct creq *c = data;

	if (!c->done && !c->out_eof)
		log_info("CGI process %d: the request ended before its output (the client went "
			 "away), ending the process", (int)c->pid);
	creq_finish(c);
}

/* An error status before the head is out, a cut connection after. */
static void
creq_fail(struct creq *c, unsigned status, unsigned substatus, const char *why)
{
	struct wasp_request *req = c->req;

	wasp_log(WASP_LOG_ERR, "CGI process %d: %s (%s %s)", (int)c->pid, why,
		 wasp_request_method(req), wasp_request_path(req));
	creq_finish(c);
	if (cgi_fail_response(req, status, substatus, why))
		worker_later_resume(c->later, WASP_DONE);
}

static void
creq_timeout(struct creq *c)
{
	creq_fail(c, 502, 1, "the CGI application did not complete within system.webServer/cgi "
			     "timeout");
}

static void
on_writable(struct wasp_request *req, void *userdata)
{
	struct creq *c = userdata;

	if (c->done)
		return;
	c->paused = false;
	creq_pump(c);
}

/* Give what stdout said after the head to the stream. true when all went. */
static bool
flush_pend(struct creq *c)
{
	int r = cgi_stream_give(c->req, &c->pend, &c->pend_len);

	if (r == -EAGAIN)
		c->paused = true; /* the client is slower: stop reading */
	else if (r == -EMSGSIZE)
		creq_fail(c, 502, 2, "more output than its Content-Length");
	else if (r < 0) {
		log_debug("CGI process %d: the response is not wanted any more", (int)c->pid);
		creq_finish(c);
	}
	return r == 0;
}

static void
on_head(struct creq *c)
{
	int64_t length;
	int r = cgi_head_apply(c->req, &c->head, &length, &c->redirect);

	if (r == 0 && c->redirect) {
		c->head_done = true; /* served at the output's end */
		return;
	}
	if (r == 0)
		r = wasp_response_stream(c->req, length, on_writable, c) < 0 ? -ENOMEM : 0;
	if (r < 0) {
		creq_fail(c, r == -ENOMEM ? 500 : 502, r == -ENOMEM ? 0 : 2,
			  r == -ENOMEM ? "out of memory"
				       : "the CGI application returned an invalid set of headers");
		return;
	}
	c->head_done = true;
	worker_later_resume(c->later, WASP_DONE);
}

/* Read stdout and give it on as far as the client takes it (at most
 * CGI_OUT_READS reads at a time; the loop comes back for the rest). false
 * when the response ended (the request may be gone: c must not be
 * touched). */
static bool
read_out(struct creq *c)
{
	for (unsigned i = 0; i < CGI_OUT_READS && !c->done && !c->out_eof; i++) {
		ssize_t n;

		if (c->pend_len && !flush_pend(c))
			return true;
		if (c->done || c->paused)
			return true;
		n = read(c->fd_out, c->out, CGI_IN_BUF);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			creq_fail(c, 502, 2, "reading its output failed");
			return true;
		}
		if (n == 0) {
			struct wasp_request *req = c->req;

			c->out_eof = true;
			if (!c->head_done) {
				creq_fail(c, 502, 2, "the CGI application ended without a complete "
						     "set of headers");
				return true;
			}
			creq_finish(c);
			if (c->redirect) {
				cgi_local_redirect(req, "CGI", c->pid, c->redirect);
				worker_later_resume(c->later, WASP_DONE);
				return true;
			}
			(void)wasp_response_stream_end(req);
			return false;
		}
		c->pend = c->out;
		c->pend_len = c->redirect ? 0 : (size_t)n; /* a local redirect's body is nobody's */
		if (!c->head_done) {
			size_t used;
			int r = fcgi_head_feed(&c->head, c->out, (size_t)n, &used);

			if (r < 0) {
				creq_fail(c, 502, 2, "a response head over the limit");
				return true;
			}
			if (r == 0) {
				c->pend_len = 0;
				continue;
			}
			c->pend += used;
			c->pend_len -= used;
			on_head(c);
			if (c->redirect)
				c->pend_len = 0;
		}
	}
	if (!c->done && c->pend_len)
		(void)flush_pend(c); /* the rest waits for on_writable */
	return true;
}

/* Log stderr with the pid, a line at a time as it comes (at most
 * CGI_STDERR_LOG_MAX bytes per process; the rest is read and dropped).
 * At most CGI_ERR_READS reads at a time: a program that writes without
 * end does not hold the loop. */
static void
read_err(struct creq *c)
{
	for (unsigned i = 0; i < CGI_ERR_READS; i++) {
		ssize_t n = read(c->fd_err, c->err, CGI_ERR_BUF);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			ev_set(c, &c->ev_err, &c->err_set, -1, false, NULL, 0);
			c->fd_err = safe_close(c->fd_err);
			return;
		}
		for (const char *p = c->err, *end = c->err + n; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = (size_t)((nl ? nl : end) - p);

			if (c->err_logged < CGI_STDERR_LOG_MAX && len)
				wasp_log(WASP_LOG_WARNING, "CGI process %d (stderr): %.*s", (int)c->pid,
					 (int)MIN(len, CGI_STDERR_LOG_MAX - c->err_logged), p);
			c->err_logged += len;
			p += len + (nl ? 1 : 0);
		}
	}
}

static void
on_body(struct wasp_request *req, void *userdata)
{
	struct creq *c = userdata;

	c->body_wait = false;
	if (!c->done)
		creq_pump(c);
}

/* The request body into stdin, a piece at a time: the next piece is read
 * from the client only when the pipe took the last one. */
static void
write_in(struct creq *c)
{
	while (!c->done && !c->stdin_done) {
		ssize_t n;

		if (c->body_off == c->body_len) {
			if (c->body_wait)
				return;
			n = wasp_request_read_body(c->req, c->body, CGI_BODY_CHUNK);
			if (n == -EAGAIN) {
				if (wasp_request_wait_body(c->req, on_body, c) == 0)
					c->body_wait = true;
				return;
			}
			if (n < 0) {
				/* a broken or oversized body has its status set
				 * (400, 413, 404.13) */
				unsigned st = wasp_response_status(c->req);

				creq_fail(c, st >= 400 ? st : 500,
					  st >= 400 ? wasp_response_substatus(c->req) : 0,
					  "the request body could not be read");
				return;
			}
			if (n == 0) {
				close_in(c);
				return;
			}
			c->body_off = 0;
			c->body_len = (size_t)n;
		}
		n = write(c->fd_in, c->body + c->body_off, c->body_len - c->body_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* the program closed its stdin without reading it all:
			 * what it answers still counts */
			log_debug("CGI process %d: stdin: %s", (int)c->pid, strerror(errno));
			c->body_off = c->body_len = 0;
			close_in(c);
			return;
		}
		c->body_off += (size_t)n;
	}
}

static void
creq_pump(struct creq *c)
{
	if (!c->done && c->fd_err >= 0)
		read_err(c);
	if (!c->done)
		write_in(c);
	if (!c->done && !read_out(c))
		return;
	if (!c->done)
		io_update(c);
}

/* ---- starting it ---- */

/* ---- configuration (module ABI 3: built once per effective section) ---- */

extern const struct wasp_module mod_cgi;

enum { CGI_SEC_CGI, CGI_SEC_RESTRICTION };

struct cgi_conf {
	uint64_t timeout_usec;
};

static void *
cgi_conf_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct cgi_conf *c = malloc(sizeof(*c));

	if (c)
		c->timeout_usec = wasp_element_get_uint(sec, "timeout", CGI_TIMEOUT_DEFAULT_USEC);
	return c;
}

/* isapiCgiRestriction's entries, in order, and notListedCgisAllowed. */
struct cgi_restriction {
	bool not_listed_allowed;
	size_t n;
	struct {
		char *path;
		bool allowed;
	} items[];
};

static void
cgi_restriction_free(void *p)
{
	struct cgi_restriction *r = p;

	for (size_t i = 0; r && i < r->n; i++)
		free(r->items[i].path);
	free(r);
}

static void *
cgi_restriction_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct cgi_restriction *r =
		calloc(1, sizeof(*r) + sec->n_items * sizeof(r->items[0]));

	if (!r)
		return NULL;
	r->not_listed_allowed = wasp_element_get_bool(sec, "notListedCgisAllowed", false);
	for (; r->n < sec->n_items; r->n++) {
		r->items[r->n].path = strdup(wasp_element_get_str(sec->items[r->n], "path", ""));
		r->items[r->n].allowed = wasp_element_get_bool(sec->items[r->n], "allowed", false);
		if (!r->items[r->n].path) {
			cgi_restriction_free(r);
			return NULL;
		}
	}
	return r;
}

static const struct wasp_module_section cgi_sections[] = {
	[CGI_SEC_CGI] = { "system.webServer/cgi", cgi_conf_build, free },
	[CGI_SEC_RESTRICTION] = { "system.webServer/security/isapiCgiRestriction",
				  cgi_restriction_build, cgi_restriction_free },
};

/* isapiCgiRestriction: is the program (a file's path, or a whole
 * scriptProcessor string) allowed? Paths compare exactly (Linux's are
 * case-sensitive). No configuration (or no memory to read it): not
 * allowed. */
static bool
cgi_allowed(struct wasp_request *req, const char *program)
{
	const struct cgi_restriction *r =
		wasp_request_module_conf(req, &mod_cgi, CGI_SEC_RESTRICTION);

	for (size_t i = 0; r && i < r->n; i++)
		if (streq(r->items[i].path, program))
			return r->items[i].allowed;
	return r && r->not_listed_allowed;
}

static char **
build_argv(struct wasp_request *req, const char *script_processor, const char *script)
{
	char **argv = wasp_request_alloc(req, (CGI_MAX_ARGS + 1) * sizeof(char *));
	char *copy = wasp_arena_strndup(req->arena, script_processor, strlen(script_processor));
	char *file = wasp_arena_strndup(req->arena, script, strlen(script));

	if (!argv || !copy || !file)
		return NULL;
	(void)cgi_script_argv(copy, file, argv, CGI_MAX_ARGS);
	return argv;
}

struct ebuf {
	struct wasp_request *req;
	char **envp;
	size_t n, cap;
};

static int
env_add(void *userdata, const char *name, const char *value)
{
	struct ebuf *e = userdata;
	char *s;

	if (e->n + 1 >= e->cap) {
		size_t cap = MAX(e->cap * 2, (size_t)64);
		char **p = wasp_request_alloc(e->req, cap * sizeof(char *));

		if (!p)
			return -ENOMEM;
		if (e->n)
			memcpy(p, e->envp, e->n * sizeof(char *));
		e->envp = p;
		e->cap = cap;
	}
	s = wasp_arena_printf(e->req->arena, "%s=%s", name, value);
	if (!s)
		return -ENOMEM;
	e->envp[e->n++] = s;
	e->envp[e->n] = NULL;
	return 0;
}

/* The meta-variables, then the worker's environment where they do not
 * name a variable. */
static char **
build_envp(struct wasp_request *req)
{
	struct ebuf e = { .req = req };
	size_t n_vars;

	if (cgi_vars(req, env_add, &e) < 0)
		return NULL;
	n_vars = e.n;
	for (char **v = environ; *v; v++) {
		size_t len = strcspn(*v, "=");
		bool set = false;

		for (size_t k = 0; k < n_vars && !set; k++)
			set = strncmp(e.envp[k], *v, len + 1) == 0;
		if (!set && env_add(&e, "", "") == 0)
			e.envp[e.n - 1] = *v;
	}
	return e.envp;
}

static int
pipe_nb(int fds[2], int ours)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(fds[ours], F_SETFL, O_NONBLOCK) < 0) {
		int r = -errno;
		safe_close(fds[0]);
		safe_close(fds[1]);
		return r;
	}
	return 0;
}

static int
creq_start(struct creq *c, char **argv, char **envp, const char *dir, uint64_t timeout)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	pid_t pid;
	int r;

	if ((r = pipe_nb(in, 1)) < 0 || (r = pipe_nb(out, 0)) < 0 || (r = pipe_nb(err, 0)) < 0)
		goto fail;
	r = worker_child_spawn((const int[3]){ in[0], out[1], err[1] },
			       &(const struct worker_child_opts){ .cwd = dir, .new_group = true },
			       argv, envp, &pid, NULL);
	in[0] = safe_close(in[0]);
	out[1] = safe_close(out[1]);
	err[1] = safe_close(err[1]);
	if (r < 0)
		goto fail;
	r = proc_new(base_of(c), pid, argv[0], timeout, &c->proc);
	if (r < 0)
		goto fail;
	c->proc->creq = c;
	c->pid = pid;
	c->fd_in = in[1];
	c->fd_out = out[0];
	c->fd_err = err[0];
	log_debug("CGI process %d runs '%s' for %s %s", (int)pid, argv[0],
		  wasp_request_method(c->req), wasp_request_path(c->req));
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		safe_close(in[i]);
		safe_close(out[i]);
		safe_close(err[i]);
	}
	return r;
}

static enum wasp_status
cgi_execute(struct wasp_request *req, void *userdata)
{
	const struct cgi_conf *conf = wasp_request_module_conf(req, &mod_cgi, CGI_SEC_CGI);
	uint64_t timeout = conf ? conf->timeout_usec : CGI_TIMEOUT_DEFAULT_USEC;
	const char *processor, *script, *program, *slash;
	char **argv, **envp, *dir;
	struct creq *c;
	struct stat st;
	int r;

	if (!wasp_request_handler_name(req))
		return WASP_DECLINED; /* no <handlers> (a worker without configuration) */
	if (!(processor = cgi_handler(req)))
		return cgi_early_error(req, "CGI", 500, 0,
				       "the handler for CgiModule is not in <handlers>");
	script = req->path_info_allowed && req->script_len > 0 ? req->script_file
							       : wasp_request_physical_path(req);
	if (!script || stat(script, &st) < 0 || !S_ISREG(st.st_mode))
		return cgi_early_error(req, "CGI", 404, 0, "the CGI script is not a file");
	program = *processor ? processor : script;
	if (!cgi_allowed(req, program))
		return cgi_early_error(req, "CGI", 404, 2,
				       wasp_arena_printf(req->arena,
							 "the CGI program '%s' is not allowed by "
							 "system.webServer/security/"
							 "isapiCgiRestriction",
							 program));
	if (wasp_request_body_length(req) < 0)
		/* RFC 3875 4.1.2: a body's CONTENT_LENGTH is passed */
		return cgi_early_error(req, "CGI", 411, 0,
				       "a CGI request body needs a Content-Length");
	if (n_procs >= CGI_MAX_PROCS)
		return cgi_early_error(req, "CGI", 503, 2, "too many CGI processes at once");
	c = wasp_request_alloc(req, sizeof(*c));
	if (!c)
		return WASP_ERROR;
	*c = (struct creq){ .req = req, .fd_in = -1, .fd_out = -1, .fd_err = -1 };
	argv = build_argv(req, processor, script);
	envp = build_envp(req);
	slash = strrchr(script, '/');
	dir = slash ? wasp_arena_strndup(req->arena, script, MAX((size_t)(slash - script), 1u))
		    : NULL;
	c->out = wasp_request_alloc(req, CGI_IN_BUF);
	c->body = wasp_request_alloc(req, CGI_BODY_CHUNK);
	c->err = wasp_request_alloc(req, CGI_ERR_BUF);
	c->head.buf = wasp_request_alloc(req, CGI_HEAD_MAX);
	c->later = worker_later_new(req); /* before creq_cleanup: ended after it */
	if (!argv || !envp || !dir || !c->out || !c->body || !c->err || !c->head.buf ||
	    !c->later || wasp_request_on_cleanup(req, creq_cleanup, c) < 0)
		return WASP_ERROR;
	fcgi_head_init(&c->head, c->head.buf, CGI_HEAD_MAX);
	r = creq_start(c, argv, envp, dir, timeout);
	if (r < 0) {
		c->done = true;
		return cgi_early_error(req, "CGI", 500, 0,
				       wasp_arena_printf(req->arena,
							 "the CGI program '%s' could not be "
							 "started: %s",
							 argv[0], strerror(-r)));
	}
	if (wasp_request_body_length(req) == 0)
		close_in(c);
	/* the body starts now; the output is read from the loop (the
	 * response never completes inside its own handler) */
	write_in(c);
	if (!c->done)
		io_update(c);
	return WASP_AGAIN;
}

static int
cgi_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_MEDIUM,
			      cgi_execute, NULL);
}

/* The worker goes: its processes with it (PR_SET_PDEATHSIG would too). */
static void
cgi_exit_process(struct wasp_server *srv)
{
	while (procs) {
		(void)kill(-procs->pid, SIGKILL);
		proc_free(procs);
	}
}

const struct wasp_module mod_cgi = {
	.abi = WASP_MODULE_ABI,
	.name = "CgiModule",
	.sections = cgi_sections,
	.n_sections = ELEMENTSOF(cgi_sections),
	.register_hooks = cgi_register_hooks,
	.exit_process = cgi_exit_process,
};
