/* The backend's response as the proxy engine reads it (proxy_int.h): its
 * head parsed with limits and applied to the client's response, then its
 * body's framing (Content-Length, chunked, or to the end of the
 * connection) decoded into what goes next to the client. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "proxy_int.h"
#include "util.h"
#include "worker.h"

/* The backend's fields the worker writes itself or that are hop-by-hop. */
static bool
response_field_dropped(const char *name, size_t len, const char *conn, size_t conn_len)
{
	static const struct wasp_http_str own[] = {
		PROXY_STR("Transfer-Encoding"), PROXY_STR("Connection"), PROXY_STR("Keep-Alive"),
		PROXY_STR("Upgrade"), PROXY_STR("Date"), PROXY_STR("Server"),
		PROXY_STR("Proxy-Connection"), PROXY_STR("Trailer"), PROXY_STR("TE"),
		PROXY_STR("Content-Length"),
	};
	struct wasp_http_str n = { name, len };

	if (proxy_name_in(&n, own, ELEMENTSOF(own)))
		return true;
	return conn && proxy_connection_names(conn, conn_len, &n);
}

/* The CRLF ending the line at l (before end), or NULL: memchr, not
 * memmem (a response head's every line, twice). */
static char *
line_end(char *l, const char *end)
{
	for (char *p = l; p < end; p++) {
		p = memchr(p, '\r', (size_t)(end - p));
		if (!p || p + 1 >= end)
			return NULL;
		if (p[1] == '\n')
			return p;
	}
	return NULL;
}

/* One parsed head line: name and value (OWS trimmed). false: malformed. */
static bool
split_field(char *line, size_t len, char **name, size_t *nl, char **value, size_t *vl)
{
	char *colon = memchr(line, ':', len);
	size_t s, e;

	if (!colon || colon == line || line[0] == ' ' || line[0] == '\t')
		return false;
	*name = line;
	*nl = (size_t)(colon - line);
	for (size_t k = 0; k < *nl; k++)
		if (line[k] == ' ' || line[k] == '\t' || (unsigned char)line[k] < 0x21)
			return false;
	s = *nl + 1;
	e = len;
	while (s < e && (line[s] == ' ' || line[s] == '\t'))
		s++;
	while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	for (size_t k = s; k < e; k++)
		if (line[k] == '\0' || line[k] == '\r' || line[k] == '\n')
			return false;
	*value = line + s;
	*vl = e - s;
	return true;
}

/* A field of a response head, split. */
struct rfield {
	char *name, *value;
	size_t nl, vl;
};

#define RHEAD_FIELDS 32 /* kept from the first pass for the second */

/* What the first pass over a response head found. */
struct rhead {
	const char *conn; /* the Connection field's value */
	size_t conn_len;
	int64_t length; /* Content-Length, -1 without */
	bool chunked;
	bool more; /* more fields than f[] holds: the second pass splits again */
	size_t n;
	struct rfield f[RHEAD_FIELDS];
};

/* "HTTP/1.x NNN[ reason]": its status and whether it is HTTP/1.0. */
static int
status_line_parse(const char *p, const char *eol, unsigned *ret_status, bool *ret_http10)
{
	if (!eol || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
	    p[11] > '9' || (eol - p > 12 && p[12] != ' '))
		return -EBADMSG;
	*ret_http10 = p[7] == '0';
	*ret_status = (unsigned)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	return 0;
}

/* A Content-Length value; a second one must say the same. */
static int
content_length_parse(const char *value, size_t vl, int64_t *length)
{
	char *e;
	long long x;
	char tmp[24];

	if (vl == 0 || vl >= sizeof(tmp))
		return -EBADMSG;
	memcpy(tmp, value, vl);
	tmp[vl] = '\0';
	errno = 0;
	x = strtoll(tmp, &e, 10);
	if (errno || *e || x < 0 || tmp[0] < '0' || tmp[0] > '9' || (*length >= 0 && *length != x))
		return -EBADMSG;
	*length = x;
	return 0;
}

