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
#include "serialize.h"

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

/* Per generation (made at its first per-pool serialization, or by
 * wasp_config_prepare_pools(), in its arena): the indexes of the children
 * of the sites and applicationPools sections' roots, ordered by the
 * name_hash() of their names (0 for a child with no name), so that a pool's
 * serialization finds its few sites and pools by binary search and never
 * passes over the thousands of others: its cost does not depend on how many
 * the generation has. NULL (no cache) on OOM. */
struct cfg_kid_ref { /* sorted as a pair (wasp_u32_pair_cmp) */
	uint32_t h, i;
};

struct cfg_kid_hashes {
	struct cfg_kid_hashes *next;
	const struct cfg_node *root;
	uint32_t *by_h; /* every child's index, by (its name's hash, index): 4
			   bytes a site or pool, as it is made at load */
	size_t n;
};

static uint32_t
kid_name_hash(const struct cfg_node *kid)
{
	if (kid->kind != CFG_NODE_ADD && kid->kind != CFG_NODE_REMOVE)
		return 0;
	for (size_t j = 0; j < kid->n_attrs; j++)
		if (strcaseeq(kid->attrs[j].schema->name, "name"))
			return name_hash(kid->attrs[j].value.text);
	return 0;
}

static const struct cfg_kid_hashes *
kid_hashes(const struct wasp_config *ccfg, const struct cfg_node *root)
{
	struct wasp_config *cfg = (struct wasp_config *)(uintptr_t)ccfg; /* a cache */
	_cleanup_free_ struct cfg_kid_ref *refs = NULL;
	struct cfg_kid_hashes *k;

	for (k = cfg->kid_hashes; k; k = k->next)
		if (k->root == root)
			return k;
	refs = malloc(MAX(root->n_kids, (size_t)1) * sizeof(*refs));
	k = refs ? wasp_arena_alloc(cfg->arena, sizeof(*k)) : NULL;
	if (!k || !(k->by_h = wasp_arena_alloc(cfg->arena,
					       MAX(root->n_kids, (size_t)1) * sizeof(*k->by_h))))
		return NULL;
	for (size_t i = 0; i < root->n_kids; i++)
		refs[i] = (struct cfg_kid_ref){ kid_name_hash(root->kids[i]), (uint32_t)i };
	qsort(refs, root->n_kids, sizeof(*refs), wasp_u32_pair_cmp); /* by h, i */
	for (size_t i = 0; i < root->n_kids; i++)
		k->by_h[i] = refs[i].i;
	k->n = root->n_kids;
	k->root = root;
	k->next = cfg->kid_hashes;
	cfg->kid_hashes = k;
	return k;
}

/* The hash of the a-th child of k's root in hash order. */
static uint32_t
kid_h(const struct cfg_kid_hashes *k, size_t a)
{
	return kid_name_hash(k->root->kids[k->by_h[a]]);
}

/* The first of k's children (in hash order) whose hash is at least h. */
static size_t
kid_lower_bound(const struct cfg_kid_hashes *k, uint32_t h)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kid_h(k, mid) < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The children of k's root that may stay (those with no name, and those
 * whose name's hash is one of keep's), as indexes in ascending order,
 * malloc'd into *ret (the number returned); -ENOMEM. */
