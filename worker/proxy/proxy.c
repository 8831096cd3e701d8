/* The proxy engine (proxy.h). One forwarded request:
 *
 *   a connection: an idle pooled one (reused) or a new one to
 *   127.0.0.1:port; the request head (built once, kept for the one retry);
 *   the body as the client sends it, only when the backend took what went
 *   before (so the backend's pace reaches the client); meanwhile the
 *   response: its head (PROXY_HEAD_MAX, 1xx heads skipped), then its body
 *   (Content-Length, chunked, or to the end of the connection) given to the
 *   client's stream, read only when the stream took the previous bytes.
 *
 * Before the response head: failures answer 502.3 (IIS's "Bad Gateway:
 * forwarder connection error"). After it: the client's connection is cut,
 * never a complete-looking response. A connection goes back to the pool
 * only when both messages ended on their framing and the backend did not
 * say Connection: close. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "later.h"
#include "log.h"
#include "proxy.h"
#include "tunnel.h"
#include "util.h"
#include "worker.h"

#define PROXY_IN_BUF 65536
#define PROXY_BODY_CHUNK 32768
#define PROXY_CHUNK_LINE_MAX 1024 /* a chunk-size line with its extensions */
#define PROXY_TRAILER_MAX 16384

/* A connection to a backend: one edge-triggered event for its whole life
 * (no epoll_ctl per request); busy, it drives its request; idle, anything
 * readable means the backend closed it (or sent garbage). */
struct pconn {
	struct pconn *next, *prev;
	struct proxy_pool *pool;
	struct preq *owner; /* NULL while idle */
	struct event ev;
	uint16_t port;
	int fd;
};

struct proxy_pool {
	struct event_base *base;
	struct pconn *idle;
	unsigned n_idle, n_busy;
	uint16_t port;
	bool dead;
};

enum framing { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

struct preq {
	struct wasp_request *req;
	struct proxy_pool *pool;
	struct pconn *c;
	uint64_t timeout_usec, last_activity;
	struct event timer;
	bool timer_set;
	struct worker_later *later;
	/* to the backend */
	char *head;
	size_t head_len;
	uint8_t *body;
	const uint8_t *out;
	size_t out_off, out_len;
	bool reused, head_out, body_done, body_wait, body_taken, chunked_in, write_failed;
	/* from it */
	uint8_t *in;
	size_t in_off, in_len;
	char *rhead;
	size_t rhead_len;
	bool answered, head_done, streaming, paused, done, retried, close_after, is_head;
	const char *upgrade; /* the client's Upgrade value, when it goes on */
	bool switched;       /* the backend answered 101 */
	enum framing framing;
	uint64_t left;
	enum chunk_state ch;
	char line[PROXY_CHUNK_LINE_MAX];
	size_t line_len, trailer_len;
	const uint8_t *pend;
	size_t pend_len;
};

/* ---- the pool ---- */

struct proxy_pool *
proxy_pool_new(struct event_base *base)
{
	struct proxy_pool *p = calloc(1, sizeof(*p));

	if (p)
		p->base = base;
	return p;
}

static void
pconn_close(struct pconn *c)
{
	(void)event_del(&c->ev);
	safe_close(c->fd);
	free(c);
}

static void
idle_remove(struct pconn *c)
{
	struct proxy_pool *p = c->pool;

	if (c->prev)
		c->prev->next = c->next;
	else
		p->idle = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	p->n_idle--;
}

static void
pool_maybe_free(struct proxy_pool *p)
{
	if (p->dead && p->n_busy == 0 && p->n_idle == 0)
		free(p);
}

static void
flush_idle(struct proxy_pool *p)
{
	while (p->idle) {
		struct pconn *c = p->idle;

		idle_remove(c);
		pconn_close(c);
	}
}

void
proxy_pool_set_port(struct proxy_pool *p, uint16_t port)
{
	if (p->port != port)
		flush_idle(p);
	p->port = port;
}

uint16_t
proxy_pool_port(const struct proxy_pool *p)
{
	return p->port;
}

void
proxy_pool_free(struct proxy_pool *p)
{
	if (!p)
		return;
	flush_idle(p);
	p->dead = true;
	pool_maybe_free(p);
}

static void preq_pump(struct preq *q);

static void
on_pconn_event(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;
	struct proxy_pool *p = c->pool;
	char b;

	if (c->owner) {
		preq_pump(c->owner);
		return;
	}
	/* idle: nothing to say but its end */
	if (!(what & EV_READ) || (recv(c->fd, &b, 1, MSG_PEEK) < 0 && errno == EAGAIN))
		return;
	idle_remove(c);
	pconn_close(c);
	pool_maybe_free(p);
}

/* q drives c from the loop (the first call comes from there too: an edge
 * may have passed while c was idle). */
static void
pconn_own(struct pconn *c, struct preq *q)
{
	c->owner = q;
	event_active(&c->ev, EV_WRITE, 0);
}

/* The request is done with c: back to the pool when reusable. */
static void
pconn_release(struct pconn *c, bool reusable)
{
	struct proxy_pool *p = c->pool;

	p->n_busy--;
	c->owner = NULL;
	if (!reusable || p->dead || c->port != p->port || p->n_idle >= PROXY_IDLE_MAX) {
		pconn_close(c);
		pool_maybe_free(p);
		return;
	}
	c->next = p->idle;
	if (p->idle)
		p->idle->prev = c;
	p->idle = c;
	p->n_idle++;
}

/* A connection for a request: the newest idle one, or a new one (its
 * connect may still be in progress: the first write waits for it). */
static int
pconn_get(struct proxy_pool *p, bool fresh, struct pconn **ret, bool *ret_reused)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct pconn *c;
	int one = 1;

