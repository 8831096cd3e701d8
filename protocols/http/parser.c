/* RFC 9112 request head parser: request-line, field lines, and the fields that
 * decide framing and routing (Host, Content-Length, Transfer-Encoding,
 * Connection, Expect, Upgrade). Strictness choices are listed in http.h. */
#include <string.h>
#include <strings.h>

#include "http-internal.h"
#include "http.h"

/* Generated: bit 0x01 tchar, 0x02 target, 0x04 field value, 0x08 reg-name,
 * 0x10 hex digit (see http-internal.h). */
const uint8_t wasp_http_char_class[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 4, 15,  4,  5, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15,  6,
	31, 31, 31, 31, 31, 31, 31, 31, 31, 31,  6, 14,  4, 14,  4,  6,
	 6, 31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  4,  6,  5, 15,
	 5, 31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  4,  5,  4, 15,  0,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
};

const struct wasp_http_limits wasp_http_default_limits = {
	.request_line = WASP_HTTP_MAX_REQUEST_LINE,
	.head = WASP_HTTP_MAX_HEAD,
	.fields = WASP_HTTP_MAX_FIELDS,
	.chunk_line = WASP_HTTP_MAX_CHUNK_LINE,
	.trailer = WASP_HTTP_MAX_TRAILER,
	.body = 0,
	.allow_bare_lf = false,
};

enum {
	PS_REQUEST_LINE,
	PS_FIELDS,
	PS_DONE,
	PS_ERROR,
};

static const char slash[] = "/";

static const struct {
	const char *name;
	size_t len;
} method_names[WASP_HTTP_METHOD__COUNT] = {
	[WASP_HTTP_METHOD_OTHER] = { NULL, 0 },
	[WASP_HTTP_METHOD_GET] = { "GET", 3 },
	[WASP_HTTP_METHOD_HEAD] = { "HEAD", 4 },
	[WASP_HTTP_METHOD_POST] = { "POST", 4 },
	[WASP_HTTP_METHOD_PUT] = { "PUT", 3 },
	[WASP_HTTP_METHOD_DELETE] = { "DELETE", 6 },
	[WASP_HTTP_METHOD_CONNECT] = { "CONNECT", 7 },
	[WASP_HTTP_METHOD_OPTIONS] = { "OPTIONS", 7 },
	[WASP_HTTP_METHOD_TRACE] = { "TRACE", 5 },
	[WASP_HTTP_METHOD_PATCH] = { "PATCH", 5 },
};

const char *
wasp_http_method_name(enum wasp_http_method m)
{
	if (m <= WASP_HTTP_METHOD_OTHER || m >= WASP_HTTP_METHOD__COUNT)
		return NULL;
	return method_names[m].name;
}

