/* The request and response side of the module API (wasp/module.h): request
 * fields, the per-request arena, the response status, headers and body, and
 * the response head. Everything lives in the request's arena. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "arena.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "wasp-build.h"
#include "worker.h"

void
request_init(struct wasp_request *req, struct worker_env *env, struct conn *c,
	     struct wasp_arena *arena, const struct wasp_http_request *http)
{
	*req = (struct wasp_request){
		.env = env,
		.conn = c,
		.arena = arena,
		.http = http,
		.method = "",
		.path = "",
		.query = "",
		.file_fd = -1,
	};
}

/* ---- request ---- */

void *
wasp_request_alloc(struct wasp_request *req, size_t size)
{
	return wasp_arena_alloc(req->arena, size);
}

char *
wasp_request_strdup(struct wasp_request *req, const char *s)
{
	return wasp_arena_strdup(req->arena, s);
}

int
wasp_request_on_cleanup(struct wasp_request *req, void (*fn)(void *data), void *data)
{
	return wasp_arena_add_cleanup(req->arena, fn, data);
}

struct wasp_server *
wasp_request_server(struct wasp_request *req)
{
	return &req->env->server;
}

const char *
wasp_request_method(const struct wasp_request *req)
{
	return req->method;
}

const char *
wasp_request_path(const struct wasp_request *req)
{
	return req->path;
}

const char *
wasp_request_raw_path(const struct wasp_request *req)
{
	struct wasp_request *r = (struct wasp_request *)(uintptr_t)req; /* lazily cached */

	if (!req->http || !req->http->path.ptr)
		return req->path;
	if (!r->raw_path)
		r->raw_path = wasp_arena_strndup(r->arena, req->http->path.ptr, req->http->path.len);
	return r->raw_path;
}

const char *
wasp_request_query(const struct wasp_request *req)
{
	return req->query;
}

const char *
wasp_request_header(const struct wasp_request *req, const char *name)
{
	const struct wasp_http_header *h;

	if (!req->http)
		return NULL;
	h = wasp_http_request_header(req->http, name);
	if (!h)
		return NULL;
	return wasp_arena_strndup(req->arena, h->value.ptr ? h->value.ptr : "", h->value.len);
}

size_t
wasp_request_header_size(const struct wasp_request *req, const char *name)
{
	size_t size = 0;
	bool any = false;

	if (!req->http)
		return 0;
	for (uint32_t i = 0; i < req->http->n_headers; i++) {
		const struct wasp_http_header *h = &req->http->headers[i];

		if (!wasp_http_str_eq_ci(h->name, name))
			continue;
		size += (any ? 2 : 0) + h->value.len;
		any = true;
	}
	return size;
}

_Static_assert(WASP_URL_DOUBLE_ESCAPED == WASP_HTTP_URL_DOUBLE_ESCAPED &&
		       WASP_URL_HIGH_BIT == WASP_HTTP_URL_HIGH_BIT &&
		       WASP_URL_PLUS == WASP_HTTP_URL_PLUS,
	       "wasp/module.h URL flags follow http.h");

unsigned
wasp_request_url_flags(const struct wasp_request *req)
{
	return req->path_flags & (WASP_URL_DOUBLE_ESCAPED | WASP_URL_HIGH_BIT | WASP_URL_PLUS);
}

uint32_t
wasp_request_site_id(const struct wasp_request *req)
{
	return req->app ? req->app->site_id : 0;
}

const char *
wasp_request_app_path(const struct wasp_request *req)
{
	return req->app ? req->app->path : "/";
}

const char *
wasp_request_physical_path(const struct wasp_request *req)
{
	struct wasp_request *r = (struct wasp_request *)(uintptr_t)req; /* lazily cached */

	if (!req->vdir)
		return NULL;
	if (!r->physical_path) {
		/* joined by hand: StaticFileModule asks on every request */
		const char *dir = req->vdir->physical_path;
		size_t dl = streq(dir, "/") ? 0 : strlen(dir), rl = strlen(req->rel);
		char *p = wasp_arena_alloc(r->arena, dl + 1 + rl + 1);

		if (!p)
			return NULL;
		memcpy(p, dir, dl);
		p[dl] = '/';
		memcpy(p + dl + 1, req->rel, rl + 1);
		r->physical_path = p;
	}
	return r->physical_path;
}

