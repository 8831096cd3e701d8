/* A generation as JSON, for handing it to a worker in a sealed memfd: the
 * schema files' text, the configSections declarations and
 * applicationHost.config's sections as parsed (values already expanded and
 * resolved, "password" attributes left out). The worker rebuilds the same
 * generation from it without reading applicationHost.config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "ipc.h"

#define CFG_SERIAL_VERSION 1
#define CFG_SERIAL_MAX (64 * 1024 * 1024)

static json_t *
names_json(const struct cfg_names *n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n->n; i++)
		if (json_array_append_new(a, json_string(n->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
node_json(const struct cfg_node *n)
{
	json_t *o, *attrs, *kids;

	attrs = json_array();
	kids = json_array();
	o = json_pack("{s:i, s:s, s:i, s:o, s:o, s:b}", "k", (int)n->kind, "n", n->name, "l",
		      n->line, "a", attrs, "c", kids, "li", n->lock_item);
	if (!o)
		return NULL;
	for (size_t i = 0; i < n->n_attrs; i++) {
		const struct cfg_nattr *a = &n->attrs[i];

		if (strcaseeq(a->name, "password"))
			continue;
		if (json_array_append_new(attrs, json_pack("[s, s, i]", a->name, a->value.text,
							   a->line)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < n->n_kids; i++) {
		json_t *k = node_json(n->kids[i]);

		if (!k || json_array_append_new(kids, k) < 0)
			goto fail;
	}
	if (n->lock_attrs.n && json_object_set_new(o, "la", names_json(&n->lock_attrs)) < 0)
		goto fail;
	if (n->has_lock_all_attrs_except &&
	    json_object_set_new(o, "lae", names_json(&n->lock_all_attrs_except)) < 0)
		goto fail;
	if (n->lock_elements.n && json_object_set_new(o, "le", names_json(&n->lock_elements)) < 0)
		goto fail;
	if (n->has_lock_all_elements_except &&
	    json_object_set_new(o, "lee", names_json(&n->lock_all_elements_except)) < 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *
config_json(const struct wasp_config *cfg)
{
	const struct cfg_file *f = cfg->apphost;
	json_t *schema = json_array(), *decls = json_array(), *insts = json_array(), *o;

	o = json_pack("{s:i, s:s, s:s, s:o, s:o, s:o}", "wasp_config", CFG_SERIAL_VERSION, "file",
		      f->path, "dir", f->dir, "schema", schema, "decls", decls, "insts", insts);
	if (!o)
		return NULL;
	for (size_t i = 0; i < cfg->schema->n_texts; i++) {
		const struct cfg_schema_text *t = &cfg->schema->texts[i];

		if (json_array_append_new(schema, json_pack("{s:s, s:s%}", "name", t->name, "text",
							    t->text, t->len)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < f->n_decls; i++) {
		const struct cfg_decl *d = &f->decls[i];

		if (json_array_append_new(decls,
					  json_pack("{s:s, s:i, s:i, s:b, s:s, s:i}", "name",
						    d->name, "ad", (int)d->allow_definition, "om",
						    (int)d->override_default, "known", d->known,
						    "file", d->file, "line", d->line)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < f->n_insts; i++) {
		const struct cfg_inst *in = f->insts[i];
		json_t *root = node_json(in->root);

		if (!root ||
		    json_array_append_new(insts,
					  json_pack("{s:s, s:s, s:b, s:b, s:i, s:i, s:o}", "section",
						    in->section->name, "location", in->location,
						    "in_location", in->in_location, "nic",
						    in->no_child_apps, "mode", (int)in->mode,
						    "mode_line", in->mode_line, "root", root)) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

int
wasp_config_serialize(const struct wasp_config *cfg, char **ret_buf, size_t *ret_len)
{
	json_t *o;
	char *s;

	if (!cfg->apphost)
		return -EINVAL;
	o = config_json(cfg);
	if (!o)
		return -ENOMEM;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	*ret_len = strlen(s);
	*ret_buf = s;
	return 0;
}

int
wasp_config_serialize_memfd(const struct wasp_config *cfg)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = wasp_config_serialize(cfg, &buf, &len);
	if (r < 0)
		return r;
	return wasp_memfd_create_sealed("wasp-config", buf, len);
}

/* ---- reading it back --------------------------------------------------------- */

struct dctx {
	struct wasp_config *cfg;
	struct wasp_diag_list *diags;
	const char *file;
};

static int
bad(struct dctx *d, const char *what)
{
	(void)wasp_diag_add(d->diags, WASP_DIAG_ERROR, d->file, 0, NULL,
			    "serialized configuration: %s", what);
	return -EBADMSG;
}