bool
wasp_http_method_is_get_or_head(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Methods are case-sensitive (RFC 9110 9.1): "get" is OTHER. */
static enum wasp_http_method
method_lookup(const char *s, size_t n)
{
	for (int m = WASP_HTTP_METHOD_GET; m < WASP_HTTP_METHOD__COUNT; m++)
		if (method_names[m].len == n && memcmp(method_names[m].name, s, n) == 0)
			return (enum wasp_http_method)m;
	return WASP_HTTP_METHOD_OTHER;
}

bool
wasp_http_str_eq_ci(struct wasp_http_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.ptr && s.len == n && strncasecmp(s.ptr, lit, n) == 0;
}

static bool
mem_eq_ci(const char *a, size_t an, const char *lit)
{
	size_t n = strlen(lit);

	return an == n && strncasecmp(a, lit, n) == 0;
}

/* Iterate over the elements of a comma-separated list: sets *el to the next
 * element with OWS trimmed (possibly empty) and returns false at the end. */
static bool
list_next(const char **cur, const char *end, struct wasp_http_str *el)
{
	const char *p = *cur, *s, *e;

	if (p > end)
		return false;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	s = p;
	while (p < end && *p != ',')
		p++;
	e = p;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	el->ptr = s;
	el->len = (size_t)(e - s);
	*cur = p + 1; /* past the comma, or end + 1 when done */
	return true;
}

bool
wasp_http_list_has_token(struct wasp_http_str value, const char *tok)
{
	const char *cur = value.ptr, *end = value.ptr + value.len;
	struct wasp_http_str el;

	if (!value.ptr)
		return false;
	while (list_next(&cur, end, &el)) {
		/* a parameter after the token does not change the token */
		size_t n = 0;
		while (n < el.len && el.ptr[n] != ';' && el.ptr[n] != ' ' && el.ptr[n] != '\t')
			n++;
		if (mem_eq_ci(el.ptr, n, tok))
			return true;
	}
	return false;
}

/* The Connection field's tokens we act on, in one pass over its list (every
 * request of a client that closes has one; the same rules as
 * wasp_http_list_has_token for each). */
static void
connection_tokens(struct wasp_http_request *req, struct wasp_http_str value)
{
	const char *cur = value.ptr, *end = value.ptr + value.len;
	struct wasp_http_str el;

	if (!value.ptr)
		return;
	while (list_next(&cur, end, &el)) {
		size_t n = 0;
		while (n < el.len && el.ptr[n] != ';' && el.ptr[n] != ' ' && el.ptr[n] != '\t')
			n++;
		if (mem_eq_ci(el.ptr, n, "close"))
			req->connection_close = true;
		else if (mem_eq_ci(el.ptr, n, "keep-alive"))
			req->p_conn_keep_alive = true;
		else if (mem_eq_ci(el.ptr, n, "upgrade"))
			req->upgrade = true; /* confirmed at the end */
	}
}

const struct wasp_http_header *
wasp_http_request_header(const struct wasp_http_request *req, const char *name)
{
	size_t n = strlen(name);

	for (uint32_t i = 0; i < req->n_headers; i++)
		if (req->headers[i].name.len == n &&
		    strncasecmp(req->headers[i].name.ptr, name, n) == 0)
			return &req->headers[i];
	return NULL;
}

void
wasp_http_request_init(struct wasp_http_request *req)
{
	memset(req, 0, offsetof(struct wasp_http_request, headers));
	req->p_state = PS_REQUEST_LINE;
}

static int
fail(struct wasp_http_request *req, uint16_t status, const char *reason)
{
	req->err_status = status;
	req->err_reason = reason;
	req->p_state = PS_ERROR;
	return -EBADMSG;
}

/* uri-host [ ":" port ] (RFC 9110 7.2); an empty value is allowed (Host: for
 * a target without authority). Fills *host, *name (without the port) and
 * *port on success; returns -1 when malformed. */
static int
parse_host(const char *s, size_t n, bool need_port, struct wasp_http_str *host,
		struct wasp_http_str *name, uint32_t *ret_port)
{
	size_t i = 0, digits = 0;
	uint32_t port = 0;

	if (n > 0 && s[0] == '[') {
		/* IP-literal: IPv6address (hex, ':', '.' for an embedded IPv4) */
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!wasp_http_is((unsigned char)s[i], WASP_HTTP_C_HEX) && s[i] != ':' &&
			    s[i] != '.')
				return -1;
		if (i >= n || i == 1)
			return -1;
		i++; /* past ']' */
	} else {
		for (; i < n && s[i] != ':'; i++) {
			if (!wasp_http_is((unsigned char)s[i], WASP_HTTP_C_HOST))
				return -1;
			if (s[i] == '%' && (i + 2 >= n ||
					!wasp_http_is((unsigned char)s[i + 1], WASP_HTTP_C_HEX) ||
					!wasp_http_is((unsigned char)s[i + 2], WASP_HTTP_C_HEX)))
				return -1;
		}
	}
	size_t name_len = i;
	if (i < n) {
		if (s[i] != ':')
			return -1;
		for (i++; i < n; i++, digits++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			port = port * 10 + (uint32_t)(s[i] - '0');
			if (port > 65535)
				return -1;
		}
	}
	if (need_port && digits == 0)
		return -1;
	*host = (struct wasp_http_str){ s, n };
	*name = (struct wasp_http_str){ s, name_len };
	*ret_port = port;
	return 0;
}

