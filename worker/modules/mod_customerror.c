/* CustomErrorModule: the response of a request whose status is 400 or more,
 * as system.webServer/httpErrors (the section in effect for the request's
 * URL) says, in SendResponse, as IIS's custom error module does:
 *
 * - existingResponse: PassThrough keeps a body a module wrote; Auto keeps it
 *   only when that module called wasp_response_set_try_skip_custom_errors()
 *   (IIS's fTrySkipCustomErrors); Replace never keeps it. A blank response
 *   always gets an error page.
 * - errorMode: Detailed gives the detailed page (status.substatus, what it
 *   means, the URL, the physical path, the handler; HTML-escaped); Custom
 *   the configured response; DetailedLocalOnly (the default) the detailed
 *   page to a client on a loopback address and the custom one to others.
 * - The custom response: the <error> entry for status and substatus, else
 *   the entry for status with subStatusCode -1, else defaultResponseMode and
 *   defaultPath, else a short page (status and a sentence, nothing about
 *   the server). responseMode File serves a file (prefixLanguageFilePath/
 *   <language from Accept-Language, then en-US>/path, or path alone: absolute,
 *   or relative to the configuration file that set it; from a web.config
 *   only relative and without "..", unless allowAbsolutePathsWhenDelegated);
 *   ExecuteURL serves the static file another URL of the same site maps to
 *   (an application of this pool), keeping the error status; Redirect
 *   answers 302 with the path as Location. A custom response that cannot
 *   be produced falls back to the short page. Nothing in a custom response
 *   names a path of the server. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "worker.h"

extern const struct wasp_module mod_customerror;

enum { MODE_FILE = 0, MODE_EXECUTE_URL = 1, MODE_REDIRECT = 2 };
enum { ERRMODE_DETAILED_LOCAL_ONLY = 0, ERRMODE_CUSTOM = 1, ERRMODE_DETAILED = 2 };
enum { EXISTING_AUTO = 0, EXISTING_REPLACE = 1, EXISTING_PASS_THROUGH = 2 };

#define CUSTOMERROR_MAX_FILE (16 * 1024 * 1024) /* a custom error page larger than this is not served */
#define CUSTOMERROR_MAX_LANGS 8

void
wasp_response_set_try_skip_custom_errors(struct wasp_request *req, bool skip)
{
	(void)wasp_request_set_module_context(req, &mod_customerror,
					      skip ? (void *)(uintptr_t)&mod_customerror : NULL);
}

/* ---- texts -------------------------------------------------------------- */

/* What a status (and substatus) means, for the pages. The short page says
 * only the first kind of sentence; the detailed one adds the substatus's. */