static ssize_t
kid_candidates(const struct cfg_kid_hashes *k, const struct keep_set *keep, uint32_t **ret)
{
	size_t n0 = kid_lower_bound(k, 1), n = n0, m = 0;
	uint32_t *v;

	for (size_t j = 0; j < keep->n; j++)
		for (size_t a = kid_lower_bound(k, keep->hashes[j]);
		     a < k->n && kid_h(k, a) == keep->hashes[j]; a++)
			n++;
	v = malloc(MAX(n, (size_t)1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t a = 0; a < n0; a++)
		v[m++] = k->by_h[a];
	for (size_t j = 0; j < keep->n; j++)
		for (size_t a = kid_lower_bound(k, keep->hashes[j]);
		     a < k->n && kid_h(k, a) == keep->hashes[j]; a++)
			v[m++] = k->by_h[a];
	qsort(v, m, sizeof(*v), wasp_u32_cmp);
	n = 0;
	for (size_t a = 0; a < m; a++) /* a name kept twice: once */
		if (n == 0 || v[n - 1] != v[a])
			v[n++] = v[a];
	*ret = v;
	return (ssize_t)n;
}

/* Whether a child of a collection keyed by "name" (applicationPools' add,
 * sites' site, and their remove) stays: its name is in keep. Other children
 * (defaults elements, clear) always stay. */
static bool
node_kept(const struct cfg_node *k, const struct keep_set *keep)
{
	if (!keep || (k->kind != CFG_NODE_ADD && k->kind != CFG_NODE_REMOVE))
		return true;
	for (size_t i = 0; i < k->n_attrs; i++)
		if (strcaseeq(k->attrs[i].schema->name, "name"))
			return filter_has(keep->names, k->attrs[i].value.text);
	return true;
}

/* The name of a child kept by node_kept(), or NULL. */
static const char *
node_name(const struct cfg_node *k)
{
	for (size_t i = 0; i < k->n_attrs; i++)
		if (strcaseeq(k->attrs[i].schema->name, "name"))
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

static json_t *node_json(const struct cfg_node *n, const struct keep_set *keep,
			  const struct cfg_kid_hashes *kh, bool lines, const char *only);

/* n's child i into kids, when it stays (node_json()). */
static int
kid_json(json_t *kids, const struct cfg_node *n, size_t i, const struct keep_set *keep,
	 bool lines, const char *only)
{
	const struct cfg_node *kid = n->kids[i];
	json_t *k;

	if (!node_kept(kid, keep))
		return 0;
	if (only && kid->kind == CFG_NODE_ADD && node_name(kid) && !strcaseeq(node_name(kid), only))
		k = node_name_json(kid);
	else
		k = node_json(kid, NULL, NULL, lines, NULL);
	return k && json_array_append_new(kids, k) == 0 ? 0 : -ENOMEM;
}

/* n's children into kids: with keep and kh (n's children by name hash), only
 * the candidates kh finds, in their order (each of the others, one of
 * thousands elsewhere in memory, is never read); else each one. */
static int
kids_json(json_t *kids, const struct cfg_node *n, const struct keep_set *keep,
	  const struct cfg_kid_hashes *kh, bool lines, const char *only)
{
	_cleanup_free_ uint32_t *v = NULL;
	ssize_t m;
	int r = 0;

	if (!keep || !kh) {
		for (size_t i = 0; i < n->n_kids && r == 0; i++)
			r = kid_json(kids, n, i, keep, lines, only);
		return r;
	}
	m = kid_candidates(kh, keep, &v);
	if (m < 0)
		return (int)m;
	for (ssize_t a = 0; a < m && r == 0; a++)
		r = kid_json(kids, n, v[a], keep, lines, only);
	return r;
}

/* keep: see node_kept(), for n's own children; NULL keeps them all.
 * lines: false writes every line number as 0. only: when set, a kept child
 * with another name is written by its name alone (node_name_json). */
static json_t *
node_json(const struct cfg_node *n, const struct keep_set *keep, const struct cfg_kid_hashes *kh,
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

		if (strcaseeq(a->schema->name, "password"))
			continue;
		if (json_array_append_new(attrs, json_string(a->schema->name)) < 0 ||
		    json_array_append_new(attrs, json_string(a->value.text)) < 0 ||
		    json_array_append_new(attrs, json_integer(lines ? n->line : 0)) < 0)
			goto fail;
	}
	if (kids_json(kids, n, keep, kh, lines, only) < 0)
		goto fail;
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
wasp_config_prepare_pools(const struct wasp_config *cfg)
{
	const struct cfg_file *f = cfg->apphost;

	for (size_t i = 0; f && i < f->n_insts; i++) {
		const struct cfg_inst *in = f->insts[i];

		if ((strcaseeq(in->section->name, SEC_POOLS) ||
		     strcaseeq(in->section->name, SEC_SITES)) &&
		    !kid_hashes(cfg, in->root))
			return -ENOMEM;
	}
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