static int
parse_host_into(struct wasp_http_request *req, const char *s, size_t n, bool need_port)
{
	return parse_host(s, n, need_port, &req->host, &req->host_name, &req->host_port);
}

/* Splits path and query of an origin-form or absolute-form path part. */
static void
split_path_query(struct wasp_http_request *req, const char *s, size_t n)
{
	const char *q = memchr(s, '?', n);

	if (q) {
		req->path = (struct wasp_http_str){ s, (size_t)(q - s) };
		req->query = (struct wasp_http_str){ q + 1, n - (size_t)(q - s) - 1 };
	} else {
		req->path = (struct wasp_http_str){ s, n };
	}
	if (req->path.len == 0)
		req->path = (struct wasp_http_str){ slash, 1 };
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
parse_target(struct wasp_http_request *req, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!wasp_http_is(c, WASP_HTTP_C_TARGET))
			return fail(req, 400, "invalid character in request target");
		if (c == '%' && (i + 2 >= n ||
				!wasp_http_is((unsigned char)s[i + 1], WASP_HTTP_C_HEX) ||
				!wasp_http_is((unsigned char)s[i + 2], WASP_HTTP_C_HEX)))
			return fail(req, 400, "invalid percent-encoding in request target");
	}
	req->target = (struct wasp_http_str){ s, n };

	if (req->method == WASP_HTTP_METHOD_CONNECT) {
		req->form = WASP_HTTP_FORM_AUTHORITY;
		req->path = (struct wasp_http_str){ s, 0 };
		if (memchr(s, '/', n) || memchr(s, '?', n) || memchr(s, '@', n) ||
		    parse_host_into(req, s, n, true) < 0 || req->host_name.len == 0)
			return fail(req, 400, "CONNECT needs an authority-form target");
		return 0;
	}
	if (s[0] == '/') {
		req->form = WASP_HTTP_FORM_ORIGIN;
		split_path_query(req, s, n);
		return 0;
	}
	if (n == 1 && s[0] == '*') {
		if (req->method != WASP_HTTP_METHOD_OPTIONS)
			return fail(req, 400, "asterisk-form target is only for OPTIONS");
		req->form = WASP_HTTP_FORM_ASTERISK;
		req->path = (struct wasp_http_str){ s, 1 };
		return 0;
	}

	/* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
	size_t i = 0;
	if (!is_alpha(s[0]))
		return fail(req, 400, "invalid request target");
	while (i < n && (is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
			       s[i] == '-' || s[i] == '.'))
		i++;
	if (!(mem_eq_ci(s, i, "http") || mem_eq_ci(s, i, "https")))
		return fail(req, 400, "request target scheme is not http or https");
	if (n - i < 3 || memcmp(s + i, "://", 3) != 0)
		return fail(req, 400, "invalid request target");
	i += 3;
	size_t a = i;
	while (i < n && s[i] != '/' && s[i] != '?')
		i++;
	if (memchr(s + a, '@', i - a))
		return fail(req, 400, "userinfo in request target");
	if (parse_host_into(req, s + a, i - a, false) < 0 || req->host_name.len == 0)
		return fail(req, 400, "invalid authority in request target");
	req->form = WASP_HTTP_FORM_ABSOLUTE;
	split_path_query(req, s + i, n - i);
	return 0;
}

static int
parse_request_line(struct wasp_http_request *req, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && wasp_http_is((unsigned char)s[i], WASP_HTTP_C_TCHAR))
		i++;
	if (i == 0 || i >= n || s[i] != ' ')
		return fail(req, 400, "invalid method");
	if (i > WASP_HTTP_MAX_METHOD)
		return fail(req, 400, "method too long");
	req->method_str = (struct wasp_http_str){ s, i };
	req->method = method_lookup(s, i);

	const char *t = s + i + 1;
	const char *sp = memchr(t, ' ', n - i - 1);
	if (!sp)
		return fail(req, 400, "request line without HTTP version");
	if (sp == t)
		return fail(req, 400, "empty request target");
	size_t vlen = (size_t)(s + n - (sp + 1));
	const char *v = sp + 1;
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9') {
		if (memchr(v, ' ', vlen))
			return fail(req, 400, "invalid character in request target");
		return fail(req, 400, "invalid HTTP version");
	}
	if (v[5] != '1')
		return fail(req, 505, "HTTP version not supported");
	req->version = v[7] == '0' ? WASP_HTTP_1_0 : WASP_HTTP_1_1;

	return parse_target(req, t, (size_t)(sp - t));
}

static int
parse_content_length(struct wasp_http_request *req, const char *s, size_t n)
{
	const char *cur = s, *end = s + n;
	struct wasp_http_str el;

	while (list_next(&cur, end, &el)) {
		uint64_t v = 0;
		if (el.len == 0 || el.len > 18)
			return fail(req, 400, "invalid Content-Length");
		for (size_t i = 0; i < el.len; i++) {
			if (el.ptr[i] < '0' || el.ptr[i] > '9')
				return fail(req, 400, "invalid Content-Length");
			v = v * 10 + (uint64_t)(el.ptr[i] - '0');
		}
		if (req->has_content_length && req->content_length != v)
			return fail(req, 400, "conflicting Content-Length values");
		req->has_content_length = true;
		req->content_length = v;
	}
	return 0;
}

static int
parse_transfer_encoding(struct wasp_http_request *req, const char *s, size_t n)
{
	static const char *const known[] = { "gzip", "x-gzip", "deflate", "compress",
		"x-compress" };
	const char *cur = s, *end = s + n;
	struct wasp_http_str el;

	req->p_te_seen = true;
	while (list_next(&cur, end, &el)) {
		size_t t = 0;
		if (el.len == 0)
			continue; /* empty list elements are ignored (RFC 9110 5.6.1) */
		while (t < el.len && wasp_http_is((unsigned char)el.ptr[t], WASP_HTTP_C_TCHAR))
			t++;
		if (t == 0)
			return fail(req, 400, "invalid Transfer-Encoding");
		if (req->p_te_last_chunked)
			return fail(req, 400, "chunked is not the last transfer coding");
		req->p_te_count++;
		if (mem_eq_ci(el.ptr, t, "chunked")) {
			if (t != el.len)
				return fail(req, 400, "parameters on chunked");
			req->p_te_last_chunked = true;
			continue;
		}
		bool found = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (mem_eq_ci(el.ptr, t, known[k]))
				found = true;
		if (!found)
			return fail(req, 501, "unknown transfer coding");
		req->p_te_other = true;
	}
	return 0;
}

