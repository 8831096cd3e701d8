/* The request head the proxy engine sends to its backend (proxy_int.h):
 * hop-by-hop fields removed, the forwarding fields added. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "proxy_int.h"
#include "util.h"
#include "worker.h"

struct hbuf {
	struct wasp_request *req;
	char *p;
	size_t len, cap;
	bool oom;
};

/* Room for n more bytes and the NUL: false when out of memory. */
static bool
hb_grow(struct hbuf *b, size_t n)
{
	size_t cap = MAX(b->cap * 2, b->len + n + 1024);
	char *np;

	if (b->oom)
		return false;
	np = wasp_request_alloc(b->req, cap);
	if (!np) {
		b->oom = true;
		return false;
	}
	if (b->len)
		memcpy(np, b->p, b->len);
	b->p = np;
	b->cap = cap;
	return true;
}

/* inline: some 30 pieces make a request head */
static inline void
hb_add(struct hbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap && !hb_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
hb_str(struct hbuf *b, const char *s)
{
	hb_add(b, s, strlen(s));
}

static void
hb_field(struct hbuf *b, const char *name, size_t nl, const char *value, size_t vl)
{
	hb_add(b, name, nl);
	hb_add(b, ": ", 2);
	hb_add(b, value, vl);
	hb_add(b, "\r\n", 2);
}

bool
proxy_name_is(const struct wasp_http_str *n, const char *s)
{
	return n->len == strlen(s) && strncasecmp(n->ptr, s, n->len) == 0;
}

bool
proxy_name_in(const struct wasp_http_str *n, const struct wasp_http_str *set, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (set[i].len == n->len && strncasecmp(set[i].ptr, n->ptr, n->len) == 0)
			return true;
	return false;
}

/* Is name one of the tokens of a Connection field value? */
bool
proxy_connection_names(const char *value, size_t vl, const struct wasp_http_str *name)
{
	size_t i = 0;

	while (i < vl) {
		size_t s, e;

		while (i < vl && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		s = i;
		while (i < vl && value[i] != ',')
			i++;
		e = i;
		while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
			e--;
		if (e > s && e - s == name->len && strncasecmp(value + s, name->ptr, name->len) == 0)
			return true;
	}
	return false;
}

bool
proxy_token_in(const char *v, size_t vl, const char *tok)
{
	struct wasp_http_str t = { tok, strlen(tok) };

	return proxy_connection_names(v, vl, &t);
}

/* Hop-by-hop (RFC 9110 7.6.1), framing the proxy writes itself, or a field
 * the proxy sets: not forwarded as the client sent it. */
static bool
request_field_dropped(const struct wasp_http_request *h, const struct wasp_http_header *x,
		      const struct proxy_opts *o)
{
	static const struct wasp_http_str drop[] = {
		PROXY_STR("Connection"), PROXY_STR("Keep-Alive"), PROXY_STR("Proxy-Connection"),
		PROXY_STR("TE"), PROXY_STR("Trailer"), PROXY_STR("Transfer-Encoding"),
		PROXY_STR("Upgrade"), PROXY_STR("Content-Length"), PROXY_STR("Expect"),
	};

	if (proxy_name_in(&x->name, drop, ELEMENTSOF(drop)))
		return true;
	if (proxy_name_is(&x->name, o->xff_name ? o->xff_name : "X-Forwarded-For") ||
	    (!o->no_forwarded_proto && proxy_name_is(&x->name, "X-Forwarded-Proto")) ||
	    (o->host && proxy_name_is(&x->name, "Host")))
		return true;
	if (o->strip && proxy_name_is(&x->name, o->strip))
		return true;
	for (size_t i = 0; i < o->n_add; i++)
		if (proxy_name_is(&x->name, o->add[i].name))
			return true;
	for (uint32_t k = 0; k < h->n_headers; k++)
		if (proxy_name_is(&h->headers[k].name, "Connection") &&
		    proxy_connection_names(h->headers[k].value.ptr, h->headers[k].value.len, &x->name))
			return true;
	return false;
}

/* A WebSocket handshake (RFC 6455 4.1): GET, "Upgrade: websocket",
 * Connection naming upgrade, no body. */
static bool
is_websocket(const struct wasp_request *req)
{
	const struct wasp_http_request *h = req->http;
	const char *up = wasp_request_header(req, "Upgrade");
	bool conn = false;

	if (!h || !up || !streq(wasp_request_method(req), "GET") ||
	    wasp_request_body_length(req) != 0 || !proxy_token_in(up, strlen(up), "websocket"))
		return false;
	for (uint32_t k = 0; k < h->n_headers && !conn; k++)
		conn = proxy_name_is(&h->headers[k].name, "Connection") &&
		       proxy_token_in(h->headers[k].value.ptr, h->headers[k].value.len, "upgrade");
	return conn;
}

/* X-Forwarded-For (or o->xff_name): the client's address (and port)
 * appended to any chain it sent; X-Forwarded-Proto: how it reached us (as
 * ANCM), unless o says not. */
static void
forwarding_fields(struct hbuf *b, struct wasp_request *req, const struct proxy_opts *o,
		  const char *xff, size_t xff_len)
{
	const char *ra = strempty(wasp_request_server_variable(req, "REMOTE_ADDR"));
	const char *rp = strempty(wasp_request_server_variable(req, "REMOTE_PORT"));
	const char *https = wasp_request_server_variable(req, "HTTPS");

	hb_str(b, o->xff_name ? o->xff_name : "X-Forwarded-For");
	hb_add(b, ": ", 2);
	if (xff && xff_len) {
		hb_add(b, xff, xff_len);
		hb_add(b, ", ", 2);
	}
	if (strchr(ra, ':') && !o->xff_no_port) {
		hb_add(b, "[", 1);
		hb_str(b, ra);
		hb_add(b, "]", 1);
	} else
		hb_str(b, ra);
	if (*rp && !o->xff_no_port) {
		hb_add(b, ":", 1);
		hb_str(b, rp);
	}
	hb_add(b, "\r\n", 2);
	if (!o->no_forwarded_proto)
		hb_str(b, https && strcaseeq(https, "on") ? "X-Forwarded-Proto: https\r\n"
							  : "X-Forwarded-Proto: http\r\n");
}

/* The request line: the method, the target (the client's unless o names
 * one) and HTTP/1.1. */
static void
request_line(struct hbuf *b, struct wasp_request *req, const struct proxy_opts *o)
{
	const char *query = wasp_request_query(req);

	hb_str(b, wasp_request_method(req));
	hb_add(b, " ", 1);
	if (o->target)
		hb_str(b, o->target);
	else {
		hb_str(b, wasp_request_raw_path(req));
		if (*query) {
			hb_add(b, "?", 1);
			hb_str(b, query);
		}
	}
	hb_add(b, " HTTP/1.1\r\n", 11);
	if (o->host)
		hb_field(b, "Host", 4, o->host, strlen(o->host));
}

int
proxy_head_build(struct preq *q, const struct proxy_opts *o)
{
	struct wasp_request *req = q->req;
	const struct wasp_http_request *h = req->http;
	const char *xff_name = o->xff_name ? o->xff_name : "X-Forwarded-For";
	int64_t blen = wasp_request_body_length(req);
	struct hbuf b = { .req = req };
	const char *xff = NULL;
	size_t xff_len = 0;

	request_line(&b, req, o);
	for (uint32_t i = 0; h && i < h->n_headers; i++) {
		const struct wasp_http_header *x = &h->headers[i];

		if (proxy_name_is(&x->name, xff_name) && !xff) {
			xff = x->value.ptr; /* the client's chain, ours appended */
			xff_len = x->value.len;
		}
		if (request_field_dropped(h, x, o))
			continue;
		hb_field(&b, x->name.ptr, x->name.len, x->value.ptr, x->value.len);
	}
	forwarding_fields(&b, req, o, xff, xff_len);
	if (o->websocket && is_websocket(req)) {
		q->upgrade = "websocket";
		hb_str(&b, "Connection: Upgrade\r\nUpgrade: websocket\r\n");
	}
	for (size_t i = 0; i < o->n_add; i++)
		hb_field(&b, o->add[i].name, strlen(o->add[i].name), o->add[i].value,
			 strlen(o->add[i].value));
	if (blen > 0) {
		char n[32];
		hb_add(&b, n, (size_t)snprintf(n, sizeof(n), "Content-Length: %lld\r\n",
					       (long long)blen));
	} else if (blen < 0) {
		hb_str(&b, "Transfer-Encoding: chunked\r\n");
		q->chunked_in = true;
	} else {
		const char *m = wasp_request_method(req);
		if (streq(m, "POST") || streq(m, "PUT") || streq(m, "PATCH"))
			hb_str(&b, "Content-Length: 0\r\n");
		q->body_done = true;
	}
	hb_add(&b, "\r\n", 2);
	if (b.oom)
		return -ENOMEM;
	q->head = b.p;
	q->head_len = b.len;
	return 0;
}

