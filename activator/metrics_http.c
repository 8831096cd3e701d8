/* The optional metrics endpoint: system.applicationHost/wasp/metrics
 * (enabled, address, port; off by default, loopback by default), served by
 * waspd itself so the figures need no trip to another process. A tiny HTTP
 * responder with every resource bounded: GET /metrics only (405 for other
 * methods, 404 for other paths), a request head of at most
 * METRICS_HTTP_MAX_HEAD bytes (431 beyond), METRICS_HTTP_MAX_CONNS
 * connections at once (more are closed at accept), METRICS_HTTP_TIMEOUT_SEC
 * for the whole exchange, one request per connection (Connection: close). */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "libevent-util.h"
#include "log.h"
#include "metrics_conf.h"
#include "waspd.h"

#define METRICS_HTTP_MAX_HEAD 8192
#define METRICS_HTTP_MAX_CONNS 16
#define METRICS_HTTP_TIMEOUT_SEC 10

struct mh_conn {
	struct mh_conn *next;
	struct metrics_http *mh;
	struct bufferevent *bev;
	bool answered;
};

struct metrics_http {
	struct wasp_env *env;
	int fd;
	struct event *ev;
	char address[INET6_ADDRSTRLEN];
	uint16_t port;
	struct mh_conn *conns;
	size_t n_conns;
};

static void
conn_free(struct mh_conn *c)
{
	struct metrics_http *mh = c->mh;

	for (struct mh_conn **pp = &mh->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	mh->n_conns--;
	bufferevent_free(c->bev);
	free(c);
}

static void
conn_answer(struct mh_conn *c, unsigned status, const char *reason, const char *body)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = strlen(body);

	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
	(void)evbuffer_add_printf(out,
				  "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
				  "Connection: close\r\n\r\n",
				  status, reason,
				  status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
						: "text/plain; charset=utf-8",
				  len);
	(void)evbuffer_add(out, body, len);
}

/* The request line of a complete head: GET /metrics (a query allowed). */
static void
conn_serve(struct mh_conn *c, const char *line)
{
	char method[16], target[256];
	_cleanup_free_ char *text = NULL;

	if (sscanf(line, "%15s %255s HTTP/1.%*1[01]", method, target) != 2) {
		conn_answer(c, 400, "Bad Request", "bad request\n");
		return;
	}
	if (strcspn(target, "?") != strlen("/metrics") || !startswith(target, "/metrics")) {
		conn_answer(c, 404, "Not Found", "not found: only /metrics is served here\n");
		return;
	}
	if (!streq(method, "GET")) {
		conn_answer(c, 405, "Method Not Allowed", "only GET\n");
		return;
	}
	text = metrics_text(c->mh->env);
	if (!text) {
		conn_answer(c, 503, "Service Unavailable", "out of memory\n");
		return;
	}
	conn_answer(c, 200, "OK", text);
}

static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	struct mh_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	_cleanup_free_ char *line = NULL;

	if (c->answered)
		return;
	if (end.pos < 0) {
		if (evbuffer_get_length(in) > METRICS_HTTP_MAX_HEAD)
			conn_answer(c, 431, "Request Header Fields Too Large", "head too large\n");
		return;
	}
	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF_STRICT);
	if (!line) {
		conn_answer(c, 400, "Bad Request", "bad request\n");
		return;
	}
	conn_serve(c, line);
}

static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct mh_conn *c = arg;

	if (c->answered)
		conn_free(c);
}

static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg);
}

static void
mh_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_http *mh = arg;
	struct timeval tv = { .tv_sec = METRICS_HTTP_TIMEOUT_SEC };
	struct mh_conn *c;
	int cfd = accept4(mh->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	if (mh->n_conns >= METRICS_HTTP_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		close(cfd);
		return;
	}
	c->mh = mh;
	c->bev = bufferevent_socket_new(mh->env->base, cfd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(cfd);
		free(c);
		return;
	}
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	/* the head is read in full only up to the limit */
	bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_HTTP_MAX_HEAD + 1);
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = mh->conns;
	mh->conns = c;
	mh->n_conns++;
}

static void
mh_close(struct wasp_env *env)
{
	struct metrics_http *mh = env->metrics_http;

	if (!mh)
		return;
	while (mh->conns)
		conn_free(mh->conns);
	wasp_event_free(mh->ev);
	safe_close(mh->fd);
	free(mh);
	env->metrics_http = NULL;
}

static int
mh_open(struct wasp_env *env, const struct metrics_settings *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct metrics_http *mh;
	_cleanup_close_ int fd = -1;
	int one = 1;

	if (metrics_address_parse(s->address, s->port, &ss, &len) < 0)
		return -EINVAL; /* metrics_http_check() said so at load */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0)
		return log_errno(-errno, "metrics endpoint %s port %u", s->address,
				 (unsigned)s->port);
	mh = calloc(1, sizeof(*mh));
	if (!mh)
		return -ENOMEM;
	mh->env = env;
	mh->port = s->port;
	snprintf(mh->address, sizeof(mh->address), "%s", s->address);
	mh->ev = event_new(env->base, fd, EV_READ | EV_PERSIST, mh_on_accept, mh);
	if (!mh->ev || event_add(mh->ev, NULL) < 0) {
		wasp_event_free(mh->ev);
		free(mh);
		return -ENOMEM;
	}
	mh->fd = TAKE_FD(fd);
	env->metrics_http = mh;
	log_notice("metrics endpoint: http://%s%s%s:%u/metrics", ss.ss_family == AF_INET6 ? "[" : "",
		   s->address, ss.ss_family == AF_INET6 ? "]" : "", (unsigned)s->port);
	return 0;
}

int
metrics_http_apply(struct wasp_env *env)
{
	struct metrics_http *mh = env->metrics_http;
	struct metrics_settings s;

	metrics_settings_read(env->cfg, &s);
	if (mh && s.enabled && mh->port == s.port && streq(mh->address, s.address))
		return 0; /* unchanged */
	mh_close(env);
	if (!s.enabled)
		return 0;
	return mh_open(env, &s);
}

void
metrics_http_close(struct wasp_env *env)
{
	mh_close(env);
}
