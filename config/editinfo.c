/* What an editor of the configuration files (waspctl's add, set and delete)
 * asks the schema and the sites: the element names of a collection, and the
 * physical directory whose web.config holds a URL's configuration. */
#include <stdlib.h>
#include <string.h>

#include "merge.h"

/* Down one step of elem_path: a declared child element, or the item of the
 * collection when name is its add element. */
static const struct schema_elem *
schema_step(const struct schema_elem *e, const char *name, size_t len)
{
	for (size_t i = 0; i < e->n_children; i++)
		if (strncasecmp(e->children[i]->name, name, len) == 0 &&
		    !e->children[i]->name[len])
			return e->children[i];
	if (e->coll && e->coll->item && strncasecmp(e->coll->add_name, name, len) == 0 &&
	    !e->coll->add_name[len])
		return e->coll->item;
	return NULL;
}

/* The schema's element at elem_path of section, NULL if none. */
static const struct schema_elem *
schema_walk(struct wasp_config *cfg, const char *section, const char *elem_path)
{
	const struct schema_section *ss = cfg_schema_find(cfg->schema, section);
	const struct schema_elem *e = ss ? ss->root : NULL;

	for (const char *p = elem_path ? elem_path : ""; e && *p;) {
		size_t len = strcspn(p, "/");

		e = len ? schema_step(e, p, len) : e;
		p += len;
		p += *p == '/';
	}
	return e;
}

bool
wasp_config_attr_declared(struct wasp_config *cfg, const char *section, const char *elem_path,
			  const char *name)
{
	const struct schema_elem *e = schema_walk(cfg, section, elem_path);

	return e && (e->allow_unknown_attrs || schema_elem_attr(e, name));
}

int
wasp_config_collection_names(struct wasp_config *cfg, const char *section,
			     const char *elem_path, struct wasp_config_collection *ret)
{
	const struct schema_elem *e = schema_walk(cfg, section, elem_path);

	if (!e || !e->coll)
		return -ENOENT;
	*ret = (struct wasp_config_collection){
		.add = e->coll->add_name,
		.remove = e->coll->remove_name,
		.clear = e->coll->clear_name,
	};
	return 0;
}

char *
wasp_config_map_dir(struct wasp_config *cfg, const char *site, const char *url)
{
	const struct wasp_element *s = cfg_find_site(cfg, site);
	struct wasp_arena *tmp;
	const char *norm, *dir;
	char *ret = NULL;
	bool app_root;

	if (!s || !(tmp = wasp_arena_new()))
		return NULL;
	norm = cfg_normalize_path(tmp, url ? url : "");
	dir = norm ? cfg_map_url_dir(tmp, s, norm, &app_root, NULL) : NULL;
	if (dir)
		ret = strdup(dir);
	wasp_arena_free(tmp);
	return ret;
}

char *
wasp_config_app_path(struct wasp_config *cfg, const char *site, const char *url)
{
	const struct wasp_element *s = cfg_find_site(cfg, site);
	struct wasp_arena *tmp;
	const char *norm, *best = NULL;
	char *ret = NULL;

	if (!s || !(tmp = wasp_arena_new()))
		return NULL;
	norm = cfg_normalize_path(tmp, url ? url : "");
	for (size_t i = 0; norm && i < s->n_items; i++) {
		const char *p = cfg_normalize_path(
			tmp, wasp_element_get_str(s->items[i], "path", "/"));

		if (p && cfg_path_is_prefix(p, norm) && (!best || strlen(p) > strlen(best)))
			best = p;
	}
	if (best)
		ret = strdup(best);
	wasp_arena_free(tmp);
	return ret;
}
