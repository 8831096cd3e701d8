/* The IIS configuration system: applicationHost.config and web.config files
 * in IIS's own format, checked against wasp's schema (XML files in config/schema/),
 * merged along <location> paths and web.config files into the effective
 * section for a (site, URL path).
 *
 * One loaded applicationHost.config is a "generation" (struct wasp_config):
 * everything it owns lives in its arena and goes with wasp_config_free().
 * Library code: nothing here logs; problems go into a struct wasp_diag_list
 * with file, line and attribute. Not thread-safe: one generation is used by
 * one thread (the activator's or a worker's event loop). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_t;
struct wasp_apphost;
struct wasp_arena;

/* ---- diagnostics -------------------------------------------------------- */

enum wasp_diag_severity {
	WASP_DIAG_ERROR,
	WASP_DIAG_WARNING,
	WASP_DIAG__COUNT,
	WASP_DIAG_INVALID = -EINVAL,
};

struct wasp_diag {
	enum wasp_diag_severity severity;
	char *file;      /* never NULL ("<buffer>" when unnamed) */
	int line;        /* 0 when unknown */
	char *attribute; /* NULL when the problem is not about one attribute */
	char *message;
};

/* A growing list of diagnostics; zero-initialise it (or use
 * WASP_DIAG_LIST_INIT), release with wasp_diag_list_done(). */
struct wasp_diag_list {
	struct wasp_diag *items;
	size_t n, n_alloc;
	size_t n_errors, n_warnings;
};
#define WASP_DIAG_LIST_INIT { 0 }

