/* The request and response side of the module API (wasp/module.h): request
 * fields, the per-request arena, the response status, headers and body, and
 * the response head. Everything lives in the request's arena. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
	extra = wasp_arena_alloc(req->arena, (req->n_headers + 1) * sizeof(*extra));
	if (!extra)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_headers; i++) {
		extra[i].name = (struct wasp_http_str){ req->headers[i].name,
							req->headers[i].name_len };
		extra[i].value = (struct wasp_http_str){ req->headers[i].value,
							 req->headers[i].value_len };
		size += extra[i].name.len + extra[i].value.len + 4;
	}
	h = (struct wasp_http_response_head){
		.status = req->status,
		.version = req->http ? req->http->version : WASP_HTTP_1_1,
		.date = wasp_http_date_get(&req->env->date, time(NULL)),
		.server = req->no_server_header ? NULL : WORKER_SERVER_HEADER,
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

/* ---- more of the request ---- */

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

/* ---- configuration: each (application, path)'s sections, resolved once ----
 *
 * A request's modules ask for about six effective sections, each a lookup
 * in config/'s cache keyed by (site, path, section) that builds and hashes
 * the key. The worker remembers them per (application, normalized path): the
 * first lookup of a request finds its entry (one hash lookup), the others
 * are a short scan of the entry's slots, and a slot also keeps the first
 * module-owned state derived from its section. A slot is used for
 * WORKER_CONFIG_REVALIDATE_USEC after it was filled, then asked from
 * config/ again, which then re-stats the web.config files (its own check
 * is as old as ours or older): an edited web.config is seen as soon as
 * without this cache. At most WORKER_RCACHE_MAX entries, least recently
 * used evicted first; paths longer than WORKER_RCACHE_MAX_PATH and sections
 * beyond RC_SLOTS per path are looked up directly. */

#define RC_SLOTS 12     /* sections remembered per path */
#define RC_MAX_NAMES 64 /* distinct section names remembered */
#define RC_BUCKETS (2 * WORKER_RCACHE_MAX)

struct rc_slot {
	const char *name; /* the caller's pointer (used while its text matches) */
	const char *text; /* the section's name, interned in the cache */
	const struct wasp_element *elem;
	uint64_t filled_usec;
	/* the first module-owned state asked for with this section */
	wasp_config_build_fn build;
	void *userdata;
	const struct wasp_element *state_elem; /* elem it was derived from */
	const void *state;
};

struct rc_entry {
	struct rc_entry *hnext;
	/* wasp_config_check_path() for the path, when checked_usec != 0 */
	const struct wasp_config_error *check_err;
	uint64_t checked_usec;
	struct rc_entry *prev, *next; /* most recently used first */
	uint64_t hash;
	const struct wapp *app;
	unsigned refs;  /* requests using it, and the cache while linked */
	unsigned n_slots;
	struct rc_slot slots[RC_SLOTS];
	size_t path_len;
	char path[];
};

struct rcache {
	const struct wasp_config *config; /* what the entries were filled from */
	const struct wapp *apps;
	struct rc_entry *buckets[RC_BUCKETS];
	struct rc_entry *head, *tail; /* most, least recently used */
	size_t n;
	char *names[RC_MAX_NAMES];
	size_t n_names;
};

static uint64_t
rc_hash(const struct wapp *app, const char *path, size_t len)
{
	uint64_t h = (uint64_t)(uintptr_t)app * 0x9E3779B97F4A7C15ULL;

	for (; len >= 8; len -= 8, path += 8) {
		uint64_t w;
		memcpy(&w, path, 8);
		h = (h ^ w) * 0xC2B2AE3D27D4EB4FULL;
		h ^= h >> 29;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, path, len);
		h = (h ^ w ^ ((uint64_t)len << 59)) * 0xC2B2AE3D27D4EB4FULL;
	}
	return h ^ (h >> 32);
}

static void
rc_entry_unref(struct rc_entry *e)
{
	if (e && --e->refs == 0)
		free(e);
}

