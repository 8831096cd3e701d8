/* The outbound body filter's HTML scanner (html_filter.h): text passes
 * through untouched; a tag is held until its '>' (outside a quoted value),
 * then its attributes are offered to the caller and the tag written with
 * the values it changed. Comments, and the raw text of <script> and
 * <style>, pass through without being looked at for tags. A tag longer
 * than HF_MAX_TAG passes as it is. Everything the scanner does not change
 * comes out byte for byte as it went in. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html_filter.h"

/* ASCII classes, inline (the scanner looks at every byte of a tag) */
static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static inline bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline char
to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

enum {
	ST_TEXT,
	ST_TAG,     /* holding a tag */
	ST_PASS,    /* the rest of a tag that is not looked at */
	ST_COMMENT, /* <!-- ... --> */
	ST_RAW,     /* the content of <script> or <style> */
};

/* IIS's tags and their URL attributes. */
#define UA(t, a, f) { t, a, sizeof(t) - 1, sizeof(a) - 1, f }
static const struct {
	const char *tag, *attr;
	size_t tag_len, attr_len;
	unsigned flag;
} url_attrs[] = {
	UA("a", "href", HF_A),		 UA("area", "href", HF_AREA),
	UA("base", "href", HF_BASE),	 UA("form", "action", HF_FORM),
	UA("frame", "src", HF_FRAME),	 UA("frame", "longdesc", HF_FRAME),
	UA("head", "profile", HF_HEAD),	 UA("iframe", "src", HF_IFRAME),
	UA("iframe", "longdesc", HF_IFRAME), UA("img", "src", HF_IMG),
	UA("img", "longdesc", HF_IMG),	 UA("img", "usemap", HF_IMG),
	UA("input", "src", HF_INPUT),	 UA("input", "usemap", HF_INPUT),
	UA("link", "href", HF_LINK),	 UA("script", "src", HF_SCRIPT),
};

static bool
eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

unsigned
hf_url_attr(const char *tag, size_t tag_len, const char *attr, size_t attr_len)
{
	for (size_t i = 0; i < sizeof(url_attrs) / sizeof(url_attrs[0]); i++)
		if (url_attrs[i].tag_len == tag_len && url_attrs[i].attr_len == attr_len &&
		    to_lower(tag[0]) == url_attrs[i].tag[0] &&
		    strncasecmp(tag, url_attrs[i].tag, tag_len) == 0 &&
		    strncasecmp(attr, url_attrs[i].attr, attr_len) == 0)
			return url_attrs[i].flag;
	return 0;
}

void
hf_init(struct hf *h, hf_rewrite_fn fn, void *userdata)
{
	h->state = ST_TEXT;
	h->quote = h->prev = 0;
	h->match = h->tag_len = 0;
	h->raw_end = NULL;
	h->fn = fn;
	h->userdata = userdata;
}

/* Bounded output of one tag. */
struct tagout {
	char *out;
	size_t o;
	bool over;
};

static void
put(struct tagout *t, const char *s, size_t n)
{
	if (t->over || t->o + n > HF_MAX_OUT) {
		t->over = true;
		return;
	}
	memcpy(t->out + t->o, s, n);
	t->o += n;
}

static bool
needs_quotes(const char *v)
{
	return !*v || strpbrk(v, " \t\r\n\f\"'=<>`");
}

