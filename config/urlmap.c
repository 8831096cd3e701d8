/* URL -> site, application, virtual directory and physical directory, as
 * applicationHost.config's <sites> say (for finding the web.config files
 * that apply to a URL and where inheritInChildApplications stops). */
#include <stdint.h>
#include <string.h>

#include "merge.h"

/* The item of parent (a site's applications, an application's virtual
 * directories) whose path is the longest prefix of URL path url ("" or "a/b",
 * normalised), and that path normalised ("" for the root one). */
static const struct wasp_element *
find_by_path(struct wasp_arena *a, const struct wasp_element *parent, const char *url,
	     const char **ret_path)
{
	const struct wasp_element *best = NULL;
	size_t best_len = 0;

	*ret_path = "";
	for (size_t i = 0; i < parent->n_items; i++) {
		const char *p =
			cfg_normalize_path(a, wasp_element_get_str(parent->items[i], "path", "/"));
		size_t l = p ? strlen(p) : 0;

		if (p && cfg_path_is_prefix(p, url) && (!best || l > best_len)) {
			best = parent->items[i];
			best_len = l;
			*ret_path = p;
		}
	}
	return best;
}

char *
cfg_map_url_dir(struct wasp_arena *a, const struct wasp_element *site, const char *url,
		bool *app_root, const char **ret_vd_root)
{
	const struct wasp_element *app, *vd;
	const char *app_path, *vd_path, *rest, *phys;

	*app_root = false;
	app = find_by_path(a, site, url, &app_path);
	if (!app)
		return NULL;
	*app_root = streq(url, app_path) || strlen(url) == strlen(app_path);
	rest = url + strlen(app_path);
	if (*rest == '/')
		rest++;
	vd = find_by_path(a, app, rest, &vd_path);
	if (!vd)
		return NULL;
	if (ret_vd_root)
		*ret_vd_root = wasp_element_get_str(vd, "physicalPath", "");
	rest += strlen(vd_path);
	if (*rest == '/')
		rest++;
	if (*rest && !wasp_element_get_bool(vd, "allowSubDirConfig", true))
		return NULL;
	phys = wasp_element_get_str(vd, "physicalPath", "");
	if (!*phys)
		return NULL;
	return *rest ? wasp_arena_printf(a, "%s/%s", phys, rest) : wasp_arena_strdup(a, phys);
}

bool
cfg_reaches(struct wasp_arena *a, const struct wasp_element *site, const struct cfg_inst *inst,
	    const char *path, const char *target_url)
{
	const char *slash, *loc_app, *target_app;

	if (!inst->no_child_apps || !site)
		return true;
	slash = strchr(path, '/');
	(void)find_by_path(a, site, slash ? slash + 1 : "", &loc_app);
	(void)find_by_path(a, site, target_url, &target_app);
	return strcaseeq(loc_app, target_app);
}

size_t
cfg_next_root(struct wasp_arena *a, const struct wasp_element *site, const char *url, size_t from)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < site->n_items; i++) {
		const struct wasp_element *app = site->items[i];
		const char *ap = cfg_normalize_path(a, wasp_element_get_str(app, "path", "/"));

		if (!ap || !cfg_path_is_prefix(ap, url))
			continue;
		for (size_t j = 0; j < app->n_items; j++) {
			const char *vp = cfg_normalize_path(
				a, wasp_element_get_str(app->items[j], "path", "/"));
			size_t l;

			if (!vp)
				continue;
			l = strlen(ap) + (*ap && *vp ? 1 : 0) + strlen(vp);
			if (l >= from && l < best && l <= strlen(url) &&
			    cfg_path_is_prefix(*vp ? wasp_arena_printf(a, "%s%s%s", ap,
								   *ap ? "/" : "", vp)
						   : ap,
					       url))
				best = l;
		}
	}
	return best;
}
