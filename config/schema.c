/* wasp's configuration schema: the XML files in config/schema/, in a format
 * close to IIS's own schema files (sectionSchema, attribute, element,
 * collection, enum, flag), and lookups in it. Values are parsed against it
 * in value.c; its packed form for workers is schema_pack.c. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fs.h"
#include "internal.h"
#include "timespan.h"
#include "wasp-build.h"

static const char *const allow_def_names[CFG_ALLOW__COUNT] = {
	[CFG_ALLOW_EVERYWHERE] = "Everywhere",
	[CFG_ALLOW_MACHINE_TO_APPLICATION] = "MachineToApplication",
	[CFG_ALLOW_APPHOST_ONLY] = "AppHostOnly",
	[CFG_ALLOW_MACHINE_ONLY] = "MachineOnly",
};

const char *
cfg_allow_def_to_string(enum cfg_allow_def d)
{
	return d >= 0 && d < CFG_ALLOW__COUNT ? allow_def_names[d] : "?";
}

enum cfg_allow_def
cfg_allow_def_from_string(const char *s)
{
	if (!s)
		return CFG_ALLOW_INVALID;
	for (int i = 0; i < CFG_ALLOW__COUNT; i++)
		if (strcaseeq(s, allow_def_names[i]))
			return (enum cfg_allow_def)i;
	if (strcaseeq(s, "MachineToWebRoot"))
		return CFG_ALLOW_MACHINE_ONLY;
	return CFG_ALLOW_INVALID;
}

const char *
cfg_override_to_string(enum cfg_override o)
{
	switch (o) {
	case CFG_OVERRIDE_ALLOW:
		return "Allow";
	case CFG_OVERRIDE_DENY:
		return "Deny";
	default:
		return "Inherit";
	}
}

/* ---- schema files ------------------------------------------------------- */

struct schema_ctx {
	struct wasp_arena *arena;
	const char *file;
	struct wasp_diag_list *diags;
	int errors;
};

static void
schema_error(struct schema_ctx *c, xmlNode *n, const char *attr, const char *msg)
{
	(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, c->file, cfg_xml_line(n), attr, "schema: %s",
			    msg);
	c->errors++;
}

static bool
is_elem(xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && streq((const char *)n->name, name);
}

static bool
prop_bool(struct schema_ctx *c, xmlNode *n, const char *name, bool def)
{
	char *s = cfg_xml_prop(c->arena, n, name);
	bool b = def;

	if (s && !cfg_parse_bool(s, &b))
		schema_error(c, n, name, "not a bool");
	return b;
}

/* The type= of attribute n, with the type's own range. */
static int
attr_type(struct schema_ctx *c, xmlNode *n, struct schema_attr *a)
{
	char *type = cfg_xml_prop(c->arena, n, "type");
	bool found = false;

	if (!type)
		type = "string";
	for (size_t i = 0; i < cfg_n_types; i++)
		if (streq(type, cfg_types[i].name)) {
			a->type = cfg_types[i].type;
			a->type_name = cfg_types[i].name;
			a->umax = cfg_types[i].umax;
			a->imin = cfg_types[i].imin;
			a->imax = cfg_types[i].imax;
			found = true;
		}
	if (!found) {
		schema_error(c, n, "type", "unknown type");
		return -EINVAL;
	}
	a->has_max = a->type == WASP_ATTR_UINT || a->type == WASP_ATTR_INT;
	a->has_min = a->type == WASP_ATTR_INT;
	return 0;
}

