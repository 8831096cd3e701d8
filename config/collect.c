/* What applies to a (site, URL, section): the built-in defaults',
 * applicationHost.config's and its <location>s' instances, and those of the
 * web.config files along the URL path, in merge order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"

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

/* What cfg_collect() has found so far. */
struct collector {
	struct mctx *m;
	const struct compute_req *q;
	const struct wasp_element *site; /* q->site's, or NULL */
	struct applied *v;
	size_t n, n_alloc;
	struct dep *deps;
	size_t n_deps, deps_alloc;
	const struct cfg_file **bad;
	size_t n_bad, bad_alloc;
};

static int
add_applied(struct collector *k, const struct cfg_inst *inst, const char *path, size_t file_depth,
	    bool app_root)
{
	struct applied *a = CFG_PUSH(k->m->tmp, k->v, k->n, k->n_alloc);

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

/* The built-in defaults' instances first, then applicationHost.config's. */
static int
collect_apphost(struct collector *k)
{
	const struct wasp_config *cfg = k->m->cfg;
	const struct compute_req *q = k->q;
	size_t nb = cfg->builtin ? cfg->builtin->n_insts : 0;

	for (size_t i = 0; i < nb + cfg->apphost->n_insts; i++) {
		const struct cfg_inst *inst =
			i < nb ? cfg->builtin->insts[i] : cfg->apphost->insts[i - nb];
		int r;

		if (q->ss ? inst->section != q->ss : !inst->section->not_implemented)
			continue;
		if (q->site ? !cfg_path_is_prefix(inst->location, q->target) : *inst->location)
			continue;
		if (q->site && *inst->location &&
		    !cfg_reaches(k->m->tmp, k->site, inst, inst->location, q->url))
			continue;
		r = add_applied(k, inst, inst->location, 0, false);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The instances of web.config f, read for URL directory url_dir. */
static int
collect_file(struct collector *k, const struct cfg_file *f, const char *url_dir, bool app_root)
{
	const struct compute_req *q = k->q;

	if (f->parse_result < 0) {
		const struct cfg_file **slot = CFG_PUSH(k->m->tmp, k->bad, k->n_bad, k->bad_alloc);

		if (!slot)
			return -ENOMEM;
		*slot = f;
	}
	for (size_t i = 0; i < f->n_insts; i++) {
		const struct cfg_inst *inst = f->insts[i];
		char *full;
		int r;

		if (q->ss && inst->section != q->ss)
			continue;
		full = wasp_arena_printf(k->m->tmp, "%s%s%s%s%s", q->site, *url_dir ? "/" : "",
					 url_dir, *inst->location ? "/" : "", inst->location);
		if (!full)
			return -ENOMEM;
		if (!cfg_path_is_prefix(full, q->target) ||
		    !cfg_reaches(k->m->tmp, k->site, inst, full, q->url))
			continue;
		r = add_applied(k, inst, full, 1 + cfg_path_depth(url_dir), app_root || !*url_dir);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The web.config of URL directory url_dir, if it is mapped: its instances.
 * *dead when nothing below url_dir can have one (unmapped, or its
 * directory is missing). */
static int
collect_dir(struct collector *k, const char *url_dir, bool *dead)
{
	struct wasp_arena *tmp = k->m->tmp;
	struct cfg_file *f = NULL;
	struct dep *dep;
	bool app_root;
	char *phys, *wc;
	int r;

	phys = cfg_map_url_dir(tmp, k->site, url_dir, &app_root, NULL);
	if (!phys) {
		*dead = true;
		return 0;
	}
	wc = wasp_arena_printf(tmp, "%s/web.config", phys);
	dep = CFG_PUSH(tmp, k->deps, k->n_deps, k->deps_alloc);
	if (!wc || !dep)
		return -ENOMEM;
	r = cfg_get_web_config(k->m, wc, dep, &f);
	if (r < 0)
		return r;
	if (!dep->exists) {
		struct dep d;

		cfg_stat_dep_dir(phys, &d);
		if (!d.exists) { /* what to watch instead */
			*dep = d;
			*dead = true;
		}
	}
	return f ? collect_file(k, f, url_dir, app_root) : 0;
}

/* "" then each prefix of the URL path, on segment boundaries, while its
 * directory exists: below one that does not (or is a file, or is not
 * mapped) the walk goes on only at the next application or virtual
 * directory root, so that a lookup costs what exists on disk, not the
 * URL's depth. */
static int
collect_web_configs(struct collector *k)
{
	const char *url = k->q->url;
	size_t ul = strlen(url);
	bool dead = false;

	for (size_t end = 0; end <= ul; end++) {
		char *url_dir;
		int r;

		if (end != 0 && end != ul && url[end] != '/')
			continue;
		if (dead) {
			end = cfg_next_root(k->m->tmp, k->site, url, end);
			if (end == SIZE_MAX)
				break;
			dead = false;
		}
		url_dir = wasp_arena_strndup(k->m->tmp, url, end);
		if (!url_dir)
			return -ENOMEM;
		r = collect_dir(k, url_dir, &dead);
		if (r < 0)
			return r;
		if (end == ul)
			break;
	}
	return 0;
}

int
cfg_collect(struct mctx *m, const struct compute_req *q, struct collected *c)
{
	struct collector k = {
		.m = m,
		.q = q,
		.site = q->site ? cfg_find_site(m->cfg, q->site) : NULL,
	};
	int r;

	r = collect_apphost(&k);
	if (r >= 0 && k.site && q->web_configs)
		r = collect_web_configs(&k);
	if (r < 0)
		return r;
	if (k.n > 1)
		qsort(k.v, k.n, sizeof(*k.v), cmp_applied);
	*c = (struct collected){ .v = k.v, .n = k.n, .deps = k.deps, .n_deps = k.n_deps,
				 .bad = k.bad, .n_bad = k.n_bad };
	return 0;
}
