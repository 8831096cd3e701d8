/* The schema's packed form: cfg_schema_pack() and cfg_schema_unpack(), how a
 * generation carries the parsed schema to a worker. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* What cfg_schema_pack() writes, so a worker rebuilds the schema without
 * libxml2 (parsing the XML took most of its configuration time). Numbers are
 * LEB128 varints (signed ones zigzag-encoded); a string is varint(length + 1)
 * then its bytes and a NUL (0 for NULL), so unpacked strings point into one
 * copy of the buffer. Counts and lists follow the structures of internal.h:
 *
 *   "wsc1" n_sources source... n_sections section...
 *   section: name allow_definition override_default source_index
 *            flags(1 not_implemented, 2 empty_restricts, 4 ignored) elem
 *   elem:    flags(1 allow_unknown_attrs, 2 defaults_inherited) defaults_for
 *            [unless defaults_inherited: n_attrs attr... n_children
 *            (name elem)... has_collection [coll]]
 *   coll:    add remove clear default_element merge_append elem
 *   attr:    name type_index flags(1 required, 2 key, 4 non_empty, 8 has_min,
 *            16 has_max) path umin umax imin imax default_text default_value
 *            n_enums (name value)...
 *
 * A section root's name is what follows the last '/' of the section's, a
 * collection item's its add_name; defaults_inherited elements are resolved
 * again as after parsing (cfg_schema_resolve_defaults()). */
#define SCHEMA_PACK_MAGIC "wsc1"
#define SCHEMA_PACK_DEPTH 32

enum {
	PACK_E_UNKNOWN_ATTRS = 1 << 0,
	PACK_E_INHERITED = 1 << 1,
	PACK_E__ALL = (1 << 2) - 1,
	PACK_A_REQUIRED = 1 << 0,
	PACK_A_KEY = 1 << 1,
	PACK_A_NON_EMPTY = 1 << 2,
	PACK_A_HAS_MIN = 1 << 3,
	PACK_A_HAS_MAX = 1 << 4,
	PACK_A__ALL = (1 << 5) - 1,
	PACK_S_NOT_IMPLEMENTED = 1 << 0,
	PACK_S_EMPTY_RESTRICTS = 1 << 1,
	PACK_S_IGNORED = 1 << 2,
	PACK_S__ALL = (1 << 3) - 1,
};

