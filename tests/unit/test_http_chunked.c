/* Unit tests for protocols/http/chunked.c: the streaming chunked decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "testutil.h"

/* Decode all of s[0..n) feeding step bytes at a time (the caller keeps no
 * bytes: whatever was consumed is gone). Collects the body into out.
 * Returns the last decoder result; *ret_used is the input used when DONE. */
static int
decode_all(const char *s, size_t n, size_t step, const struct wasp_http_limits *lim,
		struct wasp_http_chunked *c, char *out, size_t *ret_out_len, size_t *ret_used)
{
	size_t in = 0, out_len = 0;
	int r = WASP_HTTP_CHUNK_AGAIN;

	wasp_http_chunked_init(c, lim);
	while (in < n) {
		size_t avail = n - in < step ? n - in : step;
		size_t used;
		struct wasp_http_str d;

		r = wasp_http_chunked_decode(c, s + in, avail, &used, &d);
		if (r < 0)
			break;
		ck_assert_uint_le(used, avail);
		if (r == WASP_HTTP_CHUNK_DATA) {
			ck_assert_ptr_eq(d.ptr + d.len, s + in + used);
			memcpy(out + out_len, d.ptr, d.len);
			out_len += d.len;
		}
		in += used;
		if (r == WASP_HTTP_CHUNK_DONE)
			break;
		if (r == WASP_HTTP_CHUNK_AGAIN)
			ck_assert_uint_eq(used, avail);
	}
	*ret_out_len = out_len;
	*ret_used = in;
	return r;
}

static void
expect_body(const char *s, const char *body, const char *rest,
		const struct wasp_http_limits *lim)
{
	size_t n = strlen(s), steps[] = { 1, 2, 3, 7, n };

	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct wasp_http_chunked c;
		char out[4096];
		size_t out_len, used;
		int r = decode_all(s, n, steps[k], lim, &c, out, &out_len, &used);

		ck_assert_msg(r == WASP_HTTP_CHUNK_DONE, "step %zu: r=%d (%s)", steps[k], r,
				c.err_reason ? c.err_reason : "");
		ck_assert_uint_eq(out_len, strlen(body));
		ck_assert(memcmp(out, body, out_len) == 0);
		ck_assert_uint_eq(c.body_len, strlen(body));
		ck_assert_str_eq(s + used, rest);
	}
}

static void
expect_error(const char *s, int status, const struct wasp_http_limits *lim)
{
	size_t n = strlen(s), steps[] = { 1, n };

	for (size_t k = 0; k < 2; k++) {
		struct wasp_http_chunked c;
		char out[4096];
		size_t out_len, used;
		int r = decode_all(s, n, steps[k], lim, &c, out, &out_len, &used);

		ck_assert_msg(r == -EBADMSG, "'%s' step %zu: r=%d", s, steps[k], r);
		ck_assert_msg(c.err_status == status, "'%s': status %u (%s), expected %d", s,
				c.err_status, c.err_reason, status);
		/* the decoder stays failed */
		size_t used2;
		struct wasp_http_str d;
		ck_assert_int_eq(wasp_http_chunked_decode(&c, "0\r\n\r\n", 5, &used2, &d), -EBADMSG);
	}
}

START_TEST(test_simple)
{
	expect_body("5\r\nhello\r\n0\r\n\r\n", "hello", "", NULL);
	expect_body("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hello world",
			"GET / HTTP/1.1\r\n", NULL);
	expect_body("0\r\n\r\n", "", "", NULL);
	expect_body("000A\r\n0123456789\r\n0\r\n\r\n", "0123456789", "", NULL);
	expect_body("a\r\n0123456789\r\n00\r\n\r\n", "0123456789", "", NULL);
}
END_TEST

START_TEST(test_extensions)
{
	expect_body("5;foo=bar\r\nhello\r\n0\r\n\r\n", "hello", "", NULL);
	expect_body("5 ; foo = bar ; baz\r\nhello\r\n0;last\r\n\r\n", "hello", "", NULL);
	expect_body("5;q=\"a \\\" b;c\"\r\nhello\r\n0\r\n\r\n", "hello", "", NULL);
	expect_body("5;a;b=1;c=\"\"\r\nhello\r\n0\r\n\r\n", "hello", "", NULL);
}
END_TEST

START_TEST(test_trailers)
{
	expect_body("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-B:\r\n\r\nNEXT", "hello", "NEXT", NULL);
}
END_TEST

START_TEST(test_inplace)
{
	char buf[] = "3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: v\r\n\r\nNEXT";
	size_t len = strlen(buf), used;
	struct wasp_http_chunked c;

	wasp_http_chunked_init(&c, NULL);
	ck_assert_int_eq(wasp_http_chunked_decode_inplace(&c, buf, &len, &used),
			WASP_HTTP_CHUNK_DONE);
	ck_assert_uint_eq(len, 7);
	ck_assert(memcmp(buf, "abcdefg", 7) == 0);
	ck_assert_str_eq(buf + used, "NEXT");

	/* partial input: AGAIN, everything consumed */
	char part[] = "3\r\nab";
	len = strlen(part);
	wasp_http_chunked_init(&c, NULL);
	ck_assert_int_eq(wasp_http_chunked_decode_inplace(&c, part, &len, &used),
			WASP_HTTP_CHUNK_AGAIN);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(used, 5);
	ck_assert(memcmp(part, "ab", 2) == 0);
}
END_TEST

