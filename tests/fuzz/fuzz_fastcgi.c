/* libFuzzer target for FastCgiModule's parsers (worker/fastcgi/record.c):
 * an application's records and the CGI response head inside FCGI_STDOUT.
 * The same bytes are parsed in one buffer and in pieces of fuzzer-chosen
 * sizes (each piece a fresh exact-size allocation, freed right after, so a
 * parser that kept a pointer into an earlier piece is an ASan report); both
 * must agree on the outcome, the stdout and stderr bytes and the end. The
 * stdout bytes then go through the head parser and its field iterator.
 *
 * Input: one options byte (bit 0: a small head limit; bits 1-7: seed for
 * the piece sizes), then the stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int r;
	bool ended;
	uint32_t app_status;
	uint8_t *out, *err;
	size_t out_len, err_len;
};

static void
append(uint8_t **buf, size_t *len, const uint8_t *p, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	CHECK(*buf);
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* Feed one piece; false once the parser failed. */
static bool
feed(struct fcgi_parser *ps, const uint8_t *p, size_t n, struct outcome *o)
{
	size_t used = 0;

	while (used < n) {
		struct fcgi_event ev;
		ssize_t k = fcgi_parse(ps, p + used, n - used, &ev);

		if (k < 0) {
			CHECK(k == -EBADMSG && ps->err);
			o->r = (int)k;
			return false;
		}
		CHECK((size_t)k <= n - used);
		used += (size_t)k;
		switch (ev.type) {
		case FCGI_EV_STDOUT:
			CHECK(ev.len > 0 && ev.data >= p && ev.data + ev.len <= p + n);
			append(&o->out, &o->out_len, ev.data, ev.len);
			break;
		case FCGI_EV_STDERR:
			CHECK(ev.len > 0 && ev.data >= p && ev.data + ev.len <= p + n);
			append(&o->err, &o->err_len, ev.data, ev.len);
			break;
		case FCGI_EV_END:
			CHECK(!o->ended);
			o->ended = true;
			o->app_status = ev.app_status;
			break;
		case FCGI_EV_NONE:
			CHECK(used == n);
			break;
		}
	}
	return true;
}

static void
head(const uint8_t *p, size_t n, size_t cap)
{
	char *buf = malloc(cap);
	struct fcgi_head h;
	size_t used = 0, pos = 0;
	int r;

	CHECK(buf);
	fcgi_head_init(&h, buf, cap);
	r = fcgi_head_feed(&h, p, n, &used);
	CHECK(used <= n);
	if (r == 1) {
		const char *name, *value;
		size_t nl, vl;

		CHECK(h.end == used && h.end <= cap);
		while ((r = fcgi_head_next(&h, &pos, &name, &nl, &value, &vl)) > 0) {
			CHECK(name >= buf && name + nl <= buf + h.end);
			CHECK(value >= buf && value + vl <= buf + h.end);
			CHECK(nl > 0 && !memchr(name, ':', nl));
			CHECK(!memchr(value, '\n', vl) && !memchr(value, '\r', vl));
			(void)fcgi_parse_status(value, vl);
		}
		CHECK(r == 0 || r == -EBADMSG);
	} else {
		CHECK(r == 0 || r == -EMSGSIZE);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole = { 0 }, pieces = { 0 };
	struct fcgi_parser ps;
	unsigned seed;
	size_t off;

	if (size < 1)
		return 0;
	seed = data[0] >> 1;
	size_t cap = data[0] & 1 ? 64 : 65536;
	data++;
	size--;

	fcgi_parser_init(&ps, 1);
	(void)feed(&ps, data, size, &whole);

	fcgi_parser_init(&ps, 1);
	for (off = 0; off < size;) {
		size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 97;
		uint8_t *piece;
		bool ok;

		if (n > size - off)
			n = size - off;
		piece = malloc(n);
		CHECK(piece);
		memcpy(piece, data + off, n);
		ok = feed(&ps, piece, n, &pieces);
		free(piece);
		off += n;
		if (!ok)
			break;
	}
	CHECK(whole.r == pieces.r && whole.ended == pieces.ended);
	CHECK(whole.app_status == pieces.app_status);
	CHECK(whole.out_len == pieces.out_len && whole.err_len == pieces.err_len);
	CHECK(!whole.out_len || memcmp(whole.out, pieces.out, whole.out_len) == 0);
	CHECK(!whole.err_len || memcmp(whole.err, pieces.err, whole.err_len) == 0);
	if (whole.out_len)
		head(whole.out, whole.out_len, cap);
	head(data, size, cap); /* the head parser on raw bytes too */
	free(whole.out);
	free(whole.err);
	free(pieces.out);
	free(pieces.err);
	return 0;
}