static int
names_from(struct dctx *d, json_t *a, struct cfg_names *ret)
{
	size_t i;
	json_t *v;

	*ret = (struct cfg_names){ 0 };
	if (!json_is_array(a))
		return bad(d, "lock list is not an array");
	ret->v = wasp_arena_zalloc(d->cfg->arena, (json_array_size(a) + 1) * sizeof(*ret->v));
	if (!ret->v)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return bad(d, "lock name is not a string");
		ret->v[ret->n] = wasp_arena_strdup(d->cfg->arena, json_string_value(v));
		if (!ret->v[ret->n++])
			return -ENOMEM;
	}
	return 0;
}

static int
node_from(struct dctx *d, json_t *o, const struct schema_elem *schema, int depth,
	  struct cfg_node **ret)
{
	struct wasp_arena *a = d->cfg->arena;
	struct cfg_node *n = wasp_arena_zalloc(a, sizeof(*n));
	json_t *attrs = NULL, *kids = NULL, *v;
	const char *name = NULL;
	int kind = 0, line = 0, li = 0, r;
	size_t i;

	if (!n)
		return -ENOMEM;
	if (depth > 64)
		return bad(d, "nested too deep");
	if (json_unpack(o, "{s:i, s:s, s:i, s:o, s:o, s:b}", "k", &kind, "n", &name, "l", &line,
			"a", &attrs, "c", &kids, "li", &li) < 0 ||
	    !json_is_array(attrs) || !json_is_array(kids) || kind < CFG_NODE_ELEMENT ||
	    kind > CFG_NODE_CLEAR)
		return bad(d, "malformed element");
	n->kind = (enum cfg_node_kind)kind;
	n->name = wasp_arena_strdup(a, name);
	n->line = line;
	n->schema = schema;
	n->lock_item = li;
	if (!n->name)
		return -ENOMEM;
	n->attrs = wasp_arena_zalloc(a, (json_array_size(attrs) + 1) * sizeof(*n->attrs));
	n->kids = wasp_arena_zalloc(a, (json_array_size(kids) + 1) * sizeof(*n->kids));
	if (!n->attrs || !n->kids)
		return -ENOMEM;
	json_array_foreach(attrs, i, v) {
		const char *an, *text, *msg = NULL;
		int al;
		const struct schema_attr *sa;
		struct cfg_nattr *na = &n->attrs[n->n_attrs];

		if (json_unpack(v, "[s, s, i]", &an, &text, &al) < 0)
			return bad(d, "malformed attribute");
		sa = schema_elem_attr(schema, an);
		if (!sa)
			return bad(d, "attribute the schema does not have");
		text = wasp_arena_strdup(a, text);
		if (!text)
			return -ENOMEM;
		r = cfg_value_parse(a, sa, text, &na->value, &msg);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return bad(d, msg ? msg : "bad value");
		na->name = sa->name;
		na->schema = sa;
		na->line = al;
		n->n_attrs++;
	}
	json_array_foreach(kids, i, v) {
		const struct schema_elem *ks;
		int kk;

		if (json_unpack(v, "{s:i, s:s}", "k", &kk, "n", &name) < 0)
			return bad(d, "malformed child");
		if (kk == CFG_NODE_ELEMENT)
			ks = schema_elem_child(schema, name);
		else
			ks = schema->coll ? schema->coll->item : NULL;
		if (!ks)
			return bad(d, "element the schema does not have");
		r = node_from(d, v, ks, depth + 1, &n->kids[n->n_kids]);
		if (r < 0)
			return r;
		n->n_kids++;
	}
	if ((v = json_object_get(o, "la")) && (r = names_from(d, v, &n->lock_attrs)) < 0)
		return r;
	if ((v = json_object_get(o, "lae"))) {
		n->has_lock_all_attrs_except = true;
		if ((r = names_from(d, v, &n->lock_all_attrs_except)) < 0)
			return r;
	}
	if ((v = json_object_get(o, "le")) && (r = names_from(d, v, &n->lock_elements)) < 0)
		return r;
	if ((v = json_object_get(o, "lee"))) {
		n->has_lock_all_elements_except = true;
		if ((r = names_from(d, v, &n->lock_all_elements_except)) < 0)
			return r;
	}
	*ret = n;
	return 0;
}

