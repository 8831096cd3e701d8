/* Percent-decoding and path normalisation: the one place where a request
 * path becomes something safe to map to a file. Decoding happens exactly
 * once; what is decoded is never decoded again (a remaining "%XX" is only
 * reported, as WASP_HTTP_URL_DOUBLE_ESCAPED, for requestFiltering). */
#include <string.h>

#include "http-internal.h"
#include "http.h"

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false; /* continuation byte, 0xc0/0xc1 (overlong), > 0xf4 */
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3fu);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

int
wasp_http_url_normalize(const char *raw, size_t len, char *out, size_t out_size,
		unsigned *ret_flags)
{
	unsigned flags = 0;
	size_t n = 0;

	if (out_size < len + 1)
		return -ENOBUFS;
	if (len == 0 || raw[0] != '/')
		return -EBADMSG;

	/* 1. decode %XX once, refusing what must never reach a file name */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '%') {
			int hi, lo;
			if (i + 2 >= len || (hi = wasp_http_hexval((unsigned char)raw[i + 1])) < 0 ||
			    (lo = wasp_http_hexval((unsigned char)raw[i + 2])) < 0)
				return -EBADMSG;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (c == '/' || c == '\\')
				return -EBADMSG; /* %2F, %5C: a separator in disguise */
		} else if (c == '\\') {
			return -EBADMSG;
		}
		if (c < 0x20 || c == 0x7f)
			return -EBADMSG; /* NUL and other controls */
		if (c >= 0x80)
			flags |= WASP_HTTP_URL_HIGH_BIT;
		if (c == '+')
			flags |= WASP_HTTP_URL_PLUS;
		out[n++] = (char)c;
	}
	if ((flags & WASP_HTTP_URL_HIGH_BIT) && !utf8_valid((const unsigned char *)out, n))
		return -EBADMSG;
	for (size_t i = 0; i + 2 < n; i++)
		if (out[i] == '%' && wasp_http_hexval((unsigned char)out[i + 1]) >= 0 &&
		    wasp_http_hexval((unsigned char)out[i + 2]) >= 0) {
			flags |= WASP_HTTP_URL_DOUBLE_ESCAPED;
			break;
		}

	/* 2. resolve segments in place (w <= r always): collapse "//", drop
	 * ".", let ".." remove the previous segment, refuse climbing out */
	size_t w = 1, r = 1;
	while (r <= n) {
		size_t e = r;
		while (e < n && out[e] != '/')
			e++;
		size_t sl = e - r;
		bool last = e >= n;

		if (sl == 0) {
			/* empty segment: "//" collapses; a trailing '/' is already there */
		} else if (sl == 1 && out[r] == '.') {
			flags |= WASP_HTTP_URL_DOT_SEGMENTS;
		} else if (sl == 2 && out[r] == '.' && out[r + 1] == '.') {
			flags |= WASP_HTTP_URL_DOT_SEGMENTS;
			if (w == 1)
				return -EPERM;
			/* out[0..w) ends with '/': drop the segment before it */
			w--;
			while (w > 0 && out[w - 1] != '/')
				w--;
		} else {
			memmove(out + w, out + r, sl);
			w += sl;
			if (!last)
				out[w++] = '/';
		}
		r = e + 1;
	}
	out[w] = '\0';
	if (out[w - 1] == '/')
		flags |= WASP_HTTP_URL_TRAILING_SLASH;
	if (ret_flags)
		*ret_flags = flags;
	return (int)w;
}

int
wasp_http_pct_decode(const char *src, size_t len, char *out, size_t out_size,
		bool plus_is_space)
{
	size_t n = 0;

	if (out_size < len + 1)
		return -ENOBUFS;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= len || (hi = wasp_http_hexval((unsigned char)src[i + 1])) < 0 ||
			    (lo = wasp_http_hexval((unsigned char)src[i + 2])) < 0)
				return -EBADMSG;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return (int)n;
}

const char *
wasp_http_url_strerror(int r)
{
	switch (r) {
	case -EBADMSG:
		return "malformed or unsafe URL path";
	case -EPERM:
		return "URL path climbs above the root";
	case -ENOBUFS:
		return "URL path buffer too small";
	default:
		return r < 0 ? "invalid URL path" : "success";
	}
}
