/* URL Rewrite's outbound rules (docs/rewrite.md):
 * system.webServer/rewrite/outboundRules, run in SendResponse on the final
 * response. A rule with <match serverVariable="RESPONSE_Location"> rewrites
 * that response header (RESPONSE_X_Foo creates or replaces X-Foo); one with
 * <match filterByTags="A, Img, ..."> rewrites the URL attributes of those
 * tags in the HTML body, which goes through a streaming filter
 * (html_filter.c) on its way out, never held whole. <preConditions> pick
 * the responses a rule applies to ({RESPONSE_CONTENT_TYPE} ^text/html),
 * <customTags> add tags and attributes. Built once per configuration and
 * path, as inbound rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "html_filter.h"
#include "rewrite.h"
#include "rewrite_conf.h"
#include "util.h"
#include "wasp/module.h"

_Static_assert(HF_MIN_ROOM <= WASP_FILTER_MIN_ROOM, "the filter's room");

extern const struct wasp_module mod_rewrite;

/* Limits on what one section can hold (a tenant's web.config writes it). */
#define RW_MAX_OUT_RULES 1000
#define RW_MAX_PRECONDITIONS 256 /* and RW_MAX_CONDITIONS entries in each */
#define RW_MAX_CUSTOM_TAGS 256   /* tag/attribute pairs in all customTags */

enum { OUT_NONE, OUT_REWRITE };

struct pc_item {
	struct rw_subst *input;
	struct rw_pattern pat;
};

struct precond {
	const char *name;
	bool any;
	size_t n;
	struct pc_item *items;
};

struct ctag {
	const char *tag, *attr;
};

struct tagset {
	const char *name;
	size_t n;
	struct ctag *t;
};

struct orule {
	struct rule base; /* name, stopProcessing, the pattern, the conditions */
	int pre;	  /* index of its preCondition, -1 when none */
	char *header;	  /* the header a RESPONSE_ rule rewrites; NULL: a body rule */
	unsigned tags;	  /* filterByTags */
	int custom;	  /* index of its customTags, -1 when none */
	unsigned action;
	bool replace;
	struct rw_subst *value;
};

struct outbound {
	char *error; /* the section cannot be used: every response 500.52 */
	size_t n_pcs, n_sets;
	struct precond *pcs;
	struct tagset *sets;
	size_t n;
	struct orule r[];
};

/* ---- building ---- */

void
rw_outbound_free(void *p)
{
	struct outbound *ob = p;

	if (!ob)
		return;
	for (size_t i = 0; i < ob->n; i++) {
		struct orule *o = &ob->r[i];

		rw_pattern_done(&o->base.match);
		for (size_t j = 0; j < o->base.n_conds; j++) {
			rw_subst_free(o->base.conds[j].input);
			rw_pattern_done(&o->base.conds[j].pat);
		}
		free(o->base.conds);
		free(o->header);
		rw_subst_free(o->value);
	}
	for (size_t i = 0; i < ob->n_pcs; i++) {
		for (size_t j = 0; j < ob->pcs[i].n; j++) {
			rw_subst_free(ob->pcs[i].items[j].input);
			rw_pattern_done(&ob->pcs[i].items[j].pat);
		}
		free(ob->pcs[i].items);
	}
	for (size_t i = 0; i < ob->n_sets; i++)
		free(ob->sets[i].t);
	free(ob->pcs);
	free(ob->sets);
	free(ob->error);
	free(ob);
}

static int
build_precond(struct precond *pc, const struct wasp_element *e, char *err, size_t errlen)
{
	enum rw_syntax syn = (enum rw_syntax)wasp_element_get_uint(e, "patternSyntax", 0);

	pc->name = wasp_element_get_str(e, "name", "");
	pc->any = wasp_element_get_uint(e, "logicalGrouping", 0) == 1;
	if (e->n_items > RW_MAX_CONDITIONS) {
		snprintf(err, errlen, "preCondition '%s': more than %d entries", pc->name,
			 RW_MAX_CONDITIONS);
		return -EINVAL;
	}
	pc->items = calloc(e->n_items ? e->n_items : 1, sizeof(*pc->items));
	if (!pc->items)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_items; i++) {
		const struct wasp_element *a = e->items[i];
		struct pc_item *it = &pc->items[pc->n++];
		int k = rw_subst_parse(wasp_element_get_str(a, "input", ""), &it->input, err, errlen);

		if (k >= 0)
			k = rw_pattern_compile(&it->pat, syn, wasp_element_get_str(a, "pattern", ""),
					       wasp_element_get_bool(a, "ignoreCase", true),
					       wasp_element_get_bool(a, "negate", false), err, errlen);
		if (k < 0)
			return k;
	}
	return 0;
}