	if (!fresh && p->idle) {
		c = p->idle;
		idle_remove(c);
		p->n_busy++;
		*ret = c;
		*ret_reused = true;
		return 0;
	}
	if (p->port == 0)
		return -ECONNREFUSED;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pool = p;
	c->port = p->port;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_assign(&c->ev, p->base, c->fd, EV_READ | EV_WRITE | EV_PERSIST | EV_ET,
		     on_pconn_event, c);
	if ((connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) ||
	    event_add(&c->ev, NULL) < 0) {
		int r = errno ? -errno : -ENOMEM;
		pconn_close(c);
		return r;
	}
	p->n_busy++;
	*ret = c;
	*ret_reused = false;
	return 0;
}

/* ---- the request head ---- */

struct hbuf {
	struct wasp_request *req;
	char *p;
	size_t len, cap;
	bool oom;
};

static void
hb_add(struct hbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = MAX(b->cap * 2, b->len + n + 1024);
		char *np = wasp_request_alloc(b->req, cap);

		if (!np) {
			b->oom = true;
			return;
		}
		if (b->len)
			memcpy(np, b->p, b->len);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
hb_str(struct hbuf *b, const char *s)
{
	hb_add(b, s, strlen(s));
}

static void
hb_field(struct hbuf *b, const char *name, size_t nl, const char *value, size_t vl)
{
	hb_add(b, name, nl);
	hb_add(b, ": ", 2);
	hb_add(b, value, vl);
	hb_add(b, "\r\n", 2);
}

static bool
name_is(const struct wasp_http_str *n, const char *s)
{
	return n->len == strlen(s) && strncasecmp(n->ptr, s, n->len) == 0;
}

/* Is name one of the tokens of a Connection field value? */
static bool
connection_names(const char *value, size_t vl, const struct wasp_http_str *name)
{
	size_t i = 0;

	while (i < vl) {
		size_t s, e;

		while (i < vl && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		s = i;
		while (i < vl && value[i] != ',')
			i++;
		e = i;
		while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
			e--;
		if (e > s && e - s == name->len && strncasecmp(value + s, name->ptr, name->len) == 0)
			return true;
	}
	return false;
}

static bool
token_in(const char *v, size_t vl, const char *tok)
{
	struct wasp_http_str t = { tok, strlen(tok) };

	return connection_names(v, vl, &t);
}

/* Hop-by-hop (RFC 9110 7.6.1), framing the proxy writes itself, or a field
 * the proxy sets: not forwarded as the client sent it. */
static bool
request_field_dropped(const struct wasp_http_request *h, const struct wasp_http_header *x,
		      const struct proxy_opts *o)
{
	static const char *const drop[] = { "Connection", "Keep-Alive", "Proxy-Connection",
					    "TE", "Trailer", "Transfer-Encoding", "Upgrade",
					    "Content-Length", "Expect", "X-Forwarded-For",
					    "X-Forwarded-Proto" };

	for (size_t i = 0; i < ELEMENTSOF(drop); i++)
		if (name_is(&x->name, drop[i]))
			return true;
	if (o->strip && name_is(&x->name, o->strip))
		return true;
	for (size_t i = 0; i < o->n_add; i++)
		if (name_is(&x->name, o->add[i].name))
			return true;
	for (uint32_t k = 0; k < h->n_headers; k++)
		if (name_is(&h->headers[k].name, "Connection") &&
		    connection_names(h->headers[k].value.ptr, h->headers[k].value.len, &x->name))
			return true;
	return false;
}

/* A WebSocket handshake (RFC 6455 4.1): GET, "Upgrade: websocket",
 * Connection naming upgrade, no body. */
static bool
is_websocket(const struct wasp_request *req)
{
	const struct wasp_http_request *h = req->http;
	const char *up = wasp_request_header(req, "Upgrade");
	bool conn = false;

	if (!h || !up || !streq(wasp_request_method(req), "GET") ||
	    wasp_request_body_length(req) != 0 || !token_in(up, strlen(up), "websocket"))
		return false;
	for (uint32_t k = 0; k < h->n_headers && !conn; k++)
		conn = name_is(&h->headers[k].name, "Connection") &&
		       token_in(h->headers[k].value.ptr, h->headers[k].value.len, "upgrade");
	return conn;
}

static int
head_build(struct preq *q, const struct proxy_opts *o)
{
	struct wasp_request *req = q->req;
	const struct wasp_http_request *h = req->http;
	const char *query = wasp_request_query(req);
	const char *ra = strempty(wasp_request_server_variable(req, "REMOTE_ADDR"));
	const char *rp = strempty(wasp_request_server_variable(req, "REMOTE_PORT"));
	const char *https = wasp_request_server_variable(req, "HTTPS");
	int64_t blen = wasp_request_body_length(req);
	struct hbuf b = { .req = req };
	const char *xff = NULL;
	size_t xff_len = 0;

	hb_str(&b, wasp_request_method(req));
	hb_add(&b, " ", 1);
	hb_str(&b, wasp_request_raw_path(req));
	if (*query) {
		hb_add(&b, "?", 1);
		hb_str(&b, query);
	}
	hb_add(&b, " HTTP/1.1\r\n", 11);
	for (uint32_t i = 0; h && i < h->n_headers; i++) {
		const struct wasp_http_header *x = &h->headers[i];

		if (name_is(&x->name, "X-Forwarded-For") && !xff) {
			xff = x->value.ptr; /* the client's chain, ours appended */
			xff_len = x->value.len;
		}
		if (request_field_dropped(h, x, o))
			continue;
		hb_field(&b, x->name.ptr, x->name.len, x->value.ptr, x->value.len);
	}
	/* X-Forwarded-For: the client's address and port appended to any
	 * chain it sent; X-Forwarded-Proto: how it reached us (as ANCM) */
	hb_str(&b, "X-Forwarded-For: ");
	if (xff && xff_len) {
		hb_add(&b, xff, xff_len);
		hb_add(&b, ", ", 2);
	}
	if (strchr(ra, ':')) {
		hb_add(&b, "[", 1);
		hb_str(&b, ra);
		hb_add(&b, "]", 1);
	} else
		hb_str(&b, ra);
	if (*rp) {
		hb_add(&b, ":", 1);
		hb_str(&b, rp);
	}
	hb_add(&b, "\r\n", 2);
	hb_str(&b, https && strcaseeq(https, "on") ? "X-Forwarded-Proto: https\r\n"
						   : "X-Forwarded-Proto: http\r\n");
	if (o->websocket && is_websocket(req)) {
		q->upgrade = "websocket";
		hb_str(&b, "Connection: Upgrade\r\nUpgrade: websocket\r\n");
	}
	for (size_t i = 0; i < o->n_add; i++)
		hb_field(&b, o->add[i].name, strlen(o->add[i].name), o->add[i].value,
			 strlen(o->add[i].value));
	if (blen > 0) {
		char n[32];
		hb_add(&b, n, (size_t)snprintf(n, sizeof(n), "Content-Length: %lld\r\n",
					       (long long)blen));
	} else if (blen < 0) {
		hb_str(&b, "Transfer-Encoding: chunked\r\n");
		q->chunked_in = true;
	} else {
		const char *m = wasp_request_method(req);
		if (streq(m, "POST") || streq(m, "PUT") || streq(m, "PATCH"))
			hb_str(&b, "Content-Length: 0\r\n");
		q->body_done = true;
	}
	hb_add(&b, "\r\n", 2);
	if (b.oom)
		return -ENOMEM;
	q->head = b.p;
	q->head_len = b.len;
	return 0;
}

/* ---- events ---- */

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void
timer_arm(struct preq *q)
{
	uint64_t now = wasp_now_usec(), at = q->last_activity + q->timeout_usec;
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(d / 1000000), .tv_usec = (suseconds_t)(d % 1000000) };

	if (q->done)
		return;
	if (!q->timer_set) {
		evtimer_assign(&q->timer, q->pool->base, on_timer, q);
		q->timer_set = true;
	}
	if (q->paused) { /* the client is the slow one: no backend deadline */
		(void)evtimer_del(&q->timer);
		return;
	}
	(void)evtimer_add(&q->timer, &tv);
}

static void
detach(struct preq *q, bool reusable)
{
	if (q->c)
		pconn_release(q->c, reusable);
	q->c = NULL;
}

static void
finish(struct preq *q, bool reusable)
{
	if (q->done)
		return;
	q->done = true;
	if (q->timer_set)
		(void)event_del(&q->timer);
	detach(q, reusable);
}

static void
preq_cleanup(void *p)
{
	struct preq *q = p;

	finish(q, false);
}

static void
preq_fail(struct preq *q, unsigned status, unsigned substatus, const char *why)
{
	struct wasp_request *req = q->req;

	wasp_log(WASP_LOG_ERR, "proxy to 127.0.0.1:%u: %s (%s %s)", (unsigned)q->pool->port, why,
		 wasp_request_method(req), wasp_request_path(req));
	finish(q, false);
	if (q->streaming) {
		wasp_response_stream_abort(req);
		return;
	}
	wasp_response_clear_body(req);
	req->n_headers = 0;
	wasp_response_set_status(req, status, substatus);
	wasp_request_set_error_detail(req, why);
	worker_later_resume(q->later, WASP_DONE);
}

/* A new connection and the head again: the reused one was closed by the
 * backend while idle and nothing of the body went. true when it did. */
static bool
preq_retry(struct preq *q)
{
	bool reused;

	if (!q->reused || q->answered || q->body_taken || q->retried)
		return false;
	q->retried = true;
	wasp_log(WASP_LOG_DEBUG, "proxy: a kept connection to 127.0.0.1:%u was closed, retrying "
		 "on a new one", (unsigned)q->pool->port);
	detach(q, false);
	q->write_failed = false;
	if (pconn_get(q->pool, true, &q->c, &reused) < 0) {
		q->c = NULL;
		return false;
	}
	q->reused = false;
	q->out = (const uint8_t *)q->head;
	q->out_off = 0;
	q->out_len = q->head_len;
	pconn_own(q->c, q);
	return true;
}

/* ---- the response ---- */

static void on_writable(struct wasp_request *req, void *userdata);

/* The backend's fields the worker writes itself or that are hop-by-hop. */
static bool
response_field_dropped(const char *name, size_t len, const char *conn, size_t conn_len)
{
	static const char *const own[] = { "Transfer-Encoding", "Connection", "Keep-Alive",
					   "Upgrade", "Date", "Server", "Proxy-Connection",
					   "Trailer", "TE", "Content-Length" };
	struct wasp_http_str n = { name, len };

	for (size_t i = 0; i < ELEMENTSOF(own); i++)
		if (name_is(&n, own[i]))
			return true;
	return conn && connection_names(conn, conn_len, &n);
}

/* One parsed head line: name and value (OWS trimmed). false: malformed. */
static bool
split_field(char *line, size_t len, char **name, size_t *nl, char **value, size_t *vl)
{
	char *colon = memchr(line, ':', len);
	size_t s, e;

	if (!colon || colon == line || line[0] == ' ' || line[0] == '\t')
		return false;
	*name = line;
	*nl = (size_t)(colon - line);
	for (size_t k = 0; k < *nl; k++)
		if (line[k] == ' ' || line[k] == '\t' || (unsigned char)line[k] < 0x21)
			return false;
	s = *nl + 1;
	e = len;
	while (s < e && (line[s] == ' ' || line[s] == '\t'))
		s++;
	while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	for (size_t k = s; k < e; k++)
		if (line[k] == '\0' || line[k] == '\r' || line[k] == '\n')
			return false;
	*value = line + s;
	*vl = e - s;
	return true;
}

/* The head in q->rhead (q->rhead_len bytes, ending with the empty line):
 * 1 applied, 0 a 1xx head was skipped, -EBADMSG, -ENOMEM. */
static int
head_apply(struct preq *q)
{
	struct wasp_request *req = q->req;
	char *p = q->rhead, *end = q->rhead + q->rhead_len, *eol;
	const char *conn = NULL;
	size_t conn_len = 0;
	int64_t length = -1;
	bool chunked = false, http10;
	unsigned status;

	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
	    p[11] > '9' || (eol - p > 12 && p[12] != ' '))
		return -EBADMSG;
	http10 = p[7] == '0';
	status = (unsigned)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	if (status < 200 && status != 101)
		return 0; /* 100 Continue, 103 Early Hints: the final head follows */
	if (status == 101 && !q->upgrade)
		return -EPROTO; /* a switch nobody asked for */
	/* first pass: framing and Connection */
	for (char *l = eol + 2; l < end;) {
		char *le = memmem(l, (size_t)(end - l), "\r\n", 2), *name, *value;
		size_t nl, vl;

		if (!le || le == l)
			break;
		if (!split_field(l, (size_t)(le - l), &name, &nl, &value, &vl))
			return -EBADMSG;
		if (nl == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
			if (!(vl == 7 && strncasecmp(value, "chunked", 7) == 0))
				return -EBADMSG; /* only chunked is understood */
			chunked = true;
		} else if (nl == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
			char *e;
			long long x;
			char tmp[24];

			if (vl == 0 || vl >= sizeof(tmp))
				return -EBADMSG;
			memcpy(tmp, value, vl);
			tmp[vl] = '\0';
			errno = 0;
			x = strtoll(tmp, &e, 10);
			if (errno || *e || x < 0 || tmp[0] < '0' || tmp[0] > '9' ||
			    (length >= 0 && length != x))
				return -EBADMSG;
			length = x;
		} else if (nl == 10 && strncasecmp(name, "Connection", 10) == 0) {
			conn = value;
			conn_len = vl;
			if (token_in(value, vl, "close"))
				q->close_after = true;
		}
		l = le + 2;
	}
	if (http10 && !(conn && token_in(conn, conn_len, "keep-alive")))
		q->close_after = true;
	if (chunked && length >= 0)
		return -EBADMSG; /* request smuggling's favourite: refused */
	wasp_response_set_status(req, status, 0);
	for (char *l = eol + 2; l < end;) {
		char *le = memmem(l, (size_t)(end - l), "\r\n", 2), *name, *value;
		size_t nl, vl;
		int r;

		if (!le || le == l)
			break;
		(void)split_field(l, (size_t)(le - l), &name, &nl, &value, &vl);
		l = le + 2;
		if (response_field_dropped(name, nl, conn, conn_len))
			continue;
		name[nl] = '\0';
		value[vl] = '\0';
		r = wasp_response_add_header(req, name, value);
		if (r < 0)
			return r == -ENOMEM ? r : -EBADMSG;
	}
	/* the backend's own error pages pass (as ANCM asks of IIS) */
	wasp_response_set_try_skip_custom_errors(req, true);
	if (status == 101) {
		q->switched = true;
		return 1;
	}
	if (q->is_head || status == 204 || status == 304) {
		q->framing = BODY_NONE;
		return 1;
	}
	if (chunked) {
		q->framing = BODY_CHUNKED;
		q->ch = CH_SIZE;
	} else if (length >= 0) {
		q->framing = BODY_LENGTH;
		q->left = (uint64_t)length;
	} else {
		q->framing = BODY_CLOSE;
		q->close_after = true;
	}
	if (wasp_response_stream(req, chunked ? -1 : length, on_writable, q) < 0)
		return -ENOMEM;
	q->streaming = true;
	return 1;
}

