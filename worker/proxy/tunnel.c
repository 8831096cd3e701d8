/* Switched connections through the proxy engine (tunnel.h). Each
 * direction has one buffer: its source is read only when the buffer is
 * empty, so a side that does not read holds the other back rather than
 * growing the worker. A side's end (EOF) is passed on as a half-close
 * (shutdown SHUT_WR) once its bytes are out; when both directions ended,
 * or on any error, both connections close. */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tunnel.h"
#include "util.h"
#include "worker.h"

struct tdir {
	uint8_t *buf;
	size_t off, len, cap;
	bool eof, shut;
};

struct ptunnel {
	struct event_base *base;
	struct wasp_tunnel *t;
	int cfd, bfd;
	struct event cev, bev;
	short cflags, bflags;
	bool cset, bset;
	struct tdir up, down; /* client to backend, backend to client */
};

static void
tdir_free(struct tdir *d)
{
	free(d->buf);
}

static int
tdir_init(struct tdir *d, const void *data, size_t len)
{
	d->cap = MAX(len, (size_t)PTUNNEL_BUF);
	d->buf = malloc(d->cap);
	if (!d->buf)
		return -ENOMEM;
	if (len)
		memcpy(d->buf, data, len);
	d->len = len;
	return 0;
}

struct ptunnel *
ptunnel_new(struct event_base *base, int fd, const void *data, size_t len)
{
	struct ptunnel *p = calloc(1, sizeof(*p));

	if (!p || tdir_init(&p->down, data, len) < 0) {
		free(p);
		safe_close(fd);
		return NULL;
	}
	p->base = base;
	p->bfd = fd;
	p->cfd = -1;
	return p;
}

static void
ptunnel_free(struct ptunnel *p)
{
	if (p->cset)
		(void)event_del(&p->cev);
	if (p->bset)
		(void)event_del(&p->bev);
	safe_close(p->bfd);
	tdir_free(&p->up);
	tdir_free(&p->down);
	free(p);
}

/* Move what can move from src through d to dst. 1 the direction wants to
 * read src, 2 to write dst, 0 it ended, -errno. */
static int
pump(struct tdir *d, int src, int dst)
{
	for (;;) {
		ssize_t n;

		if (d->off < d->len) {
			n = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 2 : -errno;
			d->off += (size_t)n;
			continue;
		}
		d->off = d->len = 0;
		if (d->eof) {
			if (!d->shut)
				(void)shutdown(dst, SHUT_WR);
			d->shut = true;
			return 0;
		}
		n = read(src, d->buf, d->cap);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 1 : -errno;
		if (n == 0)
			d->eof = true;
		d->len = (size_t)n;
	}
}

static void on_event(evutil_socket_t fd, short what, void *arg);

static void
watch(struct ptunnel *p, struct event *ev, bool *set, short *cur, int fd, short want)
{
	if (*set && *cur == want)
		return;
	if (*set)
		(void)event_del(ev);
	*set = false;
	*cur = want;
	if (!want)
		return;
	event_assign(ev, p->base, fd, (short)(want | EV_PERSIST), on_event, p);
	if (event_add(ev, NULL) == 0)
		*set = true;
}

static void
ptunnel_run(struct ptunnel *p)
{
	int up = pump(&p->up, p->cfd, p->bfd);
	int down = up < 0 ? 0 : pump(&p->down, p->bfd, p->cfd);

	if (up < 0 || down < 0 || (up == 0 && down == 0)) {
		struct wasp_tunnel *t = p->t;

		if (up < 0 || down < 0)
			wasp_log(WASP_LOG_DEBUG, "tunnel: %s", strerror(-(up < 0 ? up : down)));
		ptunnel_free(p);
		wasp_tunnel_close(t);
		return;
	}
	watch(p, &p->cev, &p->cset, &p->cflags, p->cfd,
	      (short)((up == 1 ? EV_READ : 0) | (down == 2 ? EV_WRITE : 0)));
	watch(p, &p->bev, &p->bset, &p->bflags, p->bfd,
	      (short)((down == 1 ? EV_READ : 0) | (up == 2 ? EV_WRITE : 0)));
}

static void
on_event(evutil_socket_t fd, short what, void *arg)
{
	ptunnel_run(arg);
}

void
ptunnel_on_switch(struct wasp_tunnel *t, void *userdata)
{
	struct ptunnel *p = userdata;
	const void *in;
	size_t len;

	if (!t) { /* no switch after all, or the worker ends the connection */
		ptunnel_free(p);
		return;
	}
	p->t = t;
	p->cfd = wasp_tunnel_fd(t);
	in = wasp_tunnel_input(t, &len);
	if (tdir_init(&p->up, in, len) < 0) {
		ptunnel_free(p);
		wasp_tunnel_close(t);
		return;
	}
	ptunnel_run(p);
}