/* Acts on the fields that matter to framing and routing. */
static int
field_derive(struct wasp_http_request *req, const struct wasp_http_header *h)
{
	const char *nm = h->name.ptr;
	size_t nl = h->name.len;

	switch (nl) {
	case 4:
		if (mem_eq_ci(nm, nl, "host")) {
			if (++req->p_host_lines > 1)
				return fail(req, 400, "more than one Host field");
			if (req->form == WASP_HTTP_FORM_ABSOLUTE ||
			    req->form == WASP_HTTP_FORM_AUTHORITY) {
				/* the target's authority wins; the field must still be valid */
				struct wasp_http_str hs, hn;
				uint32_t hp;
				if (parse_host(h->value.ptr, h->value.len, false, &hs, &hn, &hp) < 0)
					return fail(req, 400, "invalid Host");
				return 0;
			}
			if (parse_host_into(req, h->value.ptr, h->value.len, false) < 0)
				return fail(req, 400, "invalid Host");
		}
		return 0;
	case 6:
		if (mem_eq_ci(nm, nl, "expect") &&
		    wasp_http_list_has_token(h->value, "100-continue"))
			req->expect_continue = true;
		return 0;
	case 7:
		if (mem_eq_ci(nm, nl, "upgrade")) {
			req->p_has_upgrade_field = true;
			req->upgrade_value = h->value;
		}
		return 0;
	case 10:
		if (mem_eq_ci(nm, nl, "connection"))
			connection_tokens(req, h->value);
		return 0;
	case 14:
		if (mem_eq_ci(nm, nl, "content-length"))
			return parse_content_length(req, h->value.ptr, h->value.len);
		return 0;
	case 17:
		if (mem_eq_ci(nm, nl, "transfer-encoding"))
			return parse_transfer_encoding(req, h->value.ptr, h->value.len);
		return 0;
	default:
		return 0;
	}
}

