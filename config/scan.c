/* Where the entries of the two sections with one per site or pool are in
 * applicationHost.config's text, without parsing it: each <site> of
 * configuration/system.applicationHost/sites and <add> of
 * .../applicationPools, by byte range, hash and line, and a hash of the
 * rest (the skeleton: every other element and attribute, the
 * *Defaults elements, the <location>s). A reload whose skeleton is the
 * same reuses what an earlier generation made of the entries whose text
 * and line did not change (reuse.c).
 *
 * A small tokenizer, not an XML parser: it only has to tell where an
 * element begins and ends. What it does not expect (a document type
 * declaration, a <clear/> or <remove> in either collection, an unknown
 * element there, the section twice, tags that do not match, nesting
 * deeper than it follows) leaves the scan not ok, and the reload loads
 * the whole file. */
#include <stdlib.h>
#include <string.h>

#include "scan.h"

#define SCAN_MAX_DEPTH 256

struct tag {
	const char *name;
	size_t len;
};

struct scanner {
	const char *buf, *end;
	struct cfg_scan *out;
	struct tag stack[SCAN_MAX_DEPTH];
	size_t depth;
	int coll;             /* the third-level element's: 0, or CFG_SCAN_SITES + 1, ... */
	const char *item;     /* the entry being scanned, or NULL */
	size_t item_nest;     /* its elements of its own name open, itself included */
	const char *line_pos; /* lines counted up to here */
	int line;
	bool seen[CFG_SCAN__COLLS];
};

static const char *const coll_names[CFG_SCAN__COLLS] = { "sites", "applicationPools" };
static const char *const item_names[CFG_SCAN__COLLS] = { "site", "add" };
/* The only other elements a collection may have: what reuse can splice in
 * place without knowing what they do to the entries. */
static const char *const other_names[CFG_SCAN__COLLS][4] = {
	{ "siteDefaults", "applicationDefaults", "virtualDirectoryDefaults", NULL },
	{ "applicationPoolDefaults", NULL },
};

/* The skeleton's hash, fed in pieces (the entries' is cfg_hash_bytes()). */
static void
skel_feed(struct scanner *s, const char *p, size_t n)
{
	uint64_t h = s->out->skeleton;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= UINT64_C(0x100000001b3);
	}
	s->out->skeleton = h;
}

static int
line_at(struct scanner *s, const char *p)
{
	const char *q = s->line_pos;

	while ((q = memchr(q, '\n', (size_t)(p - q)))) {
		s->line++;
		q++;
	}
	s->line_pos = p;
	return s->line;
}

static bool
tag_is(const struct tag *t, const char *name)
{
	return t->len == strlen(name) && memcmp(t->name, name, t->len) == 0;
}

/* Which collection the element at the top of the stack is (0: none):
 * worked out when a third-level element opens, kept in s->coll. */
static int
coll_of_stack(const struct scanner *s)
{
	if (s->depth != 3 || !tag_is(&s->stack[0], "configuration") ||
	    !tag_is(&s->stack[1], "system.applicationHost"))
		return 0;
	for (int c = 0; c < CFG_SCAN__COLLS; c++)
		if (tag_is(&s->stack[2], coll_names[c]))
			return c + 1;
	return 0;
}

static int
coll_at_top(const struct scanner *s)
{
	return s->depth == 3 ? s->coll : 0;
}

static const char *
find(const char *p, const char *end, const char *what)
{
	size_t n = strlen(what);

	for (; p && p + n <= end; p++) {
		p = memchr(p, what[0], (size_t)(end - p));
		if (!p || p + n > end)
			return NULL;
		if (memcmp(p, what, n) == 0)
			return p + n;
	}
	return NULL;
}

static int
push_item(struct scanner *s, int coll, const char *start, const char *end)
{
	struct cfg_scan_coll *c = &s->out->colls[coll];

	if (c->n_items == c->n_alloc) {
		size_t n = c->n_alloc ? c->n_alloc * 2 : 256;
		struct cfg_scan_item *v = realloc(c->items, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->items = v;
		c->n_alloc = n;
	}
	c->items[c->n_items++] = (struct cfg_scan_item){
		.off = (size_t)(start - s->buf),
		.len = (size_t)(end - start),
		.line = line_at(s, start),
		.hash = cfg_hash_bytes(start, (size_t)(end - start)),
	};
	return 0;
}

/* Another element of a collection: one it may have, where it is. */
static bool
other_child(struct scanner *s, int coll, const struct tag *t)
{
	struct cfg_scan_coll *c = &s->out->colls[coll];

	for (size_t i = 0; other_names[coll][i]; i++)
		if (tag_is(t, other_names[coll][i]) && c->n_others < CFG_SCAN_MAX_OTHERS) {
			c->others_before[c->n_others++] = c->n_items;
			return true;
		}
	return false;
}

/* The length of the name at p (the buffer is not NUL-terminated). */
static size_t
name_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n' && *q != '/' &&
	       *q != '>')
		q++;
	return (size_t)(q - p);
}

