/* The outbound rules' HTML scanner (worker/modules/html_filter.c): which
 * attribute values it offers, how it writes a changed one (quotes kept,
 * escaped, added where an unquoted value needs them), what it leaves alone
 * (comments, script text, end tags, "a < b", tags and values over its
 * limits), and that the output is the same however the input is cut into
 * pieces and however little room the output has. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "modules/html_filter.h"
#include "testutil.h"
#include "util.h"

/* Rewrites every URL attribute IIS's tags have (and <video poster>) whose
 * value starts with "/old/" to "/new/" and the rest; "quote" values to a
 * string with both quotes; "space" to one with a space; "huge" to 40 KiB. */
static int
rewrite(void *userdata, const char *tag, size_t tag_len, const char *attr, size_t attr_len,
	const char *value, size_t len, char **ret)
{
	unsigned *n_offered = userdata;
	bool custom = tag_len == 5 && strncasecmp(tag, "video", 5) == 0 && attr_len == 6 &&
		      strncasecmp(attr, "poster", 6) == 0;

	(*n_offered)++;
	if (!hf_url_attr(tag, tag_len, attr, attr_len) && !custom)
		return 0;
	if (len == 5 && memcmp(value, "quote", 5) == 0) {
		*ret = strdup("a\"b'c");
		return 1;
	}
	if (len == 5 && memcmp(value, "space", 5) == 0) {
		*ret = strdup("a b");
		return 1;
	}
	if (len == 4 && memcmp(value, "huge", 4) == 0) {
		*ret = malloc(40000);
		memset(*ret, 'h', 39999);
		(*ret)[39999] = '\0';
		return 1;
	}
	if (len < 5 || memcmp(value, "/old/", 5) != 0)
		return 0;
	ck_assert_int_ge(asprintf(ret, "/new/%.*s", (int)(len - 5), value + 5), 0);
	return 1;
}

/* Filter in, cut into pieces of `piece` bytes, with `room` bytes of output
 * at a time; the result (malloc'd). */
static char *
filter(const char *in, size_t piece, size_t room, unsigned *n_offered)
{
	static struct hf h;
	size_t len = strlen(in), at = 0, cap = len * 4 + 100000, olen = 0;
	char *out = malloc(cap), *buf = malloc(room);
	unsigned dummy = 0;

	hf_init(&h, rewrite, n_offered ? n_offered : &dummy);
	for (;;) {
		size_t n = MIN(piece, len - at), w = 0, took;
		bool end = at + n == len;

		took = hf_feed(&h, in + at, n, end, buf, room, &w);
		ck_assert(olen + w < cap);
		memcpy(out + olen, buf, w);
		olen += w;
		at += took;
		if (end && took == n && at == len)
			break;
		ck_assert_msg(took > 0 || w > 0, "no progress at %zu", at);
	}
	/* once more at the end: nothing held back */
	{
		size_t w = 0;
		ck_assert_uint_eq(hf_feed(&h, NULL, 0, true, buf, room, &w), 0);
		ck_assert_uint_eq(w, 0);
	}
	out[olen] = '\0';
	free(buf);
	return out;
}

static void
expect(const char *in, const char *want)
{
	static const size_t pieces[] = { 1, 2, 3, 7, 64, 100000 };

	for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
		char *out = filter(in, pieces[i], HF_MIN_ROOM, NULL);

		ck_assert_msg(streq(out, want), "pieces of %zu:\n%s\nexpected\n%s", pieces[i], out,
			      want);
		free(out);
	}
}

START_TEST(test_tags)
{
	expect("<a href=\"/old/x\">x</a>", "<a href=\"/new/x\">x</a>");
	expect("<A HREF='/old/x'>", "<A HREF='/new/x'>");
	expect("<img alt=\"/old/a\" src=/old/i.png >", "<img alt=\"/old/a\" src=/new/i.png >");
	expect("<form action = \"/old/f\" method=post>", "<form action = \"/new/f\" method=post>");
	expect("<img src=\"/old/1\" longdesc=\"/old/2\" usemap=\"/old/3\"/>",
	       "<img src=\"/new/1\" longdesc=\"/new/2\" usemap=\"/new/3\"/>");
	expect("<link href=\"/old/l\"><script src=\"/old/s\"></script>",
	       "<link href=\"/new/l\"><script src=\"/new/s\"></script>");
	expect("<video poster=\"/old/p\">", "<video poster=\"/new/p\">");
	/* not a URL attribute, not a listed tag */
	expect("<a title=\"/old/t\"><p href=\"/old/p\">", "<a title=\"/old/t\"><p href=\"/old/p\">");
	/* an attribute without a value, and one after it */
	expect("<a download href=\"/old/d\">", "<a download href=\"/new/d\">");
	/* a quote inside another kind of quotes does not end the value */
	expect("<a title=\"it's\" href='/old/\"q\"'>", "<a title=\"it's\" href='/new/\"q\"'>");
	/* a '>' inside a quoted value does not end the tag */
	expect("<a title=\"a>b\" href=\"/old/g\">", "<a title=\"a>b\" href=\"/new/g\">");
}
END_TEST