/* Bytes of the head from in: 1 when a final head is applied, 0 more
 * needed, -errno. */
static int
head_feed(struct preq *q)
{
	for (;;) {
		size_t avail = q->in_len - q->in_off, n, start;
		char *e;
		int r;

		if (avail == 0)
			return 0;
		if (q->rhead_len == 0 && avail <= PROXY_HEAD_MAX &&
		    (e = memmem(q->in + q->in_off, avail, "\r\n\r\n", 4))) {
			/* the whole head in one read: parsed where it is */
			char *saved = q->rhead;

			q->rhead = (char *)q->in + q->in_off;
			q->rhead_len = (size_t)(e + 4 - q->rhead);
			q->in_off += q->rhead_len;
			r = head_apply(q);
			q->rhead = saved;
			q->rhead_len = 0;
			if (r != 0)
				return r;
			continue;
		}
		if (!q->rhead && !(q->rhead = wasp_request_alloc(q->req, PROXY_HEAD_MAX + 1)))
			return -ENOMEM;
		n = MIN(avail, (size_t)PROXY_HEAD_MAX - q->rhead_len);
		if (n == 0)
			return -E2BIG;
		start = q->rhead_len > 3 ? q->rhead_len - 3 : 0;
		memcpy(q->rhead + q->rhead_len, q->in + q->in_off, n);
		e = memmem(q->rhead + start, q->rhead_len + n - start, "\r\n\r\n", 4);
		if (!e) {
			q->rhead_len += n;
			q->in_off += n;
			if (q->rhead_len >= PROXY_HEAD_MAX)
				return -E2BIG;
			continue;
		}
		n = (size_t)(e + 4 - (q->rhead + q->rhead_len)); /* of this piece */
		q->rhead_len += n;
		q->in_off += n;
		r = head_apply(q);
		if (r != 0)
			return r;
		q->rhead_len = 0; /* a 1xx: the next head */
	}
}

