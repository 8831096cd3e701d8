/* URL Rewrite's engine (worker/modules/rewrite.c): patterns in the three
 * syntaxes, negate, captures, PCRE2's limits, and substitution strings
 * (back-references, server variables, functions, maps, their errors and
 * limits). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "modules/rewrite.h"
#include "testutil.h"
#include "util.h"

static int
match(enum rw_syntax syn, const char *pat, bool icase, bool negate, const char *subject,
      struct rw_match *m)
{
	struct rw_pattern p;
	char err[200] = "";
	int r = rw_pattern_compile(&p, syn, pat, icase, negate, err, sizeof(err));

	ck_assert_msg(r == 0, "'%s' did not compile: %s", pat, err);
	r = rw_pattern_match(&p, subject, m);
	rw_pattern_done(&p);
	return r;
}

static void
assert_group(const struct rw_match *m, size_t i, const char *want)
{
	size_t len;
	const char *g = rw_match_group(m, i, &len);

	ck_assert_msg(len == strlen(want) && memcmp(g, want, len) == 0,
		      "group %zu is '%.*s', expected '%s'", i, (int)len, g, want);
}

START_TEST(test_ecmascript)
{
	struct rw_match m;

	ck_assert_int_eq(match(RW_ECMASCRIPT, "^([0-9]+)/([a-z]+)\\.html$", true, false,
			       "07/Article.html", &m), 1);
	ck_assert_uint_eq(m.n, 3);
	assert_group(&m, 0, "07/Article.html");
	assert_group(&m, 1, "07");
	assert_group(&m, 2, "Article");
	/* ignoreCase="false" */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^[a-z]+$", false, false, "ABC", &m), 0);
	/* unanchored: a match anywhere, as ECMAScript's test() */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "b", true, false, "abc", &m), 1);
	assert_group(&m, 0, "b");
	/* an empty pattern matches everything (a rule without <match>) */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "", true, false, "any/thing", &m), 1);
	/* '$' is the end only, not before a final newline (ECMAScript) */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "a$", true, false, "a\n", &m), 0);
	/* \u is ECMAScript's code point escape */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^\\u0041$", false, false, "A", &m), 1);
	/* an unmatched optional group is "" */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^(a)?(b)$", true, false, "b", &m), 1);
	assert_group(&m, 1, "");
	assert_group(&m, 2, "b");
	/* ECMAScript's [] (nothing), [^] (anything), an unset group's
	 * back-reference (empty) */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^a[]", true, false, "ab", &m), 0);
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^a[^]$", true, false, "ab", &m), 1);
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^(x)?\\1y$", true, false, "y", &m), 1);
	/* UTF-8 in a decoded URL, and bytes that are not UTF-8 */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^caf.$", true, false, "caf\xc3\xa9", &m), 1);
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^x", true, false, "x\xff\xfe", &m), 1);
}
END_TEST

START_TEST(test_negate)
{
	struct rw_match m;

	ck_assert_int_eq(match(RW_ECMASCRIPT, "^(a)", true, true, "abc", &m), 0);
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^(a)", true, true, "xbc", &m), 1);
	ck_assert_uint_eq(m.n, 0); /* a negated match captures nothing */
	ck_assert_int_eq(match(RW_EXACT, "a", true, true, "b", NULL), 1);
}
END_TEST

START_TEST(test_wildcard)
{
	struct rw_match m;

	ck_assert_int_eq(match(RW_WILDCARD, "*/*.html", true, false, "contoso/test.html", &m), 1);
	assert_group(&m, 0, "contoso/test.html");
	assert_group(&m, 1, "contoso");
	assert_group(&m, 2, "test");
	/* '?' is one character, not captured; the rest is literal and anchored */
	ck_assert_int_eq(match(RW_WILDCARD, "a?c.(x)", true, false, "abc.(x)", &m), 1);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_int_eq(match(RW_WILDCARD, "a?c", true, false, "abcd", &m), 0);
	ck_assert_int_eq(match(RW_WILDCARD, "a.c", true, false, "abc", &m), 0);
	ck_assert_int_eq(match(RW_WILDCARD, "*", true, false, "", &m), 1);
}
END_TEST

