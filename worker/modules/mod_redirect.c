/* HttpRedirectionModule: system.webServer/httpRedirect, as IIS 7+ applies it
 * in MapRequestHandler.
 *
 * With enabled="true" and a destination, every request under the URL path
 * where that destination was configured (its <location path> or the
 * directory of its web.config: the "base") is redirected:
 *   exactDestination="false"  to destination + the rest of the request path
 *                             after the base ("/old" -> "/new": /old/a/b.htm
 *                             goes to /new/a/b.htm);
 *   exactDestination="true"   to destination as written;
 *   childOnly="true"          only requests for content directly in the base
 *                             directory are redirected, not its subdirectories;
 *   httpResponseStatus        Permanent 301, Found 302 (default), Temporary 307,
 *                             PermRedirect 308.
 * With an empty destination the wildcard rules apply instead: the first
 * <add wildcard destination> whose wildcard matches the request wins. '*'
 * matches any characters, '/' included, ASCII case-insensitively; a wildcard
 * starting with '/' is matched against the whole URL path, any other against
 * the path after the rule's base ("*.php" matches /a/b.php below it).
 *
 * In a destination, as IIS documents for its redirect variables:
 *   $S  the rest of the path after the base ("/a/b.htm")
 *   $V  the whole URL path, without host and query string
 *   $Q  "?" and the query string ("" when there is none), $P the same without "?"
 *   $0 .. $9  what the wildcard rule's first .. tenth '*' matched
 * Paths go out percent-encoded. A destination starting with a single '/'
 * becomes absolute with the request's Host (http://host/dest), as IIS does.
 * A redirect to the URL that was requested is not sent (the request is
 * served instead), so a destination inside the redirected path cannot loop
 * on itself.
 *
 * The section's state is derived once per distinct effective section (a
 * declared section, wasp_request_module_conf); the base of a destination or
 * rule is found once (walking up the request's path prefixes to the shortest
 * one that has the same setting from the same file and line) and kept with it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"
#include "wasp/module.h"

#define HR_SECTION "system.webServer/httpRedirect"
#define HR_MAX_CAPTURES 10

struct hr_rule {
	const struct wasp_element *item; /* its <add> (file and line identify it) */
	const char *wildcard;
	const char *destination;
	char *base; /* malloc'd once known */
};

struct hr_state {
	bool enabled;
	bool exact;
	bool child_only;
	unsigned status;
	const char *destination; /* "" : the wildcard rules */
	const struct wasp_attr *dest_attr;
	char *base; /* of destination, malloc'd once known */
	size_t n_rules;
	struct hr_rule rules[];
};

static void *
hr_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	const struct wasp_value *status = wasp_element_value(sec, "httpResponseStatus");
	size_t n = sec->n_items;
	struct hr_state *st;

	st = calloc(1, sizeof(*st) + n * sizeof(struct hr_rule));
	if (!st)
		return NULL;
	st->enabled = wasp_element_get_bool(sec, "enabled", false);
	st->exact = wasp_element_get_bool(sec, "exactDestination", false);
	st->child_only = wasp_element_get_bool(sec, "childOnly", false);
	st->status = status && status->u ? (unsigned)status->u : 302;
	st->destination = wasp_element_get_str(sec, "destination", "");
	st->dest_attr = wasp_element_attr(sec, "destination");
	for (size_t i = 0; i < n; i++) {
		const struct wasp_element *it = sec->items[i];
		const char *w = wasp_element_get_str(it, "wildcard", "");

		if (!*w)
			continue;
		st->rules[st->n_rules++] = (struct hr_rule){
			.item = it,
			.wildcard = w,
			.destination = wasp_element_get_str(it, "destination", ""),
		};
	}
	return st;
}

static void
hr_free(void *p)
{
	struct hr_state *st = p;

	if (!st)
		return;
	free(st->base);
	for (size_t i = 0; i < st->n_rules; i++)
		free(st->rules[i].base);
	free(st);
}

extern const struct wasp_module mod_redirect;

static const struct wasp_module_section hr_sections[] = {
	{ .name = HR_SECTION, .build = hr_build, .free_conf = hr_free },
};

