/* Reading applicationHost.config and web.config files: sections (at the top
 * level and in <location>), every element and attribute checked against
 * the schema (configSections: decls.c; %VAR% and paths: paths.c). The result is a struct cfg_file of section instances; merge.c and the
 * files merge.h lists combine them into effective sections. */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "parse.h"

#define CFG_DOCTYPE_MSG                                                                  \
	"a document type declaration (<!DOCTYPE>) is not allowed in a configuration file "   \
	"(IIS's have none; its entities could make reading the file cost without bound)"
#define CFG_MAX_DEPTH 64

void
cfg_pdiag(struct parse_ctx *c, enum wasp_diag_severity sev, int line, const char *attr,
	  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(cfg_diag_addv(c->diags, sev, c->file->path, line, attr, fmt, ap));
	va_end(ap);
	if (sev == WASP_DIAG_ERROR)
		c->errors++;
}

static int
split_names(struct wasp_arena *a, const char *s, struct cfg_names *ret)
{
	char *copy = wasp_arena_strdup(a, s), *tok, *save = NULL;
	size_t n = 0, n_alloc = 0;

	if (!copy)
		return -ENOMEM;
	*ret = (struct cfg_names){ 0 };
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char **slot;
		size_t l;

		while (isspace((unsigned char)*tok))
			tok++;
		l = strlen(tok);
		while (l > 0 && isspace((unsigned char)tok[l - 1]))
			tok[--l] = '\0';
		if (!*tok)
			continue;
		slot = CFG_PUSH(a, ret->v, n, n_alloc);
		if (!slot)
			return -ENOMEM;
		*slot = tok;
	}
	ret->n = n;
	return 0;
}

/* ---- elements ------------------------------------------------------------ */

static bool
is_lock_attr(const char *name)
{
	return streq(name, "lockAttributes") || streq(name, "lockAllAttributesExcept") ||
	       streq(name, "lockElements") || streq(name, "lockAllElementsExcept") ||
	       streq(name, "lockItem");
}

const struct cfg_locks *
cfg_node_locks(const struct cfg_node *n)
{
	static const struct cfg_locks none;

	return n->locks ? n->locks : &none;
}

struct cfg_locks *
cfg_node_locks_mut(struct wasp_arena *arena, struct cfg_node *n)
{
	if (!n->locks)
		n->locks = wasp_arena_zalloc(arena, sizeof(*n->locks));
	return n->locks;
}

static int
parse_lock(struct parse_ctx *c, struct cfg_node *node, const char *name, const char *value,
	   int line)
{
	struct cfg_locks *l;

	if (streq(name, "lockItem")) {
		if (strcaseeq(value, "true"))
			node->lock_item = true;
		else if (!strcaseeq(value, "false"))
			cfg_pdiag(c, WASP_DIAG_ERROR, line, name,
				  "'%s' is not a bool (true or false)", value);
		return 0;
	}
	if (!(l = cfg_node_locks_mut(c->arena, node)))
		return -ENOMEM;
	if (streq(name, "lockAttributes"))
		return split_names(c->arena, value, &l->lock_attrs);
	if (streq(name, "lockAllAttributesExcept")) {
		l->has_lock_all_attrs_except = true;
		return split_names(c->arena, value, &l->lock_all_attrs_except);
	}
	if (streq(name, "lockElements"))
		return split_names(c->arena, value, &l->lock_elements);
	l->has_lock_all_elements_except = true;
	return split_names(c->arena, value, &l->lock_all_elements_except);
}

static int
parse_value(struct parse_ctx *c, const struct schema_attr *sa, const char *raw, int line,
	    struct wasp_value *ret)
{
	const char *msg = NULL;
	const char *text;
	int r;

