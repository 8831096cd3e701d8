/* libFuzzer target for the request head parser (protocols/http/parser.c)
 * and what a server does next with a parsed head: header lookups, list
 * tokens, URL normalisation of the path, query decoding, keep-alive, the
 * chunked body or the next pipelined request after it.
 *
 * Every head is parsed twice: in one buffer, and incrementally, prefix by
 * growing prefix, each prefix a fresh exact-size copy and the previous one
 * freed right after the call (http.h allows the buffer to move between
 * calls; a slice not rebased is then an ASan use-after-free). Both must give
 * the same result, status and fields. Every slice of a parsed head must lie
 * inside the head.
 *
 * Input: one options byte (bit 0: allow_bare_lf; bit 1: small limits;
 * bits 2-7: seed for the prefix steps), then the bytes of the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIN(a, b) ((a) < (b) ? (a) : (b))

static void
check_slice(struct wasp_http_str s, const char *buf, size_t len)
{
	if (!s.ptr) {
		CHECK(s.len == 0);
		return;
	}
	CHECK(s.ptr >= buf && s.len <= len && (size_t)(s.ptr - buf) <= len - s.len);
}

static bool
str_same(struct wasp_http_str a, struct wasp_http_str b)
{
	if (!a.ptr || !b.ptr)
		return !a.ptr && !b.ptr;
	return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Two parses of the same head agree. */
static void
compare(const struct wasp_http_request *a, const struct wasp_http_request *b)
{
	CHECK(a->method == b->method && str_same(a->method_str, b->method_str));
	CHECK(str_same(a->target, b->target) && a->form == b->form);
	CHECK(str_same(a->path, b->path) && str_same(a->query, b->query));
	CHECK(a->version == b->version && a->n_headers == b->n_headers);
	for (uint32_t i = 0; i < a->n_headers; i++)
		CHECK(str_same(a->headers[i].name, b->headers[i].name) &&
		      str_same(a->headers[i].value, b->headers[i].value));
	CHECK(str_same(a->host, b->host) && str_same(a->host_name, b->host_name));
	CHECK(a->host_port == b->host_port);
	CHECK(a->has_content_length == b->has_content_length);
	CHECK(!a->has_content_length || a->content_length == b->content_length);
	CHECK(a->chunked == b->chunked && a->keep_alive == b->keep_alive);
	CHECK(a->expect_continue == b->expect_continue && a->upgrade == b->upgrade);
	CHECK(str_same(a->upgrade_value, b->upgrade_value));
	CHECK(a->connection_close == b->connection_close && a->head_len == b->head_len);
}

/* The documented shape of a parsed head, and the calls a server makes. */
static void
use_head(const struct wasp_http_request *req, const char *buf, size_t head_len)
{
	const char *m;
	char *out;
	int r;

	CHECK(req->head_len == head_len && head_len >= 4);
	check_slice(req->method_str, buf, head_len);
	check_slice(req->target, buf, head_len);
	if (!(req->path.len == 1 && req->path.ptr && req->path.ptr[0] == '/'))
		check_slice(req->path, buf, head_len);
	check_slice(req->query, buf, head_len);
	check_slice(req->host, buf, head_len);
	check_slice(req->host_name, buf, head_len);
	check_slice(req->upgrade_value, buf, head_len);
	CHECK(req->n_headers <= WASP_HTTP_MAX_FIELDS);
	for (uint32_t i = 0; i < req->n_headers; i++) {
		check_slice(req->headers[i].name, buf, head_len);
		check_slice(req->headers[i].value, buf, head_len);
		CHECK(req->headers[i].name.ptr && req->headers[i].name.len > 0);
		CHECK(req->headers[i].value.ptr);
	}
	CHECK(req->method_str.ptr && req->method_str.len > 0 &&
	      req->method_str.len <= WASP_HTTP_MAX_METHOD);
	CHECK(req->target.ptr && req->target.len > 0);
	CHECK(req->version == WASP_HTTP_1_0 || req->version == WASP_HTTP_1_1);
	CHECK(req->form >= WASP_HTTP_FORM_ORIGIN && req->form < WASP_HTTP_FORM__COUNT);
	CHECK(!(req->chunked && req->has_content_length));
	CHECK(req->version == WASP_HTTP_1_0 || req->host.ptr);
	CHECK(req->host_port <= 65535);
	m = wasp_http_method_name(req->method);
	CHECK(req->method == WASP_HTTP_METHOD_OTHER
		      ? !m
		      : (m && strlen(m) == req->method_str.len &&
			 memcmp(m, req->method_str.ptr, req->method_str.len) == 0));

	/* The lookups a server does. */
	static const char *const names[] = { "host", "Connection", "content-length",
		"TRANSFER-ENCODING", "expect", "upgrade", "if-modified-since" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct wasp_http_header *h = wasp_http_request_header(req, names[i]);

		if (h) {
			CHECK(wasp_http_str_eq_ci(h->name, names[i]));
			(void)wasp_http_list_has_token(h->value, "close");
			(void)wasp_http_list_has_token(h->value, "keep-alive");
			if (i == 6) {
				time_t t;

				(void)wasp_http_date_parse(h->value.ptr, h->value.len, &t);
			}
		}
	}
	(void)wasp_http_response_can_keep_alive(req, -1);
	(void)wasp_http_response_can_keep_alive(req, 0);

	/* Path and query as the worker decodes them. */
	if (req->form == WASP_HTTP_FORM_ORIGIN || req->form == WASP_HTTP_FORM_ABSOLUTE) {
		unsigned flags;

		out = malloc(req->path.len + 1);
		CHECK(out);
		r = wasp_http_url_normalize(req->path.ptr, req->path.len, out, req->path.len + 1,
					    &flags);
		CHECK(r == -EBADMSG || r == -EPERM || (r > 0 && (size_t)r <= req->path.len));
		free(out);
	}
	if (req->query.ptr) {
		out = malloc(req->query.len + 1);
		CHECK(out);
		r = wasp_http_pct_decode(req->query.ptr, req->query.len, out, req->query.len + 1,
					 true);
		CHECK(r == -EBADMSG || (r >= 0 && (size_t)r <= req->query.len));
		free(out);
	}
}