static void
fcache_unref_cb(void *e)
{
	fcache_unref(e);
}

/* Open rel+sub under the request's virtual directory: from the open file
 * cache for O_RDONLY (fcache_flags: FCACHE_*), else directly. */
static int
request_open(struct wasp_request *req, const char *sub, int flags, unsigned fcache_flags,
	     int *ret_fd, struct stat *ret_st)
{
	const char *rel = req->rel;
	struct stat st;
	int fd, r;

	if (!req->vdir)
		return -ENOENT;
	if (sub) {
		size_t n = strlen(rel);
		if (!*sub || strchr(sub, '/') || streq(sub, ".") || streq(sub, ".."))
			return -EINVAL;
		rel = wasp_arena_printf(req->arena, "%s%s%s", rel,
					(n == 0 || rel[n - 1] == '/') ? "" : "/", sub);
		if (!rel)
			return -ENOMEM;
	}
	if (flags == O_RDONLY && req->env->fcache) {
		struct fcache_entry *e;

		r = fcache_open_ex(req->env->fcache, req->vdir, rel, fcache_flags, wasp_now_usec(),
				   &e);
		if (r < 0)
			return r;
		r = wasp_arena_add_cleanup(req->arena, fcache_unref_cb, e);
		if (r < 0) {
			fcache_unref(e);
			return r;
		}
		*ret_fd = fcache_entry_fd(e);
		if (ret_st)
			*ret_st = *fcache_entry_stat(e);
		return 0;
	}
	fd = vdir_open_ex(req->vdir, rel, flags, fcache_flags & FCACHE_LINKS_OUTSIDE_ROOT,
			  wasp_now_usec());
	if (fd < 0)
		return fd;
	r = wasp_arena_add_fd(req->arena, fd);
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	*ret_fd = fd;
	if (ret_st)
		*ret_st = st;
	return 0;
}

int
wasp_request_open(struct wasp_request *req, const char *sub, int flags, int *ret_fd,
		  struct stat *ret_st)
{
	return request_open(req, sub, flags, 0, ret_fd, ret_st);
}

#define STATIC_CONTENT_SECTION "system.webServer/staticContent"

/* staticContent allowSymbolicLinksOutsideRoot for one effective section
 * (userdata: applicationHost.config's file name). Only applicationHost.config
 * (its own sections or its <location>s) may let symbolic links leave a
 * virtual directory: a web.config lies in the content it would widen. */
static void *
links_build(const struct wasp_element *sec, void *userdata)
{
	const char *apphost = userdata;
	const struct wasp_attr *a = wasp_element_attr(sec, "allowSymbolicLinksOutsideRoot");
	bool *on = malloc(sizeof(*on));

	if (on)
		*on = a && a->value.type == WASP_ATTR_BOOL && a->value.b && a->is_set && a->file &&
		      apphost && streq(a->file, apphost);
	return on;
}

int
wasp_request_open_content(struct wasp_request *req, const char *sub, int *ret_fd,
			  struct stat *ret_st)
{
	const char *apphost = req->env->config ? wasp_config_file(req->env->config) : NULL;
	const bool *links = NULL;

	if (apphost)
		links = wasp_request_config_state(req, STATIC_CONTENT_SECTION, links_build, free,
						  (void *)(uintptr_t)apphost);
	return request_open(req, sub, O_RDONLY, links && *links ? FCACHE_LINKS_OUTSIDE_ROOT : 0,
			    ret_fd, ret_st);
}

/* ---- response ---- */

void
wasp_response_set_status(struct wasp_request *req, unsigned status, unsigned substatus)
{
	req->status = status;
	req->substatus = substatus;
	req->reason = NULL; /* a reason given was the old status's */
}

