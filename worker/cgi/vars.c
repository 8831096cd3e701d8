/* The CGI/1.1 meta-variables of a request (cgi.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "cgi.h"
#include "util.h"
#include "worker.h"

static bool
same_name(const struct wasp_http_header *a, const struct wasp_http_header *b)
{
	return a->name.len == b->name.len && strncasecmp(a->name.ptr, b->name.ptr, a->name.len) == 0;
}

/* HTTP_<NAME> for every request field (field lines of one name joined
 * with ", "), as IIS passes them. */
static int
vars_headers(struct wasp_request *req, cgi_var_fn fn, void *userdata)
{
	const struct wasp_http_request *h = req->http;

	for (uint32_t i = 0; h && i < h->n_headers; i++) {
		const struct wasp_http_header *x = &h->headers[i];
		char *name, *value;
		size_t vlen = 0, o = 0;
		bool dup = false;
		int r;

		for (uint32_t k = 0; k < i && !dup; k++)
			dup = same_name(&h->headers[k], x);
		if (dup)
			continue;
		for (uint32_t k = i; k < h->n_headers; k++)
			if (same_name(&h->headers[k], x))
				vlen += (vlen ? 2 : 0) + h->headers[k].value.len;
		name = wasp_request_alloc(req, x->name.len + 6);
		value = wasp_request_alloc(req, vlen + 1);
		if (!name || !value)
			return -ENOMEM;
		memcpy(name, "HTTP_", 5);
		for (size_t k = 0; k < x->name.len; k++) {
			char c = x->name.ptr[k];
			name[5 + k] = c == '-' ? '_' : (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
		}
		name[5 + x->name.len] = '\0';
		for (uint32_t k = i; k < h->n_headers; k++) {
			const struct wasp_http_header *y = &h->headers[k];

			if (!same_name(y, x))
				continue;
			if (o) {
				memcpy(value + o, ", ", 2);
				o += 2;
			}
			if (y->value.len)
				memcpy(value + o, y->value.ptr, y->value.len);
			o += y->value.len;
		}
		value[o] = '\0';
		/* CGI passes these two as CONTENT_*, not HTTP_* */
		if (streq(name, "HTTP_CONTENT_TYPE") || streq(name, "HTTP_CONTENT_LENGTH"))
			continue;
		r = fn(userdata, name, value);
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *
sv(struct wasp_request *req, const char *name)
{
	return strempty(wasp_request_server_variable(req, name));
}

struct nv {
	const char *name, *value;
};

/* Variables that are always the same (wasp serves anonymously) */
static const struct nv vars_fixed[] = {
	{ "GATEWAY_INTERFACE", "CGI/1.1" }, { "REMOTE_USER", "" }, { "AUTH_TYPE", "" },
	{ "LOGON_USER", "" },
};

/* Variables that are a server variable (name, the variable's IIS name) */
static const struct nv vars_server[] = {
	{ "SERVER_SOFTWARE", "SERVER_SOFTWARE" },
	{ "SERVER_PROTOCOL", "SERVER_PROTOCOL" },
	{ "SERVER_NAME", "SERVER_NAME" },
	{ "SERVER_PORT", "SERVER_PORT" },
	{ "SERVER_ADDR", "LOCAL_ADDR" },
	{ "LOCAL_ADDR", "LOCAL_ADDR" },
	{ "REMOTE_ADDR", "REMOTE_ADDR" },
	{ "REMOTE_HOST", "REMOTE_ADDR" },
	{ "REMOTE_PORT", "REMOTE_PORT" },
	{ "DOCUMENT_ROOT", "APPL_PHYSICAL_PATH" },
	{ "APPL_PHYSICAL_PATH", "APPL_PHYSICAL_PATH" },
	{ "APPL_MD_PATH", "APPL_MD_PATH" },
	{ "INSTANCE_ID", "INSTANCE_ID" },
	{ "INSTANCE_NAME", "INSTANCE_NAME" },
	{ "APP_POOL_ID", "APP_POOL_ID" },
	{ "CONTENT_TYPE", "CONTENT_TYPE" },
	/* TLS (IIS gives them all, empty over plain HTTP; PHP checks HTTPS) */
	{ "HTTPS", "HTTPS" },
	{ "SERVER_PORT_SECURE", "SERVER_PORT_SECURE" },
	{ "HTTPS_KEYSIZE", "HTTPS_KEYSIZE" },
	{ "HTTPS_SECRETKEYSIZE", "HTTPS_SECRETKEYSIZE" },
	{ "HTTPS_SERVER_SUBJECT", "HTTPS_SERVER_SUBJECT" },
	{ "HTTPS_SERVER_ISSUER", "HTTPS_SERVER_ISSUER" },
	{ "CERT_FLAGS", "CERT_FLAGS" },
	{ "CERT_SUBJECT", "CERT_SUBJECT" },
	{ "CERT_ISSUER", "CERT_ISSUER" },
	{ "CERT_SERIALNUMBER", "CERT_SERIALNUMBER" },
	{ "CERT_COOKIE", "CERT_COOKIE" },
	{ "CERT_KEYSIZE", "CERT_KEYSIZE" },
	{ "CERT_SECRETKEYSIZE", "CERT_SECRETKEYSIZE" },
	{ "CERT_SERVER_SUBJECT", "CERT_SERVER_SUBJECT" },
	{ "CERT_SERVER_ISSUER", "CERT_SERVER_ISSUER" },
};

int
cgi_vars(struct wasp_request *req, cgi_var_fn fn, void *userdata)
{
	const char *path = wasp_request_path(req), *file = wasp_request_physical_path(req);
	const char *script = path, *info = path, *translated = file;
	const char *raw = wasp_request_raw_path(req), *query = wasp_request_query(req);
	const char *uri = *query ? wasp_arena_printf(req->arena, "%s?%s", raw, query) : raw;
	int64_t blen = wasp_request_body_length(req);
	const char *length = blen > 0 ? wasp_arena_printf(req->arena, "%lld", (long long)blen)
				       : blen == 0 ? "0" : NULL;

	if (req->path_info_allowed && req->script_len > 0 && req->script_len < strlen(path)) {
		/* allowPathInfo: the script is the URL's first part that names
		 * a file (chosen at MapRequestHandler), the rest is PATH_INFO */
		script = wasp_arena_strndup(req->arena, path, req->script_len);
		info = path + req->script_len;
		file = req->script_file;
		translated = req->path_info_file ? req->path_info_file : "";
	}
	if (!uri || !script || (blen > 0 && !length))
		return -ENOMEM;
	const struct nv vars[] = {
		{ "REQUEST_METHOD", wasp_request_method(req) },
		{ "QUERY_STRING", query },
		{ "REQUEST_URI", uri },
		{ "UNENCODED_URL", uri },
		{ "URL", script },
		{ "SCRIPT_NAME", script },
		{ "SCRIPT_FILENAME", strempty(file) },
		{ "PATH_INFO", info },
		{ "PATH_TRANSLATED", strempty(translated) },
		/* a chunked body's length is not known up front: none is
		 * passed (FastCGI: the application reads FCGI_STDIN to its end) */
		{ "CONTENT_LENGTH", length },
	};
	int r;

	for (size_t i = 0; i < ELEMENTSOF(vars_fixed); i++)
		if ((r = fn(userdata, vars_fixed[i].name, vars_fixed[i].value)) < 0)
			return r;
	for (size_t i = 0; i < ELEMENTSOF(vars_server); i++)
		if ((r = fn(userdata, vars_server[i].name, sv(req, vars_server[i].value))) < 0)
			return r;
	for (size_t i = 0; i < ELEMENTSOF(vars); i++)
		if (vars[i].value && (r = fn(userdata, vars[i].name, vars[i].value)) < 0)
			return r;
	return vars_headers(req, fn, userdata);
}
