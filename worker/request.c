/* The request and response side of the module API (wasp/module.h): request
 * fields, the per-request arena, the response status, headers and body, and
 * the response head. Everything lives in the request's arena. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "arena.h"
#include "log.h"
#include "util.h"
#include "wasp-build.h"
#include "worker.h"

void
request_init(struct wasp_request *req, struct wasp_env *env, struct conn *c,
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
	if (!req->http || !req->http->path.ptr)
		return req->path;
	return wasp_arena_strndup(req->arena, req->http->path.ptr, req->http->path.len);
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
	if (!r->physical_path)
		r->physical_path = wasp_arena_printf(
			r->arena, "%s%s%s", req->vdir->physical_path,
			streq(req->vdir->physical_path, "/") ? "" : "/", req->rel);
	return r->physical_path;
}

static void
fcache_unref_cb(void *e)
{
	fcache_unref(e);
}

int
wasp_request_open(struct wasp_request *req, const char *sub, int flags, int *ret_fd,
		  struct stat *ret_st)
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

		r = fcache_open(req->env->fcache, req->vdir, rel, wasp_now_usec(), &e);
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
	fd = vdir_open(req->vdir, rel, flags, wasp_now_usec());
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

/* ---- response ---- */

void
wasp_response_set_status(struct wasp_request *req, unsigned status, unsigned substatus)
{
	req->status = status;
	req->substatus = substatus;
}

unsigned
wasp_response_status(const struct wasp_request *req)
{
	return req->status;
}

static bool
header_text_ok(const char *s)
{
	return !strpbrk(s, "\r\n");
}

static const char *const reserved_headers[] = {
	"Content-Length", "Transfer-Encoding", "Connection", "Date", "Keep-Alive", "Upgrade",
};

int
wasp_response_add_header(struct wasp_request *req, const char *name, const char *value)
{
	struct resp_header *h;

	if (!*name || !header_text_ok(name) || !header_text_ok(value) || strchr(name, ':'))
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(reserved_headers); i++)
		if (strcaseeq(name, reserved_headers[i]))
			return -EINVAL;
	if (req->n_headers == req->n_headers_alloc) {
		size_t n = req->n_headers_alloc ? req->n_headers_alloc * 2 : 8;
		struct resp_header *a = wasp_arena_alloc(req->arena, n * sizeof(*a));
		if (!a)
			return -ENOMEM;
		if (req->n_headers)
			memcpy(a, req->headers, req->n_headers * sizeof(*a));
		req->headers = a;
		req->n_headers_alloc = n;
	}
	h = &req->headers[req->n_headers];
	h->name = wasp_arena_strdup(req->arena, name);
	h->value = wasp_arena_strdup(req->arena, value);
	if (!h->name || !h->value)
		return -ENOMEM;
	req->n_headers++;
	return 0;
}

/* Replace (or add) a header the worker itself sets, such as Content-Type. */
static int
set_header(struct wasp_request *req, const char *name, const char *value)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcaseeq(req->headers[i].name, name)) {
			req->headers[i].value = value;
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
	const char *reason = wasp_http_reason(status);
	char page[512];
	int n;

	req->status = status;
	req->substatus = substatus;
	req->file_fd = -1; /* a file set before stays owned by the arena */
	req->body_len = 0;
	n = snprintf(page, sizeof(page),
		     "<!DOCTYPE html>\n<html><head><title>%u - %s</title></head>\n"
		     "<body><h1>%u - %s</h1></body></html>\n",
		     status, reason, status, reason);
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
	extra = wasp_arena_alloc(req->arena, (req->n_headers + 1) * sizeof(*extra));
	if (!extra)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_headers; i++) {
		extra[i].name = (struct wasp_http_str){ req->headers[i].name,
							strlen(req->headers[i].name) };
		extra[i].value = (struct wasp_http_str){ req->headers[i].value,
							 strlen(req->headers[i].value) };
		size += extra[i].name.len + extra[i].value.len + 4;
	}
	h = (struct wasp_http_response_head){
		.status = req->status,
		.version = req->http ? req->http->version : WASP_HTTP_1_1,
		.date = wasp_http_date_get(&req->env->date, time(NULL)),
		.server = WORKER_SERVER_HEADER,
		.content_length =
			req->file_fd >= 0 ? (int64_t)req->file_len : (int64_t)req->body_len,
		.keep_alive = req->keep_alive,
		.extra = extra,
		.n_extra = req->n_headers,
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
