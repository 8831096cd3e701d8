/* Unit tests for protocols/http/url.c: percent-decoding and path
 * normalisation, with every traversal encoding we know of. */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "testutil.h"
#include "util.h"

struct url_case {
	const char *raw;
	int result;         /* expected length, or -errno */
	const char *normal; /* expected output when result >= 0 */
	unsigned flags;     /* expected flags (only those listed are checked) */
};

#define OK(raw, out, fl) { raw, (int)sizeof(out) - 1, out, fl }
#define BAD(raw) { raw, -EBADMSG, NULL, 0 }
#define ABOVE(raw) { raw, -EPERM, NULL, 0 }

static const struct url_case cases[] = {
	OK("/", "/", WASP_HTTP_URL_TRAILING_SLASH),
	OK("/a/b.html", "/a/b.html", 0),
	OK("/a/b/", "/a/b/", WASP_HTTP_URL_TRAILING_SLASH),
	OK("/a%20b", "/a b", 0),
	OK("/%41%42c", "/ABc", 0),
	/* dot segments */
	OK("/a/./b", "/a/b", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/a/../b", "/b", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/a/b/../../c", "/c", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/a/..", "/", WASP_HTTP_URL_DOT_SEGMENTS | WASP_HTTP_URL_TRAILING_SLASH),
	OK("/a/.", "/a/", WASP_HTTP_URL_DOT_SEGMENTS | WASP_HTTP_URL_TRAILING_SLASH),
	OK("/.", "/", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/a/%2e%2e/b", "/b", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/a/%2E%2e/b", "/b", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/a/.%2e/b", "/b", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/a/%2e/b", "/a/b", WASP_HTTP_URL_DOT_SEGMENTS),
	OK("/...", "/...", 0),
	OK("/a/..b/c", "/a/..b/c", 0),
	OK("/a/..;/b", "/a/..;/b", 0),
	OK("/.hidden", "/.hidden", 0),
	/* '//' collapses */
	OK("//a///b//", "/a/b/", WASP_HTTP_URL_TRAILING_SLASH),
	OK("//", "/", 0),
	/* climbing above the root */
	ABOVE("/.."),
	ABOVE("/../"),
	ABOVE("/../etc/passwd"),
	ABOVE("/a/../../etc/passwd"),
	ABOVE("/a/b/../../../x"),
	ABOVE("/%2e%2e/etc/passwd"),
	ABOVE("/%2E%2e/"),
	ABOVE("/.%2E/"),
	ABOVE("/%2e./x"),
	ABOVE("//../x"),
	ABOVE("/./../x"),
	/* encoded separators, backslashes */
	BAD("/a%2fb"),
	BAD("/a%2Fb"),
	BAD("/..%2f..%2fetc/passwd"),
	BAD("/%2e%2e%2f"),
	BAD("/a%5cb"),
	BAD("/a%5Cb"),
	BAD("/..%5c..%5cwindows"),
	BAD("/a\\b"),
	BAD("/..\\..\\etc"),
	/* NUL and other controls */
	BAD("/a%00b"),
	BAD("/index.html%00.txt"),
	BAD("/a%01"),
	BAD("/a%0d%0aSet-Cookie:x"),
	BAD("/a%7f"),
	/* overlong and invalid UTF-8 */
	BAD("/%c0%af"),
	BAD("/..%c0%af..%c0%afetc"),
	BAD("/%c0%ae%c0%ae/x"),
	BAD("/%c1%9c"),
	BAD("/%e0%80%af"),
	BAD("/%f0%80%80%af"),
	BAD("/%ed%a0%80"),   /* surrogate */
	BAD("/%f4%90%80%80"), /* > U+10FFFF */
	BAD("/%ff"),
	BAD("/%c3"),          /* truncated */
	BAD("/%c3%28"),
	BAD("/\xc0\xaf"),     /* raw, not escaped */
	/* malformed escapes, not a path */
	BAD("/%"),
	BAD("/%4"),
	BAD("/%zz"),
	BAD("/%%41"),
	BAD(""),
	BAD("a/b"),
	BAD("*"),
	/* double escaping: decoded once, reported */
	OK("/%252e%252e/x", "/%2e%2e/x", WASP_HTTP_URL_DOUBLE_ESCAPED),
	OK("/a%2541", "/a%41", WASP_HTTP_URL_DOUBLE_ESCAPED),
	OK("/100%25", "/100%", 0),
	/* high bit, plus */
	OK("/caf%c3%a9", "/caf\xc3\xa9", WASP_HTTP_URL_HIGH_BIT),
	OK("/caf\xc3\xa9", "/caf\xc3\xa9", WASP_HTTP_URL_HIGH_BIT),
	OK("/%f0%9f%90%9d", "/\xf0\x9f\x90\x9d", WASP_HTTP_URL_HIGH_BIT),
	OK("/a+b", "/a+b", WASP_HTTP_URL_PLUS),
	OK("/a%2bb", "/a+b", WASP_HTTP_URL_PLUS),
};

START_TEST(test_table)
{
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const struct url_case *c = &cases[i];
		char out[256];
		unsigned flags = 0xdead;
		int r = wasp_http_url_normalize(c->raw, strlen(c->raw), out, sizeof(out), &flags);

		ck_assert_msg(r == c->result, "'%s': r=%d (%s), expected %d", c->raw, r,
				wasp_http_url_strerror(r), c->result);
		if (r < 0) {
			ck_assert_uint_eq(flags, 0xdead); /* not written on failure */
			continue;
		}
		ck_assert_msg(strcmp(out, c->normal) == 0, "'%s' -> '%s', expected '%s'", c->raw,
				out, c->normal);
		ck_assert_msg((flags & c->flags) == c->flags, "'%s': flags %#x, expected %#x",
				c->raw, flags, c->flags);
		ck_assert_ptr_null(strstr(out, "//"));
		ck_assert_ptr_null(strstr(out, "/../"));
		ck_assert_ptr_null(strstr(out, "/./"));
		ck_assert_ptr_null(strchr(out, '\\'));
		ck_assert_int_eq(out[0], '/');
		if (!(c->flags & WASP_HTTP_URL_DOUBLE_ESCAPED))
			ck_assert(!(flags & WASP_HTTP_URL_DOUBLE_ESCAPED));
		if (!(c->flags & WASP_HTTP_URL_HIGH_BIT))
			ck_assert(!(flags & WASP_HTTP_URL_HIGH_BIT));
	}
}
END_TEST

