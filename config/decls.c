/* configSections: the section and sectionGroup declarations of
 * applicationHost.config (allowDefinition, overrideModeDefault), and the
 * lookups in them. */
#include <string.h>
#include <strings.h>

#include "parse.h"

const struct cfg_decl *
cfg_find_decl(const struct cfg_file *f, const char *name)
{
	for (size_t i = 0; f && i < f->n_decls; i++)
		if (strcaseeq(f->decls[i].name, name))
			return &f->decls[i];
	return NULL;
}

bool
cfg_group_declared(struct parse_ctx *c, const char *name)
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

/* A <section> of configSections, named full ("group/name"). */
static int
add_decl(struct parse_ctx *c, xmlNode *k, const char *full, int line)
{
	const struct schema_section *ss = cfg_schema_find(c->cfg->schema, full);
	struct cfg_decl *d;
	const char *v;

	if (cfg_find_decl(c->file, full)) {
		cfg_pdiag(c, WASP_DIAG_WARNING, line, "name",
			  "section '%s' declared twice, using the first declaration", full);
		return 0;
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
			cfg_pdiag(c, WASP_DIAG_WARNING, line, "allowDefinition",
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
			cfg_pdiag(c, WASP_DIAG_ERROR, line, "overrideModeDefault",
				  "'%s' is not Allow or Deny", v);
	}
	if (!ss && cfg_schema_has_group(c->cfg->schema, full))
		cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
			  "'%s' is declared as a section, but it is a section group; "
			  "reading the sections in it",
			  full);
	else if (!ss || ss->ignored)
		cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
			  "section '%s' is not implemented by wasp, ignoring it", full);
	return 0;
}

int
cfg_parse_config_sections(struct parse_ctx *c, xmlNode *xn, const char *prefix, int depth)
{
	int r;

	if (depth > 8)
		return 0;
	for (xmlNode *k = xn->children; k; k = k->next) {
		int line = cfg_xml_line(k);
		char *name, *full;

		if (!is_element(k))
			continue;
		if (streq(xname(k), "clear") || streq(xname(k), "remove")) {
			cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
				  "<%s> in configSections is not supported, ignoring", xname(k));
			continue;
		}
		if (!streq(xname(k), "section") && !streq(xname(k), "sectionGroup")) {
			cfg_pdiag(c, WASP_DIAG_WARNING, line, NULL,
				  "unknown element <%s> in configSections, ignoring", xname(k));
			continue;
		}
		name = cfg_xml_prop(c->arena, k, "name");
		if (!name || !*name) {
			cfg_pdiag(c, WASP_DIAG_ERROR, line, "name", "<%s> without a name", xname(k));
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
			r = cfg_parse_config_sections(c, k, full, depth + 1);
			if (r < 0)
				return r;
			continue;
		}
		r = add_decl(c, k, full, line);
		if (r < 0)
			return r;
	}
	return 0;
}
