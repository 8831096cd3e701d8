/* StaticFileModule: GET and HEAD of regular files under the request's
 * virtual directory, as IIS's static file handler serves them.
 *
 * - Content-Type from the effective staticContent mimeMap (wasp's built-in
 *   defaults, IIS's common types, are part of it as if applicationHost.config
 *   listed them; config/defaults.c); an extension it does not list: 404.3.
 * - Validators: Last-Modified (mtime) and, unless clientCache/@setEtag is
 *   false, a strong ETag in IIS's shape ("<hex>:<hex>": mtime in ns, then
 *   size and inode). Preconditions in RFC 9110 order: If-Match (412),
 *   If-Unmodified-Since (412), If-None-Match (304; it wins over
 *   If-Modified-Since), If-Modified-Since (304).
 * - Range (GET only) with If-Range: one range -> 206 sent with sendfile;
 *   several -> 206 multipart/byteranges (at most STATIC_MAX_RANGES ranges
 *   and STATIC_MAX_MULTIPART bytes, else the whole file with 200, which RFC
 *   9110 allows); none satisfiable -> 416 with Content-Range: bytes * /len.
 * - clientCache: Cache-Control (no-cache, max-age=N, cacheControlCustom)
 *   and Expires (UseExpires with httpExpires).
 * - Directories are left to DefaultDocumentModule and DirectoryListingModule
 *   (WASP_DECLINED); other methods: 405.
 *
 * Per request this costs one open-file-cache lookup (wasp_request_open),
 * one cached config lookup, a hash lookup for the type, and a few header
 * strings in the request's arena; the body goes out with sendfile.
 *
 * Hidden segments (web.config, bin, App_Data, ...: 404.8) are the
 * RequestFilteringModule's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "http.h"
#include "util.h"
#include "worker.h"
#include "mod_static.h"

/* ---- staticContent, derived once per distinct effective section ---- */

static void
conf_free(void *p)
{
	struct static_conf *c = p;

	if (!c)
		return;
	mime_map_free(c->own_mime);
	free(c->cache_control);
	free(c->expires);
	free(c);
}

/* cacheControlCustom may hold several directives separated by CRLF (IIS):
 * one header value, the directives joined with ", ". */
