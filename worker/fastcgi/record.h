/* FastCGI 1.0 records (the specification's section 3 and 5) as wasp's
 * FastCgiModule uses them: one request at a time on a kept connection
 * (FCGI_KEEP_CONN), the Responder role. Pure functions over bytes: no I/O,
 * no allocation, so the unit tests and the fuzzer run them as they are.
 * Also the CGI response head an application writes on FCGI_STDOUT
 * (RFC 3875 section 6): "Name: value" lines up to an empty line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8
#define FCGI_MAX_CONTENT 65535

enum {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_DATA = 8,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11,
};

#define FCGI_RESPONDER 1
#define FCGI_KEEP_CONN 1
#define FCGI_REQUEST_COMPLETE 0

/* A record header for content_len bytes of type (id: the request id). */
void fcgi_header(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t id, uint16_t content_len,
		 uint8_t padding);
/* FCGI_BEGIN_REQUEST, Responder, with FCGI_KEEP_CONN when keep_conn. */
#define FCGI_BEGIN_REQUEST_LEN 16
void fcgi_begin_request(uint8_t out[FCGI_BEGIN_REQUEST_LEN], uint16_t id, bool keep_conn);
/* The bytes one name-value pair takes (lengths of 128 or more take four
 * bytes, and must be below 2^31). */
size_t fcgi_nv_size(size_t name_len, size_t value_len);
/* Encode one pair into out (fcgi_nv_size bytes). Returns that size. */
size_t fcgi_nv_encode(uint8_t *out, const char *name, size_t name_len, const char *value,
		      size_t value_len);

/* ---- reading an application's records ---- */

enum fcgi_event_type {
	FCGI_EV_NONE,   /* more bytes needed */
	FCGI_EV_STDOUT, /* data, len: response bytes (never empty) */
	FCGI_EV_STDERR, /* data, len: the application's error output (never empty) */
	FCGI_EV_END,    /* FCGI_END_REQUEST: app_status, protocol_status */
};

struct fcgi_event {
	enum fcgi_event_type type;
	const uint8_t *data;
	size_t len;
	uint32_t app_status;
	uint8_t protocol_status;
};

/* The state of one request's incoming records. */
struct fcgi_parser {
	uint16_t id;    /* the request id expected */
	uint8_t hdr[FCGI_HEADER_LEN];
	size_t hdr_have;
	uint8_t type;
	size_t content_left, padding_left;
	uint8_t body[8]; /* FCGI_END_REQUEST's body */
	size_t body_have;
	bool ended;      /* FCGI_END_REQUEST was read: nothing may follow */
	const char *err; /* what was wrong, after -EBADMSG */
};

void fcgi_parser_init(struct fcgi_parser *p, uint16_t id);
/* Take bytes from buf[0..len): returns how many it used (>= 0) and sets
 * *ev (FCGI_EV_NONE when it used them all and needs more; a stream event's
 * data points into buf). Call again with the rest. -EBADMSG for anything
 * FastCGI 1.0 does not allow here (another version, another request id, a
 * record type an application does not send to a Responder, an
 * FCGI_END_REQUEST of the wrong size, anything after it): p->err says what. */
ssize_t fcgi_parse(struct fcgi_parser *p, const uint8_t *buf, size_t len, struct fcgi_event *ev);

/* ---- the CGI response head ---- */

/* The head accumulates in buf (cap bytes: the limit on a head). */
struct fcgi_head {
	char *buf;
	size_t len, cap;
	size_t line_start; /* where the line being read began */
	size_t scan;       /* bytes looked at */
	size_t end;        /* the head's length once complete (its empty line included) */
};

void fcgi_head_init(struct fcgi_head *h, char *buf, size_t cap);
/* Feed response bytes: 1 when the head is complete (*used: the bytes of data
 * that belong to it; the rest is body), 0 when more are needed (all used),
 * -EMSGSIZE when the head does not fit in cap. */
int fcgi_head_feed(struct fcgi_head *h, const uint8_t *data, size_t len, size_t *used);
/* Iterate a complete head's fields: *pos starts at 0. 1 with name and value
 * (trimmed; pointers into h->buf, not NUL-terminated), 0 at the end,
 * -EBADMSG for a line that is no "name: value" (a name that is no token, a
 * control character in the value). */
int fcgi_head_next(const struct fcgi_head *h, size_t *pos, const char **name, size_t *name_len,
		   const char **value, size_t *value_len);
/* The status of a CGI "Status" value ("404 Not Found"): 100..999, or
 * -EBADMSG. */
int fcgi_parse_status(const char *value, size_t len);
