/* Can a path's configuration be used: wasp_config_check_path() merges every
 * section written along the path as a request would, and refuses (500.19)
 * a path with a broken web.config, a missing virtual directory or a
 * notImplemented section in use. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "merge.h"

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

/* The virtual directory's physical path: IIS cannot read its configuration
 * ("Cannot read configuration file") when it does not exist. Watched in c's
 * deps; *res the error when missing. */
static int
check_vd_root(struct wasp_config *cfg, struct wasp_arena *tmp, const struct wasp_element *site_e,
	      const char *url, struct collected *c, const struct shared **res,
	      struct wasp_diag_list *diags)
{
	const char *vd_root = NULL, *wc, *msg;
	struct dep *dep;
	bool app_root;

	(void)cfg_map_url_dir(tmp, site_e, url, &app_root, &vd_root);
	if (!vd_root || !*vd_root)
		return 0;
	dep = wasp_arena_alloc(tmp, (c->n_deps + 1) * sizeof(*dep));
	if (!dep)
		return -ENOMEM;
	memcpy(dep, c->deps, c->n_deps * sizeof(*dep));
	c->deps = dep;
	cfg_stat_dep_dir(vd_root, &dep[c->n_deps]);
	if (dep[c->n_deps++].exists)
		return 0;
	wc = wasp_arena_printf(tmp, "%s/web.config", vd_root);
	msg = wasp_arena_printf(tmp, "the virtual directory's physical path '%s' does not exist",
				vd_root);
	if (!wc || !msg)
		return -ENOMEM;
	(void)wasp_diag_add(diags, WASP_DIAG_ERROR, wc, 0, NULL, "%s", msg);
	*res = check_error(cfg, tmp, wc, 0, NULL, msg);
	return *res ? 0 : -ENOMEM;
}

/* Every section written along the path, merged as a request would
 * (overrideMode, allowDefinition, locks, duplicates), and the
 * notImplemented ones in use: all of them, so that every problem is
 * reported; the first is the answer (*res, when it is still NULL). */
static int
check_sections(struct wasp_config *cfg, struct wasp_arena *tmp, const char *site, const char *url,
	       const struct collected *c, const struct shared **res,
	       struct wasp_diag_list *diags)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct schema_section *ss = c->v[i].inst->section;
		const struct shared *sec = NULL;
		bool seen = false;
		const char *msg;
		int r;

		for (size_t j = 0; j < i && !seen; j++)
			seen = c->v[j].inst->section == ss;
		if (seen)
			continue;
		r = cfg_effective_at(cfg, site, url, ss->name, &sec, diags);
		if (r == -ENOMEM)
			return r;
		if (!sec)
			continue;
		if (sec->result < 0 && !*res && !(*res = check_result(cfg, tmp, sec->err)))
			return -ENOMEM;
		if (!ss->not_implemented || !sec->elem ||
		    (elem_inert(sec->elem, ss->root) &&
		     !(ss->empty_restricts && sec->elem->n_items == 0 && removes_items(c, ss))))
			continue;
		msg = wasp_arena_printf(tmp,
					"section '%s' is not implemented by wasp, and it would "
					"restrict or redirect what is served here",
					ss->name);
		if (!msg)
			return -ENOMEM;
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, strempty(sec->elem->file),
				    sec->elem->line, NULL, "%s", msg);
		if (!*res && !(*res = check_error(cfg, tmp, strempty(sec->elem->file),
						  sec->elem->line, NULL, msg)))
			return -ENOMEM;
	}
	return 0;
}

static int
check_compute(struct wasp_config *cfg, struct wasp_arena *tmp, const char *site, const char *url,
	      struct collected *c, const struct shared **ret, struct wasp_diag_list *diags)
{
	struct mctx m = { .cfg = cfg, .tmp = tmp, .diags = diags };
	struct compute_req q = { .site = site, .url = url, .web_configs = true };
	const struct wasp_element *site_e = cfg_find_site(cfg, site);
	const struct shared *res = NULL;
	int r;

	if (!site_e)
		return -ENOENT;
	q.target = *url ? wasp_arena_printf(tmp, "%s/%s", site, url) : site;
	if (!q.target)
		return -ENOMEM;
	r = cfg_collect(&m, &q, c);
	if (r < 0)
		return r;
	r = check_vd_root(cfg, tmp, site_e, url, c, &res, diags);
	if (r < 0)
		return r;
	if (!res && c->n_bad && !(res = check_result(cfg, tmp, c->bad[0]->first_err)))
		return -ENOMEM;
	r = check_sections(cfg, tmp, site, url, c, &res, diags);
	if (r < 0)
		return r;
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
	if (ent && cfg_cache_fresh(cfg, ent)) {
		*ret_err = ent->res->err;
		return ent->res->result;
	}
	r = check_compute(cfg, tmp, site, url, &c, &res, diags);
	if (r < 0)
		return r;
	if (!res)
		return -ENOMEM;
	r = cfg_cache_store(cfg, key, res, &c, ent);
	if (r < 0)
		return r;
	*ret_err = res->err;
	return res->result;
}
