/* Effective sections: applicationHost.config's section, its <location>
 * paths from least to most specific, then the web.config files along the
 * URL path, merged with IIS's rules (overrideMode, allowDefinition, locks,
 * collections with add/remove/clear, *Defaults elements), and cached. */
#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* Where a lock was set. */
struct lock {
	const struct level *level;
	const char *file;
	int line;
	const char *kind; /* "lockAttributes", ... for messages */
};

/* A merge level: one file at one configuration path. Locks set at a level
 * bind every later level, never the level itself. */
struct level {
	const char *file;
	const char *path;
	bool builtin;          /* wasp's built-in defaults */
	/* applicationHost.config's own top level: an <add> or <clear/> there
	 * writes the whole collection, as in a real IIS file, and replaces
	 * the built-in entries (see defaults.c). */
	bool replaces_builtin;
};

struct mel {
	const struct schema_elem *schema;
	const char *name;
	struct wasp_attr *attrs; /* schema->n_attrs */
	struct lock **attr_locks;
	struct mel **children; /* schema->n_children */
	struct mel **items;
	size_t n_items, n_items_alloc;
	const char *file;
	int line;
	const struct lock *all_attrs_except;
	struct cfg_names all_attrs_except_names;
	/* lockElements: names and where */
	struct locked_elem {
		const char *name;
		const struct lock *lock;
	} *locked_elems;
	size_t n_locked_elems, n_locked_elems_alloc;
	const struct lock *all_elems_except;
	struct cfg_names all_elems_except_names;
	const struct lock *item_lock; /* lockItem on this collection entry */
	const struct level *added_at;
	size_t n_builtin; /* items added at a built-in level */
	/* A collection's entries by key hash (open addressing, kidx_size a
	 * power of two), built once it holds KIDX_MIN entries so that adding
	 * the thousandth <site> does not compare keys with the 999 before it;
	 * dropped (NULL) by <remove> and <clear>, rebuilt on the next add. */
	struct mel **kidx;
	size_t kidx_size, kidx_count;
};

#define KIDX_MIN 16

struct mctx {
	struct wasp_config *cfg;
	struct wasp_arena *tmp;
	struct wasp_diag_list *diags;
	int errors;
	/* the first error recorded (in the generation's arena), for a 500.19 */
	const struct wasp_config_error *first_err;
};

static void
merr(struct mctx *m, const char *file, int line, const char *attr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
merr(struct mctx *m, const char *file, int line, const char *attr, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	(void)wasp_diag_add(m->diags, WASP_DIAG_ERROR, file, line, attr, "%s", msg ? msg : "(OOM)");
	if (!m->first_err)
		m->first_err = cfg_error_new(m->cfg->arena, file, line, attr, msg ? msg : "(OOM)");
	free(msg);
	m->errors++;
}

/* The built-in defaults and applicationHost.config's own top level are one
 * level: what IIS ships in that file. */
static bool
same_level(const struct level *a, const struct level *b)
{
	return a == b ||
	       (a && b &&
		((a->file == b->file && strcaseeq(a->path, b->path)) ||
		 (a->builtin && (b->builtin || b->replaces_builtin)) ||
		 (b->builtin && a->replaces_builtin)));
}

static bool
names_has(const struct cfg_names *n, const char *name)
{
	for (size_t i = 0; i < n->n; i++)
		if (strcaseeq(n->v[i], name))
			return true;
	return false;
}

static struct mel *
mel_default(struct wasp_arena *a, const struct schema_elem *s, const char *name)
{
	struct mel *e = wasp_arena_zalloc(a, sizeof(*e));

	if (!e)
		return NULL;
	e->schema = s;
	e->name = name ? name : s->name;
	e->attrs = wasp_arena_zalloc(a, (s->n_attrs + 1) * sizeof(*e->attrs));
	e->attr_locks = wasp_arena_zalloc(a, (s->n_attrs + 1) * sizeof(*e->attr_locks));
	e->children = wasp_arena_zalloc(a, (s->n_children + 1) * sizeof(*e->children));
	if (!e->attrs || !e->attr_locks || !e->children)
		return NULL;
	for (size_t i = 0; i < s->n_attrs; i++)
		e->attrs[i] = (struct wasp_attr){ .name = s->attrs[i].name, .value = s->attrs[i].def };
	for (size_t i = 0; i < s->n_children; i++)
		if (!(e->children[i] = mel_default(a, s->children[i], NULL)))
			return NULL;
	return e;
}

static const char *
lock_desc(struct wasp_arena *a, const struct lock *l)
{
	return wasp_arena_printf(a, "%s in %s:%d", l->kind, l->file, l->line);
}

static int
elem_allowed(struct mctx *m, struct mel *dst, const char *name, const struct level *lv,
	     const char *file, int line)
{
	for (size_t i = 0; i < dst->n_locked_elems; i++)
		if (strcaseeq(dst->locked_elems[i].name, name) &&
		    !same_level(dst->locked_elems[i].lock->level, lv)) {
			merr(m, file, line, NULL, "<%s> in <%s> is locked (%s)", name, dst->name,
			     lock_desc(m->tmp, dst->locked_elems[i].lock));
			return false;
		}
	if (dst->all_elems_except && !same_level(dst->all_elems_except->level, lv) &&
	    !names_has(&dst->all_elems_except_names, name)) {
		merr(m, file, line, NULL, "<%s> in <%s> is locked (%s)", name, dst->name,
		     lock_desc(m->tmp, dst->all_elems_except));
		return false;
	}
	return true;
}

static struct lock *
new_lock(struct mctx *m, const struct level *lv, const char *file, int line, const char *kind)
{
	struct lock *l = wasp_arena_zalloc(m->tmp, sizeof(*l));

	if (l)
		*l = (struct lock){ .level = lv, .file = file, .line = line, .kind = kind };
	return l;
}

static int
record_locks(struct mctx *m, struct mel *dst, const struct cfg_node *src, const struct level *lv,
	     const char *file)
{
	for (size_t i = 0; i < src->lock_attrs.n; i++) {
		const struct schema_attr *sa = schema_elem_attr(dst->schema, src->lock_attrs.v[i]);
		size_t idx;

		if (!sa) {
			(void)wasp_diag_add(m->diags, WASP_DIAG_WARNING, file, src->line,
					    "lockAttributes",
					    "<%s> has no attribute '%s' to lock, ignoring", src->name,
					    src->lock_attrs.v[i]);
			continue;
		}
		idx = (size_t)(sa - dst->schema->attrs);
		if (!dst->attr_locks[idx] &&
		    !(dst->attr_locks[idx] = new_lock(m, lv, file, src->line, "lockAttributes")))
			return -ENOMEM;
	}
	/* lockItem on an element that is not a collection entry locks the
	 * whole element: no attribute, no child element below. */
	if (src->kind == CFG_NODE_ELEMENT && src->lock_item) {
		struct lock *l = new_lock(m, lv, file, src->line, "lockItem");

		if (!l)
			return -ENOMEM;
		if (!dst->all_attrs_except) {
			dst->all_attrs_except = l;
			dst->all_attrs_except_names = (struct cfg_names){ 0 };
		}
		if (!dst->all_elems_except) {
			dst->all_elems_except = l;
			dst->all_elems_except_names = (struct cfg_names){ 0 };
		}
	}
	if (src->has_lock_all_attrs_except && !dst->all_attrs_except) {
		if (!(dst->all_attrs_except =
			      new_lock(m, lv, file, src->line, "lockAllAttributesExcept")))
			return -ENOMEM;
		dst->all_attrs_except_names = src->lock_all_attrs_except;
	}
	for (size_t i = 0; i < src->lock_elements.n; i++) {
		struct locked_elem *le = CFG_PUSH(m->tmp, dst->locked_elems, dst->n_locked_elems,
						  dst->n_locked_elems_alloc);

		if (!le)
			return -ENOMEM;
		le->name = src->lock_elements.v[i];
		le->lock = new_lock(m, lv, file, src->line, "lockElements");
		if (!le->lock)
			return -ENOMEM;
	}
	if (src->has_lock_all_elements_except && !dst->all_elems_except) {
		if (!(dst->all_elems_except =
			      new_lock(m, lv, file, src->line, "lockAllElementsExcept")))
			return -ENOMEM;
		dst->all_elems_except_names = src->lock_all_elements_except;
	}
	return 0;
}

/* Key of a collection entry as text for messages and comparison. */
static bool
keys_equal(const struct mel *item, const struct cfg_node *src)
{
	const struct schema_elem *s = item->schema;
	bool any = false;

	for (size_t i = 0; i < s->n_attrs; i++) {
		const char *want = s->attrs[i].def.text;

		if (!s->attrs[i].key)
			continue;
		any = true;
		for (size_t j = 0; j < src->n_attrs; j++)
			if (src->attrs[j].schema == &s->attrs[i])
				want = src->attrs[j].value.text;
		if (!strcaseeq(item->attrs[i].value.text, want))
			return false;
	}
	return any;
}

/* Hashes agreeing with keys_equal (strcaseeq on every key attribute, in
 * schema order): FNV-1a over the ASCII-lowercased values, NUL-separated. */
static uint64_t
key_hash_add(uint64_t h, const char *v)
{
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;

		h ^= (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch;
		h *= UINT64_C(1099511628211);
	}
	return (h ^ 0xff) * UINT64_C(1099511628211);
}

static uint64_t
item_key_hash(const struct mel *item)
{
	const struct schema_elem *s = item->schema;
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < s->n_attrs; i++)
		if (s->attrs[i].key)
			h = key_hash_add(h, item->attrs[i].value.text ? item->attrs[i].value.text : "");
	return h;
}