static void
rc_entry_unref_cb(void *e)
{
	rc_entry_unref(e);
}

static void
rc_lru_remove(struct rcache *rc, struct rc_entry *e)
{
	*(e->prev ? &e->prev->next : &rc->head) = e->next;
	*(e->next ? &e->next->prev : &rc->tail) = e->prev;
	e->prev = e->next = NULL;
}

static void
rc_unlink(struct rcache *rc, struct rc_entry *e)
{
	struct rc_entry **pp = &rc->buckets[e->hash & (RC_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	rc_lru_remove(rc, e);
	rc->n--;
	rc_entry_unref(e); /* a request still using it frees it when done */
}

static void
rc_clear(struct rcache *rc)
{
	while (rc->head)
		rc_unlink(rc, rc->head);
}

void
request_config_cache_free(struct worker_env *env)
{
	struct rcache *rc = env->rcache;

	if (!rc)
		return;
	rc_clear(rc);
	for (size_t i = 0; i < rc->n_names; i++)
		free(rc->names[i]);
	free(rc);
	env->rcache = NULL;
}

size_t
request_config_cache_size(const struct worker_env *env)
{
	return env->rcache ? env->rcache->n : 0;
}

static struct rcache *
rc_get(struct worker_env *env)
{
	struct rcache *rc = env->rcache;

	if (!rc) {
		rc = env->rcache = calloc(1, sizeof(*rc));
		if (!rc)
			return NULL;
	}
	if (rc->config != env->config || rc->apps != env->apps) {
		rc_clear(rc); /* elements of another configuration */
		rc->config = env->config;
		rc->apps = env->apps;
	}
	return rc;
}

/* The request's entry, found or made (with a reference the request's arena
 * drops). NULL when its path is not cached (or on OOM). */
static struct rc_entry *
rc_entry_for(struct wasp_request *req)
{
	struct rcache *rc;
	struct rc_entry *e;
	size_t len;
	uint64_t h;

	if (req->rc || req->rc_tried)
		return req->rc;
	req->rc_tried = true;
	if (!req->app || !req->env->config || !req->path)
		return NULL;
	len = strlen(req->path);
	if (len > WORKER_RCACHE_MAX_PATH || !(rc = rc_get(req->env)))
		return NULL;
	h = rc_hash(req->app, req->path, len);
	for (e = rc->buckets[h & (RC_BUCKETS - 1)]; e; e = e->hnext)
		if (e->hash == h && e->app == req->app && e->path_len == len &&
		    memcmp(e->path, req->path, len) == 0)
			break;
	if (e) {
		rc_lru_remove(rc, e); /* to the front, below */
	} else {
		if (rc->n >= WORKER_RCACHE_MAX)
			rc_unlink(rc, rc->tail);
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e)
			return NULL;
		e->hash = h;
		e->app = req->app;
		e->refs = 1;
		e->path_len = len;
		memcpy(e->path, req->path, len + 1);
		e->hnext = rc->buckets[h & (RC_BUCKETS - 1)];
		rc->buckets[h & (RC_BUCKETS - 1)] = e;
		rc->n++;
	}
	e->next = rc->head;
	*(rc->head ? &rc->head->prev : &rc->tail) = e;
	rc->head = e;
	if (wasp_arena_add_cleanup(req->arena, rc_entry_unref_cb, e) < 0)
		return NULL;
	e->refs++;
	req->rc = e;
	return e;
}

static const char *
rc_intern(struct rcache *rc, const char *name)
{
	for (size_t i = 0; i < rc->n_names; i++)
		if (streq(rc->names[i], name))
			return rc->names[i];
	if (rc->n_names == RC_MAX_NAMES)
		return NULL;
	rc->names[rc->n_names] = strdup(name);
	return rc->names[rc->n_names] ? rc->names[rc->n_names++] : NULL;
}

/* Log what config/ reports (only when it computed something: each problem
 * once per change of its file). */
void
config_log_diags(const struct wasp_diag_list *diags)
{
	for (size_t i = 0; i < diags->n; i++) {
		const struct wasp_diag *d = &diags->items[i];
		wasp_log_internal(d->severity == WASP_DIAG_ERROR ? LOG_ERR : LOG_WARNING, 0,
				  "%s:%d: %s%s%s%s", d->file, d->line,
				  d->attribute ? "attribute '" : "", strempty(d->attribute),
				  d->attribute ? "': " : "", d->message);
	}
}

/* Look section up for url_path in config/ and log what it reports. The
 * element (NULL when there is none), and r < 0 only for an error worth
 * asking again (OOM). */
static const struct wasp_element *
config_lookup(struct wasp_request *req, const char *url_path, const char *section, int *ret_r)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	const struct wasp_element *e = NULL;
	int r;

	r = wasp_config_effective_section_at(req->env->config, req->app->site_name, url_path,
					     section, &e, &diags);
	/* diagnostics come only when the section was merged (not from the
	 * cache): each problem is logged once per change of its file */
	config_log_diags(&diags);
	wasp_diag_list_done(&diags);
	*ret_r = r == -ENOMEM ? r : 0;
	if (r < 0 && r != -EINVAL) {
		if (r != -ENOENT)
			log_warning_errno(r, "configuration section '%s' for '%s'", section,
					  url_path);
		return NULL;
	}
	return e; /* with -EINVAL: merged without the offending files' parts */
}

