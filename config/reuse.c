/* A reload that reuses the previous generation's site and pool entries.
 *
 * Loading applicationHost.config does work per site and per pool (parse,
 * validate, merge, the typed view): at 10,000 sites a reload of one
 * changed site redid all of it. wasp_config_reload_buffer() instead finds
 * each <site> and pool <add> in the new text (scan.c) and, when everything
 * else (the skeleton: the defaults, the locks, the <location>s, every
 * other section) is byte for byte what the previous generation had and the
 * schema is the same, loads only a reduced text: the skeleton and the
 * entries whose text or line changed (each reused entry left as the blank
 * lines it had, so that line numbers stay). The new generation then takes
 * the previous one's parsed nodes and typed entries for the others: the
 * two sections' entry lists and the typed view's arrays are its own (in
 * cfg->view), what they point to stays in the arenas of the generations
 * that parsed it, which the new one holds (cfg->base, counted).
 *
 * Anything else, and any error or doubt (an application whose pool is not
 * found, a duplicate name, a site whose physical path appeared or went),
 * returns 0 and the caller loads the whole file, which says what is wrong
 * as it always did. So does every CFG_REUSE_MAX_DEPTH-th reload in a row,
 * which bounds what the chain of generations holds. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apphost.h"
#include "reuse.h"

static const char *const coll_sections[CFG_SCAN__COLLS] = { CFG_SEC_SITES, CFG_SEC_POOLS };

void
cfg_items_free(struct cfg_items *items)
{
	if (!items)
		return;
	for (int c = 0; c < CFG_SCAN__COLLS; c++)
		free(items->v[c]);
	free(items);
}

/* The collection's element as applicationHost.config's own level has it
 * (NULL: none; *ret_ok false when the section is there more than once or
 * in a <location>: not a layout to reuse). */
struct cfg_node *
cfg_reuse_coll_root(const struct wasp_config *cfg, int coll, bool *ret_ok)
{
	struct cfg_node *root = NULL;

	*ret_ok = true;
	for (size_t i = 0; cfg->apphost && i < cfg->apphost->n_insts; i++) {
		const struct cfg_inst *inst = cfg->apphost->insts[i];

		if (!strcaseeq(inst->section->name, coll_sections[coll]))
			continue;
		if (root || inst->in_location || *inst->location)
			*ret_ok = false;
		root = inst->root;
	}
	return root;
}

static size_t
count_adds(const struct cfg_node *root)
{
	size_t n = 0;

	for (uint32_t i = 0; root && i < root->n_kids; i++)
		n += root->kids[i]->kind == CFG_NODE_ADD;
	return n;
}

uint64_t
cfg_item_key(const struct cfg_scan_item *it)
{
	uint64_t k[2] = { it->hash, (uint64_t)(uint32_t)it->line };

	return cfg_hash_bytes((const char *)k, sizeof(k));
}

struct cfg_items *
cfg_items_from_scan(const struct cfg_scan *sc)
{
	struct cfg_items *items = calloc(1, sizeof(*items));

	if (!items)
		return NULL;
	items->skeleton = sc->skeleton;
	for (int c = 0; c < CFG_SCAN__COLLS; c++) {
		const struct cfg_scan_coll *sv = &sc->colls[c];

		items->n[c] = sv->n_items;
		items->v[c] = calloc(sv->n_items + 1, sizeof(*items->v[c]));
		if (!items->v[c]) {
			cfg_items_free(items);
			return NULL;
		}
		for (size_t i = 0; i < sv->n_items; i++)
			items->v[c][i] = cfg_item_key(&sv->items[i]);
	}
	return items;
}

/* Whether cfg's parsed file has the entries the scan found. */
static bool
scan_matches(const struct wasp_config *cfg, const struct cfg_scan *sc)
{
	for (int c = 0; c < CFG_SCAN__COLLS; c++) {
		bool ok;
		const struct cfg_node *root = cfg_reuse_coll_root(cfg, c, &ok);

		if (!ok || count_adds(root) != sc->colls[c].n_items ||
		    (root ? root->n_kids : 0) != sc->colls[c].n_items + sc->colls[c].n_others)
			return false;
	}
	return true;
}

int
cfg_items_record(struct wasp_config *cfg, const char *buf, size_t len)
{
	struct cfg_scan sc;
	int r;

	cfg_items_free(cfg->items);
	cfg->items = NULL;
	if (!cfg->apphost || cfg->pool)
		return 0;
	r = cfg_scan_text(buf, len, &sc);
	if (r < 0)
		return r;
	if (sc.ok && scan_matches(cfg, &sc) && !(cfg->items = cfg_items_from_scan(&sc)))
		r = -ENOMEM;
	cfg_scan_done(&sc);
	return r;
}

static const char *
node_name(const struct cfg_node *n)
{
	for (uint32_t i = 0; i < n->n_attrs; i++)
		if (streq(n->attrs[i].schema->name, "name"))
			return n->attrs[i].value.text;
	return NULL;
}

void
cfg_items_bind(struct wasp_config *cfg, const struct wasp_apphost *ah)
{
	struct cfg_items *items = cfg->items;
	bool ok = items && ah->n_sites == items->n[CFG_SCAN_SITES] &&
		  ah->n_pools == items->n[CFG_SCAN_POOLS];

	for (int c = 0; ok && c < CFG_SCAN__COLLS; c++) {
		const struct cfg_node *root = cfg_reuse_coll_root(cfg, c, &ok);

		for (uint32_t i = 0, k = 0; ok && root && i < root->n_kids; i++) {
			const char *name, *typed;

			if (root->kids[i]->kind != CFG_NODE_ADD)
				continue;
			name = node_name(root->kids[i]);
			typed = c == CFG_SCAN_SITES ? ah->sites[k].name : ah->pools[k].name;
			ok = name && typed && strcaseeq(name, typed);
			k++;
		}
	}
	if (ok) {
		items->ah = ah;
		return;
	}
	cfg_items_free(items);
	cfg->items = NULL;
}
