/* RewriteModule: IIS URL Rewrite 2's inbound rules (docs/rewrite.md).
 * system.webServer/rewrite/globalRules (applicationHost.config) run first,
 * on the whole URL path; then rewrite/rules, each rule on the path relative
 * to the directory of the web.config that wrote it (inherited rules first,
 * as the merged collection orders them). Rules, conditions, substitutions
 * and maps are compiled by the sections' build functions, once per
 * configuration and path, never per request (rewrite.c is the engine).
 * Runs first in BeginRequest; a Rewrite maps the request to its new URL
 * with an internal redirect, so every later stage (handler mapping,
 * static files, FastCGI) sees it, and the W3C log the client's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "arr.h"
#include "config.h"
#include "rewrite.h"
#include "rewrite_conf.h"
#include "util.h"
#include "wasp/module.h"

extern const struct wasp_module mod_rewrite;

/* ---- running ---- */

const char *
rw_run_var(const char *name, void *userdata)
{
	struct run *st = userdata;
	struct wasp_request *req = st->req;

	if (startswith(name, "RESPONSE_"))
		return rw_response_var(req, name + 9);
	if (streq(name, "QUERY_STRING"))
		return st->query;
	if (streq(name, "URL") || streq(name, "PATH_INFO") || streq(name, "SCRIPT_NAME"))
		return st->path;
	if (streq(name, "REQUEST_FILENAME"))
		return wasp_request_server_variable(req, "PATH_TRANSLATED");
	if (streq(name, "CACHE_URL")) {
		const char *host = wasp_request_server_variable(req, "HTTP_HOST");
		const char *uri = wasp_request_server_variable(req, "REQUEST_URI");
		char *s;

		if (!host || !uri || asprintf(&s, "http://%s%s", host, uri) < 0)
			return NULL;
		host = wasp_request_strdup(req, s);
		free(s);
		return host;
	}
	return wasp_request_server_variable(req, name);
}

static int
map_cmp(const void *key, const void *e)
{
	return strcasecmp(key, ((const struct map_entry *)e)->key);
}

int
rw_run_map(const char *name, const char *key, const char **ret, void *userdata)
{
	struct run *st = userdata;

	for (size_t i = 0; st->maps && i < st->maps->n; i++) {
		const struct map *m = &st->maps->m[i];
		const struct map_entry *e;

		if (!strcaseeq(m->name, name))
			continue;
		e = bsearch(key, m->e, m->n, sizeof(*m->e), map_cmp);
		if (e && !m->icase) { /* the one of the keys equal but for case */
			while (e > m->e && strcaseeq(e[-1].key, key))
				e--;
			while (e < m->e + m->n && strcaseeq(e->key, key) && !streq(e->key, key))
				e++;
			if (e == m->e + m->n || !streq(e->key, key))
				e = NULL;
		}
		*ret = e ? e->value : (*m->def ? m->def : NULL);
		return 0;
	}
	return -ENOENT;
}

static enum wasp_status
fail(struct wasp_request *req, const char *rule, const char *what, int err)
{
	wasp_log(WASP_LOG_ERR, "URL Rewrite: rule '%s': %s: %s", rule, what, strerror(-err));
	wasp_response_set_status(req, 500, err == -ENOMEM ? 0 : 50);
	return WASP_DONE;
}

int
rw_run_expand(struct run *st, const struct rw_subst *s, const struct rw_match *r,
	      const struct rw_match *c, const char **ret)
{
	struct rw_expand_ctx ctx = {
		.r = r, .c = c, .var = rw_run_var, .map = rw_run_map, .userdata = st,
	};
	char *out;
	int k = rw_subst_expand(s, &ctx, &out);

	if (k < 0)
		return k;
	if (st->scratch && st->n_tmp < ELEMENTSOF(st->tmp)) {
		/* an outbound body rule: freed after the value (rw_run_scratch_free) */
		st->tmp[st->n_tmp++] = out;
		*ret = out;
		return 0;
	}
	*ret = wasp_request_strdup(st->req, out);
	free(out);
	return *ret ? 0 : -ENOMEM;
}