static int
build_tagset(struct tagset *ts, const struct wasp_element *e, size_t *total, char *err,
	     size_t errlen)
{
	ts->name = wasp_element_get_str(e, "name", "");
	*total += e->n_items;
	if (*total > RW_MAX_CUSTOM_TAGS) {
		snprintf(err, errlen, "more than %d customTags", RW_MAX_CUSTOM_TAGS);
		return -EINVAL;
	}
	ts->t = calloc(e->n_items ? e->n_items : 1, sizeof(*ts->t));
	if (!ts->t)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_items; i++)
		ts->t[ts->n++] = (struct ctag){
			.tag = wasp_element_get_str(e->items[i], "name", ""),
			.attr = wasp_element_get_str(e->items[i], "attribute", ""),
		};
	return 0;
}

/* The response header RESPONSE_name names: '_' is '-' ("X_Powered_By"). */
static char *
header_name(const char *var)
{
	char *h = strdup(var + strlen("RESPONSE_"));

	for (char *p = h; p && *p; p++)
		if (*p == '_')
			*p = '-';
	return h;
}

static int
find(const struct outbound *ob, bool sets, const char *name)
{
	size_t n = sets ? ob->n_sets : ob->n_pcs;

	for (size_t i = 0; i < n; i++)
		if (strcaseeq(sets ? ob->sets[i].name : ob->pcs[i].name, name))
			return (int)i;
	return -1;
}

static int
build_match(struct outbound *ob, struct orule *o, const struct wasp_element *m, char *err,
	    size_t errlen)
{
	const char *var = m ? wasp_element_get_str(m, "serverVariable", "") : "";
	const char *custom = m ? wasp_element_get_str(m, "customTags", "") : "";

	o->tags = m ? (unsigned)wasp_element_get_uint(m, "filterByTags", 0) : 0;
	if (*var) {
		if (strncasecmp(var, "RESPONSE_", 9) != 0 || !var[9]) {
			snprintf(err, errlen, "serverVariable '%s' is not a RESPONSE_ header", var);
			return -EINVAL;
		}
		o->header = header_name(var);
		if (!o->header)
			return -ENOMEM;
	} else if (!o->tags) {
		/* IIS would match the pattern against the whole body, which
		 * means holding all of it: not implemented, refused */
		snprintf(err, errlen, "a rule on the whole response body (no filterByTags, "
				      "no serverVariable) is not implemented");
		return -EINVAL;
	}
	o->custom = -1;
	if (!o->header && (o->tags & HF_CUSTOM)) {
		o->custom = find(ob, true, custom);
		if (o->custom < 0) {
			snprintf(err, errlen, "customTags '%s' is not defined", custom);
			return -EINVAL;
		}
	}
	return rw_pattern_compile(&o->base.match,
				  (enum rw_syntax)o->base.match.syntax,
				  m ? wasp_element_get_str(m, "pattern", "") : "",
				  m ? wasp_element_get_bool(m, "ignoreCase", true) : true,
				  m ? wasp_element_get_bool(m, "negate", false) : false, err, errlen);
}