/* The response body is whole: give the connection back when clean. */
static void
body_end(struct preq *q)
{
	bool reusable = !q->close_after && q->body_done && !q->write_failed &&
			q->in_off == q->in_len;
	struct wasp_request *req = q->req;
	bool streaming = q->streaming;

	finish(q, reusable);
	if (streaming)
		(void)wasp_response_stream_end(req);
}

/* Give body bytes to the client's stream. true when all went. */
static bool
flush_pend(struct preq *q)
{
	while (q->pend_len > 0) {
		ssize_t n = wasp_response_stream_write(q->req, q->pend, q->pend_len);

		if (n == -EAGAIN) {
			q->paused = true;
			return false;
		}
		if (n < 0) {
			/* the client went away, or a module replaced the body */
			wasp_log(WASP_LOG_DEBUG, "proxy: the response is not wanted any more");
			finish(q, false);
			return false;
		}
		q->pend += n;
		q->pend_len -= (size_t)n;
	}
	return true;
}

/* Decode the body framing from in into pend. false on a malformed chunk. */
static bool
body_take(struct preq *q)
{
	while (q->in_off < q->in_len && !q->pend_len && !q->done) {
		uint8_t *p = q->in + q->in_off;
		size_t avail = q->in_len - q->in_off, n;

		switch (q->framing) {
		case BODY_NONE:
			return true;
		case BODY_CLOSE:
			q->pend = p;
			q->pend_len = avail;
			q->in_off += avail;
			return true;
		case BODY_LENGTH:
			n = (size_t)MIN((uint64_t)avail, q->left);
			q->pend = p;
			q->pend_len = n;
			q->in_off += n;
			q->left -= n;
			return true;
		case BODY_CHUNKED:
			break;
		}
		switch (q->ch) {
		case CH_SIZE:
		case CH_DATA_END:
		case CH_TRAILER: {
			uint8_t *nlp = memchr(p, '\n', avail);
			size_t take = nlp ? (size_t)(nlp - p) + 1 : avail;

			if (q->line_len + take > sizeof(q->line) - 1)
				return false;
			memcpy(q->line + q->line_len, p, take);
			q->line_len += take;
			q->in_off += take;
			if (!nlp)
				return true;
			q->line[q->line_len] = '\0';
			if (q->line_len < 2 || q->line[q->line_len - 2] != '\r')
				return false;
			q->line[q->line_len - 2] = '\0';
			q->line_len = 0;
			if (q->ch == CH_DATA_END) {
				if (q->line[0])
					return false;
				q->ch = CH_SIZE;
			} else if (q->ch == CH_TRAILER) {
				q->trailer_len += strlen(q->line) + 2;
				if (q->trailer_len > PROXY_TRAILER_MAX)
					return false;
				if (!q->line[0])
					q->ch = CH_DONE; /* trailer fields are dropped */
			} else {
				char *e;
				unsigned long long x;

				if (!((q->line[0] >= '0' && q->line[0] <= '9') ||
				      (q->line[0] >= 'a' && q->line[0] <= 'f') ||
				      (q->line[0] >= 'A' && q->line[0] <= 'F')))
					return false;
				errno = 0;
				x = strtoull(q->line, &e, 16);
				if (errno || (*e && *e != ';' && *e != ' ' && *e != '\t'))
					return false;
				q->left = x;
				q->ch = x ? CH_DATA : CH_TRAILER;
			}
			break;
		}
		case CH_DATA:
			n = (size_t)MIN((uint64_t)avail, q->left);
			q->pend = p;
			q->pend_len = n;
			q->in_off += n;
			q->left -= n;
			if (q->left == 0)
				q->ch = CH_DATA_END;
			return true;
		case CH_DONE:
			return true;
		}
	}
	return true;
}

