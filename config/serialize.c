/* A generation serialized for handing it to a worker in a sealed memfd: the
 * parsed schema packed (cfg_schema_pack(): the worker needs no XML parser
 * for it), then JSON with the configSections
 * declarations and applicationHost.config's sections as parsed (values
 * already expanded and resolved, "password" attributes left out). The
 * worker rebuilds the same generation from it without reading
 * applicationHost.config. The framing is described at
 * wasp_config_serialize(). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apphost.h"
#include "internal.h"
#include "memfd.h"

#define CFG_SERIAL_VERSION 3
#define CFG_SERIAL_MAX WASP_CONFIG_SERIAL_MAX
#define SEC_POOLS "system.applicationHost/applicationPools"
#define SEC_SITES "system.applicationHost/sites"

static json_t *
names_json(const struct cfg_names *n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n->n; i++)
		if (json_array_append_new(a, json_string(n->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* A node is an array, the cheapest thing jansson reads back:
 *   [kind, name, line, lock_item, [attr name, text, line, ...],
 *    [child nodes], lockAttributes, lockAllAttributesExcept, lockElements,
 *    lockAllElementsExcept]
 * the lock lists being arrays of names, or null. */
static json_t *
lock_json(bool present, const struct cfg_names *n)
{
	return present ? names_json(n) : json_null();
}

/* A per-pool serialization (wasp_config_serialize_pool): the pool, and the
 * pools and sites kept, by lower-cased name. */
struct keep_set {
	struct cfg_cache *names;
	uint32_t *hashes; /* name_hash() of each, to pass over the others fast */
	size_t n, n_alloc;
};

struct cfg_filter {
	const char *pool;
	struct keep_set pools, sites;
	bool no_lines; /* wasp_config_pool_digest(): line numbers as 0, and the
			  other pools kept by name only */
};

/* The name's hash; never 0 (0: no name). */
static uint32_t
name_hash(const char *s)
{
	return hash_lower_str(s) | 1;
}

static void
keep_set_done(struct keep_set *k)
{
	cfg_cache_free(k->names);
	free(k->hashes);
}

/* name lower-cased (IIS compares names case-insensitively) into buf when
 * it fits (it is looked up for every pool and site of the generation: no
 * malloc then), else malloc'd into *ret_free. NULL on OOM. */
static const char *
filter_key(const char *name, char *buf, size_t size, char **ret_free)
{
	size_t n = strlen(name);
	char *k = buf;

	*ret_free = NULL;
	if (n >= size && !(k = *ret_free = malloc(n + 1)))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		k[i] = (char)tolower((unsigned char)name[i]);
	return k;
}

static bool
filter_has(struct cfg_cache *set, const char *name)
{
	_cleanup_free_ char *f = NULL;
	char buf[128];
	const char *k = filter_key(name, buf, sizeof(buf), &f);

	return k && cfg_cache_get(set, k) != NULL;
}

