/* <handlers>: the handler mapping of a request (verb, path, resourceType,
 * requireAccess against accessPolicy, preCondition, allowPathInfo) and
 * its errors (404.4, 405, 403.x, 500.21); run at MapRequestHandler by
 * the pipeline walk (pipeline.c). */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apphost.h"
#include "arena.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define HANDLERS_SECTION "system.webServer/handlers"

enum { RT_FILE, RT_DIRECTORY, RT_EITHER, RT_UNSPECIFIED };
enum { RA_NONE, RA_READ, RA_WRITE, RA_SCRIPT, RA_EXECUTE };
/* accessPolicy flag bits (the schema's values) */
#define AP_READ 1u
#define AP_WRITE 2u
#define AP_EXECUTE 4u
#define AP_SCRIPT 512u

struct hentry {
	const char *name;
	const char *path;  /* pattern: '*' and '?' wildcards, case-insensitive */
	bool path_full;    /* has a '/': matched against the whole URL path */
	const char *verbs; /* "GET,HEAD" (exact tokens); NULL for "*" */
	wmodset modules;
	unsigned resource_type, require_access;
	bool allow_path_info;
	/* a module it names that is not available (500.21), not NUL-ended */
	const char *bad_module;
	size_t bad_module_len;
};

/* The compiled <handlers> of one effective section (module-owned config
 * state: built once per distinct section). */
struct hlist {
	uint64_t access_policy;
	size_t n;
	struct hentry e[];
};

/* The next item of the comma-separated list at *p without the white space
 * around it, its length in *ret_n (0 at the end); *p moves past it. */
static const char *
list_next(const char **p, size_t *ret_n)
{
	const char *t = *p + strspn(*p, ", \t");
	size_t n = strcspn(t, ",");

	*p = t + n;
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	*ret_n = n;
	return t;
}

/* The modules of a handler's list; *ret_bad, *ret_bad_len: the first name
 * that is not a loaded module (FastCgiModule, IsapiModule, ...). */
static wmodset
modules_of(const struct worker_env *env, const char *list, const char **ret_bad,
	   size_t *ret_bad_len)
{
	wmodset set = 0;
	size_t n;

	for (const char *p = list, *t = list_next(&p, &n); n > 0; t = list_next(&p, &n)) {
		int m = module_find(env, t, n);

		if (m >= 0)
			set |= (wmodset)1 << m;
		else if (!*ret_bad) {
			*ret_bad = t;
			*ret_bad_len = n;
		}
	}
	return set;
}

/* Does one preCondition token hold for the pool? -1 when it is not one. */
static int
precondition_token(const struct wasp_apppool *pool, const char *t, size_t n)
{
	static const char rt[] = "runtimeVersion";
	const char *version = pool ? pool->managed_runtime_version : "v4.0";
	bool classic = pool && pool->managed_classic, bits32 = pool && pool->enable_32bit;

	if (n == 14 && strncasecmp(t, "integratedMode", n) == 0)
		return !classic;
	if (n == 11 && strncasecmp(t, "classicMode", n) == 0)
		return classic;
	if (n == 9 && strncasecmp(t, "bitness32", n) == 0)
		return bits32;
	if (n == 9 && strncasecmp(t, "bitness64", n) == 0)
		return !bits32;
	if (n > sizeof(rt) - 1 && strncasecmp(t, rt, sizeof(rt) - 1) == 0)
		return strlen(version) == n - (sizeof(rt) - 1) &&
		       strncasecmp(t + sizeof(rt) - 1, version, n - (sizeof(rt) - 1)) == 0;
	return -1;
}

/* A handlers entry's preCondition (IIS: comma-separated, every condition
 * must hold for the worker's pool: managedPipelineMode, managedRuntimeVersion,
 * enable32BitAppOnWin64). An entry whose condition fails is not in the list,
 * as in IIS. A condition wasp does not know keeps the entry, with a warning:
 * dropping it could give its requests to a later entry (StaticFile). */
bool
handler_precondition_holds(const struct wasp_apppool *pool, const struct wasp_element *it)
{
	const char *pc = wasp_element_get_str(it, "preCondition", "");
	bool holds = true;
	size_t n;

	for (const char *p = pc, *t = list_next(&p, &n); n > 0; t = list_next(&p, &n)) {
		int r = precondition_token(pool, t, n);

		if (r < 0)
			log_warning("%s:%d: handlers: '%s': preCondition '%.*s' is not known, "
				    "taken as met",
				    strempty(it->file), it->line,
				    wasp_element_get_str(it, "name", ""), (int)n, t);
		else if (r == 0)
			holds = false;
	}
	return holds;
}

