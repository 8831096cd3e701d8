/* RewriteModule's compiled configuration: built from its sections by
 * rewrite_conf.c, read per request by mod_rewrite.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "rewrite.h"
#include "wasp/module.h"

#define RW_MAX_CONDITIONS 64 /* in one rule */

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
	const char *reason; /* CustomResponse's statusReason, "" for the status's own */
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
	RW_SECTION_OUTBOUND,
	RW_SECTION__COUNT,
};

/* A rule's <match> pattern and <conditions>, built as inbound rules' are
 * (outbound rules share them). 0, -EINVAL with err, -ENOMEM. */
int rw_build_conditions(struct rule *r, const struct wasp_element *conds, char *err,
			size_t errlen);

/* One request's evaluation (mod_rewrite.c; rewrite_out.c for responses). */
struct run {
	struct wasp_request *req;
	const struct maps *maps;
	const char *path;  /* the URL now (decoded, leading '/') */
	const char *query; /* the query now */
	bool rewritten, log_rewritten;
	bool proxied; /* ARR took the request to an absolute URL */
	/* the last IsFile/IsDirectory input and what stat() said of it (the
	 * two conditions of WordPress's rule ask about one path) */
	const char *stat_input;
	mode_t stat_mode; /* 0: nothing there */
	/* bases of the web.config files of the rules running */
	const char *base_file[8];
	const char *base[8];
	size_t n_bases;
	/* outbound body rules run per attribute value: their expansions are
	 * malloc'd and freed after each value, not kept in the request's
	 * arena (which would grow with the body) */
	bool scratch;
	char *tmp[RW_MAX_CONDITIONS + 2];
	size_t n_tmp;
};

/* A server variable as rules read it ({RESPONSE_X} a response header). */
const char *rw_run_var(const char *name, void *userdata);
int rw_run_map(const char *name, const char *key, const char **ret, void *userdata);
/* Expand s into the request's arena. 0 or -errno. */
int rw_run_expand(struct run *st, const struct rw_subst *s, const struct rw_match *r,
		  const struct rw_match *c, const char **ret);
/* A rule's conditions: 1 pass, 0 not, <0 error; *cm gets the captures
 * {C:n} see. */
int rw_run_conditions(struct run *st, const struct rule *r, const struct rw_match *rm,
		      struct rw_match *cm);

/* Outbound rules (rewrite_out.c): the section's build and free, the
 * response header a RESPONSE_ variable names (its value, or NULL), and the
 * SendResponse hook. */
void *rw_outbound_build(const struct wasp_element *sec, struct wasp_server *srv);
void rw_outbound_free(void *conf);
const char *rw_response_var(struct wasp_request *req, const char *name);
enum wasp_status rw_outbound_on_send(struct wasp_request *req, void *userdata);

/* The module's sections, indexed by RW_SECTION_*, with their build and
 * free functions. */
extern const struct wasp_module_section rw_sections[RW_SECTION__COUNT];