/* The URL prefix ("/", "/blog/") of the directory of the web.config file
 * that wrote a rule: where the request's physical path is under that
 * directory, the URL's same trailing components; otherwise (rules from
 * applicationHost.config, a web.config of another physical tree) "/". */
static const char *
rule_base(struct run *st, const char *file)
{
	struct wasp_request *req = st->req;
	const char *phys, *slash, *path, *suffix, *b = "/";
	size_t dlen, plen, slen;
	char *buf;

	for (size_t i = 0; i < st->n_bases; i++)
		if (st->base_file[i] == file)
			return st->base[i];
	phys = wasp_request_physical_path(req);
	slash = file ? strrchr(file, '/') : NULL;
	path = wasp_request_path(req);
	plen = strlen(path);
	if (phys && slash && strcaseeq(slash + 1, "web.config")) {
		dlen = (size_t)(slash - file);
		suffix = strncmp(phys, file, dlen) == 0 ? phys + dlen : NULL;
		slen = suffix ? strlen(suffix) : 0;
		if (suffix && (*suffix == '/' || !*suffix) && slen <= plen &&
		    streq(path + plen - slen, suffix)) {
			buf = wasp_request_alloc(req, plen - slen + 2);
			if (!buf)
				return NULL;
			memcpy(buf, path, plen - slen);
			buf[plen - slen] = '\0';
			if (plen - slen == 0 || buf[plen - slen - 1] != '/')
				strcat(buf, "/");
			b = buf;
		}
	}
	if (st->n_bases < ELEMENTSOF(st->base)) {
		st->base_file[st->n_bases] = file;
		st->base[st->n_bases++] = b;
	}
	return b;
}

/* The input a rule's <match> sees: the URL relative to base, without the
 * leading slash. */
static const char *
rule_input(struct run *st, const char *base)
{
	size_t blen = strlen(base);

	if (strncasecmp(st->path, base, blen) == 0)
		return st->path + blen;
	return st->path + 1;
}

/* The type of what is at path (0: nothing). The request's own file (what
 * REQUEST_FILENAME names, as WordPress's and Laravel's rules ask) through
 * the worker's open file cache; anything else with stat(). */
static mode_t
file_mode(struct wasp_request *req, const char *path)
{
	const char *own = wasp_request_physical_path(req);
	struct stat s;
	int fd, k;

	if (own && streq(own, path)) {
		k = wasp_request_open_content(req, NULL, &fd, &s);
		if (k == 0)
			return s.st_mode;
		if (k == -ENOENT)
			return 0;
	}
	return stat(path, &s) == 0 ? s.st_mode : 0;
}

int
rw_run_conditions(struct run *st, const struct rule *r, const struct rw_match *rm,
	       struct rw_match *cm)
{
	struct rw_match last = { 0 }, m;

	*cm = (struct rw_match){ 0 };
	for (size_t i = 0; i < r->n_conds; i++) {
		const struct cond *c = &r->conds[i];
		const char *input;
		int k, ok;

		k = rw_run_expand(st, c->input, rm, r->track_all ? cm : &last, &input);
		if (k < 0)
			return k;
		m = (struct rw_match){ 0 };
		if (c->match_type == MT_PATTERN) {
			ok = rw_pattern_match(&c->pat, input, &m);
			if (ok < 0)
				return ok;
		} else {
			if (!st->stat_input || !streq(st->stat_input, input)) {
				st->stat_input = input;
				st->stat_mode = file_mode(st->req, input);
			}
			ok = c->match_type == MT_FILE ? S_ISREG(st->stat_mode)
						      : S_ISDIR(st->stat_mode);
			ok = c->pat.negate ? !ok : ok;
		}
		if (ok) {
			if (r->track_all) {
				/* every condition's captures, in order (the
				 * inputs live in the request's arena) */
				for (size_t j = 0; j < m.n && cm->n < RW_MAX_CAPTURES; j++) {
					cm->p[cm->n] = m.p[j];
					cm->len[cm->n++] = m.len[j];
				}
			} else {
				last = m;
				*cm = m;
			}
			if (r->any)
				return 1;
		} else if (!r->any) {
			return 0;
		}
	}
	return r->any ? r->n_conds == 0 : 1;
}

