/* A response body filter (wasp_response_filter: URL Rewrite's outbound
 * rules on HTML): every byte of the body goes through the module's
 * function on its way to the client, whatever made it: a body in memory or
 * a file (read in pieces of WORKER_FILTER_READ bytes, not sent with
 * sendfile), or a streamed one (the producer's writes go through it).
 * The filtered bytes are written into the stream's own buffer (stream.c),
 * so a filtered response of any size costs the worker that buffer, one
 * read buffer and what the filter holds itself, and a slow client slows
 * the producer as usual. The response loses its Content-Length: it goes
 * chunked (HTTP/1.1) or to the end of the connection (HTTP/1.0). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "util.h"
#include "worker.h"

struct wfilter {
	wasp_body_filter_fn fn;
	void *userdata;
	const char *src; /* bytes to filter before the producer's */
	size_t src_len;
	int fd; /* a file body, read into rbuf; -1 when none */
	off_t off;
	uint64_t left;
	char *rbuf;
	int64_t declared; /* the producer's declared length, -1 when none */
	uint64_t taken;   /* bytes the producer gave */
	bool own;	  /* the body was whole (memory, file): no producer */
	bool producer_ended;
};

/* Room at the end of the stream's buffer (moved down when nothing of it
 * is on its way). */
static size_t
stream_room(struct wstream *s)
{
	if (s->inflight == 0 && s->off > 0) {
		memmove(s->buf, s->buf + s->off, s->len);
		s->off = 0;
	}
	return WORKER_STREAM_BUF - s->off - s->len;
}

/* Filter in[0..len) into the stream's buffer: the bytes taken, -EAGAIN
 * when there is not room enough for the filter. */
static ssize_t
feed(struct wstream *s, const char *in, size_t len, bool end)
{
	struct wfilter *f = s->filter;
	size_t room = stream_room(s), out = 0, n;

	if (room < WASP_FILTER_MIN_ROOM)
		return -EAGAIN;
	n = f->fn(f->userdata, in, len, end, s->buf + s->off + s->len, room, &out);
	s->len += out;
	s->written += out;
	return (ssize_t)n;
}

/* The filter's own bytes (a whole body, what was buffered before it) while
 * there is room, then its end once the body is over. */
void
filter_pump(struct wasp_request *req)
{
	struct wstream *s = req->stream;
	struct wfilter *f = s->filter;
	ssize_t k;

	if (s->failed || s->ended)
		return;
	for (;;) {
		if (f->src_len == 0 && f->fd >= 0 && f->left > 0) {
			k = pread(f->fd, f->rbuf, (size_t)MIN(f->left, (uint64_t)WORKER_FILTER_READ),
				  f->off);
			if (k <= 0) { /* a read error, or the file shrank: cut */
				s->failed = true;
				return;
			}
			f->off += k;
			f->left -= (uint64_t)k;
			f->src = f->rbuf;
			f->src_len = (size_t)k;
		}
		if (f->src_len == 0)
			break;
		k = feed(s, f->src, f->src_len, false);
		if (k < 0)
			return; /* stream_send pumps again when there is room */
		f->src += k;
		f->src_len -= (size_t)k;
	}
	if (f->own && (f->fd < 0 || f->left == 0))
		f->producer_ended = true;
	if (f->producer_ended && feed(s, NULL, 0, true) >= 0)
		s->ended = true;
}

ssize_t
filter_write(struct wasp_request *req, const void *data, size_t len)
{
	struct wstream *s = req->stream;
	struct wfilter *f = s->filter;
	size_t taken = 0;
	ssize_t k;

	if (f->own || f->producer_ended)
		return -EPIPE;
	if (f->declared >= 0 && f->taken + len > (uint64_t)f->declared)
		return -EMSGSIZE;
	filter_pump(req);
	while (f->src_len == 0 && taken < len) {
		k = feed(s, (const char *)data + taken, len - taken, false);
		if (k < 0)
			break;
		taken += (size_t)k;
	}
	if (s->len)
		conn_stream_kick(req->conn);
	if (taken == 0 && len > 0) {
		s->want_room = true;
		return -EAGAIN;
	}
	f->taken += taken;
	return (ssize_t)taken;
}

int
filter_end(struct wasp_request *req)
{
	struct wstream *s = req->stream;
	struct wfilter *f = s->filter;

	if (f->own || f->producer_ended)
		return -EPIPE;
	f->producer_ended = true;
	if (f->declared >= 0 && f->taken != (uint64_t)f->declared)
		s->failed = true; /* short of what the producer said: cut */
	else
		filter_pump(req);
	conn_stream_kick(req->conn);
	return s->failed ? -EPIPE : 0;
}

static void
own_writable(struct wasp_request *req, void *userdata)
{
	(void)req;
	(void)userdata;
}

/* The response is streamed already: what it buffered goes through the
 * filter first, and its producer's declared length is the filter's to
 * check. */
static int
filter_stream(struct wasp_request *req, struct wfilter *f)
{
	struct wstream *s = req->stream;
	char *copy;

	f->declared = s->length;
	f->taken = s->written;
	s->length = -1;
	if (s->ended) { /* all in already: the end is the filter's to write */
		s->ended = false;
		f->producer_ended = true;
	}
	if (s->len) {
		copy = wasp_arena_alloc(req->arena, s->len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, s->buf + s->off, s->len);
		f->src = copy;
		f->src_len = s->len;
		s->off = s->len = 0;
	}
	return 0;
}

int
wasp_response_filter(struct wasp_request *req, wasp_body_filter_fn fn, void *userdata)
{
	struct wstream *s = req->stream;
	struct wfilter *f;
	int k;

	if (!req->conn || !fn || (s && (s->cancelled || s->head_sent || s->filter)))
		return -EINVAL;
	if (!s && req->file_fd < 0 && !req->body_len)
		return 0; /* no body: nothing to filter */
	f = wasp_arena_alloc(req->arena, sizeof(*f) + (req->file_fd >= 0 ? WORKER_FILTER_READ : 0));
	if (!f)
		return -ENOMEM;
	*f = (struct wfilter){ .fn = fn, .userdata = userdata, .fd = -1, .declared = -1 };
	if (s) {
		k = filter_stream(req, f);
	} else {
		f->own = true;
		if (req->file_fd >= 0) {
			f->fd = req->file_fd;
			f->off = req->file_off;
			f->left = req->file_len;
			f->rbuf = (char *)(f + 1);
		} else {
			f->src = req->body;
			f->src_len = req->body_len;
		}
		k = wasp_response_stream(req, -1, own_writable, NULL);
	}
	if (k < 0)
		return k;
	req->stream->filter = f;
	filter_pump(req);
	return 0;
}
