/* worker/stream.c through conn.c: a handler that streams its body
 * (wasp_response_stream) over a socketpair in-process. The producer is
 * asynchronous: it writes from an event of its own, as much as the stream
 * takes, and goes on when on_writable calls it. */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"
#include "worker.h"

static struct event_base *base;
static struct worker_env env;
static struct wvdir vdirs[1];
static struct wapp app;
static char *top;

/* what the producer did, for the checks */
static unsigned n_refused, n_writable;

struct producer {
	struct wasp_request *req;
	struct event ev;
	size_t total, sent, abort_at;
};

static void produce(evutil_socket_t fd, short what, void *arg);

static void
on_writable(struct wasp_request *req, void *userdata)
{
	struct producer *p = userdata;

	n_writable++;
	event_active(&p->ev, EV_TIMEOUT, 0);
}

static void
produce(evutil_socket_t fd, short what, void *arg)
{
	struct producer *p = arg;
	char piece[1000];

	memset(piece, 'x', sizeof(piece));
	while (p->sent < p->total) {
		size_t n = MIN(sizeof(piece), p->total - p->sent);
		ssize_t k;

		if (p->abort_at && p->sent >= p->abort_at) {
			wasp_response_stream_abort(p->req);
			return;
		}
		k = wasp_response_stream_write(p->req, piece, n);
		if (k == -EAGAIN) {
			n_refused++;
			return; /* on_writable goes on */
		}
		ck_assert_int_gt(k, 0);
		p->sent += (size_t)k;
	}
	ck_assert_int_eq(wasp_response_stream_end(p->req), 0);
}

static void
producer_cleanup(void *arg)
{
	struct producer *p = arg;

	(void)event_del(&p->ev);
}

/* The handler's own first K bytes, before it returns: they go out in one
 * sendmsg with the head (stream_send_with_head). */
static void
produce_now(struct producer *p, size_t k)
{
	char piece[1000];

	memset(piece, 'x', sizeof(piece));
	while (p->sent < MIN(k, p->total)) {
		ssize_t n = wasp_response_stream_write(p->req, piece,
						       MIN(sizeof(piece), MIN(k, p->total) - p->sent));
		if (n <= 0)
			return;
		p->sent += (size_t)n;
	}
}

/* /stream?N[,known][,abort=K][,now=K] */
static enum wasp_status
hook_stream(struct wasp_request *req, void *userdata)
{
	const char *q = wasp_request_query(req), *a;
	struct producer *p;

	if (!streq(wasp_request_path(req), "/stream"))
		return WASP_OK;
	p = wasp_request_alloc(req, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	*p = (struct producer){ .req = req, .total = strtoull(q, NULL, 10) };
	if ((a = strstr(q, "abort=")))
		p->abort_at = strtoull(a + 6, NULL, 10);
	evtimer_assign(&p->ev, base, produce, p);
	ck_assert_int_eq(wasp_request_on_cleanup(req, producer_cleanup, p), 0);
	wasp_response_set_status(req, 200, 0);
	ck_assert_int_eq(wasp_response_stream(req, strstr(q, "known") ? (int64_t)p->total : -1,
					      on_writable, p),
			 0);
	if ((a = strstr(q, "now=")))
		produce_now(p, strtoull(a + 4, NULL, 10));
	event_active(&p->ev, EV_TIMEOUT, 0);
	return WASP_DONE;
}

/* ?replace: SendResponse replaces the body with an error before the head */
static enum wasp_status
hook_replace(struct wasp_request *req, void *userdata)
{
	if (streq(wasp_request_path(req), "/stream") && strstr(wasp_request_query(req), "replace"))
		request_replace_with_error(req, 502, 0);
	return WASP_OK;
}

static void
setup(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	testutil_fd_setup();
	top = testutil_mkdtemp();
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(env_init(&env, base), 0);
	ck_assert_int_eq(env_load_modules(&env, 0), 0);
	env.pool_name = strdup("TestPool");
	vdirs[0] = (struct wvdir){ .url = "/", .url_len = 1, .physical_path = top, .root_fd = -1 };
	app = (struct wapp){ .site_id = 1, .site_name = "Site", .path = "/", .path_len = 1,
			     .vdirs = vdirs, .n_vdirs = 1,
			     .connection_timeout_usec = 120ULL * 1000000 };
	env.apps = &app;
	env.n_apps = 1;
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER,
					WASP_PRIORITY_FIRST, hook_stream, NULL),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_FIRST,
					hook_replace, NULL),
			 0);
	hooks_seal(env.hooks);
	n_refused = n_writable = 0;
}

static void
teardown(void)
{
	env_done(&env);
	event_base_free(base);
	testutil_rmtree(top);
	free(top);
	testutil_fd_teardown();
}

/* Serve req on a connection; with slow, the client reads only after the
 * worker had to wait for it. Returns everything the worker wrote. */
