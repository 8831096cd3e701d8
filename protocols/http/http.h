/* The HTTP/1.1 codec shared by the listener (peeks at a request head to route
 * it) and the worker (serves the connection): a strict RFC 9112 request head
 * parser, a chunked body decoder, URL decoding and path normalisation, and
 * response helpers (reason phrases, cached Date, head builder, chunk framing).
 *
 * Everything here is a pure function over caller buffers: no allocation, no
 * logging, no globals besides constant tables. Parsed strings are slices into
 * the caller's buffer (struct wasp_http_str), valid as long as that buffer.
 *
 * Strictness choices (RFC 9112 leaves these to the recipient):
 * - Lines end in CRLF. A bare LF is rejected with 400 unless
 *   limits.allow_bare_lf is set (RFC 9112 2.2 MAY accept it; nginx does).
 *   A bare CR anywhere in the head is always 400, settled by the byte after
 *   it (no LF needs to arrive).
 * - Exactly one SP between the request-line parts; no leading/trailing
 *   whitespace. Up to WASP_HTTP_MAX_LEADING_CRLF empty lines before the
 *   request-line are skipped (RFC 9112 2.2).
 * - obs-fold, whitespace before the first field, whitespace between a field
 *   name and the colon, invalid tchar in a field name, CTL (other than HTAB),
 *   DEL or NUL in a field value: 400.
 * - Content-Length: 1*DIGIT, at most 18 digits. Several Content-Length field
 *   lines or a list ("5, 5") are accepted only when every value is the same
 *   (RFC 9110 8.6); differing values: 400. Content-Length together with
 *   Transfer-Encoding: 400 (never "TE wins": that is how smuggling happens).
 * - Transfer-Encoding (all field lines form one list): a coding that is not a
 *   registered transfer coding (chunked, gzip, x-gzip, deflate, compress,
 *   x-compress): 501. The last coding is not chunked, chunked applied twice,
 *   parameters on chunked, an empty list, or Transfer-Encoding in an HTTP/1.0
 *   request (RFC 9112 6.1): 400. A known coding other than chunked before
 *   chunked ("gzip, chunked"): 501 (we do not decode transfer codings other
 *   than chunked).
 * - Host: HTTP/1.1 without Host, or more than one Host field line: 400. A
 *   Host value that is not uri-host [":" port]: 400. An absolute-form target's
 *   authority overrides the Host field (RFC 9112 3.2.3), which must still be
 *   present in HTTP/1.1. userinfo in an absolute-form authority: 400.
 * - Version: "HTTP/" DIGIT "." DIGIT, else 400. HTTP/1.0 and HTTP/1.1;
 *   HTTP/1.2..1.9 are served as 1.1 (RFC 9110 2.5); any other major: 505.
 * - Method: 1*tchar, at most WASP_HTTP_MAX_METHOD bytes, else 400. Unknown
 *   methods are accepted as WASP_HTTP_METHOD_OTHER (501 is the caller's call).
 * - Request target: RFC 3986 characters only (unreserved, sub-delims,
 *   ":@/?[]" and %XX with two hex digits); CTL, SP, DEL, '#', the backtick
 *   and "<>\^{|} are 400. Raw bytes >= 0x80 are accepted in the target (some
 *   clients send raw UTF-8) and validated as UTF-8 by wasp_http_url_normalize.
 *   Forms: origin ("/..."), absolute ("http[s]://authority[/path][?query]"),
 *   authority (CONNECT only) and asterisk ("*", OPTIONS only); anything else
 *   (or a form not allowed for the method): 400.
 * - Limits are checked on each line before its syntax, so the status never
 *   depends on how the bytes were split across reads: a request-line longer
 *   than limits.request_line is 414 (even before its LF arrives), a head
 *   longer than limits.head or with more than limits.fields field lines 431.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- limits (defaults; IIS MaxRequestBytes is 16 KiB) ---- */
