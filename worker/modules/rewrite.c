/* URL Rewrite's pattern and substitution engine (rewrite.h). ECMAScript
 * patterns run on PCRE2 with options that bring it close to ECMAScript
 * (docs/rewrite.md says where they still differ), bounded by PCRE2's match,
 * depth and heap limits so that a catastrophic pattern ends in an error,
 * not a busy worker. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rewrite.h"
#include "util.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- patterns ---- */

/* One match context and match data for the process (one thread). */
static pcre2_match_context *match_ctx;
static pcre2_match_data *match_data;

static int
match_setup(void)
{
	if (match_data)
		return 0;
	if (!match_ctx) {
		match_ctx = pcre2_match_context_create(NULL);
		if (!match_ctx)
			return -ENOMEM;
		pcre2_set_match_limit(match_ctx, RW_MATCH_LIMIT);
		pcre2_set_depth_limit(match_ctx, RW_DEPTH_LIMIT);
		pcre2_set_heap_limit(match_ctx, RW_HEAP_LIMIT_KIB);
	}
	match_data = pcre2_match_data_create(RW_MAX_CAPTURES, NULL);
	return match_data ? 0 : -ENOMEM;
}

/* A Wildcard pattern as a regular expression: '*' any string (captured),
 * '?' one character (not captured), the rest literal, anchored. */
static char *
wildcard_to_regex(const char *pat)
{
	size_t n = strlen(pat);
	char *re = malloc(n * 4 + 8), *o = re;

	if (!re)
		return NULL;
	*o++ = '^';
	for (const char *s = pat; *s; s++) {
		if (*s == '*') {
			memcpy(o, "(.*)", 4);
			o += 4;
		} else if (*s == '?') {
			*o++ = '.';
		} else {
			if (strchr("\\^$.|+()[]{}", *s))
				*o++ = '\\';
			*o++ = *s;
		}
	}
	*o++ = '$';
	*o = '\0';
	return re;
}

/* The ASCII literal an anchored pattern starts with ("^abc/x" gives
 * "abc/x"), as far as it is certain: never through an alternation, a
 * group, a class, an escape that is not a punctuation character, or a
 * byte outside ASCII; a quantified last character is left out. */
static void
literal_prefix(struct rw_pattern *p, const char *pat)
{
	const char *s = pat + 1;

	p->prefix_len = 0;
	if (pat[0] != '^' || strchr(pat, '|'))
		return;
	while (*s && p->prefix_len < sizeof(p->prefix)) {
		char c = *s;

		if (c == '\\' && s[1] && !isalnum((unsigned char)s[1]) &&
		    !((unsigned char)s[1] & 0x80)) {
			c = s[1];
			s += 2;
		} else if (!((unsigned char)c & 0x80) && !strchr("\\^$.|?*+()[]{}", c)) {
			s++;
		} else {
			break;
		}
		p->prefix[p->prefix_len++] = c;
	}
	if (p->prefix_len && *s && strchr("?*+{", *s))
		p->prefix_len--; /* "ab?": only "a" is certain */
}

/* Can subject not start with the pattern's literal prefix? Certain only
 * over ASCII bytes: beyond ASCII, caseless matching has folds of its own
 * (K and the Kelvin sign), so PCRE2 decides. */
static bool
prefix_refuses(const struct rw_pattern *p, const char *subject)
{
	for (size_t i = 0; i < p->prefix_len; i++) {
		unsigned char c = (unsigned char)subject[i], want = (unsigned char)p->prefix[i];

		if (c & 0x80)
			return false;
		if (!c)
			return true;
		if (c != want && (!p->icase || tolower(c) != tolower(want)))
			return true;
	}
	return false;
}