unsigned
wasp_response_status(const struct wasp_request *req)
{
	return req->status;
}

/* The headers the worker writes itself, by length first: most names are
 * told apart without comparing a byte. */
static const struct {
	const char *name;
	size_t len;
} reserved_headers[] = {
	{ "Content-Length", 14 }, { "Transfer-Encoding", 17 }, { "Connection", 10 },
	{ "Date", 4 },            { "Keep-Alive", 10 },        { "Upgrade", 7 },
};

static bool
reserved_header(const char *name, size_t n)
{
	for (size_t i = 0; i < ELEMENTSOF(reserved_headers); i++)
		if (n == reserved_headers[i].len && strncasecmp(name, reserved_headers[i].name, n) == 0)
			return true;
	return false;
}

static int
headers_grow(struct wasp_request *req)
{
	size_t n = req->n_headers_alloc ? req->n_headers_alloc * 2 : 8;
	struct resp_header *a = wasp_arena_alloc(req->arena, n * sizeof(*a));

	if (!a)
		return -ENOMEM;
	if (req->n_headers)
		memcpy(a, req->headers, req->n_headers * sizeof(*a));
	req->headers = a;
	req->n_headers_alloc = n;
	return 0;
}

int
request_add_header_static(struct wasp_request *req, const char *name, size_t name_len,
			  const char *value, size_t value_len)
{
	if (req->n_headers == req->n_headers_alloc && headers_grow(req) < 0)
		return -ENOMEM;
	req->headers[req->n_headers++] = (struct resp_header){ name, value, name_len, value_len };
	return 0;
}

int
wasp_response_add_header(struct wasp_request *req, const char *name, const char *value)
{
	size_t nl = strcspn(name, "\r\n:"), vl = strcspn(value, "\r\n");
	struct resp_header *h;
	char *p;

	if (nl == 0 || name[nl] || value[vl] || reserved_header(name, nl))
		return -EINVAL;
	if (req->n_headers == req->n_headers_alloc && headers_grow(req) < 0)
		return -ENOMEM;
	/* one copy of both: the caller's strings may not outlive the call */
	p = wasp_arena_alloc(req->arena, nl + vl + 2);
	if (!p)
		return -ENOMEM;
	memcpy(p, name, nl + 1);
	memcpy(p + nl + 1, value, vl + 1);
	h = &req->headers[req->n_headers++];
	*h = (struct resp_header){ p, p + nl + 1, nl, vl };
	return 0;
}

/* Replace (or add) a header the worker itself sets, such as Content-Type. */
static int
set_header(struct wasp_request *req, const char *name, const char *value)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcaseeq(req->headers[i].name, name)) {
			req->headers[i].value = value;
			req->headers[i].value_len = strlen(value);
			return 0;
		}
	return wasp_response_add_header(req, name, value);
}