#define WASP_HTTP_MAX_REQUEST_LINE 8192 /* request-line incl. CRLF, over: 414 */
#define WASP_HTTP_MAX_HEAD 16384        /* whole head incl. request-line, over: 431 */
#define WASP_HTTP_MAX_FIELDS 100        /* field lines, over: 431; also the array size */
#define WASP_HTTP_MAX_CHUNK_LINE 4096   /* chunk-size line incl. extensions, over: 400 */
#define WASP_HTTP_MAX_TRAILER 8192      /* trailer section bytes, over: 431 */
#define WASP_HTTP_MAX_METHOD 32         /* method token bytes, over: 400 */
#define WASP_HTTP_MAX_LEADING_CRLF 8    /* empty lines skipped before a request */

struct wasp_http_limits {
	uint32_t request_line; /* 414 */
	uint32_t head;         /* 431 */
	uint32_t fields;       /* 431; values over WASP_HTTP_MAX_FIELDS are clamped */
	uint32_t chunk_line;   /* 400 */
	uint32_t trailer;      /* 431 */
	uint64_t body;         /* body bytes (Content-Length in the head, or decoded
	                        * chunked), over: 413; 0 = unlimited */
	bool allow_bare_lf;    /* accept LF as a line terminator (default: 400) */
};

/* The defaults above (body unlimited, bare LF rejected). */
extern const struct wasp_http_limits wasp_http_default_limits;

/* A slice of a caller buffer. Not NUL-terminated. ptr is NULL (and len 0)
 * for "absent"; an empty but present value has a non-NULL ptr. */
struct wasp_http_str {
	const char *ptr;
	size_t len;
};

struct wasp_http_header {
	struct wasp_http_str name;  /* as sent (case preserved) */
	struct wasp_http_str value; /* leading/trailing OWS removed */
};

enum wasp_http_method {
	WASP_HTTP_METHOD_OTHER, /* a valid token we have no enum for: see req->method_str */
	WASP_HTTP_METHOD_GET,
	WASP_HTTP_METHOD_HEAD,
	WASP_HTTP_METHOD_POST,
	WASP_HTTP_METHOD_PUT,
	WASP_HTTP_METHOD_DELETE,
	WASP_HTTP_METHOD_CONNECT,
	WASP_HTTP_METHOD_OPTIONS,
	WASP_HTTP_METHOD_TRACE,
	WASP_HTTP_METHOD_PATCH,
	WASP_HTTP_METHOD__COUNT,
	WASP_HTTP_METHOD_INVALID = -EINVAL,
};

enum wasp_http_version {
	WASP_HTTP_1_0 = 10,
	WASP_HTTP_1_1 = 11,
};

enum wasp_http_target_form {
	WASP_HTTP_FORM_ORIGIN,    /* /path?query */
	WASP_HTTP_FORM_ABSOLUTE,  /* http://host/path?query */
	WASP_HTTP_FORM_AUTHORITY, /* host:port (CONNECT) */
	WASP_HTTP_FORM_ASTERISK,  /* * (OPTIONS) */
	WASP_HTTP_FORM__COUNT,
	WASP_HTTP_FORM_INVALID = -EINVAL,
};

/* One request head. Initialise with wasp_http_request_init() before the first
 * wasp_http_parse_head() call of each request; the public fields are valid
 * only after wasp_http_parse_head() returned > 0. */
struct wasp_http_request {
	/* request-line */
	enum wasp_http_method method;
	struct wasp_http_str method_str; /* the token as sent */
	struct wasp_http_str target;     /* raw request-target */
	enum wasp_http_target_form form;
	/* Raw (still percent-encoded) path: for origin/absolute form the path part
	 * ("/" for an absolute-form target with an empty path; then ptr points to
	 * a static "/"), "*" for asterisk-form, empty for authority-form. Decode
	 * and normalise it with wasp_http_url_normalize(). */
	struct wasp_http_str path;
	struct wasp_http_str query; /* raw, after '?', without it; ptr NULL if no '?' */
	enum wasp_http_version version;

	/* field lines in order, n_headers of them */
	uint32_t n_headers;