static bool
is_absolute(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* The url of an action, made absolute against base; the query split off. */
static int
action_url(struct run *st, const struct rule *r, const char *base, const struct rw_match *rm,
	   const struct rw_match *cm, const char **ret_path, const char **ret_query)
{
	const char *url, *q;
	char *path;
	int k = rw_run_expand(st, r->url, rm, cm, &url);

	if (k < 0)
		return k;
	q = strchr(url, '?');
	if (asprintf(&path, "%s%.*s", !is_absolute(url) && url[0] != '/' ? base : "",
		     (int)(q ? (size_t)(q - url) : strlen(url)), url) < 0)
		return -ENOMEM;
	*ret_path = wasp_request_strdup(st->req, path);
	free(path);
	*ret_query = q ? q + 1 : NULL;
	return *ret_path ? 0 : -ENOMEM;
}

/* The query after an action: its own (then the request's when
 * appendQueryString), or the request's when appendQueryString. */
static const char *
action_query(struct run *st, const struct rule *r, const char *own)
{
	char *s;
	const char *q;

	if (!own)
		return r->append_query ? st->query : "";
	if (!r->append_query || !*st->query || !*own)
		return *own || !r->append_query ? own : st->query;
	if (asprintf(&s, "%s&%s", own, st->query) < 0)
		return NULL;
	q = wasp_request_strdup(st->req, s);
	free(s);
	return q;
}

static enum wasp_status
do_redirect(struct run *st, const struct rule *r, const char *path, const char *query)
{
	struct wasp_request *req = st->req;
	const char *loc;
	char *s;

	if (asprintf(&s, "%s%s%s", path, *query ? "?" : "", query) < 0)
		return fail(req, r->name, "redirect", -ENOMEM);
	loc = wasp_request_strdup(req, s);
	free(s);
	wasp_response_set_status(req, r->redirect_type, 0);
	if (!loc || wasp_response_set_header(req, "Location", loc) < 0)
		return fail(req, r->name, "Location", -EINVAL);
	return WASP_DONE;
}

/* CustomResponse: the status with statusReason as its reason phrase, and
 * statusDescription (expanded) as the body where there is one, kept under httpErrors existingResponse="Auto". */
static enum wasp_status
custom_response(struct run *st, const struct rule *r, const struct rw_match *rm,
		const struct rw_match *cm)
{
	struct wasp_request *req = st->req;
	const char *body;
	int k = rw_run_expand(st, r->description, rm, cm, &body);

	if (k < 0)
		return fail(req, r->name, "statusDescription", k);
	wasp_response_set_status(req, r->status, r->substatus);
	if (*r->reason && wasp_response_set_reason(req, r->reason) < 0)
		return fail(req, r->name, "statusReason", -ENOMEM);
	if (!*body)
		return WASP_DONE;
	if (wasp_response_set_header(req, "Content-Type", "text/plain; charset=utf-8") < 0 ||
	    wasp_response_write(req, body, strlen(body)) < 0)
		return fail(req, r->name, "response", -ENOMEM);
	wasp_response_set_try_skip_custom_errors(req, true);
	return WASP_DONE;
}

enum outcome { GO_ON, STOP, FINISHED };

/* A Rewrite to an absolute URL: Application Request Routing's when
 * system.webServer/proxy is enabled (the request goes on to be proxied),
 * else, as IIS without ARR, no handler: 404.4. */
static enum wasp_status
proxy_rewrite(struct run *st, const struct rule *r, const char *path, const char *query)
{
	struct wasp_request *req = st->req;
	char *url;
	int k;

	if (asprintf(&url, "%s%s%s", path, *query ? "?" : "", query) < 0)
		return fail(req, r->name, "url", -ENOMEM);
	k = arr_take(req, url);
	if (k == 0)
		wasp_log(WASP_LOG_WARNING,
			 "URL Rewrite: rule '%s' rewrites to '%s': no reverse proxy "
			 "(system.webServer/proxy is not enabled), 404.4",
			 r->name, url);
	free(url);
	if (k < 0)
		return fail(req, r->name, "proxy", k);
	if (k == 0) {
		wasp_response_set_status(req, 404, 4);
		return WASP_DONE;
	}
	st->proxied = true;
	if (r->log_rewritten)
		wasp_request_log_rewritten_url(req);
	return WASP_OK;
}

static enum outcome
do_action(struct run *st, const struct rule *r, const char *base, const struct rw_match *rm,
	  const struct rw_match *cm, enum wasp_status *ret)
{
	struct wasp_request *req = st->req;
	const char *path, *own;
	int k;

	switch (r->action) {
	case ACT_REWRITE:
	case ACT_REDIRECT:
		k = action_url(st, r, base, rm, cm, &path, &own);
		if (k < 0) {
			*ret = fail(req, r->name, "action url", k);
			return FINISHED;
		}
		own = action_query(st, r, own);
		if (!own) {
			*ret = fail(req, r->name, "query", -ENOMEM);
			return FINISHED;
		}
		if (r->action == ACT_REDIRECT) {
			*ret = do_redirect(st, r, path, own);
			return FINISHED;
		}
		if (is_absolute(path)) {
			*ret = proxy_rewrite(st, r, path, own);
			return FINISHED;
		}
		st->path = path;
		st->query = own;
		st->rewritten = true;
		st->log_rewritten |= r->log_rewritten;
		return r->stop ? STOP : GO_ON;
	case ACT_CUSTOM:
		*ret = custom_response(st, r, rm, cm);
		return FINISHED;
	case ACT_ABORT:
		wasp_request_abort(req);
		*ret = WASP_DONE;
		return FINISHED;
	default: /* None */
		return r->stop ? STOP : GO_ON;
	}
}

static bool
allowed(const struct allowed *a, const char *name)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (strcaseeq(a->names[i], name))
			return true;
	return false;
}

