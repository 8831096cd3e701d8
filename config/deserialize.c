/* A serialized generation (serialize.c) read back in a worker: the packed
 * schema unpacked, then the JSON's section declarations and section
 * instances rebuilt and every value parsed again against the schema, so
 * a malformed buffer is refused as a whole (-EBADMSG). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "serialize.h"

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

static int node_from(struct dctx *d, json_t *o, const struct schema_elem *schema, int depth,
		     struct cfg_node **ret);

/* The attributes, [name, text, line] flattened, each parsed again against
 * the element's schema. */
static int
attrs_from(struct dctx *d, json_t *attrs, const struct schema_elem *schema, struct cfg_node *n)
{
	struct wasp_arena *a = d->cfg->arena;
	size_t na = json_array_size(attrs);
	int r;

	if (na % 3)
		return bad(d, "malformed attributes");
	n->attrs = wasp_arena_zalloc(a, (na / 3 + 1) * sizeof(*n->attrs));
	if (!n->attrs)
		return -ENOMEM;
	for (size_t i = 0; i < na; i += 3) {
		json_t *jn = json_array_get(attrs, i), *jt = json_array_get(attrs, i + 1),
		       *jl = json_array_get(attrs, i + 2);
		struct cfg_nattr *nat = &n->attrs[n->n_attrs];
		const struct schema_attr *sa;
		const char *msg = NULL;
		char *text;

		if (!json_is_string(jn) || !json_is_string(jt) || !json_is_integer(jl))
			return bad(d, "malformed attribute");
		sa = schema_elem_attr(schema, json_string_value(jn));
		if (!sa)
			return bad(d, "attribute the schema does not have");
		text = wasp_arena_strndup(a, json_string_value(jt), json_string_length(jt));
		if (!text)
			return -ENOMEM;
		r = cfg_value_parse(a, sa, text, &nat->value, &msg);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return bad(d, msg ? msg : "bad value");
		nat->schema = sa;
		n->n_attrs++;
	}
	return 0;
}

/* The child elements, each with its schema found by its kind and name. */
static int
kids_from(struct dctx *d, json_t *kids, const struct schema_elem *schema, int depth,
	  struct cfg_node *n)
{
	int r;

	n->kids = wasp_arena_zalloc(d->cfg->arena, (json_array_size(kids) + 1) * sizeof(*n->kids));
	if (!n->kids)
		return -ENOMEM;
	for (size_t i = 0; i < json_array_size(kids); i++) {
		const struct schema_elem *ks;
		json_t *k = json_array_get(kids, i);
		json_t *jk = json_array_get(k, 0), *jname = json_array_get(k, 1);

		if (!json_is_integer(jk) || !json_is_string(jname))
			return bad(d, "malformed child");
		if (json_integer_value(jk) == CFG_NODE_ELEMENT)
			ks = schema_elem_child(schema, json_string_value(jname));
		else
			ks = schema->coll ? schema->coll->item : NULL;
		if (!ks)
			return bad(d, "element the schema does not have");
		r = node_from(d, k, ks, depth + 1, &n->kids[n->n_kids]);
		if (r < 0)
			return r;
		n->n_kids++;
	}
	return 0;
}

/* The four lock lists at o[6..9], each null when the element has none. */
static int
locks_from(struct dctx *d, json_t *o, struct cfg_node *n)
{
	struct wasp_arena *a = d->cfg->arena;
	json_t *v;
	int r;

	for (size_t k = 6; k <= 9; k++)
		if (!json_is_null(json_array_get(o, k)) && !cfg_node_locks_mut(a, n))
			return -ENOMEM;
	if (!json_is_null(v = json_array_get(o, 6)) &&
	    (r = names_from(d, v, &n->locks->lock_attrs)) < 0)
		return r;
	if (!json_is_null(v = json_array_get(o, 7))) {
		n->locks->has_lock_all_attrs_except = true;
		if ((r = names_from(d, v, &n->locks->lock_all_attrs_except)) < 0)
			return r;
	}
	if (!json_is_null(v = json_array_get(o, 8)) &&
	    (r = names_from(d, v, &n->locks->lock_elements)) < 0)
		return r;
	if (!json_is_null(v = json_array_get(o, 9))) {
		n->locks->has_lock_all_elements_except = true;
		if ((r = names_from(d, v, &n->locks->lock_all_elements_except)) < 0)
			return r;
	}
	return 0;
}