	/* derived */
	struct wasp_http_str host;      /* authority of an absolute/authority-form target,
	                                 * else the Host value; ptr NULL if neither */
	struct wasp_http_str host_name; /* host without ":port" (IPv6 keeps its []) */
	uint32_t host_port;             /* port from host, 0 if none */
	uint64_t content_length;        /* valid when has_content_length */
	bool has_content_length;
	bool chunked;         /* Transfer-Encoding: chunked: use the chunked decoder */
	bool keep_alive;      /* 1.1: unless "Connection: close"; 1.0: only with
	                       * "Connection: keep-alive" and no "close" */
	bool expect_continue; /* Expect: 100-continue in HTTP/1.1 (other
	                       * expectations, and any in 1.0, are ignored) */
	bool upgrade;         /* HTTP/1.1, Upgrade field present and "upgrade" in
	                       * Connection */
	struct wasp_http_str upgrade_value; /* the Upgrade field value if upgrade */
	bool connection_close; /* Connection: close was sent */
	uint32_t head_len;     /* bytes of the head incl. the final empty line */

	/* On error: the status to answer (400, 413, 414, 431, 501, 505) and a short
	 * static reason for logs ("invalid character in field name"). */
	uint16_t err_status;
	const char *err_reason;

	/* private incremental state */
	uint32_t p_state;
	uint32_t p_pos;        /* start of the next unparsed line */
	uint32_t p_scan;       /* how far the current line was searched for LF */
	uint32_t p_line_start; /* offset of the request-line */
	uint32_t p_leading;    /* empty lines skipped */
	uint32_t p_host_lines;
	uint32_t p_te_count;   /* codings seen in Transfer-Encoding */
	bool p_te_seen;
	bool p_te_last_chunked;
	bool p_te_other;       /* a known coding other than chunked */
	bool p_conn_keep_alive;
	bool p_has_upgrade_field;
	const char *p_base; /* buffer of the previous call, to rebase slices */
	uint64_t p_max_body;

	struct wasp_http_header headers[WASP_HTTP_MAX_FIELDS];
};

/* Reset *req for a new request (cheap: the header array is not cleared). */
void wasp_http_request_init(struct wasp_http_request *req);

/* Parse the request head at the start of buf[0..len). Incremental: call again
 * with the same bytes plus more when it returns 0; lines already parsed are
 * not re-scanned. The buffer may move between calls (slices are rebased) as
 * long as it starts with the same bytes. limits may be NULL (defaults).
 * Returns:
 *   > 0  the head is complete; that many bytes are the head (the body or the
 *        next pipelined request starts at buf + return value),
 *   0    need more bytes (no limit exceeded yet),
 *   -EBADMSG  the request is invalid: answer req->err_status (400, 413 for a
 *        Content-Length over limits->body, 414, 431, 501, 505) and close the
 *        connection; req->err_reason says why. Once complete or failed,
 *        further calls return the same result.
 *   -EINVAL  len is shorter than in an earlier call for this request. */
int wasp_http_parse_head(const char *buf, size_t len, const struct wasp_http_limits *limits,
		struct wasp_http_request *req);

/* First field line named name (case-insensitive), or NULL. */
const struct wasp_http_header *wasp_http_request_header(const struct wasp_http_request *req,
		const char *name);

/* Canonical method name ("GET"), or NULL for OTHER/invalid. */
const char *wasp_http_method_name(enum wasp_http_method m);
/* Is the method token GET or HEAD (case-sensitive, as methods are)? */
bool wasp_http_method_is_get_or_head(const char *method);

/* Case-insensitive comparison of a slice with a NUL-terminated string. */
bool wasp_http_str_eq_ci(struct wasp_http_str s, const char *lit);

/* Does the comma-separated list value contain token tok (case-insensitive,
 * OWS around elements ignored)? For Connection, Expect, Accept-Encoding... */
bool wasp_http_list_has_token(struct wasp_http_str value, const char *tok);

/* ---- chunked body decoder (RFC 9112 7.1), streaming ---- */

struct wasp_http_chunked {
	uint64_t body_len;   /* decoded body bytes so far */
	uint16_t err_status; /* on -EBADMSG: 400, 413 or 431 */
	const char *err_reason;
	/* private */
	uint64_t p_chunk_left;
	uint64_t p_max_body;
	uint32_t p_state;
	uint32_t p_line_len;
	uint32_t p_trailer_len;
	uint32_t p_max_line;
	uint32_t p_max_trailer;
	uint32_t p_digits;
	bool p_bare_lf;
};

