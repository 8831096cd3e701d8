/* Unit tests for protocols/http/parser.c: one test per rejection class and
 * per limit, and acceptance tests (forms, pipelining, incremental feeding,
 * connection rules). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "testutil.h"
#include "util.h"

static struct wasp_http_request req;

static int
parse_n(const char *s, size_t n, const struct wasp_http_limits *lim)
{
	wasp_http_request_init(&req);
	return wasp_http_parse_head(s, n, lim, &req);
}

static int
parse(const char *s)
{
	return parse_n(s, strlen(s), NULL);
}

static bool
str_is(struct wasp_http_str s, const char *lit)
{
	return s.ptr && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

#define ck_str(s, lit) ck_assert_msg(str_is((s), (lit)), "'%.*s' != '%s'", (int)(s).len, \
		(s).ptr ? (s).ptr : "(null)", (lit))

/* Expect a rejection with status; also check that feeding the same bytes one
 * at a time gives the same status (the error is not an artefact of having
 * the whole buffer). */
static void
expect_status_n(const char *s, size_t n, const struct wasp_http_limits *lim, int status)
{
	int r = parse_n(s, n, lim);

	ck_assert_msg(r == -EBADMSG, "'%.*s': r=%d (expected status %d)", (int)n, s, r, status);
	ck_assert_msg(req.err_status == status, "'%.*s': status %u (%s), expected %d", (int)n, s,
			req.err_status, req.err_reason, status);
	ck_assert_ptr_nonnull(req.err_reason);

	wasp_http_request_init(&req);
	r = 0;
	for (size_t i = 1; i <= n && r == 0; i++)
		r = wasp_http_parse_head(s, i, lim, &req);
	ck_assert_int_eq(r, -EBADMSG);
	ck_assert_int_eq(req.err_status, status);
}

static void
expect_status(const char *s, int status)
{
	expect_status_n(s, strlen(s), NULL, status);
}

static void
expect_ok(const char *s)
{
	int r = parse(s);

	ck_assert_msg(r == (int)strlen(s), "'%s': r=%d status %u (%s)", s, r, req.err_status,
			req.err_reason ? req.err_reason : "");
}

/* ---- acceptance ---- */

START_TEST(test_simple_get)
{
	const char *s = "GET /index.html?a=1&b=%20 HTTP/1.1\r\n"
			"Host: Example.COM:8080\r\n"
			"User-Agent:  curl/8.0 \r\n"
			"Accept: */*\r\n"
			"\r\n";
	ck_assert_int_eq(parse(s), (int)strlen(s));
	ck_assert_int_eq(req.method, WASP_HTTP_METHOD_GET);
	ck_str(req.method_str, "GET");
	ck_str(req.target, "/index.html?a=1&b=%20");
	ck_str(req.path, "/index.html");
	ck_str(req.query, "a=1&b=%20");
	ck_assert_int_eq(req.form, WASP_HTTP_FORM_ORIGIN);
	ck_assert_int_eq(req.version, WASP_HTTP_1_1);
	ck_assert_uint_eq(req.n_headers, 3);
	ck_str(req.headers[1].name, "User-Agent");
	ck_str(req.headers[1].value, "curl/8.0");
	ck_str(req.host, "Example.COM:8080");
	ck_str(req.host_name, "Example.COM");
	ck_assert_uint_eq(req.host_port, 8080);
	ck_assert(req.keep_alive);
	ck_assert(!req.has_content_length);
	ck_assert(!req.chunked);
	ck_assert(!req.expect_continue);
	ck_assert(!req.upgrade);
	ck_assert_uint_eq(req.head_len, strlen(s));
	ck_str(wasp_http_request_header(&req, "user-agent")->value, "curl/8.0");
	ck_assert_ptr_null(wasp_http_request_header(&req, "Cookie"));
	ck_assert_str_eq(wasp_http_method_name(req.method), "GET");
}
END_TEST

