/* How large a worker's copy of the configuration (serialize.c) can be,
 * counted without making it: each pool's copy holds what every copy holds
 * (the schema, the declarations, every section but the pools' and sites'
 * entries, the <location> instances without a path) and, of the rest, its
 * sites' entries, their <location path="site/..."> instances and the
 * entries of the pools their applications name. wasp_apphost_build()
 * refuses a generation in which one pool's copy could pass
 * WASP_CONFIG_SERIAL_MAX, naming that pool; the whole generation has no
 * such bound (no process reads it whole; the file is CFG_MAX_FILE_SIZE at
 * most), so 100,000 small sites load, and one pool's sites cannot make
 * another pool's copy larger. */
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "internal.h"

#define SEC_POOLS "system.applicationHost/applicationPools"
#define SEC_SITES "system.applicationHost/sites"

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

/* n without its children:
 * [kind, "name", line, false, [attrs], [kids], 4 lock lists or null] */
static size_t
node_self_bound(const struct cfg_node *n)
{
	size_t b = 48 + json_str_bound(n->name) + int_len(n->line);
	const struct cfg_locks *l = cfg_node_locks(n);

	for (size_t i = 0; i < n->n_attrs; i++)
		b += json_str_bound(n->attrs[i].schema->name) + json_str_bound(n->attrs[i].value.text) +
		     int_len(n->line) + 3;
	return b + names_bound(&l->lock_attrs) + names_bound(&l->lock_all_attrs_except) +
	       names_bound(&l->lock_elements) + names_bound(&l->lock_all_elements_except);
}

static size_t
node_bound(const struct cfg_node *n)
{
	size_t b = node_self_bound(n);

	for (size_t i = 0; i < n->n_kids; i++)
		b += node_bound(n->kids[i]) + 1;
	return b;
}

/* An instance without its root node. */
static size_t
inst_head_bound(const struct cfg_inst *in)
{
	return 128 + json_str_bound(in->section->name) + json_str_bound(in->location) +
	       2 * JSON_INT_MAX_LEN;
}

/* The schema, the declarations and the framing: in every copy. 0 on OOM. */
static size_t
frame_bound(struct wasp_config *cfg)
{
	const struct cfg_file *f = cfg->apphost;
	const char *packed;
	size_t packed_len, b;

	if (cfg_schema_pack(cfg->schema, &packed, &packed_len) < 0)
		return 0;
	b = 130 + packed_len + json_str_bound(f->path) + json_str_bound(f->dir);
	for (size_t i = 0; i < f->n_decls; i++)
		b += 96 + json_str_bound(f->decls[i].name) + json_str_bound(f->decls[i].file) +
		     3 * JSON_INT_MAX_LEN;
	return b;
}

/* ---- per pool -------------------------------------------------------------------- */

/* The bytes of the pool and site entries, by index in ah, and of what
 * every copy holds. */
struct pool_bounds {
	const struct wasp_apphost *ah;
	struct cfg_cache *sites, *pools; /* lower-cased name -> index + 1 */
	size_t *site_b, *pool_b, shared;
	/* the pools to check (NULL: all), the sites with an application in
	 * one of them and the pools those name: only their entries count */
	const bool *check;
	bool *need_site, *need_pool;
};

static void
pool_bounds_done(struct pool_bounds *pb)
{
	cfg_cache_free(pb->sites);
	cfg_cache_free(pb->pools);
	free(pb->site_b);
	free(pb->pool_b);
	free(pb->need_site);
	free(pb->need_pool);
}

/* name's first n bytes lower-cased into buf when they fit, else into a
 * malloc'd copy left in *ret_free. NULL on OOM. */