/* The first pass over the fields (l to end): framing and Connection. */
static int
head_scan(struct preq *q, char *l, char *end, struct rhead *h)
{
	while (l < end) {
		char *le = line_end(l, end), *name, *value;
		size_t nl, vl;

		if (!le || le == l)
			break;
		if (!split_field(l, (size_t)(le - l), &name, &nl, &value, &vl))
			return -EBADMSG;
		if (h->n < RHEAD_FIELDS)
			h->f[h->n++] = (struct rfield){ name, value, nl, vl };
		else
			h->more = true;
		if (nl == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
			if (!(vl == 7 && strncasecmp(value, "chunked", 7) == 0))
				return -EBADMSG; /* only chunked is understood */
			h->chunked = true;
		} else if (nl == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
			if (content_length_parse(value, vl, &h->length) < 0)
				return -EBADMSG;
		} else if (nl == 10 && strncasecmp(name, "Connection", 10) == 0) {
			h->conn = value;
			h->conn_len = vl;
			if (proxy_token_in(value, vl, "close"))
				q->close_after = true;
		}
		l = le + 2;
	}
	return 0;
}

/* Location or Content-Location: o->relocate_from (a scheme and host[:port],
 * compared without case) followed by '/', '?' or the end becomes
 * o->relocate_to. The value to send. */
static const char *
relocate(struct wasp_request *req, const struct proxy_opts *o, const char *name,
	 const char *value)
{
	size_t fl;

	if (!o->relocate_from || !o->relocate_to ||
	    !(strcaseeq(name, "Location") || strcaseeq(name, "Content-Location")))
		return value;
	fl = strlen(o->relocate_from);
	if (strncasecmp(value, o->relocate_from, fl) != 0 ||
	    (value[fl] && value[fl] != '/' && value[fl] != '?'))
		return value;
	return wasp_arena_printf(req->arena, "%s%s", o->relocate_to, value + fl);
}

/* One field to the client's response, unless it is one that does not go
 * on. */
static int
field_copy(struct preq *q, const struct rhead *h, const struct rfield *f)
{
	const char *v;
	int r;

	if (response_field_dropped(f->name, f->nl, h->conn, h->conn_len))
		return 0;
	f->name[f->nl] = '\0';
	f->value[f->vl] = '\0';
	v = relocate(q->req, &q->o, f->name, f->value);
	if (!v)
		return -ENOMEM;
	r = wasp_response_add_header(q->req, f->name, v);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	return 0;
}

/* The second pass: the fields that go on, to the client's response (as
 * the first pass split them, when it kept them all). */
static int
head_copy(struct preq *q, char *l, char *end, const struct rhead *h)
{
	int r = 0;

	for (size_t i = 0; !h->more && i < h->n && r == 0; i++)
		r = field_copy(q, h, &h->f[i]);
	while (h->more && l < end && r == 0) {
		char *le = line_end(l, end);
		struct rfield f;

		if (!le || le == l)
			break;
		(void)split_field(l, (size_t)(le - l), &f.name, &f.nl, &f.value, &f.vl);
		l = le + 2;
		r = field_copy(q, h, &f);
	}
	return r;
}

/* How the response body ends, and its stream to the client. */
static int
framing_set(struct preq *q, unsigned status, const struct rhead *h)
{
	if (status == 101) {
		q->switched = true;
		return 1;
	}
	if (q->is_head || status == 204 || status == 304) {
		q->framing = BODY_NONE;
		return 1;
	}
	if (h->chunked) {
		q->framing = BODY_CHUNKED;
		q->ch = CH_SIZE;
	} else if (h->length >= 0) {
		q->framing = BODY_LENGTH;
		q->left = (uint64_t)h->length;
	} else {
		q->framing = BODY_CLOSE;
		q->close_after = true;
	}
	if (wasp_response_stream(q->req, h->chunked ? -1 : h->length, proxy_on_writable, q) < 0)
		return -ENOMEM;
	q->streaming = true;
	return 1;
}

/* The head in q->rhead (q->rhead_len bytes, ending with the empty line):
 * 1 applied, 0 a 1xx head was skipped, -EBADMSG, -ENOMEM. */
int
proxy_head_apply(struct preq *q)
{
	struct wasp_request *req = q->req;
	char *p = q->rhead, *end = q->rhead + q->rhead_len, *eol;
	struct rhead h = { .length = -1 };
	bool http10;
	unsigned status;
	int r;

	eol = line_end(p, end);
	if (status_line_parse(p, eol, &status, &http10) < 0)
		return -EBADMSG;
	if (status < 200 && status != 101)
		return 0; /* 100 Continue, 103 Early Hints: the final head follows */
	if (status == 101 && !q->upgrade)
		return -EPROTO; /* a switch nobody asked for */
	r = head_scan(q, eol + 2, end, &h);
	if (r < 0)
		return r;
	if (http10 && !(h.conn && proxy_token_in(h.conn, h.conn_len, "keep-alive")))
		q->close_after = true;
	if (h.chunked && h.length >= 0)
		return -EBADMSG; /* request smuggling's favourite: refused */
	wasp_response_set_status(req, status, 0);
	r = head_copy(q, eol + 2, end, &h);
	if (r < 0)
		return r;
	/* the backend's own error pages pass (as ANCM asks of IIS) */
	wasp_response_set_try_skip_custom_errors(req, true);
	return framing_set(q, status, &h);
}