static int
node_from(struct dctx *d, json_t *o, const struct schema_elem *schema, int depth,
	  struct cfg_node **ret)
{
	struct wasp_arena *a = d->cfg->arena;
	struct cfg_node *n = wasp_arena_zalloc(a, sizeof(*n));
	json_t *attrs, *kids;
	json_int_t kind;
	int r;

	if (!n)
		return -ENOMEM;
	if (depth > 64)
		return bad(d, "nested too deep");
	if (!json_is_array(o) || json_array_size(o) != 10 ||
	    !json_is_integer(json_array_get(o, 0)) || !json_is_string(json_array_get(o, 1)) ||
	    !json_is_integer(json_array_get(o, 2)) || !json_is_boolean(json_array_get(o, 3)) ||
	    !json_is_array(attrs = json_array_get(o, 4)) ||
	    !json_is_array(kids = json_array_get(o, 5)))
		return bad(d, "malformed element");
	kind = json_integer_value(json_array_get(o, 0));
	if (kind < CFG_NODE_ELEMENT || kind > CFG_NODE_CLEAR)
		return bad(d, "malformed element");
	n->kind = (enum cfg_node_kind)kind;
	n->name = wasp_arena_strdup(a, json_string_value(json_array_get(o, 1)));
	n->line = (int)json_integer_value(json_array_get(o, 2));
	n->lock_item = json_is_true(json_array_get(o, 3));
	n->schema = schema;
	if (!n->name)
		return -ENOMEM;
	r = attrs_from(d, attrs, schema, n);
	if (r < 0)
		return r;
	r = kids_from(d, kids, schema, depth, n);
	if (r < 0)
		return r;
	r = locks_from(d, o, n);
	if (r < 0)
		return r;
	*ret = n;
	return 0;
}

/* applicationHost.config's configSections declarations. */
static int
decls_from(struct dctx *d, json_t *decls, struct cfg_file *f)
{
	struct wasp_arena *a = d->cfg->arena;
	json_t *v;
	size_t i;

	f->decls = wasp_arena_zalloc(a, (json_array_size(decls) + 1) * sizeof(*f->decls));
	if (!f->decls)
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
	return 0;
}

/* applicationHost.config's section instances, each element tree rebuilt
 * against its section's schema. */
static int
insts_from(struct dctx *d, json_t *insts, struct cfg_file *f)
{
	struct wasp_config *cfg = d->cfg;
	struct wasp_arena *a = cfg->arena;
	json_t *v;
	size_t i;
	int r;

	f->insts = wasp_arena_zalloc(a, (json_array_size(insts) + 1) * sizeof(*f->insts));
	if (!f->insts)
		return -ENOMEM;
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
	return 0;
}

