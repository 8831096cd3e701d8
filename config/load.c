/* Reading applicationHost.config and web.config files: configSections,
 * sections (at the top level and in <location>), every element and
 * attribute checked against the schema, %VAR% expansion and Windows paths.
 * The result is a struct cfg_file of section instances; merge.c and the
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

#include "fs.h"
#include "internal.h"

#define CFG_MAX_FILE_SIZE (32 * 1024 * 1024)
#define CFG_DOCTYPE_MSG                                                                  \
	"a document type declaration (<!DOCTYPE>) is not allowed in a configuration file "   \
	"(IIS's have none; its entities could make reading the file cost without bound)"
#define CFG_MAX_DEPTH 64

struct parse_ctx {
	struct wasp_config *cfg;
	struct wasp_arena *arena;
	struct cfg_file *file;
	struct wasp_diag_list *diags;
	int errors;
	size_t n_insts_alloc;
	size_t n_decls_alloc;
	/* Section groups declared in configSections. */
	const char **groups;
	size_t n_groups, n_groups_alloc;
	/* Unknown top-level groups already warned about. */
	const char **warned;
	size_t n_warned, n_warned_alloc;
	/* Parsing a section the schema declares notImplemented: what it does
	 * not declare is accepted silently. */
	bool lenient;
};

/* What IIS would refuse in a web.config (an unrecognized attribute or
 * element, an undeclared section in system.webServer) is an error there;
 * in applicationHost.config, which must load as IIS wrote it, a warning. */
static enum wasp_diag_severity
strictness(const struct parse_ctx *c)
{
	return c->file->is_apphost ? WASP_DIAG_WARNING : WASP_DIAG_ERROR;
}

static void
diag(struct parse_ctx *c, enum wasp_diag_severity sev, int line, const char *attr, const char *fmt,
     ...) __attribute__((format(printf, 5, 6)));

static void
diag(struct parse_ctx *c, enum wasp_diag_severity sev, int line, const char *attr, const char *fmt,
     ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	(void)wasp_diag_add(c->diags, sev, c->file->path, line, attr, "%s", msg ? msg : "(OOM)");
	free(msg);
	if (sev == WASP_DIAG_ERROR)
		c->errors++;
}

static bool
is_element(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE;
}

static const char *
xname(const xmlNode *n)
{
	return (const char *)n->name;
}

/* ---- strings and paths --------------------------------------------------- */

const char *
cfg_expand_env(struct wasp_arena *arena, const char *s)
{
	const char *p = s, *start;
	size_t cap = strlen(s) + 1, len = 0;
	char *out;

	if (!strchr(s, '%'))
		return s;
	out = malloc(cap);
	if (!out)
		return NULL;
	while (*p) {
		const char *val = NULL, *end;
		size_t add;

		start = p;
		if (*p == '%' && (end = strchr(p + 1, '%')) && end > p + 1) {
			char name[256];
			size_t nl = (size_t)(end - p - 1);

			if (nl < sizeof(name)) {
				memcpy(name, p + 1, nl);
				name[nl] = '\0';
				val = getenv(name);
			}
			if (val) {
				add = strlen(val);
				p = end + 1;
			} else {
				/* Unknown: keep "%NAME" and look again from the
				 * closing '%' (it may open the next variable). */
				val = start;
				add = nl + 1;
				p = end;
			}
		} else {
			val = p;
			add = 1;
			p++;
		}
		if (len + add + 1 > cap) {
			char *n;

			cap = (len + add + 1) * 2;
			n = realloc(out, cap);
			if (!n) {
				free(out);
				return NULL;
			}
			out = n;
		}
		memcpy(out + len, val, add);
		len += add;
	}
	out[len] = '\0';
	start = wasp_arena_strdup(arena, out);
	free(out);
	return start;
}

bool
cfg_is_drive_path(const char *s)
{
	return isalpha((unsigned char)s[0]) && s[1] == ':' &&
	       (s[2] == '\0' || s[2] == '/' || s[2] == '\\');
}

