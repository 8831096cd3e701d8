/* Internal redirects (wasp_request_internal_redirect): the request is
 * mapped again to another URL of its application and goes on from there,
 * as nginx's ngx_http_internal_redirect: DefaultDocumentModule serves a
 * directory's default document this way (the document's own handler
 * serves it), and URL rewriting and ExecuteURL custom errors are the same
 * call. Bounded: the request's WORKER_MAX_INTERNAL_REDIRECTS+1st redirect
 * answers 500. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "apphost.h"
#include "arena.h"
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

const char *
wasp_request_original_path(const struct wasp_request *req)
{
	return req->orig_path ? req->orig_path : req->path;
}