static int
filter_add(struct keep_set *set, const char *name)
{
	_cleanup_free_ char *f = NULL;
	char buf[128];
	const char *k = filter_key(name, buf, sizeof(buf), &f);

	if (!k)
		return -ENOMEM;
	if (set->n == set->n_alloc) {
		size_t n = set->n_alloc ? set->n_alloc * 2 : 8;
		uint32_t *v = realloc(set->hashes, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		set->hashes = v;
		set->n_alloc = n;
	}
	set->hashes[set->n++] = name_hash(name);
	return cfg_cache_put(set->names, k, set);
}

/* Per generation (made at its first per-pool serialization, in its arena):
 * the name_hash() of every child of the sites and applicationPools
 * sections' roots, 0 for a child with no name, so that a pool's
 * serialization passes over the other sites and pools (all but a few of
 * thousands) comparing integers. NULL (no cache) on OOM. */
struct cfg_kid_hashes {
	struct cfg_kid_hashes *next;
	const struct cfg_node *root;
	uint32_t *h;
};

static const uint32_t *
kid_hashes(const struct wasp_config *ccfg, const struct cfg_node *root)
{
	struct wasp_config *cfg = (struct wasp_config *)(uintptr_t)ccfg; /* a cache */
	struct cfg_kid_hashes *k;

	for (k = cfg->kid_hashes; k; k = k->next)
		if (k->root == root)
			return k->h;
	k = wasp_arena_alloc(cfg->arena, sizeof(*k));
	if (!k || !(k->h = wasp_arena_alloc(cfg->arena, root->n_kids * sizeof(uint32_t))))
		return NULL;
	for (size_t i = 0; i < root->n_kids; i++) {
		const struct cfg_node *kid = root->kids[i];

		k->h[i] = 0;
		if (kid->kind != CFG_NODE_ADD && kid->kind != CFG_NODE_REMOVE)
			continue;
		for (size_t j = 0; j < kid->n_attrs; j++)
			if (strcaseeq(kid->attrs[j].name, "name")) {
				k->h[i] = name_hash(kid->attrs[j].value.text);
				break;
			}
	}
	k->root = root;
	k->next = cfg->kid_hashes;
	cfg->kid_hashes = k;
	return k->h;
}

/* Whether a child of a collection keyed by "name" (applicationPools' add,
 * sites' site, and their remove) stays: its name is in keep. Other children
 * (defaults elements, clear) always stay. */
static bool
keep_may_have(const struct keep_set *keep, uint32_t hash)
{
	for (size_t i = 0; i < keep->n; i++)
		if (keep->hashes[i] == hash)
			return true;
	return false;
}

static bool
node_kept(const struct cfg_node *k, const struct keep_set *keep)
{
	if (!keep || (k->kind != CFG_NODE_ADD && k->kind != CFG_NODE_REMOVE))
		return true;
	for (size_t i = 0; i < k->n_attrs; i++)
		if (strcaseeq(k->attrs[i].name, "name"))
			return filter_has(keep->names, k->attrs[i].value.text);
	return true;
}

/* The name of a child kept by node_kept(), or NULL. */
static const char *
node_name(const struct cfg_node *k)
{
	for (size_t i = 0; i < k->n_attrs; i++)
		if (strcaseeq(k->attrs[i].name, "name"))
			return k->attrs[i].value.text;
	return NULL;
}

/* A kept <add name> other than `only`, as its name alone: a pool's digest
 * must not change with the settings of another pool its sites name (they
 * configure that pool's workers, not this one's). */
static json_t *
node_name_json(const struct cfg_node *k)
{
	return json_pack("[i, s, i, b, [s, s, i], [], n, n, n, n]", (int)k->kind, k->name, 0,
			 false, "name", node_name(k), 0);
}

/* keep: see node_kept(), for n's own children; NULL keeps them all.
 * lines: false writes every line number as 0. only: when set, a kept child
 * with another name is written by its name alone (node_name_json). */
static json_t *
node_json(const struct cfg_node *n, const struct keep_set *keep, const uint32_t *kid_h,
	  bool lines, const char *only)
{
	const struct cfg_locks *l = cfg_node_locks(n);
	json_t *o, *attrs = json_array(), *kids = json_array();

	o = json_pack("[i, s, i, b, o, o, o, o, o, o]", (int)n->kind, n->name, lines ? n->line : 0,
		      n->lock_item, attrs, kids, lock_json(l->lock_attrs.n > 0, &l->lock_attrs),
		      lock_json(l->has_lock_all_attrs_except, &l->lock_all_attrs_except),
		      lock_json(l->lock_elements.n > 0, &l->lock_elements),
		      lock_json(l->has_lock_all_elements_except, &l->lock_all_elements_except));
	if (!o)
		return NULL;
	for (size_t i = 0; i < n->n_attrs; i++) {
		const struct cfg_nattr *a = &n->attrs[i];

		if (strcaseeq(a->name, "password"))
			continue;
		if (json_array_append_new(attrs, json_string(a->name)) < 0 ||
		    json_array_append_new(attrs, json_string(a->value.text)) < 0 ||
		    json_array_append_new(attrs, json_integer(lines ? a->line : 0)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < n->n_kids; i++) {
		json_t *k;

		/* by the hash first: the node itself (one of thousands, each
		 * elsewhere in memory) is not read for another pool's entry */
		if (kid_h && kid_h[i] && !keep_may_have(keep, kid_h[i]))
			continue;
		if (!node_kept(n->kids[i], keep))
			continue;
		if (only && n->kids[i]->kind == CFG_NODE_ADD && node_name(n->kids[i]) &&
		    !strcaseeq(node_name(n->kids[i]), only))
			k = node_name_json(n->kids[i]);
		else
			k = node_json(n->kids[i], NULL, NULL, lines, NULL);
		if (!k || json_array_append_new(kids, k) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* Whether a <location path> is about a kept site (or about none). */
static bool
location_kept(const char *location, const struct cfg_filter *filter)
{
	_cleanup_free_ char *site = NULL;

	if (!filter || !*location)
		return true;
	site = strndup(location, strcspn(location, "/"));
	return site && filter_has(filter->sites.names, site);
}

/* filter: NULL for the whole generation. */
static json_t *
config_json(const struct wasp_config *cfg, const struct cfg_filter *filter)
{
	const struct cfg_file *f = cfg->apphost;
	json_t *decls = json_array(), *insts = json_array(), *o;
	bool lines = !filter || !filter->no_lines;

	o = json_pack("{s:i, s:s, s:s, s:o, s:o}", "wasp_config", CFG_SERIAL_VERSION, "file",
		      f->path, "dir", f->dir, "decls", decls, "insts", insts);
	if (!o)
		return NULL;
	if (filter && json_object_set_new(o, "pool", json_string(filter->pool)) < 0)
		goto fail;
	for (size_t i = 0; i < f->n_decls; i++) {
		const struct cfg_decl *d = &f->decls[i];

		if (json_array_append_new(decls,
					  json_pack("{s:s, s:i, s:i, s:b, s:s, s:i}", "name",
						    d->name, "ad", (int)d->allow_definition, "om",
						    (int)d->override_default, "known", d->known,
						    "file", d->file, "line", lines ? d->line : 0)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < f->n_insts; i++) {
		const struct cfg_inst *in = f->insts[i];
		const struct keep_set *keep = NULL;
		const char *only = NULL;
		json_t *root;

		if (!location_kept(in->location, filter))
			continue;
		if (filter && strcaseeq(in->section->name, SEC_POOLS)) {
			keep = &filter->pools;
			only = filter->no_lines ? filter->pool : NULL;
		} else if (filter && strcaseeq(in->section->name, SEC_SITES)) {
			keep = &filter->sites;
		}
		root = node_json(in->root, keep, keep ? kid_hashes(cfg, in->root) : NULL, lines,
				 only);

		if (!root ||
		    json_array_append_new(insts,
					  json_pack("{s:s, s:s, s:b, s:b, s:i, s:i, s:o}", "section",
						    in->section->name, "location", in->location,
						    "in_location", in->in_location, "nic",
						    in->no_child_apps, "mode", (int)in->mode,
						    "mode_line", lines ? in->mode_line : 0, "root", root)) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The buffer: the schema as cfg_schema_pack() writes it (parsing its XML
 * again, or reading it as JSON, would cost a worker's start more than the
 * rest of its configuration), then the JSON:
 *
 *   "wasp-config 3\n"
 *   "schema LEN\n" PACKED "\n"
 *   "json LEN\n" JSON
 */
#define CFG_SERIAL_MAGIC "wasp-config 3\n"

static int
serialize(const struct wasp_config *cfg, const struct cfg_filter *filter, char **ret_buf,
	  size_t *ret_len)
{
	_cleanup_free_ char *js = NULL;
	const char *packed;
	char *buf = NULL;
	size_t len = 0, packed_len;
	FILE *f;
	json_t *o;
	int r;

	if (!cfg->apphost)
		return -EINVAL;
	r = cfg_schema_pack(cfg->schema, &packed, &packed_len);
	if (r < 0)
		return r;
	o = config_json(cfg, filter);
	if (!o)
		return -ENOMEM;
	js = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!js)
		return -ENOMEM;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fputs(CFG_SERIAL_MAGIC, f);
	fprintf(f, "schema %zu\n", packed_len);
	fwrite(packed, 1, packed_len, f);
	fputc('\n', f);
	fprintf(f, "json %zu\n", strlen(js));
	fputs(js, f);
	if (ferror(f) || fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	if (len > CFG_SERIAL_MAX) { /* loading refused it already */
		free(buf);
		return -EFBIG;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int
wasp_config_serialize(const struct wasp_config *cfg, char **ret_buf, size_t *ret_len)
{
	return serialize(cfg, NULL, ret_buf, ret_len);
}

/* The filter for pool: the sites that have an application in it, and the
 * pools their applications name (pool among them). */
/* sites: the pool's sites (see wasp_config_serialize_pool_memfd()), or
 * NULL to find them. */
static int
filter_build(const struct wasp_apphost *ah, const char *pool, const uint32_t *sites,
	     size_t n_sites, struct cfg_filter *ret)
{
	const struct wasp_apppool *ap = NULL;
	int r = 0;

	for (size_t i = 0; i < ah->n_pools && !ap && !sites; i++)
		if (strcaseeq(ah->pools[i].name, pool))
			ap = &ah->pools[i];
	if (!ap && !sites)
		return -ENOENT;
	ret->pool = pool;
	ret->pools.names = cfg_cache_new();
	ret->sites.names = cfg_cache_new();
	if (!ret->pools.names || !ret->sites.names)
		return -ENOMEM;
	r = filter_add(&ret->pools, pool);
	for (size_t k = 0; r >= 0 && k < (sites ? n_sites : ah->n_sites); k++) {
		const struct wasp_site *site = &ah->sites[sites ? sites[k] : k];
		bool kept = sites != NULL;

		/* by the pool id the typed view resolved (the same name, case
		 * aside): an integer compare for each of thousands of sites */
		for (size_t j = 0; j < site->n_apps && !kept; j++)
			kept = site->apps[j].pool_id == ap->id;
		if (!kept)
			continue;
		r = filter_add(&ret->sites, site->name);
		for (size_t j = 0; r >= 0 && j < site->n_apps; j++)
			if (site->apps[j].application_pool)
				r = filter_add(&ret->pools, site->apps[j].application_pool);
	}
	return r;
}

static int
serialize_pool(const struct wasp_config *cfg, const struct wasp_apphost *ah, const char *pool,
	       const uint32_t *sites, size_t n_sites, char **ret_buf, size_t *ret_len)
{
	struct cfg_filter filter = { 0 };
	int r;

	if (!cfg->apphost)
		return -EINVAL;
	r = filter_build(ah, pool, sites, n_sites, &filter);
	if (r >= 0)
		r = serialize(cfg, &filter, ret_buf, ret_len);
	keep_set_done(&filter.pools);
	keep_set_done(&filter.sites);
	return r;
}

int
wasp_config_serialize_pool(const struct wasp_config *cfg, const struct wasp_apphost *ah,
			   const char *pool, char **ret_buf, size_t *ret_len)
{
	return serialize_pool(cfg, ah, pool, NULL, 0, ret_buf, ret_len);
}

int
wasp_config_pool_digest(const struct wasp_config *cfg, const struct wasp_apphost *ah,
			const char *pool, char **ret_buf, size_t *ret_len)
{
	struct cfg_filter filter = { .no_lines = true };
	json_t *o = NULL;
	char *js = NULL;
	int r;

	if (!cfg->apphost)
		return -EINVAL;
	r = filter_build(ah, pool, NULL, 0, &filter);
	if (r >= 0) {
		o = config_json(cfg, &filter);
		js = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		r = js ? 0 : -ENOMEM;
	}
	keep_set_done(&filter.pools);
	keep_set_done(&filter.sites);
	if (r < 0)
		return r;
	*ret_len = strlen(js);
	*ret_buf = js;
	return 0;
}

int
wasp_config_serialize_pool_memfd(const struct wasp_config *cfg, const struct wasp_apphost *ah,
				 const char *pool, const uint32_t *sites, size_t n_sites)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = serialize_pool(cfg, ah, pool, sites, n_sites, &buf, &len);
	if (r < 0)
		return r;
	return wasp_memfd_create_sealed("wasp-config", buf, len);
}

const char *
wasp_config_pool(const struct wasp_config *cfg)
{
	return cfg->pool;
}

int
wasp_config_serialize_memfd(const struct wasp_config *cfg)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = wasp_config_serialize(cfg, &buf, &len);
	if (r < 0)
		return r;
	return wasp_memfd_create_sealed("wasp-config", buf, len);
}

/* ---- how large it would be ------------------------------------------------------ */

/* A JSON string's length as jansson writes it: quotes, two-byte escapes
 * for '"', '\\' and the C escapes, six for other control characters. */
static size_t
json_str_bound(const char *s)
{
	size_t n = 2;

	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
		n += *p == '"' || *p == '\\' ? 2 : *p < 0x20 ? 6 : 1;
	return n;
}

#define JSON_INT_MAX_LEN 11 /* an int, sign included */

/* "%d"'s length, counted (it is asked for every attribute of a
 * generation: snprintf was a tenth of loading one). */
static size_t
int_len(int v)
{
	unsigned int u = v < 0 ? 0u - (unsigned int)v : (unsigned int)v;
	size_t n = v < 0 ? 2 : 1;

	while (u >= 10) {
		u /= 10;
		n++;
	}
	return n;
}

static size_t
names_bound(const struct cfg_names *n)
{
	size_t b = 2;

	for (size_t i = 0; i < n->n; i++)
		b += json_str_bound(n->v[i]) + 1;
	return b;
}

static size_t
node_bound(const struct cfg_node *n)
{
	/* [kind, "name", line, false, [attrs], [kids], 4 lock lists or null] */
	size_t b = 48 + json_str_bound(n->name) + int_len(n->line);
	const struct cfg_locks *l;

	for (size_t i = 0; i < n->n_attrs; i++)
		b += json_str_bound(n->attrs[i].name) + json_str_bound(n->attrs[i].value.text) +
		     int_len(n->attrs[i].line) + 3;
	for (size_t i = 0; i < n->n_kids; i++)
		b += node_bound(n->kids[i]) + 1;
	l = cfg_node_locks(n);
	return b + names_bound(&l->lock_attrs) + names_bound(&l->lock_all_attrs_except) +
	       names_bound(&l->lock_elements) + names_bound(&l->lock_all_elements_except);
}

static size_t
insts_bound(const struct cfg_file *f)
{
	size_t b = 2;

	for (size_t i = 0; i < f->n_insts; i++)
		b += 128 + json_str_bound(f->insts[i]->section->name) +
		     json_str_bound(f->insts[i]->location) + 2 * JSON_INT_MAX_LEN +
		     node_bound(f->insts[i]->root);
	return b;
}

size_t
cfg_serialized_bound(struct wasp_config *cfg)
{
	const struct cfg_file *f = cfg->apphost;
	const char *packed;
	size_t packed_len, b;

	if (cfg_schema_pack(cfg->schema, &packed, &packed_len) < 0)
		return 0;
	b = 128 + packed_len + json_str_bound(f->path) + json_str_bound(f->dir) + insts_bound(f);
	for (size_t i = 0; i < f->n_decls; i++)
		b += 96 + json_str_bound(f->decls[i].name) + json_str_bound(f->decls[i].file) +
		     3 * JSON_INT_MAX_LEN;
	return b;
}

/* ---- reading it back --------------------------------------------------------- */

struct dctx {
	struct wasp_config *cfg;
	struct wasp_diag_list *diags;
	const char *file;
};

static int
bad(struct dctx *d, const char *what)
{
	(void)wasp_diag_add(d->diags, WASP_DIAG_ERROR, d->file, 0, NULL,
			    "serialized configuration: %s", what);
	return -EBADMSG;
}

static int
names_from(struct dctx *d, json_t *a, struct cfg_names *ret)
{
	size_t i;
	json_t *v;

	*ret = (struct cfg_names){ 0 };
	if (!json_is_array(a))
		return bad(d, "lock list is not an array");
	ret->v = wasp_arena_zalloc(d->cfg->arena, (json_array_size(a) + 1) * sizeof(*ret->v));
	if (!ret->v)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return bad(d, "lock name is not a string");
		ret->v[ret->n] = wasp_arena_strdup(d->cfg->arena, json_string_value(v));
		if (!ret->v[ret->n++])
			return -ENOMEM;
	}
	return 0;
}

static int
node_from(struct dctx *d, json_t *o, const struct schema_elem *schema, int depth,
	  struct cfg_node **ret)
{
	struct wasp_arena *a = d->cfg->arena;
	struct cfg_node *n = wasp_arena_zalloc(a, sizeof(*n));
	json_t *attrs, *kids, *v;
	json_int_t kind;
	size_t na;
	int r;

	if (!n)
		return -ENOMEM;
	if (depth > 64)
		return bad(d, "nested too deep");
	if (!json_is_array(o) || json_array_size(o) != 10 ||
	    !json_is_integer(json_array_get(o, 0)) || !json_is_string(json_array_get(o, 1)) ||
	    !json_is_integer(json_array_get(o, 2)) || !json_is_boolean(json_array_get(o, 3)) ||
	    !json_is_array(attrs = json_array_get(o, 4)) ||
	    !json_is_array(kids = json_array_get(o, 5)))
		return bad(d, "malformed element");
	kind = json_integer_value(json_array_get(o, 0));
	if (kind < CFG_NODE_ELEMENT || kind > CFG_NODE_CLEAR)
		return bad(d, "malformed element");
	n->kind = (enum cfg_node_kind)kind;
	n->name = wasp_arena_strdup(a, json_string_value(json_array_get(o, 1)));
	n->line = (int)json_integer_value(json_array_get(o, 2));
	n->lock_item = json_is_true(json_array_get(o, 3));
	n->schema = schema;
	if (!n->name)
		return -ENOMEM;
	na = json_array_size(attrs);
	if (na % 3)
		return bad(d, "malformed attributes");
	n->attrs = wasp_arena_zalloc(a, (na / 3 + 1) * sizeof(*n->attrs));
	n->kids = wasp_arena_zalloc(a, (json_array_size(kids) + 1) * sizeof(*n->kids));
	if (!n->attrs || !n->kids)
		return -ENOMEM;
	for (size_t i = 0; i < na; i += 3) {
		json_t *jn = json_array_get(attrs, i), *jt = json_array_get(attrs, i + 1),
		       *jl = json_array_get(attrs, i + 2);
		struct cfg_nattr *nat = &n->attrs[n->n_attrs];
		const struct schema_attr *sa;
		const char *msg = NULL;
		char *text;

		if (!json_is_string(jn) || !json_is_string(jt) || !json_is_integer(jl))
			return bad(d, "malformed attribute");
		sa = schema_elem_attr(schema, json_string_value(jn));
		if (!sa)
			return bad(d, "attribute the schema does not have");
		text = wasp_arena_strndup(a, json_string_value(jt), json_string_length(jt));
		if (!text)
			return -ENOMEM;
		r = cfg_value_parse(a, sa, text, &nat->value, &msg);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return bad(d, msg ? msg : "bad value");
		nat->name = sa->name;
		nat->schema = sa;
		nat->line = (int)json_integer_value(jl);
		n->n_attrs++;
	}
	for (size_t i = 0; i < json_array_size(kids); i++) {
		const struct schema_elem *ks;
		json_t *k = json_array_get(kids, i);
		json_t *jk = json_array_get(k, 0), *jname = json_array_get(k, 1);

		if (!json_is_integer(jk) || !json_is_string(jname))
			return bad(d, "malformed child");
		if (json_integer_value(jk) == CFG_NODE_ELEMENT)
			ks = schema_elem_child(schema, json_string_value(jname));
		else
			ks = schema->coll ? schema->coll->item : NULL;
		if (!ks)
			return bad(d, "element the schema does not have");
		r = node_from(d, k, ks, depth + 1, &n->kids[n->n_kids]);
		if (r < 0)
			return r;
		n->n_kids++;
	}
	for (size_t k = 6; k <= 9; k++)
		if (!json_is_null(json_array_get(o, k)) && !cfg_node_locks_mut(a, n))
			return -ENOMEM;
	if (!json_is_null(v = json_array_get(o, 6)) &&
	    (r = names_from(d, v, &n->locks->lock_attrs)) < 0)
		return r;
	if (!json_is_null(v = json_array_get(o, 7))) {
		n->locks->has_lock_all_attrs_except = true;
		if ((r = names_from(d, v, &n->locks->lock_all_attrs_except)) < 0)
			return r;
	}
	if (!json_is_null(v = json_array_get(o, 8)) &&
	    (r = names_from(d, v, &n->locks->lock_elements)) < 0)
		return r;
	if (!json_is_null(v = json_array_get(o, 9))) {
		n->locks->has_lock_all_elements_except = true;
		if ((r = names_from(d, v, &n->locks->lock_all_elements_except)) < 0)
			return r;
	}
	*ret = n;
	return 0;
}

static int
config_from(struct dctx *d, json_t *o)
{
	struct wasp_config *cfg = d->cfg;
	struct wasp_arena *a = cfg->arena;
	json_t *decls, *insts, *v;
	const char *file, *dir;
	struct cfg_file *f;
	int version, r;
	size_t i;

	if (json_unpack(o, "{s:i, s:s, s:s, s:o, s:o}", "wasp_config", &version, "file", &file,
			"dir", &dir, "decls", &decls, "insts", &insts) < 0 ||
	    !json_is_array(decls) || !json_is_array(insts))
		return bad(d, "not a wasp configuration");
	if (version != CFG_SERIAL_VERSION)
		return bad(d, "unsupported version");
	v = json_object_get(o, "pool");
	if (v && !json_is_string(v))
		return bad(d, "pool is not a string");
	if (v && !(cfg->pool = wasp_arena_strdup(a, json_string_value(v))))
		return -ENOMEM;

	f = wasp_arena_zalloc(a, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = wasp_arena_strdup(a, file);
	f->dir = wasp_arena_strdup(a, dir);
	f->is_apphost = true;
	f->exists = true;
	f->url_dir = "";
	f->decls = wasp_arena_zalloc(a, (json_array_size(decls) + 1) * sizeof(*f->decls));
	f->insts = wasp_arena_zalloc(a, (json_array_size(insts) + 1) * sizeof(*f->insts));
	if (!f->path || !f->dir || !f->decls || !f->insts)
		return -ENOMEM;
	json_array_foreach(decls, i, v) {
		const char *name, *dfile;
		int ad, om, known, line;
		struct cfg_decl *decl = &f->decls[f->n_decls];

		if (json_unpack(v, "{s:s, s:i, s:i, s:b, s:s, s:i}", "name", &name, "ad", &ad, "om",
				&om, "known", &known, "file", &dfile, "line", &line) < 0 ||
		    ad < 0 || ad >= CFG_ALLOW__COUNT || om < 0 || om >= CFG_OVERRIDE__COUNT)
			return bad(d, "malformed section declaration");
		*decl = (struct cfg_decl){
			.name = wasp_arena_strdup(a, name),
			.allow_definition = (enum cfg_allow_def)ad,
			.override_default = (enum cfg_override)om,
			.known = known,
			.file = wasp_arena_strdup(a, dfile),
			.line = line,
		};
		if (!decl->name || !decl->file)
			return -ENOMEM;
		f->n_decls++;
	}
	json_array_foreach(insts, i, v) {
		const char *section, *location;
		int in_location, nic, mode, mode_line;
		json_t *root;
		struct cfg_inst *in = wasp_arena_zalloc(a, sizeof(*in));

		if (!in)
			return -ENOMEM;
		if (json_unpack(v, "{s:s, s:s, s:b, s:b, s:i, s:i, s:o}", "section", &section,
				"location", &location, "in_location", &in_location, "nic", &nic,
				"mode", &mode, "mode_line", &mode_line, "root", &root) < 0 ||
		    mode < 0 || mode >= CFG_OVERRIDE__COUNT)
			return bad(d, "malformed section");
		in->section = cfg_schema_find(cfg->schema, section);
		if (!in->section)
			return bad(d, "section the schema does not have");
		in->location = wasp_arena_strdup(a, location);
		if (!in->location)
			return -ENOMEM;
		in->in_location = in_location;
		in->no_child_apps = nic;
		in->mode = (enum cfg_override)mode;
		in->mode_line = mode_line;
		in->file = f;
		in->index = f->n_insts;
		r = node_from(d, root, in->section->root, 0, &in->root);
		if (r < 0)
			return r;
		f->insts[f->n_insts++] = in;
	}
	cfg->apphost = f;
	return 0;
}

/* Decimal digits at *p ending with the byte stop (within end): the number,
 * advancing *p past stop. */
static bool
read_uint(const char **p, const char *end, char stop, size_t *ret)
{
	const char *q = *p;
	uint64_t v = 0;

	if (q >= end || *q < '0' || *q > '9')
		return false;
	while (q < end && *q >= '0' && *q <= '9') {
		v = v * 10 + (uint64_t)(*q++ - '0');
		if (v > CFG_SERIAL_MAX)
			return false;
	}
	if (q >= end || *q != stop)
		return false;
	*p = q + 1;
	*ret = (size_t)v;
	return true;
}

/* "WORD N\n" at *p: N. */
static bool
read_count(const char **p, const char *end, const char *word, size_t *ret)
{
	size_t wl = strlen(word);

	if ((size_t)(end - *p) < wl + 1 || memcmp(*p, word, wl) != 0 || (*p)[wl] != ' ')
		return false;
	*p += wl + 1;
	return read_uint(p, end, '\n', ret);
}

int
wasp_config_deserialize(const char *buf, size_t len, const struct wasp_config_opts *opts,
			struct wasp_config **ret, struct wasp_diag_list *diags)
{
	struct wasp_config *cfg = NULL;
	struct dctx d = { .diags = diags, .file = "<serialized>" };
	const char *p = buf, *end = buf + len, *packed;
	size_t packed_len, json_len;
	json_error_t err;
	json_t *o;
	int r;

	if (len > CFG_SERIAL_MAX)
		return -EFBIG;
	if (len < strlen(CFG_SERIAL_MAGIC) || memcmp(buf, CFG_SERIAL_MAGIC, strlen(CFG_SERIAL_MAGIC)))
		return bad(&d, "not a wasp configuration (or another version)");
	p += strlen(CFG_SERIAL_MAGIC);
	/* "schema LEN\n" PACKED "\n" */
	if (!read_count(&p, end, "schema", &packed_len) || packed_len >= (size_t)(end - p) ||
	    p[packed_len] != '\n')
		return bad(&d, "malformed schema part");
	packed = p;
	p += packed_len + 1;
	if (!read_count(&p, end, "json", &json_len) || json_len != (size_t)(end - p))
		return bad(&d, "malformed JSON part");
	r = cfg_config_new(opts, &cfg);
	if (r < 0)
		return r;
	d.cfg = cfg;
	r = cfg_schema_unpack(packed, packed_len, cfg->arena, &cfg->schema, diags);
	if (r < 0) {
		wasp_config_free(cfg);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	/* built from wasp's own tables, as at load: not in the buffer */
	r = cfg_load_builtin(cfg);
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	o = json_loadb(p, json_len, JSON_REJECT_DUPLICATES, &err);
	if (!o) {
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, d.file, err.line, NULL,
				    "serialized configuration is not JSON: %s", err.text);
		wasp_config_free(cfg);
		return -EBADMSG;
	}
	r = config_from(&d, o);
	json_decref(o);
	if (r < 0) {
		wasp_config_free(cfg);
		return r == -EINVAL ? -EBADMSG : r;
	}
	r = cfg_load_builtin_modules(cfg); /* from the generation's globalModules */
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}