char *
cfg_resolve_path(struct wasp_arena *arena, const char *dir, const char *s)
{
	char *p = wasp_arena_strdup(arena, s);

	if (!p)
		return NULL;
	for (char *q = p; *q; q++)
		if (*q == '\\')
			*q = '/';
	if (!*p || p[0] == '/' || cfg_is_drive_path(p) || p[0] == '%' || !dir)
		return p;
	if (p[0] == '.' && p[1] == '/')
		p += 2;
	else if (p[0] == '.' && p[1] == '\0')
		return wasp_arena_strdup(arena, dir);
	return wasp_arena_printf(arena, "%s/%s", dir, p);
}

char *
cfg_normalize_path(struct wasp_arena *arena, const char *p)
{
	char *out = wasp_arena_alloc(arena, strlen(p) + 1);

	if (!out)
		return NULL;
	cfg_normalize_path_into(out, p);
	return out;
}

void
cfg_normalize_path_into(char *out, const char *p)
{
	char *o = out;

	while (*p) {
		while (*p == '/' || *p == '\\')
			p++;
		if (!*p)
			break;
		if (p[0] == '.' && (p[1] == '/' || p[1] == '\\' || p[1] == '\0')) {
			p++;
			continue;
		}
		if (o != out)
			*o++ = '/';
		while (*p && *p != '/' && *p != '\\')
			*o++ = *p++;
	}
	*o = '\0';
}

bool
cfg_path_is_prefix(const char *prefix, const char *path)
{
	size_t l = strlen(prefix);

	if (l == 0)
		return true;
	if (strncasecmp(prefix, path, l) != 0)
		return false;
	return path[l] == '\0' || path[l] == '/';
}

size_t
cfg_path_depth(const char *p)
{
	size_t n = 0;

	if (!*p)
		return 0;
	for (n = 1; *p; p++)
		if (*p == '/')
			n++;
	return n;
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

static int
parse_lock(struct parse_ctx *c, struct cfg_node *node, const char *name, const char *value,
	   int line)
{
	if (streq(name, "lockItem")) {
		if (strcaseeq(value, "true"))
			node->lock_item = true;
		else if (!strcaseeq(value, "false"))
			diag(c, WASP_DIAG_ERROR, line, name, "'%s' is not a bool (true or false)",
			     value);
		return 0;
	}
	if (streq(name, "lockAttributes"))
		return split_names(c->arena, value, &node->lock_attrs);
	if (streq(name, "lockAllAttributesExcept")) {
		node->has_lock_all_attrs_except = true;
		return split_names(c->arena, value, &node->lock_all_attrs_except);
	}
	if (streq(name, "lockElements"))
		return split_names(c->arena, value, &node->lock_elements);
	node->has_lock_all_elements_except = true;
	return split_names(c->arena, value, &node->lock_all_elements_except);
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
		char *p = cfg_resolve_path(c->arena, c->file->dir, text);
		struct stat st;

		if (!p)
			return -ENOMEM;
		if (sa->path == CFG_PATH_PHYSICAL && stat(p, &st) < 0)
			diag(c, WASP_DIAG_WARNING, line, sa->name,
			     cfg_is_drive_path(p) ? "'%s' is a Windows drive path that does not exist here"
						  : "'%s' does not exist",
			     p);
		text = p;
	}
	r = cfg_value_parse(c->arena, sa, text, ret, &msg);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		diag(c, WASP_DIAG_ERROR, line, sa->name, "%s", msg ? msg : "invalid value");
		return r;
	}
	return 0;
}

static int parse_node(struct parse_ctx *c, xmlNode *xn, const struct schema_elem *schema,
		      enum cfg_node_kind kind, int depth, struct cfg_node **ret);

