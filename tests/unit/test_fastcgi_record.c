/* Unit tests for worker/fastcgi/record.c: FastCGI records (the parser fed
 * whole and byte by byte, the encoders) and the CGI response head. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcgi/record.h"
#include "testutil.h"

/* Append a record of type t with content c (n bytes) and pad bytes of padding. */
static size_t
put_record(uint8_t *out, uint8_t t, uint16_t id, const void *c, size_t n, uint8_t pad)
{
	fcgi_header(out, t, id, (uint16_t)n, pad);
	memcpy(out + FCGI_HEADER_LEN, c, n);
	memset(out + FCGI_HEADER_LEN + n, 0xee, pad);
	return FCGI_HEADER_LEN + n + pad;
}

struct parsed {
	char out[4096], err[4096];
	size_t out_len, err_len;
	bool ended;
	uint32_t app_status;
	int r; /* 0, or -EBADMSG */
};

/* Parse buf feeding step bytes at a time (the caller keeps nothing). */
static void
parse_all(const uint8_t *buf, size_t n, size_t step, struct parsed *p)
{
	struct fcgi_parser ps;

	memset(p, 0, sizeof(*p));
	fcgi_parser_init(&ps, 1);
	for (size_t off = 0; off < n;) {
		size_t avail = n - off < step ? n - off : step, used = 0;

		while (used < avail) {
			struct fcgi_event ev;
			ssize_t k = fcgi_parse(&ps, buf + off + used, avail - used, &ev);

			if (k < 0) {
				p->r = (int)k;
				ck_assert_ptr_nonnull(ps.err);
				return;
			}
			used += (size_t)k;
			if (ev.type == FCGI_EV_STDOUT) {
				ck_assert_uint_gt(ev.len, 0);
				memcpy(p->out + p->out_len, ev.data, ev.len);
				p->out_len += ev.len;
			} else if (ev.type == FCGI_EV_STDERR) {
				memcpy(p->err + p->err_len, ev.data, ev.len);
				p->err_len += ev.len;
			} else if (ev.type == FCGI_EV_END) {
				p->ended = true;
				p->app_status = ev.app_status;
			} else {
				ck_assert_uint_eq(used, avail); /* NONE: all taken */
			}
		}
		off += avail;
	}
}

START_TEST(test_parse_streams)
{
	uint8_t buf[512], end[8] = { 0, 0, 1, 2, FCGI_REQUEST_COMPLETE };
	size_t n = 0, steps[] = { 1, 2, 3, 7, 8, 9, sizeof(buf) };
	struct parsed p;

	n += put_record(buf + n, FCGI_STDOUT, 1, "Status: 200\r\n", 13, 3);
	n += put_record(buf + n, FCGI_STDERR, 1, "warn", 4, 0);
	n += put_record(buf + n, FCGI_STDOUT, 1, "\r\nbody", 6, 2);
	n += put_record(buf + n, FCGI_STDOUT, 1, "", 0, 0); /* end of the stream */
	n += put_record(buf + n, FCGI_STDERR, 1, "", 0, 0);
	n += put_record(buf + n, FCGI_END_REQUEST, 1, end, 8, 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		parse_all(buf, n, steps[i], &p);
		ck_assert_int_eq(p.r, 0);
		ck_assert_uint_eq(p.out_len, 19);
		ck_assert(memcmp(p.out, "Status: 200\r\n\r\nbody", 19) == 0);
		ck_assert_uint_eq(p.err_len, 4);
		ck_assert(p.ended);
		ck_assert_uint_eq(p.app_status, 0x102);
	}
}
END_TEST

static void
expect_bad(const uint8_t *buf, size_t n)
{
	size_t steps[] = { 1, 5, n };
	struct parsed p;

	for (size_t i = 0; i < 3; i++) {
		parse_all(buf, n, steps[i], &p);
		ck_assert_int_eq(p.r, -EBADMSG);
	}
}

START_TEST(test_parse_reject)
{
	uint8_t buf[64], end[8] = { 0 };
	size_t n;

	/* another version */
	n = put_record(buf, FCGI_STDOUT, 1, "x", 1, 0);
	buf[0] = 2;
	expect_bad(buf, n);
	/* another request id */
	n = put_record(buf, FCGI_STDOUT, 7, "x", 1, 0);
	expect_bad(buf, n);
	/* types a Responder never sends */
	for (uint8_t t = 1; t <= 12; t++) {
		if (t == FCGI_STDOUT || t == FCGI_STDERR || t == FCGI_END_REQUEST)
			continue;
		n = put_record(buf, t, 1, "xxxxxxxx", 8, 0);
		expect_bad(buf, n);
	}
	/* an END_REQUEST that is not 8 bytes */
	n = put_record(buf, FCGI_END_REQUEST, 1, end, 7, 0);
	expect_bad(buf, n);
	/* anything after END_REQUEST */
	n = put_record(buf, FCGI_END_REQUEST, 1, end, 8, 0);
	n += put_record(buf + n, FCGI_STDOUT, 1, "x", 1, 0);
	expect_bad(buf, n);
}
END_TEST

START_TEST(test_parse_incomplete)
{
	uint8_t buf[64];
	size_t n = put_record(buf, FCGI_STDOUT, 1, "abc", 3, 5);
	struct parsed p;

	/* everything but the last padding byte: no end, no error */
	parse_all(buf, n - 1, 1, &p);
	ck_assert_int_eq(p.r, 0);
	ck_assert(!p.ended);
	ck_assert_uint_eq(p.out_len, 3);
}
END_TEST