/* ---- where a setting was made ---- */

static bool
same_origin(const char *file_a, int line_a, const char *file_b, int line_b)
{
	return line_a == line_b && streq_ptr(file_a, file_b);
}

/* Is the destination of sec (the effective section at some prefix) the one
 * of st (the same value, written in the same file on the same line)? */
static bool
has_destination(const struct wasp_element *sec, const void *what)
{
	const struct wasp_attr *want = what, *a = wasp_element_attr(sec, "destination");

	return a && a->is_set && same_origin(a->file, a->line, want->file, want->line) &&
	       streq(a->value.text, want->value.text);
}

static bool
has_rule(const struct wasp_element *sec, const void *what)
{
	const struct hr_rule *want = what;
	const struct wasp_element *it = wasp_element_find_item(sec, want->wildcard);

	return it && same_origin(it->file, it->line, want->item->file, want->item->line) &&
	       streq(wasp_element_get_str(it, "destination", ""), want->destination);
}

/* The shortest prefix of the request's path (at a segment boundary) whose
 * effective section has("what"): where the setting was made. malloc'd;
 * NULL on OOM. The whole path when no prefix has it. */
static char *
find_base(struct wasp_request *req, bool (*has)(const struct wasp_element *, const void *),
	  const void *what)
{
	const char *path = wasp_request_path(req);
	size_t len = strlen(path);
	char *buf = malloc(len + 1);

	if (!buf)
		return NULL;
	/* "/", then "/a", "/a/b", ..., then the whole path */
	for (size_t end = 0; end <= len; end++) {
		const struct wasp_element *e;

		if (end == 0) {
			buf[0] = '/';
			buf[1] = '\0';
		} else if (end == len || path[end] == '/') {
			memcpy(buf, path, end);
			buf[end] = '\0';
		} else {
			continue;
		}
		e = wasp_request_config_at(req, buf, HR_SECTION);
		if (e && has(e, what))
			return buf;
	}
	memcpy(buf, path, len + 1);
	return buf;
}

/* The request path after base ("" when it is the base itself). */
static const char *
path_after(const char *path, const char *base)
{
	size_t n = strlen(base);

	if (n == 1 && base[0] == '/')
		return path;
	return strlen(path) >= n ? path + n : "";
}

/* ---- wildcards ---- */

struct captures {
	const char *p[HR_MAX_CAPTURES];
	size_t len[HR_MAX_CAPTURES];
	size_t n;
};

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Match s against the wildcard pattern w ('*' = any run, '/' included;
 * ASCII case-insensitive), recording what each '*' matched. Each '*' takes
 * as little as it can, only the last one seen backtracks: O(len(w) *
 * len(s)) whatever the pattern, so a request cannot make it crawl. */
static bool
wildcard_match(const char *w, const char *s, struct captures *c)
{
	size_t i = 0, j = 0, n = strlen(s);
	size_t star = SIZE_MAX, mark = 0, k = 0;

	c->n = 0;
	while (j < n) {
		if (w[i] == '*') {
			while (w[i + 1] == '*') /* "**" is "*" */
				i++;
			star = i++;
			mark = j;
			k = c->n++;
			if (k < HR_MAX_CAPTURES) {
				c->p[k] = s + j;
				c->len[k] = 0;
			}
		} else if (w[i] && lower(w[i]) == lower(s[j])) {
			i++;
			j++;
		} else if (star != SIZE_MAX) {
			/* the last '*' takes one more character; later ones are undone */
			i = star + 1;
			j = ++mark;
			c->n = k + 1;
			if (k < HR_MAX_CAPTURES)
				c->len[k] = (size_t)(s + j - c->p[k]);
		} else {
			return false;
		}
	}
	while (w[i] == '*') { /* trailing stars match nothing */
		i++;
		if (c->n < HR_MAX_CAPTURES) {
			c->p[c->n] = s + n;
			c->len[c->n] = 0;
		}
		c->n++;
	}
	return w[i] == '\0';
}

/* ---- building the Location ---- */

