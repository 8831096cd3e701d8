/* A merged element tree frozen into the generation's arena: what is equal
 * is stored once (interned). */
#include <stdint.h>
#include <string.h>

#include "merge.h"

/* Frozen parts are shared where they are equal: every element left at its
 * defaults (the schema's, or a *Defaults element's: fill_from copies those
 * attributes as they are) shares one attribute array, and an element
 * written nowhere with such attributes and children is one element however
 * many sites or pools have it. Attributes compare by their pointers (name,
 * text, file), which is what makes defaults equal and what keeps two
 * values written in different places apart. Nothing changes a frozen
 * element, so sharing is invisible but for the memory: with 1,000 pools
 * and sites, most of a pool's 60 attributes are defaults. */
enum fz_kind { FZ_ATTRS, FZ_PTRS, FZ_ELEM };

struct fz_slot {
	uint64_t hash;
	const void *p; /* NULL: empty slot */
	size_t n;      /* FZ_ATTRS, FZ_PTRS: entries */
	enum fz_kind kind;
};

struct freezer {
	struct wasp_arena *a;   /* the generation's: what is kept */
	struct wasp_arena *tmp; /* the index */
	struct fz_slot *slots;
	size_t size, count; /* size: a power of two, or 0 */
	struct wasp_element **none; /* the empty element array, once */
};

static uint64_t
fz_mix(uint64_t h, uint64_t x)
{
	h ^= x + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	return h * UINT64_C(0xff51afd7ed558ccd);
}

static uint64_t
fz_ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static uint64_t
fz_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return fz_mix(h, s ? 1 : 0);
}

static uint64_t
fz_value_bits(const struct wasp_value *v)
{
	uint64_t u;

	memcpy(&u, &v->u, sizeof(u)); /* the whole union, whatever member was set */
	return u;
}

/* Cheap on purpose (it runs for every attribute of every element; the
 * comparison decides): the name and the value follow from the position and
 * the text in all but odd cases. */
static uint64_t
fz_hash_attrs(const struct wasp_attr *v, size_t n)
{
	uint64_t h = n;

	for (size_t i = 0; i < n; i++)
		h = (h ^ fz_ptr(v[i].value.text) ^ fz_ptr(v[i].file) << 5 ^
		     (uint64_t)(unsigned)v[i].line << 32 ^ v[i].is_set) *
		    UINT64_C(0x100000001b3);
	return fz_mix(h, FZ_ATTRS);
}

static bool
fz_attrs_equal(const struct wasp_attr *a, const struct wasp_attr *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].name != b[i].name || a[i].value.type != b[i].value.type ||
		    a[i].value.text != b[i].value.text ||
		    fz_value_bits(&a[i].value) != fz_value_bits(&b[i].value) ||
		    a[i].is_set != b[i].is_set || a[i].file != b[i].file || a[i].line != b[i].line)
			return false;
	return true;
}

static uint64_t
fz_hash_ptrs(struct wasp_element *const *v, size_t n)
{
	uint64_t h = fz_mix(FZ_PTRS, n);

	for (size_t i = 0; i < n; i++)
		h = fz_mix(h, fz_ptr(v[i]));
	return h;
}

static uint64_t
fz_hash_elem(const struct wasp_element *e)
{
	uint64_t h = fz_mix(FZ_ELEM, fz_ptr(e->name));

	h = fz_mix(h, fz_ptr(e->attrs) ^ e->n_attrs << 48);
	h = fz_mix(h, fz_ptr(e->children) ^ e->n_children << 48);
	h = fz_mix(h, fz_ptr(e->items) ^ e->n_items << 48);
	h = fz_mix(h, fz_ptr(e->file) ^ (uint64_t)(unsigned)e->line << 32 ^ e->has_collection);
	return fz_str(h, e->key);
}

static bool
fz_elem_equal(const struct wasp_element *a, const struct wasp_element *b)
{
	return a->name == b->name && a->attrs == b->attrs && a->n_attrs == b->n_attrs &&
	       a->children == b->children && a->n_children == b->n_children &&
	       a->items == b->items && a->n_items == b->n_items &&
	       a->has_collection == b->has_collection && a->file == b->file &&
	       a->line == b->line &&
	       (a->key == b->key || (a->key && b->key && streq(a->key, b->key)));
}

static bool
fz_equal(const struct fz_slot *s, enum fz_kind kind, const void *p, size_t n)
{
	if (s->kind != kind || s->n != n)
		return false;
	switch (kind) {
	case FZ_ATTRS:
		return fz_attrs_equal(s->p, p, n);
	case FZ_PTRS:
		return n == 0 || memcmp(s->p, p, n * sizeof(struct wasp_element *)) == 0;
	case FZ_ELEM:
		return fz_elem_equal(s->p, p);
	}
	return false;
}

/* The kept copy equal to p, or NULL. */
static const void *
fz_find(const struct freezer *z, enum fz_kind kind, const void *p, size_t n, uint64_t h)
{
	size_t mask = z->size - 1;

	if (!z->size)
		return NULL;
	for (size_t i = h & mask; z->slots[i].p; i = (i + 1) & mask)
		if (z->slots[i].hash == h && fz_equal(&z->slots[i], kind, p, n))
			return z->slots[i].p;
	return NULL;
}

static void
fz_insert(struct fz_slot *slots, size_t size, const struct fz_slot *s)
{
	size_t mask = size - 1, i = s->hash & mask;

	while (slots[i].p)
		i = (i + 1) & mask;
	slots[i] = *s;
}

