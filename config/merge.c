/* IIS's merge rules: the section instances that apply, merged in order
 * (overrideMode, allowDefinition, locks, collections with add/remove/clear,
 * *Defaults elements) into one element tree in a temporary arena. What
 * applies is found by collect.c; the result is frozen by freeze.c. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"

/* Where a lock was set. */
struct lock {
	const struct level *level;
	const char *file;
	int line;
	const char *kind; /* "lockAttributes", ... for messages */
};

#define KIDX_MIN 16

static void
merr(struct mctx *m, const char *file, int line, const char *attr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
merr(struct mctx *m, const char *file, int line, const char *attr, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = cfg_diag_addv(m->diags, WASP_DIAG_ERROR, file, line, attr, fmt, ap);
	va_end(ap);
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
	const struct cfg_locks *sl = cfg_node_locks(src);

	for (size_t i = 0; i < sl->lock_attrs.n; i++) {
		const struct schema_attr *sa = schema_elem_attr(dst->schema, sl->lock_attrs.v[i]);
		size_t idx;

		if (!sa) {
			(void)wasp_diag_add(m->diags, WASP_DIAG_WARNING, file, src->line,
					    "lockAttributes",
					    "<%s> has no attribute '%s' to lock, ignoring", src->name,
					    sl->lock_attrs.v[i]);
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
	if (sl->has_lock_all_attrs_except && !dst->all_attrs_except) {
		if (!(dst->all_attrs_except =
			      new_lock(m, lv, file, src->line, "lockAllAttributesExcept")))
			return -ENOMEM;
		dst->all_attrs_except_names = sl->lock_all_attrs_except;
	}
	for (size_t i = 0; i < sl->lock_elements.n; i++) {
		struct locked_elem *le = CFG_PUSH(m->tmp, dst->locked_elems, dst->n_locked_elems,
						  dst->n_locked_elems_alloc);

		if (!le)
			return -ENOMEM;
		le->name = sl->lock_elements.v[i];
		le->lock = new_lock(m, lv, file, src->line, "lockElements");
		if (!le->lock)
			return -ENOMEM;
	}
	if (sl->has_lock_all_elements_except && !dst->all_elems_except) {
		if (!(dst->all_elems_except =
			      new_lock(m, lv, file, src->line, "lockAllElementsExcept")))
			return -ENOMEM;
		dst->all_elems_except_names = sl->lock_all_elements_except;
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
					      src->attrs[j].schema->name, src->attrs[j].value.text);
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

/* <remove> of the entry with k's key, unless a lockItem of another level
 * keeps it. */
static void
merge_remove(struct mctx *m, struct mel *dst, const struct cfg_node *k, const struct level *lv,
	     const char *file, size_t *insert_at)
{
	for (size_t j = 0; j < dst->n_items; j++) {
		const struct lock *il = dst->items[j]->item_lock;

		if (!keys_equal(dst->items[j], k))
			continue;
		if (il && !same_level(il->level, lv))
			merr(m, file, k->line, NULL,
			     "cannot remove the entry with %s: it is locked (%s)",
			     key_desc(m->tmp, k), lock_desc(m->tmp, il));
		else
			remove_item(dst, j, insert_at);
		return;
	}
}

/* <clear/>, unless an entry has a lockItem of another level. */
static void
merge_clear(struct mctx *m, struct mel *dst, const struct cfg_node *k, const struct level *lv,
	    const char *file, size_t *insert_at)
{
	const struct lock *il = NULL;

	for (size_t j = 0; j < dst->n_items && !il; j++)
		if (dst->items[j]->item_lock && !same_level(dst->items[j]->item_lock->level, lv))
			il = dst->items[j]->item_lock;
	if (il) {
		merr(m, file, k->line, NULL, "cannot <%s> the collection: an entry is locked (%s)",
		     k->name, lock_desc(m->tmp, il));
		return;
	}
	dst->n_items = 0;
	dst->n_builtin = 0;
	dst->kidx = NULL;
	*insert_at = 0;
}

/* One child of src (an element, <add>, <remove> or <clear/>) merged into dst. */
static int
merge_kid(struct mctx *m, struct mel *dst, const struct cfg_node *k, const struct level *lv,
	  const char *file, size_t *insert_at)
{
	int r;

	if (!elem_allowed(m, dst, k->name, lv, file, k->line))
		return 0;
	if (dst->n_builtin && lv->replaces_builtin &&
	    (k->kind == CFG_NODE_ADD || k->kind == CFG_NODE_CLEAR))
		for (size_t j = dst->n_items; j-- > 0;)
			if (dst->items[j]->added_at && dst->items[j]->added_at->builtin)
				remove_item(dst, j, insert_at);
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
		return merge_add(m, dst, k, lv, file, insert_at);
	case CFG_NODE_REMOVE:
		merge_remove(m, dst, k, lv, file, insert_at);
		break;
	case CFG_NODE_CLEAR:
		merge_clear(m, dst, k, lv, file, insert_at);
		break;
	}
	return 0;
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
			merr(m, file, src->line, na->schema->name, "is locked (%s)", lock_desc(m->tmp, l));
			continue;
		}
		l = dst->all_attrs_except;
		if (l && !same_level(l->level, lv) &&
		    !names_has(&dst->all_attrs_except_names, na->schema->name)) {
			merr(m, file, src->line, na->schema->name, "is locked (%s)", lock_desc(m->tmp, l));
			continue;
		}
		dst->attrs[idx].value = na->value;
		dst->attrs[idx].is_set = true;
		dst->attrs[idx].file = file;
		dst->attrs[idx].line = src->line;
	}
	r = record_locks(m, dst, src, lv, file);
	if (r < 0)
		return r;
	for (size_t i = 0; i < src->n_kids; i++) {
		r = merge_kid(m, dst, src->kids[i], lv, file, &insert_at);
		if (r < 0)
			return r;
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

/* ---- the instances that apply, in order --------------------------------- */

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

int
cfg_merge_collected(struct mctx *m, const struct compute_req *q, const struct collected *c,
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

int
cfg_compute(struct mctx *m, const struct compute_req *q, 			struct mel **ret)
{
	struct collected c;
	int r = cfg_collect(m, q, &c);

	return r < 0 ? r : cfg_merge_collected(m, q, &c, ret);
}