static uint64_t
node_key_hash(const struct schema_elem *s, const struct cfg_node *src)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < s->n_attrs; i++) {
		const char *want = s->attrs[i].def.text;

		if (!s->attrs[i].key)
			continue;
		for (size_t j = 0; j < src->n_attrs; j++)
			if (src->attrs[j].schema == &s->attrs[i])
				want = src->attrs[j].value.text;
		h = key_hash_add(h, want ? want : "");
	}
	return h;
}

static bool
schema_has_key(const struct schema_elem *s)
{
	for (size_t i = 0; i < s->n_attrs; i++)
		if (s->attrs[i].key)
			return true;
	return false;
}

static void
kidx_insert(struct mel *dst, struct mel *item)
{
	size_t mask = dst->kidx_size - 1, i = item_key_hash(item) & mask;

	while (dst->kidx[i])
		i = (i + 1) & mask;
	dst->kidx[i] = item;
	dst->kidx_count++;
}

/* (Re)build the index for n_items + 1 entries. false on OOM (the caller then
 * compares linearly, as without an index). */
static bool
kidx_build(struct mctx *m, struct mel *dst)
{
	size_t size = 64;

	while (size < 2 * (dst->n_items + 1))
		size *= 2;
	dst->kidx = wasp_arena_zalloc(m->tmp, size * sizeof(*dst->kidx));
	if (!dst->kidx)
		return false;
	dst->kidx_size = size;
	dst->kidx_count = 0;
	for (size_t i = 0; i < dst->n_items; i++)
		kidx_insert(dst, dst->items[i]);
	return true;
}

/* The entry of dst whose keys equal k's, or NULL. */
static struct mel *
find_item(struct mctx *m, struct mel *dst, const struct cfg_node *k)
{
	const struct schema_elem *is = dst->schema->coll ? dst->schema->coll->item : NULL;

	if (dst->n_items >= KIDX_MIN && is && schema_has_key(is)) {
		if (dst->kidx || kidx_build(m, dst)) {
			size_t mask = dst->kidx_size - 1;
			uint64_t h = node_key_hash(is, k);

			for (size_t i = h & mask; dst->kidx[i]; i = (i + 1) & mask)
				if (keys_equal(dst->kidx[i], k))
					return dst->kidx[i];
			return NULL;
		}
	}
	for (size_t i = 0; i < dst->n_items; i++)
		if (keys_equal(dst->items[i], k))
			return dst->items[i];
	return NULL;
}

static const char *
key_desc(struct wasp_arena *a, const struct cfg_node *src)
{
	const char *s = "";

	for (size_t j = 0; j < src->n_attrs; j++)
		if (src->attrs[j].schema->key)
			s = wasp_arena_printf(a, "%s%s'%s' set to '%s'", s, *s ? " and " : "",
					      src->attrs[j].name, src->attrs[j].value.text);
	return s;
}

static int merge_node(struct mctx *m, struct mel *dst, const struct cfg_node *src,
		      const struct level *lv, const char *file);

static int
merge_add(struct mctx *m, struct mel *dst, const struct cfg_node *k, const struct level *lv,
	  const char *file, size_t *insert_at)
{
	const struct schema_coll *coll = dst->schema->coll;
	struct mel *item, *dup;
	int r;

	dup = find_item(m, dst, k);
	if (dup) {
		merr(m, file, k->line, NULL,
		     "cannot add duplicate collection entry of type '%s' with unique key "
		     "attribute %s (first added in %s:%d)",
		     k->name, key_desc(m->tmp, k), dup->file, dup->line);
		return 0;
	}
	item = mel_default(m->tmp, coll->item, k->name);
	if (!item)
		return -ENOMEM;
	item->added_at = lv;
	r = merge_node(m, item, k, lv, file);
	if (r < 0)
		return r;
	if (k->lock_item && !(item->item_lock = new_lock(m, lv, file, k->line, "lockItem")))
		return -ENOMEM;
	if (!CFG_PUSH(m->tmp, dst->items, dst->n_items, dst->n_items_alloc))
		return -ENOMEM;
	if (lv->builtin)
		dst->n_builtin++;
	if (coll->merge_append)
		dst->items[dst->n_items - 1] = item;
	else {
		/* mergeAppend="false": a deeper level's entries go before the
		 * inherited ones, in their own order. */
		memmove(&dst->items[*insert_at + 1], &dst->items[*insert_at],
			(dst->n_items - 1 - *insert_at) * sizeof(*dst->items));
		dst->items[(*insert_at)++] = item;
	}
	if (dst->kidx) {
		if (2 * dst->kidx_count + 2 > dst->kidx_size) {
			if (!kidx_build(m, dst))
				dst->kidx = NULL;
		} else
			kidx_insert(dst, item);
	}
	return 0;
}

static void
remove_item(struct mel *dst, size_t i, size_t *insert_at)
{
	if (dst->items[i]->added_at && dst->items[i]->added_at->builtin)
		dst->n_builtin--;
	memmove(&dst->items[i], &dst->items[i + 1], (dst->n_items - i - 1) * sizeof(*dst->items));
	dst->n_items--;
	dst->kidx = NULL;
	if (*insert_at > i)
		(*insert_at)--;
}

