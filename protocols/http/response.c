/* Response helpers: reason phrases, the Date value (formatted once a second),
 * the response head builder and chunk framing. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

const char *
wasp_http_reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	case 511: return "Network Authentication Required";
	default: return "Unknown";
	}
}

static const char wdays[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
	"Sep", "Oct", "Nov", "Dec" };

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

void
wasp_http_date_format(time_t t, char *out)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	/* "Sun, 06 Nov 1994 08:49:37 GMT", locale-independent */
	memcpy(out, wdays[tm.tm_wday], 3);
	out[3] = ',';
	out[4] = ' ';
	put2(out + 5, tm.tm_mday);
	out[7] = ' ';
	memcpy(out + 8, months[tm.tm_mon], 3);
	out[11] = ' ';
	put2(out + 12, (tm.tm_year + 1900) / 100);
	put2(out + 14, (tm.tm_year + 1900) % 100);
	out[16] = ' ';
	put2(out + 17, tm.tm_hour);
	out[19] = ':';
	put2(out + 20, tm.tm_min);
	out[22] = ':';
	put2(out + 23, tm.tm_sec);
	memcpy(out + 25, " GMT", 5); /* with the NUL */
}

const char *
wasp_http_date_get(struct wasp_http_date_cache *c, time_t now)
{
	if (c->dc_buf[0] == '\0' || c->dc_sec != now) {
		wasp_http_date_format(now, c->dc_buf);
		c->dc_sec = now;
	}
	return c->dc_buf;
}

/* ---- HTTP-date parsing (RFC 9110 5.6.7) ---- */