/* n bytes at p, next for the client. */
static void
pend_set(struct preq *q, uint8_t *p, size_t n)
{
	q->pend = p;
	q->pend_len = n;
	q->in_off += n;
}

/* A chunk-size line (its extensions ignored). */
static bool
chunk_size_parse(struct preq *q)
{
	char *e;
	unsigned long long x;

	if (!((q->line[0] >= '0' && q->line[0] <= '9') || (q->line[0] >= 'a' && q->line[0] <= 'f') ||
	      (q->line[0] >= 'A' && q->line[0] <= 'F')))
		return false;
	errno = 0;
	x = strtoull(q->line, &e, 16);
	if (errno || (*e && *e != ';' && *e != ' ' && *e != '\t'))
		return false;
	q->left = x;
	q->ch = x ? CH_DATA : CH_TRAILER;
	return true;
}

/* A whole line in q->line (its CRLF removed): the size, the CRLF after a
 * chunk's data, or a trailer field. */
static bool
chunk_line_apply(struct preq *q)
{
	if (q->ch == CH_DATA_END) {
		if (q->line[0])
			return false;
		q->ch = CH_SIZE;
	} else if (q->ch == CH_TRAILER) {
		q->trailer_len += strlen(q->line) + 2;
		if (q->trailer_len > PROXY_TRAILER_MAX)
			return false;
		if (!q->line[0])
			q->ch = CH_DONE; /* trailer fields are dropped */
	} else
		return chunk_size_parse(q);
	return true;
}

/* The bytes at p (avail) to q->line, up to its LF: -EBADMSG, 0 the line
 * is not whole yet, 1 it was applied. */
static int
chunk_line_take(struct preq *q, uint8_t *p, size_t avail)
{
	uint8_t *nlp = memchr(p, '\n', avail);
	size_t take = nlp ? (size_t)(nlp - p) + 1 : avail;

	if (q->line_len + take > sizeof(q->line) - 1)
		return -EBADMSG;
	memcpy(q->line + q->line_len, p, take);
	q->line_len += take;
	q->in_off += take;
	if (!nlp)
		return 0;
	q->line[q->line_len] = '\0';
	if (q->line_len < 2 || q->line[q->line_len - 2] != '\r')
		return -EBADMSG;
	q->line[q->line_len - 2] = '\0';
	q->line_len = 0;
	return chunk_line_apply(q) ? 1 : -EBADMSG;
}

/* Decode the body framing from in into pend. false on a malformed chunk. */
bool
proxy_body_take(struct preq *q)
{
	while (q->in_off < q->in_len && !q->pend_len && !q->done) {
		uint8_t *p = q->in + q->in_off;
		size_t avail = q->in_len - q->in_off, n;
		int r;

		switch (q->framing) {
		case BODY_NONE:
			return true;
		case BODY_CLOSE:
			pend_set(q, p, avail);
			return true;
		case BODY_LENGTH:
			n = (size_t)MIN((uint64_t)avail, q->left);
			pend_set(q, p, n);
			q->left -= n;
			return true;
		case BODY_CHUNKED:
			break;
		}
		switch (q->ch) {
		case CH_SIZE:
		case CH_DATA_END:
		case CH_TRAILER:
			r = chunk_line_take(q, p, avail);
			if (r <= 0)
				return r == 0;
			break;
		case CH_DATA:
			n = (size_t)MIN((uint64_t)avail, q->left);
			pend_set(q, p, n);
			q->left -= n;
			if (q->left == 0)
				q->ch = CH_DATA_END;
			return true;
		case CH_DONE:
			return true;
		}
	}
	return true;
}

bool
proxy_body_complete(const struct preq *q)
{
	return (q->framing == BODY_NONE) || (q->framing == BODY_LENGTH && q->left == 0) ||
	       (q->framing == BODY_CHUNKED && q->ch == CH_DONE);
}