int
wasp_response_write(struct wasp_request *req, const void *data, size_t len)
{
	if (req->body_len + len > req->body_alloc) {
		size_t n = MAX(req->body_alloc * 2, req->body_len + len);
		char *b;

		n = MAX(n, (size_t)256);
		b = wasp_arena_alloc(req->arena, n);
		if (!b)
			return -ENOMEM;
		if (req->body_len)
			memcpy(b, req->body, req->body_len);
		req->body = b;
		req->body_alloc = n;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	return 0;
}

int
wasp_response_send_file(struct wasp_request *req, int fd, off_t offset, uint64_t len)
{
	if (fd < 0)
		return -EBADF;
	req->file_fd = fd;
	req->file_off = offset;
	req->file_len = len;
	req->body_len = 0;
	return 0;
}

void
request_set_error(struct wasp_request *req, unsigned status, unsigned substatus)
{
	req->status = status;
	req->substatus = substatus;
	req->reason = NULL;
	wasp_response_clear_body(req);
}

void
request_replace_with_error(struct wasp_request *req, unsigned status, unsigned substatus)
{
	/* the validators, Allow, Location... of the replaced response describe
	 * something this answer is not */
	req->n_headers = 0;
	request_set_error(req, status, substatus);
	request_error_page(req);
}

void
request_error_page(struct wasp_request *req)
{
	const char *reason = wasp_http_reason(req->status);
	char page[512];
	int n;

	n = snprintf(page, sizeof(page),
		     "<!DOCTYPE html>\n<html><head><title>%u - %s</title></head>\n"
		     "<body><h1>%u - %s</h1></body></html>\n",
		     req->status, reason, req->status, reason);
	(void)set_header(req, "Content-Type", "text/html; charset=utf-8");
	(void)wasp_response_write(req, page, (size_t)n);
}

int
request_build_head(struct wasp_request *req, char **ret_head)
{
	struct wasp_http_header *extra;
	struct wasp_http_response_head h;
	size_t size = 256;
	char *buf;
	int n;

	if (req->status == 0)
		req->status = 200;
	extra = wasp_arena_alloc(req->arena, (req->n_headers + 3) * sizeof(*extra));
	if (!extra)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_headers; i++) {
		extra[i].name = (struct wasp_http_str){ req->headers[i].name,
							req->headers[i].name_len };
		extra[i].value = (struct wasp_http_str){ req->headers[i].value,
							 req->headers[i].value_len };
		size += extra[i].name.len + extra[i].value.len + 4;
	}
	if (req->upgrade && req->status == 101) { /* written by the worker alone */
		extra[req->n_headers] = (struct wasp_http_header){ { "Connection", 10 },
								   { "Upgrade", 7 } };
		extra[req->n_headers + 1] = (struct wasp_http_header){
			{ "Upgrade", 7 }, { req->upgrade, strlen(req->upgrade) } };
		size += 40 + strlen(req->upgrade);
	}
	h = (struct wasp_http_response_head){
		.status = req->status,
		.version = req->http ? req->http->version : WASP_HTTP_1_1,
		.date = wasp_http_date_get(&req->env->date, time(NULL)),
		.server = req->no_server_header ? NULL : WORKER_SERVER_HEADER,
		.reason = req->reason,
		.content_length = stream_active(req) ? stream_length(req)
				  : req->file_fd >= 0 ? (int64_t)req->file_len
						      : (int64_t)req->body_len,
		.keep_alive = req->keep_alive,
		.extra = extra,
		.n_extra = req->n_headers + (req->upgrade && req->status == 101 ? 2 : 0),
	};
	buf = wasp_arena_alloc(req->arena, size);
	if (!buf)
		return -ENOMEM;
	n = wasp_http_response_head_build(&h, buf, size);
	if (n < 0)
		return n;
	*ret_head = buf;
	return n;
}

/* ---- more of the request ---- */

static bool
url_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-._~/!$()*+,;=:@", c);
}

char *
wasp_request_url_encode(struct wasp_request *req, const char *path, const char *suffix)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path), m = suffix ? strlen(suffix) : 0;
	char *out = wasp_request_alloc(req, (n + m) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t k = 0; k < 2; k++)
		for (const unsigned char *p = (const unsigned char *)(k ? suffix : path); p && *p;
		     p++) {
			if (*p && url_safe(*p)) {
				*o++ = (char)*p;
			} else {
				*o++ = '%';
				*o++ = hex[*p >> 4];
				*o++ = hex[*p & 15];
			}
		}
	*o = '\0';
	return out;
}

bool
wasp_request_path_has_slash(const struct wasp_request *req)
{
	size_t n = req->path ? strlen(req->path) : 0;

	return n > 0 && req->path[n - 1] == '/';
}