static const struct {
	unsigned status, substatus; /* substatus 0: the status in general */
	const char *text;
} explanations[] = {
	{ 400, 0, "The request could not be understood by the server." },
	{ 401, 0, "You are not authorized to view this page with the credentials you supplied." },
	{ 403, 0, "You do not have permission to view this resource." },
	{ 403, 1, "Execute access is not allowed for this handler at this URL." },
	{ 403, 2, "Read access is not allowed for this handler at this URL." },
	{ 403, 3, "Write access is not allowed for this handler at this URL." },
	{ 403, 4, "The page you are trying to access is secured with Secure Sockets Layer (SSL)." },
	{ 403, 5, "The page you are trying to access is secured with Secure Sockets Layer (SSL) "
		  "and needs a key of at least 128 bits." },
	{ 403, 7, "The page you are trying to access requires a Secure Sockets Layer (SSL) "
		  "client certificate that the Web server recognizes." },
	{ 403, 14, "Directory browsing is disabled here and no default document was found." },
	{ 403, 16, "Your client certificate is either not trusted or is invalid." },
	{ 403, 17, "Your client certificate has expired or is not yet valid." },
	{ 404, 0, "The resource you are looking for might have been removed, had its name "
		  "changed, or is temporarily unavailable." },
	{ 404, 2, "The requested extension is not allowed by an ISAPI and CGI restriction." },
	{ 404, 3, "The file's extension has no MIME type mapping (staticContent/mimeMap), so "
		  "it is not served." },
	{ 404, 4, "No handler (system.webServer/handlers) is configured for this request." },
	{ 404, 5, "Request filtering denied a sequence in the URL (denyUrlSequences)." },
	{ 404, 6, "Request filtering denied the HTTP verb." },
	{ 404, 7, "Request filtering denied the file extension." },
	{ 404, 8, "Request filtering denied a hidden segment of the URL (hiddenSegments)." },
	{ 404, 10, "Request filtering denied a request header that is too long." },
	{ 404, 11, "Request filtering denied a double escaped URL (allowDoubleEscaping)." },
	{ 404, 12, "Request filtering denied a URL with high-bit characters." },
	{ 404, 13, "Request filtering denied a body longer than maxAllowedContentLength." },
	{ 404, 14, "Request filtering denied a URL longer than maxUrl." },
	{ 404, 15, "Request filtering denied a query string longer than maxQueryString." },
	{ 404, 18, "Request filtering denied a sequence in the query string." },
	{ 404, 19, "A request filtering rule denied the request." },
	{ 404, 20, "Request filtering denied a URL with too many segments." },
	{ 405, 0, "The HTTP verb used to access this page is not allowed." },
	{ 406, 0, "The resource cannot be served in a form the client accepts." },
	{ 408, 0, "The client did not send the request in time." },
	{ 412, 0, "A precondition of the request failed." },
	{ 413, 0, "The request body is too large." },
	{ 414, 0, "The URL is too long." },
	{ 416, 0, "The requested range cannot be satisfied." },
	{ 431, 0, "The request header fields are too large." },
	{ 500, 0, "There is a problem with the resource you are looking for, and it cannot be "
		  "displayed." },
	{ 500, 19, "The requested page cannot be accessed because the related configuration "
		   "data for the page is invalid." },
	{ 500, 21, "The handler chosen for this request names a module that is not available "
		   "here." },
	{ 501, 0, "The server does not support the functionality the request needs." },
	{ 502, 0, "The server received an invalid response while acting as a gateway or proxy." },
	{ 502, 1, "The CGI application did not complete within the time allowed "
		  "(system.webServer/cgi timeout)." },
	{ 502, 2, "The CGI application did not return a complete, valid set of HTTP headers." },
	{ 503, 0, "The service is unavailable." },
	{ 503, 2, "The limit of concurrent requests (here, CGI processes) was reached." },
};

static const char *
explain(unsigned status, unsigned substatus)
{
	const char *general = NULL;

	for (size_t i = 0; i < ELEMENTSOF(explanations); i++) {
		if (explanations[i].status != status)
			continue;
		if (explanations[i].substatus == substatus)
			return explanations[i].text;
		if (explanations[i].substatus == 0)
			general = explanations[i].text;
	}
	if (general)
		return general;
	return status >= 500 ? "The server could not complete the request."
			     : "The request could not be completed.";
}

/* Append s HTML-escaped. */
static int
write_escaped(struct wasp_request *req, const char *s)
{
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, "<>&\"'");
		const char *e;
		int r;

		if (n) {
			r = wasp_response_write(req, p, n);
			if (r < 0)
				return r;
			p += n;
		}
		e = wasp_html_entity(*p);
		if (!e)
			return 0; /* the end */
		r = wasp_response_write(req, e, strlen(e));
		if (r < 0)
			return r;
		p++;
	}
	return 0;
}

static int
write_str(struct wasp_request *req, const char *s)
{
	return wasp_response_write(req, s, strlen(s));
}

static int
set_html(struct wasp_request *req)
{
	wasp_response_clear_body(req);
	(void)wasp_response_remove_header(req, "Content-Range");
	return wasp_response_set_header(req, "Content-Type", "text/html; charset=utf-8");
}

/* The short page of Custom mode: the status and what it means in general;
 * nothing about this server, its paths, or the substatus. */
static void
short_page(struct wasp_request *req, unsigned status)
{
	char title[160];

	(void)set_html(req);
	snprintf(title, sizeof(title), "%u - %s", status, wasp_http_reason(status));
	(void)write_str(req, "<!DOCTYPE html>\n<html><head><title>");
	(void)write_escaped(req, title);
	(void)write_str(req, "</title></head>\n<body><h1>");
	(void)write_escaped(req, title);
	(void)write_str(req, "</h1>\n<p>");
	(void)write_escaped(req, explain(status, 0));
	(void)write_str(req, "</p></body></html>\n");
}

