/* FastCGI 1.0 records and the CGI response head (record.h). */
#include <errno.h>
#include <string.h>

#include "record.h"

void
fcgi_header(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t id, uint16_t content_len,
	    uint8_t padding)
{
	out[0] = FCGI_VERSION_1;
	out[1] = type;
	out[2] = (uint8_t)(id >> 8);
	out[3] = (uint8_t)id;
	out[4] = (uint8_t)(content_len >> 8);
	out[5] = (uint8_t)content_len;
	out[6] = padding;
	out[7] = 0;
}

void
fcgi_begin_request(uint8_t out[FCGI_BEGIN_REQUEST_LEN], uint16_t id, bool keep_conn)
{
	fcgi_header(out, FCGI_BEGIN_REQUEST, id, 8, 0);
	out[8] = 0;
	out[9] = FCGI_RESPONDER;
	out[10] = keep_conn ? FCGI_KEEP_CONN : 0;
	memset(out + 11, 0, 5);
}

static size_t
nv_len_size(size_t n)
{
	return n < 128 ? 1 : 4;
}

size_t
fcgi_nv_size(size_t name_len, size_t value_len)
{
	return nv_len_size(name_len) + nv_len_size(value_len) + name_len + value_len;
}

static uint8_t *
nv_put_len(uint8_t *o, size_t n)
{
	if (n < 128) {
		*o++ = (uint8_t)n;
		return o;
	}
	*o++ = (uint8_t)(0x80 | ((n >> 24) & 0x7f));
	*o++ = (uint8_t)(n >> 16);
	*o++ = (uint8_t)(n >> 8);
	*o++ = (uint8_t)n;
	return o;
}

size_t
fcgi_nv_encode(uint8_t *out, const char *name, size_t name_len, const char *value,
	       size_t value_len)
{
	uint8_t *o = nv_put_len(out, name_len);

	o = nv_put_len(o, value_len);
	memcpy(o, name, name_len);
	o += name_len;
	if (value_len)
		memcpy(o, value, value_len);
	o += value_len;
	return (size_t)(o - out);
}

void
fcgi_parser_init(struct fcgi_parser *p, uint16_t id)
{
	*p = (struct fcgi_parser){ .id = id };
}

static ssize_t
bad(struct fcgi_parser *p, const char *why)
{
	p->err = why;
	return -EBADMSG;
}

ssize_t
fcgi_parse(struct fcgi_parser *p, const uint8_t *buf, size_t len, struct fcgi_event *ev)
{
	size_t used = 0;

	ev->type = FCGI_EV_NONE;
	while (used < len) {
		size_t n;

		if (p->ended)
			return bad(p, "data after FCGI_END_REQUEST");
		if (p->content_left == 0 && p->padding_left == 0 && p->hdr_have < FCGI_HEADER_LEN) {
			n = FCGI_HEADER_LEN - p->hdr_have;
			if (n > len - used)
				n = len - used;
			memcpy(p->hdr + p->hdr_have, buf + used, n);
			p->hdr_have += n;
			used += n;
			if (p->hdr_have < FCGI_HEADER_LEN)
				break;
			if (p->hdr[0] != FCGI_VERSION_1)
				return bad(p, "not FastCGI version 1");
			p->type = p->hdr[1];
			if (((uint16_t)p->hdr[2] << 8 | p->hdr[3]) != p->id)
				return bad(p, "a record for another request");
			p->content_left = (size_t)p->hdr[4] << 8 | p->hdr[5];
			p->padding_left = p->hdr[6];
			p->body_have = 0;
			switch (p->type) {
			case FCGI_STDOUT:
			case FCGI_STDERR:
				break; /* an empty one ends its stream: nothing to say */
			case FCGI_END_REQUEST:
				if (p->content_left != 8)
					return bad(p, "FCGI_END_REQUEST of the wrong size");
				break;
			default:
				return bad(p, "a record type a Responder does not send");
			}
		}
		if (p->content_left > 0) {
			if (used == len)
				break;
			n = p->content_left < len - used ? p->content_left : len - used;
			p->content_left -= n;
			if (p->type == FCGI_END_REQUEST) {
				memcpy(p->body + p->body_have, buf + used, n);
				p->body_have += n;
				used += n;
			} else {
				ev->type = p->type == FCGI_STDOUT ? FCGI_EV_STDOUT : FCGI_EV_STDERR;
				ev->data = buf + used;
				ev->len = n;
				used += n;
				if (p->content_left == 0 && p->padding_left == 0)
					p->hdr_have = 0;
				return (ssize_t)used;
			}
		}
		if (p->content_left == 0 && p->padding_left > 0) {
			n = p->padding_left < len - used ? p->padding_left : len - used;
			p->padding_left -= n;
			used += n;
		}
		if (p->content_left == 0 && p->padding_left == 0) {
			p->hdr_have = 0;
			if (p->type == FCGI_END_REQUEST) {
				p->ended = true;
				ev->type = FCGI_EV_END;
				ev->app_status = (uint32_t)p->body[0] << 24 |
						 (uint32_t)p->body[1] << 16 |
						 (uint32_t)p->body[2] << 8 | p->body[3];
				ev->protocol_status = p->body[4];
				return (ssize_t)used;
			}
		}
	}
	return (ssize_t)used;
}

/* ---- the CGI response head ---- */

void
fcgi_head_init(struct fcgi_head *h, char *buf, size_t cap)
{
	*h = (struct fcgi_head){ .buf = buf, .cap = cap };
}

int
fcgi_head_feed(struct fcgi_head *h, const uint8_t *data, size_t len, size_t *used)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char ch = (char)data[i];

		if (h->len >= h->cap) {
			*used = i;
			return -EMSGSIZE;
		}
		h->buf[h->len++] = ch;
		if (ch != '\n')
			continue;
		/* an empty line ("\n" or "\r\n") ends the head */
		if (h->len - h->line_start == 1 ||
		    (h->len - h->line_start == 2 && h->buf[h->line_start] == '\r')) {
			h->end = h->len;
			*used = i + 1;
			return 1;
		}
		h->line_start = h->len;
	}
	*used = len;
	return 0;
}

static bool
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

int
fcgi_head_next(const struct fcgi_head *h, size_t *pos, const char **name, size_t *name_len,
	       const char **value, size_t *value_len)
{
	const char *line = h->buf + *pos, *end, *colon, *v;
	size_t left = h->end - *pos, n;

	if (*pos >= h->end)
		return 0;
	end = memchr(line, '\n', left);
	if (!end)
		return -EBADMSG;
	*pos += (size_t)(end - line) + 1;
	if (end > line && end[-1] == '\r')
		end--;
	if (end == line) /* the empty line */
		return 0;
	colon = memchr(line, ':', (size_t)(end - line));
	if (!colon || colon == line)
		return -EBADMSG;
	for (const char *c = line; c < colon; c++)
		if (!is_tchar(*c))
			return -EBADMSG;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	n = (size_t)(end - v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)v[k] < 0x20 && v[k] != '\t')
			return -EBADMSG;
	*name = line;
	*name_len = (size_t)(colon - line);
	*value = v;
	*value_len = n;
	return 1;
}

int
fcgi_parse_status(const char *value, size_t len)
{
	int st = 0;

	if (len < 3)
		return -EBADMSG;
	for (size_t i = 0; i < 3; i++) {
		if (value[i] < '0' || value[i] > '9')
			return -EBADMSG;
		st = st * 10 + (value[i] - '0');
	}
	if (len > 3 && value[3] != ' ' && value[3] != '\t')
		return -EBADMSG;
	return st >= 100 ? st : -EBADMSG;
}