START_TEST(test_values)
{
	/* the new value's own quotes are escaped; an unquoted one that needs
	 * quotes gets them */
	expect("<a href=\"quote\">", "<a href=\"a&quot;b'c\">");
	expect("<a href='quote'>", "<a href='a\"b&#39;c'>");
	expect("<a href=space>", "<a href=\"a b\">");
	/* a rewritten tag over HF_MAX_OUT passes as it was */
	expect("<a href=\"huge\">", "<a href=\"huge\">");
}
END_TEST

START_TEST(test_untouched)
{
	static const char *same[] = {
		"plain text, no tags",
		"a < b and c > d <a",
		"<!-- <a href=\"/old/c\"> -->",
		"<!----><a",
		"<script>if (a<b) x = '<a href=\"/old/s\">';</script>",
		"<style>a<b{}</style>",
		"</a href=\"/old/e\">",
		"<!DOCTYPE html><?xml version=\"1.0\"?>",
		"<a href=\"/old/unterminated",
		"<a href='/old/x",
		"",
	};

	for (size_t i = 0; i < ELEMENTSOF(same); i++)
		expect(same[i], same[i]);
	/* after a script's end tag, tags are seen again */
	expect("<script>x</SCRIPT ><a href=\"/old/a\">", "<script>x</SCRIPT ><a href=\"/new/a\">");
	/* after a comment too */
	expect("<!-- x --><a href=\"/old/a\">", "<!-- x --><a href=\"/new/a\">");
}
END_TEST

START_TEST(test_limits)
{
	size_t n = HF_MAX_TAG + 100;
	char *in = malloc(n + 100), *out;
	unsigned offered = 0;

	/* a tag over HF_MAX_TAG passes as it is, and what follows is seen */
	strcpy(in, "<a href=\"/old/x\" title=\"");
	memset(in + strlen(in), 't', n);
	strcpy(in + 24 + n, "\"><a href=\"/old/y\">");
	out = filter(in, 1000, HF_MIN_ROOM, &offered);
	ck_assert_uint_eq(strlen(out), strlen(in));
	ck_assert(memcmp(out, in, 24 + n + 2) == 0);
	ck_assert_str_eq(out + 24 + n + 2, "<a href=\"/new/y\">");
	free(out);
	/* a value over HF_MAX_VALUE is not offered */
	strcpy(in, "<a href=\"/old/");
	memset(in + 14, 'v', HF_MAX_VALUE);
	strcpy(in + 14 + HF_MAX_VALUE, "\">");
	offered = 0;
	out = filter(in, 7, HF_MIN_ROOM, &offered);
	ck_assert_str_eq(out, in);
	ck_assert_uint_eq(offered, 0);
	free(out);
	free(in);
}
END_TEST

START_TEST(test_room)
{
	/* a long body through the least room the filter needs, in odd
	 * pieces: the same as at once */
	size_t n = 200000;
	char *in = malloc(n + 1), *a, *b;

	for (size_t i = 0; i < n; i += 20)
		memcpy(in + i, i % 60 ? "xxxxxxxxxxxxxxxxxxxx" : "<a href=\"/old/a\">123", 20);
	in[n] = '\0';
	a = filter(in, n, HF_MIN_ROOM, NULL);
	b = filter(in, 4093, HF_MIN_ROOM, NULL);
	ck_assert_str_eq(a, b);
	ck_assert(strstr(a, "/new/a") && !strstr(a, "/old/a"));
	free(a);
	free(b);
	free(in);
}
END_TEST

static Suite *
html_filter_suite(void)
{
	Suite *s = suite_create("html_filter");
	TCase *tc = tcase_create("scanner");

	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_untouched);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_room);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(html_filter_suite());
}
