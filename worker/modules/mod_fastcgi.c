/* FastCgiModule: IIS's FastCGI handler. A <handlers> entry naming it
 * (modules="FastCgiModule") picks its application with scriptProcessor,
 * "fullPath|arguments", among applicationHost.config's
 * system.webServer/fastCgi <application>s; the processes are the worker's
 * own (worker/fastcgi/procs.c). One request:
 *
 *   FCGI_BEGIN_REQUEST (Responder, FCGI_KEEP_CONN), FCGI_PARAMS (the table
 *   in docs/fastcgi.md), FCGI_STDIN as the body arrives (read only when the
 *   application took what went before: its socket's backpressure reaches
 *   the client), then FCGI_STDOUT is read: the CGI head (Status, Location,
 *   other fields) becomes the response head, the rest is streamed to the
 *   client (wasp_response_stream; the application is read only while the
 *   client takes the bytes), until FCGI_END_REQUEST.
 *
 * Failures before the head went out answer IIS's pages: 500 (no such
 * application, a process that cannot start or exits, a malformed record or
 * head, a head over FCGI_HEAD_MAX, requestTimeout, activityTimeout, output
 * on stderr per stderrMode), 503.4 (the queue is full). After the head,
 * the connection is cut instead. The process is ended whenever its
 * connection cannot be trusted for the next request. Every such event is
 * logged with the process id. */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "cgi/cgi.h"
#include "config.h"
#include "fastcgi/procs.h"
#include "fastcgi/record.h"
#include "later.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define FCGI_HEAD_MAX 65536 /* the CGI head an application sends */
#define FCGI_IN_BUF 65536   /* read from the application at once */
#define FCGI_STDIN_CHUNK 32768 /* body bytes per FCGI_STDIN record */
#define FCGI_STDERR_MAX 16384 /* stderr text kept for ReturnStdErrIn500 */
#define FCGI_REQ_ID 1

struct freq {
	struct wasp_request *req;
	struct fcgi_app *app;
	struct fcgi_inst *inst;
	struct fcgi_waiter waiter;
	pid_t pid;
	int fd;
	struct event io, timer;
	bool io_set, timer_set;
	struct worker_later *later; /* resuming the request from the loop */
	short io_flags;
	/* to the application */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	bool stdin_done, body_wait, write_failed;
	bool answered, body_taken, retried; /* for the one retry (freq_retry) */
	const char *redirect; /* a CGI local redirect's URL (head_apply) */
	/* from it */
	struct fcgi_parser parser;
	struct fcgi_head head;
	bool head_done, streaming, ended, paused, done;
	uint8_t *in;
	size_t in_off, in_len;
	const uint8_t *pend; /* STDOUT bytes the stream did not take yet */
	size_t pend_len;
	char *err_text;
	size_t err_len;
	uint64_t deadline_req, last_activity;
};

static void freq_pump(struct freq *f);
static void on_writable(struct wasp_request *req, void *userdata);

static const struct fcgi_conf *
conf(const struct freq *f)
{
	return fcgi_app_conf(f->app);
}

/* ---- FCGI_PARAMS ---- */

