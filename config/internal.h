/* Internals of the configuration system shared by its files (schema.c,
 * schema_pack.c, value.c, load.c, decls.c, paths.c, doctype.c,
 * generation.c, element.c, serialize.c, apphost.c, and the effective-section
 * files merge.h lists). Not for other parts of wasp: they use config.h and
 * apphost.h. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arena.h"
#include "config.h"

struct _xmlAttr;
struct _xmlDoc;
struct _xmlNode;

/* ---- schema ------------------------------------------------------------- */

enum cfg_allow_def {
	CFG_ALLOW_EVERYWHERE,
	CFG_ALLOW_MACHINE_TO_APPLICATION,
	CFG_ALLOW_APPHOST_ONLY,
	CFG_ALLOW_MACHINE_ONLY, /* also MachineToWebRoot: the top level only */
	CFG_ALLOW__COUNT,
	CFG_ALLOW_INVALID = -EINVAL,
};

enum cfg_override {
	CFG_OVERRIDE_INHERIT,
	CFG_OVERRIDE_ALLOW,
	CFG_OVERRIDE_DENY,
	CFG_OVERRIDE__COUNT,
	CFG_OVERRIDE_INVALID = -EINVAL,
};

enum cfg_path_kind {
	CFG_PATH_NONE,
	CFG_PATH_FILE,     /* '\' -> '/', relative to the config file's directory */
	CFG_PATH_PHYSICAL, /* the same, and a warning when it does not exist */
};

struct schema_enum {
	const char *name;
	uint64_t value;
};

struct schema_attr {
	const char *name;
	enum wasp_attr_type type;
	const char *type_name; /* as written in the schema: uint, int64, ... */
	struct wasp_value def;
	bool required;
	bool key;
	bool non_empty;
	bool has_min, has_max;
	uint64_t umin, umax; /* UINT, TIMESPAN */
	int64_t imin, imax;  /* INT */
	enum cfg_path_kind path;
	struct schema_enum *enums; /* ENUM and FLAGS */
	size_t n_enums;
};

struct schema_coll;

struct schema_elem {
	const char *name;
	struct schema_attr *attrs;
	size_t n_attrs;
	struct schema_elem **children;
	size_t n_children;
	struct schema_coll *coll;
	const char *defaults_for; /* a *Defaults element: the item name it serves */
	bool allow_unknown_attrs;
	/* The attributes and children are the defaults_for item's (the
	 * schema gave none): cfg_schema_pack() leaves them out. */
	bool defaults_inherited;
};

struct schema_coll {
	const char *add_name, *remove_name, *clear_name;
	bool merge_append;
	const char *default_element; /* name of the *Defaults element, or NULL */
	struct schema_elem *item;
};

struct schema_section {
	const char *name; /* "system.webServer/defaultDocument" */
	struct schema_elem *root;
	enum cfg_allow_def allow_definition;  /* when configSections does not say */
	enum cfg_override override_default;
	/* Declared so that wasp can tell when it is used, not implemented:
	 * anything in it beyond its defaults would restrict or redirect what
	 * is served, so a request it applies to is refused (500.19). Its
	 * unknown attributes and elements are accepted silently. */
	bool not_implemented;
	/* notImplemented, and its collection emptied (<remove> or <clear/>
	 * of every rule) restricts too: IIS's authorization without an allow
	 * rule denies everyone. Left empty without a removal, it does not. */
	bool empty_restricts;
	/* notImplemented, and nothing in it changes what is served
	 * (validation, urlCompression, ...): a warning where it is used,
	 * never an error (IIS declares it, so a web.config may have it). */
	bool ignored;
	const char *source; /* schema file, for messages */
};

struct cfg_schema {
	struct wasp_arena *arena;
	struct schema_section **sections;
	size_t n_sections;
	/* cfg_schema_pack()'s output, made once (in arena). */
	const char *packed;
	size_t packed_len;
	/* loaded from a directory: its files' names and bytes hashed
	 * (cfg_schema_dir_hash()); 0 otherwise */
	uint64_t dir_hash;
};

/* Load every *.xml in dir (sorted by name). Problems go into diags. */
int cfg_schema_load_dir(const char *dir, struct wasp_arena *arena, struct cfg_schema **ret,
			struct wasp_diag_list *diags);