static void *
hlist_build(const struct wasp_element *sec, void *userdata)
{
	const struct worker_env *env = userdata;
	/* the worker's pool, for preConditions (NULL: IIS's defaults) */
	const struct wasp_apppool *pool =
		env->apphost && env->pool_name ? wasp_apphost_find_pool(env->apphost, env->pool_name)
					       : NULL;
	struct hlist *l = calloc(1, sizeof(*l) + sec->n_items * sizeof(struct hentry));

	if (!l)
		return NULL;
	/* the schema's default (Read) is in the element; this worker had its
	 * own (Read, Script), which disagreed: none now, nothing allowed
	 * without the attribute */
	l->access_policy = wasp_element_get_uint(sec, "accessPolicy", 0);
	for (size_t i = 0; i < sec->n_items; i++) {
		const struct wasp_element *it = sec->items[i];
		struct hentry *h;
		const char *verb = wasp_element_get_str(it, "verb", "*");

		if (!handler_precondition_holds(pool, it))
			continue;
		h = &l->e[l->n++];

		h->name = wasp_element_get_str(it, "name", "");
		h->path = wasp_element_get_str(it, "path", "*");
		h->path_full = strchr(h->path, '/') != NULL;
		h->verbs = streq(verb, "*") ? NULL : verb;
		h->modules = modules_of(env, wasp_element_get_str(it, "modules", ""),
					&h->bad_module, &h->bad_module_len);
		if (!h->bad_module && !*wasp_element_get_str(it, "modules", "") &&
		    *wasp_element_get_str(it, "type", "")) {
			/* a managed (.NET) handler: IIS runs it in this module */
			h->bad_module = "ManagedPipelineHandler";
			h->bad_module_len = strlen(h->bad_module);
		}
		h->resource_type =
			(unsigned)wasp_element_get_uint(it, "resourceType", RT_UNSPECIFIED);
		h->require_access = (unsigned)wasp_element_get_uint(it, "requireAccess", RA_SCRIPT);
		h->allow_path_info = wasp_element_get_bool(it, "allowPathInfo", false);
	}
	return l;
}

static const struct hlist *
hlist_get(struct wasp_request *req)
{
	return wasp_request_config_state(req, HANDLERS_SECTION, hlist_build, free, req->env);
}

static bool
verb_ok(const char *verbs, const char *method)
{
	size_t m = strlen(method);

	if (!verbs)
		return true;
	for (const char *p = verbs; *p;) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == m && memcmp(p, method, n) == 0)
			return true;
		p += n;
	}
	return false;
}

