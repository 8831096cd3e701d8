/* wasp's configuration schema: the XML files in config/schema/, in a format close to
 * IIS's own schema files (sectionSchema, attribute, element, collection,
 * enum, flag), plus typed value parsing against it. */
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

/* ---- value parsing ------------------------------------------------------ */

static bool
parse_bool(const char *s, bool *ret)
{
	if (strcaseeq(s, "true")) {
		*ret = true;
		return true;
	}
	if (strcaseeq(s, "false")) {
		*ret = false;
		return true;
	}
	return false;
}

static char *
trim(struct wasp_arena *a, const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return wasp_arena_strndup(a, s, n);
}

static int
parse_int64(const char *s, int64_t *ret)
{
	uint64_t u;
	bool neg = false;
	int r;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	r = wasp_parse_u64(s, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &u);
	if (r < 0)
		return r;
	*ret = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static const struct schema_enum *
find_enum(const struct schema_attr *a, const char *name)
{
	for (size_t i = 0; i < a->n_enums; i++)
		if (strcaseeq(a->enums[i].name, name))
			return &a->enums[i];
	return NULL;
}

static char *
enum_names(struct wasp_arena *arena, const struct schema_attr *a)
{
	char *s = wasp_arena_strdup(arena, "");

	for (size_t i = 0; s && i < a->n_enums; i++)
		s = wasp_arena_printf(arena, "%s%s%s", s, i ? ", " : "", a->enums[i].name);
	return s;
}

int
cfg_value_parse(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
		struct wasp_value *ret, const char **ret_msg)
{
	struct wasp_value v = { .type = a->type, .text = text };
	char tsmin[WASP_TIMESPAN_MAX], tsmax[WASP_TIMESPAN_MAX];
	char *t;
	int r;

	switch (a->type) {
	case WASP_ATTR_STRING:
		if (a->non_empty && !*text) {
			*ret_msg = "must not be empty";
			return -EINVAL;
		}
		break;
	case WASP_ATTR_BOOL:
		t = trim(arena, text);
		if (!t || !parse_bool(t, &v.b)) {
			*ret_msg = wasp_arena_printf(arena, "'%s' is not a bool (true or false)", text);
			return -EINVAL;
		}
		v.text = v.b ? "true" : "false";
		break;
	case WASP_ATTR_UINT:
		t = trim(arena, text);
		if (!t)
			return -ENOMEM;
		r = wasp_parse_u64(t, UINT64_MAX, &v.u);
		if (r == -EINVAL) {
			*ret_msg = wasp_arena_printf(arena, "'%s' is not an unsigned integer (%s)",
						     text, a->type_name);
			return r;
		}
		if (r < 0 || (a->has_max && v.u > a->umax) || (a->has_min && v.u < a->umin)) {
			*ret_msg = wasp_arena_printf(arena,
						     "%s is out of range (%" PRIu64 "-%" PRIu64 ")",
						     text, a->umin, a->umax);
			return -ERANGE;
		}
		v.text = t;
		break;
	case WASP_ATTR_INT:
		t = trim(arena, text);
		if (!t)
			return -ENOMEM;
		r = parse_int64(t, &v.i);
		if (r == -EINVAL) {
			*ret_msg = wasp_arena_printf(arena, "'%s' is not an integer (%s)", text,
						     a->type_name);
			return r;
		}
		if (r < 0 || (a->has_max && v.i > a->imax) || (a->has_min && v.i < a->imin)) {
			*ret_msg = wasp_arena_printf(arena,
						     "%s is out of range (%" PRId64 " to %" PRId64 ")",
						     text, a->imin, a->imax);
			return -ERANGE;
		}
		v.text = t;
		break;
	case WASP_ATTR_ENUM: {
		const struct schema_enum *e;

		t = trim(arena, text);
		if (!t)
			return -ENOMEM;
		e = find_enum(a, t);
		if (!e) {
			/* IIS also takes the numeric value. */
			uint64_t u;

			if (wasp_parse_u64(t, UINT64_MAX, &u) == 0)
				for (size_t i = 0; i < a->n_enums && !e; i++)
					if (a->enums[i].value == u)
						e = &a->enums[i];
		}
		if (!e) {
			*ret_msg = wasp_arena_printf(arena, "'%s' is not one of: %s", text,
						     enum_names(arena, a));
			return -EINVAL;
		}
		v.u = e->value;
		v.text = e->name;
		break;
	}
	case WASP_ATTR_FLAGS: {
		char *copy = wasp_arena_strdup(arena, text), *tok, *save = NULL;
		char *canon = wasp_arena_strdup(arena, "");

		if (!copy || !canon)
			return -ENOMEM;
		v.u = 0;
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			const struct schema_enum *e;
			uint64_t u;

			t = trim(arena, tok);
			if (!t)
				return -ENOMEM;
			if (!*t)
				continue;
			e = find_enum(a, t);
			if (e) {
				v.u |= e->value;
				continue;
			}
			if (wasp_parse_u64(t, UINT64_MAX, &u) == 0) {
				v.u |= u;
				continue;
			}
			*ret_msg = wasp_arena_printf(arena, "'%s' is not one of: %s", t,
						     enum_names(arena, a));
			return -EINVAL;
		}
		/* Canonical text: the names of the bits set, in schema order. */
		for (size_t i = 0; i < a->n_enums; i++) {
			const struct schema_enum *e = &a->enums[i];

			if ((e->value == 0 && v.u == 0) ||
			    (e->value != 0 && (v.u & e->value) == e->value))
				canon = wasp_arena_printf(arena, "%s%s%s", canon, *canon ? "," : "",
							  e->name);
			if (!canon)
				return -ENOMEM;
		}
		v.text = canon;
		break;
	}
	case WASP_ATTR_TIMESPAN:
		t = trim(arena, text);
		if (!t)
			return -ENOMEM;
		r = wasp_timespan_parse(t, &v.u);
		if (r == -EINVAL) {
			*ret_msg = wasp_arena_printf(arena,
						     "'%s' is not a timeSpan ([d.]hh:mm:ss[.fffffff])",
						     text);
			return r;
		}
		if (r < 0 || (a->has_max && v.u > a->umax) || (a->has_min && v.u < a->umin)) {
			*ret_msg = wasp_arena_printf(
				arena, "%s is out of range (%s to %s)", text,
				wasp_timespan_format(a->umin, tsmin, sizeof(tsmin)),
				a->has_max ? wasp_timespan_format(a->umax, tsmax, sizeof(tsmax))
					   : "10675199.02:48:05");
			return -ERANGE;
		}
		v.text = t;
		break;
	default:
		*ret_msg = "unknown type";
		return -EINVAL;
	}
	*ret = v;
	return 0;
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

	if (s && !parse_bool(s, &b))
		schema_error(c, n, name, "not a bool");
	return b;
}

