/* What the files that read configuration files (load.c, decls.c) share:
 * the parse state and its diagnostics. Private to them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "internal.h"

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
static inline enum wasp_diag_severity
strictness(const struct parse_ctx *c)
{
	return c->file->is_apphost ? WASP_DIAG_WARNING : WASP_DIAG_ERROR;
}

static inline bool
is_element(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE;
}

static inline const char *
xname(const xmlNode *n)
{
	return (const char *)n->name;
}

/* A diagnostic about c's file (an error counts in c->errors). */
void cfg_pdiag(struct parse_ctx *c, enum wasp_diag_severity sev, int line, const char *attr,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* decls.c: the children of a <configSections> (or <sectionGroup> named
 * prefix) into c->file's declarations and c's groups. 0 or -ENOMEM. */
int cfg_parse_config_sections(struct parse_ctx *c, xmlNode *xn, const char *prefix, int depth);
/* Whether name is a section group declared in c's file or, for a
 * web.config, in applicationHost.config. */
bool cfg_group_declared(struct parse_ctx *c, const char *name);