	text = c->cfg->opts.no_env_expansion ? raw : cfg_expand_env(c->arena, raw);
	if (!text)
		return -ENOMEM;
	if (sa->path != CFG_PATH_NONE && *text) {
		const char *p = cfg_resolve_path(c->arena, c->file->dir, text);
		struct stat st;

		if (!p)
			return -ENOMEM;
		if (sa->path == CFG_PATH_PHYSICAL && stat(p, &st) < 0)
			cfg_pdiag(c, WASP_DIAG_WARNING, line, sa->name,
				  cfg_is_drive_path(p)
					  ? "'%s' is a Windows drive path that does not exist here"
					  : "'%s' does not exist",
				  p);
		text = p;
	}
	r = cfg_value_parse(c->arena, sa, text, ret, &msg);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		cfg_pdiag(c, WASP_DIAG_ERROR, line, sa->name, "%s", msg ? msg : "invalid value");
		return r;
	}
	return 0;
}

static int parse_node(struct parse_ctx *c, xmlNode *xn, const struct schema_elem *schema,
		      enum cfg_node_kind kind, int depth, struct cfg_node **ret);

/* An attribute that is not a value of the schema's: locks, xmlns, what
 * <clear/> is given, configSource. 1 when name was one (and is dealt with),
 * 0 when not, -ENOMEM. */
static int
special_attr(struct parse_ctx *c, struct cfg_node *node, const char *name, const char *raw,
	     bool is_section_root)
{
	int line = node->line;

	if (is_lock_attr(name)) {
		if (node->kind == CFG_NODE_REMOVE || node->kind == CFG_NODE_CLEAR)
			cfg_pdiag(c, WASP_DIAG_WARNING, line, name,
				  "locks on <%s> have no effect, ignoring", node->name);
		else if (parse_lock(c, node, name, raw, line) < 0)
			return -ENOMEM;
		return 1;
	}
	if (streq(name, "xmlns"))
		return 1;
	if (node->kind == CFG_NODE_CLEAR) {
		cfg_pdiag(c, WASP_DIAG_WARNING, line, name, "<%s> takes no attributes, ignoring",
			  node->name);
		return 1;
	}
	if (!is_section_root || !streq(name, "configSource"))
		return 0;
	/* what the other file says is unknown: in a web.config that must not
	 * be served as if it said nothing (500.19) */
	if (!c->file->is_apphost)
		cfg_pdiag(c, WASP_DIAG_ERROR, line, name,
			  "configSource is not supported: the section's contents in '%s' are not read",
			  raw);
	else
		cfg_pdiag(c, WASP_DIAG_WARNING, line, name,
			  "configSource is not supported, ignoring the section's external file");
	return 1;
}

/* The schema's attribute name on node, or NULL (with a diagnostic when it
 * is not allowed there). */
static const struct schema_attr *
value_attr(struct parse_ctx *c, const struct cfg_node *node, const char *name, size_t n_set)
{
	const struct schema_attr *sa = schema_elem_attr(node->schema, name);

	if (!sa) {
		if (!node->schema->allow_unknown_attrs && !c->lenient)
			cfg_pdiag(c, strictness(c), node->line, name, "unknown attribute on <%s>%s",
				  node->name, c->file->is_apphost ? ", ignoring" : "");
		return NULL;
	}
	if (node->kind == CFG_NODE_REMOVE && !sa->key) {
		cfg_pdiag(c, WASP_DIAG_WARNING, node->line, name,
			  "<%s> only needs the key attributes, ignoring this one", node->name);
		return NULL;
	}
	for (size_t i = 0; i < n_set; i++)
		if (node->attrs[i].schema == sa) {
			/* "enabled" and "Enabled": XML allows it, IIS not. */
			cfg_pdiag(c, WASP_DIAG_ERROR, node->line, name, "set twice");
			return NULL;
		}
	return sa;
}