static void
detailed_row(struct wasp_request *req, const char *name, const char *value)
{
	(void)write_str(req, "<tr><th>");
	(void)write_escaped(req, name);
	(void)write_str(req, "</th><td>");
	(void)write_escaped(req, value && *value ? value : "-");
	(void)write_str(req, "</td></tr>\n");
}

/* IIS's "Config Source": the lines around the error, numbered. */
static void
config_source(struct wasp_request *req, const struct wasp_config_error *ce)
{
	char buf[256], num[24];
	FILE *f;
	int n = 1;

	if (ce->line <= 0 || !*ce->file || !(f = fopen(ce->file, "re")))
		return;
	(void)write_str(req, "<h3>Config Source</h3>\n<pre>");
	while (n <= ce->line + 1 && fgets(buf, sizeof(buf), f)) {
		size_t l = strlen(buf);
		bool whole = l > 0 && buf[l - 1] == '\n';

		if (n >= ce->line - 1) {
			buf[strcspn(buf, "\r\n")] = '\0';
			snprintf(num, sizeof(num), "%5d: ", n);
			(void)write_str(req, num);
			(void)write_escaped(req, buf);
			(void)write_str(req, "\n");
		}
		if (!whole) { /* the rest of a long line is not shown */
			int ch;

			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
		}
		n++;
	}
	fclose(f);
	(void)write_str(req, "</pre>\n");
}

/* The detailed page: for the server's administrator. */
static void
detailed_page(struct wasp_request *req, const struct wasp_element *cfg, unsigned status,
	      unsigned substatus)
{
	const char *host = wasp_request_server_variable(req, "SERVER_NAME");
	const char *port = wasp_request_server_variable(req, "SERVER_PORT");
	const char *query = wasp_request_query(req);
	const char *link = wasp_element_get_str(cfg, "detailedMoreInformationLink", "");
	const struct wasp_config_error *ce =
		status == 500 && substatus == 19 ? wasp_request_config_error(req) : NULL;
	const char *bad = status == 500 && substatus == 21 ? wasp_request_bad_module(req) : NULL;
	char title[160], code[32], *url;

	(void)set_html(req);
	snprintf(title, sizeof(title), "HTTP Error %u.%u - %s", status, substatus,
		 wasp_http_reason(status));
	snprintf(code, sizeof(code), "%u.%u", status, substatus);
	url = wasp_request_alloc(req, strlen(strempty(host)) + strlen(strempty(port)) +
					      strlen(wasp_request_path(req)) + strlen(query) + 16);
	if (url)
		sprintf(url, "http://%s%s%s%s%s%s", strempty(host), port ? ":" : "", strempty(port),
			wasp_request_path(req), *query ? "?" : "", query);
	(void)write_str(req, "<!DOCTYPE html>\n<html><head><title>");
	(void)write_escaped(req, title);
	(void)write_str(req, "</title></head>\n<body>\n<h1>");
	(void)write_escaped(req, title);
	(void)write_str(req, "</h1>\n<p>");
	(void)write_escaped(req, explain(status, substatus));
	(void)write_str(req, "</p>\n");
	if (wasp_request_error_detail(req)) {
		(void)write_str(req, "<p>");
		(void)write_escaped(req, wasp_request_error_detail(req));
		(void)write_str(req, "</p>\n");
	}
	if (bad) {
		(void)write_str(req, "<p>Handler \"");
		(void)write_escaped(req, strempty(wasp_request_handler_name(req)));
		(void)write_str(req, "\" has a bad module \"");
		(void)write_escaped(req, bad);
		(void)write_str(req, "\" in its module list</p>\n");
	}
	(void)write_str(req, "<h2>Detailed Error Information</h2>\n<table>\n");
	if (ce) {
		snprintf(code, sizeof(code), "0x%08x", (unsigned)ce->hresult);
		detailed_row(req, "Module", "IIS Web Core");
		detailed_row(req, "Notification", "BeginRequest");
		detailed_row(req, "Error Code", code);
		detailed_row(req, "Config Error", ce->message);
		detailed_row(req, "Config File", ce->file);
	} else if (bad) {
		/* IIS: the handler's module list cannot be used */
		detailed_row(req, "Module", "IIS Web Core");
		detailed_row(req, "Notification", "ExecuteRequestHandler");
		detailed_row(req, "Error Code", "0x8007000d");
	} else
		detailed_row(req, "Error Code", code);
	detailed_row(req, "Requested URL", url);
	detailed_row(req, "Physical Path", wasp_request_physical_path(req));
	/* before BeginRequest (500.19) neither is known yet, as IIS says */
	detailed_row(req, "Handler", ce ? "Not yet determined" : wasp_request_handler_name(req));
	detailed_row(req, "Logon User",
		     ce ? "Not yet determined" : wasp_request_server_variable(req, "LOGON_USER"));
	(void)write_str(req, "</table>\n");
	if (ce)
		config_source(req, ce);
	if (*link) {
		char q[64];

		snprintf(q, sizeof(q), "%sh=0&s=%u,%u", strchr(link, '?') ? "&" : "?", status,
			 substatus);
		(void)write_str(req, "<p><a href=\"");
		(void)write_escaped(req, link);
		(void)write_escaped(req, q);
		(void)write_str(req, "\">More information about this error</a></p>\n");
	}
	(void)write_str(req, "</body></html>\n");
}