int
rw_pattern_compile(struct rw_pattern *p, enum rw_syntax syntax, const char *pat, bool icase,
		   bool negate, char *err, size_t errlen)
{
	_cleanup_free_ char *wild = NULL;
	/* as close to ECMAScript as PCRE2 goes (docs/rewrite.md) */
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ALT_BSUX |
			PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C |
			PCRE2_ALLOW_EMPTY_CLASS | PCRE2_MATCH_UNSET_BACKREF;
	int code;
	PCRE2_SIZE off;

	*p = (struct rw_pattern){ .syntax = syntax, .icase = icase, .negate = negate };
	if (strlen(pat) > RW_MAX_PATTERN) {
		set_err(err, errlen, "pattern longer than %d bytes", RW_MAX_PATTERN);
		return -EINVAL;
	}
	if (syntax == RW_EXACT) {
		p->text = strdup(pat);
		return p->text ? 0 : -ENOMEM;
	}
	if (syntax == RW_WILDCARD) {
		wild = wildcard_to_regex(pat);
		if (!wild)
			return -ENOMEM;
		pat = wild;
	}
	if (icase)
		opts |= PCRE2_CASELESS;
	p->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
	if (!p->re) {
		PCRE2_UCHAR msg[160];

		if (code == PCRE2_ERROR_NOMEMORY)
			return -ENOMEM;
		pcre2_get_error_message(code, msg, sizeof(msg));
		set_err(err, errlen, "pattern '%s' at offset %zu: %s", pat, (size_t)off,
			(const char *)msg);
		return -EINVAL;
	}
	literal_prefix(p, pat);
	return 0;
}

void
rw_pattern_done(struct rw_pattern *p)
{
	free(p->text);
	pcre2_code_free(p->re);
	*p = (struct rw_pattern){ 0 };
}

static int
match_negated(const struct rw_pattern *p, int matched, struct rw_match *m)
{
	if (m && (p->negate || !matched))
		m->n = 0; /* a negated match has no captures */
	return p->negate ? !matched : matched;
}

int
rw_pattern_match(const struct rw_pattern *p, const char *subject, struct rw_match *m)
{
	PCRE2_SIZE *ov;
	int rc, r;

	if (p->prefix_len && prefix_refuses(p, subject))
		return match_negated(p, 0, m); /* sets m->n = 0 */
	if (m)
		*m = (struct rw_match){ 0 };
	if (p->syntax == RW_EXACT) {
		bool eq = p->icase ? strcaseeq(subject, p->text) : streq(subject, p->text);

		if (eq && m) {
			m->n = 1;
			m->p[0] = subject;
			m->len[0] = strlen(subject);
		}
		return match_negated(p, eq, m);
	}
	r = match_setup();
	if (r < 0)
		return r;
	rc = pcre2_match(p->re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, match_data,
			 match_ctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return match_negated(p, 0, m);
	if (rc == PCRE2_ERROR_NOMEMORY)
		return -ENOMEM;
	if (rc < 0)
		return -E2BIG; /* PCRE2_ERROR_MATCHLIMIT, DEPTHLIMIT, HEAPLIMIT */
	if (m) {
		ov = pcre2_get_ovector_pointer(match_data);
		m->n = rc == 0 ? RW_MAX_CAPTURES : (size_t)rc;
		for (size_t i = 0; i < m->n; i++) {
			bool set = ov[2 * i] != PCRE2_UNSET && ov[2 * i + 1] >= ov[2 * i];

			m->p[i] = set ? subject + ov[2 * i] : NULL;
			m->len[i] = set ? ov[2 * i + 1] - ov[2 * i] : 0;
		}
	}
	return match_negated(p, 1, m);
}

const char *
rw_match_group(const struct rw_match *m, size_t i, size_t *ret_len)
{
	if (!m || i >= m->n || !m->p[i]) {
		*ret_len = 0;
		return "";
	}
	*ret_len = m->len[i];
	return m->p[i];
}

/* ---- substitutions ---- */

enum seg_kind {
	SEG_LITERAL,
	SEG_RULE,      /* {R:n} */
	SEG_CONDITION, /* {C:n} */
	SEG_VAR,       /* {HTTP_HOST} */
	SEG_FUNC,      /* {ToLower:...}, {MapName:...} */
};

struct seg {
	enum seg_kind kind;
	char *text; /* the literal, the variable's upper-case name, the map's name */
	size_t len;
	unsigned n; /* R/C index */
	enum rw_func fn;
	struct rw_subst *arg;
};

struct rw_subst {
	struct seg *segs;
	size_t n;
};

void
rw_subst_free(struct rw_subst *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->segs[i].text);
		rw_subst_free(s->segs[i].arg);
	}
	free(s->segs);
	free(s);
}

static struct seg *
seg_add(struct rw_subst *s, enum seg_kind kind)
{
	struct seg *n = realloc(s->segs, (s->n + 1) * sizeof(*n));

	if (!n)
		return NULL;
	s->segs = n;
	n[s->n] = (struct seg){ .kind = kind };
	return &n[s->n++];
}