/* Required and key attributes of collection entries. */
static void
check_required(struct parse_ctx *c, const struct cfg_node *node)
{
	const struct schema_elem *schema = node->schema;

	if (node->kind != CFG_NODE_ADD && node->kind != CFG_NODE_REMOVE)
		return;
	for (size_t i = 0; i < schema->n_attrs; i++) {
		const struct schema_attr *sa = &schema->attrs[i];
		bool found = false;

		/* IIS: an entry needs its required attributes; <remove> needs
		 * the key attributes that have no default. */
		if (!(sa->required && (node->kind == CFG_NODE_ADD || sa->key)))
			continue;
		for (size_t j = 0; j < node->n_attrs; j++)
			found = found || node->attrs[j].schema == sa;
		if (!found)
			cfg_pdiag(c, WASP_DIAG_ERROR, node->line, sa->name,
				  "required attribute missing on <%s>", node->name);
	}
}

static int
parse_attrs(struct parse_ctx *c, xmlNode *xn, struct cfg_node *node, bool is_section_root)
{
	size_t n = 0, n_alloc = 0;
	int r;

	/* sized once (CFG_PUSH's doubling would leave the smaller arrays
	 * behind in the arena: a generation keeps every node) */
	for (xmlAttr *xa = xn->properties; xa; xa = xa->next)
		n_alloc++;
	if (n_alloc && !(node->attrs = wasp_arena_alloc(c->arena, n_alloc * sizeof(*node->attrs))))
		return -ENOMEM;
	for (xmlAttr *xa = xn->properties; xa; xa = xa->next) {
		const char *name = (const char *)xa->name;
		const struct schema_attr *sa;
		struct cfg_nattr *na;
		char *raw;

		if (xa->ns)
			continue; /* xmlns:*, xdt:Transform and friends */
		raw = cfg_xml_attr_value(c->arena, xa);
		if (!raw)
			return -ENOMEM;
		r = special_attr(c, node, name, raw, is_section_root);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		sa = value_attr(c, node, name, n);
		if (!sa)
			continue;
		na = CFG_PUSH(c->arena, node->attrs, n, n_alloc);
		if (!na)
			return -ENOMEM;
		na->schema = sa;
		r = parse_value(c, sa, raw, node->line, &na->value);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			n--;
	}
	node->n_attrs = n;
	check_required(c, node);
	return 0;
}

/* What a child element named name of an element of schema is: an entry of
 * its collection (<add>, <remove>, <clear/> by the collection's names) or a
 * child element; NULL when neither. */
static const struct schema_elem *
child_schema(const struct schema_elem *schema, const char *name, enum cfg_node_kind *ret_kind)
{
	const struct schema_coll *coll = schema->coll;

	*ret_kind = CFG_NODE_ELEMENT;
	if (coll && streq(name, coll->add_name))
		*ret_kind = CFG_NODE_ADD;
	else if (coll && coll->remove_name && streq(name, coll->remove_name))
		*ret_kind = CFG_NODE_REMOVE;
	else if (coll && coll->clear_name && streq(name, coll->clear_name))
		*ret_kind = CFG_NODE_CLEAR;
	else
		return schema_elem_child(schema, name);
	return coll->item;
}

static int
parse_node(struct parse_ctx *c, xmlNode *xn, const struct schema_elem *schema,
	   enum cfg_node_kind kind, int depth, struct cfg_node **ret)
{
	struct cfg_node *node = wasp_arena_zalloc(c->arena, sizeof(*node));
	size_t n_kids = 0, n_alloc = 0;
	int r;

