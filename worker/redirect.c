/* Internal redirects (wasp_request_internal_redirect): the request is
 * mapped again to another URL of its application and goes on from there,
 * as nginx's ngx_http_internal_redirect: DefaultDocumentModule serves a
 * directory's default document this way (the document's own handler
 * serves it), and URL rewriting and ExecuteURL custom errors are the same
 * call. Bounded: the request's WORKER_MAX_INTERNAL_REDIRECTS+1st redirect
 * answers 500. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "apphost.h"
#include "arena.h"
#include "conn.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* Is path (decoded) under prefix (len bytes) on a segment boundary,
 * case-insensitively as IIS? */
static bool
under(const char *path, const char *prefix, size_t len)
{
	if (len == 1) /* "/" */
		return true;
	return strncasecmp(path, prefix, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

/* Is path served by app: under its path, and under no longer application of
 * its site (of any pool: that one would serve it)? */
static bool
in_app(const struct worker_env *env, const struct wapp *app, const char *path)
{
	if (!under(path, app->path, app->path_len))
		return false;
	for (size_t i = 0; env->apphost && i < env->apphost->n_sites; i++) {
		const struct wasp_site *site = &env->apphost->sites[i];

		if (site->id != app->site_id)
			continue;
		for (size_t j = 0; j < site->n_apps; j++) {
			size_t len = strlen(site->apps[j].path);

			if (len > app->path_len && under(path, site->apps[j].path, len))
				return false;
		}
	}
	return true;
}

int
wasp_request_internal_redirect(struct wasp_request *req, const char *url)
{
	const char *q;
	size_t len;
	char *raw, *path, *query = NULL;
	unsigned flags = 0;
	int n;

	if (!url || url[0] != '/' || !req->app || !req->path || !pipeline_can_redirect(req))
		return -EINVAL;
	if (req->n_redirects >= WORKER_MAX_INTERNAL_REDIRECTS) {
		log_warning("'%s': more than %d internal redirects (the last to '%s'), answering 500",
			    req->orig_path ? req->orig_path : req->path,
			    WORKER_MAX_INTERNAL_REDIRECTS, url);
		request_set_error(req, 500, 0);
		return -ELOOP;
	}
	q = strchr(url, '?');
	len = q ? (size_t)(q - url) : strlen(url);
	raw = wasp_arena_strndup(req->arena, url, len);
	path = wasp_arena_alloc(req->arena, len + 2);
	if (q)
		query = wasp_arena_strdup(req->arena, q + 1);
	if (!raw || !path || (q && !query))
		return -ENOMEM;
	n = wasp_http_url_normalize(url, len, path, len + 2, &flags);
	if (n < 0)
		return n == -ENOBUFS ? -ENOMEM : -EINVAL;
	if (!in_app(req->env, req->app, path))
		return -EXDEV;

	req->n_redirects++;
	if (!req->orig_path)
		req->orig_path = req->path;
	req->path = path;
	req->path_flags = flags;
	req->raw_path = raw;
	if (query)
		req->query = query;
	req->vdir = vdir_match(req->app, path, &req->rel);
	req->physical_path = NULL;
	req->rc = NULL; /* the new path's configuration (the arena still drops the old entry) */
	req->rc_tried = false;
	req->status = req->substatus = 0;
	wasp_response_clear_body(req);
	pipeline_redirect(req);
	if (!request_config_usable(req)) {
		request_set_error(req, 500, req->config_error ? 19 : 0);
		return -EIO;
	}
	return 0;
}

/* The newest server variable set as HTTP_<name> (name as a header name or
 * as the variable's rest: '-' and '_' alike), or NULL. */
static const struct req_var *
set_header(const struct wasp_request *req, const char *name, size_t len)
{
	for (const struct req_var *v = req->vars; v; v = v->next) {
		const char *n = startswith(v->name, "HTTP_");
		size_t i;

		if (!n || strlen(n) != len)
			continue;
		for (i = 0; i < len; i++)
			if (!(toupper((unsigned char)n[i]) == toupper((unsigned char)name[i]) ||
			      ((n[i] == '_' || n[i] == '-') && (name[i] == '_' || name[i] == '-'))))
				break;
		if (i == len)
			return v;
	}
	return NULL;
}

/* The request's head with url as its target and X-Original-URL the
 * client's (a client's own X-Original-URL is dropped); as_sent: the
 * client's head itself (its headers as they came, no server variable a
 * module set, no X-Original-URL). */
static char *
reroute_head(struct wasp_request *req, const char *url, bool as_sent, size_t *ret_len)
{
	const struct wasp_http_request *h = req->http;
	const char *orig = wasp_request_server_variable(req, "UNENCODED_URL");
	size_t size = strlen(req->method) + strlen(url) + strlen(orig) + 64;
	char *s, *p;

	for (uint32_t i = 0; i < h->n_headers; i++)
		size += h->headers[i].name.len + h->headers[i].value.len + 4;
	for (const struct req_var *v = req->vars; v; v = v->next)
		size += strlen(v->name) + strlen(v->value) + 4;
	p = s = wasp_arena_alloc(req->arena, size);
	if (!s)
		return NULL;
	p += sprintf(p, "%s %s %s\r\n", req->method, url,
		     h->version == WASP_HTTP_1_0 ? "HTTP/1.0" : "HTTP/1.1");
	for (uint32_t i = 0; i < h->n_headers; i++) {
		const struct wasp_http_header *x = &h->headers[i];

		if (!as_sent && ((x->name.len == strlen(REROUTE_HEADER) &&
				  strncasecmp(x->name.ptr, REROUTE_HEADER, x->name.len) == 0) ||
				 set_header(req, x->name.ptr, x->name.len)))
			continue;
		p += sprintf(p, "%.*s: %.*s\r\n", (int)x->name.len, x->name.ptr,
			     (int)x->value.len, x->value.ptr);
	}
	for (const struct req_var *v = as_sent ? NULL : req->vars; v; v = v->next) {
		const char *n = startswith(v->name, "HTTP_");

		if (!n || !*n || set_header(req, n, strlen(n)) != v ||
		    strcaseeq(n, "X_ORIGINAL_URL"))
			continue;
		for (; *n; n++)
			*p++ = *n == '_' ? '-' : *n;
		p += sprintf(p, ": %s\r\n", v->value);
	}
	if (!as_sent)
		p += sprintf(p, "%s: %s\r\n", REROUTE_HEADER, orig);
	p += sprintf(p, "\r\n");
	*ret_len = (size_t)(p - s);
	return s;
}

/* req is handed back with reroute_head()'s head and what followed the
 * client's, when that fits a HANDBACK. */
static int
reroute_set(struct wasp_request *req, const char *url, bool as_sent, uint32_t flags)
{
	struct conn *c = req->conn;
	size_t len;
	char *head = reroute_head(req, url, as_sent, &len);

	if (!head)
		return -ENOMEM;
	if (len + (c->in_end - c->in_start) > WORKER_INBUF_SIZE)
		return -E2BIG;
	req->reroute_head = head;
	req->reroute_len = len;
	req->reroute_flags = flags;
	return 0;
}

int
wasp_request_reroute(struct wasp_request *req, const char *url)
{
	struct conn *c = req->conn;

	if (!url || url[0] != '/' || strpbrk(url, " \r\n") || !req->http || !c ||
	    !pipeline_in_begin(req) || c->body_read || c->pend_len)
		return -EINVAL;
	if (wasp_request_header(req, REROUTE_HEADER)) {
		log_warning("'%s': rerouted once already (it came with %s), not again to '%s'",
			    wasp_request_original_path(req), REROUTE_HEADER, url);
		return -ELOOP;
	}
	return reroute_set(req, url, false, 0);
}

int
request_reroute_as_sent(struct wasp_request *req, uint32_t flags)
{
	struct conn *c = req->conn;
	const char *url = wasp_request_server_variable(req, "UNENCODED_URL");

	if (!url || !req->http || !c || c->body_read || c->pend_len)
		return -EINVAL;
	return reroute_set(req, url, true, flags);
}

void
wasp_request_log_rewritten_url(struct wasp_request *req)
{
	req->log_rewritten = true;
}

bool
wasp_request_logs_rewritten_url(const struct wasp_request *req)
{
	return req->log_rewritten;
}

const char *
wasp_request_original_path(const struct wasp_request *req)
{
	return req->orig_path ? req->orig_path : req->path;
}
