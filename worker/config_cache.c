/* The per-(application, path) configuration cache: the effective sections
 * a request's modules ask for (wasp_request_config), the module-owned state
 * derived from them (wasp_request_config_state) and the 500.19 check of the
 * path (request_config_usable), each resolved once per path and revalidated
 * at most once a second. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

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

/* A module's declared section (env->confs[i]) at this path: the struct its
 * build made, from which element, and when that was checked. */
struct rc_conf {
	const struct wasp_element *elem;
	const void *conf;
	uint64_t filled_usec; /* 0: not yet */
};

struct rc_entry {
	struct rc_entry *hnext;
	struct rc_conf *confs; /* env->n_confs of them, allocated on first use */
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
	if (e && --e->refs == 0) {
		free(e->confs);
		free(e);
	}
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

const void *
wasp_request_module_conf(struct wasp_request *req, const struct wasp_module *m, size_t index)
{
	struct worker_env *env = req->env;
	int mi = module_index(env, m);
	const struct wasp_element *elem;
	uint64_t now;
	struct rc_entry *e;
	struct rc_conf *c;
	size_t i;

	if (mi < 0 || index >= m->n_sections || !req->app || !env->config)
		return NULL;
	i = env->modules[mi].conf_base + index;
	e = rc_entry_for(req);
	if (e && !e->confs)
		e->confs = calloc(env->n_confs, sizeof(*e->confs));
	if (!e || !e->confs) /* a path not cached: through the section's lookup */
		return module_conf_get(env, i, wasp_request_config(req, env->confs[i].sec->name));
	c = &e->confs[i];
	now = req->start_usec ? req->start_usec : wasp_now_usec();
	/* signed: a struct filled during this request is newer than its start */
	if (c->filled_usec &&
	    (int64_t)(now - c->filled_usec) < (int64_t)WORKER_CONFIG_REVALIDATE_USEC)
		return c->conf;
	/* once a revalidation interval is over: the section again (a web.config
	 * may have changed it), and the struct again only when it did */
	elem = wasp_request_config(req, env->confs[i].sec->name);
	if (elem != c->elem || !c->conf) {
		c->elem = elem;
		c->conf = module_conf_get(env, i, elem);
	}
	c->filled_usec = c->conf || !elem ? wasp_now_usec() : 0;
	return c->conf;
}
