/* Server variables (wasp_request_server_variable): IIS's names for the
 * request's addresses, URL parts, headers and site. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "config.h"
#include "util.h"
#include "wasp-build.h"
#include "worker.h"

/* ---- server variables ---- */

/* a port's decimal text in the request's arena (SERVER_PORT is asked by
 * the W3C log on every request: no printf) */
static const char *
port_text(struct wasp_request *req, uint16_t port)
{
	char buf[8], *p = buf + sizeof(buf);

	*--p = '\0';
	do
		*--p = (char)('0' + port % 10);
	while (port /= 10);
	return wasp_arena_strndup(req->arena, p, (size_t)(buf + sizeof(buf) - 1 - p));
}

static const char *
var_addr(struct wasp_request *req, bool peer, bool port)
{
	const struct sockaddr_storage *ss;
	socklen_t len;
	bool ok;

	if (!req->conn)
		return "";
	if (!port)
		return conn_addr_text(req->conn, peer);
	ok = peer ? conn_peer_addr(req->conn, &ss, &len) : conn_local_addr(req->conn, &ss, &len);
	if (!ok)
		return peer ? "" : "0";
	return port_text(req, ntohs(ss->ss_family == AF_INET
					    ? ((const struct sockaddr_in *)ss)->sin_port
					    : ((const struct sockaddr_in6 *)ss)->sin6_port));
}

/* The application's root physical path with a trailing '/' (IIS ends it
 * with its separator). */
static const char *
var_appl_physical_path(struct wasp_request *req)
{
	const struct wapp *a = req->app;

	if (!a)
		return "";
	for (size_t i = 0; i < a->n_vdirs; i++)
		if (streq(a->vdirs[i].url, streq(a->path, "/") ? "/" : a->path)) {
			const char *p = a->vdirs[i].physical_path;
			size_t n = strlen(p);
			char *s;

			if (n && p[n - 1] == '/')
				return p;
			s = wasp_arena_alloc(req->arena, n + 2); /* every proxied request: no printf */
			if (!s)
				return NULL;
			memcpy(s, p, n);
			memcpy(s + n, "/", 2);
			return s;
		}
	return "";
}

/* HTTP_ACCEPT_LANGUAGE -> the Accept-Language header ('_' matches '-'). */
static const char *
var_http_header(struct wasp_request *req, const char *name)
{
	const struct wasp_http_request *h = req->http;
	size_t n = strlen(name);

	if (!h)
		return NULL;
	for (uint32_t i = 0; i < h->n_headers; i++) {
		const struct wasp_http_header *x = &h->headers[i];
		size_t k;

		if (x->name.len != n)
			continue;
		for (k = 0; k < n; k++) {
			char a = (char)toupper((unsigned char)x->name.ptr[k]);
			if (a == '-')
				a = '_';
			if (a != (char)toupper((unsigned char)name[k]))
				break;
		}
		if (k == n)
			return wasp_arena_strndup(req->arena, x->value.ptr ? x->value.ptr : "",
						  x->value.len);
	}
	return NULL;
}

static const char *
var_all_raw(struct wasp_request *req)
{
	const struct wasp_http_request *h = req->http;
	size_t size = 1;
	char *s, *p;

	if (!h)
		return "";
	for (uint32_t i = 0; i < h->n_headers; i++)
		size += h->headers[i].name.len + h->headers[i].value.len + 4;
	p = s = wasp_arena_alloc(req->arena, size);
	if (!s)
		return NULL;
	for (uint32_t i = 0; i < h->n_headers; i++) {
		const struct wasp_http_header *x = &h->headers[i];
		memcpy(p, x->name.ptr, x->name.len);
		p += x->name.len;
		*p++ = ':';
		*p++ = ' ';
		if (x->value.len)
			memcpy(p, x->value.ptr, x->value.len);
		p += x->value.len;
		*p++ = '\r';
		*p++ = '\n';
	}
	*p = '\0';
	return s;
}

static const char *
var_server_name(struct wasp_request *req)
{
	const struct wasp_http_request *h = req->http;

	if (h && h->host_name.ptr && h->host_name.len)
		return wasp_arena_strndup(req->arena, h->host_name.ptr, h->host_name.len);
	return var_addr(req, false, false);
}

/* The URL as the client sent it (path and query), also after an internal
 * redirect or a rewrite, as IIS's UNENCODED_URL and REQUEST_URI. */