struct pack_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
put_bytes(struct pack_buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
put_u(struct pack_buf *b, uint64_t v)
{
	uint8_t out[10];
	size_t n = 0;

	do {
		out[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			out[n] |= 0x80;
		n++;
	} while (v);
	put_bytes(b, out, n);
}

static void
put_i(struct pack_buf *b, int64_t v)
{
	put_u(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void
put_str(struct pack_buf *b, const char *s)
{
	size_t n;

	if (!s) {
		put_u(b, 0);
		return;
	}
	n = strlen(s);
	put_u(b, n + 1);
	put_bytes(b, s, n + 1);
}

static size_t
type_index(const struct schema_attr *a)
{
	for (size_t i = 0; i < cfg_n_types; i++)
		if (a->type_name == cfg_types[i].name ||
		    (a->type_name && streq(a->type_name, cfg_types[i].name)))
			return i;
	return 0;
}

static void
pack_attr(struct pack_buf *b, const struct schema_attr *a)
{
	put_str(b, a->name);
	put_u(b, type_index(a));
	put_u(b, (a->required ? PACK_A_REQUIRED : 0) | (a->key ? PACK_A_KEY : 0) |
			 (a->non_empty ? PACK_A_NON_EMPTY : 0) | (a->has_min ? PACK_A_HAS_MIN : 0) |
			 (a->has_max ? PACK_A_HAS_MAX : 0));
	put_u(b, a->path);
	put_u(b, a->umin);
	put_u(b, a->umax);
	put_i(b, a->imin);
	put_i(b, a->imax);
	put_str(b, a->def.text);
	if (a->type == WASP_ATTR_BOOL)
		put_u(b, a->def.b);
	else if (a->type == WASP_ATTR_INT)
		put_i(b, a->def.i);
	else
		put_u(b, a->type == WASP_ATTR_STRING ? 0 : a->def.u);
	put_u(b, a->n_enums);
	for (size_t i = 0; i < a->n_enums; i++) {
		put_str(b, a->enums[i].name);
		put_u(b, a->enums[i].value);
	}
}

static void
pack_elem(struct pack_buf *b, const struct schema_elem *e)
{
	put_u(b, (e->allow_unknown_attrs ? PACK_E_UNKNOWN_ATTRS : 0) |
			 (e->defaults_inherited ? PACK_E_INHERITED : 0));
	put_str(b, e->defaults_for);
	if (e->defaults_inherited)
		return;
	put_u(b, e->n_attrs);
	for (size_t i = 0; i < e->n_attrs; i++)
		pack_attr(b, &e->attrs[i]);
	put_u(b, e->n_children);
	for (size_t i = 0; i < e->n_children; i++) {
		put_str(b, e->children[i]->name);
		pack_elem(b, e->children[i]);
	}
	put_u(b, e->coll != NULL);
	if (e->coll) {
		put_str(b, e->coll->add_name);
		put_str(b, e->coll->remove_name);
		put_str(b, e->coll->clear_name);
		put_str(b, e->coll->default_element);
		put_u(b, e->coll->merge_append);
		pack_elem(b, e->coll->item);
	}
}

int
cfg_schema_pack(struct cfg_schema *s, const char **ret_buf, size_t *ret_len)
{
	struct pack_buf b = { 0 };
	const char **sources;
	size_t n_sources = 0;
	char *copy;

	if (s->packed) {
		*ret_buf = s->packed;
		*ret_len = s->packed_len;
		return 0;
	}
	/* The files the sections come from, in order (a section's source
	 * is one of them, the same pointer for one file). */
	sources = calloc(s->n_sections + 1, sizeof(*sources));
	if (!sources)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_sections; i++)
		if (n_sources == 0 || !streq(sources[n_sources - 1], s->sections[i]->source))
			sources[n_sources++] = s->sections[i]->source;
	put_bytes(&b, SCHEMA_PACK_MAGIC, strlen(SCHEMA_PACK_MAGIC));
	put_u(&b, n_sources);
	for (size_t i = 0; i < n_sources; i++)
		put_str(&b, sources[i]);
	put_u(&b, s->n_sections);
	for (size_t i = 0, src = 0; i < s->n_sections; i++) {
		const struct schema_section *sec = s->sections[i];

		while (!streq(sources[src], sec->source))
			src++;
		put_str(&b, sec->name);
		put_u(&b, (uint64_t)sec->allow_definition);
		put_u(&b, (uint64_t)sec->override_default);
		put_u(&b, src);
		put_u(&b, (sec->not_implemented ? PACK_S_NOT_IMPLEMENTED : 0) |
				  (sec->empty_restricts ? PACK_S_EMPTY_RESTRICTS : 0) |
				  (sec->ignored ? PACK_S_IGNORED : 0));
		pack_elem(&b, sec->root);
	}
	free(sources);
	copy = b.oom ? NULL : wasp_arena_alloc(s->arena, b.len ? b.len : 1);
	if (copy)
		memcpy(copy, b.p, b.len);
	free(b.p);
	if (!copy)
		return -ENOMEM;
	s->packed = copy;
	s->packed_len = b.len;
	*ret_buf = copy;
	*ret_len = b.len;
	return 0;
}

struct unpack_ctx {
	struct wasp_arena *arena;
	const char *p, *end;
	bool bad;
};

static uint64_t
get_u(struct unpack_ctx *u)
{
	uint64_t v = 0;

	for (unsigned shift = 0; !u->bad; shift += 7) {
		uint8_t c;

		if (u->p >= u->end || shift > 63) {
			u->bad = true;
			break;
		}
		c = (uint8_t)*u->p++;
		if (shift == 63 && c > 1) {
			u->bad = true;
			break;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	return 0;
}

static int64_t
get_i(struct unpack_ctx *u)
{
	uint64_t v = get_u(u);

	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A value at most max, else the input is bad. */
static uint64_t
get_max(struct unpack_ctx *u, uint64_t max)
{
	uint64_t v = get_u(u);

	if (v > max)
		u->bad = true;
	return u->bad ? 0 : v;
}

/* A count of things at least one byte each: no more than what is left. */
static size_t
get_count(struct unpack_ctx *u)
{
	return (size_t)get_max(u, (uint64_t)(u->end - u->p));
}

static const char *
get_str(struct unpack_ctx *u)
{
	uint64_t n = get_u(u);
	const char *s;

	if (u->bad || n == 0)
		return NULL;
	if (n > (uint64_t)(u->end - u->p) || u->p[n - 1] != '\0') {
		u->bad = true;
		return NULL;
	}
	s = u->p;
	u->p += n;
	return s;
}

/* A string that must be there. */
static const char *
get_name(struct unpack_ctx *u)
{
	const char *s = get_str(u);

	if (!s)
		u->bad = true;
	return s;
}

static void *
unpack_array(struct unpack_ctx *u, size_t n, size_t size)
{
	void *v;

	if (u->bad)
		return NULL;
	v = wasp_arena_zalloc(u->arena, (n ? n : 1) * size);
	return v;
}

static int
unpack_attr(struct unpack_ctx *u, struct schema_attr *a)
{
	size_t t;
	uint64_t flags;

	a->name = get_name(u);
	t = (size_t)get_max(u, cfg_n_types - 1);
	a->type = cfg_types[t].type;
	a->type_name = cfg_types[t].name;
	flags = get_max(u, PACK_A__ALL);
	a->required = flags & PACK_A_REQUIRED;
	a->key = flags & PACK_A_KEY;
	a->non_empty = flags & PACK_A_NON_EMPTY;
	a->has_min = flags & PACK_A_HAS_MIN;
	a->has_max = flags & PACK_A_HAS_MAX;
	a->path = (enum cfg_path_kind)get_max(u, CFG_PATH_PHYSICAL);
	a->umin = get_u(u);
	a->umax = get_u(u);
	a->imin = get_i(u);
	a->imax = get_i(u);
	a->def.type = a->type;
	a->def.text = get_name(u);
	if (a->type == WASP_ATTR_BOOL)
		a->def.b = get_max(u, 1);
	else if (a->type == WASP_ATTR_INT)
		a->def.i = get_i(u);
	else
		a->def.u = get_u(u);
	a->n_enums = get_count(u);
	if ((a->type == WASP_ATTR_ENUM || a->type == WASP_ATTR_FLAGS) && a->n_enums == 0)
		u->bad = true;
	if (a->n_enums) {
		a->enums = unpack_array(u, a->n_enums, sizeof(*a->enums));
		if (!a->enums)
			return u->bad ? -EBADMSG : -ENOMEM;
		for (size_t i = 0; i < a->n_enums && !u->bad; i++) {
			a->enums[i].name = get_name(u);
			a->enums[i].value = get_u(u);
		}
	}
	return u->bad ? -EBADMSG : 0;
}

static int
unpack_elem(struct unpack_ctx *u, struct schema_elem *e, int depth)
{
	uint64_t flags;
	int r;

	if (depth > SCHEMA_PACK_DEPTH)
		return -EBADMSG;
	flags = get_max(u, PACK_E__ALL);
	e->allow_unknown_attrs = flags & PACK_E_UNKNOWN_ATTRS;
	e->defaults_for = get_str(u);
	if (flags & PACK_E_INHERITED) {
		/* cfg_schema_resolve_defaults() gives it the item's attributes. */
		return u->bad || !e->defaults_for ? -EBADMSG : 0;
	}
	e->n_attrs = get_count(u);
	e->attrs = unpack_array(u, e->n_attrs, sizeof(*e->attrs));
	if (!e->attrs)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < e->n_attrs; i++)
		if ((r = unpack_attr(u, &e->attrs[i])) < 0)
			return r;
	e->n_children = get_count(u);
	e->children = unpack_array(u, e->n_children, sizeof(*e->children));
	if (!e->children)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < e->n_children; i++) {
		struct schema_elem *k = wasp_arena_zalloc(u->arena, sizeof(*k));

		if (!k)
			return -ENOMEM;
		k->name = get_name(u);
		if ((r = unpack_elem(u, k, depth + 1)) < 0)
			return r;
		e->children[i] = k;
	}
	if (get_max(u, 1)) {
		struct schema_coll *c = wasp_arena_zalloc(u->arena, sizeof(*c));

		if (!c || !(c->item = wasp_arena_zalloc(u->arena, sizeof(*c->item))))
			return -ENOMEM;
		c->add_name = get_name(u);
		c->remove_name = get_str(u);
		c->clear_name = get_str(u);
		c->default_element = get_str(u);
		c->merge_append = get_max(u, 1);
		c->item->name = c->add_name;
		if ((r = unpack_elem(u, c->item, depth + 1)) < 0)
			return r;
		e->coll = c;
	}
	return u->bad ? -EBADMSG : 0;
}

static int
unpack_sections(struct unpack_ctx *u, struct cfg_schema *s, struct wasp_diag_list *diags)
{
	const char **sources;
	size_t n_sources;
	int r;

	if ((size_t)(u->end - u->p) < strlen(SCHEMA_PACK_MAGIC) ||
	    memcmp(u->p, SCHEMA_PACK_MAGIC, strlen(SCHEMA_PACK_MAGIC)) != 0)
		return -EBADMSG;
	u->p += strlen(SCHEMA_PACK_MAGIC);
	n_sources = get_count(u);
	sources = unpack_array(u, n_sources, sizeof(*sources));
	if (!sources)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < n_sources; i++)
		sources[i] = get_name(u);
	s->n_sections = get_count(u);
	s->sections = unpack_array(u, s->n_sections, sizeof(*s->sections));
	if (!s->sections)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < s->n_sections; i++) {
		struct schema_section *sec = wasp_arena_zalloc(u->arena, sizeof(*sec));
		const char *slash;

		if (!sec || !(sec->root = wasp_arena_zalloc(u->arena, sizeof(*sec->root))))
			return -ENOMEM;
		sec->name = get_name(u);
		sec->allow_definition = (enum cfg_allow_def)get_max(u, CFG_ALLOW__COUNT - 1);
		sec->override_default = (enum cfg_override)get_max(u, CFG_OVERRIDE__COUNT - 1);
		sec->source = sources[get_max(u, n_sources ? n_sources - 1 : 0)];
		{
			uint64_t flags = get_max(u, PACK_S__ALL);

			sec->not_implemented = flags & PACK_S_NOT_IMPLEMENTED;
			sec->empty_restricts = flags & PACK_S_EMPTY_RESTRICTS;
			sec->ignored = flags & PACK_S_IGNORED;
		}
		if (u->bad || !sec->source || !*sec->name)
			return -EBADMSG;
		slash = strrchr(sec->name, '/'); /* none: a top-level section (webFarms) */
		sec->root->name = slash ? slash + 1 : sec->name;
		if ((r = unpack_elem(u, sec->root, 0)) < 0)
			return r;
		r = cfg_schema_resolve_defaults(u->arena, sec->source, sec->root, diags);
		if (r < 0)
			return r == -EINVAL ? -EBADMSG : r;
		s->sections[i] = sec;
	}
	return u->p == u->end ? 0 : -EBADMSG;
}

int
cfg_schema_unpack(const char *buf, size_t len, struct wasp_arena *arena, struct cfg_schema **ret,
		  struct wasp_diag_list *diags)
{
	struct cfg_schema *s = wasp_arena_zalloc(arena, sizeof(*s));
	char *copy = wasp_arena_alloc(arena, len ? len : 1);
	struct unpack_ctx u = { .arena = arena };
	int r;

	if (!s || !copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	u.p = copy;
	u.end = copy + len;
	s->arena = arena;
	r = unpack_sections(&u, s, diags);
	if (r == -EBADMSG)
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, "<serialized>", 0, NULL,
				    "serialized configuration: malformed schema");
	if (r < 0)
		return r;
	s->packed = copy;
	s->packed_len = len;
	*ret = s;
	return 0;
}
