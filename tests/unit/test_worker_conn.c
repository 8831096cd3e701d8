/* worker/conn.c, request.c, pipeline.c and mod_static: whole connections
 * served over a socketpair in-process, with a temporary content directory.
 * The client side writes its requests (often all at once: pipelining),
 * the event loop runs until the worker closed its end, then the client
 * reads everything the worker wrote. */
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conn.h"
#include "testutil.h"
#include "util.h"
#include "worker.h"

static char *top, *root;
static unsigned n_sendfile;

/* The worker's sendfile calls, counted (then made as the kernel's). */
ssize_t
sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	n_sendfile++;
	return syscall(SYS_sendfile, out_fd, in_fd, offset, count);
}
static struct event_base *base;
static struct worker_env env;
static struct wvdir vdirs[1];
static struct wapp app;

static void
setup(void)
{
	char p[PATH_MAX];

	(void)signal(SIGPIPE, SIG_IGN);
	testutil_fd_setup();
	top = testutil_mkdtemp();
	snprintf(p, sizeof(p), "%s/secret.txt", top);
	testutil_write_file(p, "secret\n");
	root = malloc(PATH_MAX);
	snprintf(root, PATH_MAX, "%s/www", top);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	snprintf(p, sizeof(p), "%s/a.txt", root);
	testutil_write_file(p, "aaa\n");
	snprintf(p, sizeof(p), "%s/b.html", root);
	testutil_write_file(p, "<b>bb</b>\n");
	snprintf(p, sizeof(p), "%s/sub", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/index.html", root);
	testutil_write_file(p, "index of sub\n");
	snprintf(p, sizeof(p), "%s/web.config", root);
	testutil_write_file(p, "<configuration/>\n");
	snprintf(p, sizeof(p), "%s/bin", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/bin/app.dll", root);
	testutil_write_file(p, "MZ\n");
	snprintf(p, sizeof(p), "%s/binx.txt", root);
	testutil_write_file(p, "binx\n");
	snprintf(p, sizeof(p), "%s/empty", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/out", root);
	ck_assert_int_eq(symlink("../secret.txt", p), 0);
	snprintf(p, sizeof(p), "%s/outdir", root);
	ck_assert_int_eq(symlink("..", p), 0);

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(env_init(&env, base), 0);
	ck_assert_int_eq(env_load_modules(&env, WASP_WORKER_F_TEST_HEADERS), 0);
	env.pool_name = strdup("TestPool");
	vdirs[0] = (struct wvdir){ .url = "/", .url_len = 1, .physical_path = root, .root_fd = -1 };
	app = (struct wapp){ .site_id = 1,
			     .site_name = "Site",
			     .path = "/",
			     .path_len = 1,
			     .vdirs = vdirs,
			     .n_vdirs = 1,
			     .connection_timeout_usec = 120ULL * 1000000 };
	env.apps = &app;
	env.n_apps = 1;
}

static void
teardown(void)
{
	env_done(&env);
	event_base_free(base);
	testutil_rmtree(top);
	free(top);
	free(root);
	testutil_fd_teardown();
}

/* Serve one connection, relayed (TLS: a unix socket to the listener's relay)
 * or plain: send `req` (then shut the write side unless keep_open), run the
 * loop until the worker is done, return all it wrote (n_sendfile: the
 * sendfile calls it made meanwhile). */
static char *
serve_on(const char *req, bool keep_open, bool relayed)
{
	struct conn_origin origin = { .tls = relayed ? calloc(1, sizeof(struct conn_tls)) : NULL };
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap + 1);
	struct conn *c;
	ssize_t n;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(conn_prepare(&env, sv[0], NULL, 1, "/", NULL, 0, &origin, &c), 0);
	conn_start(c);
	ck_assert_int_eq(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
	if (!keep_open)
		ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	n_sendfile = 0;
	ck_assert_int_ge(event_base_dispatch(base), 0);
	ck_assert_uint_eq(env.n_conns, 0);
	while ((n = read(sv[1], out + len, cap - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(sv[1]);
	return out;
}

static char *
serve(const char *req, bool keep_open)
{
	return serve_on(req, keep_open, false);
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(test_get)
{
	_cleanup_free_ char *out = serve("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", false);

	ck_assert_msg(startswith(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Length: 4\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Type: text/plain\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nDate: "));
	ck_assert_ptr_nonnull(strstr(out, "\r\nServer: wasp/"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nX-Wasp-Pool: TestPool\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nX-Wasp-Pid: "));
	ck_assert_msg(strstr(out, "\r\n\r\naaa\n") && out[strlen(out) - 1] == '\n', "%s", out);
	ck_assert_uint_eq(env.n_requests, 1);
	ck_assert_uint_eq(env.n_busy, 0);
}
END_TEST

START_TEST(test_pipelined_in_order)
{
	_cleanup_free_ char *out = serve("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /b.html HTTP/1.1\r\nHost: x\r\n\r\n"
					 "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n",
					 false);
	const char *a = strstr(out, "aaa\n"), *b = strstr(out, "<b>bb</b>");
	const char *nf = strstr(out, "HTTP/1.1 404"), *sub = strstr(out, "index of sub");

	ck_assert_int_eq(count(out, "HTTP/1.1 "), 5);
	ck_assert_msg(a && b && nf && sub && a < b && b < nf && nf < sub, "%s", out);
	ck_assert_int_eq(count(out, "aaa\n"), 1); /* HEAD: no body */
	ck_assert_ptr_nonnull(strstr(out, "Content-Type: text/html"));
	ck_assert_ptr_null(strstr(out, "Connection: close"));
	ck_assert_uint_eq(env.n_requests, 5);
}
END_TEST

START_TEST(test_bodies_discarded)
{
	_cleanup_free_ char *out =
		serve("GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
		      "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		      "3;ext=1\r\nGET\r\n10\r\n /b.html HTTP/1.\r\n0\r\nTrailer: x\r\n\r\n"
		      "GET /b.html HTTP/1.1\r\nHost: x\r\n\r\n",
		      false);

	ck_assert_int_eq(count(out, "HTTP/1.1 "), 3);
	ck_assert_msg(strstr(out, "aaa\n") && strstr(out, "HTTP/1.1 405") &&
			      strstr(out, "Allow: GET, HEAD") && strstr(out, "<b>bb</b>"),
		      "%s", out);
}
END_TEST

START_TEST(test_bad_chunked_body)
{
	_cleanup_free_ char *out =
		serve("POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		      "zz\r\nabc\r\n0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
		      false);

	/* nobody reads the body: it is discarded before the response, which
	 * the bad chunk replaces with 400, and the connection closes */
	ck_assert_msg(startswith(out, "HTTP/1.1 400 "), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close"));
	ck_assert_int_eq(count(out, "HTTP/1.1 "), 1);
}
END_TEST

START_TEST(test_body_too_large)
{
	_cleanup_free_ char *out = serve(
		"PUT /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n", false);

	/* nobody reads it and it is too big to discard: 413, then closed */
	ck_assert_msg(startswith(out, "HTTP/1.1 413 "), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close"));
}
END_TEST

START_TEST(test_parse_error_closes)
{
	_cleanup_free_ char *out = serve("GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n"
					 "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
					 false);

	ck_assert_msg(startswith(out, "HTTP/1.1 400 "), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close"));
	ck_assert_ptr_nonnull(strstr(out, "X-Wasp-Pool: TestPool"));
	ck_assert_int_eq(count(out, "HTTP/1.1 "), 1);
}
END_TEST

START_TEST(test_http10)
{
	_cleanup_free_ char *out = serve("GET /a.txt HTTP/1.0\r\n\r\n"
					 "GET /a.txt HTTP/1.0\r\n\r\n",
					 true); /* the worker closes: no EOF needed */

	ck_assert_msg(startswith(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
	ck_assert_int_eq(count(out, "aaa\n"), 1);
	ck_assert_ptr_null(strstr(out, "Connection: keep-alive"));
	ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
}
END_TEST

START_TEST(test_http10_keep_alive)
{
	_cleanup_free_ char *out = serve("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
					 "GET /a.txt HTTP/1.0\r\n\r\n",
					 true);

	ck_assert_int_eq(count(out, "aaa\n"), 2);
	ck_assert_int_eq(count(out, "Connection: keep-alive"), 1);
}
END_TEST

START_TEST(test_connection_close)
{
	_cleanup_free_ char *out =
		serve("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		      "GET /b.html HTTP/1.1\r\nHost: x\r\n\r\n",
		      true);

	ck_assert_int_eq(count(out, "HTTP/1.1 "), 1);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close"));
}
END_TEST

START_TEST(test_traversal)
{
	_cleanup_free_ char *out = serve("GET /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", false);
	_cleanup_free_ char *out2 =
		serve("GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", false);
	_cleanup_free_ char *out3 =
		serve("GET /sub%2f..%2f..%2fsecret.txt HTTP/1.1\r\nHost: x\r\n\r\n", false);
	_cleanup_free_ char *out4 =
		serve("GET /out HTTP/1.1\r\nHost: x\r\n\r\n"
		      "GET /outdir/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"
		      "GET /sub/..%5c..%5csecret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
		      false);

	ck_assert_msg(startswith(out, "HTTP/1.1 400 "), "%s", out);
	ck_assert_msg(startswith(out2, "HTTP/1.1 400 "), "%s", out2);
	ck_assert_msg(startswith(out3, "HTTP/1.1 400 "), "%s", out3);
	ck_assert_msg(startswith(out4, "HTTP/1.1 404 "), "%s", out4);
	ck_assert_int_eq(count(out4, "HTTP/1.1 404 "), 2);
	ck_assert_ptr_null(strstr(out, "secret\n"));
	ck_assert_ptr_null(strstr(out2, "secret\n"));
	ck_assert_ptr_null(strstr(out3, "secret\n"));
	ck_assert_ptr_null(strstr(out4, "secret\n"));
}
END_TEST

START_TEST(test_hidden_segments)
{
	_cleanup_free_ char *out = serve("GET /web.config HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /WEB.CONFIG HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /bin/app.dll HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /Bin/ HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /binx.txt HTTP/1.1\r\nHost: x\r\n\r\n",
					 false);

	ck_assert_int_eq(count(out, "HTTP/1.1 404 "), 4);
	ck_assert_ptr_null(strstr(out, "<configuration"));
	ck_assert_ptr_null(strstr(out, "MZ\n"));
	ck_assert_ptr_nonnull(strstr(out, "binx\n"));
}
END_TEST

START_TEST(test_directories)
{
	_cleanup_free_ char *out = serve("GET /sub?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /empty/ HTTP/1.1\r\nHost: x\r\n\r\n",
					 false);

	ck_assert_msg(startswith(out, "HTTP/1.1 301 "), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\r\nLocation: /sub/?x=1\r\n"));
	/* no default document, directory browsing off: 403.14 */
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 403 "));
}
END_TEST

/* ---- reading the request body (wasp_request_read_body) ---- */

/* /echo: reads the body (asynchronously when it is not all in) and answers
 * "N:<body>"; with ?limit=N it sets a body limit of N bytes first. */
struct echo {
	char buf[256];
	size_t len;
};

static enum wasp_status echo_read(struct wasp_request *req, struct echo *e);

static void
echo_on_body(struct wasp_request *req, void *userdata)
{
	enum wasp_status st = echo_read(req, userdata);

	if (st != WASP_AGAIN)
		wasp_request_resume(req, st);
}

static enum wasp_status
echo_read(struct wasp_request *req, struct echo *e)
{
	for (;;) {
		/* small reads: a chunk's data comes out in several pieces */
		ssize_t n = wasp_request_read_body(req, e->buf + e->len,
						   MIN((size_t)3, sizeof(e->buf) - e->len));
		char head[32];

		if (n > 0) {
			e->len += (size_t)n;
			continue;
		}
		if (n == -EAGAIN)
			return wasp_request_wait_body(req, echo_on_body, e) < 0 ? WASP_ERROR
										 : WASP_AGAIN;
		if (n < 0)
			return WASP_ERROR;
		wasp_response_set_status(req, 200, 0);
		snprintf(head, sizeof(head), "%zu:", e->len);
		(void)wasp_response_write(req, head, strlen(head));
		(void)wasp_response_write(req, e->buf, e->len);
		return WASP_DONE;
	}
}

static enum wasp_status
hook_echo(struct wasp_request *req, void *userdata)
{
	struct echo *e;

	if (!streq(wasp_request_path(req), "/echo"))
		return WASP_OK;
	if (startswith(wasp_request_query(req), "limit="))
		wasp_request_set_body_limit(req, strtoull(wasp_request_query(req) + 6, NULL, 10),
					    404, 13);
	e = wasp_request_alloc(req, sizeof(*e));
	if (!e)
		return WASP_ERROR;
	e->len = 0;
	return echo_read(req, e);
}

static void
add_echo(void)
{
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER,
					WASP_PRIORITY_FIRST, hook_echo, NULL),
			 0);
	hooks_seal(env.hooks);
}

START_TEST(test_read_body)
{
	_cleanup_free_ char *out = NULL;

	add_echo();
	out = serve("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3;ext=1\r\nabc\r\n8\r\ndefghijk\r\n0\r\nTrailer: x\r\n\r\n"
		    "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /b.html HTTP/1.1\r\nHost: x\r\n\r\n",
		    false);
	ck_assert_int_eq(count(out, "HTTP/1.1 200 "), 4);
	ck_assert_msg(strstr(out, "\r\n\r\n5:hello") && strstr(out, "\r\n\r\n11:abcdefghijk") &&
			      strstr(out, "\r\n\r\n0:") && strstr(out, "<b>bb</b>"),
		      "%s", out);
}
END_TEST

START_TEST(test_read_body_limit)
{
	_cleanup_free_ char *out = NULL;

	add_echo();
	out = serve("POST /echo?limit=4 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
		    "GET /b.html HTTP/1.1\r\nHost: x\r\n\r\n",
		    false);
	/* over the limit: the module's status, and the connection closes */
	ck_assert_msg(startswith(out, "HTTP/1.1 404 "), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close"));
	ck_assert_int_eq(count(out, "HTTP/1.1 "), 1);
}
END_TEST

/* Run the loop until nothing is left to do right now. */
static void
loop_once(void)
{
	ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
}

static char *
read_all(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap + 1);
	ssize_t n;

	while ((n = read(fd, out + len, cap - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	return out;
}

/* The body arrives after the head, in pieces: the module waits for it. */
START_TEST(test_read_body_async)
{
	static const char head[] = "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
				   "Connection: close\r\n\r\n";
	_cleanup_free_ char *out = NULL;
	char buf[256];
	int sv[2];

	add_echo();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(conn_new(&env, sv[0], NULL, 1, "/", head, sizeof(head) - 1), 0);
	loop_once();
	ck_assert_int_eq(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -1); /* nothing yet */
	ck_assert_int_eq(write(sv[1], "ab", 2), 2);
	loop_once();
	ck_assert_int_eq(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(write(sv[1], "cdef", 4), 4);
	ck_assert_int_ge(event_base_dispatch(base), 0);
	out = read_all(sv[1]);
	close(sv[1]);
	ck_assert_msg(startswith(out, "HTTP/1.1 200 ") && strstr(out, "\r\n\r\n6:abcdef"), "%s",
		      out);
}
END_TEST

/* Expect: 100-continue: the 100 goes out when a module reads the body; a
 * response that does not read it closes the connection instead. */
START_TEST(test_expect_continue)
{
	static const char head[] = "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
				   "Expect: 100-continue\r\n\r\n";
	_cleanup_free_ char *out = NULL;
	char buf[4096];
	ssize_t n;
	int sv[2];

	add_echo();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(conn_new(&env, sv[0], NULL, 1, "/", head, sizeof(head) - 1), 0);
	n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	ck_assert_int_eq(write(sv[1], "body", 4), 4);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_ge(event_base_dispatch(base), 0);
	out = read_all(sv[1]);
	close(sv[1]);
	ck_assert_msg(startswith(out, "HTTP/1.1 200 ") && strstr(out, "4:body"), "%s", out);
	free(out);

	out = serve("PUT /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
		    "Expect: 100-continue\r\n\r\n",
		    true);
	ck_assert_msg(startswith(out, "HTTP/1.1 405 "), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close"));
	ck_assert_ptr_null(strstr(out, "100 Continue"));
}
END_TEST

START_TEST(test_pending_handler_keeps_order)
{
	_cleanup_free_ char *out = serve("GET /__wasp_test/sleep?ms=30 HTTP/1.1\r\nHost: x\r\n\r\n"
					 "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
					 false);
	const char *s = strstr(out, "slept 30 ms"), *a = strstr(out, "aaa\n");

	ck_assert_msg(s && a && s < a, "%s", out);
}
END_TEST

/* Run the loop until the client end has a response ending in tail. */
static void
client_wait(int fd, const char *tail, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < 1000 && !strstr(buf, tail); i++) {
		ssize_t n;

		event_base_loop(base, EVLOOP_NONBLOCK);
		n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
	}
	ck_assert_msg(strstr(buf, tail), "%s", buf);
}

START_TEST(test_idle_connection_holds_no_buffers)
{
	static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(conn_new(&env, sv[0], NULL, 1, "/", req, sizeof(req) - 1), 0);
	client_wait(sv[1], "aaa\n", buf, sizeof(buf));
	/* waiting for the next request: buffer and arena are back in the pools */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(env.n_conns, 1);
	ck_assert_uint_eq(env.n_spare_bufs, 1);
	ck_assert_uint_eq(env.n_spare_arenas, 1);

	/* the next request takes them again, and gives them back */
	ck_assert_int_eq(write(sv[1], req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	client_wait(sv[1], "aaa\n", buf, sizeof(buf));
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(env.n_spare_bufs, 1);
	ck_assert_uint_eq(env.n_spare_arenas, 1);
	ck_assert_uint_eq(env.n_requests, 2);
	close(sv[1]);
	ck_assert_int_ge(event_base_dispatch(base), 0);
	ck_assert_uint_eq(env.n_conns, 0);
}
END_TEST

START_TEST(test_idle_timeout)
{
	_cleanup_free_ char *out = NULL;

	app.connection_timeout_usec = 50000;
	out = serve("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", true);
	ck_assert_msg(startswith(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
}
END_TEST

START_TEST(test_header_timeout)
{
	_cleanup_free_ char *out = NULL;

	env.header_timeout_usec = 50000;
	out = serve("GET /a.txt HTTP/1.1\r\nHost: x\r\n", true);
	ck_assert_msg(startswith(out, "HTTP/1.1 408 "), "%s", out);
}
END_TEST

static char trace[64];

static enum wasp_status
hook_trace(struct wasp_request *req, void *userdata)
{
	strcat(trace, userdata);
	return WASP_OK;
}

static enum wasp_status
hook_deny(struct wasp_request *req, void *userdata)
{
	strcat(trace, userdata);
	if (startswith(wasp_request_path(req), "/deny")) {
		wasp_response_set_status(req, 401, 2);
		return WASP_DONE;
	}
	return WASP_OK;
}

START_TEST(test_stages_and_priorities)
{
	_cleanup_free_ char *out = NULL;

	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_END_REQUEST, WASP_PRIORITY_MEDIUM,
					hook_trace, "E"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_LOW,
					hook_trace, "b"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_HIGH,
					hook_trace, "B"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_AUTHENTICATE_REQUEST,
					WASP_PRIORITY_MEDIUM, hook_deny, "A"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_AUTHORIZE_REQUEST,
					WASP_PRIORITY_MEDIUM, hook_trace, "Z"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_LOG_REQUEST, WASP_PRIORITY_MEDIUM,
					hook_trace, "L"),
			 0);
	ck_assert_int_eq(
		wasp_hooks_add(env.hooks, WASP_STAGE__COUNT, WASP_PRIORITY_MEDIUM, hook_trace, "?"),
		-EINVAL);
	hooks_seal(env.hooks);

	trace[0] = '\0';
	out = serve("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", false);
	ck_assert_str_eq(trace, "BbAZLE");
	free(out);

	/* finishing in AuthenticateRequest skips to SendResponse, then Log, End */
	trace[0] = '\0';
	out = serve("GET /deny HTTP/1.1\r\nHost: x\r\n\r\n", false);
	ck_assert_str_eq(trace, "BbALE");
	ck_assert_msg(startswith(out, "HTTP/1.1 401 "), "%s", out);
}
END_TEST

static void
write_fill(const char *name, char ch, size_t len)
{
	char p[PATH_MAX];
	_cleanup_free_ char *text = malloc(len + 1);

	memset(text, ch, len);
	text[len] = '\0';
	snprintf(p, sizeof(p), "%s/%s", root, name);
	testutil_write_file(p, text);
}

/* A relayed connection (TLS: a unix socket to the listener's relay) gets a
 * file up to WORKER_RELAY_INLINE_MAX with its head in one send, not by
 * sendfile; a larger one, and any file on a plain connection, by sendfile. */
START_TEST(test_relayed_small_file_one_send)
{
	_cleanup_free_ char *x = malloc(20001), *y = malloc(4097);

	memset(x, 'x', 20000);
	x[20000] = '\0';
	memset(y, 'y', 4096);
	y[4096] = '\0';
	write_fill("4k.txt", 'y', 4096);
	write_fill("20k.txt", 'x', 20000);
	for (int relayed = 0; relayed <= 1; relayed++) {
		_cleanup_free_ char *out = serve_on("GET /4k.txt HTTP/1.1\r\nHost: x\r\n\r\n"
						    "GET /20k.txt HTTP/1.1\r\nHost: x\r\n"
						    "Connection: close\r\n\r\n",
						    true, relayed);
		char *second = strstr(out + 1, "HTTP/1.1 200 OK\r\n");

		ck_assert_msg(startswith(out, "HTTP/1.1 200 OK\r\n") && second, "%s", out);
		ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Length: 4096\r\n"));
		ck_assert_msg(strstr(out, "\r\n\r\n") && startswith(strstr(out, "\r\n\r\n") + 4, y) &&
			      strstr(out, "\r\n\r\n") + 4 + 4096 == second, "%s", out);
		ck_assert_ptr_nonnull(strstr(second, "\r\nContent-Length: 20000\r\n"));
		ck_assert_str_eq(strstr(second, "\r\n\r\n") + 4, x);
		ck_assert_uint_eq(n_sendfile, (relayed ? 1u : 2u));
	}
}
END_TEST

/* Read from fd (non-blocking) while the loop runs, until want bytes came
 * or the deadline passed; returns the bytes read. */
static size_t
drain_until(int fd, size_t want)
{
	static char buf[65536];
	uint64_t deadline = wasp_now_usec() + 10 * 1000000ULL;
	size_t got = 0;

	while (got < want && wasp_now_usec() < deadline) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0)
			got += (size_t)n;
		else
			(void)event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	}
	return got;
}

/* A relayed connection is watched for writing only while a write waits (a
 * unix socket is writable again each time its peer reads: a wakeup per
 * response otherwise); a plain one always. A relayed response larger than
 * the socket holds still goes out whole as the client reads. */
START_TEST(test_relayed_watches_write_only_when_blocked)
{
	static const char req[] = "GET /4k.txt HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char big[] = "GET /big.txt HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t big_len = 4 << 20;

	write_fill("4k.txt", 'y', 4096);
	write_fill("big.txt", 'z', big_len);
	for (int relayed = 0; relayed <= 1; relayed++) {
		struct conn_origin origin = { .tls = relayed ? calloc(1, sizeof(struct conn_tls))
							     : NULL };
		struct conn *c;
		size_t got;
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
		ck_assert_int_eq(conn_prepare(&env, sv[0], NULL, 1, "/", NULL, 0, &origin, &c), 0);
		conn_start(c);
		ck_assert_int_eq(write(sv[1], req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
		got = drain_until(sv[1], 4096 + 100);
		ck_assert_uint_gt(got, 4096);
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		ck_assert(event_pending(&c->ev, EV_READ, NULL));
		ck_assert_int_eq(!!event_pending(&c->ev, EV_WRITE, NULL), !relayed);

		/* more than the socket holds: it waits for writing, then not */
		ck_assert_int_eq(write(sv[1], big, sizeof(big) - 1), (ssize_t)sizeof(big) - 1);
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		ck_assert(event_pending(&c->ev, EV_WRITE, NULL));
		got = drain_until(sv[1], big_len);
		ck_assert_uint_gt(got, big_len);
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		ck_assert_int_eq(!!event_pending(&c->ev, EV_WRITE, NULL), !relayed);
		ck_assert_uint_eq(env.n_requests, 2 * (unsigned)relayed + 2);
		close(sv[1]);
		ck_assert_int_ge(event_base_dispatch(base), 0);
		ck_assert_uint_eq(env.n_conns, 0);
	}
}
END_TEST

static Suite *
worker_conn_suite(void)
{
	Suite *s = suite_create("worker_conn");
	TCase *tc = tcase_create("http");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_pipelined_in_order);
	tcase_add_test(tc, test_bodies_discarded);
	tcase_add_test(tc, test_bad_chunked_body);
	tcase_add_test(tc, test_body_too_large);
	tcase_add_test(tc, test_parse_error_closes);
	tcase_add_test(tc, test_http10);
	tcase_add_test(tc, test_http10_keep_alive);
	tcase_add_test(tc, test_connection_close);
	tcase_add_test(tc, test_traversal);
	tcase_add_test(tc, test_directories);
	tcase_add_test(tc, test_hidden_segments);
	tcase_add_test(tc, test_expect_continue);
	tcase_add_test(tc, test_read_body);
	tcase_add_test(tc, test_read_body_limit);
	tcase_add_test(tc, test_read_body_async);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_idle_connection_holds_no_buffers);
	tcase_add_test(tc, test_header_timeout);
	tcase_add_test(tc, test_relayed_small_file_one_send);
	tcase_add_test(tc, test_relayed_watches_write_only_when_blocked);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipeline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pending_handler_keeps_order);
	tcase_add_test(tc, test_stages_and_priorities);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_conn_suite());
}
