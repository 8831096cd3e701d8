/* A streamed response body (wasp_response_stream): a handler that produces
 * its body over time (FastCgiModule relaying an application's output) hands
 * it to the connection piece by piece through one bounded buffer of
 * WORKER_STREAM_BUF bytes, and is told when the client took enough to make
 * room again. So a response of any size costs the worker that buffer, and a
 * client that reads slowly slows the producer down rather than growing the
 * worker's memory.
 *
 * The producer only ever appends and sets flags; the socket is written by
 * the connection (conn.c, stream_send) from its own event callbacks, so no
 * call here can end the request under the producer's feet. The framing
 * follows the head: Content-Length when the length was declared, else
 * chunked (HTTP/1.1) or the end of the connection (HTTP/1.0). Each send
 * takes everything buffered as one chunk. A stream that ends short of its
 * declared length, or is aborted after the head went out, cuts the
 * connection: the client never sees a complete-looking response. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "arena.h"
#include "log.h"
#include "util.h"
#include "worker.h"

int
wasp_response_stream(struct wasp_request *req, int64_t length,
		     void (*on_writable)(struct wasp_request *req, void *userdata), void *userdata)
{
	struct wstream *s;

	if (!req->conn || req->stream || !on_writable)
		return -EINVAL;
	s = wasp_arena_alloc(req->arena, sizeof(*s) + WORKER_STREAM_BUF);
	if (!s)
		return -ENOMEM;
	*s = (struct wstream){
		.length = length < 0 ? -1 : length,
		.on_writable = on_writable,
		.userdata = userdata,
	};
	s->buf = (char *)(s + 1);
	req->body_len = 0;
	req->file_fd = -1;
	req->stream = s;
	return 0;
}

static bool
stream_open(const struct wasp_request *req)
{
	const struct wstream *s = req->stream;

	return s && !s->ended && !s->cancelled && !s->failed;
}

ssize_t
wasp_response_stream_write(struct wasp_request *req, const void *data, size_t len)
{
	struct wstream *s = req->stream;
	size_t room, n;

	if (!stream_open(req))
		return -EPIPE;
	if (s->filter)
		return filter_write(req, data, len);
	if (s->length >= 0 && s->written + len > (uint64_t)s->length)
		return -EMSGSIZE;
	if (len == 0)
		return 0;
	if (s->inflight == 0 && s->off > 0) { /* nothing on its way: move down */
		memmove(s->buf, s->buf + s->off, s->len);
		s->off = 0;
	}
	room = WORKER_STREAM_BUF - s->off - s->len;
	if (room == 0) {
		s->want_room = true;
		return -EAGAIN;
	}
	n = MIN(room, len);
	memcpy(s->buf + s->off + s->len, data, n);
	s->len += n;
	s->written += n;
	conn_stream_kick(req->conn);
	return (ssize_t)n;
}

int
wasp_response_stream_end(struct wasp_request *req)
{
	struct wstream *s = req->stream;

	if (!stream_open(req))
		return -EPIPE;
	if (s->filter)
		return filter_end(req);
	s->ended = true;
	if (s->length >= 0 && s->written != (uint64_t)s->length)
		s->failed = true; /* short of what the head said: cut */
	conn_stream_kick(req->conn);
	return s->failed ? -EPIPE : 0;
}

void
wasp_response_stream_abort(struct wasp_request *req)
{
	struct wstream *s = req->stream;

	if (!stream_open(req))
		return;
	s->failed = true;
	conn_stream_kick(req->conn);
}

bool
stream_active(const struct wasp_request *req)
{
	return req->stream && !req->stream->cancelled;
}

bool
stream_producing(const struct wasp_request *req)
{
	return stream_open(req);
}

void
stream_cancel(struct wasp_request *req)
{
	if (req->stream && !req->stream->head_sent)
		req->stream->cancelled = true;
}

int64_t
stream_length(const struct wasp_request *req)
{
	return req->stream->length;
}

bool
stream_pending(const struct wasp_request *req)
{
	const struct wstream *s = req->stream;

	return s && !s->discard && !s->failed && (s->len > 0 || (s->ended && s->chunked));
}

void
stream_begin(struct wasp_request *req, bool bodyless)
{
	struct wstream *s = req->stream;

	s->head_sent = true;
	s->discard = bodyless;
	s->chunked = !bodyless && s->length < 0 && req->http && req->http->version != WASP_HTTP_1_0;
}

/* Tell the producer there is room again (it was refused some). */
static void
stream_notify(struct wasp_request *req)
{
	struct wstream *s = req->stream;

	if (!s->want_room || s->ended || s->failed)
		return;
	if (s->inflight == 0 && s->off > 0) {
		memmove(s->buf, s->buf + s->off, s->len);
		s->off = 0;
	}
	if (WORKER_STREAM_BUF - s->off - s->len < WORKER_STREAM_BUF / 2)
		return;
	s->want_room = false;
	s->on_writable(req, s->userdata);
}

