/* Streaming chunked body decoder (RFC 9112 7.1). A byte-at-a-time state
 * machine for the framing, so the caller never has to hand bytes in twice;
 * chunk data is returned as slices of the caller's buffer (zero copy).
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *
 * Limits: the chunk-size line (size and extensions) is bounded by
 * limits.chunk_line (400), the trailer section by limits.trailer (431), the
 * decoded body by limits.body (413). Sizes with more than 15 significant hex
 * digits are refused (400) so nothing can overflow. */
#include <string.h>

#include "http-internal.h"
#include "http.h"

enum {
	CS_SIZE_START,  /* first hex digit of a chunk-size */
	CS_SIZE,        /* more hex digits */
	CS_SIZE_BWS,    /* whitespace after the size: ';' must follow */
	CS_EXT_NAME_BWS, /* after ';': BWS before the extension name */
	CS_EXT_NAME,    /* in the name */
	CS_EXT_NAME_END, /* BWS after the name: '=', ';' or CR */
	CS_EXT_BWS,     /* BWS after a value, before ';' or CR */
	CS_EXT_EQ_BWS,  /* after '=': BWS before the value */
	CS_EXT_TOKEN,   /* token value */
	CS_EXT_QUOTED,  /* quoted-string value */
	CS_EXT_QUOTED_ESC,
	CS_SIZE_LF,     /* CR seen, LF expected */
	CS_DATA,
	CS_DATA_CR,     /* CRLF expected after the data */
	CS_DATA_LF,
	CS_TRAILER_START, /* start of a trailer line or the final CRLF */
	CS_TRAILER_NAME,
	CS_TRAILER_VALUE,
	CS_TRAILER_LF,
	CS_END_LF,      /* final CR seen */
	CS_DONE,
	CS_ERROR,
};

void
wasp_http_chunked_init(struct wasp_http_chunked *c, const struct wasp_http_limits *limits)
{
	const struct wasp_http_limits *lim = limits ? limits : &wasp_http_default_limits;

	memset(c, 0, sizeof(*c));
	c->p_state = CS_SIZE_START;
	c->p_max_body = lim->body;
	c->p_max_line = lim->chunk_line;
	c->p_max_trailer = lim->trailer;
	c->p_bare_lf = lim->allow_bare_lf;
}

static int
cfail(struct wasp_http_chunked *c, uint16_t status, const char *reason)
{
	c->err_status = status;
	c->err_reason = reason;
	c->p_state = CS_ERROR;
	return -EBADMSG;
}

/* End of the chunk-size line: start the data, or the trailer after size 0. */
static int
size_line_done(struct wasp_http_chunked *c)
{
	c->p_line_len = 0;
	if (c->p_chunk_left == 0) {
		c->p_state = CS_TRAILER_START;
		return 0;
	}
	if (c->p_max_body && c->p_chunk_left > c->p_max_body - c->body_len)
		return cfail(c, 413, "request body too large");
	c->p_state = CS_DATA;
	return 0;
}

static bool
is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool
is_tchar(unsigned char ch)
{
	return wasp_http_is(ch, WASP_HTTP_C_TCHAR);
}

/* One framing byte. Returns 0, or -EBADMSG.
 *
 * Kept whole although long: it is one switch over the parser's states,
 * each case a few lines that read the byte and name the next state, so
 * the whole grammar (RFC 9112 7.1) reads top to bottom in one place; cut
 * into functions, the transitions would be spread over as many. It runs
 * once per framing byte of every chunked body. */