/* The request's slot for section, filled and current; NULL when the
 * section is not cached for it (look it up directly). */
static struct rc_slot *
rc_slot(struct wasp_request *req, const char *section)
{
	struct rc_entry *e = rc_entry_for(req);
	uint64_t now = req->start_usec ? req->start_usec : wasp_now_usec();
	struct rc_slot *s;
	const char *text;
	int r;

	if (!e)
		return NULL;
	for (unsigned i = 0; i < e->n_slots; i++) {
		s = &e->slots[i];
		if (s->name == section && streq(s->text, section))
			goto found;
	}
	for (unsigned i = 0; i < e->n_slots; i++) { /* the same name elsewhere */
		s = &e->slots[i];
		if (streq(s->text, section)) {
			s->name = section;
			goto found;
		}
	}
	if (e->n_slots == RC_SLOTS || !(text = rc_intern(req->env->rcache, section)))
		return NULL;
	s = &e->slots[e->n_slots++];
	*s = (struct rc_slot){ .name = section, .text = text };
	goto fill;
found:
	/* signed: a slot filled during this request is newer than its start */
	if ((int64_t)(now - s->filled_usec) < (int64_t)WORKER_CONFIG_REVALIDATE_USEC)
		return s;
fill:
	s->elem = config_lookup(req, req->path, section, &r);
	/* taken after the lookup: when it runs out, config/'s own check of the
	 * files is at least as old, so it re-stats them */
	s->filled_usec = r < 0 ? 0 : wasp_now_usec();
	return s;
}

static const struct wasp_config_error *
check_lookup(struct wasp_request *req, int *ret_r)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	const struct wasp_config_error *err = NULL;
	int r;

	r = wasp_config_check_path(req->env->config, req->app->site_name, req->path, &err, &diags);
	config_log_diags(&diags);
	wasp_diag_list_done(&diags);
	*ret_r = r;
	return r == -EINVAL ? err : NULL;
}