/* Write a new value where the old one (unquoted when quote is 0) was. */
static void
put_value(struct tagout *t, char quote, const char *v)
{
	bool wrap = !quote && needs_quotes(v);

	if (wrap) {
		quote = '"';
		put(t, "\"", 1);
	}
	for (const char *p = v; *p; p++) {
		if (quote && *p == quote)
			put(t, quote == '"' ? "&quot;" : "&#39;", quote == '"' ? 6 : 5);
		else
			put(t, p, 1);
	}
	if (wrap)
		put(t, "\"", 1);
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

/* Offer the attributes of the start tag t (after its name, up to end, the
 * final '>') and write it with the values changed. */
static void
tag_attrs(struct hf *h, const char *name, size_t name_len, const char *p, const char *end,
	  struct tagout *t)
{
	const char *copied = h->tag;

	while (p < end) {
		const char *an, *v, *ve;
		char quote = 0, *nv = NULL;
		size_t alen;

		while (p < end && (is_space(*p) || *p == '/'))
			p++;
		an = p;
		while (p < end && !is_space(*p) && *p != '=' && *p != '/')
			p++;
		if (p == an) { /* a stray '=' */
			p++;
			continue;
		}
		alen = (size_t)(p - an);
		v = skip_space(p, end);
		if (v >= end || *v != '=')
			continue; /* no value */
		v = skip_space(v + 1, end);
		if (v < end && (*v == '"' || *v == '\'')) {
			quote = *v++;
			ve = memchr(v, quote, (size_t)(end - v));
			if (!ve)
				ve = end;
			p = ve < end ? ve + 1 : end;
		} else {
			for (ve = v; ve < end && !is_space(*ve); ve++)
				;
			p = ve;
		}
		if ((size_t)(ve - v) > HF_MAX_VALUE ||
		    h->fn(h->userdata, name, name_len, an, alen, v, (size_t)(ve - v), &nv) <= 0)
			continue;
		put(t, copied, (size_t)(v - copied));
		put_value(t, quote, nv);
		copied = ve;
		free(nv);
	}
	put(t, copied, (size_t)(h->tag + h->tag_len - copied));
}

/* The tag held is complete: write it (rewritten) to out, which has room
 * for HF_MAX_OUT bytes. Returns the bytes written. */
static size_t
tag_done(struct hf *h, char *out)
{
	const char *end = h->tag + h->tag_len - 1, *name = h->tag + 1, *p = name;
	struct tagout t = { .out = out };
	size_t name_len;

	h->state = ST_TEXT;
	if (!is_alpha(*name)) { /* an end tag, <!DOCTYPE>, <?xml?> */
		memcpy(out, h->tag, h->tag_len);
		t.o = h->tag_len;
		h->tag_len = 0;
		return t.o;
	}
	while (p < end && !is_space(*p) && *p != '/')
		p++;
	name_len = (size_t)(p - name);
	if ((eq(name, name_len, "script") || eq(name, name_len, "style")) && end[-1] != '/') {
		h->state = ST_RAW;
		h->raw_end = eq(name, name_len, "script") ? "</script" : "</style";
		h->match = 0;
	}
	tag_attrs(h, name, name_len, p, end, &t);
	if (t.over) { /* too long once rewritten: as it was */
		memcpy(out, h->tag, h->tag_len);
		t.o = h->tag_len;
	}
	h->tag_len = 0;
	return t.o;
}

/* The last byte of the tag held that is not white space. */
static char
last_sig(const struct hf *h)
{
	for (size_t i = h->tag_len; i > 0; i--)
		if (!is_space(h->tag[i - 1]))
			return h->tag[i - 1];
	return 0;
}

/* ST_TAG: take bytes into the tag held until its '>' outside a quoted
 * value (not taken), the end of in, or a full buffer. */
static void
tag_take(struct hf *h, const char *in, size_t len, size_t *i)
{
	size_t k = *i;

	while (k < len && h->tag_len < HF_MAX_TAG) {
		char c = in[k];

		if (h->quote) { /* to the closing quote at once */
			size_t n = len - k, room = HF_MAX_TAG - h->tag_len;
			const char *q = memchr(in + k, h->quote, n < room ? n : room);

			n = q ? (size_t)(q - (in + k)) + 1 : (n < room ? n : room);
			memcpy(h->tag + h->tag_len, in + k, n);
			h->tag_len += n;
			k += n;
			if (q)
				h->quote = 0;
			continue;
		}
		if (c == '>')
			break;
		if ((c == '"' || c == '\'') && last_sig(h) == '=')
			h->quote = c;
		h->tag[h->tag_len++] = c;
		k++;
		if (h->tag_len == 4 && memcmp(h->tag, "<!--", 4) == 0) {
			h->state = ST_COMMENT; /* the 4 bytes go out first */
			h->match = 0;
			break;
		}
	}
	*i = k;
}

/* One byte passed through in ST_PASS, ST_COMMENT or ST_RAW: the state
 * after it. */
static void
pass_byte(struct hf *h, char c)
{
	switch (h->state) {
	case ST_PASS:
		if (h->quote) {
			if (c == h->quote)
				h->quote = 0;
		} else if ((c == '"' || c == '\'') && h->prev == '=') {
			h->quote = c;
		} else if (c == '>') {
			h->state = ST_TEXT;
		}
		if (!is_space(c))
			h->prev = c;
		break;
	case ST_COMMENT:
		if (c == '-')
			h->match = h->match < 2 ? h->match + 1 : 2;
		else if (c == '>' && h->match == 2)
			h->state = ST_TEXT;
		else
			h->match = 0;
		break;
	default: /* ST_RAW */
		if (to_lower(c) == h->raw_end[h->match])
			h->match++;
		else
			h->match = c == '<';
		if (!h->raw_end[h->match]) { /* the end tag: its rest passes */
			h->state = ST_PASS;
			h->quote = h->prev = 0;
		}
		break;
	}
}

/* ST_TEXT: copy up to the next '<'. Returns false when out is full. */
static bool
text(struct hf *h, const char *in, size_t len, size_t *i, char *out, size_t room, size_t *o)
{
	const char *lt = memchr(in + *i, '<', len - *i);
	size_t stop = lt ? (size_t)(lt - in) : len, n = stop - *i;

	if (n > room - *o)
		n = room - *o;
	memcpy(out + *o, in + *i, n);
	*o += n;
	*i += n;
	if (*i < stop)
		return false;
	if (lt) {
		h->tag[0] = '<';
		h->tag_len = 1;
		h->quote = 0;
		h->prev = '<';
		h->state = ST_TAG;
		(*i)++;
	}
	return true;
}

size_t
hf_feed(struct hf *h, const char *in, size_t len, bool end, char *out, size_t room,
	size_t *ret_out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		char c = in[i];

		if (h->state == ST_TEXT) {
			if (!text(h, in, len, &i, out, room, &o))
				break;
			continue;
		}
		if (h->state == ST_TAG) {
			if (h->tag_len == 1 && !is_alpha(c) && !(c && strchr("/!?", c))) {
				if (o == room) /* "a < b": not a tag, text again */
					break;
				out[o++] = '<';
				h->tag_len = 0;
				h->state = ST_TEXT;
				continue;
			}
			if (h->tag_len == HF_MAX_TAG) {
				h->state = ST_PASS; /* too long: as it is */
				h->prev = last_sig(h);
			} else if (!h->quote && c == '>') {
				if (room - o < HF_MAX_OUT)
					break;
				h->tag[h->tag_len++] = c;
				i++;
				o += tag_done(h, out + o);
				continue;
			} else {
				tag_take(h, in, len, &i);
				continue;
			}
		}
		/* ST_PASS, ST_COMMENT, ST_RAW: what was held goes out first */
		if (h->tag_len) {
			if (room - o < h->tag_len)
				break;
			memcpy(out + o, h->tag, h->tag_len);
			o += h->tag_len;
			h->tag_len = 0;
		}
		if (o == room)
			break;
		out[o++] = c;
		i++;
		pass_byte(h, c);
	}
	if (end && i == len && h->tag_len && room - o >= h->tag_len) {
		memcpy(out + o, h->tag, h->tag_len);
		o += h->tag_len;
		h->tag_len = 0;
		h->state = ST_TEXT;
	}
	*ret_out = o;
	return i;
}