enum wasp_status
wasp_response_redirect_slash(struct wasp_request *req)
{
	char *loc = wasp_request_url_encode(req, wasp_request_path(req), "/");

	if (!loc)
		return WASP_ERROR;
	if (*req->query) {
		loc = wasp_arena_printf(req->arena, "%s?%s", loc, req->query);
		if (!loc)
			return WASP_ERROR;
	}
	wasp_response_set_status(req, 301, 0);
	if (wasp_response_add_header(req, "Location", loc) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

const char *
wasp_request_site_name(const struct wasp_request *req)
{
	return req->app ? req->app->site_name : "";
}

unsigned
wasp_response_substatus(const struct wasp_request *req)
{
	return req->substatus;
}

const struct wasp_config_error *
wasp_request_config_error(const struct wasp_request *req)
{
	return req->config_error;
}

const char *
wasp_request_bad_module(const struct wasp_request *req)
{
	return req->bad_module;
}

const char *
wasp_request_handler_name(const struct wasp_request *req)
{
	return req->handler_name;
}

void *
wasp_request_module_context(const struct wasp_request *req, const struct wasp_module *m)
{
	for (const struct req_ctx *x = req->module_ctx; x; x = x->next)
		if (x->module == m)
			return x->ctx;
	return NULL;
}

int
wasp_request_set_module_context(struct wasp_request *req, const struct wasp_module *m, void *ctx)
{
	struct req_ctx *x;

	for (x = req->module_ctx; x; x = x->next)
		if (x->module == m) {
			x->ctx = ctx;
			return 0;
		}
	x = wasp_arena_alloc(req->arena, sizeof(*x));
	if (!x)
		return -ENOMEM;
	*x = (struct req_ctx){ .next = req->module_ctx, .module = m, .ctx = ctx };
	req->module_ctx = x;
	return 0;
}

uint64_t
wasp_request_bytes_received(const struct wasp_request *req)
{
	return req->bytes_in;
}

uint64_t
wasp_response_bytes_sent(const struct wasp_request *req)
{
	return req->bytes_out;
}

unsigned
wasp_request_win32_status(const struct wasp_request *req)
{
	return req->win32_status;
}

uint64_t
wasp_request_elapsed_usec(const struct wasp_request *req)
{
	uint64_t now = wasp_now_usec();

	return req->start_usec && now > req->start_usec ? now - req->start_usec : 0;
}

void
wasp_request_set_error_detail(struct wasp_request *req, const char *text)
{
	req->error_detail = text ? wasp_arena_strdup(req->arena, text) : NULL;
}

const char *
wasp_request_error_detail(const struct wasp_request *req)
{
	return req->error_detail;
}

/* ---- response headers and body ---- */

int
wasp_response_set_header(struct wasp_request *req, const char *name, const char *value)
{
	(void)wasp_response_remove_header(req, name);
	return wasp_response_add_header(req, name, value);
}

int
wasp_response_remove_header(struct wasp_request *req, const char *name)
{
	size_t j = 0;
	bool found = false;

	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcaseeq(req->headers[i].name, name)) {
			found = true;
			continue;
		}
		req->headers[j++] = req->headers[i];
	}
	req->n_headers = j;
	return found ? 0 : -ENOENT;
}

const char *
wasp_response_header(const struct wasp_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcaseeq(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

bool
wasp_response_header_at(const struct wasp_request *req, size_t i, const char **ret_name,
			const char **ret_value)
{
	if (i >= req->n_headers)
		return false;
	*ret_name = req->headers[i].name;
	*ret_value = req->headers[i].value;
	return true;
}

bool
wasp_response_has_body(const struct wasp_request *req)
{
	return req->body_len > 0 || req->file_fd >= 0 || stream_active(req);
}

void
wasp_response_disable_keep_alive(struct wasp_request *req)
{
	req->no_keep_alive = true;
}

void
wasp_request_abort(struct wasp_request *req)
{
	req->aborted = true;
}

void
wasp_response_omit_server_header(struct wasp_request *req)
{
	req->no_server_header = true;
}

int
wasp_response_set_reason(struct wasp_request *req, const char *reason)
{
	for (const char *p = reason; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f || (*p & 0x80))
			return -EINVAL;
	req->reason = wasp_request_strdup(req, reason);
	return req->reason ? 0 : -ENOMEM;
}

void
wasp_response_clear_body(struct wasp_request *req)
{
	req->body_len = 0;
	req->file_fd = -1; /* owned by the arena or the module, not us */
	req->file_len = 0;
	stream_cancel(req);
}
