/* The proxy engine's connections (proxy_int.h): pooled per backend
 * address, kept alive between requests, at most PROXY_IDLE_MAX idle per
 * pool and PROXY_BUSY_MAX in use in the worker. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy_int.h"
#include "util.h"

static unsigned n_busy_all; /* of every pool of the worker */

struct proxy_pool *
proxy_pool_new(struct event_base *base)
{
	struct proxy_pool *p = calloc(1, sizeof(*p));

	if (p) {
		p->base = base;
		(void)snprintf(p->name, sizeof(p->name), "127.0.0.1:0");
	}
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

void
proxy_pool_maybe_free(struct proxy_pool *p)
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

int
proxy_pool_set_addr(struct proxy_pool *p, const struct sockaddr *sa, socklen_t len)
{
	char host[INET6_ADDRSTRLEN] = "";
	uint16_t port = 0;

	if (len > sizeof(p->addr) || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return -EAFNOSUPPORT;
	if (len == p->addr_len && memcmp(&p->addr, sa, len) == 0)
		return 0;
	flush_idle(p);
	memcpy(&p->addr, sa, len);
	p->addr_len = len;
	p->gen++;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		(void)inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		(void)snprintf(p->name, sizeof(p->name), "%s:%u", host, (unsigned)port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		(void)inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		(void)snprintf(p->name, sizeof(p->name), "[%s]:%u", host, (unsigned)port);
	}
	return 0;
}

void
proxy_pool_set_port(struct proxy_pool *p, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	if (port == 0) {
		flush_idle(p);
		p->addr.ss_family = AF_UNSPEC;
		p->addr_len = 0;
		p->gen++;
		(void)snprintf(p->name, sizeof(p->name), "127.0.0.1:0");
		return;
	}
	(void)proxy_pool_set_addr(p, (struct sockaddr *)&sa, sizeof(sa));
}

uint16_t
proxy_pool_port(const struct proxy_pool *p)
{
	if (p->addr.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&p->addr)->sin_port);
	if (p->addr.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&p->addr)->sin6_port);
	return 0;
}

unsigned
proxy_pool_busy(const struct proxy_pool *p)
{
	return p->n_busy;
}

void
proxy_pool_free(struct proxy_pool *p)
{
	if (!p)
		return;
	flush_idle(p);
	p->dead = true;
	proxy_pool_maybe_free(p);
}

static void
on_pconn_event(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;
	struct proxy_pool *p = c->pool;
	char b;

	if (what & EV_READ)
		c->drained = false;
	if (c->owner) {
		proxy_pump(c->owner);
		return;
	}
	/* idle: nothing to say but its end */
	if (!(what & EV_READ))
		return;
	if (recv(c->fd, &b, 1, MSG_PEEK) < 0 && errno == EAGAIN) {
		c->drained = true;
		return;
	}
	idle_remove(c);
	pconn_close(c);
	proxy_pool_maybe_free(p);
}

/* q drives c from the loop (the first call comes from there too: an edge
 * may have passed while c was idle). */
void
proxy_conn_own(struct pconn *c, struct preq *q)
{
	c->owner = q;
	event_active(&c->ev, EV_WRITE, 0);
}

/* The request is done with c: back to the pool when reusable. */
void
proxy_conn_release(struct pconn *c, bool reusable)
{
	struct proxy_pool *p = c->pool;

	proxy_conn_unbusy(p);
	c->owner = NULL;
	if (!reusable || p->dead || c->gen != p->gen || p->n_idle >= PROXY_IDLE_MAX) {
		pconn_close(c);
		proxy_pool_maybe_free(p);
		return;
	}
	/* its response was read to its end: what comes next (the next
	 * response, a close, or the reset a closed backend answers the next
	 * request with) is an edge of its own */
	c->drained = true;
	c->next = p->idle;
	if (p->idle)
		p->idle->prev = c;
	p->idle = c;
	p->n_idle++;
}

/* A connection stops being in use (released, or become a tunnel's). */
void
proxy_conn_unbusy(struct proxy_pool *p)
{
	p->n_busy--;
	n_busy_all--;
}

/* A connection for a request: the newest idle one, or a new one (its
 * connect may still be in progress: the first write waits for it).
 * -EUSERS: PROXY_BUSY_MAX are in use. */
int
proxy_conn_get(struct proxy_pool *p, bool fresh, struct pconn **ret, bool *ret_reused)
{
	struct pconn *c;
	int one = 1;

	if (n_busy_all >= PROXY_BUSY_MAX)
		return -EUSERS;
	if (!fresh && p->idle) {
		c = p->idle;
		idle_remove(c);
		p->n_busy++;
		n_busy_all++;
		*ret = c;
		*ret_reused = true;
		return 0;
	}
	if (p->addr_len == 0)
		return -ECONNREFUSED;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pool = p;
	c->gen = p->gen;
	c->drained = true; /* nothing comes before the request */
	c->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_assign(&c->ev, p->base, c->fd, EV_READ | EV_WRITE | EV_PERSIST | EV_ET,
		     on_pconn_event, c);
	if ((connect(c->fd, (struct sockaddr *)&p->addr, p->addr_len) < 0 && errno != EINPROGRESS) ||
	    event_add(&c->ev, NULL) < 0) {
		int r = errno ? -errno : -ENOMEM;
		pconn_close(c);
		return r;
	}
	p->n_busy++;
	n_busy_all++;
	*ret = c;
	*ret_reused = false;
	return 0;
}

