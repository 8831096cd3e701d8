/* wasp_config_reload_buffer(): a generation made from the reduced text of a
 * reload (the skeleton and the changed entries) and the previous
 * generation's unchanged entries. See reuse.c for the why and the rules. */
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "names.h"
#include "reuse.h"
#include "scan.h"

#define NONE UINT32_MAX

struct reuse {
	struct wasp_config *prev;
	const struct wasp_apphost *prev_ah;
	struct cfg_scan sc;            /* the new text's */
	uint32_t *from[CFG_SCAN__COLLS]; /* per new entry: the previous one it is, or NONE */
	size_t n_changed[CFG_SCAN__COLLS];
	struct wasp_config *cfg;       /* the reduced text's, then the new generation */
	struct wasp_apphost *rah;      /* the reduced text's typed view */
	struct wasp_apphost *ah;       /* the new generation's */
	struct wasp_diag_list diags;   /* the reduced load's */
};

/* Which previous entry each new one is (same text, same line), by hash. */
static int
match(struct reuse *u, int c)
{
	const struct cfg_items *old = u->prev->items;
	const struct cfg_scan_coll *sv = &u->sc.colls[c];
	size_t mask = 15;
	_cleanup_free_ uint32_t *slots = NULL;
	_cleanup_free_ bool *used = NULL;

	while (mask + 1 < 2 * old->n[c])
		mask = mask * 2 + 1;
	slots = calloc(mask + 1, sizeof(*slots));
	used = calloc(old->n[c] + 1, sizeof(*used));
	u->from[c] = calloc(sv->n_items + 1, sizeof(*u->from[c]));
	if (!slots || !used || !u->from[c])
		return -ENOMEM;
	for (size_t j = 0; j < old->n[c]; j++) {
		size_t s = old->v[c][j] & mask;

		while (slots[s])
			s = (s + 1) & mask;
		slots[s] = (uint32_t)j + 1;
	}
	for (size_t i = 0; i < sv->n_items; i++) {
		uint64_t key = cfg_item_key(&sv->items[i]);

		u->from[c][i] = NONE;
		for (size_t s = key & mask; slots[s]; s = (s + 1) & mask) {
			uint32_t j = slots[s] - 1;

			if (!used[j] && old->v[c][j] == key) {
				used[j] = true;
				u->from[c][i] = j;
				break;
			}
		}
		u->n_changed[c] += u->from[c][i] == NONE;
	}
	return 0;
}

static size_t
count_newlines(const char *p, size_t n)
{
	size_t k = 0;

	for (const char *q = p; (q = memchr(q, '\n', n - (size_t)(q - p))); q++)
		k++;
	return k;
}

/* The new text with each reused entry replaced by its newlines. */
static char *
reduced_text(const struct reuse *u, const char *buf, size_t len, size_t *ret_len)
{
	const struct cfg_scan_coll *s = &u->sc.colls[CFG_SCAN_SITES], *p = &u->sc.colls[CFG_SCAN_POOLS];
	char *out = malloc(len + 1), *o = out;
	size_t pos = 0, i = 0, j = 0;

	if (!out)
		return NULL;
	while (i < s->n_items || j < p->n_items) {
		bool site = j == p->n_items || (i < s->n_items && s->items[i].off < p->items[j].off);
		const struct cfg_scan_item *it = site ? &s->items[i] : &p->items[j];
		bool reused = (site ? u->from[CFG_SCAN_SITES][i++] : u->from[CFG_SCAN_POOLS][j++]) != NONE;

		memcpy(o, buf + pos, it->off - pos);
		o += it->off - pos;
		if (reused) {
			size_t nl = count_newlines(buf + it->off, it->len);

			memset(o, '\n', nl);
			o += nl;
		} else {
			memcpy(o, buf + it->off, it->len);
			o += it->len;
		}
		pos = it->off + it->len;
	}
	memcpy(o, buf + pos, len - pos);
	o += len - pos;
	*o = '\0';
	*ret_len = (size_t)(o - out);
	return out;
}

/* The collection's element of the new generation gets every entry, in
 * the file's order: the previous generation's nodes for the reused ones. */
