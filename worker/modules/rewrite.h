/* URL Rewrite's pattern and substitution engine (RewriteModule's rules are
 * made of these): patterns in IIS's three syntaxes (ECMAScript on PCRE2,
 * Wildcard, ExactMatch) and substitution strings ("{R:1}", "{C:2}",
 * "{HTTP_HOST}", "{ToLower:{R:1}}", "{MapName:{R:1}}") parsed once when a
 * configuration is built and expanded per request. Pure: no request, no
 * configuration; the caller supplies server variables and maps. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Limits on what a web.config can make a worker do (docs/rewrite.md). */
#define RW_MAX_PATTERN 2048        /* bytes of one pattern */
#define RW_MAX_SUBST 2048          /* bytes of one substitution string */
#define RW_MAX_EXPANSION 16384     /* bytes one expansion may produce */
#define RW_MAX_NESTING 8           /* {F:{G:{...}}} depth */
#define RW_MATCH_LIMIT 100000      /* PCRE2 match limit (backtracking steps) */
#define RW_DEPTH_LIMIT 2000        /* PCRE2 depth limit (nested backtracks) */
#define RW_HEAP_LIMIT_KIB 1024     /* PCRE2 heap for one match */
#define RW_MAX_CAPTURES 10         /* {R:0} .. {R:9} */

enum rw_syntax {
	RW_ECMASCRIPT,
	RW_WILDCARD,
	RW_EXACT,
};

struct rw_pattern {
	enum rw_syntax syntax;
	bool icase, negate;
	char *text;      /* ExactMatch: the string */
	void *re;        /* pcre2_code for the others */
	/* the literal the pattern must start with ("^section1/" gives
	 * "section1/"): a subject that cannot start with it is refused without
	 * running PCRE2 (a long rule set is mostly rules that do not match) */
	char prefix[32];
	size_t prefix_len;
};

/* The captures of one match, pointing into the subject (which must
 * outlive it); n is how many there are ({R:0} is the whole match), an
 * unset group is NULL. */
struct rw_match {
	size_t n;
	const char *p[RW_MAX_CAPTURES];
	size_t len[RW_MAX_CAPTURES];
};

/* Compile pat. 0; -EINVAL with a message in err (a bad pattern, or one over
 * RW_MAX_PATTERN); -ENOMEM. */
int rw_pattern_compile(struct rw_pattern *p, enum rw_syntax syntax, const char *pat, bool icase,
		       bool negate, char *err, size_t errlen);
void rw_pattern_done(struct rw_pattern *p);
/* 1 matched (negate applied: a negated pattern that matched did not, and
 * one that did not matched with no captures), 0 not; -E2BIG when PCRE2's
 * limits stopped it (a catastrophic pattern: the caller answers an error,
 * never a guess); -ENOMEM. m may be NULL. */
int rw_pattern_match(const struct rw_pattern *p, const char *subject, struct rw_match *m);
/* Capture i of m ("" when unset), as pointer and length. */
const char *rw_match_group(const struct rw_match *m, size_t i, size_t *ret_len);

enum rw_func {
	RW_FN_TOLOWER,
	RW_FN_URLENCODE,
	RW_FN_URLDECODE,
	RW_FN_ESCAPEDATA,
	RW_FN_HTMLENCODE,
	RW_FN_MAP, /* a rewriteMap by name */
};

struct rw_subst;

/* Parse a substitution string. 0 (*ret set: free with rw_subst_free);
 * -EINVAL with a message in err (an unterminated '{', an empty or bad
 * name, {R:n} outside 0-9, nesting over RW_MAX_NESTING, over
 * RW_MAX_SUBST); -ENOMEM. */
int rw_subst_parse(const char *s, struct rw_subst **ret, char *err, size_t errlen);
void rw_subst_free(struct rw_subst *s);
/* Call fn(name, userdata) for every map name used (to check them). */
int rw_subst_each_map(const struct rw_subst *s, int (*fn)(const char *name, void *userdata),
		      void *userdata);

/* What an expansion reads from its caller. */
struct rw_expand_ctx {
	const struct rw_match *r; /* the rule's captures ({R:n}), may be NULL */
	const struct rw_match *c; /* the last matched condition's ({C:n}), may be NULL */
	/* A server variable by its upper-case name: the value, or NULL when
	 * unknown (expands to ""). */
	const char *(*var)(const char *name, void *userdata);
	/* A rewriteMap's value for key: 0 with *ret_value (NULL: not in the
	 * map and no defaultValue: expands to ""), -ENOENT when there is no
	 * such map. */
	int (*map)(const char *name, const char *key, const char **ret_value, void *userdata);
	void *userdata;
};

/* Expand s into a malloc'd string (*ret). 0; -E2BIG over
 * RW_MAX_EXPANSION; -ENOENT for a map that does not exist; -ENOMEM. */
int rw_subst_expand(const struct rw_subst *s, const struct rw_expand_ctx *ctx, char **ret);

/* The functions, on a whole string into a malloc'd one (NULL on OOM). */
char *rw_apply(enum rw_func fn, const char *s, size_t len);
