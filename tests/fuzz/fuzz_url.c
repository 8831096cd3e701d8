/* libFuzzer target for protocols/http/url.c: wasp_http_url_normalize and
 * wasp_http_pct_decode, checked against a straightforward reference
 * implementation of what http.h documents (decode once, refuse what must
 * never reach a file name, resolve dot segments with a stack) and against
 * the documented shape of a result.
 *
 * Input: one options byte (bit 0: plus_is_space for pct_decode; bits 1-7:
 * how much smaller than needed a second, too small, output buffer is), then
 * the raw path. Output buffers are malloc'ed to their exact size so that
 * AddressSanitizer sees any write past them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3629 UTF-8, written independently of url.c's. */
static bool
ref_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		uint32_t cp, min;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (k >= n - i)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* The reference normaliser: returns the length or -errno like the real one;
 * out has len + 1 bytes. */
static int
ref_normalize(const unsigned char *raw, size_t len, char *out, unsigned *ret_flags)
{
	unsigned char *dec = malloc(len + 1);
	size_t n = 0, w, nseg = 0;
	size_t *seg_start = malloc((len + 1) * sizeof(size_t));
	size_t *seg_len = malloc((len + 1) * sizeof(size_t));
	unsigned flags = 0;
	bool trailing = false;
	int r;

	CHECK(dec && seg_start && seg_len);
	if (len == 0 || raw[0] != '/') {
		r = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = raw[i];

		if (c == '%') {
			if (len - i < 3 || hex(raw[i + 1]) < 0 || hex(raw[i + 2]) < 0) {
				r = -EBADMSG;
				goto out;
			}
			c = (unsigned char)(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
			i += 2;
			if (c == '/') {
				r = -EBADMSG;
				goto out;
			}
		}
		if (c == '\\' || c < 0x20 || c == 0x7f) {
			r = -EBADMSG;
			goto out;
		}
		if (c >= 0x80)
			flags |= WASP_HTTP_URL_HIGH_BIT;
		if (c == '+')
			flags |= WASP_HTTP_URL_PLUS;
		dec[n++] = c;
	}
	if (!ref_utf8(dec, n)) {
		r = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i + 2 < n; i++)
		if (dec[i] == '%' && hex(dec[i + 1]) >= 0 && hex(dec[i + 2]) >= 0)
			flags |= WASP_HTTP_URL_DOUBLE_ESCAPED;

	/* Segments between '/'; a stack of kept ones. */
	for (size_t i = 1; i <= n;) {
		size_t e = i;
		bool last;

		while (e < n && dec[e] != '/')
			e++;
		last = e >= n;
		if (e - i == 0 || (e - i == 1 && dec[i] == '.')) {
			if (e - i == 1)
				flags |= WASP_HTTP_URL_DOT_SEGMENTS;
			trailing = last;
		} else if (e - i == 2 && dec[i] == '.' && dec[i + 1] == '.') {
			flags |= WASP_HTTP_URL_DOT_SEGMENTS;
			if (nseg == 0) {
				r = -EPERM;
				goto out;
			}
			nseg--;
			trailing = last;
		} else {
			seg_start[nseg] = i;
			seg_len[nseg++] = e - i;
			trailing = false;
		}
		i = e + 1;
	}
	/* Ending in '/' (or '/.', '/..') keeps a trailing slash; nothing
	 * after the last kept segment otherwise. */
	w = 0;
	out[w++] = '/';
	for (size_t s = 0; s < nseg; s++) {
		memcpy(out + w, dec + seg_start[s], seg_len[s]);
		w += seg_len[s];
		if (s + 1 < nseg || trailing)
			out[w++] = '/';
	}
	out[w] = '\0';
	if (out[w - 1] == '/')
		flags |= WASP_HTTP_URL_TRAILING_SLASH;
	*ret_flags = flags;
	r = (int)w;
out:
	free(dec);
	free(seg_start);
	free(seg_len);
	return r;
}

static int
ref_pct_decode(const unsigned char *src, size_t len, char *out, bool plus)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = src[i];

		if (c == '%') {
			if (len - i < 3 || hex(src[i + 1]) < 0 || hex(src[i + 2]) < 0)
				return -EBADMSG;
			c = (unsigned char)(hex(src[i + 1]) * 16 + hex(src[i + 2]));
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return (int)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw;
	size_t len, small;
	char *out, *ref, *out2;
	unsigned flags = 0, rflags = 0, flags2 = 0;
	int r, rr, r2;
	bool plus;

	if (size < 1)
		return 0;
	plus = data[0] & 1;
	small = data[0] >> 1;
	len = size - 1;
	/* An exact-size copy: reads past the path are ASan reports. */
	raw = memcpy(malloc(len ? len : 1), data + 1, len);
	out = malloc(len + 1);
	ref = malloc(len + 1);
	CHECK(raw && out && ref);

	r = wasp_http_url_normalize(raw, len, out, len + 1, &flags);
	rr = ref_normalize((const unsigned char *)raw, len, ref, &rflags);
	if (r != rr || (r >= 0 && (memcmp(out, ref, (size_t)r + 1) != 0 || flags != rflags))) {
		fprintf(stderr,
			"url_normalize: got %d '%s' flags %#x, reference %d '%s' flags %#x\n",
			r, r >= 0 ? out : "", r >= 0 ? flags : 0, rr, rr >= 0 ? ref : "",
			rr >= 0 ? rflags : 0);
		abort();
	}
	if (r >= 0) {
		/* The documented shape of a result. */
		CHECK((size_t)r <= len && strlen(out) == (size_t)r && out[0] == '/');
		CHECK(!strstr(out, "//") && !strstr(out, "/./") && !strstr(out, "/../"));
		CHECK(!strchr(out, '\\'));
		CHECK(!(r >= 2 && strcmp(out + r - 2, "/.") == 0));
		CHECK(!(r >= 3 && strcmp(out + r - 3, "/..") == 0));
		CHECK(!!(flags & WASP_HTTP_URL_TRAILING_SLASH) == (out[r - 1] == '/'));
		/* Normalising a result again changes nothing, unless decoding it
		 * again would (a '%' left in it). */
		if (!strchr(out, '%')) {
			out2 = malloc((size_t)r + 1);
			CHECK(out2);
			r2 = wasp_http_url_normalize(out, (size_t)r, out2, (size_t)r + 1, &flags2);
			CHECK(r2 == r && memcmp(out, out2, (size_t)r) == 0);
			CHECK(!(flags2 & WASP_HTTP_URL_DOT_SEGMENTS));
			free(out2);
		}
	}
	CHECK(wasp_http_url_strerror(r) != NULL);

	/* A buffer too small must be refused, not overrun. */
	if (small > 0 && small <= len) {
		out2 = malloc(len + 1 - small);
		CHECK(out2);
		CHECK(wasp_http_url_normalize(raw, len, out2, len + 1 - small, NULL) == -ENOBUFS);
		CHECK(wasp_http_pct_decode(raw, len, out2, len + 1 - small, plus) == -ENOBUFS);
		free(out2);
	}

	r = wasp_http_pct_decode(raw, len, out, len + 1, plus);
	rr = ref_pct_decode((const unsigned char *)raw, len, ref, plus);
	CHECK(r == rr);
	if (r >= 0)
		CHECK((size_t)r <= len && memcmp(out, ref, (size_t)r + 1) == 0);

	free(raw);
	free(out);
	free(ref);
	return 0;
}