static bool
body_complete(const struct preq *q)
{
	return (q->framing == BODY_NONE) || (q->framing == BODY_LENGTH && q->left == 0) ||
	       (q->framing == BODY_CHUNKED && q->ch == CH_DONE);
}

/* The backend switched protocols: its connection (and what it sent after
 * the 101) goes to a tunnel that the client's connection joins once the
 * 101 is out. */
static void
switch_to_tunnel(struct preq *q)
{
	struct pconn *c = q->c;
	struct proxy_pool *p = c->pool;
	struct ptunnel *t;
	int r;

	(void)event_del(&c->ev);
	q->c = NULL;
	p->n_busy--;
	t = ptunnel_new(p->base, c->fd, q->in + q->in_off, q->in_len - q->in_off);
	free(c);
	pool_maybe_free(p);
	finish(q, false);
	r = t ? wasp_response_upgrade(q->req, q->upgrade, ptunnel_on_switch, t) : -ENOMEM;
	if (r < 0) {
		if (t)
			ptunnel_on_switch(NULL, t);
		wasp_log(WASP_LOG_ERR, "proxy: cannot switch protocols: %s", strerror(-r));
		q->req->n_headers = 0;
		wasp_response_set_status(q->req, 502, 3);
	}
}

static void
on_writable(struct wasp_request *req, void *userdata)
{
	struct preq *q = userdata;

	if (q->done)
		return;
	q->paused = false;
	q->last_activity = wasp_now_usec();
	preq_pump(q);
}