static int
get_num(const char **p, const char *end, int digits, int *ret)
{
	int v = 0;

	for (int i = 0; i < digits; i++) {
		if (*p >= end || **p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*ret = v;
	return 0;
}

static int
expect_str(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

static int
get_month(const char **p, const char *end, int *ret)
{
	if (end - *p < 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (memcmp(*p, months[i], 3) == 0) {
			*ret = i;
			*p += 3;
			return 0;
		}
	return -1;
}

static int
get_time(const char **p, const char *end, int *h, int *m, int *s)
{
	if (get_num(p, end, 2, h) < 0 || expect_str(p, end, ":") < 0 ||
	    get_num(p, end, 2, m) < 0 || expect_str(p, end, ":") < 0 || get_num(p, end, 2, s) < 0)
		return -1;
	if (*h > 23 || *m > 59 || *s > 60)
		return -1;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), no timezone games. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
wasp_http_date_parse(const char *s, size_t len, time_t *ret_t)
{
	const char *p = s, *end = s + len;
	int day, mon, year, h, m, sec;

	if (len >= 29 && s[3] == ',') {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		p += 4;
		if (expect_str(&p, end, " ") < 0 || get_num(&p, end, 2, &day) < 0 ||
		    expect_str(&p, end, " ") < 0 || get_month(&p, end, &mon) < 0 ||
		    expect_str(&p, end, " ") < 0 || get_num(&p, end, 4, &year) < 0 ||
		    expect_str(&p, end, " ") < 0 || get_time(&p, end, &h, &m, &sec) < 0 ||
		    expect_str(&p, end, " GMT") < 0)
			return -EINVAL;
	} else if (memchr(s, ',', len)) {
		/* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT */
		p = memchr(s, ',', len);
		p++;
		if (expect_str(&p, end, " ") < 0 || get_num(&p, end, 2, &day) < 0 ||
		    expect_str(&p, end, "-") < 0 || get_month(&p, end, &mon) < 0 ||
		    expect_str(&p, end, "-") < 0 || get_num(&p, end, 2, &year) < 0 ||
		    expect_str(&p, end, " ") < 0 || get_time(&p, end, &h, &m, &sec) < 0 ||
		    expect_str(&p, end, " GMT") < 0)
			return -EINVAL;
		year += year < 70 ? 2000 : 1900; /* RFC 9110: 50-year window, roughly */
	} else {
		/* asctime-date: Sun Nov  6 08:49:37 1994 */
		if (len < 24)
			return -EINVAL;
		p += 3;
		if (expect_str(&p, end, " ") < 0 || get_month(&p, end, &mon) < 0 ||
		    expect_str(&p, end, " ") < 0)
			return -EINVAL;
		if (*p == ' ') {
			p++;
			if (get_num(&p, end, 1, &day) < 0)
				return -EINVAL;
		} else if (get_num(&p, end, 2, &day) < 0) {
			return -EINVAL;
		}
		if (expect_str(&p, end, " ") < 0 || get_time(&p, end, &h, &m, &sec) < 0 ||
		    expect_str(&p, end, " ") < 0 || get_num(&p, end, 4, &year) < 0)
			return -EINVAL;
	}
	if (p != end || day < 1 || day > 31)
		return -EINVAL;
	int64_t t = days_from_civil(year, mon + 1, day) * 86400 + h * 3600 + m * 60 + sec;
	*ret_t = (time_t)t;
	return 0;
}

/* ---- response head ---- */

struct out {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void
out_mem(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->size - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
out_str(struct out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

static void
out_u64(struct out *o, uint64_t v)
{
	char tmp[21];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	out_mem(o, tmp + i, sizeof(tmp) - i);
}

/* Any byte of w zero? (exact: no false positives) */
#define WORD_HAS_ZERO(w) (((w) - 0x0101010101010101ULL) & ~(w) & 0x8080808080808080ULL)

static bool
safe_field_str(const char *s, size_t n)
{
	size_t i = 0;

	/* eight bytes at a time: every response header goes through here */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (WORD_HAS_ZERO(w) | WORD_HAS_ZERO(w ^ 0x0a0a0a0a0a0a0a0aULL) |
		    WORD_HAS_ZERO(w ^ 0x0d0d0d0d0d0d0d0dULL))
			return false;
	}
	for (; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

int
wasp_http_response_head_build(const struct wasp_http_response_head *h, char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };
	bool v10 = h->version == WASP_HTTP_1_0;
	bool keep_alive = h->keep_alive;
	bool bodyless = (h->status >= 100 && h->status < 200) || h->status == 204 ||
			h->status == 304;
	const char *reason = h->reason ? h->reason : wasp_http_reason(h->status);

	if (h->status < 100 || h->status > 999)
		return -EINVAL;
	if (!safe_field_str(reason, strlen(reason)) ||
	    (h->server && !safe_field_str(h->server, strlen(h->server))) ||
	    (h->date && !safe_field_str(h->date, strlen(h->date))))
		return -EINVAL;
	for (size_t i = 0; i < h->n_extra; i++) {
		const struct wasp_http_header *x = &h->extra[i];
		if (!x->name.ptr || x->name.len == 0 || !safe_field_str(x->name.ptr, x->name.len) ||
		    memchr(x->name.ptr, ':', x->name.len) ||
		    (x->value.len && !safe_field_str(x->value.ptr, x->value.len)))
			return -EINVAL;
	}

	/* HTTP/1.0 cannot frame an unknown length but by closing */
	if (!bodyless && h->content_length < 0 && v10)
		keep_alive = false;

	/* Our own version whatever the request's (RFC 9110 6.2; IIS and nginx
	 * answer an HTTP/1.0 request so too); v10 only changes the framing and
	 * the persistence the client understands. */
	out_mem(&o, "HTTP/1.1 ", 9);
	char st[4] = { (char)('0' + h->status / 100), (char)('0' + h->status / 10 % 10),
		(char)('0' + h->status % 10), ' ' };
	out_mem(&o, st, 4);
	out_str(&o, reason);
	out_mem(&o, "\r\n", 2);
	if (h->date) {
		out_mem(&o, "Date: ", 6);
		out_str(&o, h->date);
		out_mem(&o, "\r\n", 2);
	}
	if (h->server) {
		out_mem(&o, "Server: ", 8);
		out_str(&o, h->server);
		out_mem(&o, "\r\n", 2);
	}
	if (!bodyless) {
		if (h->content_length >= 0) {
			out_mem(&o, "Content-Length: ", 16);
			out_u64(&o, (uint64_t)h->content_length);
			out_mem(&o, "\r\n", 2);
		} else if (!v10) {
			out_str(&o, "Transfer-Encoding: chunked\r\n");
		}
	}
	if (v10 && keep_alive)
		out_str(&o, "Connection: keep-alive\r\n");
	else if (!keep_alive) /* an HTTP/1.1 response persists unless it says so */
		out_str(&o, "Connection: close\r\n");
	for (size_t i = 0; i < h->n_extra; i++) {
		const struct wasp_http_header *x = &h->extra[i];
		out_mem(&o, x->name.ptr, x->name.len);
		out_mem(&o, ": ", 2);
		if (x->value.len)
			out_mem(&o, x->value.ptr, x->value.len);
		out_mem(&o, "\r\n", 2);
	}
	out_mem(&o, "\r\n", 2);
	if (o.overflow)
		return -ENOBUFS;
	return (int)o.len;
}

bool
wasp_http_response_can_keep_alive(const struct wasp_http_request *req, int64_t content_length)
{
	if (!req->keep_alive)
		return false;
	if (req->version == WASP_HTTP_1_0 && content_length < 0)
		return false;
	return true;
}

size_t
wasp_http_chunk_header(char *out, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t i = sizeof(tmp), len;

	do {
		tmp[--i] = hex[n & 0xf];
		n >>= 4;
	} while (n);
	len = sizeof(tmp) - i;
	memcpy(out, tmp + i, len);
	out[len] = '\r';
	out[len + 1] = '\n';
	out[len + 2] = '\0';
	return len + 2;
}