static int
step(struct wasp_http_chunked *c, unsigned char ch)
{
	int h;

	switch (c->p_state) {
	case CS_SIZE_START:
	case CS_SIZE:
	case CS_SIZE_BWS:
	case CS_EXT_BWS:
	case CS_EXT_NAME_BWS:
	case CS_EXT_NAME:
	case CS_EXT_NAME_END:
	case CS_EXT_EQ_BWS:
	case CS_EXT_TOKEN:
	case CS_EXT_QUOTED:
	case CS_EXT_QUOTED_ESC:
	case CS_SIZE_LF:
		if (++c->p_line_len > c->p_max_line)
			return cfail(c, 400, "chunk line too long");
		break;
	case CS_TRAILER_START:
	case CS_TRAILER_NAME:
	case CS_TRAILER_VALUE:
	case CS_TRAILER_LF:
	case CS_END_LF:
		if (++c->p_trailer_len > c->p_max_trailer)
			return cfail(c, 431, "trailer section too large");
		break;
	default:
		break;
	}

	switch (c->p_state) {
	case CS_SIZE_START:
		h = wasp_http_hexval(ch);
		if (h < 0)
			return cfail(c, 400, "invalid chunk size");
		c->p_chunk_left = (uint64_t)h;
		c->p_digits = h ? 1 : 0;
		c->p_state = CS_SIZE;
		return 0;
	case CS_SIZE:
		h = wasp_http_hexval(ch);
		if (h >= 0) {
			if (c->p_digits || h)
				c->p_digits++;
			if (c->p_digits > 15)
				return cfail(c, 400, "chunk size too large");
			c->p_chunk_left = c->p_chunk_left << 4 | (uint64_t)h;
			return 0;
		}
		if (is_ws(ch)) {
			c->p_state = CS_SIZE_BWS;
			return 0;
		}
		if (ch == ';') {
			c->p_state = CS_EXT_NAME_BWS;
			return 0;
		}
		if (ch != '\r' && ch != '\n')
			return cfail(c, 400, "invalid chunk size");
		break; /* end of line, below */
	case CS_SIZE_BWS:
		/* whitespace after the size only as BWS before an extension */
		if (is_ws(ch))
			return 0;
		if (ch == ';') {
			c->p_state = CS_EXT_NAME_BWS;
			return 0;
		}
		return cfail(c, 400, "invalid chunk size");
	case CS_EXT_NAME_BWS:
		if (is_ws(ch))
			return 0;
		if (!is_tchar(ch))
			return cfail(c, 400, "invalid chunk extension");
		c->p_state = CS_EXT_NAME;
		return 0;
	case CS_EXT_NAME:
		if (is_tchar(ch))
			return 0;
		/* fall through */
	case CS_EXT_NAME_END:
		if (is_ws(ch)) {
			c->p_state = CS_EXT_NAME_END;
			return 0;
		}
		if (ch == '=') {
			c->p_state = CS_EXT_EQ_BWS;
			return 0;
		}
		if (ch == ';') {
			c->p_state = CS_EXT_NAME_BWS;
			return 0;
		}
		break;
	case CS_EXT_BWS:
		/* after an extension value */
		if (is_ws(ch))
			return 0;
		if (ch == ';') {
			c->p_state = CS_EXT_NAME_BWS;
			return 0;
		}
		break;
	case CS_EXT_EQ_BWS:
		if (is_ws(ch))
			return 0;
		if (ch == '"') {
			c->p_state = CS_EXT_QUOTED;
			return 0;
		}
		if (!is_tchar(ch))
			return cfail(c, 400, "invalid chunk extension");
		c->p_state = CS_EXT_TOKEN;
		return 0;
	case CS_EXT_TOKEN:
		if (is_tchar(ch))
			return 0;
		if (is_ws(ch)) {
			c->p_state = CS_EXT_BWS;
			return 0;
		}
		if (ch == ';') {
			c->p_state = CS_EXT_NAME_BWS;
			return 0;
		}
		break;
	case CS_EXT_QUOTED:
		if (ch == '"')
			c->p_state = CS_EXT_BWS;
		else if (ch == '\\')
			c->p_state = CS_EXT_QUOTED_ESC;
		else if (!wasp_http_is(ch, WASP_HTTP_C_VALUE))
			return cfail(c, 400, "invalid chunk extension");
		return 0;
	case CS_EXT_QUOTED_ESC:
		if (!wasp_http_is(ch, WASP_HTTP_C_VALUE))
			return cfail(c, 400, "invalid chunk extension");
		c->p_state = CS_EXT_QUOTED;
		return 0;
	case CS_SIZE_LF:
		if (ch != '\n')
			return cfail(c, 400, "bare CR in chunk line");
		return size_line_done(c);
	case CS_DATA_CR:
		if (ch == '\r') {
			c->p_state = CS_DATA_LF;
			return 0;
		}
		if (ch == '\n' && c->p_bare_lf) {
			c->p_state = CS_SIZE_START;
			return 0;
		}
		return cfail(c, 400, "missing CRLF after chunk data");
	case CS_DATA_LF:
		if (ch != '\n')
			return cfail(c, 400, "missing CRLF after chunk data");
		c->p_state = CS_SIZE_START;
		return 0;
	case CS_TRAILER_START:
		if (ch == '\r') {
			c->p_state = CS_END_LF;
			return 0;
		}
		if (ch == '\n') {
			if (!c->p_bare_lf)
				return cfail(c, 400, "bare LF line ending");
			c->p_state = CS_DONE;
			return 0;
		}
		if (!is_tchar(ch))
			return cfail(c, 400, "invalid trailer field");
		c->p_state = CS_TRAILER_NAME;
		return 0;
	case CS_TRAILER_NAME:
		if (is_tchar(ch))
			return 0;
		if (ch != ':')
			return cfail(c, 400, "invalid trailer field");
		c->p_state = CS_TRAILER_VALUE;
		return 0;
	case CS_TRAILER_VALUE:
		if (ch == '\r') {
			c->p_state = CS_TRAILER_LF;
			return 0;
		}
		if (ch == '\n') {
			if (!c->p_bare_lf)
				return cfail(c, 400, "bare LF line ending");
			c->p_state = CS_TRAILER_START;
			return 0;
		}
		if (!wasp_http_is(ch, WASP_HTTP_C_VALUE))
			return cfail(c, 400, "control character in trailer field");
		return 0;
	case CS_TRAILER_LF:
		if (ch != '\n')
			return cfail(c, 400, "bare CR in trailer field");
		c->p_state = CS_TRAILER_START;
		return 0;
	case CS_END_LF:
		if (ch != '\n')
			return cfail(c, 400, "bare CR after trailer section");
		c->p_state = CS_DONE;
		return 0;
	default:
		return cfail(c, 400, "invalid chunked body");
	}

	/* end of a chunk-size line (from SIZE, EXT_NAME[_END], EXT_TOKEN, EXT_BWS) */
	if (ch == '\r') {
		c->p_state = CS_SIZE_LF;
		return 0;
	}
	if (ch == '\n' && c->p_bare_lf)
		return size_line_done(c);
	if (ch == '\n')
		return cfail(c, 400, "bare LF line ending");
	return cfail(c, 400, "invalid chunk extension");
}