/* A start tag at p ('<' and a name); end is past its '>'. */
static int
start_tag(struct scanner *s, const char *p, const char *end, bool empty)
{
	struct tag t = { p + 1, name_len(p + 1, end) };
	int coll = coll_at_top(s);

	if (coll && tag_is(&t, item_names[coll - 1])) {
		if (empty)
			return push_item(s, coll - 1, p, end);
		s->item = p;
		s->item_nest = 1;
	} else {
		if (coll && !other_child(s, coll - 1, &t))
			return -EINVAL;
		skel_feed(s, p, (size_t)(end - p));
	}
	if (empty)
		return 0;
	if (s->depth == SCAN_MAX_DEPTH)
		return -EINVAL;
	s->stack[s->depth++] = t;
	if (s->depth == 3)
		s->coll = coll_of_stack(s);
	if ((coll = coll_at_top(s))) {
		if (s->seen[coll - 1])
			return -EINVAL; /* the section twice: the parser says what */
		s->seen[coll - 1] = true;
	}
	return 0;
}

static int
end_tag(struct scanner *s, const char *p, const char *end)
{
	struct tag t = { p + 2, name_len(p + 2, end) };

	if (s->depth == 0 || t.len != s->stack[s->depth - 1].len ||
	    memcmp(t.name, s->stack[s->depth - 1].name, t.len) != 0)
		return -EINVAL;
	s->depth--;
	skel_feed(s, p, (size_t)(end - p));
	return 0;
}

/* Past the '>' of the tag at p, quoted values skipped; NULL if none. */
static const char *
tag_end(const char *p, const char *end)
{
	for (;;) {
		const char *gt = memchr(p, '>', (size_t)(end - p));
		const char *dq, *sq, *q;

		if (!gt)
			return NULL;
		dq = memchr(p, '"', (size_t)(gt - p));
		sq = memchr(p, '\'', (size_t)((dq ? dq : gt) - p));
		q = sq ? sq : dq;
		if (!q)
			return gt + 1;
		p = memchr(q + 1, *q, (size_t)(end - q - 1));
		if (!p)
			return NULL;
		p++;
	}
}

/* A tag inside an entry, at lt ('<' and not markup). Only markup holds a
 * '<' there (libxml2 refuses one in an attribute value, and an entry is
 * reused only when its text is that of an entry of a file that loaded),
 * so only the elements named as the entry are followed, to find where it
 * ends: the others' tags are passed over without finding their ends
 * (looking for the '>' past each quoted value was most of the scan).
 * Where to go on; NULL for a tag that does not end. */
static const char *
item_tag(struct scanner *s, const char *lt, int *r)
{
	const struct tag *own = &s->stack[s->depth - 1];
	bool closing = lt[1] == '/';
	const char *name = lt + 1 + closing, *q;
	struct tag t = { name, name_len(name, s->end) };

	*r = 0;
	if (t.len != own->len || memcmp(t.name, own->name, t.len) != 0)
		return lt + 1;
	q = closing ? memchr(lt, '>', (size_t)(s->end - lt)) : tag_end(lt + 1, s->end);
	if (!q)
		return NULL;
	if (!closing) {
		s->item_nest += q[-2] != '/';
		return q;
	}
	q++;
	if (--s->item_nest == 0) {
		s->depth--;
		*r = push_item(s, coll_at_top(s) - 1, s->item, q);
		s->item = NULL;
	}
	return q;
}

/* Text between tags: part of the skeleton, but for the blanks between a
 * collection's elements (an entry added or removed brings its own). */
static void
text(struct scanner *s, const char *p, const char *end)
{
	if (s->item || p == end)
		return;
	if (coll_at_top(s)) {
		const char *q = p;

		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		if (q == end)
			return;
	}
	skel_feed(s, p, (size_t)(end - p));
}

static int
scan(struct scanner *s)
{
	const char *p = s->buf, *end = s->end;

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *q;
		int r = 0;

		text(s, p, lt ? lt : end);
		if (!lt)
			break;
		if (end - lt < 2)
			return -EINVAL;
		if (end - lt >= 4 && memcmp(lt, "<!--", 4) == 0)
			q = find(lt + 4, end, "-->");
		else if (end - lt >= 9 && memcmp(lt, "<![CDATA[", 9) == 0)
			q = find(lt + 9, end, "]]>");
		else if (lt[1] == '!')
			return -EINVAL; /* a document type declaration */
		else if (lt[1] == '?')
			q = find(lt + 2, end, "?>");
		else if (s->item) {
			q = item_tag(s, lt, &r);
			if (!q || r < 0)
				return q ? r : -EINVAL;
			p = q;
			continue;
		} else
			q = tag_end(lt + 1, end);
		if (!q)
			return -EINVAL;
		if (lt[1] == '!' || lt[1] == '?') {
			if (!s->item)
				skel_feed(s, lt, (size_t)(q - lt));
			p = q;
			continue;
		}
		if (lt[1] == '/')
			r = end_tag(s, lt, q);
		else
			r = start_tag(s, lt, q, q[-2] == '/');
		if (r < 0)
			return r;
		p = q;
	}
	return s->depth == 0 && !s->item ? 0 : -EINVAL;
}

int
cfg_scan_text(const char *buf, size_t len, struct cfg_scan *ret)
{
	struct scanner s = {
		.buf = buf, .end = buf + len, .out = ret, .line_pos = buf, .line = 1,
	};
	int r;

	*ret = (struct cfg_scan){ .skeleton = UINT64_C(0xcbf29ce484222325) };
	r = scan(&s);
	if (r == -ENOMEM) {
		cfg_scan_done(ret);
		return r;
	}
	ret->ok = r == 0;
	return 0;
}

void
cfg_scan_done(struct cfg_scan *sc)
{
	for (int c = 0; c < CFG_SCAN__COLLS; c++)
		free(sc->colls[c].items);
	*sc = (struct cfg_scan){ 0 };
}