/* ---- custom responses --------------------------------------------------- */

static void
close_fd(void *p)
{
	safe_close((int)(intptr_t)p);
}

/* Serve fd, which this takes, as the body if it is a regular file of at most
 * max bytes; type, when not NULL, replaces text/html as the Content-Type.
 * 0 or -errno. */
static int
serve_fd(struct wasp_request *req, int fd, uint64_t max, const char *type)
{
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		safe_close(fd);
		return -ENOENT;
	}
	r = wasp_request_on_cleanup(req, close_fd, (void *)(intptr_t)fd);
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	(void)set_html(req);
	if (type)
		(void)wasp_response_set_header(req, "Content-Type", type);
	return wasp_response_send_file(req, fd, 0, (uint64_t)st.st_size);
}

/* Serve the regular file at path (already resolved) as the body. 0 or -errno. */
static int
serve_path(struct wasp_request *req, const char *path, const char *name)
{
	const char *type = name ? mime_lookup(name) : NULL;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (type && strcaseeq(type, "application/octet-stream"))
		type = NULL;
	return serve_fd(req, fd, CUSTOMERROR_MAX_FILE, type);
}

static bool
is_web_config(const char *file)
{
	const char *b = file ? strrchr(file, '/') : NULL;

	return b && strcaseeq(b + 1, "web.config");
}

static bool
has_dotdot(const char *p)
{
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += n;
		while (*s == '/')
			s++;
	}
	return false;
}

/* A language tag we may use as a directory name. */
static bool
lang_ok(const char *s, size_t n)
{
	if (n == 0 || n > 35)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* prefix/<language>/rel: the client's languages in order (Accept-Language),
 * then en-US; each as sent, then canonical (en-us -> en-US), the way the
 * directories are named. 0 served, -errno. */
static int
custom_file_language(struct wasp_request *req, const char *prefix, const char *rel,
		     const char *name)
{
	const char *al = wasp_request_header(req, "Accept-Language");
	const char *langs[CUSTOMERROR_MAX_LANGS + 1];
	size_t n_langs = 0;
	char full[PATH_MAX];

	if (rel[0] == '/' || has_dotdot(rel))
		return -EINVAL;
	for (const char *p = al ? al : ""; *p && n_langs < CUSTOMERROR_MAX_LANGS;) {
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ",; ");
		if (lang_ok(p, n)) {
			char *l = wasp_request_alloc(req, n + 1);
			if (!l)
				return -ENOMEM;
			memcpy(l, p, n);
			l[n] = '\0';
			langs[n_langs++] = l;
		}
		p += n;
		p += strcspn(p, ",");
	}
	langs[n_langs++] = "en-US";
	for (size_t i = 0; i < n_langs; i++) {
		char canon[40];
		size_t k;

		for (k = 0; langs[i][k] && k < sizeof(canon) - 1; k++)
			canon[k] = langs[i][k];
		canon[k] = '\0';
		for (size_t j = 0, dash = 0; canon[j]; j++) {
			if (canon[j] == '-')
				dash = 1;
			canon[j] = (char)(dash ? toupper((unsigned char)canon[j])
					       : tolower((unsigned char)canon[j]));
		}
		for (int v = 0; v < 2; v++) {
			const char *l = v ? canon : langs[i];

			if (v && streq(canon, langs[i]))
				continue;
			if (snprintf(full, sizeof(full), "%s/%s/%s", prefix, l, rel) >=
			    (int)sizeof(full))
				continue;
			if (serve_path(req, full, name) == 0)
				return 0;
		}
	}
	return -ENOENT;
}

