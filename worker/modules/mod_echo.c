/* StreamEchoModule: the stream handler "echo" for tcp connections (RFC 862
 * over wasp-tcp): every byte the client sends comes back, until it closes.
 * An application selects it with
 *   <streamHandlers><add protocol="tcp" handler="echo" /></streamHandlers>
 * It holds one buffer per connection, and reads no more while what it read
 * is not written back (a client that does not read stops being read). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "util.h"
#include "wasp/module.h"

#define ECHO_BUF_SIZE 16384

struct echo {
	struct wasp_stream *s;
	struct event *ev;
	size_t start, end; /* what is read and not yet written back */
	char buf[ECHO_BUF_SIZE];
};

static void
echo_free(void *p)
{
	struct echo *e = p;

	if (e->ev)
		event_free(e->ev);
	free(e);
}

/* Write what is buffered: 0 when all of it went, -EAGAIN, or -errno. */
static int
echo_flush(struct echo *e, int fd)
{
	while (e->start < e->end) {
		ssize_t n = send(fd, e->buf + e->start, e->end - e->start, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -errno;
		e->start += (size_t)n;
	}
	e->start = e->end = 0;
	return 0;
}

/* Read and write back until the socket has nothing more: the events to wait
 * for, or 0 when the connection is done (closed by the client, or broken). */
static short
echo_pump(struct echo *e, int fd)
{
	for (;;) {
		ssize_t n;
		int r = echo_flush(e, fd);

		if (r == -EAGAIN)
			return EV_WRITE;
		if (r < 0)
			return 0;
		do
			n = read(fd, e->buf, sizeof(e->buf));
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno == EAGAIN ? EV_READ : 0;
		if (n == 0)
			return 0;
		e->end = (size_t)n;
	}
}

static void
echo_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct echo *e = arg;
	short want = echo_pump(e, fd);

	if (!want) {
		wasp_stream_close(e->s); /* frees e */
		return;
	}
	event_del(e->ev);
	if (event_assign(e->ev, event_get_base(e->ev), fd, want, echo_on_io, e) < 0 ||
	    event_add(e->ev, NULL) < 0)
		wasp_stream_close(e->s);
}

static int
echo_start(struct wasp_stream *s, void *userdata)
{
	struct event_base *base = wasp_server_event_base(wasp_stream_server(s));
	int fd = wasp_stream_fd(s);
	struct echo *e;
	const void *data;
	size_t len;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->s = s;
	data = wasp_stream_data(s, &len);
	len = MIN(len, sizeof(e->buf));
	if (len)
		memcpy(e->buf, data, len);
	e->end = len;
	e->ev = event_new(base, fd, EV_WRITE, echo_on_io, e);
	if (!e->ev) {
		free(e);
		return -ENOMEM;
	}
	wasp_stream_set_context(s, e, echo_free);
	/* writable at once: the first pass writes what the adapter read, then
	 * reads */
	event_active(e->ev, EV_WRITE, 0);
	return 0;
}

static int
echo_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add_stream(hooks, "tcp", "echo", echo_start, NULL);
}

const struct wasp_module mod_echo = {
	.abi = WASP_MODULE_ABI,
	.name = "StreamEchoModule",
	.register_hooks = echo_register_hooks,
};