static int
build_orule(struct outbound *ob, struct orule *o, const struct wasp_element *e, char *err,
	    size_t errlen)
{
	const struct wasp_element *a = wasp_element_child(e, "action");
	const char *pre = wasp_element_get_str(e, "preCondition", "");
	int k;

	o->base.name = wasp_element_get_str(e, "name", "");
	o->base.file = e->file;
	o->base.stop = wasp_element_get_bool(e, "stopProcessing", false);
	o->base.match.syntax = (enum rw_syntax)wasp_element_get_uint(e, "patternSyntax", 0);
	o->pre = -1;
	if (*pre) {
		o->pre = find(ob, false, pre);
		if (o->pre < 0) {
			snprintf(err, errlen, "preCondition '%s' is not defined", pre);
			return -EINVAL;
		}
	}
	k = build_match(ob, o, wasp_element_child(e, "match"), err, errlen);
	if (k < 0)
		return k;
	k = rw_build_conditions(&o->base, wasp_element_child(e, "conditions"), err, errlen);
	if (k < 0)
		return k;
	o->action = a ? (unsigned)wasp_element_get_uint(a, "type", OUT_NONE) : OUT_NONE;
	o->replace = a ? wasp_element_get_bool(a, "replace", true) : true;
	return rw_subst_parse(a ? wasp_element_get_str(a, "value", "") : "", &o->value, err,
			      errlen);
}

/* preConditions and customTags. */
static int
build_lists(struct outbound *ob, const struct wasp_element *sec, char *err, size_t errlen)
{
	const struct wasp_element *pcs = wasp_element_child(sec, "preConditions");
	const struct wasp_element *tags = wasp_element_child(sec, "customTags");
	size_t total = 0;
	int k;

	if (pcs && pcs->n_items > RW_MAX_PRECONDITIONS) {
		snprintf(err, errlen, "more than %d preConditions", RW_MAX_PRECONDITIONS);
		return -EINVAL;
	}
	ob->pcs = calloc(pcs && pcs->n_items ? pcs->n_items : 1, sizeof(*ob->pcs));
	ob->sets = calloc(tags && tags->n_items ? tags->n_items : 1, sizeof(*ob->sets));
	if (!ob->pcs || !ob->sets)
		return -ENOMEM;
	for (size_t i = 0; pcs && i < pcs->n_items; i++) {
		k = build_precond(&ob->pcs[ob->n_pcs++], pcs->items[i], err, errlen);
		if (k < 0)
			return k;
	}
	for (size_t i = 0; tags && i < tags->n_items; i++) {
		k = build_tagset(&ob->sets[ob->n_sets++], tags->items[i], &total, err, errlen);
		if (k < 0)
			return k;
	}
	return 0;
}

void *
rw_outbound_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct outbound *ob = calloc(1, sizeof(*ob) + sec->n_items * sizeof(ob->r[0]));
	const struct wasp_element *e = NULL;
	char err[256] = "";
	int k;

	(void)srv;
	if (!ob)
		return NULL;
	k = build_lists(ob, sec, err, sizeof(err));
	if (k >= 0 && sec->n_items > RW_MAX_OUT_RULES) {
		snprintf(err, sizeof(err), "more than %d outbound rules", RW_MAX_OUT_RULES);
		k = -EINVAL;
	}
	for (size_t i = 0; k >= 0 && i < sec->n_items; i++) {
		e = sec->items[i];
		if (wasp_element_get_bool(e, "enabled", true))
			k = build_orule(ob, &ob->r[ob->n++], e, err, sizeof(err));
	}
	if (k == -EINVAL) {
		if (e && (*err ? asprintf(&ob->error, "outbound rule '%s' (%s:%d): %s",
					   wasp_element_get_str(e, "name", ""), strempty(e->file),
					   e->line, err) : -1) < 0)
			ob->error = NULL;
		if (!ob->error)
			ob->error = strdup(err);
		k = ob->error ? 0 : -ENOMEM;
	}
	if (k < 0) {
		rw_outbound_free(ob);
		return NULL;
	}
	return ob;
}

/* ---- running ---- */

const char *
rw_response_var(struct wasp_request *req, const char *name)
{
	char h[128];
	size_t n = strlen(name);
	const char *v;

	if (n >= sizeof(h))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		h[i] = name[i] == '_' ? '-' : name[i];
	v = wasp_response_header(req, h);
	if (!v && strcaseeq(h, "Server"))
		v = wasp_request_server_variable(req, "SERVER_SOFTWARE");
	return v;
}

/* One response's evaluation. */
struct out_run {
	struct run st;
	const struct outbound *ob;
	signed char *pc_state; /* per preCondition: 0 not yet, 1 passes, -1 not */
	bool *body_rule;       /* per rule: a body rule whose preCondition passed */
	struct hf hf;
	char value[HF_MAX_VALUE + 1];
	bool failed;
};

