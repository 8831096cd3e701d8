/* DefaultDocumentModule: a GET or HEAD of a directory URL serves the first
 * file of system.webServer/defaultDocument's <files> that exists there (in
 * the collection's order) through an internal redirect to it
 * (wasp_request_internal_redirect): the document's URL is mapped to its own
 * handler (StaticFile for a page: types, validators, ranges, clientCache),
 * as in IIS. A directory URL without its trailing slash is redirected (301)
 * to the slash form first, the query kept, as IIS's courtesy redirect.
 * enabled="false", or no such file: declined, for DirectoryListingModule
 * (listing or 403.14).
 *
 * An empty <files> collection (nothing configured) means IIS's shipped
 * list: Default.htm, Default.asp, index.htm, index.html, iisstart.htm,
 * default.aspx. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "http.h"
#include "util.h"
#include "wasp/module.h"

#define DEFAULTDOC_SECTION "system.webServer/defaultDocument"

/* Without any configuration at all: IIS's shipped list. */
static const char *const builtin_files[] = {
	"Default.htm", "Default.asp", "index.htm", "index.html", "iisstart.htm", "default.aspx",
};

/* Redirect to name under the directory if it is a regular file there. */
static enum wasp_status
try_file(struct wasp_request *req, const char *name)
{
	struct stat st;
	const char *url;
	int fd;

	if (!*name || strchr(name, '/') || strchr(name, '\\') || streq(name, ".") ||
	    streq(name, ".."))
		return WASP_DECLINED; /* IIS allows "sub/page.htm"; we serve names only */
	if (wasp_request_open_content(req, name, &fd, &st) < 0 || !S_ISREG(st.st_mode))
		return WASP_DECLINED;
	url = wasp_request_url_encode(req, wasp_request_path(req), name);
	if (!url || wasp_request_internal_redirect(req, url) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

/* defaultDocument as the module uses it: built once per effective section
 * (the names point into the configuration, which outlives it) */
struct dd_conf {
	bool enabled;
	size_t n;
	const char *files[];
};

static void *
dd_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	/* the built-in list is in the configuration (config/defaults.c); the
	 * schema's defaults are in the element */
	const struct wasp_element *files = wasp_element_child(sec, "files");
	size_t n = files ? files->n_items : 0;
	struct dd_conf *c = calloc(1, sizeof(*c) + n * sizeof(c->files[0]));

	if (!c)
		return NULL;
	c->enabled = wasp_element_get_bool(sec, "enabled", false);
	for (size_t i = 0; i < n; i++)
		c->files[c->n++] = wasp_element_get_str(files->items[i], "value", "");
	return c;
}

extern const struct wasp_module mod_defaultdoc;

static const struct wasp_module_section dd_sections[] = {
	{ .name = DEFAULTDOC_SECTION, .build = dd_build, .free_conf = free },
};

static enum wasp_status
defaultdoc_on_execute(struct wasp_request *req, void *userdata)
{
	const struct dd_conf *c;
	const char *const *files = builtin_files;
	size_t n = ELEMENTSOF(builtin_files);
	struct stat st;
	int fd;

	(void)userdata;
	if (!wasp_http_method_is_get_or_head(wasp_request_method(req)))
		return WASP_DECLINED;
	if (wasp_request_open_content(req, NULL, &fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return WASP_DECLINED;
	c = wasp_request_module_conf(req, &mod_defaultdoc, 0);
	if (c) {
		if (!c->enabled)
			return WASP_DECLINED;
		files = c->files;
		n = c->n;
	} else if (wasp_request_config(req, DEFAULTDOC_SECTION)) {
		return WASP_ERROR; /* out of memory building it */
	}
	if (!wasp_request_path_has_slash(req))
		return wasp_response_redirect_slash(req);
	for (size_t i = 0; i < n; i++) {
		enum wasp_status s = try_file(req, files[i]);
		if (s != WASP_DECLINED)
			return s;
	}
	return WASP_DECLINED;
}

static int
defaultdoc_register_hooks(struct wasp_hooks *hooks)
{
	/* after StaticFileModule (MEDIUM), before DirectoryListingModule (LAST) */
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_LOW,
			      defaultdoc_on_execute, NULL);
}

const struct wasp_module mod_defaultdoc = {
	.abi = WASP_MODULE_ABI,
	.name = "DefaultDocumentModule",
	.sections = dd_sections,
	.n_sections = ELEMENTSOF(dd_sections),
	.register_hooks = defaultdoc_register_hooks,
};