static const struct {
	const char *name;
	enum wasp_attr_type type;
	bool is_signed;
	uint64_t umax;
	int64_t imin, imax;
} type_table[] = {
	{ "string", WASP_ATTR_STRING, false, 0, 0, 0 },
	{ "bool", WASP_ATTR_BOOL, false, 0, 0, 0 },
	{ "uint", WASP_ATTR_UINT, false, UINT32_MAX, 0, 0 },
	{ "uint64", WASP_ATTR_UINT, false, UINT64_MAX, 0, 0 },
	{ "int", WASP_ATTR_INT, true, 0, INT32_MIN, INT32_MAX },
	{ "int64", WASP_ATTR_INT, true, 0, INT64_MIN, INT64_MAX },
	{ "enum", WASP_ATTR_ENUM, false, 0, 0, 0 },
	{ "flags", WASP_ATTR_FLAGS, false, 0, 0, 0 },
	{ "timeSpan", WASP_ATTR_TIMESPAN, false, UINT64_MAX, 0, 0 },
};

static int
parse_attribute(struct schema_ctx *c, xmlNode *n, struct schema_attr *a)
{
	char *type, *s;
	const char *dv;
	size_t n_enums = 0, n_alloc = 0;
	bool found = false;
	const char *msg = NULL;

	*a = (struct schema_attr){ 0 };
	a->name = cfg_xml_prop(c->arena, n, "name");
	type = cfg_xml_prop(c->arena, n, "type");
	if (!a->name || !*a->name) {
		schema_error(c, n, "name", "attribute without a name");
		return -EINVAL;
	}
	if (!type)
		type = "string";
	for (size_t i = 0; i < ELEMENTSOF(type_table); i++)
		if (streq(type, type_table[i].name)) {
			a->type = type_table[i].type;
			a->type_name = type_table[i].name;
			a->umax = type_table[i].umax;
			a->imin = type_table[i].imin;
			a->imax = type_table[i].imax;
			found = true;
		}
	if (!found) {
		schema_error(c, n, "type", "unknown type");
		return -EINVAL;
	}
	a->has_max = a->type == WASP_ATTR_UINT || a->type == WASP_ATTR_INT;
	a->has_min = a->type == WASP_ATTR_INT;
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

	/* Ranges: min/max in the attribute's own syntax. */
	for (int which = 0; which < 2; which++) {
		const char *name = which ? "max" : "min";

		s = cfg_xml_prop(c->arena, n, name);
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

			if (parse_int64(s, &i) < 0)
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

	dv = cfg_xml_prop(c->arena, n, "defaultValue");
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
	{
		struct schema_attr relaxed = *a;

		relaxed.has_min = relaxed.has_max = false;
		relaxed.non_empty = false;
		if (cfg_value_parse(c->arena, &relaxed, dv, &a->def, &msg) < 0) {
			schema_error(c, n, "defaultValue", msg ? msg : "bad default");
			return -EINVAL;
		}
	}
	return 0;
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
		if (!sec->name || !strchr(sec->name, '/')) {
			schema_error(&c, n, "name", "sectionSchema needs a name like group/section");
			continue;
		}
		if (cfg_schema_find(s, sec->name)) {
			schema_error(&c, n, "name", "section declared twice");
			continue;
		}
		sec->root->name = strrchr(sec->name, '/') + 1;
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

int
cfg_schema_load_dir(const char *dir, struct wasp_arena *arena, struct cfg_schema **ret,
		    struct wasp_diag_list *diags)
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
	if (r < 0)
		return r;
	return schema_load_texts(texts, (size_t)n, arena, ret, diags);
}

/* ---- the packed form ------------------------------------------------------ */

/* What cfg_schema_pack() writes, so a worker rebuilds the schema without
 * libxml2 (parsing the XML took most of its configuration time). Numbers are
 * LEB128 varints (signed ones zigzag-encoded); a string is varint(length + 1)
 * then its bytes and a NUL (0 for NULL), so unpacked strings point into one
 * copy of the buffer. Counts and lists follow the structures of internal.h:
 *
 *   "wsc1" n_sources source... n_sections section...
 *   section: name allow_definition override_default source_index
 *            flags(1 not_implemented, 2 empty_restricts, 4 ignored) elem
 *   elem:    flags(1 allow_unknown_attrs, 2 defaults_inherited) defaults_for
 *            [unless defaults_inherited: n_attrs attr... n_children
 *            (name elem)... has_collection [coll]]
 *   coll:    add remove clear default_element merge_append elem
 *   attr:    name type_index flags(1 required, 2 key, 4 non_empty, 8 has_min,
 *            16 has_max) path umin umax imin imax default_text default_value
 *            n_enums (name value)...
 *
 * A section root's name is what follows the last '/' of the section's, a
 * collection item's its add_name; defaults_inherited elements are resolved
 * again as after parsing (resolve_defaults()). */
#define SCHEMA_PACK_MAGIC "wsc1"
#define SCHEMA_PACK_DEPTH 32

enum {
	PACK_E_UNKNOWN_ATTRS = 1 << 0,
	PACK_E_INHERITED = 1 << 1,
	PACK_E__ALL = (1 << 2) - 1,
	PACK_A_REQUIRED = 1 << 0,
	PACK_A_KEY = 1 << 1,
	PACK_A_NON_EMPTY = 1 << 2,
	PACK_A_HAS_MIN = 1 << 3,
	PACK_A_HAS_MAX = 1 << 4,
	PACK_A__ALL = (1 << 5) - 1,
	PACK_S_NOT_IMPLEMENTED = 1 << 0,
	PACK_S_EMPTY_RESTRICTS = 1 << 1,
	PACK_S_IGNORED = 1 << 2,
	PACK_S__ALL = (1 << 3) - 1,
};

struct pack_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
put_bytes(struct pack_buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
put_u(struct pack_buf *b, uint64_t v)
{
	uint8_t out[10];
	size_t n = 0;

	do {
		out[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			out[n] |= 0x80;
		n++;
	} while (v);
	put_bytes(b, out, n);
}

static void
put_i(struct pack_buf *b, int64_t v)
{
	put_u(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void
put_str(struct pack_buf *b, const char *s)
{
	size_t n;

	if (!s) {
		put_u(b, 0);
		return;
	}
	n = strlen(s);
	put_u(b, n + 1);
	put_bytes(b, s, n + 1);
}

static size_t
type_index(const struct schema_attr *a)
{
	for (size_t i = 0; i < ELEMENTSOF(type_table); i++)
		if (a->type_name == type_table[i].name ||
		    (a->type_name && streq(a->type_name, type_table[i].name)))
			return i;
	return 0;
}

static void
pack_attr(struct pack_buf *b, const struct schema_attr *a)
{
	put_str(b, a->name);
	put_u(b, type_index(a));
	put_u(b, (a->required ? PACK_A_REQUIRED : 0) | (a->key ? PACK_A_KEY : 0) |
			 (a->non_empty ? PACK_A_NON_EMPTY : 0) | (a->has_min ? PACK_A_HAS_MIN : 0) |
			 (a->has_max ? PACK_A_HAS_MAX : 0));
	put_u(b, a->path);
	put_u(b, a->umin);
	put_u(b, a->umax);
	put_i(b, a->imin);
	put_i(b, a->imax);
	put_str(b, a->def.text);
	if (a->type == WASP_ATTR_BOOL)
		put_u(b, a->def.b);
	else if (a->type == WASP_ATTR_INT)
		put_i(b, a->def.i);
	else
		put_u(b, a->type == WASP_ATTR_STRING ? 0 : a->def.u);
	put_u(b, a->n_enums);
	for (size_t i = 0; i < a->n_enums; i++) {
		put_str(b, a->enums[i].name);
		put_u(b, a->enums[i].value);
	}
}

static void
pack_elem(struct pack_buf *b, const struct schema_elem *e)
{
	put_u(b, (e->allow_unknown_attrs ? PACK_E_UNKNOWN_ATTRS : 0) |
			 (e->defaults_inherited ? PACK_E_INHERITED : 0));
	put_str(b, e->defaults_for);
	if (e->defaults_inherited)
		return;
	put_u(b, e->n_attrs);
	for (size_t i = 0; i < e->n_attrs; i++)
		pack_attr(b, &e->attrs[i]);
	put_u(b, e->n_children);
	for (size_t i = 0; i < e->n_children; i++) {
		put_str(b, e->children[i]->name);
		pack_elem(b, e->children[i]);
	}
	put_u(b, e->coll != NULL);
	if (e->coll) {
		put_str(b, e->coll->add_name);
		put_str(b, e->coll->remove_name);
		put_str(b, e->coll->clear_name);
		put_str(b, e->coll->default_element);
		put_u(b, e->coll->merge_append);
		pack_elem(b, e->coll->item);
	}
}

int
cfg_schema_pack(struct cfg_schema *s, const char **ret_buf, size_t *ret_len)
{
	struct pack_buf b = { 0 };
	const char **sources;
	size_t n_sources = 0;
	char *copy;

	if (s->packed) {
		*ret_buf = s->packed;
		*ret_len = s->packed_len;
		return 0;
	}
	/* The files the sections come from, in order (a section's source
	 * is one of them, the same pointer for one file). */
	sources = calloc(s->n_sections + 1, sizeof(*sources));
	if (!sources)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_sections; i++)
		if (n_sources == 0 || !streq(sources[n_sources - 1], s->sections[i]->source))
			sources[n_sources++] = s->sections[i]->source;
	put_bytes(&b, SCHEMA_PACK_MAGIC, strlen(SCHEMA_PACK_MAGIC));
	put_u(&b, n_sources);
	for (size_t i = 0; i < n_sources; i++)
		put_str(&b, sources[i]);
	put_u(&b, s->n_sections);
	for (size_t i = 0, src = 0; i < s->n_sections; i++) {
		const struct schema_section *sec = s->sections[i];

		while (!streq(sources[src], sec->source))
			src++;
		put_str(&b, sec->name);
		put_u(&b, (uint64_t)sec->allow_definition);
		put_u(&b, (uint64_t)sec->override_default);
		put_u(&b, src);
		put_u(&b, (sec->not_implemented ? PACK_S_NOT_IMPLEMENTED : 0) |
				  (sec->empty_restricts ? PACK_S_EMPTY_RESTRICTS : 0) |
				  (sec->ignored ? PACK_S_IGNORED : 0));
		pack_elem(&b, sec->root);
	}
	free(sources);
	copy = b.oom ? NULL : wasp_arena_alloc(s->arena, b.len ? b.len : 1);
	if (copy)
		memcpy(copy, b.p, b.len);
	free(b.p);
	if (!copy)
		return -ENOMEM;
	s->packed = copy;
	s->packed_len = b.len;
	*ret_buf = copy;
	*ret_len = b.len;
	return 0;
}

struct unpack_ctx {
	struct wasp_arena *arena;
	const char *p, *end;
	bool bad;
};

static uint64_t
get_u(struct unpack_ctx *u)
{
	uint64_t v = 0;

	for (unsigned shift = 0; !u->bad; shift += 7) {
		uint8_t c;

		if (u->p >= u->end || shift > 63) {
			u->bad = true;
			break;
		}
		c = (uint8_t)*u->p++;
		if (shift == 63 && c > 1) {
			u->bad = true;
			break;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	return 0;
}

static int64_t
get_i(struct unpack_ctx *u)
{
	uint64_t v = get_u(u);

	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A value at most max, else the input is bad. */
static uint64_t
get_max(struct unpack_ctx *u, uint64_t max)
{
	uint64_t v = get_u(u);

	if (v > max)
		u->bad = true;
	return u->bad ? 0 : v;
}

/* A count of things at least one byte each: no more than what is left. */
static size_t
get_count(struct unpack_ctx *u)
{
	return (size_t)get_max(u, (uint64_t)(u->end - u->p));
}

static const char *
get_str(struct unpack_ctx *u)
{
	uint64_t n = get_u(u);
	const char *s;

	if (u->bad || n == 0)
		return NULL;
	if (n > (uint64_t)(u->end - u->p) || u->p[n - 1] != '\0') {
		u->bad = true;
		return NULL;
	}
	s = u->p;
	u->p += n;
	return s;
}

/* A string that must be there. */
static const char *
get_name(struct unpack_ctx *u)
{
	const char *s = get_str(u);

	if (!s)
		u->bad = true;
	return s;
}

static void *
unpack_array(struct unpack_ctx *u, size_t n, size_t size)
{
	void *v;

	if (u->bad)
		return NULL;
	v = wasp_arena_zalloc(u->arena, (n ? n : 1) * size);
	return v;
}

static int
unpack_attr(struct unpack_ctx *u, struct schema_attr *a)
{
	size_t t;
	uint64_t flags;

	a->name = get_name(u);
	t = (size_t)get_max(u, ELEMENTSOF(type_table) - 1);
	a->type = type_table[t].type;
	a->type_name = type_table[t].name;
	flags = get_max(u, PACK_A__ALL);
	a->required = flags & PACK_A_REQUIRED;
	a->key = flags & PACK_A_KEY;
	a->non_empty = flags & PACK_A_NON_EMPTY;
	a->has_min = flags & PACK_A_HAS_MIN;
	a->has_max = flags & PACK_A_HAS_MAX;
	a->path = (enum cfg_path_kind)get_max(u, CFG_PATH_PHYSICAL);
	a->umin = get_u(u);
	a->umax = get_u(u);
	a->imin = get_i(u);
	a->imax = get_i(u);
	a->def.type = a->type;
	a->def.text = get_name(u);
	if (a->type == WASP_ATTR_BOOL)
		a->def.b = get_max(u, 1);
	else if (a->type == WASP_ATTR_INT)
		a->def.i = get_i(u);
	else
		a->def.u = get_u(u);
	a->n_enums = get_count(u);
	if ((a->type == WASP_ATTR_ENUM || a->type == WASP_ATTR_FLAGS) && a->n_enums == 0)
		u->bad = true;
	if (a->n_enums) {
		a->enums = unpack_array(u, a->n_enums, sizeof(*a->enums));
		if (!a->enums)
			return u->bad ? -EBADMSG : -ENOMEM;
		for (size_t i = 0; i < a->n_enums && !u->bad; i++) {
			a->enums[i].name = get_name(u);
			a->enums[i].value = get_u(u);
		}
	}
	return u->bad ? -EBADMSG : 0;
}

static int
unpack_elem(struct unpack_ctx *u, struct schema_elem *e, int depth)
{
	uint64_t flags;
	int r;

	if (depth > SCHEMA_PACK_DEPTH)
		return -EBADMSG;
	flags = get_max(u, PACK_E__ALL);
	e->allow_unknown_attrs = flags & PACK_E_UNKNOWN_ATTRS;
	e->defaults_for = get_str(u);
	if (flags & PACK_E_INHERITED) {
		/* resolve_defaults() gives it the item's attributes. */
		return u->bad || !e->defaults_for ? -EBADMSG : 0;
	}
	e->n_attrs = get_count(u);
	e->attrs = unpack_array(u, e->n_attrs, sizeof(*e->attrs));
	if (!e->attrs)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < e->n_attrs; i++)
		if ((r = unpack_attr(u, &e->attrs[i])) < 0)
			return r;
	e->n_children = get_count(u);
	e->children = unpack_array(u, e->n_children, sizeof(*e->children));
	if (!e->children)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < e->n_children; i++) {
		struct schema_elem *k = wasp_arena_zalloc(u->arena, sizeof(*k));

		if (!k)
			return -ENOMEM;
		k->name = get_name(u);
		if ((r = unpack_elem(u, k, depth + 1)) < 0)
			return r;
		e->children[i] = k;
	}
	if (get_max(u, 1)) {
		struct schema_coll *c = wasp_arena_zalloc(u->arena, sizeof(*c));

		if (!c || !(c->item = wasp_arena_zalloc(u->arena, sizeof(*c->item))))
			return -ENOMEM;
		c->add_name = get_name(u);
		c->remove_name = get_str(u);
		c->clear_name = get_str(u);
		c->default_element = get_str(u);
		c->merge_append = get_max(u, 1);
		c->item->name = c->add_name;
		if ((r = unpack_elem(u, c->item, depth + 1)) < 0)
			return r;
		e->coll = c;
	}
	return u->bad ? -EBADMSG : 0;
}

static int
unpack_sections(struct unpack_ctx *u, struct cfg_schema *s, struct wasp_diag_list *diags)
{
	const char **sources;
	size_t n_sources;
	int r;

	if ((size_t)(u->end - u->p) < strlen(SCHEMA_PACK_MAGIC) ||
	    memcmp(u->p, SCHEMA_PACK_MAGIC, strlen(SCHEMA_PACK_MAGIC)) != 0)
		return -EBADMSG;
	u->p += strlen(SCHEMA_PACK_MAGIC);
	n_sources = get_count(u);
	sources = unpack_array(u, n_sources, sizeof(*sources));
	if (!sources)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < n_sources; i++)
		sources[i] = get_name(u);
	s->n_sections = get_count(u);
	s->sections = unpack_array(u, s->n_sections, sizeof(*s->sections));
	if (!s->sections)
		return u->bad ? -EBADMSG : -ENOMEM;
	for (size_t i = 0; i < s->n_sections; i++) {
		struct schema_section *sec = wasp_arena_zalloc(u->arena, sizeof(*sec));
		struct schema_ctx c = { .arena = u->arena, .diags = diags };
		const char *slash;

		if (!sec || !(sec->root = wasp_arena_zalloc(u->arena, sizeof(*sec->root))))
			return -ENOMEM;
		sec->name = get_name(u);
		sec->allow_definition = (enum cfg_allow_def)get_max(u, CFG_ALLOW__COUNT - 1);
		sec->override_default = (enum cfg_override)get_max(u, CFG_OVERRIDE__COUNT - 1);
		sec->source = sources[get_max(u, n_sources ? n_sources - 1 : 0)];
		{
			uint64_t flags = get_max(u, PACK_S__ALL);

			sec->not_implemented = flags & PACK_S_NOT_IMPLEMENTED;
			sec->empty_restricts = flags & PACK_S_EMPTY_RESTRICTS;
			sec->ignored = flags & PACK_S_IGNORED;
		}
		if (u->bad || !sec->source || !(slash = strrchr(sec->name, '/')))
			return -EBADMSG;
		sec->root->name = slash + 1;
		if ((r = unpack_elem(u, sec->root, 0)) < 0)
			return r;
		c.file = sec->source;
		r = resolve_defaults(&c, sec->root, sec->root, 0);
		if (r < 0)
			return r;
		if (c.errors)
			return -EBADMSG;
		s->sections[i] = sec;
	}
	return u->p == u->end ? 0 : -EBADMSG;
}

int
cfg_schema_unpack(const char *buf, size_t len, struct wasp_arena *arena, struct cfg_schema **ret,
		  struct wasp_diag_list *diags)
{
	struct cfg_schema *s = wasp_arena_zalloc(arena, sizeof(*s));
	char *copy = wasp_arena_alloc(arena, len ? len : 1);
	struct unpack_ctx u = { .arena = arena };
	int r;

	if (!s || !copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	u.p = copy;
	u.end = copy + len;
	s->arena = arena;
	r = unpack_sections(&u, s, diags);
	if (r == -EBADMSG)
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, "<serialized>", 0, NULL,
				    "serialized configuration: malformed schema");
	if (r < 0)
		return r;
	s->packed = copy;
	s->packed_len = len;
	*ret = s;
	return 0;
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