struct pbuf {
	struct wasp_request *req;
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void
param(struct pbuf *b, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(strempty(value)), need = fcgi_nv_size(nl, vl);

	if (b->oom)
		return;
	if (b->len + need > b->cap) {
		size_t cap = MAX(b->cap * 2, b->len + need + 1024);
		uint8_t *p = wasp_request_alloc(b->req, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		if (b->len)
			memcpy(p, b->p, b->len);
		b->p = p;
		b->cap = cap;
	}
	b->len += fcgi_nv_encode(b->p + b->len, name, nl, strempty(value), vl);
}

static int
param_add(void *userdata, const char *name, const char *value)
{
	param(userdata, name, value);
	return 0;
}

/* The FCGI_PARAMS stream of req: the CGI meta-variables (worker/cgi/vars.c,
 * the table in docs/fastcgi.md). */
static int
params_build(struct freq *f, struct pbuf *b)
{
	*b = (struct pbuf){ .req = f->req };
	if (cgi_vars(f->req, param_add, b) < 0)
		return -ENOMEM;
	return b->oom ? -ENOMEM : 0;
}

/* BEGIN_REQUEST, the PARAMS records, the empty PARAMS: into f->out. */
static int
out_request(struct freq *f, const struct pbuf *b)
{
	size_t n_rec = b->len / FCGI_MAX_CONTENT + 1;
	size_t cap = FCGI_BEGIN_REQUEST_LEN + b->len + (n_rec + 2) * FCGI_HEADER_LEN;
	uint8_t *o;

	cap = MAX(cap, FCGI_HEADER_LEN + FCGI_STDIN_CHUNK);
	o = f->out = wasp_request_alloc(f->req, cap);
	if (!o)
		return -ENOMEM;
	f->out_cap = cap;
	fcgi_begin_request(o, FCGI_REQ_ID, true);
	o += FCGI_BEGIN_REQUEST_LEN;
	for (size_t off = 0; off < b->len;) {
		size_t n = MIN(b->len - off, (size_t)FCGI_MAX_CONTENT);
		fcgi_header(o, FCGI_PARAMS, FCGI_REQ_ID, (uint16_t)n, 0);
		memcpy(o + FCGI_HEADER_LEN, b->p + off, n);
		o += FCGI_HEADER_LEN + n;
		off += n;
	}
	fcgi_header(o, FCGI_PARAMS, FCGI_REQ_ID, 0, 0);
	o += FCGI_HEADER_LEN;
	if (wasp_request_body_length(f->req) == 0) { /* no body: FCGI_STDIN ends at once */
		fcgi_header(o, FCGI_STDIN, FCGI_REQ_ID, 0, 0);
		o += FCGI_HEADER_LEN;
		f->stdin_done = true;
	}
	f->out_off = 0;
	f->out_len = (size_t)(o - f->out);
	return 0;
}

/* ---- events ---- */

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

static void
io_update(struct freq *f)
{
	short want = 0;

	if (f->fd < 0 || f->done)
		return;
	if (!f->paused && !f->ended && !f->pend_len)
		want |= EV_READ;
	if (f->out_len > f->out_off)
		want |= EV_WRITE;
	if (f->io_set && want == f->io_flags)
		return;
	if (f->io_set)
		(void)event_del(&f->io);
	f->io_set = false;
	f->io_flags = want;
	if (!want)
		return;
	event_assign(&f->io, wasp_server_event_base(wasp_request_server(f->req)), f->fd,
		     (short)(want | EV_PERSIST), on_io, f);
	if (event_add(&f->io, NULL) == 0)
		f->io_set = true;
}

static void
timer_arm(struct freq *f)
{
	uint64_t now = wasp_now_usec(), at = f->deadline_req, d;

	if (f->done)
		return;
	if (f->inst && !f->paused && f->last_activity + conf(f)->activity_usec < at)
		at = f->last_activity + conf(f)->activity_usec;
	d = at > now ? at - now : 0;
	if (!f->timer_set) {
		evtimer_assign(&f->timer, wasp_server_event_base(wasp_request_server(f->req)),
			       on_timer, f);
		f->timer_set = true;
	}
	struct timeval tv = wasp_timeval_from_usec(d);
	(void)evtimer_add(&f->timer, &tv);
}

/* Let go of the process (reusable: its connection is clean for the next
 * request). */
static void
freq_detach(struct freq *f, bool reusable)
{
	if (f->io_set)
		(void)event_del(&f->io);
	f->io_set = false;
	if (f->inst)
		fcgi_inst_release(f->inst, reusable);
	f->inst = NULL;
	f->fd = -1;
}

/* The request is over for the application. */
static void
freq_finish(struct freq *f, bool reusable)
{
	if (f->done)
		return;
	f->done = true;
	if (f->timer_set)
		(void)event_del(&f->timer);
	fcgi_waiter_cancel(&f->waiter);
	freq_detach(f, reusable);
}

/* Nobody wants the answer any more (the client went away, a module
 * replaced the body). When the whole request reached the application, the
 * process drains the rest of its answer and stays (fcgi_inst_drain);
 * otherwise it is ended. */
static void
freq_abandon(struct freq *f)
{
	struct fcgi_inst *inst = f->inst;

	if (f->done)
		return;
	if (!inst || f->ended || !f->stdin_done || f->write_failed || f->out_off < f->out_len) {
		freq_finish(f, f->ended && f->stdin_done && !f->write_failed);
		return;
	}
	f->inst = NULL; /* the process is the drain's now */
	freq_finish(f, false);
	fcgi_inst_drain(inst, &f->parser, f->in + f->in_off, f->in_len - f->in_off,
			f->deadline_req);
}

static void
freq_cleanup(void *p)
{
	struct freq *f = p;

	freq_abandon(f); /* the request ended before the application did */
}

/* Answer with an error status before the head is out, or cut the
 * connection after. */
static void
freq_fail(struct freq *f, unsigned status, unsigned substatus, const char *why)
{
	struct wasp_request *req = f->req;

	if (f->pid)
		wasp_log(WASP_LOG_ERR, "FastCGI process %d of '%s': %s (%s %s)", (int)f->pid,
			 conf(f)->full_path, why, wasp_request_method(req), wasp_request_path(req));
	else
		wasp_log(WASP_LOG_ERR, "FastCGI '%s': %s (%s %s)",
			 f->app ? conf(f)->full_path : "?", why, wasp_request_method(req),
			 wasp_request_path(req));
	freq_finish(f, false);
	if (cgi_fail_response(req, status, substatus, why))
		worker_later_resume(f->later, WASP_DONE);
}

/* ---- the response head ---- */

static int
head_apply(struct freq *f)
{
	int64_t length;
	int r = cgi_head_apply(f->req, &f->head, &length, &f->redirect);

	if (r < 0)
		return r;
	if (f->redirect)
		return 0; /* served once the application's answer ended */
	return wasp_response_stream(f->req, length, on_writable, f) < 0 ? -ENOMEM : 0;
}

/* ---- reading the application ---- */

static void on_ready(struct fcgi_waiter *w, struct fcgi_inst *inst);

/* The process closed its connection before answering anything and before
 * the request's body was touched (a php-cgi that ended itself after its
 * PHP_FCGI_MAX_REQUESTS, a process that died idle): the request goes to
 * another process, once. true when it did (or was answered). */
static bool
freq_retry(struct freq *f)
{
	int r;

	if (f->answered || f->body_taken || f->retried)
		return false;
	f->retried = true;
	wasp_log(WASP_LOG_DEBUG, "FastCGI process %d closed before answering, trying another",
		 (int)f->pid);
	freq_detach(f, false);
	f->stdin_done = f->write_failed = false;
	f->out_off = f->out_len = 0;
	f->pid = 0;
	r = fcgi_app_acquire(f->app, &f->waiter);
	if (r == 1)
		timer_arm(f);
	else if (r < 0)
		freq_fail(f, r == -EBUSY ? 503 : 500, r == -EBUSY ? 4 : 0,
			  r == -EBUSY ? "the FastCGI queue is full (queueLength)"
				      : "the FastCGI process could not be started");
	return true;
}

/* Give pending STDOUT bytes to the stream. true when all went. */
static bool
flush_pend(struct freq *f)
{
	int r = cgi_stream_give(f->req, &f->pend, &f->pend_len);

	if (r == -EAGAIN)
		f->paused = true; /* the client is slower: stop reading */
	else if (r == -EMSGSIZE)
		freq_fail(f, 500, 0, "more output than its Content-Length");
	else if (r < 0) { /* the client went away, or a module replaced the body */
		wasp_log(WASP_LOG_DEBUG, "FastCGI process %d: the response is not wanted "
			 "any more", (int)f->pid);
		freq_abandon(f);
	}
	return r == 0;
}

static void
on_writable(struct wasp_request *req, void *userdata)
{
	struct freq *f = userdata;

	if (f->done)
		return;
	f->paused = false;
	f->last_activity = wasp_now_usec();
	freq_pump(f);
}

static void
stderr_take(struct freq *f, const uint8_t *data, size_t len)
{
	enum fcgi_stderr_mode mode = conf(f)->stderr_mode;

	wasp_log(WASP_LOG_WARNING, "FastCGI process %d of '%s' (stderr): %.*s", (int)f->pid,
		 conf(f)->full_path, (int)MIN(len, (size_t)1024), (const char *)data);
	if (mode == FCGI_STDERR_IGNORE)
		return;
	if (mode == FCGI_STDERR_500 && f->err_len < FCGI_STDERR_MAX) {
		size_t n = MIN(len, FCGI_STDERR_MAX - f->err_len);

		if (!f->err_text)
			f->err_text = wasp_request_alloc(f->req, FCGI_STDERR_MAX + 1);
		if (f->err_text) {
			memcpy(f->err_text + f->err_len, data, n);
			f->err_len += n;
			f->err_text[f->err_len] = '\0';
		}
	} else if (!f->err_text)
		f->err_text = (char *)"";
	if (mode == FCGI_STDERR_TERMINATE)
		freq_fail(f, 500, 0, "output on stderr (stderrMode TerminateProcess)");
}

/* One parsed event. false when the request is over for us. */
static bool
on_event(struct freq *f, const struct fcgi_event *ev)
{
	size_t used;
	int r;

	switch (ev->type) {
	case FCGI_EV_NONE:
		return true;
	case FCGI_EV_STDERR:
		stderr_take(f, ev->data, ev->len);
		return !f->done;
	case FCGI_EV_STDOUT:
		if (f->err_text && conf(f)->stderr_mode != FCGI_STDERR_IGNORE)
			return true; /* answered with a 500 at the end */
		if (!f->head_done) {
			r = fcgi_head_feed(&f->head, ev->data, ev->len, &used);
			if (r == 0)
				return true;
			if (r < 0) {
				freq_fail(f, 500, 0, "a response head over the limit");
				return false;
			}
			f->head_done = true;
			r = head_apply(f);
			if (r < 0) {
				freq_fail(f, 500, 0,
					  r == -ENOMEM ? "out of memory" : "a malformed response head");
				return false;
			}
			if (!f->redirect) {
				f->pend = ev->data + used;
				f->pend_len = ev->len - used;
			}
			return true;
		}
		if (!f->redirect) { /* a local redirect's body is nobody's */
			f->pend = ev->data;
			f->pend_len = ev->len;
		}
		return true;
	case FCGI_EV_END:
		f->ended = true;
		return true;
	}
	return true;
}

/* The application said FCGI_END_REQUEST and everything it wrote is given on. */
static void
on_end(struct freq *f)
{
	struct wasp_request *req = f->req;
	bool clean = f->stdin_done;

	if (f->err_text && conf(f)->stderr_mode != FCGI_STDERR_IGNORE) {
		if (f->streaming) {
			freq_fail(f, 500, 0, "output on stderr");
			return;
		}
		freq_finish(f, clean);
		wasp_response_clear_body(req);
		req->n_headers = 0;
		wasp_response_set_status(req, 500, 0);
		if (conf(f)->stderr_mode == FCGI_STDERR_500 && f->err_len) {
			(void)wasp_response_set_header(req, "Content-Type", "text/plain; charset=utf-8");
			(void)wasp_response_write(req, f->err_text, f->err_len);
		}
		worker_later_resume(f->later, WASP_DONE);
		return;
	}
	if (!f->head_done) {
		freq_fail(f, 500, 0, "the response ended before its head");
		return;
	}
	freq_finish(f, clean);
	if (f->redirect) {
		/* MapRequestHandler again, for the new URL, when resumed */
		cgi_local_redirect(req, "FastCGI", f->pid, f->redirect);
		worker_later_resume(f->later, WASP_DONE);
		return;
	}
	if (f->streaming)
		(void)wasp_response_stream_end(req);
}

static void
start_stream(struct freq *f)
{
	f->streaming = true;
	worker_later_resume(f->later, WASP_DONE);
}

/* Read and relay what the application sent, as far as the client takes it. */
static void
read_app(struct freq *f)
{
	for (;;) {
		struct fcgi_event ev;
		ssize_t n;

		if (f->pend_len && (!f->head_done || !flush_pend(f)))
			return;
		if (f->done)
			return;
		while (f->in_off < f->in_len) {
			n = fcgi_parse(&f->parser, f->in + f->in_off, f->in_len - f->in_off, &ev);
			if (n < 0) {
				freq_fail(f, 500, 0, f->parser.err);
				return;
			}
			f->in_off += (size_t)n;
			if (!on_event(f, &ev))
				return;
			if (f->head_done && !f->streaming && !f->err_text && !f->redirect) {
				start_stream(f);
			}
			if (f->pend_len && !flush_pend(f))
				return;
			if (f->ended) {
				if (f->in_off < f->in_len) {
					freq_fail(f, 500, 0, "data after FCGI_END_REQUEST");
					return;
				}
				on_end(f);
				return;
			}
		}
		if (f->paused)
			return;
		f->in_off = f->in_len = 0;
		n = read(f->fd, f->in, FCGI_IN_BUF);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			wasp_log(WASP_LOG_DEBUG, "FastCGI process %d: read: %s", (int)f->pid, strerror(errno));
			if (freq_retry(f))
				return;
			freq_fail(f, 500, 0, "the connection to the process failed");
			return;
		}
		if (n == 0) {
			if (freq_retry(f))
				return;
			freq_fail(f, 500, 0,
				  f->head_done ? "the process closed the connection mid-response"
					       : "the process exited or closed the connection");
			return;
		}
		f->answered = true;
		f->in_len = (size_t)n;
		f->last_activity = wasp_now_usec();
	}
}

/* ---- writing the request ---- */

static void
on_body(struct wasp_request *req, void *userdata)
{
	struct freq *f = userdata;

	f->body_wait = false;
	if (!f->done)
		freq_pump(f);
}

/* The next FCGI_STDIN record into f->out, when the body has bytes. */
static void
next_stdin(struct freq *f)
{
	struct wasp_request *req = f->req;
	ssize_t n;

	if (f->stdin_done || f->body_wait || f->write_failed || f->out_len > f->out_off)
		return;
	n = wasp_request_read_body(req, f->out + FCGI_HEADER_LEN,
				   MIN(f->out_cap - FCGI_HEADER_LEN, (size_t)FCGI_STDIN_CHUNK));
	if (n == -EAGAIN) {
		if (wasp_request_wait_body(req, on_body, f) == 0)
			f->body_wait = true;
		return;
	}
	if (n < 0) {
		/* a broken or oversized body has its status set (400, 413,
		 * 404.13); a client that went away is answered nothing */
		unsigned st = wasp_response_status(req);
		freq_fail(f, st >= 400 ? st : 500, st >= 400 ? wasp_response_substatus(req) : 0,
			  "the request body could not be read");
		return;
	}
	if (n > 0)
		f->body_taken = true;
	fcgi_header(f->out, FCGI_STDIN, FCGI_REQ_ID, (uint16_t)n, 0);
	f->out_off = 0;
	f->out_len = FCGI_HEADER_LEN + (size_t)n;
	if (n == 0)
		f->stdin_done = true;
}

static void
write_app(struct freq *f)
{
	for (;;) {
		ssize_t n;

		next_stdin(f);
		if (f->done || f->write_failed || f->out_off >= f->out_len)
			return;
		n = write(f->fd, f->out + f->out_off, f->out_len - f->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* the application may close without reading the whole
			 * body (php-cgi after its last request): what it
			 * answered still counts, read on */
			wasp_log(WASP_LOG_DEBUG, "FastCGI process %d: write: %s", (int)f->pid,
				 strerror(errno));
			f->write_failed = true;
			f->out_off = f->out_len = 0;
			return;
		}
		f->out_off += (size_t)n;
		f->last_activity = wasp_now_usec();
		if (f->out_off == f->out_len)
			f->out_off = f->out_len = 0;
	}
}

static void
freq_pump(struct freq *f)
{
	if (!f->done)
		write_app(f);
	if (!f->done)
		read_app(f);
	if (!f->done) {
		io_update(f);
		timer_arm(f);
	}
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	freq_pump(arg);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct freq *f = arg;
	uint64_t now = wasp_now_usec();

	if (f->done)
		return;
	if (now >= f->deadline_req) {
		if (f->inst)
			freq_fail(f, 500, 0, "the request exceeded requestTimeout");
		else
			freq_fail(f, 500, 0, "no process was free within requestTimeout");
		return;
	}
	if (f->inst && !f->paused && now >= f->last_activity + conf(f)->activity_usec) {
		freq_fail(f, 500, 0, "no activity within activityTimeout");
		return;
	}
	timer_arm(f);
}

/* A process is ours: send the request. */
static void
on_ready(struct fcgi_waiter *w, struct fcgi_inst *inst)
{
	struct freq *f = (struct freq *)((char *)w - offsetof(struct freq, waiter));
	struct pbuf b;

	f->inst = inst;
	f->fd = fcgi_inst_fd(inst);
	f->pid = fcgi_inst_pid(inst);
	f->last_activity = wasp_now_usec();
	wasp_log(WASP_LOG_DEBUG, "FastCGI process %d takes %s %s", (int)f->pid,
		 wasp_request_method(f->req), wasp_request_path(f->req));
	fcgi_parser_init(&f->parser, FCGI_REQ_ID);
	if (params_build(f, &b) < 0 || out_request(f, &b) < 0) {
		freq_fail(f, 500, 0, "out of memory");
		return;
	}
	/* from the loop: the queue hands processes out from a callback, the
	 * first request directly from the handler */
	io_update(f);
	timer_arm(f);
}

/* ---- the handler ---- */

static enum wasp_status
fastcgi_execute(struct wasp_request *req, void *userdata)
{
	struct wasp_server *srv = wasp_request_server(req);
	const char *processor;
	struct freq *f;
	struct fcgi_app *app;
	int r;

	if (!wasp_request_handler_name(req))
		return WASP_DECLINED; /* no <handlers> (a worker without configuration) */
	processor = cgi_handler(req);
	if (!processor || !*processor)
		return cgi_early_error(req, "FastCGI", 500, 0,
				       "the handler has no scriptProcessor for FastCgiModule");
	app = fcgi_app_get(wasp_server_event_base(srv),
			   wasp_server_config(srv, "system.webServer/fastCgi"),
			   processor, &r);
	if (!app)
		return cgi_early_error(
			req, "FastCGI", 500, 0,
			r == -ENOENT
				? wasp_arena_printf(req->arena,
						    "the FastCGI application '%s' of handler '%s' is "
						    "not in system.webServer/fastCgi",
						    processor,
						    strempty(wasp_request_handler_name(req)))
				: "out of memory");
	f = wasp_request_alloc(req, sizeof(*f));
	if (!f)
		return WASP_ERROR;
	*f = (struct freq){ .req = req, .app = app, .fd = -1 };
	f->in = wasp_request_alloc(req, FCGI_IN_BUF);
	f->head.buf = wasp_request_alloc(req, FCGI_HEAD_MAX);
	f->later = worker_later_new(req); /* before freq_cleanup: ended after it */
	if (!f->in || !f->head.buf || !f->later ||
	    wasp_request_on_cleanup(req, freq_cleanup, f) < 0)
		return WASP_ERROR;
	fcgi_head_init(&f->head, f->head.buf, FCGI_HEAD_MAX);
	f->deadline_req = wasp_now_usec() + conf(f)->request_usec;
	f->waiter.ready = on_ready;
	r = fcgi_app_acquire(app, &f->waiter);
	if (r == -EBUSY) {
		f->done = true;
		return cgi_early_error(req, "FastCGI", 503, 4,
				       "the FastCGI queue is full (queueLength)");
	}
	if (r == -EAGAIN) {
		f->done = true;
		return cgi_early_error(req, "FastCGI", 500, 0,
				       "the FastCGI process has failed frequently recently "
				       "(rapidFailsPerMinute); try the request again in a while");
	}
	if (r < 0) {
		f->done = true;
		return cgi_early_error(req, "FastCGI", 500, 0,
				       "the FastCGI process could not be started");
	}
	if (r == 1)
		timer_arm(f); /* queued: requestTimeout bounds the wait */
	return WASP_AGAIN;
}

static int
fastcgi_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_MEDIUM,
			      fastcgi_execute, NULL);
}

static void
fastcgi_exit_process(struct wasp_server *srv)
{
	fcgi_apps_free();
}

const struct wasp_module mod_fastcgi = {
	.abi = WASP_MODULE_ABI,
	.name = "FastCgiModule",
	.register_hooks = fastcgi_register_hooks,
	.exit_process = fastcgi_exit_process,
};