/* What the derived fields must say, recomputed from the field lines. */
static void
check_derived(const struct wasp_http_request *req)
{
	const struct wasp_http_header *host = NULL;
	unsigned n_host = 0, n_cl = 0, n_te = 0;
	bool close = false, keep = false, expect = false;

	for (uint32_t i = 0; i < req->n_headers; i++) {
		const struct wasp_http_header *h = &req->headers[i];

		if (wasp_http_str_eq_ci(h->name, "host")) {
			n_host++;
			host = h;
		} else if (wasp_http_str_eq_ci(h->name, "content-length")) {
			/* Every element of every line is the one value. */
			const char *p = h->value.ptr, *end = p + h->value.len;

			n_cl++;
			while (p < end) {
				uint64_t v = 0;

				while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
					p++;
				if (p == end)
					break;
				for (; p < end && *p >= '0' && *p <= '9'; p++)
					v = v * 10 + (uint64_t)(*p - '0');
				CHECK(v == req->content_length);
				while (p < end && (*p == ' ' || *p == '\t'))
					p++;
				CHECK(p == end || *p == ',');
			}
		} else if (wasp_http_str_eq_ci(h->name, "transfer-encoding")) {
			n_te++;
		} else if (wasp_http_str_eq_ci(h->name, "connection")) {
			close |= wasp_http_list_has_token(h->value, "close");
			keep |= wasp_http_list_has_token(h->value, "keep-alive");
		} else if (wasp_http_str_eq_ci(h->name, "expect")) {
			expect |= wasp_http_list_has_token(h->value, "100-continue");
		}
	}
	CHECK(n_host <= 1);
	CHECK(req->version == WASP_HTTP_1_0 || n_host == 1);
	CHECK(req->has_content_length == (n_cl > 0));
	CHECK(!(n_cl && n_te));
	CHECK(req->chunked == (n_te > 0));
	CHECK(!req->chunked || req->version == WASP_HTTP_1_1);
	CHECK(req->connection_close == close);
	CHECK(req->keep_alive == (req->version == WASP_HTTP_1_1 ? !close : keep && !close));
	CHECK(req->expect_continue == (expect && req->version == WASP_HTTP_1_1));
	if (req->form == WASP_HTTP_FORM_ORIGIN || req->form == WASP_HTTP_FORM_ASTERISK) {
		CHECK(host ? req->host.ptr == host->value.ptr && req->host.len == host->value.len
			   : !req->host.ptr);
	} else {
		/* The target's authority wins over the Host field. */
		CHECK(req->host.ptr && req->host.ptr >= req->target.ptr &&
		      req->host.ptr + req->host.len <= req->target.ptr + req->target.len);
	}
	if (req->host.ptr) {
		CHECK(req->host_name.ptr == req->host.ptr && req->host_name.len <= req->host.len);
		CHECK(req->host_name.len == req->host.len ||
		      req->host.ptr[req->host_name.len] == ':');
	}
}