/* The <enum> and <flag> children of attribute n. */
static int
attr_enums(struct schema_ctx *c, xmlNode *n, struct schema_attr *a)
{
	size_t n_enums = 0, n_alloc = 0;

	for (xmlNode *k = n->children; k; k = k->next) {
		struct schema_enum *e;
		char *v;

		if (!is_elem(k, "enum") && !is_elem(k, "flag"))
			continue;
		e = CFG_PUSH(c->arena, a->enums, n_enums, n_alloc);
		if (!e)
			return -ENOMEM;
		e->name = cfg_xml_prop(c->arena, k, "name");
		v = cfg_xml_prop(c->arena, k, "value");
		if (!e->name || !v || wasp_parse_u64(v, UINT64_MAX, &e->value) < 0) {
			schema_error(c, k, "value", "enum/flag needs a name and a numeric value");
			n_enums--;
		}
	}
	a->n_enums = n_enums;
	if ((a->type == WASP_ATTR_ENUM || a->type == WASP_ATTR_FLAGS) && n_enums == 0) {
		schema_error(c, n, "type", "enum or flags without values");
		return -EINVAL;
	}
	return 0;
}

/* Ranges: min= and max= in the attribute's own syntax. */
static void
attr_range(struct schema_ctx *c, xmlNode *n, struct schema_attr *a)
{
	for (int which = 0; which < 2; which++) {
		const char *name = which ? "max" : "min";
		const char *s = cfg_xml_prop(c->arena, n, name);

		if (!s)
			continue;
		if (a->type == WASP_ATTR_UINT) {
			uint64_t u;

			if (wasp_parse_u64(s, UINT64_MAX, &u) < 0)
				schema_error(c, n, name, "not a number");
			else if (which)
				a->umax = u;
			else
				a->umin = u;
		} else if (a->type == WASP_ATTR_INT) {
			int64_t i;

			if (cfg_parse_int64(s, &i) < 0)
				schema_error(c, n, name, "not a number");
			else if (which)
				a->imax = i;
			else
				a->imin = i;
		} else if (a->type == WASP_ATTR_TIMESPAN) {
			uint64_t u;

			if (wasp_timespan_parse(s, &u) < 0)
				schema_error(c, n, name, "not a timeSpan");
			else if (which)
				a->umax = u;
			else
				a->umin = u;
		} else
			schema_error(c, n, name, "min/max only for numbers and timeSpans");
		if (which)
			a->has_max = true;
		else
			a->has_min = true;
	}
}

/* defaultValue=, or the type's own default. */
static int
attr_default(struct schema_ctx *c, xmlNode *n, struct schema_attr *a)
{
	const char *dv = cfg_xml_prop(c->arena, n, "defaultValue");
	const char *msg = NULL;
	struct schema_attr relaxed = *a;

	if (!dv) {
		switch (a->type) {
		case WASP_ATTR_BOOL:
			dv = "false";
			break;
		case WASP_ATTR_UINT:
		case WASP_ATTR_INT:
			dv = "0";
			break;
		case WASP_ATTR_TIMESPAN:
			dv = "00:00:00";
			break;
		case WASP_ATTR_ENUM:
			dv = a->enums[0].name;
			break;
		default:
			dv = "";
			break;
		}
	}
	/* A default is not checked against min/max or non-empty: IIS has
	 * defaults (an empty name, a 0 limit) the user may not write. */
	relaxed.has_min = relaxed.has_max = false;
	relaxed.non_empty = false;
	if (cfg_value_parse(c->arena, &relaxed, dv, &a->def, &msg) < 0) {
		schema_error(c, n, "defaultValue", msg ? msg : "bad default");
		return -EINVAL;
	}
	return 0;
}

static int
parse_attribute(struct schema_ctx *c, xmlNode *n, struct schema_attr *a)
{
	char *s;
	int r;

	*a = (struct schema_attr){ 0 };
	a->name = cfg_xml_prop(c->arena, n, "name");
	if (!a->name || !*a->name) {
		schema_error(c, n, "name", "attribute without a name");
		return -EINVAL;
	}
	r = attr_type(c, n, a);
	if (r < 0)
		return r;
	a->required = prop_bool(c, n, "required", false);
	a->key = prop_bool(c, n, "isUniqueKey", false) || prop_bool(c, n, "isCombinedKey", false);
	s = cfg_xml_prop(c->arena, n, "validationType");
	a->non_empty = s && streq(s, "nonEmptyString");
	s = cfg_xml_prop(c->arena, n, "pathType");
	if (s && streq(s, "physical"))
		a->path = CFG_PATH_PHYSICAL;
	else if (s && streq(s, "file"))
		a->path = CFG_PATH_FILE;
	else if (s)
		schema_error(c, n, "pathType", "must be physical or file");
	r = attr_enums(c, n, a);
	if (r < 0)
		return r;
	attr_range(c, n, a);
	return attr_default(c, n, a);
}