static char *
join_directives(const char *custom, const char *mode)
{
	size_t n = strlen(custom) * 2 + strlen(mode) + 3, o = 0;
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	for (const char *p = custom; *p;) {
		size_t k;

		while (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t' || *p == ',')
			p++;
		k = strcspn(p, "\r\n");
		while (k && (p[k - 1] == ' ' || p[k - 1] == '\t' || p[k - 1] == ','))
			k--;
		if (k) {
			if (o)
				o += (size_t)sprintf(s + o, ", ");
			memcpy(s + o, p, k);
			o += k;
		}
		p += strcspn(p, "\r\n");
	}
	if (*mode) {
		if (o)
			o += (size_t)sprintf(s + o, ", ");
		o += (size_t)sprintf(s + o, "%s", mode);
	}
	s[o] = '\0';
	if (o == 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void *
conf_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	const struct wasp_element *cc = wasp_element_child(sec, "clientCache");
	const struct wasp_value *mode = wasp_element_value(cc, "cacheControlMode");
	struct static_conf *c = calloc(1, sizeof(*c));
	char directive[64] = "";

	if (!c)
		return NULL;
	/* the built-in map is in the configuration (config/defaults.c): an
	 * empty collection (<clear/>) serves no extension */
	{
		struct mime_pair *pairs = calloc(sec->n_items + 1, sizeof(*pairs));
		size_t n = 0;

		if (!pairs)
			goto fail;
		for (size_t i = 0; i < sec->n_items; i++) {
			const char *ext = wasp_element_get_str(sec->items[i], "fileExtension", "");
			const char *type = wasp_element_get_str(sec->items[i], "mimeType", "");

			if (*ext && *type && !strpbrk(type, "\r\n"))
				pairs[n++] = (struct mime_pair){ ext, type };
		}
		c->own_mime = mime_map_new(pairs, n);
		free(pairs);
		if (!c->own_mime)
			goto fail;
		c->mime = c->own_mime;
	}

	c->set_etag = wasp_element_get_bool(cc, "setEtag", true);
	switch (mode ? mode->u : 0) {
	case 1: /* DisableCache */
		snprintf(directive, sizeof(directive), "no-cache");
		break;
	case 2: /* UseMaxAge: cacheControlMaxAge is a timeSpan (usec) */
		snprintf(directive, sizeof(directive), "max-age=%" PRIu64,
			 wasp_element_get_uint(cc, "cacheControlMaxAge", 86400000000ULL) / 1000000);
		break;
	case 3: { /* UseExpires */
		const char *exp = wasp_element_get_str(cc, "httpExpires", "");

		if (*exp && !strpbrk(exp, "\r\n")) {
			c->expires = strdup(exp);
			if (!c->expires)
				goto fail;
		}
		break;
	}
	default: /* NoControl */
		break;
	}
	c->cache_control =
		join_directives(wasp_element_get_str(cc, "cacheControlCustom", ""), directive);
	if (!c->cache_control && (*directive || *wasp_element_get_str(cc, "cacheControlCustom", "")))
		goto fail;

	return c;
fail:
	conf_free(c);
	return NULL;
}

static const struct wasp_module_section static_sections[] = {
	{ .name = STATIC_SECTION, .build = conf_build, .free_conf = conf_free },
};

static const struct static_conf *
static_conf_get(struct wasp_request *req)
{
	static struct static_conf fallback = { .set_etag = true };
	const struct static_conf *c;

	c = wasp_request_module_conf(req, &mod_static, 0);
	if (c)
		return c;
	/* no application or no such section (tests without a configuration) */
	if (!fallback.mime)
		fallback.mime = mime_map_builtin();
	return fallback.mime ? &fallback : NULL;
}

/* ---- validators and preconditions ---- */

static char *
put_hex(char *o, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0;

	do {
		tmp[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*o++ = tmp[--n];
	return o;
}

/* "<mtime ns>:<size>:<inode>" in hex, quoted: out needs 54 bytes. */
size_t
static_etag(const struct stat *st, char *out)
{
	char *o = out;
	uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ULL + (uint64_t)st->st_mtim.tv_nsec;

	*o++ = '"';
	o = put_hex(o, ns);
	*o++ = ':';
	o = put_hex(o, (uint64_t)st->st_size);
	*o++ = ':';
	o = put_hex(o, (uint64_t)st->st_ino);
	*o++ = '"';
	*o = '\0';
	return (size_t)(o - out);
}

bool
static_etag_list_match(const char *v, size_t len, const char *etag, size_t etag_len, bool weak)
{
	const char *p = v, *end = v + len;

	while (p < end) {
		bool w = false;
		const char *q;

		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		if (*p == '*')
			return true;
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
			w = true;
			p += 2;
		}
		if (p == end || *p != '"')
			return false; /* not an entity-tag: nothing matches */
		q = memchr(p + 1, '"', (size_t)(end - p - 1));
		if (!q)
			return false;
		q++;
		if ((weak || !w) && (size_t)(q - p) == etag_len && memcmp(p, etag, etag_len) == 0)
			return true;
		p = q;
	}
	return false;
}

struct conds {
	struct wasp_http_str if_match, if_none_match, if_modified_since, if_unmodified_since,
		range, if_range;
};

/* One pass over the request's fields for the six that matter here. */
static void
scan_conds(const struct wasp_request *req, struct conds *c)
{
	*c = (struct conds){ 0 };
	if (!req->http)
		return;
	for (uint32_t i = 0; i < req->http->n_headers; i++) {
		const struct wasp_http_header *h = &req->http->headers[i];
		struct wasp_http_str *dst = NULL;
		const char *n = h->name.ptr;

		if (!n || (n[0] | 0x20) == 'r') {
			if (n && h->name.len == 5 && strncasecmp(n, "range", 5) == 0)
				dst = &c->range;
		} else if ((n[0] | 0x20) == 'i' && h->name.len >= 8 && (n[1] | 0x20) == 'f' &&
			   n[2] == '-') {
			switch (h->name.len) {
			case 8:
				if (strncasecmp(n, "if-match", 8) == 0)
					dst = &c->if_match;
				else if (strncasecmp(n, "if-range", 8) == 0)
					dst = &c->if_range;
				break;
			case 13:
				if (strncasecmp(n, "if-none-match", 13) == 0)
					dst = &c->if_none_match;
				break;
			case 17:
				if (strncasecmp(n, "if-modified-since", 17) == 0)
					dst = &c->if_modified_since;
				break;
			case 19:
				if (strncasecmp(n, "if-unmodified-since", 19) == 0)
					dst = &c->if_unmodified_since;
				break;
			}
		}
		if (dst && !dst->ptr)
			*dst = (struct wasp_http_str){ h->value.ptr ? h->value.ptr : "", h->value.len };
	}
}

static bool
parse_date(struct wasp_http_str s, time_t *ret)
{
	return s.ptr && wasp_http_date_parse(s.ptr, s.len, ret) == 0;
}

/* ---- ranges ---- */

static const char *
skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static const char *
parse_u64(const char *s, uint64_t *ret, bool *ret_any)
{
	uint64_t v = 0;

	*ret_any = false;
	for (; *s >= '0' && *s <= '9'; s++) {
		*ret_any = true;
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return s;
}

int
static_parse_ranges(const char *s, uint64_t size, struct static_range *out, size_t max,
		    size_t *ret_n)
{
	size_t n = 0, specs = 0;

	if (strncasecmp(s, "bytes", 5) != 0)
		return 0;
	s = skip_ows(s + 5);
	if (*s++ != '=')
		return 0;
	for (;;) {
		uint64_t a, b;
		bool has_a, has_b;

		s = skip_ows(s);
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == '\0')
			break;
		s = parse_u64(s, &a, &has_a);
		if (*s++ != '-')
			return 0;
		s = parse_u64(s, &b, &has_b);
		s = skip_ows(s);
		if ((*s != ',' && *s != '\0') || (!has_a && !has_b) || (has_a && has_b && b < a))
			return 0; /* invalid: the field is ignored */
		if (++specs > max)
			return 0; /* too many to bother: the whole file */
		if (has_a) {
			if (a < size)
				out[n++] = (struct static_range){ a, has_b && b < size ? b : size - 1 };
		} else if (b > 0 && size > 0) { /* the last b bytes */
			out[n++] = (struct static_range){ b >= size ? 0 : size - b, size - 1 };
		}
	}
	if (specs == 0)
		return 0;
	if (n == 0)
		return -ERANGE;
	*ret_n = n;
	return 1;
}

/* If-Range: the representation is unchanged (a strong ETag match, or the
 * exact Last-Modified date): the Range applies. */
static bool
if_range_holds(struct wasp_http_str v, const char *etag, size_t etag_len, bool set_etag,
	       time_t mtime)
{
	time_t t;

	if (v.len > 0 && (v.ptr[0] == '"' || v.ptr[0] == 'W'))
		return set_etag && v.len == etag_len && memcmp(v.ptr, etag, etag_len) == 0;
	return parse_date(v, &t) && t == mtime;
}

/* wasp_response_add_header() with a value that may be NULL (OOM). */
static int
add_header_or_oom(struct wasp_request *req, const char *name, const char *value)
{
	return value ? wasp_response_add_header(req, name, value) : -ENOMEM;
}

static enum wasp_status
serve_multipart(struct wasp_request *req, const char *type, int fd, const struct stat *st,
		const struct static_range *r, size_t n, bool *ret_too_big)
{
	uint64_t size = (uint64_t)st->st_size, total = 0;
	char boundary[24], *buf, *o;
	uint64_t x = wasp_now_usec() ^ ((uint64_t)st->st_ino << 20) ^ (uint64_t)(uintptr_t)req;

	/* the boundary only has to be unlikely in the data */
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	snprintf(boundary, sizeof(boundary), "%016" PRIx64, x);
	for (size_t i = 0; i < n; i++)
		total += 128 + strlen(type) + (r[i].last - r[i].first + 1);
	total += 32;
	if (total > STATIC_MAX_MULTIPART) {
		*ret_too_big = true;
		return WASP_DECLINED;
	}
	buf = wasp_request_alloc(req, (size_t)total);
	if (!buf)
		return WASP_ERROR;
	o = buf;
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)(r[i].last - r[i].first + 1);
		ssize_t k;

		o += sprintf(o,
			     "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64
			     "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
			     boundary, type, r[i].first, r[i].last, size);
		k = pread(fd, o, len, (off_t)r[i].first);
		if (k != (ssize_t)len)
			return WASP_ERROR; /* the file changed under us */
		o += len;
	}
	o += sprintf(o, "\r\n--%s--\r\n", boundary);
	wasp_response_set_status(req, 206, 0);
	if (add_header_or_oom(req, "Content-Type",
			      wasp_arena_printf(req->arena, "multipart/byteranges; boundary=%s",
						boundary)) < 0 ||
	    wasp_response_write(req, buf, (size_t)(o - buf)) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

_Static_assert(sizeof(((struct static_conf *)0)->lm_text) >= WASP_HTTP_DATE_LEN + 1,
	       "room for an IMF-fixdate");

/* Last-Modified text for t, from the section's one-entry memo (the worker
 * is single-threaded; the state is ours, handed back as const). */
static const char *
last_modified(const struct static_conf *c, time_t t)
{
	struct static_conf *m = (struct static_conf *)(uintptr_t)c;

	if (m->lm_text[0] == '\0' || m->lm_sec != t) {
		wasp_http_date_format(t, m->lm_text);
		m->lm_sec = t;
	}
	return m->lm_text;
}

/* The ETag for st, from the section's one-entry memo (as last_modified()):
 * a site's hot file asks for the same one again and again. */
static const char *
etag_of(const struct static_conf *c, const struct stat *st, size_t *ret_len)
{
	struct static_conf *m = (struct static_conf *)(uintptr_t)c;

	if (m->etag_len == 0 || m->etag_mtim.tv_sec != st->st_mtim.tv_sec ||
	    m->etag_mtim.tv_nsec != st->st_mtim.tv_nsec || m->etag_size != st->st_size ||
	    m->etag_ino != st->st_ino) {
		m->etag_len = static_etag(st, m->etag_text);
		m->etag_mtim = st->st_mtim;
		m->etag_size = st->st_size;
		m->etag_ino = st->st_ino;
	}
	*ret_len = m->etag_len;
	return m->etag_text;
}

static int
add_validators(struct wasp_request *req, const struct static_conf *c, const char *etag,
	       const char *lm)
{
	int r = wasp_response_add_header(req, "Last-Modified", lm);

	if (r >= 0 && c->set_etag)
		r = wasp_response_add_header(req, "ETag", etag);
	if (r >= 0 && c->cache_control)
		r = wasp_response_add_header(req, "Cache-Control", c->cache_control);
	if (r >= 0 && c->expires)
		r = wasp_response_add_header(req, "Expires", c->expires);
	return r;
}

/* RFC 9110 13.2.2: If-Match, If-Unmodified-Since, If-None-Match,
 * If-Modified-Since (If-Range is the range's). WASP_OK: serve; WASP_DONE:
 * answered 412 or 304; WASP_ERROR. */
static enum wasp_status
check_preconditions(struct wasp_request *req, const struct static_conf *c, const struct conds *k,
		    const struct stat *st, const char *etag, size_t etag_len, const char *lm)
{
	time_t t;

	if (k->if_match.ptr) {
		if (!static_etag_list_match(k->if_match.ptr, k->if_match.len, etag, etag_len,
					    false)) {
			wasp_response_set_status(req, 412, 0);
			return WASP_DONE;
		}
	} else if (parse_date(k->if_unmodified_since, &t) && st->st_mtim.tv_sec > t) {
		wasp_response_set_status(req, 412, 0);
		return WASP_DONE;
	}
	if (k->if_none_match.ptr ?
		    static_etag_list_match(k->if_none_match.ptr, k->if_none_match.len, etag,
					   etag_len, true) :
		    (parse_date(k->if_modified_since, &t) && st->st_mtim.tv_sec <= t &&
		     t <= time(NULL))) {
		wasp_response_set_status(req, 304, 0);
		return add_validators(req, c, etag, lm) < 0 ? WASP_ERROR : WASP_DONE;
	}
	return WASP_OK;
}

/* The Range field value spec (GET, If-Range held) of a file of type: 416,
 * one range (206 with sendfile) or several (multipart). WASP_DECLINED: send
 * the whole file (an ignored Range, or a multipart answer too big). */
static enum wasp_status
serve_ranges(struct wasp_request *req, const char *spec, const char *type, int fd,
	     const struct stat *st)
{
	static const char page[] = "<!DOCTYPE html>\n<html><head><title>416 - "
				   "Range Not Satisfiable</title></head>\n<body>"
				   "<h1>416 - Range Not Satisfiable</h1></body>"
				   "</html>\n";
	uint64_t size = (uint64_t)st->st_size;
	struct static_range rs[STATIC_MAX_RANGES];
	size_t n = 0;
	int r = static_parse_ranges(spec, size, rs, ELEMENTSOF(rs), &n);

	if (r < 0) {
		/* Content-Range describes the file, not this page: a custom
		 * error page (existingResponse Auto) would drop it */
		wasp_response_set_status(req, 416, 0);
		wasp_response_set_try_skip_custom_errors(req, true);
		if (add_header_or_oom(req, "Content-Range",
				      wasp_arena_printf(req->arena, "bytes */%" PRIu64, size)) < 0 ||
		    wasp_response_add_header(req, "Content-Type", "text/html; charset=utf-8") < 0 ||
		    wasp_response_write(req, page, sizeof(page) - 1) < 0)
			return WASP_ERROR;
		return WASP_DONE;
	}
	if (r > 0 && n == 1) {
		wasp_response_set_status(req, 206, 0);
		if (wasp_response_add_header(req, "Content-Type", type) < 0 ||
		    add_header_or_oom(req, "Content-Range",
				      wasp_arena_printf(req->arena,
							"bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
							rs[0].first, rs[0].last, size)) < 0 ||
		    wasp_response_send_file(req, fd, (off_t)rs[0].first,
					    rs[0].last - rs[0].first + 1) < 0)
			return WASP_ERROR;
		return WASP_DONE;
	}
	if (r > 0) {
		bool too_big = false;
		enum wasp_status s = serve_multipart(req, type, fd, st, rs, n, &too_big);

		if (!too_big)
			return s;
	}
	return WASP_DECLINED;
}

static enum wasp_status
serve_conf(struct wasp_request *req, const struct static_conf *c, const char *name, int fd,
	   const struct stat *st)
{
	bool get = streq(wasp_request_method(req), "GET");
	const char *etag, *lm;
	size_t etag_len;
	const char *type;
	enum wasp_status s;
	struct conds k;

	if (!c)
		return WASP_ERROR;
	type = mime_map_lookup(c->mime, name);
	if (!type) {
		wasp_response_set_status(req, 404, 3); /* no MIME map entry */
		return WASP_DONE;
	}
	etag = etag_of(c, st, &etag_len);
	lm = last_modified(c, st->st_mtim.tv_sec);
	scan_conds(req, &k);
	s = check_preconditions(req, c, &k, st, etag, etag_len, lm);
	if (s != WASP_OK)
		return s;

	if (add_validators(req, c, etag, lm) < 0 ||
	    request_add_header_static(req, "Accept-Ranges", 13, "bytes", 5) < 0)
		return WASP_ERROR;

	if (get && k.range.ptr &&
	    (!k.if_range.ptr ||
	     if_range_holds(k.if_range, etag, etag_len, c->set_etag, st->st_mtim.tv_sec))) {
		char *spec = wasp_arena_strndup(req->arena, k.range.ptr, k.range.len);

		if (!spec)
			return WASP_ERROR;
		s = serve_ranges(req, spec, type, fd, st);
		if (s != WASP_DECLINED)
			return s;
	}

	wasp_response_set_status(req, 200, 0);
	/* type lives as long as the section's state (checked when built) */
	if (request_add_header_static(req, "Content-Type", 12, type, strlen(type)) < 0 ||
	    wasp_response_send_file(req, fd, 0, (uint64_t)st->st_size) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

static enum wasp_status
static_on_execute(struct wasp_request *req, void *userdata)
{
	const char *path = wasp_request_path(req);
	const struct static_conf *c;
	struct stat st;
	int fd, r;

	(void)userdata;
	if (!wasp_http_method_is_get_or_head(wasp_request_method(req))) {
		wasp_response_set_status(req, 405, 0);
		(void)wasp_response_add_header(req, "Allow", "GET, HEAD");
		return WASP_DONE;
	}
	c = static_conf_get(req); /* once: open and serve share it */
	r = wasp_request_open_content(req, NULL, &fd, &st);
	if (r >= 0 && S_ISDIR(st.st_mode))
		return WASP_DECLINED; /* DefaultDocumentModule, DirectoryListingModule */
	if (r == -EACCES) {
		wasp_response_set_status(req, 403, 0);
		return WASP_DONE;
	}
	if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG && r != -EINVAL)
		return WASP_ERROR;
	if (r < 0 || !S_ISREG(st.st_mode)) {
		wasp_response_set_status(req, 404, 0);
		return WASP_DONE;
	}
	return serve_conf(req, c, path, fd, &st);
}

static int
static_register_hooks(struct wasp_hooks *hooks)
{
	/* before DefaultDocumentModule (LOW) and DirectoryListingModule (LAST):
	 * a file is served at once, a directory is left to them */
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_MEDIUM,
			      static_on_execute, NULL);
}

const struct wasp_module mod_static = {
	.abi = WASP_MODULE_ABI,
	.name = "StaticFileModule",
	.sections = static_sections,
	.n_sections = ELEMENTSOF(static_sections),
	.register_hooks = static_register_hooks,
};