	if (!node)
		return -ENOMEM;
	node->kind = kind;
	/* the schema's copy of the name when it is the same (most are) */
	node->name = schema && streq(schema->name, xname(xn)) ? schema->name
							      : wasp_arena_strdup(c->arena, xname(xn));
	node->schema = schema;
	node->line = cfg_xml_line(xn);
	if (!node->name)
		return -ENOMEM;
	if (depth > CFG_MAX_DEPTH) {
		cfg_pdiag(c, WASP_DIAG_ERROR, node->line, NULL, "elements nested too deep");
		return -EINVAL;
	}
	{
		int errors = c->errors;

		r = parse_attrs(c, xn, node, depth == 0);
		if (r < 0)
			return r;
		/* A collection entry with a bad value is left out whole, not
		 * added with a default in place of what was meant. */
		if (c->errors > errors && (kind == CFG_NODE_ADD || kind == CFG_NODE_REMOVE))
			return -EINVAL;
	}
	if (kind == CFG_NODE_REMOVE || kind == CFG_NODE_CLEAR) {
		*ret = node;
		return 0;
	}
	for (xmlNode *k = xn->children; k; k = k->next)
		n_alloc += is_element(k);
	if (n_alloc && !(node->kids = wasp_arena_alloc(c->arena, n_alloc * sizeof(*node->kids))))
		return -ENOMEM;
	for (xmlNode *k = xn->children; k; k = k->next) {
		const struct schema_elem *ks;
		enum cfg_node_kind kk;
		struct cfg_node *child = NULL, **slot;

		if (!is_element(k))
			continue;
		if (k->ns && k->ns->prefix)
			continue;
		ks = child_schema(schema, xname(k), &kk);
		if (!ks) {
			if (!c->lenient)
				cfg_pdiag(c, strictness(c), cfg_xml_line(k), NULL,
					  "unknown element <%s> in <%s>%s", xname(k), node->name,
					  c->file->is_apphost ? ", ignoring" : "");
			continue;
		}
		r = parse_node(c, k, ks, kk, depth + 1, &child);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			continue;
		if (kk == CFG_NODE_ELEMENT)
			for (size_t i = 0; i < n_kids; i++)
				if (node->kids[i]->kind == CFG_NODE_ELEMENT &&
				    node->kids[i]->schema == ks) {
					cfg_pdiag(c, WASP_DIAG_ERROR, child->line, NULL,
						  "<%s> appears twice in <%s> (first at line %d)",
						  child->name, node->name, node->kids[i]->line);
					child = NULL;
					break;
				}
		if (!child)
			continue;
		slot = CFG_PUSH(c->arena, node->kids, n_kids, n_alloc);
		if (!slot)
			return -ENOMEM;
		*slot = child;
	}
	node->n_kids = n_kids;
	*ret = node;
	return 0;
}

/* ---- sections ------------------------------------------------------------ */

struct loc {
	const char *path; /* normalised */
	bool in_location;
	bool no_child_apps; /* inheritInChildApplications="false" */
	enum cfg_override mode;
	int line;
};

static int
add_instance(struct parse_ctx *c, const struct schema_section *ss, const struct loc *loc,
	     xmlNode *xn)
{
	const struct cfg_decl *d = cfg_find_decl(c->file, ss->name);
	enum cfg_allow_def ad;
	struct cfg_inst *inst, **slot;
	int line = cfg_xml_line(xn), r;

	if (!d && c->cfg->apphost && c->cfg->apphost != c->file)
		d = cfg_find_decl(c->cfg->apphost, ss->name);
	if (!d && ss->ignored)
		cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
			  "section '%s' is not implemented by wasp, ignoring it", ss->name);
	else if (!d && c->file->is_apphost)
		cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
			  "section '%s' is not declared in configSections; using wasp's defaults "
			  "(allowDefinition=%s, overrideModeDefault=%s)",
			  ss->name, cfg_allow_def_to_string(ss->allow_definition),
			  cfg_override_to_string(ss->override_default));
	ad = d ? d->allow_definition : ss->allow_definition;
	if ((ad == CFG_ALLOW_APPHOST_ONLY || ad == CFG_ALLOW_MACHINE_ONLY) &&
	    (!c->file->is_apphost || *loc->path)) {
		if (d)
			cfg_pdiag(c, WASP_DIAG_ERROR, line, NULL,
				  "section '%s' may only be set in applicationHost.config%s "
				  "(allowDefinition=\"%s\" in %s:%d)",
				  ss->name, c->file->is_apphost ? " outside a <location> path" : "",
				  cfg_allow_def_to_string(ad), d->file, d->line);
		else
			cfg_pdiag(c, WASP_DIAG_ERROR, line, NULL,
				  "section '%s' may only be set in applicationHost.config%s "
				  "(allowDefinition=\"%s\" in wasp's schema of '%s': no configSections "
				  "declares it)",
				  ss->name, c->file->is_apphost ? " outside a <location> path" : "",
				  cfg_allow_def_to_string(ad), ss->name);
		return 0;
	}
	for (size_t i = 0; i < c->file->n_insts; i++) {
		struct cfg_inst *o = c->file->insts[i];

		if (o->section == ss && o->in_location == loc->in_location &&
		    strcaseeq(o->location, loc->path)) {
			cfg_pdiag(c, WASP_DIAG_ERROR, line, NULL,
				  "section '%s' is already defined at line %d; a section may appear "
				  "once per file and location",
				  ss->name, o->root->line);
			return 0;
		}
	}
	inst = wasp_arena_zalloc(c->arena, sizeof(*inst));
	if (!inst)
		return -ENOMEM;
	inst->section = ss;
	inst->location = loc->path;
	inst->in_location = loc->in_location;
	inst->no_child_apps = loc->no_child_apps;
	inst->mode = loc->mode;
	inst->mode_line = loc->line;
	inst->file = c->file;
	inst->index = c->file->n_insts;
	c->lenient = ss->not_implemented;
	r = parse_node(c, xn, ss->root, CFG_NODE_ELEMENT, 0, &inst->root);
	c->lenient = false;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	slot = CFG_PUSH(c->arena, c->file->insts, c->file->n_insts, c->n_insts_alloc);
	if (!slot)
		return -ENOMEM;
	*slot = inst;
	return 0;
}