static int parse_elem(struct schema_ctx *c, xmlNode *n, struct schema_elem *e);

static int
parse_collection(struct schema_ctx *c, xmlNode *n, struct schema_coll **ret)
{
	struct schema_coll *coll = wasp_arena_zalloc(c->arena, sizeof(*coll));

	if (!coll)
		return -ENOMEM;
	coll->add_name = cfg_xml_prop(c->arena, n, "addElement");
	coll->remove_name = cfg_xml_prop(c->arena, n, "removeElement");
	coll->clear_name = cfg_xml_prop(c->arena, n, "clearElement");
	coll->default_element = cfg_xml_prop(c->arena, n, "defaultElement");
	coll->merge_append = prop_bool(c, n, "mergeAppend", true);
	if (!coll->add_name) {
		schema_error(c, n, "addElement", "collection without addElement");
		return -EINVAL;
	}
	coll->item = wasp_arena_zalloc(c->arena, sizeof(*coll->item));
	if (!coll->item)
		return -ENOMEM;
	coll->item->name = coll->add_name;
	*ret = coll;
	return parse_elem(c, n, coll->item);
}

static int
parse_elem(struct schema_ctx *c, xmlNode *n, struct schema_elem *e)
{
	size_t n_attrs = 0, a_alloc = 0, n_kids = 0, k_alloc = 0;
	int r;

	e->allow_unknown_attrs = prop_bool(c, n, "allowUnrecognizedAttributes", false);
	if (!e->defaults_for)
		e->defaults_for = cfg_xml_prop(c->arena, n, "defaultsFor");
	for (xmlNode *k = n->children; k; k = k->next) {
		if (is_elem(k, "attribute")) {
			struct schema_attr *a = CFG_PUSH(c->arena, e->attrs, n_attrs, a_alloc);

			if (!a)
				return -ENOMEM;
			r = parse_attribute(c, k, a);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				n_attrs--;
		} else if (is_elem(k, "element")) {
			struct schema_elem **slot = CFG_PUSH(c->arena, e->children, n_kids, k_alloc);

			if (!slot)
				return -ENOMEM;
			*slot = wasp_arena_zalloc(c->arena, sizeof(**slot));
			if (!*slot)
				return -ENOMEM;
			(*slot)->name = cfg_xml_prop(c->arena, k, "name");
			if (!(*slot)->name) {
				schema_error(c, k, "name", "element without a name");
				n_kids--;
				continue;
			}
			r = parse_elem(c, k, *slot);
			if (r == -ENOMEM)
				return r;
		} else if (is_elem(k, "collection")) {
			if (e->coll) {
				schema_error(c, k, NULL, "more than one collection in an element");
				continue;
			}
			r = parse_collection(c, k, &e->coll);
			if (r == -ENOMEM)
				return r;
		}
	}
	e->n_attrs = n_attrs;
	e->n_children = n_kids;
	return 0;
}

static struct schema_elem *
find_item(struct schema_elem *e, const char *name, int depth)
{
	struct schema_elem *r;

	if (depth > 16 || !e)
		return NULL;
	if (e->coll && streq(e->coll->add_name, name))
		return e->coll->item;
	if (e->coll && (r = find_item(e->coll->item, name, depth + 1)))
		return r;
	for (size_t i = 0; i < e->n_children; i++)
		if ((r = find_item(e->children[i], name, depth + 1)))
			return r;
	return NULL;
}

/* A *Defaults element takes the attributes and child elements of the item it
 * serves (without key/required flags), so it needs no schema of its own. */