START_TEST(test_exact)
{
	struct rw_match m;

	ck_assert_int_eq(match(RW_EXACT, "Index.HTML", true, false, "index.html", &m), 1);
	assert_group(&m, 0, "index.html");
	ck_assert_int_eq(match(RW_EXACT, "Index.HTML", false, false, "index.html", &m), 0);
	ck_assert_int_eq(match(RW_EXACT, "a.*", true, false, "abc", &m), 0);
}
END_TEST

START_TEST(test_bad_patterns)
{
	struct rw_pattern p;
	char err[200] = "", *big;

	ck_assert_int_eq(rw_pattern_compile(&p, RW_ECMASCRIPT, "(unclosed", true, false, err,
					    sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "(unclosed"));
	big = malloc(RW_MAX_PATTERN + 2);
	memset(big, 'a', RW_MAX_PATTERN + 1);
	big[RW_MAX_PATTERN + 1] = '\0';
	ck_assert_int_eq(rw_pattern_compile(&p, RW_EXACT, big, true, false, err, sizeof(err)),
			 -EINVAL);
	big[RW_MAX_PATTERN] = '\0';
	ck_assert_int_eq(rw_pattern_compile(&p, RW_ECMASCRIPT, big, true, false, err, sizeof(err)),
			 0);
	rw_pattern_done(&p);
	free(big);
}
END_TEST

START_TEST(test_catastrophic)
{
	char subject[64];

	memset(subject, 'a', 40);
	strcpy(subject + 40, "b");
	/* exponential backtracking stops at the match limit: an error, not a
	 * guess either way */
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^(a+)+$", true, false, subject, NULL), -E2BIG);
	ck_assert_int_eq(match(RW_ECMASCRIPT, "^(a+)+$", true, true, subject, NULL), -E2BIG);
}
END_TEST

/* ---- substitutions ---- */

static const char *
test_var(const char *name, void *userdata)
{
	(void)userdata;
	if (strcmp(name, "HTTP_HOST") == 0)
		return "Example.COM";
	if (strcmp(name, "QUERY_STRING") == 0)
		return "a=1&b=2";
	return NULL;
}

static int
test_map(const char *name, const char *key, const char **ret, void *userdata)
{
	(void)userdata;
	if (strcmp(name, "Legacy Map") != 0)
		return -ENOENT;
	*ret = strcmp(key, "old") == 0 ? "/new" : NULL;
	return 0;
}

static char *
expand(const char *s, const struct rw_match *r, const struct rw_match *c)
{
	struct rw_subst *sub;
	struct rw_expand_ctx ctx = { .r = r, .c = c, .var = test_var, .map = test_map };
	char err[200] = "", *out = NULL;

	ck_assert_msg(rw_subst_parse(s, &sub, err, sizeof(err)) == 0, "'%s': %s", s, err);
	ck_assert_int_eq(rw_subst_expand(sub, &ctx, &out), 0);
	rw_subst_free(sub);
	return out;
}

#define ck_expand(s, r, c, want)                                                          \
	do {                                                                               \
		char *_o = expand(s, r, c);                                                \
		ck_assert_str_eq(_o, want);                                                \
		free(_o);                                                                  \
	} while (0)