START_TEST(test_empty_input)
{
	struct wasp_http_chunked c;
	struct wasp_http_str d;
	size_t used = 99;

	wasp_http_chunked_init(&c, NULL);
	ck_assert_int_eq(wasp_http_chunked_decode(&c, "", 0, &used, &d), WASP_HTTP_CHUNK_AGAIN);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_bare_lf_allowed)
{
	struct wasp_http_limits lim = wasp_http_default_limits;

	lim.allow_bare_lf = true;
	expect_body("5\nhello\n0\nX: y\n\n", "hello", "", &lim);
}
END_TEST

START_TEST(test_reject_bad_size)
{
	expect_error("x\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("-5\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("+5\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("0x5\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5x\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error(" 5\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5 \r\nhello\r\n0\r\n\r\n", 400, NULL); /* BWS only before ';' */
	/* 16 significant hex digits: refused before anything can overflow */
	expect_error("1000000000000000\r\n", 400, NULL);
	expect_error("ffffffffffffffffff\r\n", 400, NULL);
}
END_TEST

START_TEST(test_reject_bad_extension)
{
	expect_error("5;\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5;=x\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5;a=\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5;a=\"x\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5;a=b c\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5;a\x01\r\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", 400, NULL);
}
END_TEST

START_TEST(test_reject_chunk_line_too_long)
{
	size_t n = WASP_HTTP_MAX_CHUNK_LINE + 64;
	char *s = malloc(n + 32);
	ck_assert_ptr_nonnull(s);

	strcpy(s, "5;x=");
	memset(s + 4, 'a', n - 4);
	strcpy(s + n, "\r\nhello\r\n0\r\n\r\n");
	expect_error(s, 400, NULL);
	/* just under the limit is fine */
	strcpy(s, "5;x=");
	memset(s + 4, 'a', WASP_HTTP_MAX_CHUNK_LINE - 6);
	strcpy(s + WASP_HTTP_MAX_CHUNK_LINE - 2, "\r\nhello\r\n0\r\n\r\n");
	expect_body(s, "hello", "", NULL);
	/* leading zeros count against the line too */
	memset(s, '0', WASP_HTTP_MAX_CHUNK_LINE + 8);
	strcpy(s + WASP_HTTP_MAX_CHUNK_LINE + 8, "5\r\nhello\r\n0\r\n\r\n");
	expect_error(s, 400, NULL);
	free(s);
}
END_TEST

START_TEST(test_reject_missing_crlf_after_data)
{
	expect_error("5\r\nhelloX\r\n0\r\n\r\n", 400, NULL);
	expect_error("5\r\nhello\rX0\r\n\r\n", 400, NULL);
	expect_error("5\r\nhello\n0\r\n\r\n", 400, NULL);
	expect_error("5\r\nhello world\r\n0\r\n\r\n", 400, NULL); /* more data than announced */
}
END_TEST

START_TEST(test_reject_bare_cr_lf)
{
	expect_error("5\rhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5\nhello\r\n0\r\n\r\n", 400, NULL);
	expect_error("5\r\nhello\r\n0\n\r\n", 400, NULL);
	expect_error("5\r\nhello\r\n0\r\n\n", 400, NULL);
	expect_error("5\r\nhello\r\n0\r\n\rX", 400, NULL);
}
END_TEST

START_TEST(test_reject_bad_trailer)
{
	expect_error("0\r\nX y: z\r\n\r\n", 400, NULL);
	expect_error("0\r\n folded\r\n\r\n", 400, NULL);
	expect_error("0\r\nNoColon\r\n\r\n", 400, NULL);
	expect_error("0\r\nX: a\x01\r\n\r\n", 400, NULL);
	expect_error("0\r\nX: a\rb\r\n\r\n", 400, NULL);
}
END_TEST

START_TEST(test_reject_trailer_too_large)
{
	size_t n = WASP_HTTP_MAX_TRAILER + 64;
	char *s = malloc(n + 32);
	ck_assert_ptr_nonnull(s);

	strcpy(s, "0\r\nX: ");
	memset(s + 6, 'a', n - 6);
	strcpy(s + n, "\r\n\r\n");
	expect_error(s, 431, NULL);
	free(s);
}
END_TEST

START_TEST(test_reject_body_too_large)
{
	struct wasp_http_limits lim = wasp_http_default_limits;

	lim.body = 8;
	expect_body("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", "helloabc", "", &lim);
	/* refused at the size line, before any of the chunk's data */
	expect_error("5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n", 413, &lim);
	expect_error("fffffffffffff\r\n", 413, &lim);
}
END_TEST

static Suite *
http_chunked_suite(void)
{
	Suite *s = suite_create("http_chunked");
	TCase *tc = tcase_create("decode");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_simple);
	tcase_add_test(tc, test_extensions);
	tcase_add_test(tc, test_trailers);
	tcase_add_test(tc, test_inplace);
	tcase_add_test(tc, test_empty_input);
	tcase_add_test(tc, test_bare_lf_allowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("reject");
	tcase_add_test(tc, test_reject_bad_size);
	tcase_add_test(tc, test_reject_bad_extension);
	tcase_add_test(tc, test_reject_chunk_line_too_long);
	tcase_add_test(tc, test_reject_missing_crlf_after_data);
	tcase_add_test(tc, test_reject_bare_cr_lf);
	tcase_add_test(tc, test_reject_bad_trailer);
	tcase_add_test(tc, test_reject_trailer_too_large);
	tcase_add_test(tc, test_reject_body_too_large);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(http_chunked_suite());
}
