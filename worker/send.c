/* Writing a response: whether the connection stays open after it
 * (keep-alive), the head and a memory body in one sendmsg, or the head with
 * MSG_MORE (TCP_CORK for files over WORKER_CORK_MIN) then sendfile. On a
 * relayed connection (the plaintext end of the listener's TLS relay, a unix
 * socket) a file up to WORKER_RELAY_INLINE_MAX is read and goes out with the
 * head in one sendmsg: sendfile to a unix socket splices through a pipe, and
 * one send is one read and one TLS record in the relay; TCP options are not
 * set there. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "conn.h"
#include "log.h"
#include "util.h"

void
send_init(struct conn *c)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	/* only a TLS connection can be relayed (with kTLS it is TCP) */
	c->relayed = c->tls && getsockopt(c->fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		     domain == AF_UNIX;
}

/* A relayed connection's small file: read into the request's arena to go
 * out behind the head (iov[1]). Anything short of the whole file leaves it
 * to sendfile, which reports a file that shrank. */
static void
send_file_inline(struct conn *c)
{
	struct wasp_request *req = &c->req;
	char *buf;
	ssize_t n;

	if (!c->relayed || c->file_left == 0 || c->file_left > WORKER_RELAY_INLINE_MAX)
		return;
	buf = wasp_arena_alloc(req->arena, (size_t)c->file_left);
	if (!buf)
		return;
	n = pread(req->file_fd, buf, (size_t)c->file_left, c->file_off);
	if (n < 0 || (uint64_t)n != c->file_left)
		return;
	c->iov[1] = (struct iovec){ buf, (size_t)n };
	c->iov_n = 2;
	c->file_left = 0;
}

/* Prepare the response for writing. false: failed (connection closed). */
bool
send_prepare(struct conn *c)
{
	struct wasp_request *req = &c->req;
	struct worker_env *env = c->env;
	bool bodyless = req->head || req->status < 200 || req->status == 204 || req->status == 304;
	bool streamed = stream_active(req);
	int64_t clen = streamed		 ? stream_length(req)
		       : req->file_fd >= 0 ? (int64_t)req->file_len
					   : (int64_t)req->body_len;
	char *head;
	int n;

	if (req->aborted) {
		log_debug("request aborted by a module: closing without a response");
		return false;
	}
	/* drain_decide() chose not to read it (a streaming handler may still
	 * be reading it: what it leaves is discarded after the response) */
	if ((c->body_open || c->pend_len) && !stream_producing(req))
		c->close_after = true;
	req->keep_alive = req->http && req->http->keep_alive && !c->close_after &&
			  !(env->draining && !wchan_open(c->chan)) && !req->no_keep_alive &&
			  wasp_http_response_can_keep_alive(req->http, clen);
	tunnel_prepare(c);
	n = request_build_head(req, &head);
	if (n < 0) {
		log_errno(n, "build response head");
		return false;
	}
	c->iov[0] = (struct iovec){ head, (size_t)n };
	c->iov_n = 1;
	c->file_left = 0;
	if (streamed) {
		stream_begin(req, bodyless);
		/* pieces go out as the producer gives them: none waits for
		 * the client's ACK of the one before (Nagle) */
		if (!c->nodelay && !c->relayed) {
			int one = 1;
			(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			c->nodelay = true;
		}
	} else if (!bodyless) {
		if (req->file_fd >= 0) {
			c->file_off = req->file_off;
			c->file_left = req->file_len;
			send_file_inline(c);
		} else if (req->body_len) {
			c->iov[1] = (struct iovec){ req->body, req->body_len };
			c->iov_n = 2;
		}
	}
	return true;
}

/* A send that failed with errno: 0 to try again (EINTR), -EAGAIN (the
 * socket is full: wait for it), or -errno. */
static int
send_error(struct conn *c)
{
	if (errno == EINTR)
		return 0;
	if (errno == EAGAIN) {
		c->writable = false;
		return -EAGAIN;
	}
	return -errno;
}

/* Write what is left of the response. 1 done, 0 a streamed body waits for
 * its producer, -EAGAIN, -errno. */
int
send_write(struct conn *c)
{
	struct wasp_request *req = &c->req;

	if (!c->writable)
		return -EAGAIN;
	if (c->iov_n > 0 && c->file_left > WORKER_CORK_MIN && !c->relayed) {
		int one = 1;
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
		c->corked = true;
	}
	if (c->iov_n == 1 && stream_active(req) && stream_pending(req)) {
		ssize_t n = stream_send_with_head(req, c->fd, &c->iov[0]);

		if (n < 0) { /* EINTR was retried */
			errno = (int)-n;
			return send_error(c);
		}
		req->bytes_out += (uint64_t)n;
		c->iov[0].iov_base = (char *)c->iov[0].iov_base + n;
		c->iov[0].iov_len -= (size_t)n;
		if (c->iov[0].iov_len == 0)
			c->iov_n = 0;
	}
	while (c->iov_n > 0) {
		struct msghdr mh = { .msg_iov = c->iov, .msg_iovlen = c->iov_n };
		/* the head waits for what follows it at once (a file, or a
		 * streamed body's first bytes) */
		int more = (c->file_left && !c->corked) || stream_pending(req) ? MSG_MORE : 0;
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | more);
		size_t left;

		if (n < 0) {
			int r = send_error(c);
			if (r == 0)
				continue;
			return r;
		}
		left = (size_t)n;
		req->bytes_out += (uint64_t)n;
		while (c->iov_n > 0 && left >= c->iov[0].iov_len) {
			left -= c->iov[0].iov_len;
			c->iov[0] = c->iov[1];
			c->iov_n--;
		}
		if (c->iov_n > 0) {
			c->iov[0].iov_base = (char *)c->iov[0].iov_base + left;
			c->iov[0].iov_len -= left;
		}
	}
	while (c->file_left > 0) {
		size_t chunk = (size_t)MIN(c->file_left, (uint64_t)(1 << 30));
		ssize_t n = sendfile(c->fd, req->file_fd, &c->file_off, chunk);

		if (n < 0) {
			int r = send_error(c);
			if (r == 0)
				continue;
			return r;
		}
		if (n == 0) /* the file shrank under us: the framing is broken */
			return -EIO;
		c->file_left -= (uint64_t)n;
		req->bytes_out += (uint64_t)n;
	}
	if (c->corked) {
		int zero = 0;
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
		c->corked = false;
	}
	if (stream_active(req)) {
		int r = stream_send(req, c->fd);
		if (r == -EAGAIN)
			c->writable = false;
		return r;
	}
	return 1;
}

/* The response could not be sent whole (err: the send's -errno, or
 * -ETIMEDOUT): the connection is over, but the request still goes through
 * LogRequest and EndRequest, with sc-win32-status saying why, as IIS logs
 * it: 64 (ERROR_NETNAME_DELETED) when the client went away, 1236
 * (ERROR_CONNECTION_ABORTED) when the worker gave up on the connection. */
void
conn_cut(struct conn *c, int err)
{
	c->req.win32_status = wasp_errno_is_disconnect(err) ? 64 : 1236;
	c->req.keep_alive = false;
	if (c->req.stream) /* its producer's writes fail from now on */
		c->req.stream->failed = true;
	c->state = CS_POST;
}