static int
do_sets(struct run *st, const struct rule *r, const struct rw_match *rm,
	const struct rw_match *cm)
{
	const struct allowed *a = wasp_request_module_conf(st->req, &mod_rewrite,
							   RW_SECTION_ALLOWED);

	for (size_t i = 0; i < r->n_sets; i++) {
		const struct set *s = &r->sets[i];
		const char *v;
		int k;

		if (!allowed(a, s->name)) {
			wasp_log(WASP_LOG_ERR,
				 "URL Rewrite: rule '%s' sets server variable '%s', which "
				 "allowedServerVariables does not list: 500.50",
				 r->name, s->name);
			return -EPERM;
		}
		if (!s->replace && wasp_request_server_variable(st->req, s->name))
			continue;
		k = rw_run_expand(st, s->value, rm, cm, &v);
		if (k >= 0)
			k = wasp_request_set_server_variable(st->req, s->name, v);
		if (k < 0)
			return k;
	}
	return 0;
}

/* Run one rule set. FINISHED with *ret the hook's answer, or STOP/GO_ON. */
static enum outcome
run_rules(struct run *st, const struct rules *rs, bool global, enum wasp_status *ret)
{
	const char *last_base = NULL, *last_path = NULL, *input = NULL;

	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->r[i];
		struct rw_match rm, cm;
		const char *base = global ? "/" : rule_base(st, r->file);
		enum outcome o;
		int k;

		if (!base) {
			*ret = fail(st->req, r->name, "base", -ENOMEM);
			return FINISHED;
		}
		if (base != last_base || st->path != last_path) { /* rules of one file share it */
			input = rule_input(st, base);
			last_base = base;
			last_path = st->path;
		}
		k = rw_pattern_match(&r->match, input, &rm);
		if (k == 0)
			continue;
		if (k > 0)
			k = rw_run_conditions(st, r, &rm, &cm);
		if (k == 0)
			continue;
		if (k > 0)
			k = do_sets(st, r, &rm, &cm);
		if (k < 0) {
			*ret = fail(st->req, r->name, "evaluation", k);
			return FINISHED;
		}
		o = do_action(st, r, base, &rm, &cm, ret);
		if (o != GO_ON)
			return o;
	}
	return GO_ON;
}