static int
splice(struct reuse *u, int c)
{
	const struct cfg_scan_coll *sv = &u->sc.colls[c];
	bool ok_old, ok_new;
	struct cfg_node *old_root = cfg_reuse_coll_root(u->prev, c, &ok_old);
	struct cfg_node *root = cfg_reuse_coll_root(u->cfg, c, &ok_new);
	_cleanup_free_ struct cfg_node **olds = NULL, **news = NULL, **others = NULL;
	struct cfg_node **kids;
	size_t n_news = 0, n_others = 0, k_new = 0, k_other = 0, n = 0;

	if (!ok_old || !ok_new)
		return -EINVAL;
	if (!root)
		return sv->n_items || sv->n_others ? -EINVAL : 0;
	olds = calloc(u->prev->items->n[c] + 1, sizeof(*olds));
	news = calloc(root->n_kids + 1, sizeof(*news));
	others = calloc(root->n_kids + 1, sizeof(*others));
	kids = wasp_arena_alloc(u->cfg->view, (sv->n_items + sv->n_others + 1) * sizeof(*kids));
	if (!olds || !news || !others || !kids)
		return -ENOMEM;
	for (uint32_t i = 0, k = 0; old_root && i < old_root->n_kids; i++)
		if (old_root->kids[i]->kind == CFG_NODE_ADD && k < u->prev->items->n[c])
			olds[k++] = old_root->kids[i];
	for (uint32_t i = 0; i < root->n_kids; i++)
		if (root->kids[i]->kind == CFG_NODE_ADD)
			news[n_news++] = root->kids[i];
		else
			others[n_others++] = root->kids[i];
	if (n_news != u->n_changed[c] || n_others != sv->n_others)
		return -EINVAL;
	for (size_t i = 0; i <= sv->n_items; i++) {
		while (k_other < n_others && sv->others_before[k_other] == i)
			kids[n++] = others[k_other++];
		if (i == sv->n_items)
			break;
		if (u->from[c][i] == NONE)
			kids[n++] = news[k_new++];
		else if (!(kids[n++] = olds[u->from[c][i]]))
			return -EINVAL;
	}
	if (n > UINT32_MAX)
		return -EINVAL;
	root->kids = kids;
	root->n_kids = (uint32_t)n;
	return 0;
}

/* The new pools, each found by name (a duplicate: -EINVAL, which the
 * whole load reports). */
static int
assemble_pools(struct reuse *u, struct name_table *by_name)
{
	size_t n = u->sc.colls[CFG_SCAN_POOLS].n_items, k = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t j = u->from[CFG_SCAN_POOLS][i];
		struct wasp_apppool *p = &u->ah->pools[i];

		*p = j == NONE ? u->rah->pools[k++] : u->prev_ah->pools[j];
		p->id = (uint32_t)i;
		if (name_table_find(by_name, p->name))
			return -EINVAL;
		name_table_add(by_name, p->name, (uint32_t)i);
	}
	u->ah->n_pools = n;
	return 0;
}

/* A reused site's applications get the new pools' ids (their array copied
 * when one moved). */
static int
site_refresh(struct reuse *u, const struct name_table *by_name, struct wasp_site *s)
{
	bool copied = false;

	for (size_t a = 0; a < s->n_apps; a++) {
		const struct wasp_application *app = &s->apps[a];
		const struct name_ref *p = name_table_find(by_name, app->application_pool);

		if (!p)
			return -EINVAL; /* its warning comes from the whole load */
		if (p->index != app->pool_id) {
			if (!copied && !(s->apps = wasp_arena_memdup(u->cfg->arena, s->apps,
								     s->n_apps * sizeof(*s->apps))))
				return -ENOMEM;
			copied = true;
			s->apps[a].pool_id = p->index;
		}
	}
	return 0;
}