static bool
path_ok(const struct hentry *h, const char *path)
{
	const char *name = path;

	if (!h->path_full) {
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	/* "*." is IIS's "no extension" (the stock ExtensionlessUrl handlers):
	 * a last segment without a dot (or ending in one, which Windows drops) */
	if (h->path[0] == '*' && h->path[1] == '.' && h->path[2] == 0 && !strchr(name, '.'))
		return true;
	return fnmatch(h->path, name, FNM_CASEFOLD) == 0;
}

static bool
access_ok(const struct hentry *h, uint64_t policy)
{
	switch (h->require_access) {
	case RA_NONE:
		return true;
	case RA_READ:
		return policy & AP_READ;
	case RA_WRITE:
		return policy & AP_WRITE;
	case RA_SCRIPT:
		return policy & (AP_SCRIPT | AP_EXECUTE);
	case RA_EXECUTE:
	default:
		return policy & AP_EXECUTE;
	}
}

/* 403.1 execute (script too), 403.2 read, 403.3 write: as IIS */
static unsigned
access_substatus(const struct hentry *h)
{
	return h->require_access == RA_READ ? 2 : h->require_access == RA_WRITE ? 3 : 1;
}

static void
handler_choose(struct wasp_request *req, const struct hentry *h)
{
	req->handler_name = h->name;
	req->handler_modules = h->modules;
	req->mapped = true;
	if (h->bad_module) {
		/* IIS: 500.21, never the file itself or a 404 by accident */
		char *m = wasp_request_alloc(req, h->bad_module_len + 1);

		if (m) {
			memcpy(m, h->bad_module, h->bad_module_len);
			m[h->bad_module_len] = '\0';
		}
		req->bad_module = m ? m : "?";
		req->handler_modules = 0;
		request_set_error(req, 500, 21);
	}
}

/* The physical path of URL path p (NULL when no virtual directory covers
 * it); *ret_fd, when not NULL, the file opened (or -1). */
static const char *
url_file(struct wasp_request *req, const char *p, int *ret_fd)
{
	const char *rel;
	struct wvdir *v = req->app ? vdir_match(req->app, p, &rel) : NULL;

	if (ret_fd)
		*ret_fd = v ? vdir_open(v, rel, O_RDONLY, wasp_now_usec()) : -1;
	if (!v)
		return NULL;
	return wasp_arena_printf(req->arena, "%s%s%s", v->physical_path,
				 streq(v->physical_path, "/") ? "" : "/", rel);
}

/* allowPathInfo (IIS): for a URL like /app/s.php/more/path, the entry's path
 * is matched against each leading part of the URL that ends a segment, and
 * the first that names a regular file is the script; the rest is
 * PATH_INFO. At most WORKER_PATH_INFO_TRIES parts that match are looked
 * up (a client's URL of many "x.php/" segments costs no more). Sets
 * req->script_len and the two physical paths; false when no such part. */
static bool
path_info_split(struct wasp_request *req, const struct hentry *h)
{
	const char *path = req->path;
	unsigned tried = 0;

	for (const char *p = strchr(path + 1, '/'); p && tried < WORKER_PATH_INFO_TRIES;
	     p = strchr(p + 1, '/')) {
		size_t len = (size_t)(p - path);
		char *prefix = wasp_arena_strndup(req->arena, path, len);
		const char *file;
		struct stat st;
		int fd;

		if (!prefix || !path_ok(h, prefix))
			continue;
		tried++;
		file = url_file(req, prefix, &fd);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		close(fd);
		req->script_len = len;
		req->script_file = file;
		req->path_info_file = url_file(req, p, NULL);
		return file != NULL;
	}
	return false;
}

bool
handlers_map(struct wasp_request *req)
{
	const struct hlist *l = req->env->config ? hlist_get(req) : NULL;
	const struct hentry *denied = NULL;
	bool verb_mismatch = false, missing = false;
	int stat_result = 1; /* 1: not looked yet; 0 found; -errno */
	struct stat st;

	req->mapped = true;
	if (!l) { /* no configuration at all: every module's hooks */
		req->handler_modules = WMODSET_ALL;
		return true;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct hentry *h = &l->e[i];

		if (!path_ok(h, req->path)) {
			if (h->allow_path_info && verb_ok(h->verbs, req->method) &&
			    access_ok(h, l->access_policy) && path_info_split(req, h)) {
				handler_choose(req, h);
				return !h->bad_module;
			}
			continue;
		}
		if (!verb_ok(h->verbs, req->method)) {
			verb_mismatch = true;
			continue;
		}
		if (h->resource_type != RT_UNSPECIFIED) {
			if (stat_result == 1) {
				int fd;
				stat_result = wasp_request_open(req, NULL, O_RDONLY, &fd, &st);
				if (stat_result > 0)
					stat_result = 0;
			}
			if (stat_result < 0) {
				missing = true;
				continue;
			}
			if ((h->resource_type == RT_FILE && !S_ISREG(st.st_mode)) ||
			    (h->resource_type == RT_DIRECTORY && !S_ISDIR(st.st_mode)))
				continue;
		}
		if (!access_ok(h, l->access_policy)) {
			if (!denied)
				denied = h;
			continue;
		}
		handler_choose(req, h);
		return !h->bad_module;
	}
	req->handler_modules = 0;
	if (denied)
		request_set_error(req, 403, access_substatus(denied));
	else if (missing)
		request_set_error(req, 404, 0);
	else if (verb_mismatch)
		request_set_error(req, 405, 0);
	else
		request_set_error(req, 404, 4);
	return false;
}

int
wasp_request_set_handler_name(struct wasp_request *req, const char *name)
{
	const struct hlist *l = req->env->config ? hlist_get(req) : NULL;

	for (size_t i = 0; l && i < l->n; i++)
		if (strcaseeq(l->e[i].name, name)) {
			handler_choose(req, &l->e[i]);
			return 0;
		}
	return -ENOENT;
}