static int
add_literal(struct rw_subst *s, const char *p, size_t len)
{
	struct seg *g;

	if (!len)
		return 0;
	g = seg_add(s, SEG_LITERAL);
	if (!g || !(g->text = strndup(p, len)))
		return -ENOMEM;
	g->len = len;
	return 0;
}

static const struct {
	const char *name;
	enum rw_func fn;
} funcs[] = {
	{ "ToLower", RW_FN_TOLOWER },
	{ "UrlEncode", RW_FN_URLENCODE },
	{ "UrlDecode", RW_FN_URLDECODE },
	{ "EscapeDataString", RW_FN_ESCAPEDATA },
	{ "HtmlEncode", RW_FN_HTMLENCODE },
};

/* A variable's, function's or map's name: up to ':' or '}' (a map's may
 * have spaces). */
static bool
name_char(char c)
{
	return c && !strchr("{}:", c);
}

static int parse_into(struct rw_subst *s, const char **pp, unsigned depth, char *err,
		      size_t errlen);

/* *pp is just after '{': a reference up to its '}'. */
static int
parse_ref(struct rw_subst *s, const char **pp, unsigned depth, char *err, size_t errlen)
{
	const char *p = *pp, *name = p;
	size_t nlen;
	struct seg *g;
	int r;

	while (name_char(*p))
		p++;
	nlen = (size_t)(p - name);
	if (!nlen || (*p != '}' && *p != ':')) {
		set_err(err, errlen, "bad reference at '{%.20s'", name);
		return -EINVAL;
	}
	if (*p == '}') { /* a server variable */
		g = seg_add(s, SEG_VAR);
		if (!g || !(g->text = strndup(name, nlen)))
			return -ENOMEM;
		for (char *c = g->text; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		*pp = p + 1;
		return 0;
	}
	p++; /* ':' */
	if (nlen == 1 && (*name == 'R' || *name == 'r' || *name == 'C' || *name == 'c')) {
		if (!isdigit((unsigned char)p[0]) || p[1] != '}') {
			set_err(err, errlen, "back-reference '{%.*s:' must be one digit and '}'",
				(int)nlen, name);
			return -EINVAL;
		}
		g = seg_add(s, (*name == 'R' || *name == 'r') ? SEG_RULE : SEG_CONDITION);
		if (!g)
			return -ENOMEM;
		g->n = (unsigned)(p[0] - '0');
		*pp = p + 2;
		return 0;
	}
	g = seg_add(s, SEG_FUNC);
	if (!g || !(g->text = strndup(name, nlen)) || !(g->arg = calloc(1, sizeof(*g->arg))))
		return -ENOMEM;
	g->fn = RW_FN_MAP;
	for (size_t i = 0; i < ELEMENTSOF(funcs); i++)
		if (strlen(funcs[i].name) == nlen && strncasecmp(funcs[i].name, name, nlen) == 0)
			g->fn = funcs[i].fn;
	r = parse_into(g->arg, &p, depth + 1, err, errlen);
	if (r < 0)
		return r;
	if (*p != '}') {
		set_err(err, errlen, "'{%.*s:' is not closed with '}'", (int)nlen, name);
		return -EINVAL;
	}
	*pp = p + 1;
	return 0;
}

/* Literals and references until the end, or (inside a function) a '}'. */
static int
parse_into(struct rw_subst *s, const char **pp, unsigned depth, char *err, size_t errlen)
{
	const char *p = *pp, *lit = p;
	int r;

	if (depth > RW_MAX_NESTING) {
		set_err(err, errlen, "references nested deeper than %d", RW_MAX_NESTING);
		return -EINVAL;
	}
	while (*p && !(depth > 0 && *p == '}')) {
		if (*p != '{') {
			p++;
			continue;
		}
		r = add_literal(s, lit, (size_t)(p - lit));
		if (r < 0)
			return r;
		p++;
		r = parse_ref(s, &p, depth, err, errlen);
		if (r < 0)
			return r;
		lit = p;
	}
	r = add_literal(s, lit, (size_t)(p - lit));
	*pp = p;
	return r;
}

int
rw_subst_parse(const char *str, struct rw_subst **ret, char *err, size_t errlen)
{
	struct rw_subst *s;
	const char *p = str;
	int r;

	if (strlen(str) > RW_MAX_SUBST) {
		set_err(err, errlen, "longer than %d bytes", RW_MAX_SUBST);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = parse_into(s, &p, 0, err, errlen);
	if (r < 0) {
		rw_subst_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int
rw_subst_each_map(const struct rw_subst *s, int (*fn)(const char *name, void *userdata),
		  void *userdata)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct seg *g = &s->segs[i];
		int r;

		if (g->kind != SEG_FUNC)
			continue;
		if (g->fn == RW_FN_MAP && (r = fn(g->text, userdata)) < 0)
			return r;
		if ((r = rw_subst_each_map(g->arg, fn, userdata)) < 0)
			return r;
	}
	return 0;
}

/* ---- expansion ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static int
buf_add(struct buf *b, const char *s, size_t len)
{
	if (b->len + len > RW_MAX_EXPANSION)
		return -E2BIG;
	if (b->len + len + 1 > b->cap) {
		size_t cap = MAX(b->cap * 2, b->len + len + 64);
		char *n = realloc(b->p, cap);

		if (!n)
			return -ENOMEM;
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *
rw_apply(enum rw_func fn, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = malloc(len * 6 + 1), *q = o; /* "&quot;" at most */

	if (!o)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (fn) {
		case RW_FN_TOLOWER:
			*q++ = (char)tolower(c);
			break;
		case RW_FN_URLDECODE:
			if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
				*q++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
				i += 2;
			} else {
				*q++ = c == '+' ? ' ' : (char)c;
			}
			break;
		case RW_FN_URLENCODE:
		case RW_FN_ESCAPEDATA:
			if (isalnum(c) || strchr(fn == RW_FN_URLENCODE ? "-_.!*'()" : "-_.~", c)) {
				*q++ = (char)c;
			} else if (c == ' ' && fn == RW_FN_URLENCODE) {
				*q++ = '+';
			} else {
				*q++ = '%';
				*q++ = hex[c >> 4];
				*q++ = hex[c & 15];
			}
			break;
		case RW_FN_HTMLENCODE: {
			const char *e = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
				      : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : NULL;

			if (e) {
				memcpy(q, e, strlen(e));
				q += strlen(e);
			} else {
				*q++ = (char)c;
			}
			break;
		}
		case RW_FN_MAP:
			*q++ = (char)c;
			break;
		}
	}
	*q = '\0';
	return o;
}

