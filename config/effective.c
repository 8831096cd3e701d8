/* Effective sections: applicationHost.config's own (wasp_config_section,
 * kept per section) and a site's at a URL path (kept per site, path and
 * section in a cache bounded in entries and bytes, revalidated against the
 * web.config files each answer depends on). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "names.h"

/* Both bound the cache (a client chooses the URLs): past either it is
 * emptied and fills again with what is asked for. */
#define CFG_MAX_CACHED_PATHS 8192
#define CFG_MAX_CACHED_BYTES (4 * 1024 * 1024)

/* A wasp_config_section() result. The two sections with an entry per site
 * or pool are frozen into an arena of their own, which
 * wasp_config_section_release() frees: waspd keeps its typed view of them
 * (apphost.h) and nothing else that grows with the number of sites. */
struct apphost_section {
	struct wasp_element *e;
	struct wasp_arena *own; /* NULL: in the generation's arena */
	/* the sites section: its items by name (cfg_find_site()), made at the
	 * first look-up, in the section's arena */
	struct name_ref *by_name;
};

static bool
section_releasable(const struct schema_section *ss)
{
	return strcaseeq(ss->name, CFG_SEC_SITES) || strcaseeq(ss->name, CFG_SEC_POOLS);
}

void
cfg_apphost_section_free(void *p)
{
	struct apphost_section *s = p;

	if (s && s->own)
		wasp_arena_free(s->own); /* s is in it */
}

static const struct wasp_element *
section_at_apphost(struct wasp_config *cfg, const struct schema_section *ss,
		   struct wasp_diag_list *diags, int *ret_errors)
{
	_cleanup_(cfg_arena_freep) struct wasp_arena *tmp = NULL;
	_cleanup_(cfg_arena_freep) struct wasp_arena *own = NULL;
	struct apphost_section *s = cfg_cache_get(cfg->apphost_sections, ss->name);
	struct mctx m = { .cfg = cfg, .diags = diags };
	struct compute_req q = { .ss = ss };
	struct mel *root;

	if (s)
		return s->e;
	tmp = wasp_arena_new();
	if (!tmp || (section_releasable(ss) && !(own = wasp_arena_new())))
		return NULL;
	m.tmp = tmp;
	if (cfg_compute(&m, &q, &root) < 0)
		return NULL;
	s = wasp_arena_zalloc(own ? own : cfg->arena, sizeof(*s));
	if (!s || !(s->e = cfg_freeze_into(own ? own : cfg->arena, tmp, root)))
		return NULL;
	s->own = own;
	if (cfg_cache_put(cfg->apphost_sections, ss->name, s) < 0)
		return NULL;
	own = NULL; /* the cache's now */
	if (ret_errors)
		*ret_errors = m.errors;
	return s->e;
}

static struct name_ref *
site_index(struct wasp_config *cfg, struct apphost_section *s)
{
	const struct wasp_element *sites = s->e;
	struct name_ref *k;

	if (s->by_name)
		return s->by_name;
	k = wasp_arena_alloc(s->own ? s->own : cfg->arena, (sites->n_items + 1) * sizeof(*k));
	if (!k)
		return NULL;
	for (size_t i = 0; i < sites->n_items; i++)
		k[i] = (struct name_ref){ wasp_element_get_str(sites->items[i], "name", ""),
					  (uint32_t)i };
	/* the first of equal names wins, as with a scan */
	name_refs_sort(k, sites->n_items);
	return s->by_name = k;
}

const struct wasp_element *
cfg_find_site(struct wasp_config *cfg, const char *name)
{
	const struct schema_section *ss = cfg_schema_find(cfg->schema, CFG_SEC_SITES);
	const struct wasp_element *sites = ss && cfg->apphost
						   ? section_at_apphost(cfg, ss, NULL, NULL)
						   : NULL;
	struct apphost_section *s = sites ? cfg_cache_get(cfg->apphost_sections, ss->name) : NULL;
	const struct name_ref *k = s ? site_index(cfg, s) : NULL;

	if (!k) { /* no section, or no memory for the index: the scan */
		for (size_t i = 0; sites && i < sites->n_items; i++)
			if (strcaseeq(wasp_element_get_str(sites->items[i], "name", ""), name))
				return sites->items[i];
		return NULL;
	}
	k = name_refs_find(k, sites->n_items, name);
	return k ? sites->items[k->index] : NULL;
}