static void
read_backend(struct preq *q)
{
	for (;;) {
		ssize_t n;
		int r;

		if (q->pend_len && !flush_pend(q))
			return;
		if (q->done)
			return;
		if (q->head_done && q->switched) {
			switch_to_tunnel(q);
			return;
		}
		if (q->head_done) {
			if (!body_take(q)) {
				preq_fail(q, 502, 3, "a malformed chunked response body");
				return;
			}
			if (q->pend_len)
				continue;
			if (body_complete(q)) {
				body_end(q);
				return;
			}
		} else if (q->in_off < q->in_len) {
			r = head_feed(q);
			if (r < 0) {
				preq_fail(q, 502, 3,
					  r == -E2BIG     ? "a response head over the limit"
					  : r == -ENOMEM  ? "out of memory"
					  : r == -EPROTO ? "a 101 response to a request that asked no upgrade"
							 : "a malformed response head");
				return;
			}
			if (r > 0) {
				q->head_done = true;
				worker_later_resume(q->later, WASP_DONE);
			}
			continue;
		}
		if (q->paused)
			return;
		q->in_off = q->in_len = 0;
		n = read(q->c->fd, q->in, PROXY_IN_BUF);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			if (n < 0)
				wasp_log(WASP_LOG_DEBUG, "proxy: read: %s", strerror(errno));
			if (preq_retry(q)) {
				preq_pump(q);
				return;
			}
			if (q->head_done && q->framing == BODY_CLOSE && n == 0) {
				body_end(q);
				return;
			}
			preq_fail(q, 502, 3,
				  q->head_done ? "the backend closed the connection mid-response"
					       : n == 0 ? "the backend closed the connection"
							: "the connection to the backend failed");
			return;
		}
		q->answered = true;
		q->in_len = (size_t)n;
		q->last_activity = wasp_now_usec();
	}
}