/* The current frame's parts: the chunk header (chunked), the bytes in
 * flight, the chunk's CRLF and, when the stream has ended with them, the
 * last chunk. Returns how many (at most 4). */
static size_t
frame_parts(struct wstream *s, struct iovec part[4])
{
	static char crlf[] = WASP_HTTP_CHUNK_CRLF; /* iov_base is not const */
	static char last[] = WASP_HTTP_CHUNK_LAST;
	size_t n_part = 0;

	if (s->chunked && s->inflight)
		part[n_part++] = (struct iovec){ s->chunk_hdr, strlen(s->chunk_hdr) };
	if (s->inflight)
		part[n_part++] = (struct iovec){ s->buf + s->off, s->inflight };
	if (s->chunked && s->inflight)
		part[n_part++] = (struct iovec){ crlf, 2 };
	if (s->frame_last)
		part[n_part++] = (struct iovec){ last, sizeof(last) - 1 };
	return n_part;
}

/* The frame went out whole: its bytes leave the buffer. */
static void
frame_done(struct wstream *s)
{
	s->off += s->inflight;
	s->len -= s->inflight;
	s->inflight = 0;
	if (s->len == 0)
		s->off = 0;
	if (s->frame_last)
		s->last_sent = true;
}

/* Send one framed piece, resuming a partial send. So a small response is
 * one segment, not three held back by each other. 1 when all of it went,
 * -EAGAIN, -errno. */
static int
stream_send_piece(struct wasp_request *req, int fd)
{
	struct wstream *s = req->stream;
	struct iovec part[4];
	size_t n_part = frame_parts(s, part);

	while (s->frame_left > 0) {
		size_t total = 0, skip;
		struct iovec iov[4];
		int n_iov = 0;
		ssize_t n;

		for (size_t i = 0; i < n_part; i++)
			total += part[i].iov_len;
		skip = total - s->frame_left; /* already sent */
		for (size_t i = 0; i < n_part; i++) {
			if (skip >= part[i].iov_len) {
				skip -= part[i].iov_len;
				continue;
			}
			iov[n_iov++] = (struct iovec){ (char *)part[i].iov_base + skip,
						       part[i].iov_len - skip };
			skip = 0;
		}
		n = sendmsg(fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = (size_t)n_iov },
			    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s->frame_left -= (size_t)n;
		req->bytes_out += (uint64_t)n;
	}
	frame_done(s);
	return 1;
}

/* The next frame: what is buffered, and the end when it came. */
static void
frame_next(struct wstream *s)
{
	if (s->frame_left > 0 || !(s->len > 0 || (s->ended && s->chunked && !s->last_sent)))
		return;
	s->inflight = s->len;
	s->frame_last = s->ended && s->chunked && !s->last_sent;
	s->frame_left = s->inflight + (s->frame_last ? sizeof(WASP_HTTP_CHUNK_LAST) - 1 : 0);
	if (s->chunked && s->inflight)
		s->frame_left += wasp_http_chunk_header(s->chunk_hdr, s->inflight) + 2;
}

ssize_t
stream_send_with_head(struct wasp_request *req, int fd, const struct iovec *head)
{
	struct wstream *s = req->stream;
	struct iovec iov[5];
	size_t n_iov;
	ssize_t n;

	frame_next(s); /* a frame already made is one the head's rest goes before */
	iov[0] = *head;
	n_iov = 1 + frame_parts(s, iov + 1);
	do
		n = sendmsg(fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = n_iov },
			    MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n > head->iov_len) {
		s->frame_left -= (size_t)n - head->iov_len;
		req->bytes_out += (uint64_t)n - head->iov_len;
		if (s->frame_left == 0)
			frame_done(s);
	}
	return MIN(n, (ssize_t)head->iov_len);
}

int
stream_send(struct wasp_request *req, int fd)
{
	struct wstream *s = req->stream;
	int r;

	for (;;) {
		if (s->filter)
			filter_pump(req);
		if (s->failed)
			return -ECONNABORTED;
		if (s->discard) /* HEAD, 204, 304: the bytes go nowhere */
			s->off = s->len = 0;
		frame_next(s);
		if (s->frame_left > 0) {
			r = stream_send_piece(req, fd);
			if (r < 0)
				return r;
		}
		if (s->filter)
			filter_pump(req);
		stream_notify(req);
		if (s->failed)
			return -ECONNABORTED;
		if (s->len > 0 || (s->ended && s->chunked && !s->last_sent))
			continue; /* the producer added more, or ended meanwhile */
		return s->ended ? 1 : 0; /* all out, or wait for the producer */
	}
}
