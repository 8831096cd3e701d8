/* RequestFilteringModule: system.webServer/security/requestFiltering, as
 * IIS 7+ applies it in BeginRequest. A request it refuses gets 404 with
 * IIS's substatus (logged as such) and goes straight to SendResponse:
 *
 *   404.5   denyUrlSequences: a sequence in the URL path, as sent or decoded
 *   404.6   verbs: a verb denied, or not listed with allowUnlisted="false"
 *   404.7   fileExtensions: the extension of the last segment denied, or not
 *           listed with allowUnlisted="false" ("." stands for none)
 *   404.8   hiddenSegments: a whole path segment (case-insensitive)
 *   404.10  requestLimits/headerLimits: a header's value over its sizeLimit
 *   404.11  allowDoubleEscaping="false": the decoded path still holds %XX, or '+'
 *   404.12  allowHighBitCharacters="false": non-ASCII bytes in the path
 *   404.13  requestLimits maxAllowedContentLength: Content-Length over it
 *           (answered before the body is read; the connection then closes),
 *           or a chunked body growing over it while a handler reads it
 *   404.14  requestLimits maxUrl: the URL path as sent, in bytes
 *   404.15  requestLimits maxQueryString: the query string as sent, in bytes
 *           (both checked first against the application root's values,
 *           before the configuration of the URL itself is looked up: a
 *           limit raised below the application root does not let a longer
 *           URL in; one lowered there applies)
 *   404.18  denyQueryStringSequences: a sequence in the query string, as sent
 *           or (unescapeQueryString="true") decoded
 *
 * alwaysAllowedUrls (an exact URL path) and alwaysAllowedQueryStrings (an
 * exact query string) exempt a request from the sequence rules (404.5 and
 * 404.18 respectively), as in IIS. removeServerHeader="true" (IIS 10)
 * sends the request's response without the Server header. applyToWebDAV is
 * accepted and ignored (there is no WebDAV module).
 *
 * The lists IIS's shipped applicationHost.config fills (hiddenSegments:
 * web.config, bin, App_code, ...; fileExtensions: .config, .cs, .mdb, ...)
 * are wasp's built-in defaults (config/defaults.c), merged as if
 * applicationHost.config held them: a web.config's <remove segment="bin"/>
 * removes that one entry, <clear/> empties the list.
 *
 * Everything is derived once per distinct effective section (a declared
 * section, wasp_request_module_conf); a request costs a cache lookup and the
 * comparisons, and allocates nothing unless query string sequences are
 * configured (the decoded query, in the request's arena). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"
#include "wasp/module.h"

#define RF_SECTION "system.webServer/security/requestFiltering"
/* A URL path or query string longer than this is held against the
 * application root's limits first (see rf_on_begin_request). */
#define RF_PRECHECK_LEN 1024

struct rf_item {
	const char *s; /* in the configuration (lives as long as the worker) */
	size_t len;
	uint64_t n; /* allowed (0/1), or headerLimits sizeLimit */
};

struct rf_list {
	struct rf_item *v;
	size_t n;
};

struct rf_state {
	bool allow_double_escaping;
	bool allow_high_bit;
	bool unescape_query;
	bool remove_server_header;
	uint64_t max_content_length;
	uint64_t max_url;
	uint64_t max_query;
	bool ext_allow_unlisted;
	bool verbs_allow_unlisted;
	struct rf_list header_limits; /* s: header name, n: sizeLimit */
	struct rf_list exts;          /* s: ".ext", n: allowed */
	struct rf_list verbs;         /* s: verb, n: allowed */
	struct rf_list hidden;        /* s: segment (may span segments: "a/b") */
	struct rf_list deny_url;
	struct rf_list deny_query;
	struct rf_list always_urls;
	struct rf_list always_queries;
	struct rf_item items[]; /* every list's entries */
};

static size_t
n_items(const struct wasp_element *e)
{
	return e ? e->n_items : 0;
}

/* Fill l from the collection of e (NULL: empty) taking attribute key for
 * the string and num (NULL: none) for n, from *next on. */
static void
fill_list(struct rf_list *l, struct rf_item **next, const struct wasp_element *e, const char *key,
	  const char *num)
{
	l->v = *next;
	l->n = 0;
	for (size_t i = 0; i < n_items(e); i++) {
		const struct wasp_element *it = e->items[i];
		const struct wasp_value *v = wasp_element_value(it, key);
		struct rf_item *d = &l->v[l->n];

		if (!v || !v->text || !*v->text)
			continue;
		d->s = v->text;
		d->len = strlen(v->text);
		d->n = 0;
		if (num) {
			const struct wasp_value *nv = wasp_element_value(it, num);
			if (nv)
				d->n = nv->type == WASP_ATTR_BOOL ? nv->b : nv->u;
		}
		l->n++;
	}
	*next += l->n;
}