static int
merge_node(struct mctx *m, struct mel *dst, const struct cfg_node *src, const struct level *lv,
	   const char *file)
{
	size_t insert_at = 0;
	int r;

	assert(src->schema == dst->schema);
	dst->file = file;
	dst->line = src->line;
	for (size_t i = 0; i < src->n_attrs; i++) {
		const struct cfg_nattr *na = &src->attrs[i];
		size_t idx = (size_t)(na->schema - dst->schema->attrs);
		const struct lock *l = dst->attr_locks[idx];

		if (idx >= dst->schema->n_attrs)
			continue;
		if (l && !same_level(l->level, lv)) {
			merr(m, file, na->line, na->name, "is locked (%s)", lock_desc(m->tmp, l));
			continue;
		}
		l = dst->all_attrs_except;
		if (l && !same_level(l->level, lv) &&
		    !names_has(&dst->all_attrs_except_names, na->name)) {
			merr(m, file, na->line, na->name, "is locked (%s)", lock_desc(m->tmp, l));
			continue;
		}
		dst->attrs[idx].value = na->value;
		dst->attrs[idx].is_set = true;
		dst->attrs[idx].file = file;
		dst->attrs[idx].line = na->line;
	}
	r = record_locks(m, dst, src, lv, file);
	if (r < 0)
		return r;
	for (size_t i = 0; i < src->n_kids; i++) {
		const struct cfg_node *k = src->kids[i];

		if (!elem_allowed(m, dst, k->name, lv, file, k->line))
			continue;
		if (dst->n_builtin && lv->replaces_builtin &&
		    (k->kind == CFG_NODE_ADD || k->kind == CFG_NODE_CLEAR))
			for (size_t j = dst->n_items; j-- > 0;)
				if (dst->items[j]->added_at && dst->items[j]->added_at->builtin)
					remove_item(dst, j, &insert_at);
		switch (k->kind) {
		case CFG_NODE_ELEMENT:
			for (size_t c = 0; c < dst->schema->n_children; c++)
				if (dst->schema->children[c] == k->schema) {
					r = merge_node(m, dst->children[c], k, lv, file);
					if (r < 0)
						return r;
				}
			break;
		case CFG_NODE_ADD:
			r = merge_add(m, dst, k, lv, file, &insert_at);
			if (r < 0)
				return r;
			break;
		case CFG_NODE_REMOVE:
			for (size_t j = 0; j < dst->n_items; j++) {
				const struct lock *il = dst->items[j]->item_lock;

				if (!keys_equal(dst->items[j], k))
					continue;
				if (il && !same_level(il->level, lv))
					merr(m, file, k->line, NULL,
					     "cannot remove the entry with %s: it is locked (%s)",
					     key_desc(m->tmp, k), lock_desc(m->tmp, il));
				else
					remove_item(dst, j, &insert_at);
				break;
			}
			break;
		case CFG_NODE_CLEAR: {
			const struct lock *il = NULL;

			for (size_t j = 0; j < dst->n_items && !il; j++)
				if (dst->items[j]->item_lock &&
				    !same_level(dst->items[j]->item_lock->level, lv))
					il = dst->items[j]->item_lock;
			if (il) {
				merr(m, file, k->line, NULL,
				     "cannot <%s> the collection: an entry is locked (%s)", k->name,
				     lock_desc(m->tmp, il));
				break;
			}
			dst->n_items = 0;
			dst->n_builtin = 0;
			dst->kidx = NULL;
			insert_at = 0;
			break;
		}
		}
	}
	return 0;
}

/* ---- *Defaults elements --------------------------------------------------- */

static ssize_t
child_index(const struct schema_elem *s, const char *name)
{
	for (size_t i = 0; i < s->n_children; i++)
		if (streq(s->children[i]->name, name))
			return (ssize_t)i;
	return -1;
}

static void
fill_from(struct mel *item, struct mel **defs, size_t n_defs, struct wasp_arena *a)
{
	for (size_t i = 0; i < item->schema->n_attrs; i++) {
		if (item->attrs[i].is_set)
			continue;
		for (size_t d = 0; d < n_defs; d++)
			if (defs[d]->schema->n_attrs == item->schema->n_attrs &&
			    defs[d]->attrs[i].is_set) {
				item->attrs[i] = defs[d]->attrs[i];
				break;
			}
	}
	for (size_t c = 0; c < item->schema->n_children; c++) {
		struct mel *sub[8];
		size_t n = 0;

		for (size_t d = 0; d < n_defs && n < ELEMENTSOF(sub); d++)
			if (defs[d]->schema->n_children == item->schema->n_children &&
			    defs[d]->schema->children[c] == item->schema->children[c])
				sub[n++] = defs[d]->children[c];
		if (n)
			fill_from(item->children[c], sub, n, a);
	}
}

static void
apply_defaults(struct mel *e, struct mel **anc, size_t n_anc, struct wasp_arena *a)
{
	struct mel *stack[16];

	if (n_anc >= ELEMENTSOF(stack) - 1)
		return;
	if (n_anc)
		memcpy(stack, anc, n_anc * sizeof(*anc));
	stack[n_anc++] = e;
	if (e->schema->coll && e->schema->coll->default_element) {
		struct mel *defs[16];
		size_t n_defs = 0;

		for (size_t i = n_anc; i-- > 0;) {
			ssize_t ci = child_index(stack[i]->schema, e->schema->coll->default_element);

			if (ci >= 0)
				defs[n_defs++] = stack[i]->children[ci];
		}
		for (size_t j = 0; j < e->n_items; j++)
			fill_from(e->items[j], defs, n_defs, a);
	}
	for (size_t c = 0; c < e->schema->n_children; c++)
		apply_defaults(e->children[c], stack, n_anc, a);
	for (size_t j = 0; j < e->n_items; j++)
		apply_defaults(e->items[j], stack, n_anc, a);
}

/* ---- freezing into the generation's arena --------------------------------- */

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

/* Freeze root into cfg's arena (the index in tmp). NULL on OOM. */
static struct wasp_element *
freeze_root(struct wasp_config *cfg, struct wasp_arena *tmp, const struct mel *root)
{
	struct freezer z = { .a = cfg->arena, .tmp = tmp };

	return freeze(&z, root, false);
}

/* ---- collecting what applies ---------------------------------------------- */

struct applied {
	const struct cfg_inst *inst;
	const char *path; /* full configuration path: "Site/a/b" */
	size_t depth;
	size_t file_depth;
	bool app_root; /* web.config at an application root */
	struct level level;
};

static int
cmp_applied(const void *x, const void *y)
{
	const struct applied *a = x, *b = y;

	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	if (a->file_depth != b->file_depth)
		return a->file_depth < b->file_depth ? -1 : 1;
	if (a->inst->file->is_builtin != b->inst->file->is_builtin)
		return a->inst->file->is_builtin ? -1 : 1;
	if (a->inst->index != b->inst->index)
		return a->inst->index < b->inst->index ? -1 : 1;
	return 0;
}

struct dep {
	const char *path;
	/* A directory that was not there (or not a directory): nothing below
	 * it was looked at, and its appearing changes the result. Else a
	 * web.config file. */
	bool is_dir;
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_nsec;
};

/* A merged result, shared by every path the same instances apply to, so
 * that the generation grows with the configuration, not with the number of
 * URLs asked about. Lives in the generation's arena. */
struct shared {
	const struct wasp_element *elem;
	int result;
	const struct wasp_config_error *err; /* the first error, with result -EINVAL */
};

/* One (site, path, section) looked up: its result and the web.config files
 * it depends on. malloc'd (one block with the paths), dropped wholesale
 * when there are too many. */
struct entry {
	const struct shared *res;
	uint64_t checked_at;
	size_t bytes; /* what it costs the cache: itself, its paths, its key */
	size_t n_deps;
	struct dep deps[];
};

/* Both bound the cache (a client chooses the URLs): past either it is
 * emptied and fills again with what is asked for. */
#define CFG_MAX_CACHED_PATHS 8192
#define CFG_MAX_CACHED_BYTES (4 * 1024 * 1024)

static void
stat_dep(const char *path, struct dep *d)
{
	struct stat st;

	d->path = path;
	d->is_dir = false;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		d->exists = false;
		d->dev = 0;
		d->ino = 0;
		d->size = 0;
		d->mtime_nsec = 0;
		return;
	}
	d->exists = true;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->size = st.st_size;
	d->mtime_nsec = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

/* A missing directory's dep: only whether it is a directory now (its
 * times change with every entry once it is). */
