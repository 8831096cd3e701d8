/* RewriteModule's configuration built (docs/rewrite.md): globalRules and
 * rules compiled into rules with their conditions, server variables and
 * actions, rewriteMaps sorted for lookup, allowedServerVariables; once per
 * configuration and path, never per request. Each section is bounded
 * (a tenant's web.config writes it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "rewrite.h"
#include "rewrite_conf.h"
#include "util.h"
#include "wasp/module.h"

/* Limits on what one section can hold (a tenant's web.config writes it). */
#define RW_MAX_RULES 1000
#define RW_MAX_SETS 32
#define RW_MAX_MAP_ENTRIES 20000

static void
rules_free(void *p)
{
	struct rules *rs = p;

	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->r[i];

		rw_pattern_done(&r->match);
		for (size_t j = 0; j < r->n_conds; j++) {
			rw_subst_free(r->conds[j].input);
			rw_pattern_done(&r->conds[j].pat);
		}
		for (size_t j = 0; j < r->n_sets; j++)
			rw_subst_free(r->sets[j].value);
		free(r->conds);
		free(r->sets);
		rw_subst_free(r->url);
		rw_subst_free(r->description);
	}
	free(rs->error);
	free(rs);
}

int
rw_build_conditions(struct rule *r, const struct wasp_element *conds, char *err, size_t errlen)
{
	if (!conds)
		return 0;
	r->any = wasp_element_get_uint(conds, "logicalGrouping", 0) == 1;
	r->track_all = wasp_element_get_bool(conds, "trackAllCaptures", false);
	if (conds->n_items > RW_MAX_CONDITIONS) {
		snprintf(err, errlen, "more than %d conditions", RW_MAX_CONDITIONS);
		return -EINVAL;
	}
	r->conds = calloc(conds->n_items ? conds->n_items : 1, sizeof(*r->conds));
	if (!r->conds)
		return -ENOMEM;
	for (size_t i = 0; i < conds->n_items; i++) {
		const struct wasp_element *c = conds->items[i];
		struct cond *d = &r->conds[r->n_conds++];
		int k;

		d->match_type = (unsigned)wasp_element_get_uint(c, "matchType", 0);
		k = rw_subst_parse(wasp_element_get_str(c, "input", ""), &d->input, err, errlen);
		if (k < 0)
			return k;
		/* a condition's pattern is always ECMAScript, as IIS's */
		k = rw_pattern_compile(&d->pat, RW_ECMASCRIPT,
				       d->match_type == MT_PATTERN ? wasp_element_get_str(c, "pattern", "") : "",
				       wasp_element_get_bool(c, "ignoreCase", true),
				       wasp_element_get_bool(c, "negate", false), err, errlen);
		if (k < 0)
			return k;
	}
	return 0;
}

static int
build_sets(struct rule *r, const struct wasp_element *sets, char *err, size_t errlen)
{
	if (!sets || !sets->n_items)
		return 0;
	if (sets->n_items > RW_MAX_SETS) {
		snprintf(err, errlen, "more than %d serverVariables", RW_MAX_SETS);
		return -EINVAL;
	}
	r->sets = calloc(sets->n_items, sizeof(*r->sets));
	if (!r->sets)
		return -ENOMEM;
	for (size_t i = 0; i < sets->n_items; i++) {
		struct set *s = &r->sets[r->n_sets++];
		int k;

		s->name = wasp_element_get_str(sets->items[i], "name", "");
		s->replace = wasp_element_get_bool(sets->items[i], "replace", true);
		k = rw_subst_parse(wasp_element_get_str(sets->items[i], "value", ""), &s->value,
				   err, errlen);
		if (k < 0)
			return k;
	}
	return 0;
}

static int
build_rule(struct rule *r, const struct wasp_element *e, char *err, size_t errlen)
{
	const struct wasp_element *m = wasp_element_child(e, "match");
	const struct wasp_element *a = wasp_element_child(e, "action");
	int k;

	r->name = wasp_element_get_str(e, "name", "");
	r->file = e->file;
	r->stop = wasp_element_get_bool(e, "stopProcessing", false);
	k = rw_pattern_compile(&r->match, (enum rw_syntax)wasp_element_get_uint(e, "patternSyntax", 0),
			       m ? wasp_element_get_str(m, "url", "") : "",
			       m ? wasp_element_get_bool(m, "ignoreCase", true) : true,
			       m ? wasp_element_get_bool(m, "negate", false) : false, err, errlen);
	if (k < 0)
		return k;
	k = rw_build_conditions(r, wasp_element_child(e, "conditions"), err, errlen);
	if (k < 0)
		return k;
	k = build_sets(r, wasp_element_child(e, "serverVariables"), err, errlen);
	if (k < 0)
		return k;
	if (!a)
		return 0;
	r->action = (unsigned)wasp_element_get_uint(a, "type", ACT_NONE);
	r->append_query = wasp_element_get_bool(a, "appendQueryString", true);
	r->log_rewritten = wasp_element_get_bool(a, "logRewrittenUrl", false);
	r->redirect_type = (unsigned)wasp_element_get_uint(a, "redirectType", 301);
	r->status = (unsigned)wasp_element_get_uint(a, "statusCode", 0);
	r->substatus = (unsigned)wasp_element_get_uint(a, "subStatusCode", 0);
	k = rw_subst_parse(wasp_element_get_str(a, "statusDescription", ""), &r->description,
			   err, errlen);
	if (k < 0)
		return k;
	if (r->action == ACT_CUSTOM && (r->status < 200 || r->status > 999 || r->substatus > 999)) {
		snprintf(err, errlen, "CustomResponse statusCode %u.%u is not 200-999.0-999",
			 r->status, r->substatus);
		return -EINVAL;
	}
	r->reason = wasp_element_get_str(a, "statusReason", "");
	for (const char *p = r->reason; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f || (*p & 0x80)) {
			snprintf(err, errlen, "statusReason has a character a status line cannot carry");
			return -EINVAL;
		}
	return rw_subst_parse(wasp_element_get_str(a, "url", ""), &r->url, err, errlen);
}