static void *
rf_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	const struct wasp_element *limits = wasp_element_child(sec, "requestLimits");
	const struct wasp_element *hl = wasp_element_child(sec, "requestLimits/headerLimits");
	const struct wasp_element *exts = wasp_element_child(sec, "fileExtensions");
	const struct wasp_element *verbs = wasp_element_child(sec, "verbs");
	const struct wasp_element *hidden = wasp_element_child(sec, "hiddenSegments");
	const struct wasp_element *deny_url = wasp_element_child(sec, "denyUrlSequences");
	const struct wasp_element *deny_q = wasp_element_child(sec, "denyQueryStringSequences");
	const struct wasp_element *aurls = wasp_element_child(sec, "alwaysAllowedUrls");
	const struct wasp_element *aqs = wasp_element_child(sec, "alwaysAllowedQueryStrings");
	size_t n = n_items(hl) + n_items(exts) + n_items(verbs) + n_items(hidden) +
		   n_items(deny_url) + n_items(deny_q) + n_items(aurls) + n_items(aqs);
	struct rf_state *st;
	struct rf_item *next;

	st = calloc(1, sizeof(*st) + n * sizeof(struct rf_item));
	if (!st)
		return NULL;
	st->allow_double_escaping = wasp_element_get_bool(sec, "allowDoubleEscaping", false);
	st->allow_high_bit = wasp_element_get_bool(sec, "allowHighBitCharacters", true);
	st->unescape_query = wasp_element_get_bool(sec, "unescapeQueryString", true);
	st->remove_server_header = wasp_element_get_bool(sec, "removeServerHeader", false);
	st->max_content_length =
		wasp_element_get_uint(limits, "maxAllowedContentLength", 30000000);
	st->max_url = wasp_element_get_uint(limits, "maxUrl", 4096);
	st->max_query = wasp_element_get_uint(limits, "maxQueryString", 2048);
	st->ext_allow_unlisted = wasp_element_get_bool(exts, "allowUnlisted", true);
	st->verbs_allow_unlisted = wasp_element_get_bool(verbs, "allowUnlisted", true);
	next = st->items;
	fill_list(&st->header_limits, &next, hl, "header", "sizeLimit");
	fill_list(&st->exts, &next, exts, "fileExtension", "allowed");
	fill_list(&st->verbs, &next, verbs, "verb", "allowed");
	fill_list(&st->hidden, &next, hidden, "segment", NULL);
	fill_list(&st->deny_url, &next, deny_url, "sequence", NULL);
	fill_list(&st->deny_query, &next, deny_q, "sequence", NULL);
	fill_list(&st->always_urls, &next, aurls, "url", NULL);
	fill_list(&st->always_queries, &next, aqs, "queryString", NULL);
	return st;
}

extern const struct wasp_module mod_requestfilter;

static const struct wasp_module_section rf_sections[] = {
	{ .name = RF_SECTION, .build = rf_build, .free_conf = free },
};

static const struct rf_item *
list_find(const struct rf_list *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].len == len && strncasecmp(l->v[i].s, s, len) == 0)
			return &l->v[i];
	return NULL;
}

/* Does s contain any of l's strings (ASCII case-insensitive)? */
static bool
contains_any(const struct rf_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasestr(s, l->v[i].s))
			return true;
	return false;
}

/* Does path have one of l's entries as whole segments ("/bin/", "/x/bin")? */
static bool
has_segment(const struct rf_list *l, const char *path)
{
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t seg = strcspn(p, "/");
		if (list_find(l, p, seg))
			return true;
		p += seg;
	}
	return false;
}

/* The extension of path's last segment (".html"), or "." when it has none. */
static const char *
path_extension(const char *path, size_t *ret_len)
{
	const char *seg = strrchr(path, '/');
	const char *dot;

	seg = seg ? seg + 1 : path;
	dot = strrchr(seg, '.');
	if (!dot) {
		*ret_len = 1;
		return ".";
	}
	*ret_len = strlen(dot);
	return dot;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode q into the request's arena ('+' stays '+', a malformed
 * escape stays as written, %00 becomes a space so the string stays whole).
 * NULL on OOM. */
static char *
query_decode(struct wasp_request *req, const char *q)
{
	size_t n = strlen(q), j = 0;
	char *out = wasp_request_alloc(req, n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (q[i] == '%' && i + 2 < n && (hi = hexval(q[i + 1])) >= 0 &&
		    (lo = hexval(q[i + 2])) >= 0) {
			out[j++] = (char)((hi << 4 | lo) ? (hi << 4 | lo) : ' ');
			i += 2;
		} else {
			out[j++] = q[i];
		}
	}
	out[j] = '\0';
	return out;
}

static enum wasp_status
deny(struct wasp_request *req, unsigned substatus)
{
	wasp_response_set_status(req, 404, substatus);
	return WASP_DONE;
}