static int
resolve_defaults(struct schema_ctx *c, struct schema_elem *root, struct schema_elem *e, int depth)
{
	int r;

	if (depth > 16)
		return 0;
	if (e->defaults_for && e->n_attrs == 0) {
		struct schema_elem *item = find_item(root, e->defaults_for, 0);

		if (!item) {
			(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, c->file, 0, NULL,
					    "schema: defaultsFor '%s': no such collection item",
					    e->defaults_for);
			c->errors++;
		} else {
			e->attrs = wasp_arena_zalloc(c->arena,
						     (item->n_attrs + 1) * sizeof(*item->attrs));
			if (!e->attrs)
				return -ENOMEM;
			if (item->n_attrs)
				memcpy(e->attrs, item->attrs, item->n_attrs * sizeof(*item->attrs));
			e->n_attrs = item->n_attrs;
			for (size_t i = 0; i < e->n_attrs; i++)
				e->attrs[i].required = e->attrs[i].key = false;
			e->children = item->children;
			e->n_children = item->n_children;
			e->allow_unknown_attrs = item->allow_unknown_attrs;
			e->defaults_inherited = true;
		}
	}
	for (size_t i = 0; i < e->n_children; i++)
		if ((r = resolve_defaults(c, root, e->children[i], depth + 1)) < 0)
			return r;
	if (e->coll && (r = resolve_defaults(c, root, e->coll->item, depth + 1)) < 0)
		return r;
	return 0;
}

int
cfg_schema_resolve_defaults(struct wasp_arena *arena, const char *file, struct schema_elem *root,
			    struct wasp_diag_list *diags)
{
	struct schema_ctx c = { .arena = arena, .file = file, .diags = diags };
	int r = resolve_defaults(&c, root, root, 0);

	return r < 0 ? r : c.errors ? -EINVAL : 0;
}

static int
add_section(struct cfg_schema *s, size_t *n_alloc, struct schema_section *sec)
{
	struct schema_section **slot = CFG_PUSH(s->arena, s->sections, s->n_sections, *n_alloc);

	if (!slot)
		return -ENOMEM;
	*slot = sec;
	return 0;
}

static int
parse_schema_text(struct cfg_schema *s, size_t *n_alloc, const char *name, const char *text,
		  size_t len, struct wasp_diag_list *diags)
{
	struct schema_ctx c = { .arena = s->arena, .file = name, .diags = diags };
	xmlDoc *doc;
	xmlNode *root;
	int r = 0;

	const char *msg;
	int line;

	r = cfg_xml_open(&msg);
	if (r < 0) {
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, name, 0, NULL,
				    "cannot load libxml2: %s", msg);
		return -EINVAL;
	}
	doc = cfg_xml_read(text, len, name,
			   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				   XML_PARSE_BIG_LINES);
	if (!doc) {
		msg = cfg_xml_last_error(&line);
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, name, line, NULL,
				    "schema: not well-formed XML: %s", msg ? msg : "parse error");
		return -EINVAL;
	}
	root = cfg_xml_root(doc);
	if (!root || !is_elem(root, "configSchema")) {
		schema_error(&c, root ? root : (xmlNode *)doc, NULL, "root element must be <configSchema>");
		cfg_xml_free_doc(doc);
		return -EINVAL;
	}
	for (xmlNode *n = root->children; n; n = n->next) {
		struct schema_section *sec;
		char *v;

		if (!is_elem(n, "sectionSchema"))
			continue;
		sec = wasp_arena_zalloc(s->arena, sizeof(*sec));
		if (!sec || !(sec->root = wasp_arena_zalloc(s->arena, sizeof(*sec->root)))) {
			r = -ENOMEM;
			break;
		}
		sec->name = cfg_xml_prop(s->arena, n, "name");
		sec->source = name;
		if (!sec->name || !*sec->name || sec->name[strlen(sec->name) - 1] == '/') {
			/* group/section, or a top-level section (ARR's webFarms) */
			schema_error(&c, n, "name", "sectionSchema needs a name like group/section");
			continue;
		}
		if (cfg_schema_find(s, sec->name)) {
			schema_error(&c, n, "name", "section declared twice");
			continue;
		}
		sec->root->name = strrchr(sec->name, '/') ? strrchr(sec->name, '/') + 1 : sec->name;
		v = cfg_xml_prop(s->arena, n, "allowDefinition");
		sec->allow_definition = v ? cfg_allow_def_from_string(v) : CFG_ALLOW_EVERYWHERE;
		if (sec->allow_definition < 0) {
			schema_error(&c, n, "allowDefinition", "unknown value");
			sec->allow_definition = CFG_ALLOW_EVERYWHERE;
		}
		v = cfg_xml_prop(s->arena, n, "overrideModeDefault");
		sec->override_default =
			v && strcaseeq(v, "Deny") ? CFG_OVERRIDE_DENY : CFG_OVERRIDE_ALLOW;
		sec->not_implemented = prop_bool(&c, n, "notImplemented", false);
		sec->empty_restricts = prop_bool(&c, n, "emptyRestricts", false);
		sec->ignored = prop_bool(&c, n, "ignored", false);
		sec->not_implemented = sec->not_implemented || sec->ignored;
		r = parse_elem(&c, n, sec->root);
		if (r < 0)
			break;
		r = resolve_defaults(&c, sec->root, sec->root, 0);
		if (r < 0)
			break;
		r = add_section(s, n_alloc, sec);
		if (r < 0)
			break;
	}
	cfg_xml_free_doc(doc);
	if (r < 0)
		return r;
	return c.errors ? -EINVAL : 0;
}

