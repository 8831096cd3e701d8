/* One health check of a farm's server (farm.h): GET the healthCheck url's
 * path from the server's address and httpPort, with the url's host as
 * Host, on the worker's event loop. The server is healthy when the status
 * is in statusCodeMatch and, when responseMatch is set, the body's first
 * HEALTH_READ_MAX bytes contain it; a connection that fails, or no whole
 * answer within the healthCheck timeout, makes it unhealthy. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "farm.h"
#include "log.h"
#include "proxy.h"
#include "util.h"
#include "worker.h"

#define HEALTH_READ_MAX 65536

struct health_probe {
	struct farm_server *s;
	struct event *ev;
	int fd;
	uint64_t deadline;
	char *out;
	size_t out_len, out_off;
	char *in;
	size_t in_len;
	bool reading; /* the request went: readable only */
};

static void
probe_free(struct health_probe *p)
{
	if (p->ev)
		event_free(p->ev);
	safe_close(p->fd);
	free(p->out);
	free(p->in);
	free(p);
}

void
health_probe_cancel(struct farm_server *s)
{
	if (s->probe)
		probe_free(s->probe);
	s->probe = NULL;
}

static void
verdict(struct farm_server *s, bool healthy, const char *why)
{
	if (healthy != s->healthy)
		wasp_log(healthy ? WASP_LOG_NOTICE : WASP_LOG_WARNING,
			 "webFarm '%s': server '%s' is %s%s%s", s->farm->name, s->address,
			 healthy ? "healthy again" : "unhealthy, out of rotation", why ? ": " : "",
			 strempty(why));
	s->healthy = healthy;
	health_probe_cancel(s);
}

/* What came back: the status line and the body's responseMatch. */
static void
judge(struct health_probe *p)
{
	struct farm *f = p->s->farm;
	const char *body;
	unsigned status;

	if (p->in_len < 12 || strncmp(p->in, "HTTP/1.", 7) != 0 ||
	    sscanf(p->in + 8, " %3u", &status) != 1) {
		verdict(p->s, false, "no HTTP response");
		return;
	}
	if (!farm_status_matches(f->check_codes, status)) {
		verdict(p->s, false, "its status is not in statusCodeMatch");
		return;
	}
	body = memmem(p->in, p->in_len, "\r\n\r\n", 4);
	if (*f->check_match &&
	    (!body || !memmem(body + 4, p->in_len - (size_t)(body + 4 - p->in), f->check_match,
			      strlen(f->check_match)))) {
		verdict(p->s, false, "its response does not contain responseMatch");
		return;
	}
	verdict(p->s, true, NULL);
}

static void on_probe(evutil_socket_t fd, short what, void *arg);

/* The request is out: wait for the answer only (no busy writable loop). */
static int
read_only(struct health_probe *p)
{
	uint64_t now = wasp_now_usec(), d = p->deadline > now ? p->deadline - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(d / 1000000), .tv_usec = (suseconds_t)(d % 1000000) };

	p->reading = true;
	(void)event_del(p->ev);
	if (event_assign(p->ev, p->s->farm->base, p->fd, EV_READ | EV_PERSIST, on_probe, p) < 0)
		return -ENOMEM;
	return event_add(p->ev, &tv) < 0 ? -ENOMEM : 0;
}

static void
on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	ssize_t n;

	if ((what & EV_TIMEOUT) || wasp_now_usec() >= p->deadline) {
		verdict(p->s, false, "no answer within the healthCheck timeout");
		return;
	}
	while (p->out_off < p->out_len) {
		n = send(fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			verdict(p->s, false, strerror(errno));
			return;
		}
		p->out_off += (size_t)n;
	}
	if (!p->reading && read_only(p) < 0) {
		verdict(p->s, false, "out of memory");
		return;
	}
	for (;;) {
		n = read(fd, p->in + p->in_len, HEALTH_READ_MAX - p->in_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			verdict(p->s, false, strerror(errno));
			return;
		}
		p->in_len += (size_t)n;
		if (n == 0 || p->in_len == HEALTH_READ_MAX) {
			judge(p);
			return;
		}
	}
}

static int
probe_open(struct health_probe *p)
{
	struct farm_server *s = p->s;
	struct farm *f = s->farm;
	struct sockaddr_storage sa;
	socklen_t len;
	struct timeval tv = { .tv_sec = (time_t)(f->check_timeout_usec / 1000000),
			      .tv_usec = (suseconds_t)(f->check_timeout_usec % 1000000) };
	int r;

	r = farm_resolve(s->address, s->port, &sa, &len);
	if (r < 0)
		return r;
	if (asprintf(&p->out, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		     "User-Agent: wasp-arr-health\r\n\r\n", f->check_path, f->check_host) < 0) {
		p->out = NULL;
		return -ENOMEM;
	}
	p->out_len = strlen(p->out);
	p->in = malloc(HEALTH_READ_MAX);
	p->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!p->in || p->fd < 0)
		return p->in ? -errno : -ENOMEM;
	if (connect(p->fd, (struct sockaddr *)&sa, len) < 0 && errno != EINPROGRESS)
		return -errno;
	p->deadline = wasp_now_usec() + f->check_timeout_usec;
	p->ev = event_new(f->base, p->fd, EV_READ | EV_WRITE | EV_PERSIST, on_probe, p);
	if (!p->ev || event_add(p->ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

void
health_probe_start(struct farm_server *s)
{
	struct health_probe *p = calloc(1, sizeof(*p));
	int r;

	if (!p) {
		wasp_log(WASP_LOG_ERR, "webFarm '%s': health check of '%s': out of memory",
			 s->farm->name, s->address);
		return;
	}
	p->s = s;
	p->fd = -1;
	s->probe = p;
	r = probe_open(p);
	if (r < 0)
		verdict(s, false, strerror(-r));
}