/* Remember kept (a copy in the generation's arena). 0 or -ENOMEM. */
static int
fz_add(struct freezer *z, enum fz_kind kind, const void *kept, size_t n, uint64_t h)
{
	struct fz_slot s = { .hash = h, .p = kept, .n = n, .kind = kind };

	if (2 * (z->count + 1) > z->size) {
		size_t size = z->size ? 2 * z->size : 256;
		struct fz_slot *slots = wasp_arena_zalloc(z->tmp, size * sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < z->size; i++)
			if (z->slots[i].p)
				fz_insert(slots, size, &z->slots[i]);
		z->slots = slots;
		z->size = size;
	}
	fz_insert(z->slots, z->size, &s);
	z->count++;
	return 0;
}

/* v[0..n) and a zeroed terminator in the generation's arena. */
static void *
fz_copy(struct freezer *z, const void *v, size_t n, size_t size)
{
	char *kept = wasp_arena_alloc(z->a, (n + 1) * size);

	if (!kept)
		return NULL;
	memcpy(kept, v, n * size);
	memset(kept + n * size, 0, size);
	return kept;
}

/* The same, shared with an equal array copied before. NULL on OOM. */
static struct wasp_attr *
fz_attrs(struct freezer *z, const struct wasp_attr *v, size_t n)
{
	uint64_t h = fz_hash_attrs(v, n);
	struct wasp_attr *kept = (struct wasp_attr *)(uintptr_t)fz_find(z, FZ_ATTRS, v, n, h);

	if (kept)
		return kept;
	kept = fz_copy(z, v, n, sizeof(*v));
	return kept && fz_add(z, FZ_ATTRS, kept, n, h) == 0 ? kept : NULL;
}

/* The same for a NULL-terminated element array. */
static struct wasp_element **
fz_ptrs(struct freezer *z, struct wasp_element *const *v, size_t n)
{
	uint64_t h;
	struct wasp_element **kept;

	if (n == 0)
		return z->none ? z->none : (z->none = fz_copy(z, v, 0, sizeof(*v)));
	h = fz_hash_ptrs(v, n);
	kept = (struct wasp_element **)(uintptr_t)fz_find(z, FZ_PTRS, v, n, h);
	if (kept)
		return kept;
	kept = fz_copy(z, v, n, sizeof(*v));
	return kept && fz_add(z, FZ_PTRS, kept, n, h) == 0 ? kept : NULL;
}

/* The same for an element whose parts are kept already; key_tmp: e->key
 * was made in the index's arena (a combined key). */
static struct wasp_element *
fz_elem(struct freezer *z, const struct wasp_element *e, bool key_tmp)
{
	uint64_t h = fz_hash_elem(e);
	struct wasp_element *kept = (struct wasp_element *)(uintptr_t)fz_find(z, FZ_ELEM, e, 0, h);

	if (kept)
		return kept;
	kept = wasp_arena_memdup(z->a, e, sizeof(*e));
	if (!kept || (key_tmp && !(kept->key = wasp_arena_strdup(z->a, e->key))))
		return NULL;
	return fz_add(z, FZ_ELEM, kept, 0, h) < 0 ? NULL : kept;
}

/* m frozen. A collection entry (item) is copied without looking for an
 * equal one: what was written on it makes it unlike any other (its
 * children are shared as any). */
static struct wasp_element *
freeze(struct freezer *z, const struct mel *m, bool item)
{
	const struct schema_elem *s = m->schema;
	struct wasp_element e = {
		.name = m->name,
		.n_attrs = s->n_attrs,
		.n_children = s->n_children,
		.n_items = m->n_items,
		.has_collection = s->coll != NULL,
		.file = m->file,
		.line = m->line,
	};
	struct wasp_element **v;
	struct wasp_element *kept;
	bool key_tmp = false;

	for (size_t i = 0; i < e.n_attrs; i++) {
		if (!s->attrs[i].key)
			continue;
		key_tmp = e.key != NULL;
		e.key = e.key ? wasp_arena_printf(z->tmp, "%s|%s", e.key, m->attrs[i].value.text)
			      : m->attrs[i].value.text;
		if (!e.key)
			return NULL;
	}
	e.attrs = item ? fz_copy(z, m->attrs, e.n_attrs, sizeof(*e.attrs))
		       : fz_attrs(z, m->attrs, e.n_attrs);
	v = wasp_arena_alloc(z->tmp, (MAX(e.n_children, e.n_items) + 1) * sizeof(*v));
	if (!e.attrs || !v)
		return NULL;
	for (size_t i = 0; i < e.n_children; i++)
		if (!(v[i] = freeze(z, m->children[i], false)))
			return NULL;
	if (!(e.children = fz_ptrs(z, v, e.n_children)))
		return NULL;
	for (size_t i = 0; i < e.n_items; i++)
		if (!(v[i] = freeze(z, m->items[i], true)))
			return NULL;
	/* entries are never shared, so neither is a list of them */
	if (!(e.items = e.n_items ? fz_copy(z, v, e.n_items, sizeof(*v)) : fz_ptrs(z, v, 0)))
		return NULL;
	if (!item)
		return fz_elem(z, &e, key_tmp);
	kept = wasp_arena_memdup(z->a, &e, sizeof(e));
	if (!kept || (key_tmp && !(kept->key = wasp_arena_strdup(z->a, e.key))))
		return NULL;
	return kept;
}

struct wasp_element *
cfg_freeze_into(struct wasp_arena *a, struct wasp_arena *tmp, const struct mel *root)
{
	struct freezer z = { .a = a, .tmp = tmp };

	return freeze(&z, root, false);
}

struct wasp_element *
cfg_freeze_root(struct wasp_config *cfg, struct wasp_arena *tmp, const struct mel *root)
{
	return cfg_freeze_into(cfg->arena, tmp, root);
}