static int
parse_field_line(struct wasp_http_request *req, const char *s, size_t n, uint32_t max_fields)
{
	size_t i = 0;

	if (s[0] == ' ' || s[0] == '\t')
		return fail(req, 400, req->n_headers ? "obsolete line folding"
						     : "whitespace before the first field");
	while (i < n && wasp_http_is((unsigned char)s[i], WASP_HTTP_C_TCHAR))
		i++;
	if (i == n)
		return fail(req, 400, "field line without colon");
	if (s[i] != ':') {
		if (s[i] == ' ' || s[i] == '\t') {
			size_t j = i;
			while (j < n && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j < n && s[j] == ':')
				return fail(req, 400, "whitespace between field name and colon");
		}
		return fail(req, 400, "invalid character in field name");
	}
	if (i == 0)
		return fail(req, 400, "empty field name");
	if (req->n_headers >= max_fields)
		return fail(req, 431, "too many header fields");

	size_t v = i + 1, e = n;
	while (v < n && (s[v] == ' ' || s[v] == '\t'))
		v++;
	for (size_t k = v; k < n; k++)
		if (!wasp_http_is((unsigned char)s[k], WASP_HTTP_C_VALUE))
			return fail(req, 400, s[k] == '\r' ? "bare CR in field value"
							   : "control character in field value");
	while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;

	struct wasp_http_header *h = &req->headers[req->n_headers++];
	h->name = (struct wasp_http_str){ s, i };
	h->value = (struct wasp_http_str){ s + v, e - v };
	return field_derive(req, h);
}