static bool
warn_once(struct parse_ctx *c, const char *name)
{
	const char **slot;

	for (size_t i = 0; i < c->n_warned; i++)
		if (strcaseeq(c->warned[i], name))
			return false;
	slot = CFG_PUSH(c->arena, c->warned, c->n_warned, c->n_warned_alloc);
	if (slot)
		*slot = name;
	return true;
}

static int
parse_group(struct parse_ctx *c, xmlNode *xn, const char *prefix, const struct loc *loc,
	    int depth)
{
	int r;

	if (depth > 8)
		return 0;
	for (xmlNode *k = xn->children; k; k = k->next) {
		const struct schema_section *ss;
		const struct cfg_decl *d;
		char *full;
		int line = cfg_xml_line(k);

		if (!is_element(k))
			continue;
		if (!*prefix && (streq(xname(k), "configSections") || streq(xname(k), "location"))) {
			/* The top level handles these; inside a <location> they are wrong. */
			if (loc->in_location)
				cfg_pdiag(c, WASP_DIAG_ERROR, line, NULL,
					  "<%s> cannot appear in <location>, ignoring it", xname(k));
			continue;
		}
		full = *prefix ? wasp_arena_printf(c->arena, "%s/%s", prefix, xname(k))
			       : wasp_arena_strdup(c->arena, xname(k));
		if (!full)
			return -ENOMEM;
		ss = cfg_schema_find(c->cfg->schema, full);
		if (ss) {
			r = add_instance(c, ss, loc, k);
			if (r < 0)
				return r;
			continue;
		}
		d = cfg_find_decl(c->file, full);
		if (!d && c->cfg->apphost && c->cfg->apphost != c->file)
			d = cfg_find_decl(c->cfg->apphost, full);
		if (d && !cfg_schema_has_group(c->cfg->schema, full))
			continue; /* declared, not implemented: warned at the declaration */
		if (cfg_group_declared(c, full) || cfg_schema_has_group(c->cfg->schema, full)) {
			r = parse_group(c, k, full, loc, depth + 1);
			if (r < 0)
				return r;
			continue;
		}
		if (!*prefix) {
			if (warn_once(c, full))
				cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
					  "<%s> is not implemented by wasp, ignoring it", full);
			continue;
		}
		/* IIS: "missing a section declaration", a 500.19 in a web.config */
		if (!c->file->is_apphost && strncasecmp(full, "system.webServer/", 17) == 0)
			cfg_pdiag(c, WASP_DIAG_ERROR, line, NULL,
				  "section '%s' is neither declared in configSections nor "
				  "implemented by wasp",
				  full);
		else
			cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
				  "unknown section '%s' (neither declared nor implemented), ignoring it",
				  full);
	}
	return 0;
}