static void
scratch_free(struct run *st)
{
	for (size_t i = 0; i < st->n_tmp; i++)
		free(st->tmp[i]);
	st->n_tmp = 0;
	st->stat_input = NULL;
}

/* 1 the rule's preCondition passes (or it has none), 0 not, <0 error. */
static int
precond_passes(struct out_run *o, int i)
{
	const struct precond *pc;
	int k = 0;

	if (i < 0)
		return 1;
	if (o->pc_state[i])
		return o->pc_state[i] > 0;
	pc = &o->ob->pcs[i];
	for (size_t j = 0; j < pc->n; j++) {
		const char *input;

		k = rw_run_expand(&o->st, pc->items[j].input, NULL, NULL, &input);
		if (k >= 0)
			k = rw_pattern_match(&pc->items[j].pat, input, NULL);
		if (k < 0)
			return k;
		if (pc->any ? k : !k)
			break;
	}
	if (!pc->n)
		k = 1;
	o->pc_state[i] = k ? 1 : -1;
	return k;
}

/* Does rule r's match and conditions accept input? 1 with *ret_value (the
 * expanded action value; NULL for action None), 0, <0 error. */
static int
rule_applies(struct out_run *o, const struct orule *r, const char *input, const char **ret_value)
{
	struct rw_match rm, cm;
	int k = rw_pattern_match(&r->base.match, input, &rm);

	*ret_value = NULL;
	if (k > 0)
		k = rw_run_conditions(&o->st, &r->base, &rm, &cm);
	if (k > 0 && r->action == OUT_REWRITE)
		k = rw_run_expand(&o->st, r->value, &rm, &cm, ret_value) < 0 ? -ENOMEM : 1;
	return k;
}

static int
set_header(struct wasp_request *req, const char *name, const char *v)
{
	bool server = strcaseeq(name, "Server");

	if (server)
		wasp_response_omit_server_header(req);
	if (!*v) { /* an empty value removes the header, as IIS's SetHeader */
		int k = wasp_response_remove_header(req, name);
		return k == -ENOENT ? 0 : k;
	}
	return wasp_response_set_header(req, name, v);
}

/* The header rules, in order. <0 error. */
static int
header_rules(struct out_run *o)
{
	struct wasp_request *req = o->st.req;

	for (size_t i = 0; i < o->ob->n; i++) {
		const struct orule *r = &o->ob->r[i];
		const char *cur, *v;
		int k = precond_passes(o, r->pre);

		if (k <= 0) {
			if (k < 0)
				return k;
			continue;
		}
		if (!r->header) {
			o->body_rule[i] = true;
			continue;
		}
		cur = rw_response_var(req, r->header);
		k = rule_applies(o, r, cur ? cur : "", &v);
		if (k < 0)
			return k;
		if (!k)
			continue;
		if (v && (r->replace || !cur || !*cur)) {
			k = set_header(req, r->header, v);
			if (k < 0) {
				wasp_log(WASP_LOG_ERR, "URL Rewrite: outbound rule '%s': %s: '%s' is "
						       "not a valid value", r->base.name, r->header, v);
				return k;
			}
		}
		if (r->base.stop)
			break;
	}
	return 0;
}

/* Does body rule r look at tag's attribute? */
static bool
rule_takes(const struct out_run *o, const struct orule *r, const char *tag, size_t tag_len,
	   const char *attr, size_t attr_len)
{
	const struct tagset *ts;

	if (r->tags & hf_url_attr(tag, tag_len, attr, attr_len))
		return true;
	if (r->custom < 0)
		return false;
	ts = &o->ob->sets[r->custom];
	for (size_t i = 0; i < ts->n; i++)
		if (strlen(ts->t[i].tag) == tag_len && strncasecmp(ts->t[i].tag, tag, tag_len) == 0 &&
		    strlen(ts->t[i].attr) == attr_len &&
		    strncasecmp(ts->t[i].attr, attr, attr_len) == 0)
			return true;
	return false;
}

/* An attribute value of the body (hf_rewrite_fn): the body rules that take
 * it, in order, each on the value as the ones before left it. */
