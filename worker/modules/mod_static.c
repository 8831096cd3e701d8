/* StaticFileModule (first cut): GET and HEAD of files under the request's
 * virtual directory, sent with sendfile; a directory URL serves its
 * index.html (the DefaultDocument module replaces this), a directory URL
 * without its trailing slash is redirected to it. Content-Type from the
 * built-in table until the staticContent mimeMap lands. Until the
 * RequestFilteringModule lands, IIS's default hiddenSegments (web.config,
 * bin, App_Data, ...) are refused here with 404.8, so that no web.config
 * is ever served as content. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"
#include "worker.h"

static const struct {
	const char *name;
	size_t len;
} hidden_segments[] = {
	{ "web.config", 10 },
	{ "bin", 3 },
	{ "App_code", 8 },
	{ "App_GlobalResources", 19 },
	{ "App_LocalResources", 18 },
	{ "App_WebReferences", 17 },
	{ "App_Data", 8 },
	{ "App_Browsers", 12 },
};

/* Does a segment of path equal a hidden segment (case-insensitively, as IIS)? */
static bool
has_hidden_segment(const char *path)
{
	for (const char *p = path; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		for (size_t i = 0; n && i < ELEMENTSOF(hidden_segments); i++)
			if (n == hidden_segments[i].len &&
			    strncasecmp(p, hidden_segments[i].name, n) == 0)
				return true;
		p += n;
	}
	return false;
}

static enum wasp_status
static_on_execute(struct wasp_request *req, void *userdata)
{
	const char *method = wasp_request_method(req);
	const char *name = wasp_request_path(req);
	struct stat st;
	int fd, r;

	if (!streq(method, "GET") && !streq(method, "HEAD")) {
		wasp_response_set_status(req, 405, 0);
		(void)wasp_response_add_header(req, "Allow", "GET, HEAD");
		return WASP_DONE;
	}
	if (has_hidden_segment(name)) {
		wasp_response_set_status(req, 404, 8);
		return WASP_DONE;
	}
	r = wasp_request_open(req, NULL, O_RDONLY, &fd, &st);
	if (r >= 0 && S_ISDIR(st.st_mode)) {
		size_t n = strlen(name);

		if (n == 0 || name[n - 1] != '/') {
			const char *q = wasp_request_query(req);
			const char *raw = wasp_request_raw_path(req);
			char *loc =
				raw ? wasp_request_alloc(req, strlen(raw) + strlen(q) + 3) : NULL;

			if (!loc)
				return WASP_ERROR;
			strcpy(loc, raw);
			strcat(loc, "/");
			if (*q) {
				strcat(loc, "?");
				strcat(loc, q);
			}
			wasp_response_set_status(req, 301, 0);
			(void)wasp_response_add_header(req, "Location", loc);
			return WASP_DONE;
		}
		r = wasp_request_open(req, "index.html", O_RDONLY, &fd, &st);
		name = "index.html";
	}
	if (r == -EACCES) {
		wasp_response_set_status(req, 403, 0);
		return WASP_DONE;
	}
	if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG && r != -EINVAL)
		return WASP_ERROR;
	if (r < 0 || !S_ISREG(st.st_mode)) {
		wasp_response_set_status(req, 404, 0);
		return WASP_DONE;
	}
	wasp_response_set_status(req, 200, 0);
	if (wasp_response_add_header(req, "Content-Type", mime_lookup(name)) < 0 ||
	    wasp_response_send_file(req, fd, 0, (uint64_t)st.st_size) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

static int
static_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_LAST,
			      static_on_execute, NULL);
}

const struct wasp_module mod_static = {
	.abi = WASP_MODULE_ABI,
	.name = "StaticFileModule",
	.register_hooks = static_register_hooks,
};