/* The body after a head: a chunked body, or skip Content-Length bytes.
 * Returns the bytes used, or 0 to stop. */
static size_t
use_body(const struct wasp_http_request *req, const char *p, size_t n,
	 const struct wasp_http_limits *lim)
{
	if (req->chunked) {
		struct wasp_http_chunked c;
		size_t off = 0;

		wasp_http_chunked_init(&c, lim);
		for (;;) {
			struct wasp_http_str d;
			size_t used;
			int r = wasp_http_chunked_decode(&c, p + off, n - off, &used, &d);

			if (r < 0 || r == WASP_HTTP_CHUNK_AGAIN)
				return 0;
			off += used;
			if (r == WASP_HTTP_CHUNK_DONE)
				return off;
		}
	}
	if (req->has_content_length)
		return req->content_length <= n ? (size_t)req->content_length : 0;
	return 0;
}

/* Parse buf[0..len) one way; *ret gets the result. */
static int
parse_oneshot(const char *buf, size_t len, const struct wasp_http_limits *lim,
	      struct wasp_http_request *req)
{
	int r;

	wasp_http_request_init(req);
	r = wasp_http_parse_head(buf, len, lim, req);
	CHECK(r == 0 || r == -EBADMSG || (r > 0 && (size_t)r <= len));
	if (r == -EBADMSG) {
		CHECK(req->err_status == 400 || req->err_status == 413 || req->err_status == 414 ||
		      req->err_status == 431 || req->err_status == 501 || req->err_status == 505);
		CHECK(req->err_reason);
		/* An error sticks. */
		CHECK(wasp_http_parse_head(buf, len, lim, req) == -EBADMSG);
	}
	return r;
}

/* The same bytes, given in growing prefixes that each live in their own
 * allocation. Returns the result; *ret_buf is the last copy (caller frees). */
static int
parse_incremental(const uint8_t *data, size_t len, unsigned seed,
		  const struct wasp_http_limits *lim, struct wasp_http_request *req, char **ret_buf)
{
	static const size_t steps[] = { 1, 1, 2, 3, 5, 8, 17, 100, 1000, 20000 };
	char *prev = NULL, *cur = NULL;
	size_t n = 0;
	int r = 0;

	wasp_http_request_init(req);
	for (unsigned i = 0;; i++) {
		n = MIN(len, n + steps[(seed + i * 7) % 10]);
		cur = malloc(n ? n : 1);
		CHECK(cur);
		memcpy(cur, data, n);
		r = wasp_http_parse_head(cur, n, lim, req);
		free(prev);
		prev = cur;
		if (r != 0 || n == len)
			break;
	}
	*ret_buf = cur;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wasp_http_request one, inc;
	struct wasp_http_limits lim = wasp_http_default_limits;
	const uint8_t *p;
	size_t len;
	char *buf, *ibuf;
	int r, ri;

	if (size < 1)
		return 0;
	lim.allow_bare_lf = data[0] & 1;
	if (data[0] & 2) {
		lim.request_line = 64;
		lim.head = 256;
		lim.fields = 4;
		lim.body = 1000;
		lim.chunk_line = 16;
		lim.trailer = 32;
	}
	p = data + 1;
	len = size - 1;

	/* Up to 4 pipelined requests. */
	for (int k = 0; k < 4 && len > 0; k++) {
		size_t body;

		buf = malloc(len);
		CHECK(buf);
		memcpy(buf, p, len);
		r = parse_oneshot(buf, len, &lim, &one);
		ri = parse_incremental(p, len, data[0] >> 2, &lim, &inc, &ibuf);
		if (r != ri || (r < 0 && one.err_status != inc.err_status)) {
			fprintf(stderr, "one buffer: %d (%u %s), incremental: %d (%u %s)\n", r,
				one.err_status, one.err_reason ? one.err_reason : "", ri,
				inc.err_status, inc.err_reason ? inc.err_reason : "");
			abort();
		}
		if (r <= 0) {
			free(buf);
			free(ibuf);
			break;
		}
		compare(&one, &inc);
		check_derived(&one);
		use_head(&one, buf, (size_t)r);
		use_head(&inc, ibuf, (size_t)r);
		body = use_body(&one, buf + r, len - (size_t)r, &lim);
		free(buf);
		free(ibuf);
		if (body == 0 && (one.chunked || (one.has_content_length && one.content_length)))
			break;
		p += (size_t)r + body;
		len -= (size_t)r + body;
	}
	return 0;
}
