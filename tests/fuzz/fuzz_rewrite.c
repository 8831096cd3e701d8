/* libFuzzer target for URL Rewrite's engine (worker/modules/rewrite.c):
 * the substitution-string parser and expander, and patterns.
 *
 * Input: one options byte (bits 0-1: pattern syntax, bit 2: ignoreCase,
 * bit 3: negate), then a string up to the first NUL used as a substitution
 * string and as a pattern, then the subject the pattern is matched against
 * (its captures are {R:n} and {C:n}). Checked: a pattern's literal prefix
 * never changes whether it matches; what parses expands within
 * RW_MAX_EXPANSION, a string without '{' expands to itself, captures lie
 * inside the subject, and everything is freed (LeakSanitizer). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
var(const char *name, void *userdata)
{
	(void)userdata;
	return strlen(name) % 3 == 0 ? NULL : name; /* some unknown, some echo */
}

static int
map(const char *name, const char *key, const char **ret, void *userdata)
{
	(void)userdata;
	if (name[0] == 'x')
		return -ENOENT;
	*ret = strlen(key) % 2 ? key : NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_pattern pat;
	struct rw_match m = { 0 };
	struct rw_subst *s;
	char *str, *subject, *out = NULL, err[256];
	size_t n;
	unsigned opts;
	int r, matched = 0;

	if (size < 1)
		return 0;
	opts = data[0];
	data++, size--;
	n = strnlen((const char *)data, size);
	str = strndup((const char *)data, n);
	subject = n < size ? strndup((const char *)data + n + 1, size - n - 1) : strdup("");
	if (!str || !subject)
		abort();

	r = rw_pattern_compile(&pat, (enum rw_syntax)(opts % 3), str, opts & 4, opts & 8, err,
			       sizeof(err));
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		matched = rw_pattern_match(&pat, subject, &m);
		CHECK(matched == 0 || matched == 1 || matched == -E2BIG);
		if (pat.prefix_len && matched != -E2BIG) {
			/* the literal prefix only ever spares PCRE2 a no */
			size_t keep = pat.prefix_len;

			pat.prefix_len = 0;
			CHECK(rw_pattern_match(&pat, subject, NULL) == matched);
			pat.prefix_len = keep;
			if (matched == 1)
				CHECK(rw_pattern_match(&pat, subject, &m) == 1);
		}
		for (size_t i = 0; matched == 1 && i < m.n; i++)
			CHECK(!m.p[i] || (m.p[i] >= subject &&
					  m.p[i] + m.len[i] <= subject + strlen(subject)));
		rw_pattern_done(&pat);
	}
	if (matched != 1)
		m.n = 0;

	r = rw_subst_parse(str, &s, err, sizeof(err));
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		struct rw_expand_ctx ctx = { .r = &m, .c = &m, .var = var, .map = map };

		r = rw_subst_expand(s, &ctx, &out);
		CHECK(r == 0 || r == -E2BIG || r == -ENOENT);
		if (r == 0) {
			CHECK(strlen(out) <= RW_MAX_EXPANSION);
			if (!strchr(str, '{'))
				CHECK(strcmp(out, str) == 0);
		}
		free(out);
		rw_subst_free(s);
	} else {
		CHECK(strchr(str, '{') || strlen(str) > RW_MAX_SUBST);
	}
	free(str);
	free(subject);
	return 0;
}