static int
assemble(struct reuse *u)
{
	size_t n_sites = u->sc.colls[CFG_SCAN_SITES].n_items, k = 0;
	struct name_table pools = { 0 }, names = { 0 };
	int r = -ENOMEM;

	u->ah = wasp_arena_zalloc(u->cfg->view, sizeof(*u->ah));
	if (!u->ah || name_table_init(&pools, u->sc.colls[CFG_SCAN_POOLS].n_items) < 0 ||
	    name_table_init(&names, n_sites) < 0)
		goto out;
	u->ah->pools = wasp_arena_zalloc(u->cfg->view,
					 (u->sc.colls[CFG_SCAN_POOLS].n_items + 1) * sizeof(*u->ah->pools));
	u->ah->sites = wasp_arena_zalloc(u->cfg->view, (n_sites + 1) * sizeof(*u->ah->sites));
	if (!u->ah->pools || !u->ah->sites)
		goto out;
	r = assemble_pools(u, &pools);
	for (size_t i = 0; r >= 0 && i < n_sites; i++) {
		uint32_t j = u->from[CFG_SCAN_SITES][i];
		struct wasp_site *s = &u->ah->sites[i];

		*s = j == NONE ? u->rah->sites[k++] : u->prev_ah->sites[j];
		r = site_refresh(u, &pools, s);
		if (r >= 0 && name_table_find(&names, s->name))
			r = -EINVAL;
		if (r >= 0)
			name_table_add(&names, s->name, (uint32_t)i);
	}
	u->ah->n_sites = n_sites;
out:
	name_table_done(&pools);
	name_table_done(&names);
	return r;
}

/* Whether the schema directory still has what prev was loaded with: the
 * reused nodes point into prev's schema. */
static int
schema_same(struct wasp_config *prev, const struct wasp_config_opts *opts)
{
	_cleanup_(cfg_arena_freep) struct wasp_arena *tmp = wasp_arena_new();
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	const char *dir = opts && opts->schema_dir ? opts->schema_dir : cfg_schema_default_dir();
	const char *a, *b;
	size_t na, nb;
	struct cfg_schema *s = NULL;
	uint64_t h;
	int r;

	if (!tmp)
		return -ENOMEM;
	/* the same files, byte for byte: no need to parse them (a tenth of
	 * a reload at 10,000 sites) */
	if (prev->schema->dir_hash && cfg_schema_dir_hash(dir, &h) >= 0 &&
	    h == prev->schema->dir_hash)
		return 1;
	r = cfg_schema_load_dir(dir, tmp, &s, &d);
	wasp_diag_list_done(&d);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || !s)
		return 0;
	if (cfg_schema_pack(s, &a, &na) < 0 || cfg_schema_pack(prev->schema, &b, &nb) < 0)
		return -ENOMEM;
	return na == nb && memcmp(a, b, na) == 0;
}

/* The reduced load's warnings but those about what it left out (an
 * application's pool, a binding another site has: the new typed view is
 * checked for those), and the new view's own. */