/* The names and bytes of every *.xml in dir, hashed as cfg_schema_load_dir()
 * records them, without parsing them (a reload's check that the schema is
 * the same). 0, or -errno when the directory or a file cannot be read. */
int cfg_schema_dir_hash(const char *dir, uint64_t *ret);
/* The parsed schema in a compact binary form that cfg_schema_unpack() reads
 * back without an XML parser (how a generation carries it to a worker).
 * Made on the first call and kept in s's arena: *ret_buf belongs to s.
 * 0 or -ENOMEM. */
int cfg_schema_pack(struct cfg_schema *s, const char **ret_buf, size_t *ret_len);
/* Rebuild a schema from cfg_schema_pack() output (copied into arena).
 * -EBADMSG, with a diagnostic, for malformed input; -ENOMEM. */
int cfg_schema_unpack(const char *buf, size_t len, struct wasp_arena *arena,
		      struct cfg_schema **ret, struct wasp_diag_list *diags);
const struct schema_section *cfg_schema_find(const struct cfg_schema *s, const char *name);
/* True when some section's name starts with group + "/". */
bool cfg_schema_has_group(const struct cfg_schema *s, const char *group);
const struct schema_attr *schema_elem_attr(const struct schema_elem *e, const char *name);
const struct schema_elem *schema_elem_child(const struct schema_elem *e, const char *name);
/* The directory to load the schema from when opts does not say. */
const char *cfg_schema_default_dir(void);

/* Give every *Defaults element below root that the schema left without
 * attributes its collection item's (as IIS does). A problem goes to diags
 * (file names the schema file) and makes it -EINVAL; -ENOMEM. */
int cfg_schema_resolve_defaults(struct wasp_arena *arena, const char *file, struct schema_elem *root,
				struct wasp_diag_list *diags);

/* The schema's attribute types (value.c), in the packed form's order. */
struct cfg_type {
	const char *name; /* as the schema writes it */
	enum wasp_attr_type type;
	bool is_signed;
	uint64_t umax;
	int64_t imin, imax;
};
extern const struct cfg_type cfg_types[];
extern const size_t cfg_n_types;

/* "true" or "false", any case. */
bool cfg_parse_bool(const char *s, bool *ret);
/* A decimal int64 with an optional sign: 0, -EINVAL, -ERANGE. */
int cfg_parse_int64(const char *s, int64_t *ret);

/* Parse text as a value of attribute a (value.c). On failure, returns -EINVAL/-ERANGE
 * and sets *ret_msg (static or arena text) for the diagnostic. */
int cfg_value_parse(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
		    struct wasp_value *ret, const char **ret_msg);

const char *cfg_allow_def_to_string(enum cfg_allow_def d);
enum cfg_allow_def cfg_allow_def_from_string(const char *s);
const char *cfg_override_to_string(enum cfg_override o);

/* ---- parsed files ------------------------------------------------------- */

enum cfg_node_kind { CFG_NODE_ELEMENT, CFG_NODE_ADD, CFG_NODE_REMOVE, CFG_NODE_CLEAR };

/* 32 bytes: a generation holds about eleven per site. The name is the
 * schema's, the line the node's (libxml2 has none per attribute). */
struct cfg_nattr {
	const struct schema_attr *schema; /* never NULL */
	struct wasp_value value;
};

/* A comma separated lock list, split. */
struct cfg_names {
	const char **v;
	size_t n;
};

/* The locks written on one element. Few have any: a node points to its
 * own, so that the others (one per site, pool, application, binding...)
 * do not carry four empty lists. */
struct cfg_locks {
	struct cfg_names lock_attrs, lock_all_attrs_except, lock_elements,
		lock_all_elements_except;
	bool has_lock_all_attrs_except, has_lock_all_elements_except;
};

/* One element as written in one file, validated against the schema. */
struct cfg_node {
	const char *name;
	const struct schema_elem *schema; /* ELEMENT: the element; ADD/REMOVE: the item */
	struct cfg_nattr *attrs;
	struct cfg_node **kids; /* document order */
	struct cfg_locks *locks; /* cfg_node_locks(); NULL: none */
	int line;
	uint32_t n_attrs; /* 56 bytes in all: a generation holds seven per site */
	uint32_t n_kids;
	uint8_t kind; /* enum cfg_node_kind */
	bool lock_item;
};