bool
request_config_usable(struct wasp_request *req)
{
	struct rc_entry *e;
	uint64_t now;
	int r;

	if (!req->app || !req->env->config || !req->path)
		return true;
	e = rc_entry_for(req);
	now = req->start_usec ? req->start_usec : wasp_now_usec();
	if (!e) {
		req->config_error = check_lookup(req, &r);
		return !req->config_error && r != -ENOMEM; /* not known to be usable: a 500 */
	}
	if (!e->checked_usec ||
	    (int64_t)(now - e->checked_usec) >= (int64_t)WORKER_CONFIG_REVALIDATE_USEC) {
		e->check_err = check_lookup(req, &r);
		e->checked_usec = r == -ENOMEM ? 0 : wasp_now_usec();
		if (r == -ENOMEM)
			return false;
	}
	req->config_error = e->check_err;
	return !e->check_err;
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

const struct wasp_element *
wasp_request_config(struct wasp_request *req, const char *section)
{
	struct rc_slot *s;
	int r;

	if (!req->app || !req->env->config || !section)
		return NULL;
	s = rc_slot(req, section);
	return s ? s->elem : config_lookup(req, req->path, section, &r);
}

const struct wasp_element *
wasp_request_config_at(struct wasp_request *req, const char *url_path, const char *section)
{
	int r;

	if (!req->app || !req->env->config || !section || !url_path)
		return NULL;
	if (url_path == req->path)
		return wasp_request_config(req, section);
	return config_lookup(req, url_path, section, &r);
}

const void *
wasp_request_config_state(struct wasp_request *req, const char *section,
			  wasp_config_build_fn build, void (*free_fn)(void *), void *userdata)
{
	struct rc_slot *s;
	const void *st;

	if (!build || !req->app || !req->env->config || !section)
		return NULL;
	s = rc_slot(req, section);
	if (!s)
		return config_state_get(req->env, wasp_request_config(req, section), build,
					free_fn, userdata);
	if (s->build == build && s->userdata == userdata && s->state_elem == s->elem && s->elem)
		return s->state;
	st = config_state_get(req->env, s->elem, build, free_fn, userdata);
	if (st && (!s->build || (s->build == build && s->userdata == userdata))) {
		s->build = build;
		s->userdata = userdata;
		s->state_elem = s->elem;
		s->state = st;
	}
	return st;
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

/* ---- server variables ---- */

static const char *
addr_text(struct wasp_request *req, const struct sockaddr_storage *ss, bool port)
{
	char buf[INET6_ADDRSTRLEN];
	const char *s;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		if (port)
			return wasp_arena_printf(req->arena, "%u", ntohs(in->sin_port));
		s = inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		if (port)
			return wasp_arena_printf(req->arena, "%u", ntohs(in6->sin6_port));
		s = inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
		if (s && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			s += strlen("::ffff:"); /* as IIS shows an IPv4 client */
	}
	return s ? wasp_arena_strdup(req->arena, s) : "";
}

static const char *
var_addr(struct wasp_request *req, bool peer, bool port)
{
	const struct sockaddr_storage *ss;
	socklen_t len;
	bool ok;

	if (!req->conn)
		return "";
	ok = peer ? conn_peer_addr(req->conn, &ss, &len) : conn_local_addr(req->conn, &ss, &len);
	if (!ok)
		return peer ? "" : (port ? "0" : "");
	return addr_text(req, ss, port);
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
			return wasp_arena_printf(req->arena, "%s%s", p,
						 n && p[n - 1] == '/' ? "" : "/");
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

static const char *
var_unencoded_url(struct wasp_request *req)
{
	const char *raw = wasp_request_raw_path(req);

	if (!raw || !req->http || !req->http->query.ptr)
		return raw;
	return wasp_arena_printf(req->arena, "%s?%s", raw, req->query);
}

const char *
wasp_request_server_variable(struct wasp_request *req, const char *name)
{
	const struct wasp_http_request *h = req->http;
	const char *s;

	if (!name)
		return NULL;
	if ((s = startswith(name, "HTTP_")) && *s) {
		if (streq(s, "URL"))
			return var_unencoded_url(req);
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
	if (streq(name, "UNENCODED_URL"))
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
	if (streq(name, "HTTPS"))
		return "off";
	if (streq(name, "SERVER_PORT_SECURE"))
		return "0";
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
	return req->body_len > 0 || req->file_fd >= 0;
}

void
wasp_response_disable_keep_alive(struct wasp_request *req)
{
	req->no_keep_alive = true;
}

void
wasp_response_omit_server_header(struct wasp_request *req)
{
	req->no_server_header = true;
}

void
wasp_response_clear_body(struct wasp_request *req)
{
	req->body_len = 0;
	req->file_fd = -1; /* owned by the arena or the module, not us */
	req->file_len = 0;
}