static void
stat_dep_dir(const char *path, struct dep *d)
{
	struct stat st;

	*d = (struct dep){ .path = path, .is_dir = true };
	d->exists = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* old's path stat'ed again the way old was. */
static void
restat_dep(const struct dep *old, struct dep *d)
{
	if (old->is_dir)
		stat_dep_dir(old->path, d);
	else
		stat_dep(old->path, d);
}

static bool
dep_same(const struct dep *a, const struct dep *b)
{
	return a->exists == b->exists && a->is_dir == b->is_dir && a->dev == b->dev &&
	       a->ino == b->ino &&
	       a->size == b->size && a->mtime_nsec == b->mtime_nsec;
}

static int
read_all(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	/* one byte more than a web.config may have: cfg_parse_file() refuses
	 * it with a message, and a huge file is not read whole */
	while (len <= CFG_MAX_WEBCONFIG_SIZE) {
		ssize_t k;

		if (len + 1 >= cap) {
			char *n;

			cap = cap ? cap * 2 : 16384;
			n = realloc(buf, cap);
			if (!n)
				return -ENOMEM;
			buf = n;
		}
		k = read(fd, buf + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* The parsed web.config at path, re-read when it changed. NULL when absent. */
static int
get_web_config(struct mctx *m, const char *path, struct dep *dep, struct cfg_file **ret)
{
	struct wasp_config *cfg = m->cfg;
	struct cfg_file *f = cfg_cache_get(cfg->files, path);
	_cleanup_(wasp_diag_list_done) struct wasp_diag_list local = WASP_DIAG_LIST_INIT;
	const struct wasp_config_error *first = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	stat_dep(path, dep);
	/* Absent files leave no record: a client asking for random paths
	 * must not grow the generation. */
	if (!dep->exists) {
		*ret = NULL;
		return 0;
	}
	if (f && f->exists && f->dev == dep->dev && f->ino == dep->ino &&
	    f->size == dep->size && f->mtime_nsec == dep->mtime_nsec) {
		*ret = f;
		return 0;
	}
	r = read_all(path, &buf, &len);
	if (r == -ENOMEM)
		return r;
	f = NULL;
	if (r < 0)
		(void)wasp_diag_add(&local, WASP_DIAG_ERROR, path, 0, NULL, "cannot read: %s",
				    strerror(-r));
	else
		r = cfg_parse_file(cfg, buf, len, path, false, NULL, &f, &local);
	if (r == -ENOMEM)
		return r;
	/* the caller's list gets them all; the file keeps its first error */
	for (size_t i = 0; i < local.n; i++) {
		const struct wasp_diag *d = &local.items[i];

		(void)wasp_diag_add(m->diags, d->severity, d->file, d->line, d->attribute, "%s",
				    d->message);
		if (d->severity == WASP_DIAG_ERROR && !first)
			first = cfg_error_new(cfg->arena, d->file, d->line, d->attribute,
					      d->message);
	}
	{
		if (!f) {
			/* Not XML: remembered as a file with an error, so it
			 * is not parsed again until it changes. */
			f = wasp_arena_zalloc(cfg->arena, sizeof(*f));
			if (!f || !(f->path = wasp_arena_strdup(cfg->arena, path)))
				return -ENOMEM;
			r = r < 0 ? r : -EINVAL;
		}
		f->parse_result = r;
		f->first_err = r < 0 ? first : NULL;
		if (r < 0 && !f->first_err)
			f->first_err = cfg_error_new(cfg->arena, path, 0, NULL, "cannot be read");
	}
	f->exists = dep->exists;
	f->dev = dep->dev;
	f->ino = dep->ino;
	f->size = dep->size;
	f->mtime_nsec = dep->mtime_nsec;
	r = cfg_cache_put(cfg->files, path, f);
	if (r < 0)
		return r;
	*ret = f;
	return 0;
}

static const struct wasp_element *
find_site(struct wasp_config *cfg, const char *name)
{
	const struct wasp_element *sites = wasp_config_section(cfg, "system.applicationHost/sites");

	for (size_t i = 0; sites && i < sites->n_items; i++)
		if (strcaseeq(wasp_element_get_str(sites->items[i], "name", ""), name))
			return sites->items[i];
	return NULL;
}

/* The application of URL path url ("" or "a/b", normalised) in site, and
 * its normalised path ("" for the root application). */
static const struct wasp_element *
find_app(struct wasp_arena *a, const struct wasp_element *site, const char *url,
	 const char **ret_path)
{
	const struct wasp_element *best = NULL;
	size_t best_len = 0;

	*ret_path = "";
	for (size_t i = 0; i < site->n_items; i++) {
		const char *p = cfg_normalize_path(a, wasp_element_get_str(site->items[i], "path", "/"));
		size_t l = p ? strlen(p) : 0;

		if (p && cfg_path_is_prefix(p, url) && (!best || l > best_len)) {
			best = site->items[i];
			best_len = l;
			*ret_path = p;
		}
	}
	return best;
}

/* The physical directory of URL directory url ("" or "a/b", normalised) in
 * site, and whether it is an application root. NULL when unmapped, or when
 * its virtual directory says allowSubDirConfig="false" and url is below the
 * virtual directory's root (no web.config is read there). */
static char *
map_url_dir(struct wasp_arena *a, const struct wasp_element *site, const char *url, bool *app_root,
	    const char **ret_vd_root)
{
	const struct wasp_element *app, *best_vd = NULL;
	size_t best_vd_len = 0;
	const char *app_path, *rest, *phys;

	*app_root = false;
	app = find_app(a, site, url, &app_path);
	if (!app)
		return NULL;
	*app_root = streq(url, app_path) || strlen(url) == strlen(app_path);
	rest = url + strlen(app_path);
	if (*rest == '/')
		rest++;
	for (size_t i = 0; i < app->n_items; i++) {
		const char *p = cfg_normalize_path(a, wasp_element_get_str(app->items[i], "path", "/"));
		size_t l = p ? strlen(p) : 0;

		if (p && cfg_path_is_prefix(p, rest) && (!best_vd || l > best_vd_len)) {
			best_vd = app->items[i];
			best_vd_len = l;
		}
	}
	if (!best_vd)
		return NULL;
	if (ret_vd_root)
		*ret_vd_root = wasp_element_get_str(best_vd, "physicalPath", "");
	rest += best_vd_len;
	if (*rest == '/')
		rest++;
	if (*rest && !wasp_element_get_bool(best_vd, "allowSubDirConfig", true))
		return NULL;
	phys = wasp_element_get_str(best_vd, "physicalPath", "");
	if (!*phys)
		return NULL;
	return *rest ? wasp_arena_printf(a, "%s/%s", phys, rest) : wasp_arena_strdup(a, phys);
}

/* inheritInChildApplications="false": an instance written for path (a
 * configuration path "Site/a/b") does not reach into another application
 * below it. */
static bool
reaches(struct wasp_arena *a, const struct wasp_element *site, const struct cfg_inst *inst,
	const char *path, const char *target_url)
{
	const char *slash, *loc_app, *target_app;

	if (!inst->no_child_apps || !site)
		return true;
	slash = strchr(path, '/');
	(void)find_app(a, site, slash ? slash + 1 : "", &loc_app);
	(void)find_app(a, site, target_url, &target_app);
	return strcaseeq(loc_app, target_app);
}

/* Where the section's declaration comes from, for messages: "FILE:LINE" of
 * its configSections entry, or, when configSections does not declare it,
 * wasp's schema (which then supplies allowDefinition and
 * overrideModeDefault). */
static const char *
decl_where(struct wasp_arena *a, struct wasp_config *cfg, const struct schema_section *ss)
{
	const struct cfg_decl *d = cfg_find_decl(cfg->apphost, ss->name);

	if (d)
		return wasp_arena_printf(a, "%s:%d", d->file, d->line);
	return wasp_arena_printf(a,
				 "wasp's schema of '%s' (the configSections of %s do not declare it)",
				 ss->name, cfg->apphost->path);
}

static enum cfg_override
decl_override(struct wasp_config *cfg, const struct schema_section *ss)
{
	const struct cfg_decl *d = cfg_find_decl(cfg->apphost, ss->name);

	return d ? d->override_default : ss->override_default;
}

static enum cfg_allow_def
decl_allow(struct wasp_config *cfg, const struct schema_section *ss)
{
	const struct cfg_decl *d = cfg_find_decl(cfg->apphost, ss->name);

	return d ? d->allow_definition : ss->allow_definition;
}

static int
add_applied(struct mctx *m, struct applied **v, size_t *n, size_t *n_alloc, const struct cfg_inst *inst,
	    const char *path, size_t file_depth, bool app_root)
{
	struct applied *a = CFG_PUSH(m->tmp, *v, *n, *n_alloc);

	if (!a)
		return -ENOMEM;
	*a = (struct applied){
		.inst = inst,
		.path = path,
		.depth = cfg_path_depth(path),
		.file_depth = file_depth,
		.app_root = app_root,
		.level = { .file = inst->file->path,
			   .path = path,
			   .builtin = inst->file->is_builtin,
			   .replaces_builtin = inst->file->is_apphost && !inst->file->is_builtin &&
					       !*inst->location },
	};
	return 0;
}

struct compute_req {
	const struct schema_section *ss;
	const char *site;   /* NULL: applicationHost.config's own level only */
	const char *target; /* "Site/a/b" normalised */
	const char *url;    /* "a/b" normalised */
	bool web_configs;   /* read web.config files */
};

struct collected {
	struct applied *v;
	size_t n;
	struct dep *deps; /* every web.config looked at, present or not */
	size_t n_deps;
	/* web.config files that failed to parse (they add no instances but
	 * make the result an error) */
	const struct cfg_file **bad;
	size_t n_bad;
};

/* The length of the shortest application or virtual directory root of site
 * that is a prefix of url ("" or "a/b", normalised) and at least from bytes
 * long, or SIZE_MAX when there is none. */
static size_t
next_root(struct wasp_arena *a, const struct wasp_element *site, const char *url, size_t from)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < site->n_items; i++) {
		const struct wasp_element *app = site->items[i];
		const char *ap = cfg_normalize_path(a, wasp_element_get_str(app, "path", "/"));

		if (!ap || !cfg_path_is_prefix(ap, url))
			continue;
		for (size_t j = 0; j < app->n_items; j++) {
			const char *vp = cfg_normalize_path(
				a, wasp_element_get_str(app->items[j], "path", "/"));
			size_t l;

			if (!vp)
				continue;
			l = strlen(ap) + (*ap && *vp ? 1 : 0) + strlen(vp);
			if (l >= from && l < best && l <= strlen(url) &&
			    cfg_path_is_prefix(*vp ? wasp_arena_printf(a, "%s%s%s", ap,
								   *ap ? "/" : "", vp)
						   : ap,
					       url))
				best = l;
		}
	}
	return best;
}

/* What applies to q: applicationHost.config's instances, and the web.config
 * files' along the URL path, sorted into merge order. */
static int
collect(struct mctx *m, const struct compute_req *q, struct collected *c)
{
	struct wasp_config *cfg = m->cfg;
	struct applied *v = NULL;
	size_t n = 0, n_alloc = 0, n_deps = 0, deps_alloc = 0, n_bad = 0, bad_alloc = 0;
	struct dep *deps = NULL;
	const struct cfg_file **bad = NULL;
	int r;

	const struct wasp_element *site = q->site ? find_site(cfg, q->site) : NULL;
	size_t nb = cfg->builtin ? cfg->builtin->n_insts : 0;

	/* the built-in defaults first, then applicationHost.config */
	for (size_t i = 0; i < nb + cfg->apphost->n_insts; i++) {
		const struct cfg_inst *inst =
			i < nb ? cfg->builtin->insts[i] : cfg->apphost->insts[i - nb];

		if (q->ss ? inst->section != q->ss : !inst->section->not_implemented)
			continue;
		if (q->site ? !cfg_path_is_prefix(inst->location, q->target) : *inst->location)
			continue;
		if (q->site && *inst->location && !reaches(m->tmp, site, inst, inst->location, q->url))
			continue;
		r = add_applied(m, &v, &n, &n_alloc, inst, inst->location, 0, false);
		if (r < 0)
			return r;
	}
	if (q->site && q->web_configs) {
		size_t ul = strlen(q->url);
		bool dead = false;

		/* "" then each prefix of the URL path, on segment boundaries,
		 * while its directory exists: below one that does not (or is
		 * a file, or is not mapped) the walk goes on only at the next
		 * application or virtual directory root, so that a lookup
		 * costs what exists on disk, not the URL's depth. */
		for (size_t end = 0; site && end <= ul; end++) {
			char *url_dir, *phys, *wc;
			bool app_root;
			struct cfg_file *f = NULL;
			struct dep *dep;

			if (end != 0 && end != ul && q->url[end] != '/')
				continue;
			if (dead) {
				end = next_root(m->tmp, site, q->url, end);
				if (end == SIZE_MAX)
					break;
				dead = false;
			}
			url_dir = wasp_arena_strndup(m->tmp, q->url, end);
			if (!url_dir)
				return -ENOMEM;
			phys = map_url_dir(m->tmp, site, url_dir, &app_root, NULL);
			if (!phys) {
				dead = true;
				if (end == ul)
					break;
				continue;
			}
			wc = wasp_arena_printf(m->tmp, "%s/web.config", phys);
			dep = CFG_PUSH(m->tmp, deps, n_deps, deps_alloc);
			if (!wc || !dep)
				return -ENOMEM;
			r = get_web_config(m, wc, dep, &f);
			if (r < 0)
				return r;
			if (!dep->exists) {
				struct dep d;

				stat_dep_dir(phys, &d);
				if (!d.exists) { /* what to watch instead */
					*dep = d;
					dead = true;
				}
			}
			if (!f) {
				if (end == ul)
					break;
				continue;
			}
			if (f->parse_result < 0) {
				const struct cfg_file **slot = CFG_PUSH(m->tmp, bad, n_bad, bad_alloc);

				if (!slot)
					return -ENOMEM;
				*slot = f;
			}
			for (size_t i = 0; i < f->n_insts; i++) {
				const struct cfg_inst *inst = f->insts[i];
				char *full;

				if (q->ss && inst->section != q->ss)
					continue;
				full = wasp_arena_printf(m->tmp, "%s%s%s%s%s", q->site,
							 *url_dir ? "/" : "", url_dir,
							 *inst->location ? "/" : "", inst->location);
				if (!full)
					return -ENOMEM;
				if (!cfg_path_is_prefix(full, q->target) ||
				    !reaches(m->tmp, site, inst, full, q->url))
					continue;
				r = add_applied(m, &v, &n, &n_alloc, inst, full,
						1 + cfg_path_depth(url_dir),
						app_root || !*url_dir);
				if (r < 0)
					return r;
			}
			if (end == ul)
				break;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_applied);
	*c = (struct collected){ .v = v, .n = n, .deps = deps, .n_deps = n_deps, .bad = bad,
				 .n_bad = n_bad };
	return 0;
}

/* Merge what collect() found, checking overrideMode and allowDefinition. */
static int
merge_collected(struct mctx *m, const struct compute_req *q, const struct collected *c,
		struct mel **ret)
{
	struct wasp_config *cfg = m->cfg;
	const struct applied *v = c->v;
	size_t n = c->n;
	struct mel *root;
	int r;

	m->errors += (int)c->n_bad;
	root = mel_default(m->tmp, q->ss->root, NULL);
	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct applied *a = &v[i];
		const struct cfg_inst *inst = a->inst;
		const char *file = inst->file->path;

		if (!inst->file->is_apphost) {
			const char *mfile = NULL;
			int mline = 0;
			enum cfg_override mode = decl_override(cfg, q->ss);
			enum cfg_allow_def ad = decl_allow(cfg, q->ss);
			bool from_location = false;

			for (size_t j = 0; j < i; j++)
				if (v[j].file_depth < a->file_depth &&
				    v[j].inst->mode != CFG_OVERRIDE_INHERIT) {
					mode = v[j].inst->mode;
					mfile = v[j].inst->file->path;
					mline = v[j].inst->mode_line;
					from_location = true;
				}
			if (mode == CFG_OVERRIDE_DENY) {
				if (from_location)
					merr(m, file, inst->root->line, NULL,
					     "section '%s' is locked: overrideMode=\"Deny\" in %s:%d",
					     q->ss->name, mfile, mline);
				else
					merr(m, file, inst->root->line, NULL,
					     "section '%s' is locked: overrideModeDefault=\"Deny\" in "
					     "%s; unlock it with <location path=\"...\" "
					     "overrideMode=\"Allow\">",
					     q->ss->name, decl_where(m->tmp, cfg, q->ss));
				continue;
			}
			if (ad == CFG_ALLOW_MACHINE_TO_APPLICATION && !a->app_root) {
				merr(m, file, inst->root->line, NULL,
				     "section '%s' may only be set at an application root "
				     "(allowDefinition=\"MachineToApplication\" in %s)",
				     q->ss->name, decl_where(m->tmp, cfg, q->ss));
				continue;
			}
		}
		r = merge_node(m, root, inst->root, &a->level, file);
		if (r < 0)
			return r;
	}
	apply_defaults(root, NULL, 0, m->tmp);
	*ret = root;
	return 0;
}

static int
compute(struct mctx *m, const struct compute_req *q, struct mel **ret)
{
	struct collected c;
	int r = collect(m, q, &c);

	return r < 0 ? r : merge_collected(m, q, &c, ret);
}

/* ---- public --------------------------------------------------------------- */

static const struct wasp_element *
section_at_apphost(struct wasp_config *cfg, const struct schema_section *ss,
		   struct wasp_diag_list *diags, int *ret_errors)
{
	_cleanup_(cfg_arena_freep) struct wasp_arena *tmp = NULL;
	struct wasp_element *e = cfg_cache_get(cfg->apphost_sections, ss->name);
	struct mctx m = { .cfg = cfg, .diags = diags };
	struct compute_req q = { .ss = ss };
	struct mel *root;

	if (e)
		return e;
	tmp = wasp_arena_new();
	if (!tmp)
		return NULL;
	m.tmp = tmp;
	if (compute(&m, &q, &root) < 0)
		return NULL;
	e = freeze_root(cfg, tmp, root);
	if (!e || cfg_cache_put(cfg->apphost_sections, ss->name, e) < 0)
		return NULL;
	if (ret_errors)
		*ret_errors = m.errors;
	return e;
}

const struct wasp_element *
wasp_config_section(struct wasp_config *cfg, const char *section)
{
	const struct schema_section *ss = cfg_schema_find(cfg->schema, section);

	if (!ss || !cfg->apphost)
		return NULL;
	return section_at_apphost(cfg, ss, NULL, NULL);
}

int
cfg_validate_apphost(struct wasp_config *cfg, struct wasp_diag_list *diags)
{
	int errors = 0;

	/* applicationHost.config's own level, every section it has, so that
	 * duplicate entries and the like are reported at load. */
	for (size_t i = 0; i < cfg->apphost->n_insts; i++) {
		const struct cfg_inst *inst = cfg->apphost->insts[i];
		int e = 0;

		if (*inst->location || cfg_cache_get(cfg->apphost_sections, inst->section->name))
			continue;
		if (!section_at_apphost(cfg, inst->section, diags, &e))
			return -ENOMEM;
		errors += e;
	}
	/* Each <location> path, applicationHost.config alone. */
	for (size_t i = 0; i < cfg->apphost->n_insts; i++) {
		const struct cfg_inst *inst = cfg->apphost->insts[i];
		_cleanup_(cfg_arena_freep) struct wasp_arena *tmp = NULL;
		struct compute_req q = { .ss = inst->section, .target = inst->location };
		struct wasp_diag_list local = WASP_DIAG_LIST_INIT;
		struct mctx m = { .cfg = cfg, .diags = &local };
		struct mel *root;
		const char *slash;
		int r;

		if (!*inst->location)
			continue;
		tmp = wasp_arena_new();
		if (!tmp)
			return -ENOMEM;
		m.tmp = tmp;
		slash = strchr(inst->location, '/');
		q.site = slash ? wasp_arena_strndup(tmp, inst->location,
						     (size_t)(slash - inst->location))
			       : inst->location;
		q.url = slash ? slash + 1 : "";
		if (!q.site)
			return -ENOMEM;
		r = compute(&m, &q, &root);
		/* The top level's problems were reported above already. */
		for (size_t j = 0; r >= 0 && j < local.n; j++) {
			const struct wasp_diag *d = &local.items[j];
			bool seen = false;

			for (size_t k = 0; diags && k < diags->n && !seen; k++)
				seen = diags->items[k].line == d->line &&
				       streq(diags->items[k].file, d->file) &&
				       streq(diags->items[k].message, d->message);
			if (seen)
				continue;
			r = wasp_diag_add(diags, d->severity, d->file, d->line, d->attribute, "%s",
					  d->message);
			if (d->severity == WASP_DIAG_ERROR)
				errors++;
		}
		wasp_diag_list_done(&local);
		if (r < 0)
			return r;
	}
	return errors ? -EINVAL : 0;
}

/* The merged result for what c found: from the shared table when the same
 * instances (at the same levels) were merged before, else merged now. */
static int
shared_result(struct mctx *m, const struct compute_req *q, const struct collected *c,
	      const struct shared **ret)
{
	struct wasp_config *cfg = m->cfg;
	struct shared *res;
	struct mel *root;
	char *sig;
	int r;

	sig = wasp_arena_printf(m->tmp, "%s", q->ss->name);
	for (size_t i = 0; sig && i < c->n; i++)
		sig = wasp_arena_printf(m->tmp, "%s\n%p %d %s", sig, (const void *)c->v[i].inst,
					c->v[i].app_root, c->v[i].path);
	for (size_t i = 0; sig && i < c->n_bad; i++)
		sig = wasp_arena_printf(m->tmp, "%s\nbad %p", sig, (const void *)c->bad[i]);
	if (!sig)
		return -ENOMEM;
	res = cfg_cache_get(cfg->shared, sig);
	if (res) {
		*ret = res;
		return 0;
	}
	r = merge_collected(m, q, c, &root);
	if (r < 0)
		return r;
	res = wasp_arena_zalloc(cfg->arena, sizeof(*res));
	if (!res || !(res->elem = freeze_root(cfg, m->tmp, root)))
		return -ENOMEM;
	res->result = m->errors ? -EINVAL : 0;
	res->err = m->first_err;
	if (!res->err && c->n_bad)
		res->err = c->bad[0]->first_err;
	r = cfg_cache_put(cfg->shared, sig, res);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}

static int
entry_new(const char *key, const struct shared *res, const struct dep *deps, size_t n_deps,
	  struct entry **ret)
{
	size_t size = sizeof(struct entry) + n_deps * sizeof(struct dep), off;
	struct entry *e;

	for (size_t i = 0; i < n_deps; i++)
		size += strlen(deps[i].path) + 1;
	e = malloc(size);
	if (!e)
		return -ENOMEM;
	/* the table's copy of the key and its slot, roughly */
	e->bytes = size + strlen(key) + 1 + 4 * sizeof(void *);
	e->res = res;
	e->checked_at = wasp_now_usec();
	e->n_deps = n_deps;
	off = sizeof(struct entry) + n_deps * sizeof(struct dep);
	for (size_t i = 0; i < n_deps; i++) {
		char *p = (char *)e + off;

		e->deps[i] = deps[i];
		strcpy(p, deps[i].path);
		e->deps[i].path = p;
		off += strlen(p) + 1;
	}
	*ret = e;
	return 0;
}

static const struct schema_section *
section_lookup(struct wasp_config *cfg, const char *name)
{
	const struct schema_section *ss;

	for (size_t i = 0; i < ELEMENTSOF(cfg->section_memo); i++)
		if (cfg->section_memo[i].name == name && cfg->section_memo[i].ss &&
		    streq(name, cfg->section_memo[i].ss->name))
			return cfg->section_memo[i].ss;
	ss = cfg_schema_find(cfg->schema, name);
	if (ss && streq(name, ss->name)) {
		unsigned i = cfg->section_memo_next++ % ELEMENTSOF(cfg->section_memo);

		cfg->section_memo[i].name = name;
		cfg->section_memo[i].ss = ss;
	}
	return ss;
}

/* Whether a cached answer still holds: checked within the revalidation
 * window, or every file and directory it depends on is as it was then. */
static bool
cache_fresh(const struct wasp_config *cfg, struct entry *ent)
{
	uint64_t now = wasp_now_usec();

	if (cfg->opts.revalidate_usec && now - ent->checked_at < cfg->opts.revalidate_usec)
		return true;
	for (size_t i = 0; i < ent->n_deps; i++) {
		struct dep d;

		restat_dep(&ent->deps[i], &d);
		if (!dep_same(&d, &ent->deps[i]))
			return false;
	}
	ent->checked_at = now;
	return true;
}

/* Keeps a computed answer under key, replacing old (a stale entry of the
 * same key, or NULL). The cache is bounded in entries and in bytes (a client
 * chooses the paths): an answer that alone would take a sixteenth of it is not
 * kept, and a full cache is emptied before a new key goes in. */
static int
cache_store(struct wasp_config *cfg, const char *key, const struct shared *res,
	    const struct collected *c, struct entry *old)
{
	struct entry *ent;
	int r = entry_new(key, res, c->deps, c->n_deps, &ent);

	if (r < 0)
		return r;
	if (ent->bytes > CFG_MAX_CACHED_BYTES / 16) {
		free(ent);
		if (old) {
			cfg->cache_bytes -= old->bytes;
			(void)cfg_cache_put(cfg->cache, key, NULL);
			free(old);
		}
		return 0;
	}
	if (!old && (cfg_cache_count(cfg->cache) >= CFG_MAX_CACHED_PATHS ||
		     cfg->cache_bytes + ent->bytes > CFG_MAX_CACHED_BYTES)) {
		cfg_cache_clear(cfg->cache, free);
		cfg->cache_bytes = 0;
	}
	r = cfg_cache_put(cfg->cache, key, ent);
	if (r < 0) {
		free(ent);
		return r;
	}
	cfg->cache_bytes += ent->bytes;
	if (old) {
		cfg->cache_bytes -= old->bytes;
		free(old);
	}
	return 0;
}

static int
effective_at(struct wasp_config *cfg, const char *site, const char *url_path, const char *section,
	     const struct shared **ret, struct wasp_diag_list *diags)
{
	_cleanup_(cfg_arena_freep) struct wasp_arena *tmp = NULL;
	_cleanup_free_ char *heap = NULL;
	const struct schema_section *ss;
	struct mctx m = { .cfg = cfg, .diags = diags };
	struct compute_req q = { .web_configs = true };
	const struct shared *res;
	struct collected c;
	struct entry *ent;
	size_t ls, lu, need;
	char buf[512], *key, *url;
	int r;

	if (!cfg->apphost)
		return -ENOENT;
	ss = section_lookup(cfg, section);
	if (!ss)
		return -ENOENT;
	/* The cache key, "site\nurl\nsection", without allocating on a hit
	 * (this runs for every request). */
	if (!url_path)
		url_path = "";
	ls = strlen(site);
	lu = strlen(url_path);
	need = ls + lu + strlen(ss->name) + 3;
	key = need <= sizeof(buf) ? buf : (heap = malloc(need));
	if (!key)
		return -ENOMEM;
	for (size_t i = 0; i < ls; i++)
		key[i] = (char)tolower((unsigned char)site[i]);
	key[ls] = '\n';
	url = key + ls + 1;
	cfg_normalize_path_into(url, url_path);
	lu = strlen(url);
	/* The caller resolves dot segments; one left here would map outside
	 * the site's directories. */
	for (const char *p = url; *p; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return -EINVAL;
	url[lu] = '\n';
	strcpy(url + lu + 1, ss->name);
	ent = cfg_cache_get(cfg->cache, key);
	if (ent && cache_fresh(cfg, ent)) {
		*ret = ent->res;
		return ent->res->result;
	}
	tmp = wasp_arena_new();
	if (!tmp)
		return -ENOMEM;
	url = wasp_arena_strndup(tmp, url, lu);
	if (!url)
		return -ENOMEM;
	if (!find_site(cfg, site))
		return -ENOENT;
	m.tmp = tmp;
	q.ss = ss;
	q.site = site;
	q.url = url;
	q.target = *url ? wasp_arena_printf(tmp, "%s/%s", site, url) : site;
	if (!q.target)
		return -ENOMEM;
	r = collect(&m, &q, &c);
	if (r < 0)
		return r;
	r = shared_result(&m, &q, &c, &res);
	if (r < 0)
		return r;
	r = cache_store(cfg, key, res, &c, ent);
	if (r < 0)
		return r;
	*ret = res;
	return res->result;
}

size_t
wasp_config_cache_bytes(const struct wasp_config *cfg)
{
	return cfg->cache_bytes;
}

int
wasp_config_effective_section_at(struct wasp_config *cfg, const char *site, const char *url_path,
				 const char *section, const struct wasp_element **ret,
				 struct wasp_diag_list *diags)
{
	const struct shared *res = NULL;
	int r = effective_at(cfg, site, url_path, section, &res, diags);

	if (res)
		*ret = res->elem;
	return r;
}

int
wasp_config_effective_section(struct wasp_config *cfg, const char *site_path, const char *section,
			      const struct wasp_element **ret, struct wasp_diag_list *diags)
{
	const char *slash = strchr(site_path, '/');
	_cleanup_free_ char *site = NULL;

	if (!slash)
		return wasp_config_effective_section_at(cfg, site_path, "", section, ret, diags);
	site = strndup(site_path, (size_t)(slash - site_path));
	if (!site)
		return -ENOMEM;
	return wasp_config_effective_section_at(cfg, site, slash, section, ret, diags);
}

/* ---- can a path's configuration be used (500.19) ------------------------ */

static bool
value_is_default(const struct wasp_value *v, const struct wasp_value *def)
{
	switch (v->type) {
	case WASP_ATTR_BOOL:
		return v->b == def->b;
	case WASP_ATTR_INT:
		return v->i == def->i;
	case WASP_ATTR_UINT:
	case WASP_ATTR_ENUM:
	case WASP_ATTR_FLAGS:
	case WASP_ATTR_TIMESPAN:
		return v->u == def->u;
	default:
		return streq(v->text, def->text);
	}
}

/* An element of a notImplemented section that changes nothing: every
 * attribute the schema declares at its default, and so every child
 * element and every collection entry. */
static bool
elem_inert(const struct wasp_element *e, const struct schema_elem *s)
{
	for (size_t i = 0; i < e->n_attrs; i++) {
		const struct schema_attr *sa = schema_elem_attr(s, e->attrs[i].name);

		if (sa && e->attrs[i].is_set && !value_is_default(&e->attrs[i].value, &sa->def))
			return false;
	}
	for (size_t i = 0; i < e->n_children; i++) {
		const struct schema_elem *cs = schema_elem_child(s, e->children[i]->name);

		if (cs && !elem_inert(e->children[i], cs))
			return false;
	}
	for (size_t i = 0; i < e->n_items; i++)
		if (!s->coll || !elem_inert(e->items[i], s->coll->item))
			return false;
	return true;
}

/* Does an instance of ss that applies remove entries (<remove>, <clear/>)?
 * An emptied authorization denies everyone; one merely left empty (IIS's
 * applicationHost.config when URL Authorization is not installed) nothing. */
static bool
removes_items(const struct collected *c, const struct schema_section *ss)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct cfg_node *root = c->v[i].inst->root;

		if (c->v[i].inst->section != ss)
			continue;
		for (size_t k = 0; k < root->n_kids; k++)
			if (root->kids[k]->kind == CFG_NODE_REMOVE ||
			    root->kids[k]->kind == CFG_NODE_CLEAR)
				return true;
	}
	return false;
}

/* The generation's one result for the error err under signature sig, so
 * that asking about many URLs does not grow the generation. NULL on OOM. */
static const struct shared *
shared_error(struct wasp_config *cfg, const char *sig, const struct wasp_config_error *err)
{
	struct shared *res = cfg_cache_get(cfg->shared, sig);

	if (res)
		return res;
	res = wasp_arena_zalloc(cfg->arena, sizeof(*res));
	if (!res)
		return NULL;
	res->result = -EINVAL;
	res->err = err;
	return cfg_cache_put(cfg->shared, sig, res) < 0 ? NULL : res;
}

/* The answer for an error made here (a path that does not exist, a section
 * not implemented): one per distinct text, so that asking about many URLs
 * does not grow the generation. */
static const struct shared *
check_error(struct wasp_config *cfg, struct wasp_arena *tmp, const char *file, int line,
	    const char *attr, const char *msg)
{
	char *sig = wasp_arena_printf(tmp, "\001check\n%s\n%d\n%s\n%s", file, line, strempty(attr),
				      msg);
	const struct wasp_config_error *err;
	struct shared *res;

	if (!sig)
		return NULL;
	res = cfg_cache_get(cfg->shared, sig);
	if (res)
		return res;
	err = cfg_error_new(cfg->arena, file, line, attr, msg);
	return err ? shared_error(cfg, sig, err) : NULL;
}

/* The same for an error that has a home already (a file's, a merge's). */
static const struct shared *
check_result(struct wasp_config *cfg, struct wasp_arena *tmp, const struct wasp_config_error *err)
{
	static const struct shared ok = { .result = 0 };
	char *sig;

	if (!err)
		return &ok;
	sig = wasp_arena_printf(tmp, "\001check %p", (const void *)err);
	if (!sig)
		return NULL;
	return shared_error(cfg, sig, err);
}

static int
check_compute(struct wasp_config *cfg, struct wasp_arena *tmp, const char *site, const char *url,
	      struct collected *c, const struct shared **ret, struct wasp_diag_list *diags)
{
	struct mctx m = { .cfg = cfg, .tmp = tmp, .diags = diags };
	struct compute_req q = { .site = site, .url = url, .web_configs = true };
	const struct wasp_element *site_e = find_site(cfg, site);
	const struct shared *res = NULL;
	const char *vd_root = NULL;
	bool app_root;
	int r;

	if (!site_e)
		return -ENOENT;
	q.target = *url ? wasp_arena_printf(tmp, "%s/%s", site, url) : site;
	if (!q.target)
		return -ENOMEM;
	r = collect(&m, &q, c);
	if (r < 0)
		return r;
	/* The virtual directory's physical path: IIS cannot read its
	 * configuration ("Cannot read configuration file"). */
	(void)map_url_dir(tmp, site_e, url, &app_root, &vd_root);
	if (vd_root && *vd_root) {
		struct dep *dep = wasp_arena_alloc(tmp, (c->n_deps + 1) * sizeof(*dep));

		if (!dep)
			return -ENOMEM;
		memcpy(dep, c->deps, c->n_deps * sizeof(*dep));
		c->deps = dep;
		stat_dep_dir(vd_root, &dep[c->n_deps]);
		if (!dep[c->n_deps++].exists) {
			const char *wc = wasp_arena_printf(tmp, "%s/web.config", vd_root);
			const char *msg = wasp_arena_printf(
				tmp, "the virtual directory's physical path '%s' does not exist",
				vd_root);

			if (!wc || !msg)
				return -ENOMEM;
			(void)wasp_diag_add(diags, WASP_DIAG_ERROR, wc, 0, NULL, "%s", msg);
			res = check_error(cfg, tmp, wc, 0, NULL, msg);
			if (!res)
				return -ENOMEM;
		}
	}
	if (!res && c->n_bad && !(res = check_result(cfg, tmp, c->bad[0]->first_err)))
		return -ENOMEM;
	/* Every section written along the path, merged as a request would
	 * (overrideMode, allowDefinition, locks, duplicates), and the
	 * notImplemented ones in use. */
	/* (all of them, so that every problem is reported; the first is the
	 * answer) */
	for (size_t i = 0; i < c->n; i++) {
		const struct schema_section *ss = c->v[i].inst->section;
		const struct shared *sec = NULL;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = c->v[j].inst->section == ss;
		if (seen)
			continue;
		r = effective_at(cfg, site, url, ss->name, &sec, diags);
		if (r == -ENOMEM)
			return r;
		if (!sec)
			continue;
		if (sec->result < 0) {
			if (!res && !(res = check_result(cfg, tmp, sec->err)))
				return -ENOMEM;
		}
		if (ss->not_implemented && sec->elem &&
		    (!elem_inert(sec->elem, ss->root) ||
		     (ss->empty_restricts && sec->elem->n_items == 0 && removes_items(c, ss)))) {
			const char *msg = wasp_arena_printf(
				tmp,
				"section '%s' is not implemented by wasp, and it would restrict or "
				"redirect what is served here",
				ss->name);

			if (!msg)
				return -ENOMEM;
			(void)wasp_diag_add(diags, WASP_DIAG_ERROR, strempty(sec->elem->file),
					    sec->elem->line, NULL, "%s", msg);
			if (!res && !(res = check_error(cfg, tmp, strempty(sec->elem->file),
							sec->elem->line, NULL, msg)))
				return -ENOMEM;
		}
	}
	*ret = res ? res : check_result(cfg, tmp, NULL);
	return 0;
}

int
wasp_config_check_path(struct wasp_config *cfg, const char *site, const char *url_path,
		       const struct wasp_config_error **ret_err, struct wasp_diag_list *diags)
{
	_cleanup_(cfg_arena_freep) struct wasp_arena *tmp = NULL;
	const struct shared *res = NULL;
	struct entry *ent;
	struct collected c;
	char *key, *url;
	int r;

	*ret_err = NULL;
	if (!cfg->apphost)
		return -ENOENT;
	tmp = wasp_arena_new();
	if (!tmp)
		return -ENOMEM;
	url = wasp_arena_alloc(tmp, strlen(url_path ? url_path : "") + 1);
	if (!url)
		return -ENOMEM;
	cfg_normalize_path_into(url, url_path ? url_path : "");
	for (const char *p = url; *p; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return -ENOENT;
	key = wasp_arena_printf(tmp, "%s\n%s\n\001check", site, url);
	if (!key)
		return -ENOMEM;
	for (char *p = key; *p != '\n'; p++)
		*p = (char)tolower((unsigned char)*p);
	ent = cfg_cache_get(cfg->cache, key);
	if (ent && cache_fresh(cfg, ent)) {
		*ret_err = ent->res->err;
		return ent->res->result;
	}
	r = check_compute(cfg, tmp, site, url, &c, &res, diags);
	if (r < 0)
		return r;
	if (!res)
		return -ENOMEM;
	r = cache_store(cfg, key, res, &c, ent);
	if (r < 0)
		return r;
	*ret_err = res->err;
	return res->result;
}