/* ---- the request body ---- */

static void
on_body(struct wasp_request *req, void *userdata)
{
	struct preq *q = userdata;

	q->body_wait = false;
	if (!q->done)
		preq_pump(q);
}

/* The next piece of the client's body into out (chunk-framed when its
 * length is unknown). */
static void
next_body(struct preq *q)
{
	size_t pre = q->chunked_in ? 10 : 0;
	ssize_t n;

	if (q->body_done || q->body_wait || q->write_failed || q->out_len > q->out_off)
		return;
	if (!q->body && !(q->body = wasp_request_alloc(q->req, PROXY_BODY_CHUNK + 16))) {
		preq_fail(q, 500, 0, "out of memory");
		return;
	}
	n = wasp_request_read_body(q->req, q->body + pre, PROXY_BODY_CHUNK);
	if (n == -EAGAIN) {
		if (wasp_request_wait_body(q->req, on_body, q) == 0)
			q->body_wait = true;
		return;
	}
	if (n < 0) {
		unsigned st = wasp_response_status(q->req);
		preq_fail(q, st >= 400 ? st : 502, st >= 400 ? wasp_response_substatus(q->req) : 3,
			  "the request body could not be read");
		return;
	}
	if (n > 0)
		q->body_taken = true;
	else
		q->body_done = true;
	if (!q->chunked_in) {
		q->out = q->body;
		q->out_off = 0;
		q->out_len = (size_t)n;
		return;
	}
	if (n == 0) {
		memcpy(q->body, "0\r\n\r\n", 5);
		q->out = q->body;
		q->out_off = 0;
		q->out_len = 5;
		return;
	}
	/* "%8zx\r\n" ends right before the data */
	char hex[16];
	int hl = snprintf(hex, sizeof(hex), "%zx\r\n", (size_t)n);
	memcpy(q->body + pre - (size_t)hl, hex, (size_t)hl);
	memcpy(q->body + pre + (size_t)n, "\r\n", 2);
	q->out = q->body + pre - (size_t)hl;
	q->out_off = 0;
	q->out_len = (size_t)hl + (size_t)n + 2;
}