static int
parse_location(struct parse_ctx *c, xmlNode *xn)
{
	struct loc loc = { .in_location = true, .line = cfg_xml_line(xn) };
	char *path = NULL;

	for (xmlAttr *xa = xn->properties; xa; xa = xa->next) {
		const char *name = (const char *)xa->name;
		char *v;

		if (xa->ns)
			continue;
		v = cfg_xml_attr_value(c->arena, xa);
		if (!v)
			return -ENOMEM;
		if (streq(name, "path"))
			path = v;
		else if (streq(name, "overrideMode")) {
			if (strcaseeq(v, "Allow"))
				loc.mode = CFG_OVERRIDE_ALLOW;
			else if (strcaseeq(v, "Deny"))
				loc.mode = CFG_OVERRIDE_DENY;
			else if (!strcaseeq(v, "Inherit"))
				cfg_pdiag(c, WASP_DIAG_ERROR, loc.line, name,
					  "'%s' is not one of: Allow, Deny, Inherit", v);
		} else if (streq(name, "allowOverride")) {
			/* The legacy (.NET) way to say the same. */
			if (strcaseeq(v, "true"))
				loc.mode = CFG_OVERRIDE_ALLOW;
			else if (strcaseeq(v, "false"))
				loc.mode = CFG_OVERRIDE_DENY;
			else
				cfg_pdiag(c, WASP_DIAG_ERROR, loc.line, name,
					  "'%s' is not a bool (true or false)", v);
		} else if (streq(name, "inheritInChildApplications")) {
			if (strcaseeq(v, "false"))
				loc.no_child_apps = true;
			else if (!strcaseeq(v, "true"))
				cfg_pdiag(c, WASP_DIAG_ERROR, loc.line, name,
					  "'%s' is not a bool (true or false)", v);
		} else
			cfg_pdiag(c, WASP_DIAG_WARNING, loc.line, name,
				  "unknown attribute on <location>, ignoring");
	}
	loc.path = cfg_normalize_path(c->arena, path ? path : "");
	if (!loc.path)
		return -ENOMEM;
	return parse_group(c, xn, "", &loc, 0);
}

/* The file record for filename, its directory absolute (relative physical
 * paths must not depend on the cwd of whoever uses the generation later: a
 * worker). NULL on OOM. */
static struct cfg_file *
file_new(struct wasp_config *cfg, const char *filename, bool is_apphost, const char *url_dir)
{
	struct cfg_file *f = wasp_arena_zalloc(cfg->arena, sizeof(*f));
	char *slash;

	if (!f || !(f->path = wasp_arena_strdup(cfg->arena, filename ? filename : "<buffer>")))
		return NULL;
	slash = strrchr(f->path, '/');
	if (!slash)
		f->dir = ".";
	else if (slash == f->path)
		f->dir = "/";
	else
		f->dir = wasp_arena_strndup(cfg->arena, f->path, (size_t)(slash - f->path));
	if (f->dir && f->dir[0] != '/') {
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd))) {
			f->dir = streq(f->dir, ".") ? wasp_arena_strdup(cfg->arena, cwd)
						    : wasp_arena_printf(cfg->arena, "%s/%s", cwd, f->dir);
			if (!f->dir)
				return NULL;
		}
	}
	f->is_apphost = is_apphost;
	f->url_dir = url_dir ? wasp_arena_strdup(cfg->arena, url_dir) : "";
	f->exists = true;
	return f->dir && f->url_dir ? f : NULL;
}

/* buf parsed by libxml2 into *ret, once it is known to be within the size
 * limits and to have no DTD. -EFBIG or -EINVAL with a diagnostic. */