START_TEST(test_buffer_size)
{
	char out[8];

	ck_assert_int_eq(wasp_http_url_normalize("/abcdefg", 8, out, 8, NULL), -ENOBUFS);
	ck_assert_int_eq(wasp_http_url_normalize("/abcdef", 7, out, 8, NULL), 7);
	ck_assert_str_eq(out, "/abcdef");
	ck_assert_str_ne(wasp_http_url_strerror(-EPERM), wasp_http_url_strerror(-EBADMSG));
}
END_TEST

/* Only the given length is read: a path slice is not NUL-terminated. */
START_TEST(test_slice)
{
	const char *target = "/a/../b?x=/../..";
	char out[64];

	ck_assert_int_eq(wasp_http_url_normalize(target, 7, out, sizeof(out), NULL), 2);
	ck_assert_str_eq(out, "/b");
}
END_TEST

START_TEST(test_pct_decode)
{
	char out[64];

	ck_assert_int_eq(wasp_http_pct_decode("a%20b+c", 7, out, sizeof(out), true), 5);
	ck_assert_str_eq(out, "a b c");
	ck_assert_int_eq(wasp_http_pct_decode("a%20b+c", 7, out, sizeof(out), false), 5);
	ck_assert_str_eq(out, "a b+c");
	ck_assert_int_eq(wasp_http_pct_decode("%00x", 4, out, sizeof(out), false), 2);
	ck_assert_int_eq(out[0], 0);
	ck_assert_int_eq(wasp_http_pct_decode("%g0", 3, out, sizeof(out), false), -EBADMSG);
	ck_assert_int_eq(wasp_http_pct_decode("abc", 3, out, 3, false), -ENOBUFS);
}
END_TEST

static Suite *
http_url_suite(void)
{
	Suite *s = suite_create("http_url");
	TCase *tc = tcase_create("normalize");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_buffer_size);
	tcase_add_test(tc, test_slice);
	tcase_add_test(tc, test_pct_decode);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(http_url_suite());
}
