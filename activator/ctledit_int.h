/* What waspctl's editing files share (ctledit*.c, ctlbackup.c). */
#pragma once

#include <stdio.h>

#include "ctledit.h"

#define EDIT_MAX_KV 16
#define EDIT_MAX_SEGS 16
#define EDIT_SPATH_MAX 512

struct edit_kv {
	const char *k, *v;
};

/* One step of a path: an element name, or (name NULL) a collection item
 * selected by its attributes. */
struct edit_seg {
	const char *name;
	struct edit_kv kv[EDIT_MAX_KV];
	size_t n_kv;
};

struct edit_path {
	struct edit_seg segs[EDIT_MAX_SEGS];
	size_t n;
};

/* One edit: the document, the loaded configuration (for the schema), the
 * section being changed. */
struct edit_ctx {
	struct wasp_config *cfg;
	const char *config;  /* applicationHost.config */
	const char *file;    /* the file edited (applicationHost.config or a web.config) */
	const char *section; /* full name */
	struct edit_doc doc;
	int lock_fd;
};

/* s (overwritten) into path; arg names it in messages. */
int edit_path_parse(char *s, struct edit_path *path, const char *arg);
/* The value of arg when it is /KEY:VALUE (key without case), else NULL. */
const char *edit_arg_key(const char *arg, const char *key);
/* The ':' between an argument's path and its value, NULL if none. */
char *edit_value_sep(char *s);
xmlNode *edit_find_item(xmlNode *parent, const char *add, const struct edit_seg *seg);
void edit_seg_print(FILE *f, const struct edit_seg *seg);
/* Down segs from *node; spath (the schema path within the section, "" at
 * its root) follows. With create, missing elements are made (never items).
 * Errors printed. */
int edit_walk(struct edit_ctx *c, xmlNode **node, char *spath, size_t size,
	      const struct edit_seg *segs, size_t n, bool create);

/* Apply one appcmd argument (/ATTR:VALUE, /+PATH, /-PATH) at node. */
int edit_apply_arg(struct edit_ctx *c, xmlNode *node, const char *spath, const char *arg);
/* The section's element in the document: in <location path="..."> when
 * location is not NULL, created when missing. */
xmlNode *edit_section_node(struct edit_ctx *c, const char *location);
/* Open c for section of file (created when missing, if not config). */
int edit_ctx_open(struct edit_ctx *c, const char *config, const char *file,
		  const char *section);
void edit_ctx_done(struct edit_ctx *c);
/* Validate the edited document with the loader and write it (the previous
 * applicationHost.config kept as a backup). A web.config (site and url its
 * place) is checked after its write and put back when refused. Errors
 * printed. 0, or -errno. */
int edit_commit_at(struct edit_ctx *c, const char *site, const char *url);