static void *
rules_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct rules *rs = calloc(1, sizeof(*rs) + sec->n_items * sizeof(rs->r[0]));
	char err[256] = "";
	int k = 0;

	(void)srv;
	if (!rs)
		return NULL;
	if (sec->n_items > RW_MAX_RULES) {
		snprintf(err, sizeof(err), "more than %d rules", RW_MAX_RULES);
		k = -EINVAL;
	}
	for (size_t i = 0; k >= 0 && i < sec->n_items; i++) {
		const struct wasp_element *e = sec->items[i];

		if (!wasp_element_get_bool(e, "enabled", true))
			continue;
		k = build_rule(&rs->r[rs->n++], e, err, sizeof(err));
		if (k == -EINVAL && asprintf(&rs->error, "rule '%s' (%s:%d): %s",
					     wasp_element_get_str(e, "name", ""), strempty(e->file),
					     e->line, err) < 0) {
			rs->error = NULL;
			k = -ENOMEM;
		}
	}
	if (k == -EINVAL && !rs->error)
		rs->error = strdup(err);
	if (k == -ENOMEM || (k == -EINVAL && !rs->error)) {
		rules_free(rs);
		return NULL;
	}
	return rs;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct map_entry *)a)->key, ((const struct map_entry *)b)->key);
}

static void
maps_free(void *p)
{
	struct maps *ms = p;

	for (size_t i = 0; ms && i < ms->n; i++)
		free(ms->m[i].e);
	free(ms);
}

static void *
maps_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct maps *ms = calloc(1, sizeof(*ms) + sec->n_items * sizeof(ms->m[0]));
	size_t total = 0;

	(void)srv;
	if (!ms)
		return NULL;
	for (size_t i = 0; i < sec->n_items; i++) {
		const struct wasp_element *e = sec->items[i];
		struct map *m = &ms->m[ms->n++];

		m->name = wasp_element_get_str(e, "name", "");
		m->def = wasp_element_get_str(e, "defaultValue", "");
		m->icase = wasp_element_get_bool(e, "ignoreCase", true);
		total += e->n_items;
		if (total > RW_MAX_MAP_ENTRIES) { /* refused whole: every lookup fails */
			wasp_log(WASP_LOG_ERR, "rewriteMaps: more than %d entries, refused",
				 RW_MAX_MAP_ENTRIES);
			ms->n = 0;
			break;
		}
		m->e = calloc(e->n_items ? e->n_items : 1, sizeof(*m->e));
		if (!m->e) {
			maps_free(ms);
			return NULL;
		}
		for (size_t j = 0; j < e->n_items; j++)
			m->e[m->n++] = (struct map_entry){
				.key = wasp_element_get_str(e->items[j], "key", ""),
				.value = wasp_element_get_str(e->items[j], "value", ""),
			};
		qsort(m->e, m->n, sizeof(*m->e), entry_cmp);
	}
	return ms;
}

static void *
allowed_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct allowed *a = calloc(1, sizeof(*a) + sec->n_items * sizeof(a->names[0]));

	(void)srv;
	for (size_t i = 0; a && i < sec->n_items; i++)
		a->names[a->n++] = wasp_element_get_str(sec->items[i], "name", "");
	return a;
}

const struct wasp_module_section rw_sections[RW_SECTION__COUNT] = {
	[RW_SECTION_GLOBAL] = { .name = "system.webServer/rewrite/globalRules",
				.build = rules_build, .free_conf = rules_free },
	[RW_SECTION_RULES] = { .name = "system.webServer/rewrite/rules",
			       .build = rules_build, .free_conf = rules_free },
	[RW_SECTION_MAPS] = { .name = "system.webServer/rewrite/rewriteMaps",
			      .build = maps_build, .free_conf = maps_free },
	[RW_SECTION_ALLOWED] = { .name = "system.webServer/rewrite/allowedServerVariables",
				 .build = allowed_build, .free_conf = free },
	[RW_SECTION_OUTBOUND] = { .name = "system.webServer/rewrite/outboundRules",
				  .build = rw_outbound_build, .free_conf = rw_outbound_free },
};
