/* wasp-http: the HTTP listener adapter (the HTTP.sys role). The listener
 * core (listener/) does accept, queues, handoff and the activator channel;
 * this file is what is HTTP about it: peeking at the request head (method,
 * target, Host) with the HTTP codec to route it, and the error responses
 * the listener itself writes (400, 404, 414, 431, 503 with Retry-After...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"
#include "listener.h"
#include "util.h"
#include "wasp-build.h"

struct http_adapter {
	/* One parser state for the whole process: a head is parsed from the
	 * start each time more bytes arrive (rare: most heads come in one
	 * read), so no connection carries a 3 KiB parser around. */
	struct wasp_http_request req;
	/* The Date of the responses written here, formatted once a second. */
	struct wasp_http_date_cache date;
};

/* The Server value of the responses the listener writes: the workers' own
 * (RFC 9110 6.6.1 Date, 10.2.4 Server). */
#define HTTP_SERVER_HEADER "wasp/" WASP_VERSION

/* What the log names of the request line, as far as it was parsed. */
static void
peek_request_line(const struct wasp_http_request *req, struct wasp_peek_key *ret)
{
	ret->method = req->method_str.ptr;
	ret->method_len = req->method_str.len;
	ret->target = req->target.ptr;
	ret->target_len = req->target.len;
	if (req->target.len > 0)
		ret->version = req->version == WASP_HTTP_1_0   ? "HTTP/1.0"
			       : req->version == WASP_HTTP_1_1 ? "HTTP/1.1"
							       : NULL;
}

static enum wasp_peek_result
http_peek(void *userdata, const char *buf, size_t len, bool full, struct wasp_peek_key *ret)
{
	struct http_adapter *a = userdata;
	struct wasp_http_request *req = &a->req;
	int r;

	wasp_http_request_init(req);
	r = wasp_http_parse_head(buf, len, NULL, req);
	peek_request_line(req, ret);
	if (r == 0) {
		if (!full)
			return WASP_PEEK_NEED_MORE;
		ret->status = 431;
		ret->reason = "request head too large";
		return WASP_PEEK_ERROR;
	}
	if (r < 0) {
		ret->status = req->err_status ? req->err_status : 400;
		ret->reason = req->err_reason;
		return WASP_PEEK_ERROR;
	}
	if (req->method == WASP_HTTP_METHOD_CONNECT) {
		/* no site serves it (we are no proxy), whatever authority it
		 * names; a worker says the same on a keep-alive connection */
		ret->status = 501;
		ret->reason = "CONNECT not implemented";
		return WASP_PEEK_ERROR;
	}
	if (req->method == WASP_HTTP_METHOD_HEAD)
		ret->flags |= WASP_PEEK_F_NO_BODY;
	ret->host = req->host_name.ptr;
	ret->host_len = req->host_name.len;
	ret->path = req->path.ptr;
	ret->path_len = req->path.len;
	return WASP_PEEK_ROUTE;
}

static void
http_write_error(void *userdata, int fd, unsigned status, const char *reason,
		 unsigned retry_after_s, unsigned peek_flags)
{
	struct http_adapter *a = userdata;
	const char *phrase = wasp_http_reason(status);
	char body[256], head[512], retry[64] = "";
	int bl, hl;

	/* HTTP.sys says "Bad Request - Invalid Hostname" when no binding matches. */
	if (status == 400 && reason && streq(reason, "Invalid Hostname"))
		bl = snprintf(body, sizeof(body),
			      "<!DOCTYPE html>\n<html><head><title>Bad Request</title></head>"
			      "<body><h1>Bad Request - Invalid Hostname</h1></body></html>\n");
	else
		bl = snprintf(body, sizeof(body),
			      "<!DOCTYPE html>\n<html><head><title>%s</title></head>"
			      "<body><h1>%u %s</h1></body></html>\n",
			      phrase, status, phrase);
	if (bl < 0 || (size_t)bl >= sizeof(body))
		return;
	if (retry_after_s > 0)
		(void)snprintf(retry, sizeof(retry), "Retry-After: %u\r\n", retry_after_s);
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 %u %s\r\n"
		      "Date: %s\r\n"
		      "Server: %s\r\n"
		      "Content-Type: text/html; charset=utf-8\r\n"
		      "Content-Length: %d\r\n"
		      "%s"
		      "Connection: close\r\n"
		      "\r\n",
		      status, phrase, wasp_http_date_get(&a->date, time(NULL)), HTTP_SERVER_HEADER,
		      bl, retry);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return;
	{
		/* HEAD: the same head (Content-Length included), no body. */
		struct iovec iov[2] = { { head, (size_t)hl }, { body, (size_t)bl } };
		struct msghdr mh = { .msg_iov = iov,
				     .msg_iovlen = (peek_flags & WASP_PEEK_F_NO_BODY) ? 1 : 2 };
		/* Best effort: a fresh socket's send buffer takes this at once. */
		(void)sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
}

static const struct wasp_listener_ops http_ops = {
	.name = "http",
	.peek = http_peek,
	.write_error = http_write_error,
	.client_speaks_first = true,
	.max_head = WASP_HTTP_MAX_HEAD,
};

int
main(int argc, char **argv)
{
	_cleanup_free_ struct http_adapter *adapter = calloc(1, sizeof(*adapter));

	if (!adapter)
		return 1;
	return wasp_listener_main(&http_ops, adapter, argc, argv);
}