static char *
serve(const char *req, size_t *ret_len, bool slow)
{
	int sv[2], small = 4096;
	size_t cap = 8 << 20, len = 0;
	char *out = malloc(cap + 1);
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	ck_assert_int_eq(conn_new(&env, sv[0], NULL, 1, "/", NULL, 0), 0);
	ck_assert_int_eq(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	if (slow) {
		/* the worker fills the socket and its stream buffer, then waits */
		for (int i = 0; i < 50; i++)
			ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
		ck_assert_uint_gt(n_refused, 0);
	}
	while (env.n_conns > 0) {
		ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
		while ((n = recv(sv[1], out + len, cap - len, MSG_DONTWAIT)) > 0)
			len += (size_t)n;
	}
	while ((n = read(sv[1], out + len, cap - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(sv[1]);
	*ret_len = len;
	return out;
}

/* The body after the head, with chunked framing removed when chunked. */
static size_t
body_len(const char *out, bool *ret_complete)
{
	const char *p = strstr(out, "\r\n\r\n") + 4;
	size_t total = 0;

	*ret_complete = false;
	if (!strstr(out, "Transfer-Encoding: chunked"))
		return strlen(p);
	for (;;) {
		char *end;
		size_t n = strtoul(p, &end, 16);

		if (end == p || strncmp(end, "\r\n", 2) != 0)
			return total;
		if (n == 0) {
			*ret_complete = strcmp(end, "\r\n\r\n") == 0;
			return total;
		}
		p = end + 2;
		if (strlen(p) < n + 2)
			return total + strlen(p);
		total += n;
		p += n + 2;
	}
}

START_TEST(test_chunked)
{
	size_t len;
	bool complete;
	_cleanup_free_ char *out = serve("GET /stream?300000 HTTP/1.1\r\nHost: x\r\n\r\n", &len,
					 true);

	ck_assert_msg(startswith(out, "HTTP/1.1 200 "), "%.200s", out);
	ck_assert_ptr_nonnull(strstr(out, "Transfer-Encoding: chunked"));
	ck_assert_uint_eq(body_len(out, &complete), 300000);
	ck_assert(complete);
	/* the producer was held back and told when to go on */
	ck_assert_uint_gt(n_writable, 0);
}
END_TEST

/* The head and the first 60,000 bytes in one sendmsg, which the socket
 * (4 KiB) takes only part of: the rest of the head, then of the frame,
 * then the producer's bytes, in order. */
START_TEST(test_head_with_first_bytes)
{
	size_t len;
	bool complete;
	_cleanup_free_ char *out =
		serve("GET /stream?200000,now=60000 HTTP/1.1\r\nHost: x\r\n\r\n", &len, true);
	_cleanup_free_ char *known =
		serve("GET /stream?200000,known,now=60000 HTTP/1.1\r\nHost: x\r\n\r\n", &len,
		      true);

	ck_assert_msg(startswith(out, "HTTP/1.1 200 "), "%.200s", out);
	ck_assert_ptr_nonnull(strstr(out, "Transfer-Encoding: chunked"));
	ck_assert_uint_eq(body_len(out, &complete), 200000);
	ck_assert(complete);
	ck_assert_ptr_nonnull(strstr(known, "Content-Length: 200000\r\n"));
	ck_assert_uint_eq(body_len(known, &complete), 200000);
}
END_TEST

START_TEST(test_known_length)
{
	size_t len;
	bool complete;
	_cleanup_free_ char *out =
		serve("GET /stream?70000,known HTTP/1.1\r\nHost: x\r\n\r\n", &len, false);

	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 70000\r\n"));
	ck_assert_ptr_null(strstr(out, "chunked"));
	ck_assert_uint_eq(body_len(out, &complete), 70000);
}
END_TEST

START_TEST(test_http10_ends_with_connection)
{
	size_t len;
	bool complete;
	_cleanup_free_ char *out = serve("GET /stream?5000 HTTP/1.0\r\n\r\n", &len, false);

	ck_assert_ptr_null(strstr(out, "chunked"));
	ck_assert_ptr_null(strstr(out, "Content-Length"));
	ck_assert_uint_eq(body_len(out, &complete), 5000);
}
END_TEST

START_TEST(test_abort_cuts)
{
	size_t len;
	bool complete;
	_cleanup_free_ char *out =
		serve("GET /stream?200000,abort=100000 HTTP/1.1\r\nHost: x\r\n\r\n", &len, true);

	ck_assert_msg(startswith(out, "HTTP/1.1 200 "), "%.200s", out);
	/* no last chunk: the client sees a cut, never a complete response */
	ck_assert_uint_le(body_len(out, &complete), 100000);
	ck_assert(!complete);
}
END_TEST

START_TEST(test_short_of_length_cuts)
{
	/* abort before the declared length: fewer bytes than Content-Length */
	size_t len;
	bool complete;
	_cleanup_free_ char *out =
		serve("GET /stream?20000,known,abort=10000 HTTP/1.1\r\nHost: x\r\n\r\n", &len, false);

	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 20000\r\n"));
	ck_assert_uint_lt(body_len(out, &complete), 20000);
}
END_TEST

START_TEST(test_replaced_before_head)
{
	size_t len;
	_cleanup_free_ char *out =
		serve("GET /stream?5000,replace HTTP/1.1\r\nHost: x\r\n\r\n", &len, false);

	ck_assert_msg(startswith(out, "HTTP/1.1 502 "), "%.200s", out);
	ck_assert_ptr_null(strstr(out, "xxxx"));
}
END_TEST

START_TEST(test_head_request)
{
	size_t len;
	_cleanup_free_ char *out = serve("HEAD /stream?5000 HTTP/1.1\r\nHost: x\r\n\r\n", &len, false);

	ck_assert_msg(startswith(out, "HTTP/1.1 200 "), "%.200s", out);
	ck_assert_str_eq(strstr(out, "\r\n\r\n"), "\r\n\r\n");
}
END_TEST

static Suite *
worker_stream_suite(void)
{
	Suite *s = suite_create("worker_stream");
	TCase *tc = tcase_create("stream");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_head_with_first_bytes);
	tcase_add_test(tc, test_known_length);
	tcase_add_test(tc, test_http10_ends_with_connection);
	tcase_add_test(tc, test_abort_cuts);
	tcase_add_test(tc, test_short_of_length_cuts);
	tcase_add_test(tc, test_replaced_before_head);
	tcase_add_test(tc, test_head_request);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_stream_suite());
}
