/* RewriteModule's compiled configuration: built from its sections by
 * rewrite_conf.c, read per request by mod_rewrite.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "rewrite.h"
#include "wasp/module.h"

enum { ACT_NONE, ACT_REWRITE, ACT_REDIRECT, ACT_CUSTOM, ACT_ABORT };
enum { MT_PATTERN, MT_FILE, MT_DIRECTORY };

struct cond {
	struct rw_subst *input;
	unsigned match_type;
	struct rw_pattern pat;
};

struct set {
	const char *name;
	struct rw_subst *value;
	bool replace;
};

struct rule {
	const char *name;
	const char *file; /* the file that wrote it: its directory is the rule's base */
	bool stop, any, track_all;
	struct rw_pattern match;
	struct cond *conds;
	size_t n_conds;
	struct set *sets;
	size_t n_sets;
	unsigned action, redirect_type, status, substatus;
	struct rw_subst *url, *description;
	bool append_query, log_rewritten;
};

struct rules {
	char *error; /* a rule that could not be compiled: every request 500.50 */
	size_t n;
	struct rule r[];
};

struct map_entry {
	const char *key, *value;
};

struct map {
	const char *name, *def;
	bool icase;
	size_t n;
	struct map_entry *e; /* sorted by key */
};

struct maps {
	size_t n;
	struct map m[];
};

struct allowed {
	size_t n;
	const char *names[];
};

enum {
	RW_SECTION_GLOBAL,
	RW_SECTION_RULES,
	RW_SECTION_MAPS,
	RW_SECTION_ALLOWED,
	RW_SECTION__COUNT,
};

/* The module's sections, indexed by RW_SECTION_*, with their build and
 * free functions. */
extern const struct wasp_module_section rw_sections[RW_SECTION__COUNT];