int
wasp_http_chunked_decode(struct wasp_http_chunked *c, const char *buf, size_t len,
		size_t *ret_consumed, struct wasp_http_str *ret_data)
{
	size_t i = 0;

	if (c->p_state == CS_ERROR)
		return -EBADMSG;
	while (i < len) {
		if (c->p_state == CS_DONE)
			break;
		if (c->p_state == CS_DATA) {
			size_t n = len - i;
			if (n > c->p_chunk_left)
				n = (size_t)c->p_chunk_left;
			c->p_chunk_left -= n;
			c->body_len += n;
			if (c->p_chunk_left == 0)
				c->p_state = CS_DATA_CR;
			ret_data->ptr = buf + i;
			ret_data->len = n;
			*ret_consumed = i + n;
			return WASP_HTTP_CHUNK_DATA;
		}
		int r = step(c, (unsigned char)buf[i]);
		if (r < 0)
			return r;
		i++;
	}
	*ret_consumed = i;
	return c->p_state == CS_DONE ? WASP_HTTP_CHUNK_DONE : WASP_HTTP_CHUNK_AGAIN;
}

int
wasp_http_chunked_decode_inplace(struct wasp_http_chunked *c, char *buf, size_t *len,
		size_t *ret_consumed)
{
	size_t in = 0, out = 0, total = *len;

	for (;;) {
		struct wasp_http_str d;
		size_t used;
		int r = wasp_http_chunked_decode(c, buf + in, total - in, &used, &d);

		if (r < 0)
			return r;
		if (r == WASP_HTTP_CHUNK_DATA) {
			memmove(buf + out, d.ptr, d.len);
			out += d.len;
			in += used;
			continue;
		}
		in += used;
		*len = out;
		*ret_consumed = in;
		return r;
	}
}
