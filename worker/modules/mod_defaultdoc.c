/* DefaultDocumentModule: a GET or HEAD of a directory URL serves the first
 * file of system.webServer/defaultDocument's <files> that exists there (in
 * the collection's order), through StaticFileModule's serving code (types,
 * validators, ranges, clientCache). A directory URL without its trailing
 * slash is redirected (301) to the slash form first, the query kept, as
 * IIS's courtesy redirect. enabled="false", or no such file: declined, for
 * DirectoryListingModule (listing or 403.14).
 *
 * An empty <files> collection (nothing configured) means IIS's shipped
 * list: Default.htm, Default.asp, index.htm, index.html, iisstart.htm,
 * default.aspx. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "util.h"
#include "worker.h"
#include "mod_static.h"

#define DEFAULTDOC_SECTION "system.webServer/defaultDocument"

/* Without any configuration (no section at all): IIS's shipped list. */
static const char *const builtin_files[] = {
	"Default.htm", "Default.asp", "index.htm", "index.html", "iisstart.htm", "default.aspx",
};

static bool
is_get_or_head(const struct wasp_request *req)
{
	const char *m = wasp_request_method(req);

	return streq(m, "GET") || streq(m, "HEAD");
}

/* Serve name under the directory if it is a regular file there. */
static enum wasp_status
try_file(struct wasp_request *req, const char *name)
{
	struct stat st;
	int fd;

	if (!*name || strchr(name, '/') || strchr(name, '\\') || streq(name, ".") ||
	    streq(name, ".."))
		return WASP_DECLINED; /* IIS allows "sub/page.htm"; we serve names only */
	if (static_open(req, name, &fd, &st) < 0 || !S_ISREG(st.st_mode))
		return WASP_DECLINED;
	return static_serve_file(req, name, fd, &st);
}

static enum wasp_status
defaultdoc_on_execute(struct wasp_request *req, void *userdata)
{
	const struct wasp_element *sec, *files;
	struct stat st;
	int fd;

	(void)userdata;
	if (!is_get_or_head(req))
		return WASP_DECLINED;
	if (static_open(req, NULL, &fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return WASP_DECLINED;
	sec = wasp_request_config(req, DEFAULTDOC_SECTION);
	if (!wasp_element_get_bool(sec, "enabled", true))
		return WASP_DECLINED;
	if (!static_path_has_slash(req))
		return static_redirect_slash(req);
	files = wasp_element_child(sec, "files");
	if (files) { /* the built-in list is in the configuration (config/defaults.c) */
		for (size_t i = 0; i < files->n_items; i++) {
			enum wasp_status s =
				try_file(req, wasp_element_get_str(files->items[i], "value", ""));
			if (s != WASP_DECLINED)
				return s;
		}
		return WASP_DECLINED;
	}
	for (size_t i = 0; i < ELEMENTSOF(builtin_files); i++) {
		enum wasp_status s = try_file(req, builtin_files[i]);
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
	.register_hooks = defaultdoc_register_hooks,
};