static int
finish_head(struct wasp_http_request *req, uint32_t head_len)
{
	if (req->version == WASP_HTTP_1_1 && req->p_host_lines == 0)
		return fail(req, 400, "missing Host field");
	if (req->p_te_seen) {
		if (req->has_content_length)
			return fail(req, 400, "both Content-Length and Transfer-Encoding");
		if (req->version == WASP_HTTP_1_0)
			return fail(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
		if (req->p_te_count == 0)
			return fail(req, 400, "empty Transfer-Encoding");
		if (!req->p_te_last_chunked)
			return fail(req, 400, "chunked is not the last transfer coding");
		if (req->p_te_other)
			return fail(req, 501, "unsupported transfer coding");
		req->chunked = true;
	}
	if (req->has_content_length && req->p_max_body && req->content_length > req->p_max_body)
		return fail(req, 413, "request body too large");
	if (req->version == WASP_HTTP_1_1)
		req->keep_alive = !req->connection_close;
	else
		req->keep_alive = req->p_conn_keep_alive && !req->connection_close;
	/* both are ignored in HTTP/1.0 requests (RFC 9110 10.1.1, 7.8) */
	if (req->version == WASP_HTTP_1_0)
		req->expect_continue = false;
	req->upgrade = req->upgrade && req->p_has_upgrade_field && req->version != WASP_HTTP_1_0;
	if (!req->upgrade)
		req->upgrade_value = (struct wasp_http_str){ NULL, 0 };
	req->head_len = head_len;
	req->p_state = PS_DONE;
	return (int)head_len;
}

static void
rebase1(struct wasp_http_str *s, const char *old, const char *buf)
{
	if (s->ptr && s->ptr != slash)
		s->ptr = buf + ((uintptr_t)s->ptr - (uintptr_t)old);
}

/* The caller moved its buffer between two calls: move our slices with it. */
static void
rebase(struct wasp_http_request *req, const char *buf)
{
	const char *old = req->p_base;

	rebase1(&req->method_str, old, buf);
	rebase1(&req->target, old, buf);
	rebase1(&req->path, old, buf);
	rebase1(&req->query, old, buf);
	rebase1(&req->host, old, buf);
	rebase1(&req->host_name, old, buf);
	rebase1(&req->upgrade_value, old, buf);
	for (uint32_t i = 0; i < req->n_headers; i++) {
		rebase1(&req->headers[i].name, old, buf);
		rebase1(&req->headers[i].value, old, buf);
	}
}

/* Offset of the first CR in buf[from..to) that is followed by a byte other
 * than LF (a CR at the end of what arrived is not settled yet), or len. */
static size_t
bare_cr(const char *buf, size_t len, size_t from, size_t to)
{
	const char *p = buf + from, *end = buf + to;

	while (p < end && (p = memchr(p, '\r', (size_t)(end - p)))) {
		size_t i = (size_t)(p - buf);
		if (i + 1 < len && buf[i + 1] != '\n')
			return i;
		p++;
	}
	return len;
}

int
wasp_http_parse_head(const char *buf, size_t len, const struct wasp_http_limits *limits,
		struct wasp_http_request *req)
{
	const struct wasp_http_limits *lim = limits ? limits : &wasp_http_default_limits;
	uint32_t max_fields = lim->fields < WASP_HTTP_MAX_FIELDS ? lim->fields
								  : WASP_HTTP_MAX_FIELDS;
	int r;

	req->p_max_body = lim->body;

	if (req->p_state == PS_ERROR)
		return -EBADMSG;
	if (req->p_base && req->p_base != buf)
		rebase(req, buf);
	req->p_base = buf;
	if (req->p_state == PS_DONE)
		return (int)req->head_len;
	if (len > lim->head + (size_t)1)
		len = lim->head + (size_t)1; /* never look further than the limit */
	if (len < req->p_scan)
		return -EINVAL; /* the caller lost bytes it had already given us */

	for (;;) {
		size_t pos = req->p_pos;
		const char *lf = memchr(buf + req->p_scan, '\n', len - req->p_scan);
		size_t upto = lf ? (size_t)(lf - buf) : len;

		/* A CR followed by anything but LF settles the request at once,
		 * without waiting for an LF that may never come; a limit the line
		 * crosses before that byte still wins, as it would byte by byte. */
		size_t cr = bare_cr(buf, len, req->p_scan > pos ? req->p_scan - 1 : pos, upto);
		if (cr < len) {
			size_t limit_at = lim->head;
			if (req->p_state == PS_REQUEST_LINE && pos + lim->request_line < limit_at)
				limit_at = pos + lim->request_line;
			if (cr + 1 < limit_at)
				return fail(req, 400, "bare CR");
		}

		if (!lf) {
			req->p_scan = (uint32_t)len;
			if (req->p_state == PS_REQUEST_LINE && len - pos > lim->request_line)
				return fail(req, 414, "request line too long");
			if (len > lim->head)
				return fail(req, 431, "request header fields too large");
			return 0;
		}

		size_t next = (size_t)(lf - buf) + 1;
		size_t end = next - 1; /* line content is buf[pos..end) */
		/* limits first, so the status does not depend on how bytes arrived */
		if (req->p_state == PS_REQUEST_LINE && next - pos > lim->request_line)
			return fail(req, 414, "request line too long");
		if (next > lim->head)
			return fail(req, 431, "request header fields too large");
		if (end > pos && buf[end - 1] == '\r')
			end--;
		else if (!lim->allow_bare_lf)
			return fail(req, 400, "bare LF line ending");
		req->p_pos = req->p_scan = (uint32_t)next;

		const char *s = buf + pos;
		size_t n = end - pos;
		if (req->p_state == PS_REQUEST_LINE) {
			if (n == 0) {
				if (++req->p_leading > WASP_HTTP_MAX_LEADING_CRLF)
					return fail(req, 400, "too many empty lines before the request");
				continue;
			}
			req->p_line_start = (uint32_t)pos;
			r = parse_request_line(req, s, n);
			if (r < 0)
				return r;
			req->p_state = PS_FIELDS;
		} else {
			if (n == 0)
				return finish_head(req, (uint32_t)next);
			r = parse_field_line(req, s, n, max_fields);
			if (r < 0)
				return r;
		}
	}
}