START_TEST(test_no_query_and_empty_query)
{
	expect_ok("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_ptr_null(req.query.ptr);
	expect_ok("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_ptr_nonnull(req.query.ptr);
	ck_assert_uint_eq(req.query.len, 0);
	ck_str(req.path, "/a");
}
END_TEST

START_TEST(test_absolute_form)
{
	expect_ok("GET http://www.example.org:81/p/q?x=1 HTTP/1.1\r\nHost: other.example\r\n\r\n");
	ck_assert_int_eq(req.form, WASP_HTTP_FORM_ABSOLUTE);
	ck_str(req.host, "www.example.org:81");
	ck_str(req.host_name, "www.example.org");
	ck_assert_uint_eq(req.host_port, 81);
	ck_str(req.path, "/p/q");
	ck_str(req.query, "x=1");

	expect_ok("GET HTTPS://[::1]?y HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_str(req.host_name, "[::1]");
	ck_str(req.path, "/");
	ck_str(req.query, "y");

	/* the Host field is still required and must be valid */
	expect_status("GET http://a/ HTTP/1.1\r\n\r\n", 400);
	expect_status("GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
	expect_status("GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}
END_TEST

START_TEST(test_other_forms)
{
	expect_ok("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(req.form, WASP_HTTP_FORM_ASTERISK);
	ck_str(req.path, "*");
	expect_status("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);

	expect_ok("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
	ck_assert_int_eq(req.form, WASP_HTTP_FORM_AUTHORITY);
	ck_str(req.host_name, "example.org");
	ck_assert_uint_eq(req.host_port, 443);
	expect_status("CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	expect_status("CONNECT example.org HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}
END_TEST

START_TEST(test_methods)
{
	expect_ok("PATCH / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(req.method, WASP_HTTP_METHOD_PATCH);
	expect_ok("PROPFIND / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(req.method, WASP_HTTP_METHOD_OTHER);
	ck_str(req.method_str, "PROPFIND");
	ck_assert_ptr_null(wasp_http_method_name(req.method));
	/* methods are case-sensitive */
	expect_ok("get / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(req.method, WASP_HTTP_METHOD_OTHER);
	expect_ok("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(req.method, WASP_HTTP_METHOD_HEAD);
	ck_assert(wasp_http_method_is_get_or_head("GET"));
	ck_assert(wasp_http_method_is_get_or_head("HEAD"));
	ck_assert(!wasp_http_method_is_get_or_head("get"));
	ck_assert(!wasp_http_method_is_get_or_head("POST"));
	ck_assert(!wasp_http_method_is_get_or_head("GETS"));
}
END_TEST

START_TEST(test_pipelined)
{
	const char *s = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
			"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
			"GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
			"GET /4 HTT";
	size_t off = 0, n = strlen(s);
	int r;

	r = parse_n(s + off, n - off, NULL);
	ck_assert_int_gt(r, 0);
	ck_str(req.path, "/1");
	off += (size_t)r;

	r = parse_n(s + off, n - off, NULL);
	ck_assert_int_gt(r, 0);
	ck_str(req.path, "/2");
	ck_assert(req.has_content_length);
	ck_assert_uint_eq(req.content_length, 5);
	ck_assert(memcmp(s + off + r, "hello", 5) == 0);
	off += (size_t)r + 5;

	r = parse_n(s + off, n - off, NULL);
	ck_assert_int_gt(r, 0);
	ck_str(req.path, "/3");
	ck_assert(!req.keep_alive);
	off += (size_t)r;

	ck_assert_int_eq(parse_n(s + off, n - off, NULL), 0);
}
END_TEST

/* Feeding one byte at a time gives the same result as one buffer, and only
 * the final call completes. The buffer moves on every call (a copy), which
 * exercises rebasing. */
START_TEST(test_incremental_bytewise)
{
	const char *s = "\r\nPOST http://h.example/up?q HTTP/1.1\r\n"
			"Host: ignored\r\n"
			"Transfer-Encoding: chunked\r\n"
			"Expect: 100-continue\r\n"
			"X-A:\tb c\t\r\n"
			"\r\nBODY";
	size_t n = strlen(s) - 4;
	struct wasp_http_request whole;
	int r = 0;

	ck_assert_int_eq(parse_n(s, strlen(s), NULL), (int)n);
	whole = req;

	wasp_http_request_init(&req);
	for (size_t i = 1; i <= strlen(s) && r == 0; i++) {
		char *copy = malloc(i);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, s, i);
		r = wasp_http_parse_head(copy, i, NULL, &req);
		if (r == 0) {
			ck_assert_uint_lt(i, n);
			free(copy);
			continue;
		}
		ck_assert_int_eq(r, (int)n);
		ck_assert_uint_eq(i, n);
		ck_assert_int_eq(req.method, whole.method);
		ck_assert_int_eq(req.form, whole.form);
		ck_str(req.target, "http://h.example/up?q");
		ck_str(req.path, "/up");
		ck_str(req.query, "q");
		ck_str(req.host, "h.example");
		ck_assert_uint_eq(req.n_headers, whole.n_headers);
		ck_str(req.headers[3].name, "X-A");
		ck_str(req.headers[3].value, "b c");
		ck_assert(req.chunked);
		ck_assert(req.expect_continue);
		ck_assert(req.keep_alive);
		/* calling again after completion is idempotent */
		ck_assert_int_eq(wasp_http_parse_head(copy, i, NULL, &req), (int)n);
		free(copy);
	}
	ck_assert_int_eq(r, (int)n);
}
END_TEST

START_TEST(test_shrinking_input)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\n";

	ck_assert_int_eq(parse(s), 0);
	ck_assert_int_eq(wasp_http_parse_head(s, 5, NULL, &req), -EINVAL);
	ck_assert_int_eq(wasp_http_parse_head(s, strlen(s), NULL, &req), 0);
}
END_TEST

START_TEST(test_keep_alive_rules)
{
	expect_ok("GET / HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(req.version, WASP_HTTP_1_0);
	ck_assert(!req.keep_alive);
	ck_assert_ptr_null(req.host.ptr);

	expect_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	ck_assert(req.keep_alive);
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
	ck_assert(!req.keep_alive);

	expect_ok("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert(req.keep_alive);
	expect_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n");
	ck_assert(!req.keep_alive);
	ck_assert(req.connection_close);
	expect_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
	ck_assert(req.keep_alive);

	/* HTTP/1.2 is served as 1.1 */
	expect_ok("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(req.version, WASP_HTTP_1_1);
	ck_assert(req.keep_alive);

	/* wasp_http_response_can_keep_alive: 1.0 needs a known length */
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert(wasp_http_response_can_keep_alive(&req, 10));
	ck_assert(!wasp_http_response_can_keep_alive(&req, -1));
}
END_TEST

START_TEST(test_expect_upgrade)
{
	expect_ok("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-Continue\r\n\r\n");
	ck_assert(req.expect_continue);
	expect_ok("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: something\r\n\r\n");
	ck_assert(!req.expect_continue);

	expect_ok("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	ck_assert(req.upgrade);
	ck_str(req.upgrade_value, "websocket");
	expect_ok("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
	ck_assert(!req.upgrade);
	ck_assert_ptr_null(req.upgrade_value.ptr);
	/* HTTP/1.0: both ignored */
	expect_ok("PUT /f HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
	ck_assert(!req.expect_continue);
	expect_ok("GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	ck_assert(!req.upgrade);
}
END_TEST

START_TEST(test_host_forms)
{
	expect_ok("GET / HTTP/1.1\r\nHost: \r\n\r\n"); /* empty Host is allowed */
	ck_assert_ptr_nonnull(req.host.ptr);
	ck_assert_uint_eq(req.host.len, 0);
	expect_ok("GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");
	ck_str(req.host_name, "[2001:db8::1]");
	ck_assert_uint_eq(req.host_port, 8443);
	expect_ok("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	ck_str(req.host_name, "127.0.0.1");
	ck_assert_uint_eq(req.host_port, 0);
	expect_status("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400);
}
END_TEST

START_TEST(test_leading_empty_lines)
{
	expect_ok("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_str(req.path, "/");
	expect_status("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}
END_TEST

START_TEST(test_content_length)
{
	expect_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	ck_assert(req.has_content_length);
	ck_assert_uint_eq(req.content_length, 0);
	expect_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 123456789012345678\r\n\r\n");
	ck_assert_uint_eq(req.content_length, 123456789012345678ull);
	/* identical duplicates are accepted (RFC 9110 8.6) */
	expect_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n");
	ck_assert_uint_eq(req.content_length, 5);
	expect_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n");
	ck_assert_uint_eq(req.content_length, 5);
}
END_TEST

START_TEST(test_chunked_te)
{
	expect_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	ck_assert(req.chunked);
	expect_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n");
	ck_assert(req.chunked);
	expect_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked\r\n\r\n");
	ck_assert(req.chunked);
}
END_TEST

START_TEST(test_raw_utf8_target)
{
	expect_ok("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_str(req.path, "/caf\xc3\xa9");
}
END_TEST

START_TEST(test_bare_lf_allowed)
{
	struct wasp_http_limits lim = wasp_http_default_limits;
	const char *s = "GET / HTTP/1.1\nHost: h\r\nX: y\n\n";

	lim.allow_bare_lf = true;
	ck_assert_int_eq(parse_n(s, strlen(s), &lim), (int)strlen(s));
	ck_str(req.headers[1].value, "y");
	ck_str(req.host, "h");
}
END_TEST

/* ---- rejections ---- */

START_TEST(test_reject_cl_and_te)
{
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
		      "Content-Length: 5\r\n\r\n", 400);
}
END_TEST

START_TEST(test_reject_bad_content_length)
{
	const char *bad[] = { "", "abc", "-1", "+5", "5 5", "0x10", "1.0", "5,", ",5",
		"1234567890123456789", "5, 6" };
	char buf[256];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(buf, sizeof(buf),
				"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n", bad[i]);
		expect_status(buf, 400);
	}
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
		      "Content-Length: 6\r\n\r\n", 400);
}
END_TEST

START_TEST(test_reject_te_not_last_chunked)
{
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
		      "Transfer-Encoding: gzip\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
			400);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400);
	/* Transfer-Encoding in HTTP/1.0 is faulty framing */
	expect_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}
END_TEST

START_TEST(test_reject_te_unknown)
{
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501);
}
END_TEST

START_TEST(test_reject_obs_fold)
{
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\tc\r\n\r\n", 400);
	/* whitespace between the request-line and the first field */
	expect_status("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
}
END_TEST

START_TEST(test_reject_bare_cr)
{
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\rc\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\rHost: h\r\n\r\n", 400);
	expect_status("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", 400);
	/* No LF anywhere: settled by the byte after the CR, whole or byte by
	 * byte (expect_status feeds both ways), not by a timeout. */
	expect_status("GET /index.html HTTP/1.1\rHost: a.test\rConnection: close\r\r", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\rX", 400);
	expect_status("\rGET / HTTP/1.1", 400);
	/* a CR at the end of what arrived is not settled yet */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r"), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r"), 0);
	/* a line over the limit before the CR's next byte is still 414 */
	struct wasp_http_limits lim = wasp_http_default_limits;
	lim.request_line = 8;
	expect_status_n("GET /abcdef\rX", 13, &lim, 414);
	expect_status_n("GET /\rX", 7, &lim, 400);
}
END_TEST

START_TEST(test_reject_bare_lf)
{
	expect_status("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\n\n", 400);
}
END_TEST

START_TEST(test_reject_space_before_colon)
{
	expect_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 5\r\n\r\n", 400);
	ck_assert_str_eq(req.err_reason, "whitespace between field name and colon");
}
END_TEST

START_TEST(test_reject_ctl_in_value)
{
	static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";

	expect_status_n(nul, sizeof(nul) - 1, NULL, 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f" "b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b[31m\r\n\r\n", 400);
	/* obs-text and HTAB are fine */
	expect_ok("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\xe9\r\n\r\n");
}
END_TEST

START_TEST(test_reject_bad_method)
{
	expect_status("GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	expect_status(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	expect_status("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	expect_status("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	expect_status("G\xc3\x89T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	/* longer than WASP_HTTP_MAX_METHOD */
	expect_status("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}
END_TEST

START_TEST(test_reject_bad_field_name)
{
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\n: z\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX\xe9: z\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nX\"y: z\r\n\r\n", 400);
}
END_TEST

START_TEST(test_reject_bad_target)
{
	const char *bad[] = { "/a b", "/a<b", "/a>b", "/a\"b", "/a#frag", "/a\\b", "/a{b",
		"/a|b", "/a^b", "/a`b", "/a%zz", "/a%4", "/a%", "/a\x7f", "/a\x01" };
	char buf[256];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", bad[i]);
		expect_status(buf, 400);
	}
	static const char nul[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
	expect_status_n(nul, sizeof(nul) - 1, NULL, 400);
}
END_TEST

START_TEST(test_reject_host_count)
{
	expect_status("GET / HTTP/1.1\r\n\r\n", 400);
	ck_assert_str_eq(req.err_reason, "missing Host field");
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
}
END_TEST

START_TEST(test_reject_version)
{
	expect_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
	expect_status("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505);
	expect_status("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505);
	expect_status("GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400);
	expect_status("GET / HTTP/1\r\nHost: h\r\n\r\n", 400);
	expect_status("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
	expect_status("GET / HTTP/11\r\nHost: h\r\n\r\n", 400);
	expect_status("GET /\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_limit_request_line)
{
	size_t n = WASP_HTTP_MAX_REQUEST_LINE + 100;
	char *s = malloc(n + 64);
	ck_assert_ptr_nonnull(s);

	/* exactly at the limit: accepted (line incl. CRLF = 8192 bytes) */
	size_t path_len = WASP_HTTP_MAX_REQUEST_LINE - strlen("GET  HTTP/1.1\r\n");
	memcpy(s, "GET ", 4);
	s[4] = '/';
	memset(s + 5, 'a', path_len - 1);
	strcpy(s + 4 + path_len, " HTTP/1.1\r\nHost: h\r\n\r\n");
	expect_ok(s);
	ck_assert_uint_eq(req.path.len, path_len);

	/* one more: 414, both complete and as a stream that never ends */
	s[4] = '/';
	memset(s + 5, 'a', path_len);
	strcpy(s + 5 + path_len, " HTTP/1.1\r\nHost: h\r\n\r\n");
	expect_status(s, 414);
	s[WASP_HTTP_MAX_REQUEST_LINE + 1] = '\0';
	ck_assert_int_eq(parse(s), -EBADMSG);
	ck_assert_int_eq(req.err_status, 414);
	s[WASP_HTTP_MAX_REQUEST_LINE] = '\0';
	ck_assert_int_eq(parse(s), 0);
	free(s);

	/* a lower configured limit */
	struct wasp_http_limits lim = wasp_http_default_limits;
	lim.request_line = 16;
	const char *r = "GET /0123456789 HTTP/1.1\r\nHost: h\r\n\r\n";
	expect_status_n(r, strlen(r), &lim, 414);
	/* the limit wins over a bad line ending, however the bytes arrive */
	r = "GET /0123456789 HTTP/1.1\nHost: h\r\n\r\n";
	expect_status_n(r, strlen(r), &lim, 414);
}
END_TEST

START_TEST(test_limit_head_bytes)
{
	size_t n = WASP_HTTP_MAX_HEAD + 100;
	char *s = malloc(n + 1024);
	ck_assert_ptr_nonnull(s);
	size_t off = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\n");

	while (off < n) {
		off += (size_t)sprintf(s + off, "X-Filler-%05zu: %s\r\n", off,
				"0123456789012345678901234567890123456789012345678901234567890123456789"
				"0123456789012345678901234567890123456789"
				"0123456789012345678901234567890123456789012345678901234567890123456789"
				"0123456789012345678901234567890123456789");
	}
	strcpy(s + off, "\r\n");
	struct wasp_http_limits lim = wasp_http_default_limits;
	lim.fields = WASP_HTTP_MAX_FIELDS;
	expect_status(s, 431);
	ck_assert_str_eq(req.err_reason, "request header fields too large");

	/* no end in sight: 431 as soon as the limit is passed */
	s[WASP_HTTP_MAX_HEAD + 1] = '\0';
	ck_assert_int_eq(parse(s), -EBADMSG);
	ck_assert_int_eq(req.err_status, 431);
	free(s);

	/* configured lower */
	lim.head = 40;
	const char *h = "GET / HTTP/1.1\r\nHost: h\r\nX-Long: 0123456789\r\n\r\n";
	expect_status_n(h, strlen(h), &lim, 431);
	lim.head = (uint32_t)strlen(h);
	ck_assert_int_eq(parse_n(h, strlen(h), &lim), (int)strlen(h));
}
END_TEST

START_TEST(test_limit_field_count)
{
	char *s = malloc(64 * 1024);
	ck_assert_ptr_nonnull(s);
	size_t off = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\n");

	for (int i = 1; i < WASP_HTTP_MAX_FIELDS; i++)
		off += (size_t)sprintf(s + off, "X-%d: v\r\n", i);
	strcpy(s + off, "\r\n");
	expect_ok(s); /* exactly 100 */
	ck_assert_uint_eq(req.n_headers, WASP_HTTP_MAX_FIELDS);
	off += (size_t)sprintf(s + off, "X-last: v\r\n");
	strcpy(s + off, "\r\n");
	expect_status(s, 431);
	ck_assert_str_eq(req.err_reason, "too many header fields");

	struct wasp_http_limits lim = wasp_http_default_limits;
	lim.fields = 2;
	const char *h = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
	expect_status_n(h, strlen(h), &lim, 431);
	free(s);
}
END_TEST

START_TEST(test_limit_content_length)
{
	struct wasp_http_limits lim = wasp_http_default_limits;
	const char *ok = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n";
	const char *big = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n";

	lim.body = 100;
	ck_assert_int_eq(parse_n(ok, strlen(ok), &lim), (int)strlen(ok));
	expect_status_n(big, strlen(big), &lim, 413);
	/* unlimited by default */
	expect_ok(big);
}
END_TEST

START_TEST(test_list_has_token)
{
	struct wasp_http_str v = { "foo, Bar ;q=1 ,, baz", 20 };

	ck_assert(wasp_http_list_has_token(v, "foo"));
	ck_assert(wasp_http_list_has_token(v, "bar"));
	ck_assert(wasp_http_list_has_token(v, "BAZ"));
	ck_assert(!wasp_http_list_has_token(v, "ba"));
	ck_assert(!wasp_http_list_has_token((struct wasp_http_str){ NULL, 0 }, "x"));
	ck_assert(wasp_http_str_eq_ci((struct wasp_http_str){ "Host", 4 }, "host"));
	ck_assert(!wasp_http_str_eq_ci((struct wasp_http_str){ "Hos", 3 }, "host"));
}
END_TEST

static Suite *
http_parser_suite(void)
{
	Suite *s = suite_create("http_parser");
	TCase *tc = tcase_create("accept");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_simple_get);
	tcase_add_test(tc, test_no_query_and_empty_query);
	tcase_add_test(tc, test_absolute_form);
	tcase_add_test(tc, test_other_forms);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_incremental_bytewise);
	tcase_add_test(tc, test_shrinking_input);
	tcase_add_test(tc, test_keep_alive_rules);
	tcase_add_test(tc, test_expect_upgrade);
	tcase_add_test(tc, test_host_forms);
	tcase_add_test(tc, test_leading_empty_lines);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_chunked_te);
	tcase_add_test(tc, test_raw_utf8_target);
	tcase_add_test(tc, test_bare_lf_allowed);
	tcase_add_test(tc, test_list_has_token);
	suite_add_tcase(s, tc);

	tc = tcase_create("reject");
	tcase_add_test(tc, test_reject_cl_and_te);
	tcase_add_test(tc, test_reject_bad_content_length);
	tcase_add_test(tc, test_reject_te_not_last_chunked);
	tcase_add_test(tc, test_reject_te_unknown);
	tcase_add_test(tc, test_reject_obs_fold);
	tcase_add_test(tc, test_reject_bare_cr);
	tcase_add_test(tc, test_reject_bare_lf);
	tcase_add_test(tc, test_reject_space_before_colon);
	tcase_add_test(tc, test_reject_ctl_in_value);
	tcase_add_test(tc, test_reject_bad_method);
	tcase_add_test(tc, test_reject_bad_field_name);
	tcase_add_test(tc, test_reject_bad_target);
	tcase_add_test(tc, test_reject_host_count);
	tcase_add_test(tc, test_reject_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_limit_request_line);
	tcase_add_test(tc, test_limit_head_bytes);
	tcase_add_test(tc, test_limit_field_count);
	tcase_add_test(tc, test_limit_content_length);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(http_parser_suite());
}