START_TEST(test_encode)
{
	uint8_t b[FCGI_BEGIN_REQUEST_LEN], nv[600];
	char big[300];
	size_t n;

	fcgi_begin_request(b, 1, true);
	ck_assert_int_eq(b[0], 1);
	ck_assert_int_eq(b[1], FCGI_BEGIN_REQUEST);
	ck_assert_int_eq(b[3], 1);
	ck_assert_int_eq(b[5], 8);
	ck_assert_int_eq(b[9], FCGI_RESPONDER);
	ck_assert_int_eq(b[10], FCGI_KEEP_CONN);

	ck_assert_uint_eq(fcgi_nv_size(4, 3), 9);
	n = fcgi_nv_encode(nv, "NAME", 4, "val", 3);
	ck_assert_uint_eq(n, 9);
	ck_assert(memcmp(nv, "\x04\x03NAMEval", 9) == 0);

	memset(big, 'v', sizeof(big));
	ck_assert_uint_eq(fcgi_nv_size(1, 300), 1 + 4 + 1 + 300);
	n = fcgi_nv_encode(nv, "N", 1, big, 300);
	ck_assert_uint_eq(n, 306);
	ck_assert(memcmp(nv, "\x01\x80\x00\x01\x2c" "N", 6) == 0);
	n = fcgi_nv_encode(nv, "E", 1, "", 0);
	ck_assert_uint_eq(n, 3);
}
END_TEST

/* ---- the CGI head ---- */

START_TEST(test_head)
{
	const char *in = "Status: 404 Not Found\r\nX-A:  v a \nContent-Type:text/html\r\n\r\nbody";
	char buf[256];
	struct fcgi_head h;
	const char *name, *value;
	size_t nl, vl, pos = 0, used;

	/* byte by byte: complete exactly at the empty line */
	fcgi_head_init(&h, buf, sizeof(buf));
	for (size_t i = 0;; i++) {
		int r = fcgi_head_feed(&h, (const uint8_t *)in + i, 1, &used);
		ck_assert_int_ge(r, 0);
		if (r == 1) {
			ck_assert_uint_eq(i + 1, strlen(in) - 4);
			break;
		}
	}
	ck_assert_int_eq(fcgi_head_next(&h, &pos, &name, &nl, &value, &vl), 1);
	ck_assert(nl == 6 && memcmp(name, "Status", 6) == 0);
	ck_assert_int_eq(fcgi_parse_status(value, vl), 404);
	ck_assert_int_eq(fcgi_head_next(&h, &pos, &name, &nl, &value, &vl), 1);
	ck_assert(vl == 3 && memcmp(value, "v a", 3) == 0);
	ck_assert_int_eq(fcgi_head_next(&h, &pos, &name, &nl, &value, &vl), 1);
	ck_assert(vl == 9 && memcmp(value, "text/html", 9) == 0);
	ck_assert_int_eq(fcgi_head_next(&h, &pos, &name, &nl, &value, &vl), 0);

	/* at once: the body is left */
	fcgi_head_init(&h, buf, sizeof(buf));
	ck_assert_int_eq(fcgi_head_feed(&h, (const uint8_t *)in, strlen(in), &used), 1);
	ck_assert_str_eq(in + used, "body");
}
END_TEST

START_TEST(test_head_limits)
{
	char buf[16];
	struct fcgi_head h;
	const char *name, *value;
	size_t nl, vl, pos = 0, used;

	fcgi_head_init(&h, buf, sizeof(buf));
	ck_assert_int_eq(fcgi_head_feed(&h, (const uint8_t *)"X-Long: 0123456789\r\n\r\n", 22,
					&used), -EMSGSIZE);

	fcgi_head_init(&h, buf, sizeof(buf));
	ck_assert_int_eq(fcgi_head_feed(&h, (const uint8_t *)"no colon\n\n", 10, &used), 1);
	ck_assert_int_eq(fcgi_head_next(&h, &pos, &name, &nl, &value, &vl), -EBADMSG);

	fcgi_head_init(&h, buf, sizeof(buf));
	pos = 0;
	ck_assert_int_eq(fcgi_head_feed(&h, (const uint8_t *)"Bad Name: x\n\n", 13, &used), 1);
	ck_assert_int_eq(fcgi_head_next(&h, &pos, &name, &nl, &value, &vl), -EBADMSG);

	fcgi_head_init(&h, buf, sizeof(buf));
	pos = 0;
	ck_assert_int_eq(fcgi_head_feed(&h, (const uint8_t *)"A: x\ry\n\n", 8, &used), 1);
	ck_assert_int_eq(fcgi_head_next(&h, &pos, &name, &nl, &value, &vl), -EBADMSG);

	ck_assert_int_eq(fcgi_parse_status("200", 3), 200);
	ck_assert_int_eq(fcgi_parse_status("99 x", 4), -EBADMSG);
	ck_assert_int_eq(fcgi_parse_status("2000", 4), -EBADMSG);
	ck_assert_int_eq(fcgi_parse_status("abc", 3), -EBADMSG);
	ck_assert_int_eq(fcgi_parse_status("", 0), -EBADMSG);
}
END_TEST

static Suite *
fastcgi_record_suite(void)
{
	Suite *s = suite_create("fastcgi_record");
	TCase *tc = tcase_create("records");

	tcase_add_test(tc, test_parse_streams);
	tcase_add_test(tc, test_parse_reject);
	tcase_add_test(tc, test_parse_incomplete);
	tcase_add_test(tc, test_encode);
	suite_add_tcase(s, tc);
	tc = tcase_create("head");
	tcase_add_test(tc, test_head);
	tcase_add_test(tc, test_head_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(fastcgi_record_suite());
}