struct sbuf {
	struct wasp_request *req;
	char *s;
	size_t len, size;
	bool oom;
};

static void
sb_grow(struct sbuf *b, size_t add)
{
	char *n;
	size_t size;

	if (b->oom || b->len + add + 1 <= b->size)
		return;
	size = MAX(b->size * 2, b->len + add + 1);
	size = MAX(size, (size_t)128);
	n = wasp_request_alloc(b->req, size);
	if (!n) {
		b->oom = true;
		return;
	}
	if (b->len)
		memcpy(n, b->s, b->len);
	b->s = n;
	b->size = size;
}

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* A decoded path, percent-encoded for a URL (unreserved, sub-delims, ':',
 * '@' and '/' stay). */
static void
sb_add_path(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~!$&'()*+,;=:@/", c)) {
			sb_add(b, (const char *)&s[i], 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_add(b, e, 3);
		}
	}
}

/* Expand IIS's redirect variables in dest. */
static void
expand(struct sbuf *b, struct wasp_request *req, const char *dest, const char *suffix,
       const struct captures *c)
{
	const char *q = wasp_request_query(req);

	for (const char *p = dest; *p; p++) {
		if (p[0] != '$' || !p[1]) {
			sb_add(b, p, 1);
			continue;
		}
		switch (p[1]) {
		case 'S':
		case 's':
			sb_add_path(b, suffix, strlen(suffix));
			break;
		case 'V':
		case 'v':
			sb_add_path(b, wasp_request_path(req), strlen(wasp_request_path(req)));
			break;
		case 'Q':
		case 'q':
			if (*q) {
				sb_adds(b, "?");
				sb_adds(b, q);
			}
			break;
		case 'P':
		case 'p':
			sb_adds(b, q);
			break;
		default:
			if (p[1] >= '0' && p[1] <= '9') {
				size_t k = (size_t)(p[1] - '0');
				if (c && k < c->n && k < HR_MAX_CAPTURES)
					sb_add_path(b, c->p[k], c->len[k]);
				break;
			}
			sb_add(b, p, 1); /* not a variable: a literal '$' */
			continue;
		}
		p++;
	}
}

/* dest + suffix: the suffix goes before a query string in dest, and a
 * '/' both end in and start with is written once. */
static void
append_suffix(struct sbuf *b, const char *suffix)
{
	char *q;
	char *tail = NULL;

	if (!*suffix || b->oom)
		return;
	q = b->s ? strchr(b->s, '?') : NULL;
	if (q) {
		tail = wasp_request_strdup(b->req, q);
		if (!tail) {
			b->oom = true;
			return;
		}
		b->len = (size_t)(q - b->s);
		b->s[b->len] = '\0';
	}
	if (b->len && b->s[b->len - 1] == '/' && suffix[0] == '/')
		suffix++;
	sb_add_path(b, suffix, strlen(suffix));
	if (tail)
		sb_adds(b, tail);
}

static const char *
request_host(struct wasp_request *req)
{
	const char *h = wasp_request_header(req, "Host");

	if (h && *h)
		return h;
	return wasp_request_server_variable(req, "SERVER_NAME");
}

/* "http://host" for a destination that is a path on this server. */
static const char *
origin(struct wasp_request *req)
{
	const char *https = wasp_request_server_variable(req, "HTTPS");
	const char *host = request_host(req);
	struct sbuf b = { .req = req };

	sb_adds(&b, https && strcaseeq(https, "on") ? "https://" : "http://");
	sb_adds(&b, host ? host : "");
	return b.oom ? NULL : b.s;
}

/* s escaped for a double-quoted attribute value (an apostrophe stays). */
static void
html_escape(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		const char *e = *s == '\'' ? NULL : wasp_html_entity(*s);

		if (e)
			sb_adds(b, e);
		else
			sb_add(b, s, 1);
	}
}