static int expand_into(const struct rw_subst *s, const struct rw_expand_ctx *ctx, struct buf *b);

static int
expand_func(const struct seg *g, const struct rw_expand_ctx *ctx, struct buf *b)
{
	struct buf arg = { 0 };
	_cleanup_free_ char *out = NULL;
	const char *v = NULL;
	int r;

	r = expand_into(g->arg, ctx, &arg);
	if (r < 0)
		goto out;
	if (g->fn == RW_FN_MAP) {
		r = ctx->map ? ctx->map(g->text, arg.p ? arg.p : "", &v, ctx->userdata) : -ENOENT;
		if (r >= 0 && v)
			r = buf_add(b, v, strlen(v));
		goto out;
	}
	out = rw_apply(g->fn, arg.p ? arg.p : "", arg.len);
	r = out ? buf_add(b, out, strlen(out)) : -ENOMEM;
out:
	free(arg.p);
	return r;
}

static int
expand_into(const struct rw_subst *s, const struct rw_expand_ctx *ctx, struct buf *b)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->segs[i];
		const char *v;
		size_t len;
		int r;

		switch (g->kind) {
		case SEG_LITERAL:
			r = buf_add(b, g->text, g->len);
			break;
		case SEG_RULE:
		case SEG_CONDITION:
			v = rw_match_group(g->kind == SEG_RULE ? ctx->r : ctx->c, g->n, &len);
			r = buf_add(b, v, len);
			break;
		case SEG_VAR:
			v = ctx->var ? ctx->var(g->text, ctx->userdata) : NULL;
			r = v ? buf_add(b, v, strlen(v)) : 0;
			break;
		case SEG_FUNC:
			r = expand_func(g, ctx, b);
			break;
		default:
			r = -EINVAL;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int
rw_subst_expand(const struct rw_subst *s, const struct rw_expand_ctx *ctx, char **ret)
{
	struct buf b = { 0 };
	int r = expand_into(s, ctx, &b);

	if (r >= 0 && !b.p)
		r = buf_add(&b, "", 0);
	if (r < 0) {
		free(b.p);
		return r;
	}
	*ret = b.p;
	return 0;
}
