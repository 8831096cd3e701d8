/* libFuzzer target for the streaming chunked decoder (protocols/http/
 * chunked.c). The same bytes are decoded three ways: in one buffer, fed in
 * pieces of fuzzer-chosen sizes (each piece a fresh exact-size allocation,
 * freed once its data slices were copied, so a decoder that kept a pointer
 * into an earlier piece is an ASan report), and with decode_inplace. The
 * http.h contract says the decoder never needs bytes twice, so all three
 * must agree on the outcome, the body bytes and the bytes consumed.
 *
 * Input: one options byte (bit 0: allow_bare_lf; bit 1: small limits;
 * bits 2-7: seed for the piece sizes), then the body stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "http.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int r;          /* DONE, AGAIN (input ran out) or -EBADMSG */
	uint16_t status; /* on -EBADMSG */
	size_t consumed; /* input bytes used (DONE, AGAIN) */
	char *body;
	size_t body_len;
	uint64_t dec_body_len; /* the decoder's own count */
};

static void
append(struct outcome *o, const char *p, size_t n)
{
	char *b = realloc(o->body, o->body_len + n + 1);

	CHECK(b);
	memcpy(b + o->body_len, p, n);
	o->body = b;
	o->body_len += n;
}

/* Decode buf[0..len) with c, appending body bytes; stops at DONE, error or
 * when everything was consumed. Returns that result. */
static int
decode_all(struct wasp_http_chunked *c, const char *buf, size_t len, struct outcome *o,
	   size_t *ret_used)
{
	size_t off = 0;

	for (;;) {
		struct wasp_http_str d = { 0 };
		size_t used = (size_t)-1;
		int r = wasp_http_chunked_decode(c, buf + off, len - off, &used, &d);

		if (r < 0) {
			CHECK(c->err_status == 400 || c->err_status == 413 ||
			      c->err_status == 431);
			CHECK(c->err_reason);
			*ret_used = off;
			return r;
		}
		CHECK(used <= len - off);
		if (r == WASP_HTTP_CHUNK_DATA) {
			/* The slice is inside the buffer and ends where consumed does. */
			CHECK(d.len > 0 && d.ptr >= buf + off && d.ptr + d.len == buf + off + used);
			append(o, d.ptr, d.len);
			off += used;
			continue;
		}
		CHECK(r == WASP_HTTP_CHUNK_AGAIN || r == WASP_HTTP_CHUNK_DONE);
		off += used;
		if (r == WASP_HTTP_CHUNK_AGAIN)
			CHECK(off == len);
		*ret_used = off;
		return r;
	}
}

static void
finish(struct outcome *o, const struct wasp_http_chunked *c, int r, size_t consumed)
{
	o->r = r;
	o->status = r < 0 ? c->err_status : 0;
	o->consumed = consumed;
	o->dec_body_len = c->body_len;
	CHECK(r < 0 || c->body_len == o->body_len);
}

static void
compare(const char *what, const struct outcome *a, const struct outcome *b)
{
	bool same = a->r == b->r && a->status == b->status;

	if (same && a->r >= 0)
		same = a->consumed == b->consumed && a->body_len == b->body_len &&
		       (a->body_len == 0 || memcmp(a->body, b->body, a->body_len) == 0);
	if (!same) {
		fprintf(stderr,
			"chunked %s differs: %d/%u consumed %zu body %zu"
			" vs %d/%u consumed %zu body %zu\n",
			what, a->r, a->status, a->consumed, a->body_len, b->r, b->status,
			b->consumed, b->body_len);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wasp_http_limits lim = wasp_http_default_limits;
	struct wasp_http_chunked c;
	struct outcome one = { 0 }, split = { 0 }, inpl = { 0 };
	char *buf;
	size_t len, used, off;
	unsigned seed;
	int r;

	if (size < 1)
		return 0;
	lim.allow_bare_lf = data[0] & 1;
	if (data[0] & 2) {
		lim.chunk_line = 16;
		lim.trailer = 32;
		lim.body = 100;
	}
	seed = data[0] >> 2;
	len = size - 1;

	/* 1. one buffer */
	buf = malloc(len ? len : 1);
	CHECK(buf);
	memcpy(buf, data + 1, len);
	wasp_http_chunked_init(&c, &lim);
	r = decode_all(&c, buf, len, &one, &used);
	finish(&one, &c, r, used);
	/* After an error or DONE the decoder stays put. */
	if (r < 0) {
		struct wasp_http_str d;

		CHECK(wasp_http_chunked_decode(&c, buf, len, &used, &d) == -EBADMSG);
	} else if (r == WASP_HTTP_CHUNK_DONE) {
		struct wasp_http_str d;

		CHECK(wasp_http_chunked_decode(&c, buf + one.consumed, len - one.consumed, &used,
					       &d) == WASP_HTTP_CHUNK_DONE);
		CHECK(used == 0);
	}
	free(buf);

	/* 2. in pieces, each its own allocation */
	wasp_http_chunked_init(&c, &lim);
	off = 0;
	r = WASP_HTTP_CHUNK_AGAIN;
	for (unsigned i = 0; off < len || i == 0; i++) {
		static const size_t steps[] = { 1, 2, 3, 5, 7, 13, 64, 4096 };
		size_t n = MIN(len - off, steps[(seed + i * (seed | 1)) % 8]);
		char *piece = malloc(n ? n : 1);

		CHECK(piece);
		memcpy(piece, data + 1 + off, n);
		r = decode_all(&c, piece, n, &split, &used);
		free(piece);
		off += used;
		if (r != WASP_HTTP_CHUNK_AGAIN)
			break;
		CHECK(used == n);
	}
	finish(&split, &c, r, off);
	compare("in pieces", &one, &split);

	/* 3. in place */
	buf = malloc(len ? len : 1);
	CHECK(buf);
	memcpy(buf, data + 1, len);
	wasp_http_chunked_init(&c, &lim);
	used = len;
	r = wasp_http_chunked_decode_inplace(&c, buf, &used, &off);
	if (r >= 0) {
		CHECK(r == WASP_HTTP_CHUNK_AGAIN || r == WASP_HTTP_CHUNK_DONE);
		CHECK(used <= off && off <= len);
		append(&inpl, buf, used);
		/* What follows the body was left where it was. */
		CHECK(memcmp(buf + off, data + 1 + off, len - off) == 0);
	}
	finish(&inpl, &c, r, off);
	compare("in place", &one, &inpl);
	free(buf);

	free(one.body);
	free(split.body);
	free(inpl.body);
	return 0;
}