/* Hand the request its rewritten URL. */
static enum wasp_status
apply(struct run *st)
{
	struct wasp_request *req = st->req;
	const char *url = wasp_request_url_encode(req, st->path, NULL);
	char *s;
	int k;

	if (!url || asprintf(&s, "%s?%s", url, st->query) < 0)
		return WASP_ERROR;
	if (st->log_rewritten)
		wasp_request_log_rewritten_url(req);
	k = wasp_request_internal_redirect(req, s);
	if (k == -EXDEV) {
		/* another application (maybe another pool's): routed anew */
		k = wasp_request_reroute(req, s);
		if (k < 0)
			wasp_log(WASP_LOG_ERR,
				 "URL Rewrite: '%s' rewritten to '%s', in another application, "
				 "cannot be routed there (%s): 500.50",
				 wasp_request_original_path(req), s, strerror(-k));
		else
			k = 1;
	}
	free(s);
	if (k == 1)
		return WASP_DONE;
	if (k == -EXDEV || k == -EINVAL || k == -ELOOP || k == -E2BIG) {
		wasp_response_set_status(req, 500, 50);
		return WASP_DONE;
	}
	if (k < 0)
		return WASP_ERROR;
	st->rewritten = false;
	return WASP_OK;
}

static enum wasp_status
run_section(struct run *st, size_t section, bool global)
{
	const struct rules *rs = wasp_request_module_conf(st->req, &mod_rewrite, section);
	enum wasp_status ret = WASP_OK;
	enum outcome o;

	if (!rs)
		return wasp_request_config(st->req, rw_sections[section].name) ? WASP_ERROR
										  : WASP_OK;
	if (rs->error) {
		wasp_log(WASP_LOG_ERR, "URL Rewrite: %s: 500.50", rs->error);
		wasp_response_set_status(st->req, 500, 50);
		return WASP_DONE;
	}
	if (!rs->n)
		return WASP_OK;
	st->maps = wasp_request_module_conf(st->req, &mod_rewrite, RW_SECTION_MAPS);
	st->n_bases = 0;
	o = run_rules(st, rs, global, &ret);
	if (o == FINISHED)
		return ret;
	return st->rewritten ? apply(st) : WASP_OK;
}

static enum wasp_status
rewrite_on_begin(struct wasp_request *req, void *userdata)
{
	struct run *st = wasp_request_alloc(req, sizeof(*st));
	enum wasp_status s;

	(void)userdata;
	if (!st)
		return WASP_ERROR;
	*st = (struct run){ .req = req, .path = wasp_request_path(req),
			    .query = wasp_request_query(req) };
	if (!*st->path) /* OPTIONS *: no URL to rewrite */
		return WASP_OK;
	/* global rules first, on the whole path; the site's then run with the
	 * configuration of the URL they rewrote to */
	s = run_section(st, RW_SECTION_GLOBAL, true);
	if (s != WASP_OK || st->proxied)
		return s;
	st->path = wasp_request_path(req);
	st->query = wasp_request_query(req);
	return run_section(st, RW_SECTION_RULES, false);
}

static int
rewrite_register_hooks(struct wasp_hooks *hooks)
{
	int k = wasp_hooks_add(hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_FIRST,
			       rewrite_on_begin, NULL);

	if (k < 0)
		return k;
	/* outbound rules: on the final response, before CustomErrorModule's
	 * (LAST) could replace it */
	return wasp_hooks_add(hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_LOW,
			      rw_outbound_on_send, NULL);
}

const struct wasp_module mod_rewrite = {
	.abi = WASP_MODULE_ABI,
	.name = "RewriteModule",
	.sections = rw_sections,
	.n_sections = ELEMENTSOF(rw_sections),
	.register_hooks = rewrite_register_hooks,
};
