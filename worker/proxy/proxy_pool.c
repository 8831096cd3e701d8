/* The proxy engine's connections (proxy_int.h): pooled per backend port,
 * kept alive between requests, at most PROXY_IDLE_MAX idle. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proxy_int.h"
#include "util.h"

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

bool
proxy_pool_busy(const struct proxy_pool *p)
{
	return p->n_busy > 0;
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

	p->n_busy--;
	c->owner = NULL;
	if (!reusable || p->dead || c->port != p->port || p->n_idle >= PROXY_IDLE_MAX) {
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

/* A connection for a request: the newest idle one, or a new one (its
 * connect may still be in progress: the first write waits for it). */
int
proxy_conn_get(struct proxy_pool *p, bool fresh, struct pconn **ret, bool *ret_reused)
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
	c->drained = true; /* nothing comes before the request */
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