/* One schema file's text; name and text stay in the schema's arena. */
struct schema_text {
	const char *name;
	const char *text;
	size_t len;
};

static int
schema_load_texts(const struct schema_text *texts, size_t n, struct wasp_arena *arena,
		  struct cfg_schema **ret, struct wasp_diag_list *diags)
{
	struct cfg_schema *s = wasp_arena_zalloc(arena, sizeof(*s));
	size_t n_alloc = 0;
	int r, result = 0;

	if (!s)
		return -ENOMEM;
	s->arena = arena;
	for (size_t i = 0; i < n; i++) {
		r = parse_schema_text(s, &n_alloc, texts[i].name, texts[i].text, texts[i].len,
				      diags);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			result = r;
	}
	if (result < 0)
		return result;
	*ret = s;
	return 0;
}

/* A schema file bigger than this is refused (wasp's own are some 100 KB). */
#define CFG_MAX_SCHEMA_FILE_SIZE (16 * 1024 * 1024)

/* path read into arena (NUL-terminated). */
static int
read_file(const char *path, struct wasp_arena *arena, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = wasp_read_file(path, CFG_MAX_SCHEMA_FILE_SIZE, &buf, &len);

	if (r < 0)
		return r;
	*ret = wasp_arena_memdup(arena, buf, len + 1);
	*ret_len = len;
	return *ret ? 0 : -ENOMEM;
}

static int
filter_xml(const struct dirent *de)
{
	size_t l = strlen(de->d_name);

	return de->d_name[0] != '.' && l > 4 && streq(de->d_name + l - 4, ".xml");
}

/* Every *.xml in dir (sorted by name) read into arena: *ret_texts, *ret_n
 * (at least one). */
static int
schema_read_dir(const char *dir, struct wasp_arena *arena, struct schema_text **ret_texts,
		size_t *ret_n, struct wasp_diag_list *diags)
{
	struct dirent **list = NULL;
	struct schema_text *texts;
	int n, r = 0;

	n = scandir(dir, &list, filter_xml, alphasort);
	if (n < 0) {
		r = -errno;
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, dir, 0, NULL,
				    "cannot read the schema directory: %s", strerror(-r));
		return r;
	}
	if (n == 0) {
		free(list);
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, dir, 0, NULL,
				    "no schema files (*.xml) in the schema directory");
		return -ENOENT;
	}
	texts = wasp_arena_zalloc(arena, (size_t)n * sizeof(*texts));
	for (int i = 0; i < n; i++) {
		char *path = wasp_arena_printf(arena, "%s/%s", dir, list[i]->d_name);
		char *buf = NULL;
		size_t len = 0;

		if (!texts || !path) {
			r = -ENOMEM;
			continue;
		}
		if (r < 0)
			continue;
		r = read_file(path, arena, &buf, &len);
		if (r < 0) {
			(void)wasp_diag_add(diags, WASP_DIAG_ERROR, path, 0, NULL, "cannot read: %s",
					    strerror(-r));
			continue;
		}
		texts[i] = (struct schema_text){ .name = path, .text = buf, .len = len };
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	*ret_texts = texts;
	*ret_n = (size_t)n;
	return r;
}

