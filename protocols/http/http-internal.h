/* Character classes shared by the codec's parsers (not part of the API). */
#pragma once

#include <stdint.h>

#define WASP_HTTP_C_TCHAR 0x01u  /* token character (RFC 9110 5.6.2) */
#define WASP_HTTP_C_TARGET 0x02u /* allowed in a request-target (RFC 3986 + obs bytes) */
#define WASP_HTTP_C_VALUE 0x04u  /* field-value byte: VCHAR, obs-text, SP, HTAB */
#define WASP_HTTP_C_HOST 0x08u   /* reg-name byte: unreserved, sub-delims, '%' */
#define WASP_HTTP_C_HEX 0x10u    /* hex digit */

extern const uint8_t wasp_http_char_class[256];

static inline int
wasp_http_is(unsigned char c, unsigned cls)
{
	return wasp_http_char_class[c] & cls;
}

static inline int
wasp_http_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}