enum {
	WASP_HTTP_CHUNK_AGAIN = 0, /* everything given was consumed; feed more */
	WASP_HTTP_CHUNK_DATA = 1,  /* *ret_data holds body bytes (a slice of buf) */
	WASP_HTTP_CHUNK_DONE = 2,  /* last chunk and trailer section consumed */
};

/* Start decoding one chunked body. limits may be NULL (defaults); limits->body
 * bounds the decoded size (413). */
void wasp_http_chunked_init(struct wasp_http_chunked *c, const struct wasp_http_limits *limits);

/* Decode from buf[0..len). Never needs bytes to be given twice: the decoder
 * keeps all framing state itself. *ret_consumed is how many bytes of buf were
 * used (always set on success). Returns WASP_HTTP_CHUNK_DATA with *ret_data a
 * slice of buf (consumed ends at the slice's end: call again with the rest),
 * WASP_HTTP_CHUNK_AGAIN when all of buf was framing (or buf is empty),
 * WASP_HTTP_CHUNK_DONE when the body ended (bytes after *ret_consumed belong
 * to the next request), or -EBADMSG with c->err_status/err_reason set.
 * Trailer fields are syntax-checked, bounded and discarded. */
int wasp_http_chunked_decode(struct wasp_http_chunked *c, const char *buf, size_t len,
		size_t *ret_consumed, struct wasp_http_str *ret_data);

/* Convenience: decode buf[0..*len) in place, moving body bytes to the front.
 * On return *len is the number of body bytes now at buf[0..), and
 * *ret_consumed the number of input bytes used. Returns WASP_HTTP_CHUNK_AGAIN
 * (all input used), WASP_HTTP_CHUNK_DONE (input after *ret_consumed is the
 * next request: it was not moved, it is still at its original offset), or
 * -EBADMSG. */
int wasp_http_chunked_decode_inplace(struct wasp_http_chunked *c, char *buf, size_t *len,
		size_t *ret_consumed);

/* ---- URL decoding and path normalisation (url.c) ---- */

#define WASP_HTTP_URL_DOUBLE_ESCAPED 0x1u /* decoded path still has %XX */
#define WASP_HTTP_URL_HIGH_BIT 0x2u       /* decoded path has bytes >= 0x80 */
#define WASP_HTTP_URL_PLUS 0x4u           /* path has '+' (IIS doubleEscaping also
                                           * refuses it) */
#define WASP_HTTP_URL_DOT_SEGMENTS 0x8u   /* '.' or '..' segments were resolved */
#define WASP_HTTP_URL_TRAILING_SLASH 0x10u /* result ends in '/' */

/* Decode %XX once and normalise a raw origin-form path (req->path) for safe
 * file mapping. out must hold len + 1 bytes; the result is NUL-terminated,
 * starts with '/', and never contains "//", "/./", "/../", '\' or NUL.
 * '//' runs collapse to one '/'; '.' segments vanish and '..' removes the
 * previous segment; a trailing '/' (also after "." or "..") is kept.
 * Returns the length of the result, or
 *   -EBADMSG  malformed: not starting with '/', bad %-escape, NUL (raw or
 *             %00), other control characters, %2F or %5C, a literal '\',
 *             invalid or overlong UTF-8 (%c0%af) -> answer 400,
 *   -EPERM    '..' climbs above the root -> answer 400,
 *   -ENOBUFS  out too small.
 * *ret_flags (may be NULL) gets WASP_HTTP_URL_* bits on success. */
int wasp_http_url_normalize(const char *raw, size_t len, char *out, size_t out_size,
		unsigned *ret_flags);

/* Percent-decode src[0..len) into out (len + 1 bytes; NUL-terminated), e.g. a
 * query parameter; with plus_is_space, '+' becomes ' '. Returns the decoded
 * length or -EBADMSG for a malformed escape. Does not reject %00: the result
 * may contain NUL bytes, use the returned length. */