static int
pass_diags(const struct wasp_diag_list *from, struct wasp_diag_list *to)
{
	for (size_t i = 0; to && i < from->n; i++) {
		const struct wasp_diag *d = &from->items[i];

		if (d->attribute && (streq(d->attribute, "applicationPool") ||
				     streq(d->attribute, "bindingInformation")))
			continue;
		if (wasp_diag_add(to, d->severity, d->file, d->line, d->attribute, "%s",
				  d->message) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The pools whose workers' copy may have grown: those of a changed site,
 * a changed pool, and every pool of a site naming a changed pool. The
 * others' copies hold what they held, which was checked. */
static int
check_bounds(struct reuse *u, struct wasp_diag_list *checks)
{
	const struct wasp_apphost *ah = u->ah;
	_cleanup_free_ bool *check = calloc(ah->n_pools + 1, sizeof(*check));

	if (!check)
		return -ENOMEM;
	for (size_t i = 0; i < ah->n_pools; i++)
		check[i] = u->from[CFG_SCAN_POOLS][i] == NONE;
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *s = &ah->sites[i];
		bool all = u->from[CFG_SCAN_SITES][i] == NONE;

		for (size_t a = 0; a < s->n_apps && !all; a++)
			all = u->from[CFG_SCAN_POOLS][s->apps[a].pool_id] == NONE;
		for (size_t a = 0; a < s->n_apps && all; a++)
			check[s->apps[a].pool_id] = true;
	}
	return cfg_check_some_pool_bounds(u->cfg, ah, check, checks);
}

/* The new generation's view and checks, once the reduced text loaded. */
static int
reuse_finish(struct reuse *u, struct wasp_diag_list *checks)
{
	struct wasp_config *cfg = u->cfg;
	int r;

	if (u->rah->n_sites != u->n_changed[CFG_SCAN_SITES] ||
	    u->rah->n_pools != u->n_changed[CFG_SCAN_POOLS])
		return -EINVAL;
	if (!cfg->view && !(cfg->view = wasp_arena_new()))
		return -ENOMEM;
	for (int c = 0; c < CFG_SCAN__COLLS; c++)
		if ((r = splice(u, c)) < 0)
			return r;
	/* what was merged from the reduced text goes: made again if asked */
	wasp_config_section_release(cfg, CFG_SEC_SITES);
	wasp_config_section_release(cfg, CFG_SEC_POOLS);
	cfg_cache_clear(cfg->cache, free);
	cfg_cache_clear(cfg->shared, NULL);
	r = assemble(u);
	if (r < 0)
		return r;
	r = cfg_apphost_check_duplicates(u->ah, checks);
	if (r < 0)
		return r;
	r = check_bounds(u, checks);
	if (r < 0)
		return r;
	cfg_items_free(cfg->items);
	cfg->items = cfg_items_from_scan(&u->sc);
	if (!cfg->items)
		return -ENOMEM;
	cfg->items->ah = u->ah;
	cfg->base = u->prev;
	u->prev->refs++;
	cfg->depth = u->prev->depth + 1;
	return 1;
}

static int
reuse_try(struct reuse *u, const char *buf, size_t len, const char *filename,
	  const struct wasp_config_opts *opts, struct wasp_diag_list *diags)
{
	_cleanup_free_ char *text = NULL;
	struct wasp_diag_list checks = WASP_DIAG_LIST_INIT;
	size_t text_len = 0;
	int r;

	if (!u->sc.ok || u->sc.skeleton != u->prev->items->skeleton)
		return 0;
	r = schema_same(u->prev, opts);
	if (r <= 0)
		return r;
	for (int c = 0; c < CFG_SCAN__COLLS; c++)
		if ((r = match(u, c)) < 0)
			return r;
	text = reduced_text(u, buf, len, &text_len);
	if (!text)
		return -ENOMEM;
	r = cfg_load_buffer(text, text_len, filename, opts, u->prev->schema, &u->cfg, &u->diags);
	if (r == 0)
		r = wasp_apphost_build(u->cfg, wasp_config_arena(u->cfg), &u->rah, &u->diags);
	if (r == 0 && !u->diags.n_errors)
		r = reuse_finish(u, &checks);
	if (r == 1 && !checks.n_errors && (pass_diags(&u->diags, diags) < 0 ||
					   pass_diags(&checks, diags) < 0))
		r = -ENOMEM;
	if (r == 1 && checks.n_errors)
		r = 0;
	wasp_diag_list_done(&checks);
	return r;
}

int
wasp_config_reload_buffer(const char *buf, size_t len, const char *filename,
			  const struct wasp_config_opts *opts, struct wasp_config *prev,
			  struct wasp_config **ret, struct wasp_apphost **ret_ah,
			  struct wasp_diag_list *diags)
{
	struct reuse u = { .prev = prev, .prev_ah = prev && prev->items ? prev->items->ah : NULL };
	int r;

	if (!u.prev_ah || prev->freed || prev->depth + 1 >= CFG_REUSE_MAX_DEPTH ||
	    !streq(wasp_config_file(prev), filename))
		return 0;
	r = cfg_scan_text(buf, len, &u.sc);
	if (r < 0)
		return r;
	r = reuse_try(&u, buf, len, filename, opts, diags);
	cfg_scan_done(&u.sc);
	for (int c = 0; c < CFG_SCAN__COLLS; c++)
		free(u.from[c]);
	wasp_diag_list_done(&u.diags);
	if (r == 1) {
		*ret = u.cfg;
		*ret_ah = u.ah;
		return 1;
	}
	wasp_config_free(u.cfg);
	return r == -ENOMEM ? r : 0;
}