static void
write_backend(struct preq *q)
{
	for (;;) {
		ssize_t n;

		if (q->head_out)
			next_body(q);
		if (q->done || q->write_failed || q->out_off >= q->out_len)
			return;
		n = send(q->c->fd, q->out + q->out_off, q->out_len - q->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			wasp_log(WASP_LOG_DEBUG, "proxy: write: %s", strerror(errno));
			if (preq_retry(q))
				continue;
			/* the backend may answer without reading everything
			 * (a 413): what it says still counts, read on */
			q->write_failed = true;
			q->out_off = q->out_len = 0;
			return;
		}
		q->out_off += (size_t)n;
		if (q->out_off == q->out_len) {
			q->out_off = q->out_len = 0;
			q->head_out = true;
		}
	}
}

static void
preq_pump(struct preq *q)
{
	if (!q->done)
		write_backend(q);
	if (!q->done)
		read_backend(q);
	if (!q->done)
		timer_arm(q);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct preq *q = arg;

	if (q->done || q->paused)
		return;
	if (wasp_now_usec() >= q->last_activity + q->timeout_usec) {
		preq_fail(q, 502, 3, "the backend did not answer within requestTimeout");
		return;
	}
	timer_arm(q);
}

int
proxy_forward(struct wasp_request *req, struct proxy_pool *pool, const struct proxy_opts *o)
{
	struct preq *q = wasp_request_alloc(req, sizeof(*q));
	int r;

	if (!q)
		return -ENOMEM;
	*q = (struct preq){ .req = req, .pool = pool, .timeout_usec = o->timeout_usec };
	q->is_head = streq(wasp_request_method(req), "HEAD");
	q->in = wasp_request_alloc(req, PROXY_IN_BUF);
	q->later = worker_later_new(req);
	if (!q->in || !q->later || head_build(q, o) < 0 ||
	    wasp_request_on_cleanup(req, preq_cleanup, q) < 0)
		return -ENOMEM;
	q->last_activity = wasp_now_usec();
	r = pconn_get(pool, false, &q->c, &q->reused);
	if (r < 0) {
		q->c = NULL;
		preq_fail(q, 502, 3, r == -ECONNREFUSED ? "the backend refused the connection"
							: "cannot connect to the backend");
		return 0;
	}
	q->out = (const uint8_t *)q->head;
	q->out_len = q->head_len;
	pconn_own(q->c, q);
	timer_arm(q);
	return 0;
}