static int
config_from(struct dctx *d, json_t *o)
{
	struct wasp_config *cfg = d->cfg;
	struct wasp_arena *a = cfg->arena;
	json_t *schema, *decls, *insts, *v;
	struct cfg_schema_text *texts;
	const char *file, *dir;
	struct cfg_file *f;
	int version, r;
	size_t i;

	if (json_unpack(o, "{s:i, s:s, s:s, s:o, s:o, s:o}", "wasp_config", &version, "file",
			&file, "dir", &dir, "schema", &schema, "decls", &decls, "insts",
			&insts) < 0 ||
	    !json_is_array(schema) || !json_is_array(decls) || !json_is_array(insts))
		return bad(d, "not a wasp configuration");
	if (version != CFG_SERIAL_VERSION)
		return bad(d, "unsupported version");
	texts = wasp_arena_zalloc(a, (json_array_size(schema) + 1) * sizeof(*texts));
	if (!texts)
		return -ENOMEM;
	json_array_foreach(schema, i, v) {
		const char *name, *text;
		size_t len;

		if (json_unpack(v, "{s:s, s:s%}", "name", &name, "text", &text, &len) < 0)
			return bad(d, "malformed schema entry");
		texts[i] = (struct cfg_schema_text){ .name = name, .text = text, .len = len };
	}
	r = cfg_schema_load_texts(texts, json_array_size(schema), a, &cfg->schema, d->diags);
	if (r < 0)
		return r;

	f = wasp_arena_zalloc(a, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = wasp_arena_strdup(a, file);
	f->dir = wasp_arena_strdup(a, dir);
	f->is_apphost = true;
	f->exists = true;
	f->url_dir = "";
	f->decls = wasp_arena_zalloc(a, (json_array_size(decls) + 1) * sizeof(*f->decls));
	f->insts = wasp_arena_zalloc(a, (json_array_size(insts) + 1) * sizeof(*f->insts));
	if (!f->path || !f->dir || !f->decls || !f->insts)
		return -ENOMEM;
	json_array_foreach(decls, i, v) {
		const char *name, *dfile;
		int ad, om, known, line;
		struct cfg_decl *decl = &f->decls[f->n_decls];

		if (json_unpack(v, "{s:s, s:i, s:i, s:b, s:s, s:i}", "name", &name, "ad", &ad, "om",
				&om, "known", &known, "file", &dfile, "line", &line) < 0 ||
		    ad < 0 || ad >= CFG_ALLOW__COUNT || om < 0 || om >= CFG_OVERRIDE__COUNT)
			return bad(d, "malformed section declaration");
		*decl = (struct cfg_decl){
			.name = wasp_arena_strdup(a, name),
			.allow_definition = (enum cfg_allow_def)ad,
			.override_default = (enum cfg_override)om,
			.known = known,
			.file = wasp_arena_strdup(a, dfile),
			.line = line,
		};
		if (!decl->name || !decl->file)
			return -ENOMEM;
		f->n_decls++;
	}
	json_array_foreach(insts, i, v) {
		const char *section, *location;
		int in_location, nic, mode, mode_line;
		json_t *root;
		struct cfg_inst *in = wasp_arena_zalloc(a, sizeof(*in));

		if (!in)
			return -ENOMEM;
		if (json_unpack(v, "{s:s, s:s, s:b, s:b, s:i, s:i, s:o}", "section", &section,
				"location", &location, "in_location", &in_location, "nic", &nic,
				"mode", &mode, "mode_line", &mode_line, "root", &root) < 0 ||
		    mode < 0 || mode >= CFG_OVERRIDE__COUNT)
			return bad(d, "malformed section");
		in->section = cfg_schema_find(cfg->schema, section);
		if (!in->section)
			return bad(d, "section the schema does not have");
		in->location = wasp_arena_strdup(a, location);
		if (!in->location)
			return -ENOMEM;
		in->in_location = in_location;
		in->no_child_apps = nic;
		in->mode = (enum cfg_override)mode;
		in->mode_line = mode_line;
		in->file = f;
		in->index = f->n_insts;
		r = node_from(d, root, in->section->root, 0, &in->root);
		if (r < 0)
			return r;
		f->insts[f->n_insts++] = in;
	}
	cfg->apphost = f;
	return 0;
}

int
wasp_config_deserialize(const char *buf, size_t len, const struct wasp_config_opts *opts,
			struct wasp_config **ret, struct wasp_diag_list *diags)
{
	struct wasp_config *cfg = NULL;
	struct dctx d = { .diags = diags, .file = "<serialized>" };
	json_error_t err;
	json_t *o;
	int r;

	if (len > CFG_SERIAL_MAX)
		return -EFBIG;
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!o) {
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, d.file, err.line, NULL,
				    "serialized configuration is not JSON: %s", err.text);
		return -EBADMSG;
	}
	r = cfg_config_new(opts, &cfg);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	d.cfg = cfg;
	r = config_from(&d, o);
	json_decref(o);
	if (r < 0) {
		wasp_config_free(cfg);
		return r == -EINVAL ? -EBADMSG : r;
	}
	*ret = cfg;
	return 0;
}