int wasp_http_pct_decode(const char *src, size_t len, char *out, size_t out_size,
		bool plus_is_space);

/* A static description of a wasp_http_url_normalize() error, for logs. */
const char *wasp_http_url_strerror(int r);

/* ---- responses (response.c) ---- */

/* Reason phrase for a status ("Not Found"); "Unknown" when we have none. */
const char *wasp_http_reason(unsigned status);

/* IMF-fixdate is always 29 bytes: "Sun, 06 Nov 1994 08:49:37 GMT". */
#define WASP_HTTP_DATE_LEN 29

/* Per-process Date cache (put it in the process' env; no globals). */
struct wasp_http_date_cache {
	time_t dc_sec;
	char dc_buf[WASP_HTTP_DATE_LEN + 1];
};

/* Format t as IMF-fixdate into out (WASP_HTTP_DATE_LEN + 1 bytes, NUL-terminated). */
void wasp_http_date_format(time_t t, char *out);

/* The Date value for now (a time(NULL) or cached loop time); formatted only
 * when the second changed. Returns c->dc_buf (29 chars, NUL-terminated). */
const char *wasp_http_date_get(struct wasp_http_date_cache *c, time_t now);

/* Parse an HTTP-date (IMF-fixdate, RFC 850 or asctime) of len bytes, e.g. an
 * If-Modified-Since value. Returns 0 and *ret_t, or -EINVAL. */
int wasp_http_date_parse(const char *s, size_t len, time_t *ret_t);

/* What wasp_http_response_head_build() writes. */
struct wasp_http_response_head {
	unsigned status;             /* 100..999 */
	const char *reason;          /* NULL: wasp_http_reason(status) */
	enum wasp_http_version version; /* of the request (framing, persistence; the
					 * status line always says HTTP/1.1); 0 means 1.1 */
	const char *date;            /* NULL: no Date field (use wasp_http_date_get) */
	const char *server;          /* NULL: no Server field */
	/* Framing: content_length >= 0 sends Content-Length; < 0 sends
	 * "Transfer-Encoding: chunked" for HTTP/1.1 and nothing for 1.0 (the
	 * body then ends at close: keep_alive is forced off). Statuses 1xx, 204
	 * and 304 never get either field. For a HEAD response pass the length
	 * the GET would have had. */
	int64_t content_length;
	bool keep_alive; /* 1.1: "Connection: close" when false; 1.0:
	                  * "Connection: keep-alive" when true */
	const struct wasp_http_header *extra; /* more fields, in order */
	size_t n_extra;
};

/* Build the status line and fields, ending with the empty line, into
 * buf[0..size) (not NUL-terminated). Field order: Date, Server, framing,
 * Connection, then extra. Returns the length written, -ENOBUFS when it does
 * not fit (buf's contents are then unspecified), or -EINVAL for a status
 * outside 100..999, a ':' in an extra name, or a CR/LF/NUL in any name or
 * value (response splitting). */
int wasp_http_response_head_build(const struct wasp_http_response_head *h, char *buf,
		size_t size);

/* Whether a response to this request may carry keep-alive, given what the
 * response head will say (the framing must be known: a 1.0 response without
 * Content-Length cannot). */
bool wasp_http_response_can_keep_alive(const struct wasp_http_request *req,
		int64_t content_length);

/* Interim response sent when req->expect_continue and the body is wanted. */
#define WASP_HTTP_100_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

/* Chunked response framing: send chunk_header(n), the n data bytes, then
 * WASP_HTTP_CHUNK_CRLF; finish with WASP_HTTP_CHUNK_LAST (no trailers). */
#define WASP_HTTP_CHUNK_HEADER_MAX 20 /* 16 hex digits + CRLF + NUL */
#define WASP_HTTP_CHUNK_CRLF "\r\n"
#define WASP_HTTP_CHUNK_LAST "0\r\n\r\n"

/* Write "<hex n>\r\n" into out (WASP_HTTP_CHUNK_HEADER_MAX bytes). n must be
 * > 0 (a zero-size chunk ends the body). Returns the length (no NUL counted). */
size_t wasp_http_chunk_header(char *out, uint64_t n);