/* The locks written on n (no lists when it has none). */
const struct cfg_locks *cfg_node_locks(const struct cfg_node *n);
/* n's locks to fill in, made in arena on first use; NULL on OOM. */
struct cfg_locks *cfg_node_locks_mut(struct wasp_arena *arena, struct cfg_node *n);

/* One section as it appears in one file: at the top level or in a <location>. */
struct cfg_inst {
	const struct schema_section *section;
	const char *location; /* normalised location path ("" for none) */
	bool in_location;     /* written inside a <location> element */
	bool no_child_apps;   /* inheritInChildApplications="false" */
	enum cfg_override mode;
	int mode_line;
	struct cfg_node *root;
	struct cfg_file *file;
	size_t index; /* order in the file */
};

/* configSections declaration. */
struct cfg_decl {
	const char *name;
	enum cfg_allow_def allow_definition;
	enum cfg_override override_default;
	bool known; /* the schema has it */
	const char *file;
	int line;
};

struct cfg_file {
	const char *path; /* as given */
	const char *dir;  /* directory, for relative paths */
	bool is_apphost;
	bool is_builtin; /* wasp's built-in defaults, defaults.c (also is_apphost) */
	const char *url_dir; /* web.config: "/" or "/a/b" (the config path under the site) */
	struct cfg_inst **insts;
	size_t n_insts;
	struct cfg_decl *decls; /* apphost only */
	size_t n_decls;
	/* web.config: what the file looked like when parsed. */
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_nsec;
	int parse_result; /* 0 or -EINVAL when it had errors */
	const struct wasp_config_error *first_err; /* with parse_result < 0 */
};

struct cfg_cache;

struct wasp_config {
	struct wasp_arena *arena;
	struct wasp_config_opts opts;
	struct cfg_schema *schema;
	struct cfg_file *apphost;
	/* wasp's built-in defaults (defaults.c), merged below apphost's own
	 * top level; NULL when they could not be parsed (then nothing). */
	struct cfg_file *builtin;
	int builtin_lines; /* the built-in defaults' last line number */
	const char *pool; /* wasp_config_pool(): a per-pool serialization's pool */
	struct cfg_cache *cache;        /* (site, path, section) -> malloc'd entry */
	size_t cache_bytes;             /* what cache's entries cost, with their keys */
	struct cfg_cache *shared;       /* merged results by what was merged */
	struct cfg_cache *files;        /* parsed web.config files by path */
	struct cfg_cache *apphost_sections; /* wasp_config_section() results */
	/* The last section names looked up per request, by the caller's
	 * pointer (modules pass literals): the schema's sections are scanned
	 * case-insensitively otherwise, for every lookup. An entry is used only
	 * when the text there is still exactly the section's name. */
	struct {
		const char *name;
		const struct schema_section *ss;
	} section_memo[8];
	unsigned section_memo_next;
	/* serialize.c: the names of the sites' and pools' entries, hashed,
	 * made with the first per-pool serialization */
	struct cfg_kid_hashes *kid_hashes;
	/* reuse.c: where each site and pool entry is in the file, by hash,
	 * for the next reload (NULL: none kept) */
	struct cfg_items *items;
	/* A generation made by reusing entries of an earlier one (reuse.c)
	 * holds base, whose arena has them, and its own top-level arrays
	 * (the typed view's, the two sections' entry lists) in view, which
	 * go with it. refs: 1 while it is in use, plus one per generation
	 * made from it; wasp_config_free() drops the first. */
	struct wasp_config *base;
	struct wasp_arena *view;
	unsigned refs;
	unsigned depth; /* generations reused since the last whole load */
	bool freed;
};

/* IIS refuses a web.config over MaxWebConfigFileSizeInKB, 250 by default:
 * cfg_parse_file() does too (-EFBIG, with a diagnostic). */
#define CFG_MAX_WEBCONFIG_SIZE (250 * 1024)
/* The largest applicationHost.config (or any file) wasp reads. */
#define CFG_MAX_FILE_SIZE WASP_CONFIG_FILE_MAX

/* The line of a document type declaration in buf's prolog, or 0 when there
 * is none (doctype.c). */