/* responseMode File. */
static int
custom_file(struct wasp_request *req, const struct wasp_element *cfg,
	    const struct wasp_element *entry, const char *path)
{
	const struct wasp_attr *pa = entry ? wasp_element_attr(entry, "path")
					   : wasp_element_attr(cfg, "defaultPath");
	const char *set_in = pa && pa->file ? pa->file : NULL;
	const char *prefix = entry ? wasp_element_get_str(entry, "prefixLanguageFilePath", "") : "";
	bool delegated = is_web_config(set_in) ||
			 (entry && is_web_config(entry->file) && !set_in);
	bool abs_ok = !delegated || wasp_element_get_bool(cfg, "allowAbsolutePathsWhenDelegated",
							  false);
	char *rel = wasp_request_strdup(req, path);
	char full[PATH_MAX];
	const char *name;

	if (!rel)
		return -ENOMEM;
	for (char *p = rel; *p; p++)
		if (*p == '\\')
			*p = '/';
	name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	if (*prefix)
		return custom_file_language(req, prefix, rel, name);
	if (rel[0] == '/') {
		if (!abs_ok)
			return -EPERM;
		return serve_path(req, rel, name);
	}
	if (delegated && has_dotdot(rel))
		return -EPERM;
	{
		/* relative to the directory of the file that set it */
		const char *dir_end = set_in ? strrchr(set_in, '/') : NULL;
		int dl = dir_end ? (int)(dir_end - set_in) : 1;

		if (snprintf(full, sizeof(full), "%.*s/%s", dl, dir_end ? set_in : ".", rel) >=
		    (int)sizeof(full))
			return -ENAMETOOLONG;
	}
	return serve_path(req, full, name);
}

/* responseMode ExecuteURL: the static file url (server-relative, may have
 * a query) maps to in an application of this pool on the same site. */
static int
custom_execute_url(struct wasp_request *req, const char *url)
{
	struct worker_env *env = req->env;
	struct wapp *best = NULL;
	struct wvdir *v;
	const char *rel;
	size_t len = strcspn(url, "?");
	char *path = wasp_request_alloc(req, len + 2);
	int fd;

	if (!path || url[0] != '/')
		return -EINVAL;
	if (wasp_http_url_normalize(url, len, path, len + 2, NULL) < 0)
		return -EINVAL;
	for (size_t i = 0; i < env->n_apps; i++) {
		struct wapp *a = &env->apps[i];

		if (a->site_id != wasp_request_site_id(req))
			continue;
		if (a->path_len > 1 &&
		    (strncasecmp(path, a->path, a->path_len) != 0 ||
		     (path[a->path_len] != '/' && path[a->path_len] != '\0')))
			continue;
		if (!best || a->path_len > best->path_len)
			best = a;
	}
	if (!best)
		return -ENOENT;
	v = vdir_match(best, path, &rel);
	if (!v)
		return -ENOENT;
	fd = vdir_open(v, rel, O_RDONLY, wasp_now_usec());
	if (fd < 0)
		return fd;
	return serve_fd(req, fd, UINT64_MAX, mime_lookup(path));
}

/* The <error> entry for status.substatus, else for status (-1), or NULL. */
static const struct wasp_element *
find_entry(const struct wasp_element *cfg, unsigned status, unsigned substatus)
{
	const struct wasp_element *any = NULL;

	for (size_t i = 0; i < cfg->n_items; i++) {
		const struct wasp_element *e = cfg->items[i];
		int64_t sub;

		if (wasp_element_get_uint(e, "statusCode", 0) != status)
			continue;
		sub = wasp_element_get_int(e, "subStatusCode", -1);
		if (sub == (int64_t)substatus)
			return e;
		if (sub == -1 && !any)
			any = e;
	}
	return any;
}