void wasp_diag_list_done(struct wasp_diag_list *l);
/* Append one entry (the strings are copied). Returns 0 or -ENOMEM. */
int wasp_diag_add(struct wasp_diag_list *l, enum wasp_diag_severity sev, const char *file,
		  int line, const char *attribute, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* "FILE:LINE: error: attribute 'X': message\n" (": attribute 'X'" only when
 * set, ":LINE" only when known). Returns what fprintf returns. */
int wasp_diag_print(const struct wasp_diag *d, FILE *f);
/* IIS's log directories, %SystemDrive%\inetpub\logs\NAME (the logFile and
 * traceFailedRequestsLogging defaults), where %SystemDrive% is not set (on
 * Linux it is not): WASP_LOGDIR/NAME (/var/log/wasp/NAME), or
 * $WASP_LOG_DIR/NAME when that absolute path is set (waspd's children inherit
 * it, so all see the same), written into buf. Any other directory is
 * returned as it is. */
const char *wasp_config_log_directory(const char *dir, char *buf, size_t size);
/* Print every entry of at most min_severity's importance (WASP_DIAG_WARNING
 * prints all, WASP_DIAG_ERROR only errors). */
void wasp_diag_list_print(const struct wasp_diag_list *l, FILE *f,
			  enum wasp_diag_severity min_severity);

/* ---- typed values and elements ------------------------------------------ */

enum wasp_attr_type {
	WASP_ATTR_STRING,
	WASP_ATTR_BOOL,
	WASP_ATTR_UINT,     /* uint in the schema; 64-bit here (IIS has uint and int64) */
	WASP_ATTR_INT,
	WASP_ATTR_ENUM,     /* u = the IIS numeric value; text = the canonical name */
	WASP_ATTR_FLAGS,    /* u = the OR of the named bits; text = "A,B" canonical */
	WASP_ATTR_TIMESPAN, /* u = microseconds */
	WASP_ATTR_TYPE__COUNT,
	WASP_ATTR_TYPE_INVALID = -EINVAL,
};

struct wasp_value {
	enum wasp_attr_type type;
	/* The value as text: what was written (after %VAR% expansion and, for
	 * enums/flags, canonicalised), or the schema default. Never NULL. */
	const char *text;
	union {
		bool b;
		uint64_t u; /* UINT, ENUM, FLAGS, TIMESPAN (usec) */
		int64_t i;  /* INT */
	};
};

/* 48 bytes (is_set beside line, not alone before file's alignment): a
 * generation holds tens of thousands of them. */
struct wasp_attr {
	const char *name;
	struct wasp_value value;
	const char *file; /* where it was set (NULL for a default) */
	int line;
	bool is_set; /* written in some file, not the schema default */
};

/* One element of an effective section: its attributes (every attribute the
 * schema declares, defaults included, in schema order; plus none the schema
 * does not know), its child elements, and, when the schema gives it a
 * collection, the merged collection items (add/remove/clear applied).
 * Read-only: equal parts are shared (an element left at its defaults is one
 * element and one attribute array for every site that has it), so compare
 * elements by what they hold, not by address. */
struct wasp_element {
	const char *name; /* element name: "defaultDocument", "add", "site" */
	struct wasp_attr *attrs;
	size_t n_attrs;
	struct wasp_element **children; /* declared child elements, schema order */
	size_t n_children;
	struct wasp_element **items;    /* collection items, effective order */
	size_t n_items;
	/* Collection items: the unique key's value ("a|b" for a combined key);
	 * NULL for other elements and keyless collections. */
	const char *key;
	const char *file; /* where the element was last written (NULL if only defaults) */
	int line;
	bool has_collection;
};

/* Was e last written by wasp's built-in defaults, nobody having changed it
 * (a section's root: no file nor <location> wrote it)? */
bool wasp_element_is_builtin(const struct wasp_element *e);
/* Child element by name; "requestLimits/headerLimits" walks down. NULL if
 * the schema declares no such child. */
const struct wasp_element *wasp_element_child(const struct wasp_element *e, const char *path);
/* Attribute by name (ASCII case-insensitive, as IIS). NULL if not declared. */
const struct wasp_attr *wasp_element_attr(const struct wasp_element *e, const char *name);
const struct wasp_value *wasp_element_value(const struct wasp_element *e, const char *name);
/* Convenience getters: the value, or def when the attribute is not declared. */
const char *wasp_element_get_str(const struct wasp_element *e, const char *name, const char *def);
bool wasp_element_get_bool(const struct wasp_element *e, const char *name, bool def);
uint64_t wasp_element_get_uint(const struct wasp_element *e, const char *name, uint64_t def);
int64_t wasp_element_get_int(const struct wasp_element *e, const char *name, int64_t def);
/* Collection item whose key attribute(s) equal key (for a single-key
 * collection; case-insensitive as IIS compares keys). NULL if none. */
const struct wasp_element *wasp_element_find_item(const struct wasp_element *e, const char *key);

/* JSON view (jansson): an object of attribute name -> value (bool, integer
 * or string; enums, flags and timeSpans as IIS text), child elements as
 * nested objects under their names, the element's own collection as an
 * array of objects under "collection"; a child element that has nothing but
 * a collection is that array directly ("files": [{"value": ...}]).
 * New reference, or NULL on OOM. */
struct json_t *wasp_element_to_json(const struct wasp_element *e);
/* appcmd-like XML view of an element, indented by indent levels. */
void wasp_element_print_xml(const struct wasp_element *e, FILE *f, int indent);

/* ---- loading ------------------------------------------------------------ */

struct wasp_config_opts {
	/* Directory of schema XML files. NULL: $WASP_SCHEMA_DIR when set,
	 * else the source tree's config/schema when the program runs from
	 * the build tree, else $datadir/wasp/schema (meson install). */
	const char *schema_dir;
	/* How often wasp_config_effective_section() re-stats the web.config
	 * files an effective section came from; 0 = on every call. */
	uint64_t revalidate_usec;
	/* Do not expand %VAR% from the environment (fuzzing, tests). */
	bool no_env_expansion;
};

/* The largest applicationHost.config (or any file) wasp reads. */
#define WASP_CONFIG_FILE_MAX (32 * 1024 * 1024)

/* One generation. Opaque. */
struct wasp_config;

/* Load applicationHost.config from path (or from buf/len, named filename in
 * messages; relative physicalPath values then resolve against filename's
 * directory). Warnings and errors go to diags. On success (no error
 * recorded) *ret is a new generation and 0 is returned. With errors:
 * -EINVAL, and *ret is still set when the file could be parsed at all (so
 * --test-config can show what it understood); the caller frees it.
 * -ENOMEM, -errno from reading the file. */
int wasp_config_load_file(const char *path, const struct wasp_config_opts *opts,
			  struct wasp_config **ret, struct wasp_diag_list *diags);
int wasp_config_load_buffer(const char *buf, size_t len, const char *filename,
			    const struct wasp_config_opts *opts, struct wasp_config **ret,
			    struct wasp_diag_list *diags);

/* NULL-safe; returns NULL. Every element handed out by this generation goes. */
struct wasp_config *wasp_config_free(struct wasp_config *cfg);

/* The file it was loaded from (as given), and its directory. */
const char *wasp_config_file(const struct wasp_config *cfg);
const char *wasp_config_dir(const struct wasp_config *cfg);
/* The generation's arena (for wasp_apphost_build and friends). */
struct wasp_arena *wasp_config_arena(struct wasp_config *cfg);

/* applicationHost.config's own section (outside any <location>, or in
 * <location path="">), defaults applied. section is the full path,
 * "system.applicationHost/sites". NULL when the schema does not know it;
 * a section the file does not contain comes back with its defaults. */
const struct wasp_element *wasp_config_section(struct wasp_config *cfg, const char *section);
/* Free what wasp_config_section() made of section, when it is one of the
 * two that have an entry per site or pool (sites, applicationPools; any
 * other is kept): every pointer into it is invalid afterwards, and the next
 * wasp_config_section() makes it again. waspd, once it built its typed view
 * (apphost.h, which copies what it keeps of them), keeps only that. */
void wasp_config_section_release(struct wasp_config *cfg, const char *section);

/* A section's full name as appcmd resolves /section:NAME: NAME itself when
 * the schema declares it, else the one declared section whose last component
 * is NAME ("defaultDocument" is "system.webServer/defaultDocument"). NULL
 * when none is, or more than one (the full name is needed then). */
const char *wasp_config_section_resolve(struct wasp_config *cfg, const char *name);
/* The schema's i-th section that wasp implements, in schema order, and
 * NULL past the last: the sections `waspctl list config PATH` shows. */
const char *wasp_config_section_nth(struct wasp_config *cfg, size_t i);

/* The element names of the collection of the element at elem_path in
 * section ("" or NULL: the section's root; steps are child element names
 * or a collection's add element, "site/bindings"), as a file writes them:
 * add is "add", "site", "binding"...; remove and clear may be NULL.
 * 0, or -ENOENT when the schema has no such element or it no collection. */
struct wasp_config_collection {
	const char *add, *remove, *clear;
};
int wasp_config_collection_names(struct wasp_config *cfg, const char *section,
				 const char *elem_path, struct wasp_config_collection *ret);
/* Does the schema declare attribute name (ASCII case-insensitive) on the
 * element at elem_path of section (steps as above)? An element that takes
 * any attribute declares every name. */
bool wasp_config_attr_declared(struct wasp_config *cfg, const char *section,
			       const char *elem_path, const char *name);
/* The physical directory of a site's URL path (whose web.config holds the
 * path's configuration), malloc'd; NULL when the site does not exist or the
 * path maps to no directory. */
char *wasp_config_map_dir(struct wasp_config *cfg, const char *site, const char *url);
/* The path of the site's application a URL path is in, normalised ("" for
 * the root one, "shop/eu"), malloc'd; NULL when the site does not exist or
 * no application holds it. */
char *wasp_config_app_path(struct wasp_config *cfg, const char *site, const char *url);

/* THE effective section for a site and URL path: applicationHost.config's
 * section, then its <location> paths from least to most specific, then
 * web.config files in the physical directories along the URL path (through
 * the site's applications and virtual directories), honouring
 * overrideMode/overrideModeDefault, allowDefinition and the locks.
 *
 * site_path is "Site Name/url/path" (the site name up to the first '/');
 * the _at variant takes them apart. The URL path is the decoded path
 * without the query; a ".." segment in it is refused (-EINVAL, nothing
 * added to diags): resolve dot segments first. Results are cached per (site, path,
 * section) and recomputed when a web.config involved changes (mtime, size,
 * appears or disappears). The returned element belongs to cfg and stays
 * valid until wasp_config_free().
 *
 * Returns 0; -ENOENT (no such site, or the schema has no such section);
 * -EINVAL when a file along the way has an error (lock violation, bad value:
 * in diags; *ret is then still set to the section as merged without the
 * offending files' parts, which is what IIS would serve as a 500.19 ...
 * the caller decides); -ENOMEM. */
int wasp_config_effective_section(struct wasp_config *cfg, const char *site_path,
				  const char *section, const struct wasp_element **ret,
				  struct wasp_diag_list *diags);
int wasp_config_effective_section_at(struct wasp_config *cfg, const char *site,
				     const char *url_path, const char *section,
				     const struct wasp_element **ret,
				     struct wasp_diag_list *diags);

/* Each <location> of applicationHost.config under site (its name, ASCII
 * case-insensitive) that holds section: fn gets the path below the site
 * ("" for the site itself, "app/dir"), in file order; a non-zero return
 * stops the walk and is returned. 0 otherwise. */
int wasp_config_site_locations(struct wasp_config *cfg, const char *section, const char *site,
			       int (*fn)(const char *url, void *userdata), void *userdata);

/* Why the configuration of a URL cannot be used: what IIS answers 500.19. */
struct wasp_config_error {
	const char *file;    /* the configuration file ("" when unknown) */
	int line;            /* 0 when unknown */
	const char *message; /* "attribute 'a': ..." when about one attribute */
	uint32_t hresult;    /* IIS's error code: 0x8007000d, 0x80070021, ... */
};

/* Can the configuration of a site's URL path be used, as IIS decides before
 * it serves a request? Not when a web.config along the path has an error
 * (not well-formed, a value or attribute IIS would refuse, an undeclared
 * section), when a section there breaks overrideMode, allowDefinition or a
 * lock, when the virtual directory's physical path does not exist, or when
 * a section the schema declares notImplemented applies to the path with
 * anything beyond its defaults (applicationHost.config's included).
 * Cached and revalidated like effective sections; diagnostics go to diags
 * when the answer is computed, not on a cache hit.
 * Returns 0 (*ret_err NULL); -EINVAL with *ret_err set (it belongs to cfg);
 * -ENOENT (no such site); -ENOMEM. */
int wasp_config_check_path(struct wasp_config *cfg, const char *site, const char *url_path,
			   const struct wasp_config_error **ret_err, struct wasp_diag_list *diags);

/* What the cache of effective sections per (site, path, section) holds, in
 * bytes (bounded: a client chooses the paths). For statistics and tests. */
size_t wasp_config_cache_bytes(const struct wasp_config *cfg);

/* ---- handing a generation to a worker ----------------------------------- */

/* The largest serialized generation (wasp_config_serialize*()) a worker
 * reads. Loading a configuration refuses one whose serialized form could
 * be larger (an error naming the file), so whatever waspd accepts its
 * workers can load; the serializers return -EFBIG past it. */
#define WASP_CONFIG_SERIAL_MAX (64 * 1024 * 1024)

/* Serialize the generation (the schema, the section declarations and
 * applicationHost.config's sections with %VAR% already expanded, every
 * attribute named "password" removed) so a worker can rebuild it without
 * reading applicationHost.config. *ret_buf is malloc'd. 0 or -ENOMEM. */
int wasp_config_serialize(const struct wasp_config *cfg, char **ret_buf, size_t *ret_len);
/* The same into a sealed memfd. Returns the fd or -errno. */
int wasp_config_serialize_memfd(const struct wasp_config *cfg);
/* Only what a worker of one pool needs: the same, but of the applicationPools
 * section only pool and the pools named by the applications of the sites
 * kept (and applicationPoolDefaults), of the sites section only the sites
 * that have an application in pool (whole; siteDefaults, applicationDefaults
 * and virtualDirectoryDefaults stay), and only the <location> paths that are
 * empty or under a kept site. The effective sections of a kept site are the
 * same as with the whole generation. ah is the typed view built from cfg.
 * The output names pool (wasp_config_pool() after deserializing).
 * *ret_buf is malloc'd. 0, -ENOENT (ah has no such pool), -ENOMEM. */
int wasp_config_serialize_pool(const struct wasp_config *cfg, const struct wasp_apphost *ah,
			       const char *pool, char **ret_buf, size_t *ret_len);
/* The same into a sealed memfd. sites, when not NULL, are the indexes in
 * ah->sites of the n_sites sites with an application in pool, in order
 * (waspd keeps them per generation: with thousands of sites, finding them
 * is most of the work). Returns the fd or -errno. */
int wasp_config_serialize_pool_memfd(const struct wasp_config *cfg,
				     const struct wasp_apphost *ah, const char *pool,
				     const uint32_t *sites, size_t n_sites);
/* Make now what the per-pool serializations of cfg share (each sites and
 * applicationPools section's children indexed by name), which the first of
 * them would otherwise make: with thousands of sites it is most of that
 * first one's cost. 0 or -ENOMEM. */
int wasp_config_prepare_pools(const struct wasp_config *cfg);
/* What a worker of pool would be given, as text without any line number
 * and with the other pools its sites name reduced to their names: two
 * generations whose digests for a pool are equal configure its workers the
 * same (waspd's reload recycles a pool only when they differ).
 * *ret_buf is malloc'd. 0, -ENOENT (ah has no such pool), -ENOMEM. */
int wasp_config_pool_digest(const struct wasp_config *cfg, const struct wasp_apphost *ah,
			    const char *pool, char **ret_buf, size_t *ret_len);
/* The pool a generation deserialized from wasp_config_serialize_pool() output
 * was made for (belongs to cfg); NULL for a whole generation. */
const char *wasp_config_pool(const struct wasp_config *cfg);
/* Rebuild a generation from wasp_config_serialize() output. opts->schema_dir
 * is ignored (the schema travels along). -EBADMSG for a malformed buffer. */
int wasp_config_deserialize(const char *buf, size_t len, const struct wasp_config_opts *opts,
			    struct wasp_config **ret, struct wasp_diag_list *diags);