static uint64_t
texts_hash(const struct schema_text *texts, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15);

	for (size_t i = 0; i < n; i++) {
		uint64_t k[3] = { h, cfg_hash_bytes(texts[i].name, strlen(texts[i].name)),
				  cfg_hash_bytes(texts[i].text, texts[i].len) };

		h = cfg_hash_bytes((const char *)k, sizeof(k));
	}
	return h ? h : 1;
}

int
cfg_schema_load_dir(const char *dir, struct wasp_arena *arena, struct cfg_schema **ret,
		    struct wasp_diag_list *diags)
{
	struct schema_text *texts = NULL;
	size_t n = 0;
	int r = schema_read_dir(dir, arena, &texts, &n, diags);

	if (r < 0)
		return r;
	r = schema_load_texts(texts, n, arena, ret, diags);
	if (r >= 0)
		(*ret)->dir_hash = texts_hash(texts, n);
	return r;
}

int
cfg_schema_dir_hash(const char *dir, uint64_t *ret)
{
	_cleanup_(cfg_arena_freep) struct wasp_arena *tmp = wasp_arena_new();
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct schema_text *texts = NULL;
	size_t n = 0;
	int r;

	if (!tmp)
		return -ENOMEM;
	r = schema_read_dir(dir, tmp, &texts, &n, &d);
	wasp_diag_list_done(&d);
	if (r >= 0)
		*ret = texts_hash(texts, n);
	return r;
}

/* True when the running program is inside the build tree (the tests, or
 * waspd run from build/): then the source tree's schema is the right one,
 * not whatever an older installation left in $datadir. */
static bool
running_from_build_tree(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t l = strlen(WASP_BUILD_ROOT);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	return strncmp(exe, WASP_BUILD_ROOT, l) == 0 && exe[l] == '/';
}

const char *
cfg_schema_default_dir(void)
{
	const char *env = getenv("WASP_SCHEMA_DIR");
	struct stat st;

	if (env && *env)
		return env;
	if (running_from_build_tree() && stat(WASP_SCHEMA_BUILD_DIR, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return WASP_SCHEMA_BUILD_DIR;
	return WASP_DATADIR "/schema";
}

const struct schema_section *
cfg_schema_find(const struct cfg_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_sections; i++)
		if (strcaseeq(s->sections[i]->name, name))
			return s->sections[i];
	return NULL;
}

bool
cfg_schema_has_group(const struct cfg_schema *s, const char *group)
{
	size_t l = strlen(group);

	for (size_t i = 0; i < s->n_sections; i++)
		if (strncasecmp(s->sections[i]->name, group, l) == 0 &&
		    s->sections[i]->name[l] == '/')
			return true;
	return false;
}

const struct schema_attr *
schema_elem_attr(const struct schema_elem *e, const char *name)
{
	for (size_t i = 0; i < e->n_attrs; i++)
		if (streq(e->attrs[i].name, name))
			return &e->attrs[i];
	for (size_t i = 0; i < e->n_attrs; i++)
		if (strcaseeq(e->attrs[i].name, name))
			return &e->attrs[i];
	return NULL;
}

const struct schema_elem *
schema_elem_child(const struct schema_elem *e, const char *name)
{
	for (size_t i = 0; i < e->n_children; i++)
		if (streq(e->children[i]->name, name))
			return e->children[i];
	return NULL;
}