static void
custom_response(struct wasp_request *req, const struct wasp_element *cfg, unsigned status,
		unsigned substatus)
{
	const struct wasp_element *entry = find_entry(cfg, status, substatus);
	const char *path;
	uint64_t mode;
	int r = -ENOENT;

	if (entry) {
		path = wasp_element_get_str(entry, "path", "");
		mode = wasp_element_get_uint(entry, "responseMode", MODE_FILE);
	} else {
		path = wasp_element_get_str(cfg, "defaultPath", "");
		mode = wasp_element_get_uint(cfg, "defaultResponseMode", MODE_FILE);
	}
	if (!*path) {
		short_page(req, status);
		return;
	}
	switch (mode) {
	case MODE_REDIRECT:
		wasp_response_clear_body(req);
		(void)wasp_response_remove_header(req, "Content-Type");
		if (wasp_response_set_header(req, "Location", path) == 0) {
			wasp_response_set_status(req, 302, 0);
			return;
		}
		break;
	case MODE_EXECUTE_URL:
		r = custom_execute_url(req, path);
		break;
	case MODE_FILE:
	default:
		r = custom_file(req, cfg, entry, path);
		break;
	}
	if (r < 0) {
		wasp_log(WASP_LOG_DEBUG, "CustomErrorModule: %u.%u: custom error '%s' not served: %s",
			 status, substatus, path, strerror(-r));
		short_page(req, status);
	}
}

/* ---- the hook ----------------------------------------------------------- */

static bool
is_local(struct wasp_request *req)
{
	const char *a = wasp_request_server_variable(req, "REMOTE_ADDR");
	unsigned char b[16];

	if (!a)
		return false;
	if (inet_pton(AF_INET, a, b) == 1)
		return b[0] == 127;
	if (inet_pton(AF_INET6, a, b) == 1) {
		static const unsigned char loop6[16] = { [15] = 1 };
		static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

		return memcmp(b, loop6, 16) == 0 || (memcmp(b, mapped, 12) == 0 && b[12] == 127);
	}
	return false;
}

/* httpErrors for one effective section: the two modes read on every error,
 * and the element itself for the entries (it outlives this) */
struct ce_conf {
	const struct wasp_element *cfg;
	uint64_t existing, mode;
};

static void *
ce_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct ce_conf *c = malloc(sizeof(*c));

	/* the schema's defaults are in the element; without one, custom
	 * pages (no details) */
	if (c)
		*c = (struct ce_conf){
			.cfg = sec,
			.existing = wasp_element_get_uint(sec, "existingResponse", EXISTING_AUTO),
			.mode = wasp_element_get_uint(sec, "errorMode", ERRMODE_CUSTOM),
		};
	return c;
}

static const struct wasp_module_section ce_sections[] = {
	{ .name = "system.webServer/httpErrors", .build = ce_build, .free_conf = free },
};

static enum wasp_status
customerror_on_send(struct wasp_request *req, void *userdata)
{
	unsigned status = wasp_response_status(req);
	unsigned substatus = wasp_response_substatus(req);
	const struct ce_conf *c;

	(void)userdata;
	if (status < 400)
		return WASP_OK;
	c = wasp_request_module_conf(req, &mod_customerror, 0);
	if (!c)
		return WASP_OK; /* the worker's own page */
	if (wasp_response_has_body(req)) {
		if (c->existing == EXISTING_PASS_THROUGH)
			return WASP_OK;
		if (c->existing == EXISTING_AUTO &&
		    wasp_request_module_context(req, &mod_customerror) != NULL)
			return WASP_OK;
	}
	if (c->mode == ERRMODE_DETAILED ||
	    (c->mode == ERRMODE_DETAILED_LOCAL_ONLY && is_local(req)))
		detailed_page(req, c->cfg, status, substatus);
	else
		custom_response(req, c->cfg, status, substatus);
	return WASP_OK;
}

static int
customerror_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_LAST,
			      customerror_on_send, NULL);
}

const struct wasp_module mod_customerror = {
	.abi = WASP_MODULE_ABI,
	.name = "CustomErrorModule",
	.sections = ce_sections,
	.n_sections = ELEMENTSOF(ce_sections),
	.register_hooks = customerror_register_hooks,
};