static int
read_doc(struct parse_ctx *c, const char *buf, size_t len, xmlDoc **ret)
{
	const char *err;
	xmlDoc *doc;
	int line;
	char *msg;

	if (len > CFG_MAX_FILE_SIZE || len > INT_MAX) {
		cfg_pdiag(c, WASP_DIAG_ERROR, 0, NULL, "file too big (over %d bytes)",
			  CFG_MAX_FILE_SIZE);
		return -EFBIG;
	}
	if (!c->file->is_apphost && len > CFG_MAX_WEBCONFIG_SIZE) {
		cfg_pdiag(c, WASP_DIAG_ERROR, 0, NULL,
			  "file too big: %zu bytes, over the limit of %d for a web.config (IIS's "
			  "default maxWebConfigFileSizeInKB, 250)",
			  len, CFG_MAX_WEBCONFIG_SIZE);
		return -EFBIG;
	}
	line = cfg_prolog_doctype_line(buf, len);
	if (line > 0) {
		cfg_pdiag(c, WASP_DIAG_ERROR, line, NULL, "%s", CFG_DOCTYPE_MSG);
		return -EINVAL;
	}
	if (cfg_xml_open(&err) < 0) {
		cfg_pdiag(c, WASP_DIAG_ERROR, 0, NULL, "cannot load libxml2: %s", err);
		return -EINVAL;
	}
	/* No DTD loading, no entity substitution, no network: see
	 * cfg_prolog_doctype_line() */
	doc = cfg_xml_read(buf, len, c->file->path,
			   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				   XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA | XML_PARSE_COMPACT |
				   XML_PARSE_NOBLANKS);
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlDtd *dtd = doc->intSubset ? doc->intSubset : doc->extSubset;

		cfg_pdiag(c, WASP_DIAG_ERROR, cfg_xml_line((xmlNode *)dtd), NULL, "%s",
			  CFG_DOCTYPE_MSG);
		cfg_xml_free_doc(doc);
		return -EINVAL;
	}
	if (!doc) {
		err = cfg_xml_last_error(&line);
		msg = err ? wasp_arena_strdup(c->arena, err) : NULL;
		if (msg)
			msg[strcspn(msg, "\n")] = '\0'; /* libxml2 adds the context on more lines */
		cfg_pdiag(c, WASP_DIAG_ERROR, line, NULL, "not well-formed XML: %s",
			  msg ? msg : "parse error");
		return -EINVAL;
	}
	*ret = doc;
	return 0;
}

int
cfg_parse_file(struct wasp_config *cfg, const char *buf, size_t len, const char *filename,
	       bool is_apphost, const char *url_dir, struct cfg_file **ret,
	       struct wasp_diag_list *diags)
{
	struct cfg_file *f = file_new(cfg, filename, is_apphost, url_dir);
	struct parse_ctx c = { .cfg = cfg, .arena = cfg->arena, .file = f, .diags = diags };
	struct loc top = { .path = "" };
	xmlDoc *doc = NULL;
	xmlNode *root;
	int r;

	if (!f)
		return -ENOMEM;
	r = read_doc(&c, buf, len, &doc);
	if (r < 0)
		return r;
	root = cfg_xml_root(doc);
	if (!root || !streq(xname(root), "configuration")) {
		cfg_pdiag(&c, WASP_DIAG_ERROR, root ? cfg_xml_line(root) : 1, NULL,
			  "the root element must be <configuration>");
		cfg_xml_free_doc(doc);
		*ret = f;
		return -EINVAL;
	}
	/* configSections first, wherever it is (IIS wants it first). */
	for (xmlNode *k = root->children; k && r >= 0; k = k->next)
		if (is_element(k) && streq(xname(k), "configSections"))
			r = cfg_parse_config_sections(&c, k, "", 0);
	if (r >= 0)
		r = parse_group(&c, root, "", &top, 0);
	for (xmlNode *k = root->children; k && r >= 0; k = k->next)
		if (is_element(k) && streq(xname(k), "location"))
			r = parse_location(&c, k);
	cfg_xml_free_doc(doc);
	if (r < 0)
		return r;
	*ret = f;
	return c.errors ? -EINVAL : 0;
}
