/* Unit tests for protocols/http/response.c: reason phrases, Date formatting,
 * caching and parsing, the response head builder, chunk framing. */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "testutil.h"

START_TEST(test_reasons)
{
	ck_assert_str_eq(wasp_http_reason(200), "OK");
	ck_assert_str_eq(wasp_http_reason(404), "Not Found");
	ck_assert_str_eq(wasp_http_reason(413), "Content Too Large");
	ck_assert_str_eq(wasp_http_reason(414), "URI Too Long");
	ck_assert_str_eq(wasp_http_reason(431), "Request Header Fields Too Large");
	ck_assert_str_eq(wasp_http_reason(505), "HTTP Version Not Supported");
	ck_assert_str_eq(wasp_http_reason(299), "Unknown");
}
END_TEST

START_TEST(test_date_format)
{
	char buf[WASP_HTTP_DATE_LEN + 1];

	wasp_http_date_format(784111777, buf);
	ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	wasp_http_date_format(0, buf);
	ck_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
	wasp_http_date_format(951782400, buf); /* leap day */
	ck_assert_str_eq(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
	ck_assert_uint_eq(strlen(buf), WASP_HTTP_DATE_LEN);
}
END_TEST

START_TEST(test_date_cache)
{
	struct wasp_http_date_cache c = { 0 };
	const char *d = wasp_http_date_get(&c, 784111777);

	ck_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
	/* same second: not reformatted (poke the buffer to prove it) */
	c.dc_buf[0] = 'X';
	ck_assert_str_eq(wasp_http_date_get(&c, 784111777), "Xun, 06 Nov 1994 08:49:37 GMT");
	ck_assert_str_eq(wasp_http_date_get(&c, 784111778), "Sun, 06 Nov 1994 08:49:38 GMT");
	/* a zeroed cache at time 0 still formats */
	struct wasp_http_date_cache z = { 0 };
	ck_assert_str_eq(wasp_http_date_get(&z, 0), "Thu, 01 Jan 1970 00:00:00 GMT");
}
END_TEST

START_TEST(test_date_parse)
{
	time_t t = 0;

	ck_assert_int_eq(wasp_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t), 0);
	ck_assert_int_eq(t, 784111777);
	t = 0;
	ck_assert_int_eq(wasp_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
	ck_assert_int_eq(t, 784111777);
	t = 0;
	ck_assert_int_eq(wasp_http_date_parse("Sun Nov  6 08:49:37 1994", 24, &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(wasp_http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", 29, &t), 0);
	ck_assert_int_eq(t, 951782400);

	const char *bad[] = { "", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
		"Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMTX",
		"Sun Nov  6 08:49:37 94" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(wasp_http_date_parse(bad[i], strlen(bad[i]), &t) == -EINVAL, "%s",
				bad[i]);

	/* format -> parse round trip */
	char buf[WASP_HTTP_DATE_LEN + 1];
	for (time_t x = 0; x < 4102444800; x += 86400 * 37 + 3671) {
		wasp_http_date_format(x, buf);
		ck_assert_int_eq(wasp_http_date_parse(buf, WASP_HTTP_DATE_LEN, &t), 0);
		ck_assert_int_eq(t, x);
	}
}
END_TEST

static int
build(const struct wasp_http_response_head *h, char *buf, size_t size)
{
	int r = wasp_http_response_head_build(h, buf, size);

	if (r >= 0 && (size_t)r < size)
		buf[r] = '\0';
	return r;
}

START_TEST(test_head_basic)
{
	char buf[512];
	struct wasp_http_response_head h = {
		.status = 200,
		.version = WASP_HTTP_1_1,
		.date = "Sun, 06 Nov 1994 08:49:37 GMT",
		.server = "wasp",
		.content_length = 13,
		.keep_alive = true,
	};

	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 200 OK\r\n"
			      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			      "Server: wasp\r\n"
			      "Content-Length: 13\r\n"
			      "\r\n");

	h.keep_alive = false;
	h.content_length = -1;
	h.status = 404;
	h.date = NULL;
	h.server = NULL;
	struct wasp_http_header extra[] = {
		{ { "Content-Type", 12 }, { "text/html", 9 } },
		{ { "X-Empty", 7 }, { NULL, 0 } },
	};
	h.extra = extra;
	h.n_extra = 2;
	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 404 Not Found\r\n"
			      "Transfer-Encoding: chunked\r\n"
			      "Connection: close\r\n"
			      "Content-Type: text/html\r\n"
			      "X-Empty: \r\n"
			      "\r\n");
}
END_TEST

START_TEST(test_head_http10)
{
	char buf[512];
	struct wasp_http_response_head h = {
		.status = 200,
		.version = WASP_HTTP_1_0,
		.content_length = 5,
		.keep_alive = true,
	};

	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	/* our own version in the status line (RFC 9110 6.2), the request's
	 * persistence rules: keep-alive said, close said */
	ck_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
	/* unknown length: no chunked in 1.0, the body ends at close */
	h.content_length = -1;
	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	h.content_length = 5;
	h.keep_alive = false;
	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
}
END_TEST

START_TEST(test_head_bodyless)
{
	char buf[512];
	struct wasp_http_response_head h = { .status = 304, .content_length = 100,
		.keep_alive = true, .reason = "Not Modified" };

	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 304 Not Modified\r\n\r\n");
	h.status = 204;
	h.reason = NULL;
	h.content_length = -1;
	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 204 No Content\r\n\r\n");
	h.status = 101;
	ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
	ck_assert_str_eq(WASP_HTTP_100_CONTINUE, "HTTP/1.1 100 Continue\r\n\r\n");
}
END_TEST

START_TEST(test_head_errors)
{
	char buf[512];
	struct wasp_http_response_head h = { .status = 200, .content_length = 0,
		.keep_alive = true };
	struct wasp_http_header bad_value[] = { { { "X", 1 }, { "a\r\nSet-Cookie: x", 17 } } };
	struct wasp_http_header bad_name[] = { { { "X:Y", 3 }, { "a", 1 } } };

	ck_assert_int_eq(build(&h, buf, 10), -ENOBUFS);
	int full = build(&h, buf, sizeof(buf));
	ck_assert_int_gt(full, 0);
	ck_assert_int_eq(build(&h, buf, (size_t)full), full); /* exactly fits */
	ck_assert_int_eq(build(&h, buf, (size_t)full - 1), -ENOBUFS);

	h.extra = bad_value;
	h.n_extra = 1;
	ck_assert_int_eq(build(&h, buf, sizeof(buf)), -EINVAL);
	h.extra = bad_name;
	ck_assert_int_eq(build(&h, buf, sizeof(buf)), -EINVAL);
	h.extra = NULL;
	h.n_extra = 0;
	h.server = "wasp\r\nX: y";
	ck_assert_int_eq(build(&h, buf, sizeof(buf)), -EINVAL);
	h.server = NULL;
	h.status = 99;
	ck_assert_int_eq(build(&h, buf, sizeof(buf)), -EINVAL);
	h.status = 1000;
	ck_assert_int_eq(build(&h, buf, sizeof(buf)), -EINVAL);
	h.status = 200;

	/* a CR, LF or NUL anywhere in a value (checked eight bytes at a
	 * time, then the tail), and every other byte accepted */
	char v[22];
	struct wasp_http_header one[] = { { { "X", 1 }, { v, sizeof(v) } } };
	h.extra = one;
	h.n_extra = 1;
	for (size_t pos = 0; pos < sizeof(v); pos++)
		for (size_t k = 0; k < 3; k++) {
			static const char bad[3] = { '\r', '\n', '\0' };
			memset(v, 'a', sizeof(v));
			v[pos] = bad[k];
			ck_assert_int_eq(build(&h, buf, sizeof(buf)), -EINVAL);
		}
	for (unsigned c = 1; c < 256; c++) {
		if (c == '\r' || c == '\n')
			continue;
		memset(v, (int)c, sizeof(v));
		ck_assert_int_gt(build(&h, buf, sizeof(buf)), 0);
	}
}
END_TEST

START_TEST(test_chunk_framing)
{
	char buf[WASP_HTTP_CHUNK_HEADER_MAX];

	ck_assert_uint_eq(wasp_http_chunk_header(buf, 1), 3);
	ck_assert_str_eq(buf, "1\r\n");
	ck_assert_uint_eq(wasp_http_chunk_header(buf, 4096), 6);
	ck_assert_str_eq(buf, "1000\r\n");
	ck_assert_uint_eq(wasp_http_chunk_header(buf, 0xabcdef), 8);
	ck_assert_str_eq(buf, "abcdef\r\n");
	ck_assert_uint_eq(wasp_http_chunk_header(buf, UINT64_MAX), 18);
	ck_assert_str_eq(buf, "ffffffffffffffff\r\n");

	/* what the helpers frame, the decoder reads back */
	char wire[256];
	size_t n = wasp_http_chunk_header(wire, 5);
	memcpy(wire + n, "hello" WASP_HTTP_CHUNK_CRLF WASP_HTTP_CHUNK_LAST, 12);
	n += 12;
	struct wasp_http_chunked c;
	size_t used;
	wasp_http_chunked_init(&c, NULL);
	ck_assert_int_eq(wasp_http_chunked_decode_inplace(&c, wire, &n, &used),
			WASP_HTTP_CHUNK_DONE);
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(wire, "hello", 5) == 0);
}
END_TEST

static Suite *
http_response_suite(void)
{
	Suite *s = suite_create("http_response");
	TCase *tc = tcase_create("response");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_reasons);
	tcase_add_test(tc, test_date_format);
	tcase_add_test(tc, test_date_cache);
	tcase_add_test(tc, test_date_parse);
	tcase_add_test(tc, test_head_basic);
	tcase_add_test(tc, test_head_http10);
	tcase_add_test(tc, test_head_bodyless);
	tcase_add_test(tc, test_head_errors);
	tcase_add_test(tc, test_chunk_framing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(http_response_suite());
}