static enum wasp_status
redirect(struct wasp_request *req, const struct hr_state *st, const char *url)
{
	struct sbuf loc = { .req = req }, self = { .req = req }, body = { .req = req };
	const char *q = wasp_request_query(req);
	const char *o = origin(req);

	if (!o)
		return WASP_ERROR;
	if (url[0] == '/' && url[1] != '/')
		sb_adds(&loc, o);
	sb_adds(&loc, url);
	/* the URL that was requested, in the same form */
	sb_adds(&self, o);
	sb_add_path(&self, wasp_request_path(req), strlen(wasp_request_path(req)));
	if (*q) {
		sb_adds(&self, "?");
		sb_adds(&self, q);
	}
	if (loc.oom || self.oom)
		return WASP_ERROR;
	if (streq(loc.s, self.s))
		return WASP_OK; /* redirecting to itself would loop */
	sb_adds(&body, "<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>"
		       "This document may be found <a HREF=\"");
	html_escape(&body, loc.s);
	sb_adds(&body, "\">here</a></body>\n");
	if (body.oom)
		return WASP_ERROR;
	wasp_response_set_status(req, st->status, 0);
	if (wasp_response_set_header(req, "Location", loc.s) < 0 ||
	    wasp_response_set_header(req, "Content-Type", "text/html; charset=UTF-8") < 0)
		return WASP_ERROR;
	wasp_response_clear_body(req);
	if (wasp_response_write(req, body.s, body.len) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

/* childOnly: only content directly in the base directory ("", "/", "/x"). */
static bool
child_ok(const struct hr_state *st, const char *suffix)
{
	return !st->child_only || !strchr(suffix[0] == '/' ? suffix + 1 : suffix, '/');
}

static enum wasp_status
hr_on_map_request_handler(struct wasp_request *req, void *userdata)
{
	struct hr_state *st;
	const char *path = wasp_request_path(req);
	struct sbuf url = { .req = req };

	(void)userdata;
	/* once per request: MapRequestHandler runs again after an internal
	 * redirect (a default document), which is not the client's URL */
	if (wasp_request_module_context(req, &mod_redirect))
		return WASP_OK;
	if (wasp_request_set_module_context(req, &mod_redirect, (void *)(uintptr_t)&mod_redirect) < 0)
		return WASP_ERROR;
	/* the state is ours: the bases found are kept in it */
	st = (struct hr_state *)(uintptr_t)wasp_request_module_conf(req, &mod_redirect, 0);
	if (!st || !st->enabled)
		return WASP_OK;
	if (*st->destination) {
		const char *suffix;

		if (!st->base && !(st->base = find_base(req, has_destination, st->dest_attr)))
			return WASP_ERROR;
		suffix = path_after(path, st->base);
		if (!child_ok(st, suffix))
			return WASP_OK;
		expand(&url, req, st->destination, suffix, NULL);
		if (!st->exact)
			append_suffix(&url, suffix);
		if (url.oom)
			return WASP_ERROR;
		return redirect(req, st, url.s ? url.s : "");
	}
	for (size_t i = 0; i < st->n_rules; i++) {
		struct hr_rule *r = &st->rules[i];
		struct captures c = { .n = 0 };
		const char *suffix, *subject;

		if (!r->base && !(r->base = find_base(req, has_rule, r)))
			return WASP_ERROR;
		suffix = path_after(path, r->base);
		subject = r->wildcard[0] == '/' ? path : suffix[0] == '/' ? suffix + 1 : suffix;
		if (!wildcard_match(r->wildcard, subject, &c))
			continue;
		if (!child_ok(st, suffix))
			return WASP_OK;
		expand(&url, req, r->destination, suffix, &c);
		if (!st->exact)
			append_suffix(&url, suffix);
		if (url.oom)
			return WASP_ERROR;
		return redirect(req, st, url.s ? url.s : "");
	}
	return WASP_OK;
}

static int
hr_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_MAP_REQUEST_HANDLER, WASP_PRIORITY_FIRST,
			      hr_on_map_request_handler, NULL);
}

const struct wasp_module mod_redirect = {
	.abi = WASP_MODULE_ABI,
	.name = "HttpRedirectionModule",
	.sections = hr_sections,
	.n_sections = ELEMENTSOF(hr_sections),
	.register_hooks = hr_register_hooks,
};