static const char *
lower_into(const char *name, size_t n, char *buf, size_t size, char **ret_free)
{
	char *k = buf;

	*ret_free = NULL;
	if (n >= size && !(k = *ret_free = malloc(n + 1)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		k[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	k[n] = '\0';
	return k;
}

static int
index_put(struct cfg_cache *c, const char *name, size_t i)
{
	_cleanup_free_ char *f = NULL;
	char buf[256];
	const char *k = lower_into(name, strlen(name), buf, sizeof(buf), &f);

	if (!k)
		return -ENOMEM;
	if (cfg_cache_get(c, k))
		return 0; /* the first of a name, as the serializer's filter */
	return cfg_cache_put(c, k, (void *)(uintptr_t)(i + 1));
}

/* The index of the entry named by name's first n bytes, -1 when there is
 * none, -2 on OOM. */
static ssize_t
index_get(struct cfg_cache *c, const char *name, size_t n)
{
	_cleanup_free_ char *f = NULL;
	char buf[256];
	const char *k = lower_into(name, n, buf, sizeof(buf), &f);

	if (!k)
		return -2;
	return (ssize_t)(uintptr_t)cfg_cache_get(c, k) - 1;
}

/* Which sites and pools count for the pools checked. */
static void
pool_bounds_need(struct pool_bounds *pb)
{
	const struct wasp_apphost *ah = pb->ah;

	for (size_t q = 0; q < ah->n_pools; q++)
		pb->need_pool[q] = !pb->check || pb->check[q];
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *site = &ah->sites[i];

		for (size_t a = 0; a < site->n_apps && !pb->need_site[i]; a++)
			pb->need_site[i] = site->apps[a].pool_id < ah->n_pools &&
					   (!pb->check || pb->check[site->apps[a].pool_id]);
		for (size_t a = 0; a < site->n_apps && pb->need_site[i]; a++)
			if (site->apps[a].pool_id < ah->n_pools)
				pb->need_pool[site->apps[a].pool_id] = true;
	}
}

static int
pool_bounds_init(struct pool_bounds *pb, const struct wasp_apphost *ah, const bool *check)
{
	*pb = (struct pool_bounds){
		.ah = ah,
		.sites = cfg_cache_new(),
		.pools = cfg_cache_new(),
		.site_b = calloc(ah->n_sites + 1, sizeof(size_t)),
		.pool_b = calloc(ah->n_pools + 1, sizeof(size_t)),
		.check = check,
		.need_site = calloc(ah->n_sites + 1, sizeof(bool)),
		.need_pool = calloc(ah->n_pools + 1, sizeof(bool)),
	};
	if (!pb->sites || !pb->pools || !pb->site_b || !pb->pool_b || !pb->need_site ||
	    !pb->need_pool)
		return -ENOMEM;
	pool_bounds_need(pb);
	for (size_t i = 0; i < ah->n_sites; i++)
		if (pb->need_site[i] && index_put(pb->sites, ah->sites[i].name, i) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < ah->n_pools; i++)
		if (pb->need_pool[i] && index_put(pb->pools, ah->pools[i].name, i) < 0)
			return -ENOMEM;
	return 0;
}

static const char *
node_name_attr(const struct cfg_node *k)
{
	if (k->kind != CFG_NODE_ADD && k->kind != CFG_NODE_REMOVE)
		return NULL;
	for (size_t i = 0; i < k->n_attrs; i++)
		if (strcaseeq(k->attrs[i].schema->name, "name"))
			return k->attrs[i].value.text;
	return NULL;
}

/* A pools or sites section without a location path: its named entries
 * count for their pool or site (an entry of no pool or site of ah is in
 * no copy), the rest for every copy. */
static int
collection_bounds(struct pool_bounds *pb, const struct cfg_node *root, struct cfg_cache *by_name,
		  size_t *part)
{
	pb->shared += node_self_bound(root);
	for (size_t i = 0; i < root->n_kids; i++) {
		const struct cfg_node *k = root->kids[i];
		const char *name = node_name_attr(k);
		ssize_t at;

		if (!name) {
			pb->shared += node_bound(k) + 1;
			continue;
		}
		at = index_get(by_name, name, strlen(name));
		if (at < -1)
			return -ENOMEM;
		if (at >= 0)
			part[at] += node_bound(k) + 1;
	}
	return 0;
}

static int
insts_bounds(struct pool_bounds *pb, const struct cfg_file *f)
{
	for (size_t i = 0; i < f->n_insts; i++) {
		const struct cfg_inst *in = f->insts[i];
		size_t b = inst_head_bound(in);
		ssize_t at;
		int r = 0;

		if (*in->location) { /* a site's: in its pools' copies only */
			at = index_get(pb->sites, in->location, strcspn(in->location, "/"));
			if (at < -1)
				return -ENOMEM;
			if (at >= 0)
				pb->site_b[at] += b + node_bound(in->root);
			continue;
		}
		pb->shared += b;
		if (strcaseeq(in->section->name, SEC_POOLS))
			r = collection_bounds(pb, in->root, pb->pools, pb->pool_b);
		else if (strcaseeq(in->section->name, SEC_SITES))
			r = collection_bounds(pb, in->root, pb->sites, pb->site_b);
		else
			pb->shared += node_bound(in->root);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Each pool's bound into total[]: a site's bytes and those of the pools
 * its applications name count once for each pool it has applications in. */
static void
pools_total(const struct pool_bounds *pb, size_t *total)
{
	const struct wasp_apphost *ah = pb->ah;

	for (size_t q = 0; q < ah->n_pools; q++) /* and "pool": name */
		total[q] = pb->shared + pb->pool_b[q] + 16 + json_str_bound(ah->pools[q].name);
	for (size_t s = 0; s < ah->n_sites; s++) {
		const struct wasp_site *site = &ah->sites[s];
		size_t b = pb->site_b[s];

		if (!pb->need_site[s])
			continue; /* in no pool checked */

		for (size_t a = 0; a < site->n_apps; a++)
			if (site->apps[a].pool_id < ah->n_pools)
				b += pb->pool_b[site->apps[a].pool_id];
		for (size_t a = 0; a < site->n_apps; a++) {
			uint32_t q = site->apps[a].pool_id;
			bool seen = false;

			for (size_t e = 0; e < a && !seen; e++)
				seen = site->apps[e].pool_id == q;
			if (q < ah->n_pools && !seen)
				total[q] += b;
		}
	}
}

int
cfg_check_pool_bounds(struct wasp_config *cfg, const struct wasp_apphost *ah,
		      struct wasp_diag_list *diags)
{
	return cfg_check_some_pool_bounds(cfg, ah, NULL, diags);
}

int
cfg_check_some_pool_bounds(struct wasp_config *cfg, const struct wasp_apphost *ah,
			   const bool *check, struct wasp_diag_list *diags)
{
	struct pool_bounds pb;
	_cleanup_free_ size_t *total = calloc(ah->n_pools + 1, sizeof(*total));
	int r = pool_bounds_init(&pb, ah, check);

	if (r < 0 || !total || !(pb.shared = frame_bound(cfg))) {
		pool_bounds_done(&pb);
		return -ENOMEM;
	}
	r = insts_bounds(&pb, cfg->apphost);
	if (r == 0)
		pools_total(&pb, total);
	pool_bounds_done(&pb);
	if (r < 0)
		return r;
	for (size_t q = 0; q < ah->n_pools; q++) {
		const struct wasp_apppool *p = &ah->pools[q];

		if ((check && !check[q]) || total[q] <= WASP_CONFIG_SERIAL_MAX)
			continue;
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, p->file, p->line, NULL,
				    "application pool '%s': the configuration is too large for "
				    "a worker to read: its workers' copy (every section but the "
				    "pools and sites, and this pool's sites) would be about "
				    "%zu MiB once parsed and expanded, over the limit of %d MiB",
				    p->name, total[q] >> 20, WASP_CONFIG_SERIAL_MAX >> 20);
		r = -EINVAL;
	}
	return r;
}