static int
config_from(struct dctx *d, json_t *o)
{
	struct wasp_config *cfg = d->cfg;
	struct wasp_arena *a = cfg->arena;
	json_t *decls, *insts, *v;
	const char *file, *dir;
	struct cfg_file *f;
	int version, r;

	if (json_unpack(o, "{s:i, s:s, s:s, s:o, s:o}", "wasp_config", &version, "file", &file,
			"dir", &dir, "decls", &decls, "insts", &insts) < 0 ||
	    !json_is_array(decls) || !json_is_array(insts))
		return bad(d, "not a wasp configuration");
	if (version != CFG_SERIAL_VERSION)
		return bad(d, "unsupported version");
	v = json_object_get(o, "pool");
	if (v && !json_is_string(v))
		return bad(d, "pool is not a string");
	if (v && !(cfg->pool = wasp_arena_strdup(a, json_string_value(v))))
		return -ENOMEM;

	f = wasp_arena_zalloc(a, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = wasp_arena_strdup(a, file);
	f->dir = wasp_arena_strdup(a, dir);
	f->is_apphost = true;
	f->exists = true;
	f->url_dir = "";
	if (!f->path || !f->dir)
		return -ENOMEM;
	r = decls_from(d, decls, f);
	if (r < 0)
		return r;
	r = insts_from(d, insts, f);
	if (r < 0)
		return r;
	cfg->apphost = f;
	return 0;
}

/* Decimal digits at *p ending with the byte stop (within end): the number,
 * advancing *p past stop. */
static bool
read_uint(const char **p, const char *end, char stop, size_t *ret)
{
	const char *q = *p;
	uint64_t v = 0;

	if (q >= end || *q < '0' || *q > '9')
		return false;
	while (q < end && *q >= '0' && *q <= '9') {
		v = v * 10 + (uint64_t)(*q++ - '0');
		if (v > CFG_SERIAL_MAX)
			return false;
	}
	if (q >= end || *q != stop)
		return false;
	*p = q + 1;
	*ret = (size_t)v;
	return true;
}

/* "WORD N\n" at *p: N. */
static bool
read_count(const char **p, const char *end, const char *word, size_t *ret)
{
	size_t wl = strlen(word);

	if ((size_t)(end - *p) < wl + 1 || memcmp(*p, word, wl) != 0 || (*p)[wl] != ' ')
		return false;
	*p += wl + 1;
	return read_uint(p, end, '\n', ret);
}

int
wasp_config_deserialize(const char *buf, size_t len, const struct wasp_config_opts *opts,
			struct wasp_config **ret, struct wasp_diag_list *diags)
{
	struct wasp_config *cfg = NULL;
	struct dctx d = { .diags = diags, .file = "<serialized>" };
	const char *p = buf, *end = buf + len, *packed;
	size_t packed_len, json_len;
	json_error_t err;
	json_t *o;
	int r;

	if (len > CFG_SERIAL_MAX)
		return -EFBIG;
	if (len < strlen(CFG_SERIAL_MAGIC) || memcmp(buf, CFG_SERIAL_MAGIC, strlen(CFG_SERIAL_MAGIC)))
		return bad(&d, "not a wasp configuration (or another version)");
	p += strlen(CFG_SERIAL_MAGIC);
	/* "schema LEN\n" PACKED "\n" */
	if (!read_count(&p, end, "schema", &packed_len) || packed_len >= (size_t)(end - p) ||
	    p[packed_len] != '\n')
		return bad(&d, "malformed schema part");
	packed = p;
	p += packed_len + 1;
	if (!read_count(&p, end, "json", &json_len) || json_len != (size_t)(end - p))
		return bad(&d, "malformed JSON part");
	r = cfg_config_new(opts, &cfg);
	if (r < 0)
		return r;
	d.cfg = cfg;
	r = cfg_schema_unpack(packed, packed_len, cfg->arena, &cfg->schema, diags);
	if (r < 0) {
		wasp_config_free(cfg);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	/* built from wasp's own tables, as at load: not in the buffer */
	r = cfg_load_builtin(cfg);
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	o = json_loadb(p, json_len, JSON_REJECT_DUPLICATES, &err);
	if (!o) {
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, d.file, err.line, NULL,
				    "serialized configuration is not JSON: %s", err.text);
		wasp_config_free(cfg);
		return -EBADMSG;
	}
	r = config_from(&d, o);
	json_decref(o);
	if (r < 0) {
		wasp_config_free(cfg);
		return r == -EINVAL ? -EBADMSG : r;
	}
	r = cfg_load_builtin_modules(cfg); /* from the generation's globalModules */
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}