START_TEST(test_subst)
{
	struct rw_match r, c;

	ck_assert_int_eq(match(RW_ECMASCRIPT, "^(\\w+)/(\\w+)$", true, false, "Blog/Post", &r), 1);
	ck_assert_int_eq(match(RW_ECMASCRIPT, "id=(\\d+)", true, false, "id=42", &c), 1);
	ck_expand("", &r, &c, "");
	ck_expand("index.php", &r, &c, "index.php");
	ck_expand("/{R:2}/{R:1}?id={C:1}&all={R:0}", &r, &c, "/Post/Blog?id=42&all=Blog/Post");
	ck_expand("{R:9}{C:5}x", &r, &c, "x"); /* unset: "" */
	ck_expand("x{R:1}", NULL, NULL, "x");
	ck_expand("https://{HTTP_HOST}/{r:1}", &r, &c, "https://Example.COM/Blog");
	ck_expand("{http_host}|{UNKNOWN_VAR}|", &r, &c, "Example.COM||");
	ck_expand("{ToLower:{HTTP_HOST}/{R:2}}", &r, &c, "example.com/post");
	ck_expand("{UrlEncode:a b/c&d=é}", &r, &c, "a+b%2Fc%26d%3D%C3%A9");
	ck_expand("{EscapeDataString:a b~}", &r, &c, "a%20b~");
	ck_expand("{HtmlEncode:<a href=\"x\">&'}", &r, &c, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
	ck_expand("{UrlDecode:a%2Fb+c%zz%4}", &r, &c, "a/b c%zz%4");
	ck_expand("{Legacy Map:old}|{Legacy Map:{ToLower:OTHER}}|", &r, &c, "/new||");
	ck_expand("{ToLower:{UrlDecode:{QUERY_STRING}}}", &r, &c, "a=1&b=2");
	ck_expand("a}b", &r, &c, "a}b");
}
END_TEST

START_TEST(test_subst_errors)
{
	static const char *const bad[] = {
		"{", "{R:1", "{R:10}", "{R:x}", "{}", "{:x}", "{ToLower:abc", "a{b",
		"{A:{B:{C:{D:{E:{F:{G:{H:{I:{J:x}}}}}}}}}}",
	};
	struct rw_subst *s;
	struct rw_expand_ctx ctx = { .var = test_var, .map = test_map };
	char err[200], *big, *out;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err[0] = '\0';
		ck_assert_msg(rw_subst_parse(bad[i], &s, err, sizeof(err)) == -EINVAL,
			      "'%s' parsed", bad[i]);
		ck_assert_msg(err[0], "'%s': no message", bad[i]);
	}
	/* a map that does not exist is an error when expanded */
	ck_assert_int_eq(rw_subst_parse("{NoSuchMap:x}", &s, err, sizeof(err)), 0);
	ck_assert_int_eq(rw_subst_expand(s, &ctx, &out), -ENOENT);
	rw_subst_free(s);
	/* over the length limit when parsed */
	big = malloc(RW_MAX_SUBST + 2);
	memset(big, 'a', RW_MAX_SUBST + 1);
	big[RW_MAX_SUBST + 1] = '\0';
	ck_assert_int_eq(rw_subst_parse(big, &s, err, sizeof(err)), -EINVAL);
	free(big);
	/* and an expansion that grows past its limit */
	big = malloc(RW_MAX_SUBST + 1);
	big[0] = '\0';
	for (int i = 0; i < 80; i++) /* 1840 bytes, under RW_MAX_SUBST */
		strcat(big, "{UrlEncode:{HTTP_HOST}}");
	ck_assert_int_eq(rw_subst_parse(big, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(rw_subst_expand(s, &ctx, &out), 0);
	free(out);
	rw_subst_free(s);
	strcpy(big, "{R:0}");
	ck_assert_int_eq(rw_subst_parse(big, &s, err, sizeof(err)), 0);
	{
		char *subject = malloc(RW_MAX_EXPANSION + 2);
		struct rw_match r = { .n = 1, .p = { subject }, .len = { RW_MAX_EXPANSION + 1 } };

		memset(subject, 'x', RW_MAX_EXPANSION + 1);
		ctx.r = &r;
		ck_assert_int_eq(rw_subst_expand(s, &ctx, &out), -E2BIG);
		free(subject);
	}
	rw_subst_free(s);
	free(big);
}
END_TEST

static int
count_map(const char *name, void *userdata)
{
	(void)name;
	(*(int *)userdata)++;
	return 0;
}

START_TEST(test_subst_maps)
{
	struct rw_subst *s;
	char err[200];
	int n = 0;

	ck_assert_int_eq(rw_subst_parse("{A:{ToLower:{B:x}}}{HTTP_HOST}", &s, err, sizeof(err)), 0);
	ck_assert_int_eq(rw_subst_each_map(s, count_map, &n), 0);
	ck_assert_int_eq(n, 2);
	rw_subst_free(s);
}
END_TEST

/* An anchored pattern's literal prefix refuses subjects before PCRE2 runs:
 * never a subject PCRE2 would match. */
START_TEST(test_literal_prefix)
{
	static const struct {
		const char *pat, *subject;
		bool icase;
		int want;
	} cases[] = {
		{ "^section1/([0-9]+)", "section1/7", true, 1 },
		{ "^section1/([0-9]+)", "SECTION1/7", true, 1 },
		{ "^section1/([0-9]+)", "SECTION1/7", false, 0 },
		{ "^section1/", "section", true, 0 },
		{ "^section1/", "alias.html", true, 0 },
		{ "^section1/", "", true, 0 },
		/* caseless beyond ASCII: the Kelvin sign is a k */
		{ "^kb", "\xE2\x84\xAA" "b", true, 1 },
		{ "^kb", "\xE2\x84\xAA" "c", true, 0 },
		/* a quantified last character is not part of the prefix */
		{ "^ab?c", "ac", true, 1 },
		{ "^ab*c", "ac", true, 1 },
		{ "^ab{0}c", "ac", true, 1 },
		{ "^ab+", "ab", true, 1 },
		/* an alternation, escapes */
		{ "^a|b", "b", true, 1 },
		{ "^alias\\.html$", "alias.html", true, 1 },
		{ "^alias\\.html$", "aliasxhtml", true, 0 },
		{ "^a\\d", "a1", true, 1 },
		{ "^\\u0041b", "Ab", false, 1 },
		/* a prefix longer than the 32 bytes kept */
		{ "^abcdefghijklmnopqrstuvwxyz0123456789/", "abcdefghijklmnopqrstuvwxyz0123456789/", true, 1 },
		{ "^abcdefghijklmnopqrstuvwxyz0123456789/", "abcdefghijklmnopqrstuvwxyz012345678", true, 0 },
	};
	struct rw_match m;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		ck_assert_msg(match(RW_ECMASCRIPT, cases[i].pat, cases[i].icase, false,
				    cases[i].subject, &m) == cases[i].want,
			      "'%s' on '%s'", cases[i].pat, cases[i].subject);
		/* negated: the opposite, refused or not */
		ck_assert_int_eq(match(RW_ECMASCRIPT, cases[i].pat, cases[i].icase, true,
				       cases[i].subject, &m), !cases[i].want);
	}
	/* Wildcard patterns become anchored expressions: their prefix too */
	ck_assert_int_eq(match(RW_WILDCARD, "blog/*.html", true, false, "BLOG/x.html", &m), 1);
	ck_assert_int_eq(match(RW_WILDCARD, "blog/*.html", true, false, "news/x.html", &m), 0);
}
END_TEST

static Suite *
rewrite_suite(void)
{
	Suite *s = suite_create("rewrite");
	TCase *tc = tcase_create("pattern");

	tcase_add_test(tc, test_ecmascript);
	tcase_add_test(tc, test_literal_prefix);
	tcase_add_test(tc, test_negate);
	tcase_add_test(tc, test_wildcard);
	tcase_add_test(tc, test_exact);
	tcase_add_test(tc, test_bad_patterns);
	tcase_add_test(tc, test_catastrophic);
	suite_add_tcase(s, tc);
	tc = tcase_create("substitution");
	tcase_add_test(tc, test_subst);
	tcase_add_test(tc, test_subst_errors);
	tcase_add_test(tc, test_subst_maps);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(rewrite_suite());
}