static int
body_value(void *userdata, const char *tag, size_t tag_len, const char *attr, size_t attr_len,
	   const char *value, size_t len, char **ret)
{
	struct out_run *o = userdata;
	char *cur = NULL;
	int k = 0;

	memcpy(o->value, value, len);
	o->value[len] = '\0';
	for (size_t i = 0; i < o->ob->n && !o->failed; i++) {
		const struct orule *r = &o->ob->r[i];
		const char *v;

		if (!o->body_rule[i] || !rule_takes(o, r, tag, tag_len, attr, attr_len))
			continue;
		k = rule_applies(o, r, cur ? cur : o->value, &v);
		if (k < 0) {
			/* the head is out: the response is cut, never sent as
			 * the rules would not have left it */
			wasp_log(WASP_LOG_ERR, "URL Rewrite: outbound rule '%s': %s: response cut",
				 r->base.name, strerror(-k));
			o->failed = true;
			wasp_response_stream_abort(o->st.req);
		} else if (k > 0 && v && r->replace) {
			free(cur);
			cur = strdup(v);
		}
		scratch_free(&o->st);
		if (k > 0 && r->base.stop)
			break;
	}
	*ret = cur;
	return cur ? 1 : 0;
}

static size_t
body_filter(void *userdata, const char *in, size_t len, bool end, char *out, size_t room,
	    size_t *ret_written)
{
	struct out_run *o = userdata;

	return hf_feed(&o->hf, in, len, end, out, room, ret_written);
}

static void
run_done(void *userdata)
{
	scratch_free(userdata);
}

static enum wasp_status
fail_52(struct wasp_request *req, const char *what)
{
	wasp_log(WASP_LOG_ERR, "URL Rewrite: outbound rules: %s: 500.52", what);
	wasp_response_remove_header(req, "Content-Encoding");
	wasp_response_clear_body(req);
	wasp_response_set_status(req, 500, 52);
	return WASP_OK;
}

/* The body rules apply to this response: filter its body. */
static enum wasp_status
filter_body(struct out_run *o)
{
	struct wasp_request *req = o->st.req;
	const char *ce = wasp_response_header(req, "Content-Encoding");
	int k;

	if (!wasp_response_has_body(req))
		return WASP_OK;
	if (ce && !strcaseeq(ce, "identity")) {
		/* IIS: "Outbound rewrite rules cannot be applied when the
		 * content of the HTTP response is encoded" */
		char what[160];

		snprintf(what, sizeof(what), "the response is encoded (\"%.100s\")", ce);
		return fail_52(req, what);
	}
	o->st.scratch = true;
	hf_init(&o->hf, body_value, o);
	k = wasp_response_filter(req, body_filter, o);
	if (k < 0)
		return fail_52(req, strerror(-k));
	return WASP_OK;
}

enum wasp_status
rw_outbound_on_send(struct wasp_request *req, void *userdata)
{
	const struct outbound *ob = wasp_request_module_conf(req, &mod_rewrite, RW_SECTION_OUTBOUND);
	struct out_run *o;
	int k;

	(void)userdata;
	if (!ob)
		return WASP_OK;
	if (ob->error)
		return fail_52(req, ob->error);
	if (!ob->n)
		return WASP_OK;
	o = wasp_request_alloc(req, sizeof(*o));
	if (!o)
		return WASP_ERROR;
	/* field by field: the scanner's buffers (12 KiB) need no zeroing */
	o->ob = ob;
	o->failed = false;
	o->st = (struct run){ .req = req, .path = wasp_request_path(req),
			      .query = wasp_request_query(req) };
	o->st.maps = wasp_request_module_conf(req, &mod_rewrite, RW_SECTION_MAPS);
	o->pc_state = wasp_request_alloc(req, ob->n_pcs + 1);
	o->body_rule = wasp_request_alloc(req, ob->n * sizeof(bool));
	if (!o->pc_state || !o->body_rule || wasp_request_on_cleanup(req, run_done, &o->st) < 0)
		return WASP_ERROR;
	memset(o->pc_state, 0, ob->n_pcs + 1);
	memset(o->body_rule, 0, ob->n * sizeof(bool));
	k = header_rules(o);
	if (k < 0)
		return fail_52(req, strerror(-k));
	for (size_t i = 0; i < ob->n; i++)
		if (o->body_rule[i])
			return filter_body(o);
	return WASP_OK;
}
