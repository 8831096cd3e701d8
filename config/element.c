/* Reading effective elements: lookups, typed getters, and the JSON and
 * XML views waspctl prints. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "util.h"

bool
wasp_element_is_builtin(const struct wasp_element *e)
{
	return e && e->file && streq(e->file, CFG_BUILTIN_FILE);
}

const struct wasp_element *
wasp_element_child(const struct wasp_element *e, const char *path)
{
	while (e && path && *path) {
		const char *slash = strchr(path, '/');
		size_t l = slash ? (size_t)(slash - path) : strlen(path);
		const struct wasp_element *next = NULL;

		for (size_t i = 0; i < e->n_children && !next; i++)
			if (strlen(e->children[i]->name) == l &&
			    strncasecmp(e->children[i]->name, path, l) == 0)
				next = e->children[i];
		e = next;
		path = slash ? slash + 1 : NULL;
	}
	return e;
}

const struct wasp_attr *
wasp_element_attr(const struct wasp_element *e, const char *name)
{
	unsigned char c0;

	if (!e || !name)
		return NULL;
	/* the first letter, ASCII case folded, before a whole comparison:
	 * a pool's 20-odd getters each scanned its attributes with
	 * strcasecmp (9 % of loading 1,000 pools) */
	c0 = (unsigned char)name[0] | 0x20;
	for (size_t i = 0; i < e->n_attrs; i++)
		if (((unsigned char)e->attrs[i].name[0] | 0x20) == c0 &&
		    strcaseeq(e->attrs[i].name, name))
			return &e->attrs[i];
	return NULL;
}

const struct wasp_value *
wasp_element_value(const struct wasp_element *e, const char *name)
{
	const struct wasp_attr *a = wasp_element_attr(e, name);

	return a ? &a->value : NULL;
}

const char *
wasp_element_get_str(const struct wasp_element *e, const char *name, const char *def)
{
	const struct wasp_value *v = wasp_element_value(e, name);

	return v ? v->text : def;
}

bool
wasp_element_get_bool(const struct wasp_element *e, const char *name, bool def)
{
	const struct wasp_value *v = wasp_element_value(e, name);

	return v && v->type == WASP_ATTR_BOOL ? v->b : def;
}

uint64_t
wasp_element_get_uint(const struct wasp_element *e, const char *name, uint64_t def)
{
	const struct wasp_value *v = wasp_element_value(e, name);

	if (!v)
		return def;
	switch (v->type) {
	case WASP_ATTR_UINT:
	case WASP_ATTR_ENUM:
	case WASP_ATTR_FLAGS:
	case WASP_ATTR_TIMESPAN:
		return v->u;
	case WASP_ATTR_INT:
		return v->i < 0 ? def : (uint64_t)v->i;
	default:
		return def;
	}
}

int64_t
wasp_element_get_int(const struct wasp_element *e, const char *name, int64_t def)
{
	const struct wasp_value *v = wasp_element_value(e, name);

	if (!v)
		return def;
	if (v->type == WASP_ATTR_INT)
		return v->i;
	if (v->type == WASP_ATTR_UINT && v->u <= INT64_MAX)
		return (int64_t)v->u;
	return def;
}

const struct wasp_element *
wasp_element_find_item(const struct wasp_element *e, const char *key)
{
	for (size_t i = 0; e && i < e->n_items; i++)
		if (e->items[i]->key && strcaseeq(e->items[i]->key, key))
			return e->items[i];
	return NULL;
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *
value_json(const struct wasp_value *v)
{
	switch (v->type) {
	case WASP_ATTR_BOOL:
		return json_boolean(v->b);
	case WASP_ATTR_UINT:
		return v->u <= INT64_MAX ? json_integer((json_int_t)v->u) : json_string(v->text);
	case WASP_ATTR_INT:
		return json_integer((json_int_t)v->i);
	default:
		return json_string(v->text);
	}
}

static bool
only_collection(const struct wasp_element *e)
{
	return e->has_collection && e->n_attrs == 0 && e->n_children == 0;
}

static json_t *
items_json(const struct wasp_element *e)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < e->n_items; i++) {
		json_t *o = wasp_element_to_json(e->items[i]);

		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

struct json_t *
wasp_element_to_json(const struct wasp_element *e)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (size_t i = 0; i < e->n_attrs; i++) {
		json_t *v = value_json(&e->attrs[i].value);

		if (!v || json_object_set_new(o, e->attrs[i].name, v) < 0)
			goto fail;
	}
	for (size_t i = 0; i < e->n_children; i++) {
		const struct wasp_element *c = e->children[i];
		json_t *v = only_collection(c) ? items_json(c) : wasp_element_to_json(c);

		if (!v || json_object_set_new(o, c->name, v) < 0)
			goto fail;
	}
	if (e->has_collection) {
		json_t *v = items_json(e);

		if (!v || json_object_set_new(o, "collection", v) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* ---- XML ------------------------------------------------------------------- */

/* s escaped for a double-quoted attribute value (an apostrophe stays). */
static void
print_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		const char *e = *s == '\'' ? NULL : wasp_html_entity(*s);

		if (e)
			fputs(e, f);
		else
			fputc(*s, f);
	}
}

void
wasp_element_print_xml(const struct wasp_element *e, FILE *f, int indent)
{
	bool has_content = e->n_children > 0 || e->n_items > 0;

	fprintf(f, "%*s<%s", indent * 4, "", e->name);
	for (size_t i = 0; i < e->n_attrs; i++) {
		fprintf(f, " %s=\"", e->attrs[i].name);
		print_escaped(f, e->attrs[i].value.text);
		fputc('"', f);
	}
	if (!has_content) {
		fputs(" />\n", f);
		return;
	}
	fputs(">\n", f);
	for (size_t i = 0; i < e->n_children; i++)
		wasp_element_print_xml(e->children[i], f, indent + 1);
	for (size_t i = 0; i < e->n_items; i++)
		wasp_element_print_xml(e->items[i], f, indent + 1);
	fprintf(f, "%*s</%s>\n", indent * 4, "", e->name);
}