int cfg_prolog_doctype_line(const char *buf, size_t len);

/* Parse one file's XML into f (allocated in arena). is_apphost selects the
 * rules (configSections, locations with site paths). apphost is the
 * applicationHost.config file for a web.config (its declarations). */
int cfg_parse_file(struct wasp_config *cfg, const char *buf, size_t len, const char *filename,
		   bool is_apphost, const char *url_dir, struct cfg_file **ret,
		   struct wasp_diag_list *diags);
const struct cfg_decl *cfg_find_decl(const struct cfg_file *apphost, const char *name);

/* Add the diagnostic fmt and ap format to l ("(OOM)" when the text cannot be
 * made) and return its text, which the caller frees (NULL on OOM). */
char *cfg_diag_addv(struct wasp_diag_list *l, enum wasp_diag_severity sev, const char *file,
		    int line, const char *attr, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

/* A copy of one error in arena ("attribute 'a': " put before message when
 * attr is set), with its IIS error code. NULL on OOM. */
const struct wasp_config_error *cfg_error_new(struct wasp_arena *arena, const char *file,
					      int line, const char *attr, const char *message);

/* Expand %VAR% from the environment (unknown names stay as written). */
const char *cfg_expand_env(struct wasp_arena *arena, const char *s);
/* Resolve a path written the Windows way: '\' -> '/', relative to dir. */
const char *cfg_resolve_path(struct wasp_arena *arena, const char *dir, const char *s);
/* "C:" or "C:/..." */
bool cfg_is_drive_path(const char *s);

/* Normalise a location/URL path: no leading/trailing '/', single '/'. */
char *cfg_normalize_path(struct wasp_arena *arena, const char *p);
/* The same into out, which has room for strlen(p) + 1 bytes. */
void cfg_normalize_path_into(char *out, const char *p);
/* Segment-wise case-insensitive prefix test ("" is a prefix of all). */
bool cfg_path_is_prefix(const char *prefix, const char *path);
size_t cfg_path_depth(const char *p);

/* ---- built-in defaults (defaults.c) ------------------------------------ */

/* How the built-in defaults are named in messages and in an element's file. */
#define CFG_BUILTIN_FILE "<wasp built-in defaults>"
/* Build cfg->builtin from defaults.c's tables (after the schema is loaded;
 * a section or attribute the schema lacks is left out). 0 or -ENOMEM. */
int cfg_load_builtin(struct wasp_config *cfg);
/* The built-in <modules> list, from applicationHost.config's globalModules:
 * once cfg->apphost is read, before any section is merged. -ENOMEM. */
int cfg_load_builtin_modules(struct wasp_config *cfg);

/* ---- merging ------------------------------------------------------------ */

static inline void
cfg_arena_freep(struct wasp_arena **a)
{
	wasp_arena_free(*a);
}

/* Merge what applicationHost.config says at its own level and at each of
 * its <location> paths, so duplicate entries and lock violations inside it
 * are reported at load. -EINVAL when an error was added to diags. */
int cfg_validate_apphost(struct wasp_config *cfg, struct wasp_diag_list *diags);

/* The two sections with an entry per site or per pool. */
#define CFG_SEC_SITES "system.applicationHost/sites"
#define CFG_SEC_POOLS "system.applicationHost/applicationPools"
/* Frees one value of cfg->apphost_sections. */
void cfg_apphost_section_free(void *p);


/* ---- a small string-keyed hash table ------------------------------------ */

/* 64 bits of n bytes at s (well mixed: any bits may pick a bucket). */
uint64_t cfg_hash_bytes(const char *s, size_t n);
struct cfg_cache *cfg_cache_new(void);
struct cfg_cache *cfg_cache_free(struct cfg_cache *c);
void *cfg_cache_get(struct cfg_cache *c, const char *key);
/* key is copied; value replaces any previous one. 0 or -ENOMEM. */
int cfg_cache_put(struct cfg_cache *c, const char *key, void *value);
size_t cfg_cache_count(const struct cfg_cache *c);
/* Drop every entry, calling free_value (may be NULL) on each value. */
void cfg_cache_clear(struct cfg_cache *c, void (*free_value)(void *));

/* bound.c: whether each pool's copy of cfg (wasp_config_serialize_pool())
 * is within WASP_CONFIG_SERIAL_MAX, by an upper bound of its size (close to
 * it: the JSON's escapes and punctuation counted, line numbers at their
 * widest), without making it. 0; -EINVAL with an error naming each pool
 * over it; -ENOMEM. */
struct wasp_apphost;
int cfg_check_pool_bounds(struct wasp_config *cfg, const struct wasp_apphost *ah,
			  struct wasp_diag_list *diags);
/* The same for the pools check[] says (their copies alone: what only other
 * pools' copies hold is not counted). */
int cfg_check_some_pool_bounds(struct wasp_config *cfg, const struct wasp_apphost *ah,
			       const bool *check, struct wasp_diag_list *diags);

/* Shared constructor for load and deserialize. */
int cfg_config_new(const struct wasp_config_opts *opts, struct wasp_config **ret);
/* Load applicationHost.config from buf with schema (NULL: load it from the
 * schema directory; else an earlier generation's, which must outlive the
 * new one), as wasp_config_load_buffer(). */
int cfg_load_buffer(const char *buf, size_t len, const char *filename,
		    const struct wasp_config_opts *opts, struct cfg_schema *schema,
		    struct wasp_config **ret, struct wasp_diag_list *diags);

/* ---- reusing a generation's entries (reuse.c) --------------------------- */

/* Find each <site> of the sites section and <add> of applicationPools in
 * cfg's applicationHost.config text (buf) and keep them by hash with
 * their parsed nodes. Nothing kept when the file's layout is not one the
 * reload can reuse (see reuse.c). -ENOMEM. */
int cfg_items_record(struct wasp_config *cfg, const char *buf, size_t len);
/* The typed view built from cfg (its entries in the file's order): kept
 * for the next reload when it matches the recorded entries. */
void cfg_items_bind(struct wasp_config *cfg, const struct wasp_apphost *ah);
void cfg_items_free(struct cfg_items *items);
/* apphost.c: the duplicate ids (errors) and bindings (warnings) of a
 * typed view. -EINVAL with an error added, -ENOMEM. */
int cfg_apphost_check_duplicates(const struct wasp_apphost *ah, struct wasp_diag_list *diags);

/* Grow an arena array so that it holds at least n + 1 elements of size;
 * returns the (possibly moved) array or NULL on OOM. */
void *cfg_grow(struct wasp_arena *a, void *v, size_t n, size_t *n_alloc, size_t size);
#define CFG_PUSH(arena, arr, n, n_alloc)                                              \
	__extension__({                                                                         \
		__typeof__(arr) _p_ = cfg_grow((arena), (arr), (n), &(n_alloc),       \
					       sizeof(*(arr)));                       \
		if (_p_)                                                              \
			(arr) = _p_;                                                  \
		_p_ ? &(arr)[(n)++] : NULL;                                           \
	})

/* ---- libxml2, loaded at run time (xml.c) -------------------------------- */

/* Load libxml2 (dlopen by soname, once per process; thread-safe). 0, or
 * -ELIBACC with *ret_msg saying why (static text). Every other cfg_xml_*
 * function needs a successful cfg_xml_open() first. */
int cfg_xml_open(const char **ret_msg);
/* Whether libxml2 has been loaded by cfg_xml_open(). */
bool cfg_xml_loaded(void);
/* xmlReadMemory(): the document (free with cfg_xml_free_doc()) or NULL. */
struct _xmlDoc *cfg_xml_read(const char *buf, size_t len, const char *name, int options);
struct _xmlNode *cfg_xml_root(struct _xmlDoc *doc);
void cfg_xml_free_doc(struct _xmlDoc *doc);
/* The last parse error's message (libxml2's, may end in '\n'; NULL when
 * none) and line. */
const char *cfg_xml_last_error(int *ret_line);
/* An attribute's value (entities decoded) copied into the arena, or NULL
 * when absent or on OOM. */
char *cfg_xml_prop(struct wasp_arena *a, struct _xmlNode *node, const char *name);
/* The value of attr copied into the arena ("" when empty); NULL on OOM. */
char *cfg_xml_attr_value(struct wasp_arena *a, struct _xmlAttr *attr);
int cfg_xml_line(const struct _xmlNode *node);
