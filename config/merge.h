/* Internals of the effective-section computation, shared by its files:
 * merge.c (IIS's merge rules), freeze.c (the result frozen and interned in
 * the generation), webconfig.c (web.config files read, re-read when they
 * change), urlmap.c (URL -> site, application, physical directory),
 * collect.c (what applies to a site, URL and section), effective.c (the
 * cached answers) and check.c (the 500.19 check of a path). Not for the rest
 * of the configuration system: it uses config.h's functions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

/* A merge level: one file at one configuration path. Locks set at a level
 * bind every later level, never the level itself. */
struct level {
	const char *file;
	const char *path;
	bool builtin;          /* wasp's built-in defaults */
	/* applicationHost.config's own top level: an <add> or <clear/> there
	 * writes the whole collection, as in a real IIS file, and replaces
	 * the built-in entries (see defaults.c). */
	bool replaces_builtin;
};

struct lock;

/* An element being merged (in the merge's temporary arena). */
struct mel {
	const struct schema_elem *schema;
	const char *name;
	struct wasp_attr *attrs; /* schema->n_attrs */
	struct lock **attr_locks;
	struct mel **children; /* schema->n_children */
	struct mel **items;
	size_t n_items, n_items_alloc;
	const char *file;
	int line;
	const struct lock *all_attrs_except;
	struct cfg_names all_attrs_except_names;
	/* lockElements: names and where */
	struct locked_elem {
		const char *name;
		const struct lock *lock;
	} *locked_elems;
	size_t n_locked_elems, n_locked_elems_alloc;
	const struct lock *all_elems_except;
	struct cfg_names all_elems_except_names;
	const struct lock *item_lock; /* lockItem on this collection entry */
	const struct level *added_at;
	size_t n_builtin; /* items added at a built-in level */
	/* A collection's entries by key hash (open addressing, kidx_size a
	 * power of two), built once it holds KIDX_MIN entries so that adding
	 * the thousandth <site> does not compare keys with the 999 before it;
	 * dropped (NULL) by <remove> and <clear>, rebuilt on the next add. */
	struct mel **kidx;
	size_t kidx_size, kidx_count;
};

struct mctx {
	struct wasp_config *cfg;
	struct wasp_arena *tmp;
	struct wasp_diag_list *diags;
	int errors;
	/* the first error recorded (in the generation's arena), for a 500.19 */
	const struct wasp_config_error *first_err;
};

/* One section instance that applies, at its place in the merge order. */
struct applied {
	const struct cfg_inst *inst;
	const char *path; /* full configuration path: "Site/a/b" */
	size_t depth;
	size_t file_depth;
	bool app_root; /* web.config at an application root */
	struct level level;
};

/* A file or directory a result depends on, as it was when looked at. */
struct dep {
	const char *path;
	/* A directory that was not there (or not a directory): nothing below
	 * it was looked at, and its appearing changes the result. Else a
	 * web.config file. */
	bool is_dir;
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_nsec;
};

/* A merged result, shared by every path the same instances apply to, so
 * that the generation grows with the configuration, not with the number of
 * URLs asked about. Lives in the generation's arena. */
struct shared {
	const struct wasp_element *elem;
	int result;
	const struct wasp_config_error *err; /* the first error, with result -EINVAL */
};

/* One (site, path, section) looked up: its result and the web.config files
 * it depends on. malloc'd (one block with the paths), dropped wholesale
 * when there are too many. */
struct entry {
	const struct shared *res;
	uint64_t checked_at;
	size_t bytes; /* what it costs the cache: itself, its paths, its key */
	size_t n_deps;
	struct dep deps[];
};

struct compute_req {
	const struct schema_section *ss;
	const char *site;   /* NULL: applicationHost.config's own level only */
	const char *target; /* "Site/a/b" normalised */
	const char *url;    /* "a/b" normalised */
	bool web_configs;   /* read web.config files */
};

struct collected {
	struct applied *v;
	size_t n;
	struct dep *deps; /* every web.config looked at, present or not */
	size_t n_deps;
	/* web.config files that failed to parse (they add no instances but
	 * make the result an error) */
	const struct cfg_file **bad;
	size_t n_bad;
};