static int
parse_attrs(struct parse_ctx *c, xmlNode *xn, struct cfg_node *node, bool is_section_root)
{
	const struct schema_elem *schema = node->schema;
	size_t n = 0, n_alloc = 0;
	int line = node->line, r;

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
		if (is_lock_attr(name)) {
			if (node->kind == CFG_NODE_REMOVE || node->kind == CFG_NODE_CLEAR)
				diag(c, WASP_DIAG_WARNING, line, name,
				     "locks on <%s> have no effect, ignoring", node->name);
			else if ((r = parse_lock(c, node, name, raw, line)) < 0)
				return r;
			continue;
		}
		if (streq(name, "xmlns"))
			continue;
		if (node->kind == CFG_NODE_CLEAR) {
			diag(c, WASP_DIAG_WARNING, line, name, "<%s> takes no attributes, ignoring",
			     node->name);
			continue;
		}
		if (is_section_root && streq(name, "configSource")) {
			/* what the other file says is unknown: in a web.config
			 * that must not be served as if it said nothing (500.19) */
			if (!c->file->is_apphost)
				diag(c, WASP_DIAG_ERROR, line, name,
				     "configSource is not supported: the section's contents in "
				     "'%s' are not read",
				     raw);
			else
				diag(c, WASP_DIAG_WARNING, line, name,
				     "configSource is not supported, ignoring the section's "
				     "external file");
			continue;
		}
		sa = schema_elem_attr(schema, name);
		if (!sa) {
			if (!schema->allow_unknown_attrs && !c->lenient)
				diag(c, strictness(c), line, name, "unknown attribute on <%s>%s",
				     node->name, c->file->is_apphost ? ", ignoring" : "");
			continue;
		}
		if (node->kind == CFG_NODE_REMOVE && !sa->key) {
			diag(c, WASP_DIAG_WARNING, line, name,
			     "<%s> only needs the key attributes, ignoring this one", node->name);
			continue;
		}
		{
			bool twice = false;

			for (size_t i = 0; i < n && !twice; i++)
				twice = node->attrs[i].schema == sa;
			if (twice) {
				/* "enabled" and "Enabled": XML allows it, IIS not. */
				diag(c, WASP_DIAG_ERROR, line, name, "set twice");
				continue;
			}
		}
		na = CFG_PUSH(c->arena, node->attrs, n, n_alloc);
		if (!na)
			return -ENOMEM;
		na->name = sa->name;
		na->schema = sa;
		na->line = line;
		r = parse_value(c, sa, raw, line, &na->value);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			n--;
	}
	node->n_attrs = n;

	/* Required and key attributes of collection entries. */
	if (node->kind == CFG_NODE_ADD || node->kind == CFG_NODE_REMOVE)
		for (size_t i = 0; i < schema->n_attrs; i++) {
			const struct schema_attr *sa = &schema->attrs[i];
			bool found = false;

			/* IIS: an entry needs its required attributes; <remove>
			 * needs the key attributes that have no default. */
			if (!(sa->required && (node->kind == CFG_NODE_ADD || sa->key)))
				continue;
			for (size_t j = 0; j < node->n_attrs; j++)
				found = found || node->attrs[j].schema == sa;
			if (!found)
				diag(c, WASP_DIAG_ERROR, line, sa->name,
				     "required attribute missing on <%s>", node->name);
		}
	return 0;
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
	node->name = wasp_arena_strdup(c->arena, xname(xn));
	node->schema = schema;
	node->line = cfg_xml_line(xn);
	if (!node->name)
		return -ENOMEM;
	if (depth > CFG_MAX_DEPTH) {
		diag(c, WASP_DIAG_ERROR, node->line, NULL, "elements nested too deep");
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
	for (xmlNode *k = xn->children; k; k = k->next) {
		const struct schema_coll *coll = schema->coll;
		const struct schema_elem *ks = NULL;
		enum cfg_node_kind kk = CFG_NODE_ELEMENT;
		struct cfg_node *child = NULL, **slot;

		if (!is_element(k))
			continue;
		if (k->ns && k->ns->prefix)
			continue;
		if (coll && streq(xname(k), coll->add_name)) {
			ks = coll->item;
			kk = CFG_NODE_ADD;
		} else if (coll && coll->remove_name && streq(xname(k), coll->remove_name)) {
			ks = coll->item;
			kk = CFG_NODE_REMOVE;
		} else if (coll && coll->clear_name && streq(xname(k), coll->clear_name)) {
			ks = coll->item;
			kk = CFG_NODE_CLEAR;
		} else if ((ks = schema_elem_child(schema, xname(k)))) {
			kk = CFG_NODE_ELEMENT;
		} else {
			if (!c->lenient)
				diag(c, strictness(c), cfg_xml_line(k), NULL,
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
					diag(c, WASP_DIAG_ERROR, child->line, NULL,
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

/* ---- configSections ------------------------------------------------------ */

const struct cfg_decl *
cfg_find_decl(const struct cfg_file *f, const char *name)
{
	for (size_t i = 0; f && i < f->n_decls; i++)
		if (strcaseeq(f->decls[i].name, name))
			return &f->decls[i];
	return NULL;
}

static bool
group_declared(struct parse_ctx *c, const char *name)
{
	const struct cfg_file *ah = c->cfg->apphost;

	for (size_t i = 0; i < c->n_groups; i++)
		if (strcaseeq(c->groups[i], name))
			return true;
	/* web.config: groups declared in applicationHost.config. */
	for (size_t i = 0; ah && ah != c->file && i < ah->n_decls; i++) {
		size_t l = strlen(name);

		if (strncasecmp(ah->decls[i].name, name, l) == 0 && ah->decls[i].name[l] == '/')
			return true;
	}
	return false;
}

static int
parse_config_sections(struct parse_ctx *c, xmlNode *xn, const char *prefix, int depth)
{
	int r;

	if (depth > 8)
		return 0;
	for (xmlNode *k = xn->children; k; k = k->next) {
		int line = cfg_xml_line(k);
		char *name, *full, *v;

		if (!is_element(k))
			continue;
		if (streq(xname(k), "clear") || streq(xname(k), "remove")) {
			diag(c, WASP_DIAG_WARNING, line, NULL,
			     "<%s> in configSections is not supported, ignoring", xname(k));
			continue;
		}
		if (!streq(xname(k), "section") && !streq(xname(k), "sectionGroup")) {
			diag(c, WASP_DIAG_WARNING, line, NULL,
			     "unknown element <%s> in configSections, ignoring", xname(k));
			continue;
		}
		name = cfg_xml_prop(c->arena, k, "name");
		if (!name || !*name) {
			diag(c, WASP_DIAG_ERROR, line, "name", "<%s> without a name", xname(k));
			continue;
		}
		full = *prefix ? wasp_arena_printf(c->arena, "%s/%s", prefix, name)
			       : wasp_arena_strdup(c->arena, name);
		if (!full)
			return -ENOMEM;
		if (streq(xname(k), "sectionGroup")) {
			const char **slot = CFG_PUSH(c->arena, c->groups, c->n_groups,
						     c->n_groups_alloc);

			if (!slot)
				return -ENOMEM;
			*slot = full;
			r = parse_config_sections(c, k, full, depth + 1);
			if (r < 0)
				return r;
			continue;
		}
		{
			const struct schema_section *ss = cfg_schema_find(c->cfg->schema, full);
			struct cfg_decl *d;

			if (cfg_find_decl(c->file, full)) {
				diag(c, WASP_DIAG_WARNING, line, "name",
				     "section '%s' declared twice, using the first declaration",
				     full);
				continue;
			}
			d = CFG_PUSH(c->arena, c->file->decls, c->file->n_decls, c->n_decls_alloc);
			if (!d)
				return -ENOMEM;
			*d = (struct cfg_decl){
				.name = full,
				.allow_definition = ss ? ss->allow_definition : CFG_ALLOW_EVERYWHERE,
				.override_default = ss ? ss->override_default : CFG_OVERRIDE_ALLOW,
				.known = ss != NULL,
				.file = c->file->path,
				.line = line,
			};
			v = cfg_xml_prop(c->arena, k, "allowDefinition");
			if (v) {
				enum cfg_allow_def ad = cfg_allow_def_from_string(v);

				if (ad < 0)
					diag(c, WASP_DIAG_WARNING, line, "allowDefinition",
					     "unknown value '%s', ignoring", v);
				else
					d->allow_definition = ad;
			}
			v = cfg_xml_prop(c->arena, k, "overrideModeDefault");
			if (v) {
				if (strcaseeq(v, "Allow"))
					d->override_default = CFG_OVERRIDE_ALLOW;
				else if (strcaseeq(v, "Deny"))
					d->override_default = CFG_OVERRIDE_DENY;
				else
					diag(c, WASP_DIAG_ERROR, line, "overrideModeDefault",
					     "'%s' is not Allow or Deny", v);
			}
			if (!ss && cfg_schema_has_group(c->cfg->schema, full))
				diag(c, WASP_DIAG_WARNING, line, NULL,
				     "'%s' is declared as a section, but it is a section group; "
				     "reading the sections in it",
				     full);
			else if (!ss || ss->ignored)
				diag(c, WASP_DIAG_WARNING, line, NULL,
				     "section '%s' is not implemented by wasp, ignoring it", full);
		}
	}
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
		diag(c, WASP_DIAG_WARNING, line, NULL,
		     "section '%s' is not implemented by wasp, ignoring it", ss->name);
	else if (!d && c->file->is_apphost)
		diag(c, WASP_DIAG_WARNING, line, NULL,
		     "section '%s' is not declared in configSections; using wasp's defaults "
		     "(allowDefinition=%s, overrideModeDefault=%s)",
		     ss->name, cfg_allow_def_to_string(ss->allow_definition),
		     cfg_override_to_string(ss->override_default));
	ad = d ? d->allow_definition : ss->allow_definition;
	if ((ad == CFG_ALLOW_APPHOST_ONLY || ad == CFG_ALLOW_MACHINE_ONLY) &&
	    (!c->file->is_apphost || *loc->path)) {
		if (d)
			diag(c, WASP_DIAG_ERROR, line, NULL,
			     "section '%s' may only be set in applicationHost.config%s "
			     "(allowDefinition=\"%s\" in %s:%d)",
			     ss->name, c->file->is_apphost ? " outside a <location> path" : "",
			     cfg_allow_def_to_string(ad), d->file, d->line);
		else
			diag(c, WASP_DIAG_ERROR, line, NULL,
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
			diag(c, WASP_DIAG_ERROR, line, NULL,
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
				diag(c, WASP_DIAG_ERROR, line, NULL,
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
		if (group_declared(c, full) || cfg_schema_has_group(c->cfg->schema, full)) {
			r = parse_group(c, k, full, loc, depth + 1);
			if (r < 0)
				return r;
			continue;
		}
		if (!*prefix) {
			if (warn_once(c, full))
				diag(c, WASP_DIAG_WARNING, line, NULL,
				     "<%s> is not implemented by wasp, ignoring it", full);
			continue;
		}
		/* IIS: "missing a section declaration", a 500.19 in a web.config */
		if (!c->file->is_apphost && strncasecmp(full, "system.webServer/", 17) == 0)
			diag(c, WASP_DIAG_ERROR, line, NULL,
			     "section '%s' is neither declared in configSections nor "
			     "implemented by wasp",
			     full);
		else
			diag(c, WASP_DIAG_WARNING, line, NULL,
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
				diag(c, WASP_DIAG_ERROR, loc.line, name,
				     "'%s' is not one of: Allow, Deny, Inherit", v);
		} else if (streq(name, "allowOverride")) {
			/* The legacy (.NET) way to say the same. */
			if (strcaseeq(v, "true"))
				loc.mode = CFG_OVERRIDE_ALLOW;
			else if (strcaseeq(v, "false"))
				loc.mode = CFG_OVERRIDE_DENY;
			else
				diag(c, WASP_DIAG_ERROR, loc.line, name,
				     "'%s' is not a bool (true or false)", v);
		} else if (streq(name, "inheritInChildApplications")) {
			if (strcaseeq(v, "false"))
				loc.no_child_apps = true;
			else if (!strcaseeq(v, "true"))
				diag(c, WASP_DIAG_ERROR, loc.line, name,
				     "'%s' is not a bool (true or false)", v);
		} else
			diag(c, WASP_DIAG_WARNING, loc.line, name,
			     "unknown attribute on <location>, ignoring");
	}
	loc.path = cfg_normalize_path(c->arena, path ? path : "");
	if (!loc.path)
		return -ENOMEM;
	return parse_group(c, xn, "", &loc, 0);
}

/* ---- what no configuration file may hold ---------------------------------- */

/* The line of a document type declaration in buf's prolog (where XML allows
 * one: before the root element), or 0 when there is none. IIS's
 * configuration files have no DTD; one could declare entities whose
 * expansion costs without bound, so it is refused before libxml2 sees it.
 * buf is read as ASCII-compatible (UTF-8) or, by its byte order mark or its
 * first '<', as UTF-16 (every other byte); libxml2's tree is checked as
 * well after parsing, for any other encoding. */
static int
prolog_doctype_line(const char *buf, size_t len)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t start = 0, step = 1, n;
	int line = 1;

	if (len >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == '<' && b[1] == 0))) {
		step = 2; /* UTF-16LE: the ASCII byte first */
		start = b[0] == 0xff ? 2 : 0;
	} else if (len >= 2 && ((b[0] == 0xfe && b[1] == 0xff) || (b[0] == 0 && b[1] == '<'))) {
		step = 2; /* UTF-16BE */
		start = b[0] == 0xfe ? 3 : 1;
	} else if (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		start = 3; /* UTF-8 byte order mark */
	n = start < len ? (len - start + step - 1) / step : 0;
#define AT(i) ((i) < n ? (char)b[start + (i) * step] : '\0')
	for (size_t i = 0; i < n;) {
		char c = AT(i);

		if (c == '\n')
			line++;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c != '<')
			return 0; /* not well-formed: libxml2 says why */
		if (AT(i + 1) == '?' || (AT(i + 1) == '!' && AT(i + 2) == '-' && AT(i + 3) == '-')) {
			/* a processing instruction or a comment: up to its end */
			bool pi = AT(i + 1) == '?';

			for (i += pi ? 2 : 4; i < n; i++) {
				if (AT(i) == '\n')
					line++;
				if (pi ? (AT(i) == '?' && AT(i + 1) == '>')
				       : (AT(i) == '-' && AT(i + 1) == '-' && AT(i + 2) == '>'))
					break;
			}
			i += pi ? 2 : 3;
			continue;
		}
		if (AT(i + 1) == '!') {
			static const char word[] = "DOCTYPE";
			bool doctype = true;

			for (size_t k = 0; k < sizeof(word) - 1 && doctype; k++)
				doctype = AT(i + 2 + k) == word[k];
			return doctype ? line : 0;
		}
		return 0; /* the root element: no DOCTYPE can follow */
	}
#undef AT
	return 0;
}

int
cfg_parse_file(struct wasp_config *cfg, const char *buf, size_t len, const char *filename,
	       bool is_apphost, const char *url_dir, struct cfg_file **ret,
	       struct wasp_diag_list *diags)
{
	struct cfg_file *f = wasp_arena_zalloc(cfg->arena, sizeof(*f));
	struct parse_ctx c = { .cfg = cfg, .arena = cfg->arena, .file = f, .diags = diags };
	struct loc top = { .path = "" };
	const char *err;
	xmlDoc *doc;
	xmlNode *root;
	char *slash;
	int r = 0, doctype_line;

	if (!f)
		return -ENOMEM;
	f->path = wasp_arena_strdup(cfg->arena, filename ? filename : "<buffer>");
	if (!f->path)
		return -ENOMEM;
	slash = strrchr(f->path, '/');
	if (!slash)
		f->dir = ".";
	else if (slash == f->path)
		f->dir = "/";
	else
		f->dir = wasp_arena_strndup(cfg->arena, f->path, (size_t)(slash - f->path));
	if (f->dir[0] != '/') {
		/* Relative physical paths must not depend on the cwd of
		 * whoever uses the generation later (a worker). */
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd))) {
			f->dir = streq(f->dir, ".") ? wasp_arena_strdup(cfg->arena, cwd)
						    : wasp_arena_printf(cfg->arena, "%s/%s", cwd, f->dir);
			if (!f->dir)
				return -ENOMEM;
		}
	}
	f->is_apphost = is_apphost;
	f->url_dir = url_dir ? wasp_arena_strdup(cfg->arena, url_dir) : "";
	f->exists = true;
	if (!f->dir || !f->url_dir)
		return -ENOMEM;
	if (len > CFG_MAX_FILE_SIZE || len > INT_MAX) {
		diag(&c, WASP_DIAG_ERROR, 0, NULL, "file too big (over %d bytes)",
		     CFG_MAX_FILE_SIZE);
		return -EFBIG;
	}
	if (!is_apphost && len > CFG_MAX_WEBCONFIG_SIZE) {
		diag(&c, WASP_DIAG_ERROR, 0, NULL,
		     "file too big: %zu bytes, over the limit of %d for a web.config (IIS's "
		     "default maxWebConfigFileSizeInKB, 250)",
		     len, CFG_MAX_WEBCONFIG_SIZE);
		return -EFBIG;
	}
	doctype_line = prolog_doctype_line(buf, len);
	if (doctype_line > 0) {
		diag(&c, WASP_DIAG_ERROR, doctype_line, NULL, "%s", CFG_DOCTYPE_MSG);
		return -EINVAL;
	}
	r = cfg_xml_open(&err);
	if (r < 0) {
		diag(&c, WASP_DIAG_ERROR, 0, NULL, "cannot load libxml2: %s", err);
		return -EINVAL;
	}
	/* No DTD loading, no entity substitution, no network: see
	 * prolog_doctype_line() */
	doc = cfg_xml_read(buf, len, f->path,
			   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				   XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlDtd *dtd = doc->intSubset ? doc->intSubset : doc->extSubset;

		diag(&c, WASP_DIAG_ERROR, cfg_xml_line((xmlNode *)dtd), NULL, "%s",
		     CFG_DOCTYPE_MSG);
		cfg_xml_free_doc(doc);
		return -EINVAL;
	}
	if (!doc) {
		int line;
		char *msg;

		err = cfg_xml_last_error(&line);
		msg = err ? wasp_arena_strdup(cfg->arena, err) : NULL;
		if (msg)
			msg[strcspn(msg, "\n")] = '\0'; /* libxml2 adds the context on more lines */
		diag(&c, WASP_DIAG_ERROR, line, NULL, "not well-formed XML: %s",
		     msg ? msg : "parse error");
		return -EINVAL;
	}
	root = cfg_xml_root(doc);
	if (!root || !streq(xname(root), "configuration")) {
		diag(&c, WASP_DIAG_ERROR, root ? cfg_xml_line(root) : 1, NULL,
		     "the root element must be <configuration>");
		cfg_xml_free_doc(doc);
		*ret = f;
		return -EINVAL;
	}
	/* configSections first, wherever it is (IIS wants it first). */
	for (xmlNode *k = root->children; k && r >= 0; k = k->next)
		if (is_element(k) && streq(xname(k), "configSections"))
			r = parse_config_sections(&c, k, "", 0);
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

/* ---- the generation ------------------------------------------------------ */


int
cfg_config_new(const struct wasp_config_opts *opts, struct wasp_config **ret)
{
	struct wasp_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return -ENOMEM;
	cfg->arena = wasp_arena_new();
	cfg->cache = cfg_cache_new();
	cfg->shared = cfg_cache_new();
	cfg->files = cfg_cache_new();
	cfg->apphost_sections = cfg_cache_new();
	if (!cfg->arena || !cfg->cache || !cfg->shared || !cfg->files || !cfg->apphost_sections) {
		wasp_config_free(cfg);
		return -ENOMEM;
	}
	if (opts) {
		cfg->opts = *opts;
		cfg->opts.schema_dir = opts->schema_dir ? wasp_arena_strdup(cfg->arena, opts->schema_dir)
							: NULL;
	}
	*ret = cfg;
	return 0;
}

struct wasp_config *
wasp_config_free(struct wasp_config *cfg)
{
	if (!cfg)
		return NULL;
	if (cfg->cache)
		cfg_cache_clear(cfg->cache, free);
	cfg_cache_free(cfg->cache);
	cfg_cache_free(cfg->shared);
	cfg_cache_free(cfg->files);
	cfg_cache_free(cfg->apphost_sections);
	wasp_arena_free(cfg->arena);
	free(cfg);
	return NULL;
}

int
wasp_config_load_buffer(const char *buf, size_t len, const char *filename,
			const struct wasp_config_opts *opts, struct wasp_config **ret,
			struct wasp_diag_list *diags)
{
	struct wasp_config *cfg = NULL;
	struct cfg_file *f = NULL;
	const char *dir;
	int r;

	r = cfg_config_new(opts, &cfg);
	if (r < 0)
		return r;
	dir = cfg->opts.schema_dir ? cfg->opts.schema_dir : cfg_schema_default_dir();
	r = cfg_schema_load_dir(dir, cfg->arena, &cfg->schema, diags);
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	r = cfg_load_builtin(cfg);
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	r = cfg_parse_file(cfg, buf, len, filename, true, NULL, &f, diags);
	if (!f) {
		wasp_config_free(cfg);
		return r;
	}
	cfg->apphost = f;
	if (r != -ENOMEM && cfg_load_builtin_modules(cfg) < 0)
		r = -ENOMEM;
	if (r != -ENOMEM) {
		int v = cfg_validate_apphost(cfg, diags);

		if (v == -ENOMEM) {
			wasp_config_free(cfg);
			return v;
		}
		if (r == 0)
			r = v;
	}
	if (r != -ENOMEM) {
		/* what waspd accepts its workers must be able to read */
		size_t bound = cfg_serialized_bound(cfg);

		if (bound == 0) {
			wasp_config_free(cfg);
			return -ENOMEM;
		}
		if (bound > WASP_CONFIG_SERIAL_MAX) {
			(void)wasp_diag_add(diags, WASP_DIAG_ERROR, f->path, 0, NULL,
					    "the configuration is too large for a worker to read: "
					    "about %zu MiB once parsed and expanded, over the limit of "
					    "%d MiB",
					    bound >> 20, WASP_CONFIG_SERIAL_MAX >> 20);
			if (r == 0)
				r = -EINVAL;
		}
	}
	*ret = cfg;
	return r;
}

int
wasp_config_load_file(const char *path, const struct wasp_config_opts *opts,
		      struct wasp_config **ret, struct wasp_diag_list *diags)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, path, 0, NULL, "cannot open: %s",
				    strerror(-r));
		return r;
	}
	r = wasp_read_fd(fd, CFG_MAX_FILE_SIZE, &buf, &len);
	if (r == -EFBIG)
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, path, 0, NULL,
				    "file too big (over %d bytes)", CFG_MAX_FILE_SIZE);
	else if (r < 0 && r != -ENOMEM)
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, path, 0, NULL, "cannot read: %s",
				    strerror(-r));
	if (r < 0)
		return r;
	return wasp_config_load_buffer(buf, len, path, opts, ret, diags);
}

const char *
wasp_config_file(const struct wasp_config *cfg)
{
	return cfg->apphost ? cfg->apphost->path : NULL;
}

const char *
wasp_config_dir(const struct wasp_config *cfg)
{
	return cfg->apphost ? cfg->apphost->dir : NULL;
}

struct wasp_arena *
wasp_config_arena(struct wasp_config *cfg)
{
	return cfg->arena;
}