static const char *
var_unencoded_url(struct wasp_request *req)
{
	const struct wasp_http_request *h = req->http;

	if (!h || !h->path.ptr)
		return wasp_request_raw_path(req);
	if (!h->query.ptr)
		return wasp_arena_strndup(req->arena, h->path.ptr, h->path.len);
	return wasp_arena_printf(req->arena, "%.*s?%.*s", (int)h->path.len, h->path.ptr,
				 (int)h->query.len, h->query.ptr);
}

int
wasp_request_set_server_variable(struct wasp_request *req, const char *name, const char *value)
{
	struct req_var *v;

	if (!name || !*name || !value || strpbrk(value, "\r\n"))
		return -EINVAL;
	v = wasp_arena_alloc(req->arena, sizeof(*v));
	if (!v || !(v->name = wasp_arena_strdup(req->arena, name)) ||
	    !(v->value = wasp_arena_strdup(req->arena, value)))
		return -ENOMEM;
	v->next = req->vars;
	req->vars = v;
	return 0;
}

const char *
wasp_request_server_variable(struct wasp_request *req, const char *name)
{
	if (!name)
		return NULL;
	for (const struct req_var *v = req->vars; v; v = v->next)
		if (strcaseeq(v->name, name))
			return v->value;
	return request_server_variable_base(req, name);
}

const char *
request_server_variable_base(struct wasp_request *req, const char *name)
{
	const struct wasp_http_request *h = req->http;
	const char *s;

	if ((s = startswith(name, "HTTP_")) && *s) {
		if (streq(s, "URL"))
			return var_unencoded_url(req);
		if (streq(s, "X_ORIGINAL_URL") && req->orig_path)
			return var_unencoded_url(req); /* URL Rewrite's, after a rewrite */
		if (streq(s, "METHOD"))
			return req->method;
		if (streq(s, "VERSION"))
			return h && h->version == WASP_HTTP_1_0 ? "HTTP/1.0" : "HTTP/1.1";
		return var_http_header(req, s);
	}
	if (streq(name, "REMOTE_ADDR") || streq(name, "REMOTE_HOST"))
		return var_addr(req, true, false);
	if (streq(name, "REMOTE_PORT"))
		return var_addr(req, true, true);
	if (streq(name, "LOCAL_ADDR"))
		return var_addr(req, false, false);
	if (streq(name, "SERVER_PORT"))
		return var_addr(req, false, true);
	if (streq(name, "SERVER_NAME"))
		return var_server_name(req);
	if (streq(name, "SERVER_PROTOCOL"))
		return h && h->version == WASP_HTTP_1_0 ? "HTTP/1.0" : "HTTP/1.1";
	if (streq(name, "SERVER_SOFTWARE"))
		return WORKER_SERVER_HEADER;
	if (streq(name, "GATEWAY_INTERFACE"))
		return "CGI/1.1";
	if (streq(name, "REQUEST_METHOD"))
		return req->method;
	if (streq(name, "URL") || streq(name, "SCRIPT_NAME") || streq(name, "PATH_INFO"))
		return req->path;
	if (streq(name, "QUERY_STRING"))
		return req->query;
	if (streq(name, "UNENCODED_URL") || streq(name, "REQUEST_URI"))
		return var_unencoded_url(req);
	if (streq(name, "PATH_TRANSLATED"))
		return strempty(wasp_request_physical_path(req));
	if (streq(name, "APPL_PHYSICAL_PATH"))
		return var_appl_physical_path(req);
	if (streq(name, "APPL_MD_PATH"))
		return wasp_arena_printf(req->arena, "/LM/W3SVC/%u/ROOT%s",
					 wasp_request_site_id(req),
					 req->app && !streq(req->app->path, "/") ? req->app->path
										  : "");
	if (streq(name, "INSTANCE_ID"))
		return wasp_arena_printf(req->arena, "%u", wasp_request_site_id(req));
	if (streq(name, "INSTANCE_NAME"))
		return wasp_request_site_name(req);
	if (streq(name, "APP_POOL_ID"))
		return strempty(req->env->pool_name);
	if ((s = tls_server_variable(req, name)))
		return s;
	if (streq(name, "CONTENT_LENGTH"))
		return h && h->has_content_length
			       ? wasp_arena_printf(req->arena, "%llu",
						   (unsigned long long)h->content_length)
			       : "0";
	if (streq(name, "CONTENT_TYPE"))
		return strempty(var_http_header(req, "CONTENT_TYPE"));
	if (streq(name, "ALL_RAW"))
		return var_all_raw(req);
	if (streq(name, "AUTH_TYPE") || streq(name, "LOGON_USER") || streq(name, "REMOTE_USER") ||
	    streq(name, "AUTH_USER"))
		return "";
	return NULL;
}