/* ---- merge.c ------------------------------------------------------------- */

/* Merge what cfg_collect() found, checking overrideMode and allowDefinition;
 * problems go to m's diagnostics and m->errors. 0 or -ENOMEM. */
int cfg_merge_collected(struct mctx *m, const struct compute_req *q, const struct collected *c,
			struct mel **ret);
/* cfg_collect() then cfg_merge_collected(). */
int cfg_compute(struct mctx *m, const struct compute_req *q, struct mel **ret);

/* ---- freeze.c ------------------------------------------------------------ */

/* Freeze root into cfg's arena (the index in tmp), sharing equal parts with
 * what was frozen before. NULL on OOM. */
struct wasp_element *cfg_freeze_root(struct wasp_config *cfg, struct wasp_arena *tmp,
				     const struct mel *root);
/* The same into arena a (one that can be freed on its own). */
struct wasp_element *cfg_freeze_into(struct wasp_arena *a, struct wasp_arena *tmp,
				     const struct mel *root);

/* ---- webconfig.c --------------------------------------------------------- */

/* A missing directory's dep: only whether it is a directory now. */
void cfg_stat_dep_dir(const char *path, struct dep *d);
/* Whether d's path is no longer as d says (stat'ed again the way d was). */
bool cfg_dep_changed(const struct dep *d);
/* The parsed web.config at path, re-read when it changed (*ret NULL when
 * absent); dep says what it looked like. Its diagnostics go to m->diags.
 * 0 or -ENOMEM. */
int cfg_get_web_config(struct mctx *m, const char *path, struct dep *dep, struct cfg_file **ret);

/* ---- urlmap.c ------------------------------------------------------------ */

/* The physical directory of URL directory url ("" or "a/b", normalised) in
 * site, whether it is an application root, and (ret_vd_root may be NULL)
 * its virtual directory's physical path. NULL when unmapped, or when its
 * virtual directory says allowSubDirConfig="false" and url is below the
 * virtual directory's root (no web.config is read there). */
char *cfg_map_url_dir(struct wasp_arena *a, const struct wasp_element *site, const char *url,
		      bool *app_root, const char **ret_vd_root);
/* Whether inst, written for configuration path path ("Site/a/b"), reaches
 * URL target_url (inheritInChildApplications="false" stops it at another
 * application below). */
bool cfg_reaches(struct wasp_arena *a, const struct wasp_element *site, const struct cfg_inst *inst,
		 const char *path, const char *target_url);
/* The length of the shortest application or virtual directory root of site
 * that is a prefix of url ("" or "a/b", normalised) and at least from bytes
 * long, or SIZE_MAX when there is none. */
size_t cfg_next_root(struct wasp_arena *a, const struct wasp_element *site, const char *url,
		     size_t from);

/* ---- collect.c ----------------------------------------------------------- */

/* What applies to q: the built-in defaults' and applicationHost.config's
 * instances, and the web.config files' along the URL path, sorted into
 * merge order. 0 or -ENOMEM. */
int cfg_collect(struct mctx *m, const struct compute_req *q, struct collected *c);

/* ---- effective.c --------------------------------------------------------- */

/* The <site> element named name (case-insensitive), or NULL: by an index of
 * the sites section made at the first look-up (a check of every site's
 * content looks each one up). */
const struct wasp_element *cfg_find_site(struct wasp_config *cfg, const char *name);

/* The effective section for (site, url_path): *ret the cached or computed
 * result (also set when it is an error), and its result. */
int cfg_effective_at(struct wasp_config *cfg, const char *site, const char *url_path,
		     const char *section, const struct shared **ret,
		     struct wasp_diag_list *diags);
/* Whether a cached answer still holds (see effective.c). */
bool cfg_cache_fresh(const struct wasp_config *cfg, struct entry *ent);
/* Keep res, computed from c, under key in cfg's bounded cache, replacing old
 * (a stale entry of the same key, or NULL). 0 or -ENOMEM. */
int cfg_cache_store(struct wasp_config *cfg, const char *key, const struct shared *res,
		    const struct collected *c, struct entry *old);