void
wasp_config_section_release(struct wasp_config *cfg, const char *section)
{
	const struct schema_section *ss = cfg_schema_find(cfg->schema, section);
	struct apphost_section *s = ss ? cfg_cache_get(cfg->apphost_sections, ss->name) : NULL;

	if (!s || !s->own)
		return;
	/* NULL: made again if asked for */
	(void)cfg_cache_put(cfg->apphost_sections, ss->name, NULL);
	cfg_apphost_section_free(s);
}

const struct wasp_element *
wasp_config_section(struct wasp_config *cfg, const char *section)
{
	const struct schema_section *ss = cfg_schema_find(cfg->schema, section);

	if (!ss || !cfg->apphost)
		return NULL;
	return section_at_apphost(cfg, ss, NULL, NULL);
}

const char *
wasp_config_section_resolve(struct wasp_config *cfg, const char *name)
{
	const struct schema_section *ss = cfg_schema_find(cfg->schema, name), *found = NULL;

	if (ss)
		return ss->name;
	for (size_t i = 0; i < cfg->schema->n_sections; i++) {
		const char *last = strrchr(cfg->schema->sections[i]->name, '/');

		if (!last || !strcaseeq(last + 1, name))
			continue;
		if (found)
			return NULL;
		found = cfg->schema->sections[i];
	}
	return found ? found->name : NULL;
}

const char *
wasp_config_section_nth(struct wasp_config *cfg, size_t i)
{
	for (size_t j = 0; j < cfg->schema->n_sections; j++)
		if (!cfg->schema->sections[j]->not_implemented && i-- == 0)
			return cfg->schema->sections[j]->name;
	return NULL;
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
		r = cfg_compute(&m, &q, &root);
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
	r = cfg_merge_collected(m, q, c, &root);
	if (r < 0)
		return r;
	res = wasp_arena_zalloc(cfg->arena, sizeof(*res));
	if (!res || !(res->elem = cfg_freeze_root(cfg, m->tmp, root)))
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
bool
cfg_cache_fresh(const struct wasp_config *cfg, struct entry *ent)
{
	uint64_t now = wasp_now_usec();

	if (cfg->opts.revalidate_usec && now - ent->checked_at < cfg->opts.revalidate_usec)
		return true;
	for (size_t i = 0; i < ent->n_deps; i++)
		if (cfg_dep_changed(&ent->deps[i]))
			return false;
	ent->checked_at = now;
	return true;
}

/* Keeps a computed answer under key, replacing old (a stale entry of the
 * same key, or NULL). The cache is bounded in entries and in bytes (a client
 * chooses the paths): an answer that alone would take a sixteenth of it is not
 * kept, and a full cache is emptied before a new key goes in. */
int
cfg_cache_store(struct wasp_config *cfg, const char *key, const struct shared *res,
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

int
cfg_effective_at(struct wasp_config *cfg, const char *site, const char *url_path,
		 const char *section, const struct shared **ret, struct wasp_diag_list *diags)
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
	if (ent && cfg_cache_fresh(cfg, ent)) {
		*ret = ent->res;
		return ent->res->result;
	}
	tmp = wasp_arena_new();
	if (!tmp)
		return -ENOMEM;
	url = wasp_arena_strndup(tmp, url, lu);
	if (!url)
		return -ENOMEM;
	if (!cfg_find_site(cfg, site))
		return -ENOENT;
	m.tmp = tmp;
	q.ss = ss;
	q.site = site;
	q.url = url;
	q.target = *url ? wasp_arena_printf(tmp, "%s/%s", site, url) : site;
	if (!q.target)
		return -ENOMEM;
	r = cfg_collect(&m, &q, &c);
	if (r < 0)
		return r;
	r = shared_result(&m, &q, &c, &res);
	if (r < 0)
		return r;
	r = cfg_cache_store(cfg, key, res, &c, ent);
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
	int r = cfg_effective_at(cfg, site, url_path, section, &res, diags);

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