/* requestLimits: the body, the URL, the query string, the headers. */
static enum wasp_status
rf_limits(struct wasp_request *req, const struct rf_state *st, const char *raw,
	  const char *query)
{
	int64_t body = wasp_request_body_length(req);

	if (body > 0 && (uint64_t)body > st->max_content_length) {
		wasp_response_disable_keep_alive(req); /* the body stays unread */
		return deny(req, 13);
	}
	if (body < 0) /* chunked: refused as it grows over the limit, when read */
		wasp_request_set_body_limit(req, st->max_content_length, 404, 13);
	if (strlen(raw) > st->max_url)
		return deny(req, 14);
	if (strlen(query) > st->max_query)
		return deny(req, 15);
	for (size_t i = 0; i < st->header_limits.n; i++)
		if (wasp_request_header_size(req, st->header_limits.v[i].s) >
		    st->header_limits.v[i].n)
			return deny(req, 10);
	return WASP_OK;
}

/* The URL's characters and sequences, the query string's sequences. */
static enum wasp_status
rf_sequences(struct wasp_request *req, const struct rf_state *st, const char *raw,
	     const char *path, const char *query)
{
	unsigned flags = wasp_request_url_flags(req);

	if (!st->allow_high_bit && (flags & WASP_URL_HIGH_BIT))
		return deny(req, 12);
	if (!st->allow_double_escaping && (flags & (WASP_URL_DOUBLE_ESCAPED | WASP_URL_PLUS)))
		return deny(req, 11);
	if (st->deny_url.n && !list_find(&st->always_urls, path, strlen(path)) &&
	    (contains_any(&st->deny_url, raw) || contains_any(&st->deny_url, path)))
		return deny(req, 5);
	if (st->deny_query.n && *query && !list_find(&st->always_queries, query, strlen(query))) {
		if (contains_any(&st->deny_query, query))
			return deny(req, 18);
		if (st->unescape_query && strchr(query, '%')) {
			const char *dq = query_decode(req, query);
			if (!dq)
				return WASP_ERROR;
			if (contains_any(&st->deny_query, dq))
				return deny(req, 18);
		}
	}
	return WASP_OK;
}

/* hiddenSegments, fileExtensions, verbs. */
static enum wasp_status
rf_names(struct wasp_request *req, const struct rf_state *st, const char *path)
{
	const char *method = wasp_request_method(req);
	size_t n;

	/* hiddenSegments before fileExtensions: /web.config is 404.8 in IIS,
	 * though .config is a denied extension too */
	if (st->hidden.n && has_segment(&st->hidden, path))
		return deny(req, 8);
	if (st->exts.n || !st->ext_allow_unlisted) {
		const char *ext = path_extension(path, &n);
		const struct rf_item *it = list_find(&st->exts, ext, n);

		if (it ? !it->n : !st->ext_allow_unlisted)
			return deny(req, 7);
	}
	if (st->verbs.n || !st->verbs_allow_unlisted) {
		const struct rf_item *it = list_find(&st->verbs, method, strlen(method));

		if (it ? !it->n : !st->verbs_allow_unlisted)
			return deny(req, 6);
	}
	return WASP_OK;
}

static enum wasp_status
rf_on_begin_request(struct wasp_request *req, void *userdata)
{
	const char *raw = wasp_request_raw_path(req), *query = wasp_request_query(req);
	const char *path = wasp_request_path(req);
	const struct rf_state *st;
	enum wasp_status s;

	(void)userdata;
	if (strlen(raw) > RF_PRECHECK_LEN || strlen(query) > RF_PRECHECK_LEN) {
		/* a long URL: maxUrl and maxQueryString as the application's
		 * root has them, before the URL's own configuration is looked
		 * up (whose cost grows with the URL) */
		const struct wasp_element *limits = wasp_element_child(
			wasp_request_config_at(req, wasp_request_app_path(req), RF_SECTION),
			"requestLimits");

		if (limits && strlen(raw) > wasp_element_get_uint(limits, "maxUrl", UINT64_MAX))
			return deny(req, 14);
		if (limits && strlen(query) > wasp_element_get_uint(limits, "maxQueryString", UINT64_MAX))
			return deny(req, 15);
	}
	st = wasp_request_module_conf(req, &mod_requestfilter, 0);
	if (!st) /* no configuration at all; with one, out of memory: fail closed */
		return wasp_request_config(req, RF_SECTION) ? WASP_ERROR : WASP_DECLINED;

	if (st->remove_server_header)
		wasp_response_omit_server_header(req);
	s = rf_limits(req, st, raw, query);
	if (s == WASP_OK)
		s = rf_sequences(req, st, raw, path, query);
	if (s == WASP_OK)
		s = rf_names(req, st, path);
	return s;
}

static int
rf_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_HIGH,
			      rf_on_begin_request, NULL);
}

const struct wasp_module mod_requestfilter = {
	.abi = WASP_MODULE_ABI,
	.name = "RequestFilteringModule",
	.sections = rf_sections,
	.n_sections = ELEMENTSOF(rf_sections),
	.register_hooks = rf_register_hooks,
};
