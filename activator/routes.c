/* The routing table (docs/adapter-protocol.md): sockets, pools (with their
 * current state) and sites with bindings and applications, as JSON in a
 * sealed memfd. Adapters route connections with it. A worker gets its own
 * pool's table (pool_routes_json(): its sites, and of the others only what
 * could take one of its requests) to tell whether a request on a keep-alive
 * connection belongs to its pool. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "apphost.h"
#include "config.h"
#include "memfd.h"
#include "siphash.h"
#include "log.h"
#include "waspd.h"

#define USEC_PER_MSEC 1000ULL
#define SEC_WEB_LIMITS "system.applicationHost/webLimits"

static int
sockets_json(struct wasp_env *env, json_t *socks)
{
	int r = 0;

	for (size_t i = 0; i < env->n_socks; i++) {
		const struct listen_sock *s = &env->socks[i];
		r |= json_array_append_new(socks,
					   json_pack("{s:I, s:s, s:s, s:i}", "id", (json_int_t)s->id,
						     "protocol", s->protocol, "address",
						     s->address, "port", (int)s->port));
	}
	return r;
}

/* A site's "bindings" and "apps" into js. own < UINT32_MAX writes the
 * table of one pool: its applications name pool 0, the others pool 1
 * ("another pool"). */
static int
site_json_fill(struct wasp_env *env, json_t *js, const struct wasp_site *site, uint32_t own)
{
	json_t *bindings = json_array(), *apps = json_array();
	int r = 0;

	if (!bindings || !apps) {
		json_decref(bindings);
		json_decref(apps);
		return -1;
	}
	r |= json_object_set_new(js, "bindings", bindings);
	r |= json_object_set_new(js, "apps", apps);
	for (size_t j = 0; j < site->n_bindings; j++) {
		const struct wasp_binding *b = &site->bindings[j];
		r |= json_array_append_new(bindings,
					   json_pack("{s:s, s:s, s:i, s:s}", "protocol",
						     b->protocol, "address", b->ip, "port",
						     (int)b->port, "host", strempty(b->host)));
	}
	/* A stopped site: its bindings without applications (404). */
	for (size_t j = 0; !site_is_stopped(env, site) && j < site->n_apps; j++) {
		const struct wasp_application *a = &site->apps[j];
		json_int_t pool = a->pool_id;
		if (a->pool_id == UINT32_MAX || a->pool_id >= env->n_pools)
			continue; /* reported when the configuration was loaded */
		if (own != UINT32_MAX)
			pool = a->pool_id == own ? 0 : 1;
		json_t *ja = json_pack("{s:s, s:I}", "path", a->path, "pool", pool);

		/* "http" is what an application without "protocols" enables */
		if (ja && a->enabled_protocols && !strcaseeq(a->enabled_protocols, "http"))
			r |= json_object_set_new(ja, "protocols",
						 json_string(a->enabled_protocols));
		r |= json_array_append_new(apps, ja);
	}
	return r;
}

char *
routes_json_text(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

/* ---- the adapters' table, written as text ------------------------------ */

/* The table's text as it grows (stdio's calls, even unlocked, were most of
 * writing it with 10,000 sites). oom: a write failed, the text is lost. */
struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
text_put(struct text *t, const void *s, size_t n)
{
	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 65536;
		char *np;

		while (cap < t->len + n + 1)
			cap *= 2;
		np = realloc(t->p, cap);
		if (!np) {
			t->oom = true;
			return;
		}
		t->p = np;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
text_puts(struct text *t, const char *s)
{
	text_put(t, s, strlen(s));
}

/* s as a JSON string (jansson's escapes: the two-character ones, \u00XX
 * for other control characters; the configuration's text is UTF-8). */
static void
text_str(struct text *t, const char *s)
{
	const unsigned char *p = (const unsigned char *)strempty(s);

	text_put(t, "\"", 1);
	while (*p) {
		const unsigned char *run = p;
		const char *e = NULL;

		/* the characters that need no escape, written at once (a
		 * character at a time was most of the table's time) */
		while (*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			text_put(t, run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default: break;
		}
		if (e) {
			text_puts(t, e);
		} else {
			char u[8];

			(void)snprintf(u, sizeof(u), "\\u%04x", *p);
			text_puts(t, u);
		}
		p++;
	}
	text_put(t, "\"", 1);
}

/* v in decimal (fprintf per number was half of writing the table). */
static void
text_u64(struct text *t, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	text_put(t, p, (size_t)(buf + sizeof(buf) - p));
}

/* key (with its quotes, colon and any comma before) and v. */
static void
text_key_u64(struct text *t, const char *key, uint64_t v)
{
	text_puts(t, key);
	text_u64(t, v);
}

static void
text_sockets(struct wasp_env *env, struct text *t)
{
	for (size_t i = 0; i < env->n_socks; i++) {
		const struct listen_sock *s = &env->socks[i];

		text_key_u64(t, i ? ",{\"id\":" : "{\"id\":", s->id);
		text_puts(t, ",\"protocol\":");
		text_str(t, s->protocol);
		text_puts(t, ",\"address\":");
		text_str(t, s->address);
		text_key_u64(t, ",\"port\":", s->port);
		text_put(t, "}", 1);
	}
}

static void
text_pools(struct wasp_env *env, struct text *t)
{
	for (size_t i = 0; i < env->n_pools; i++) {
		const struct pool *p = &env->pools[i];
		const struct wasp_apppool *c = p->cfg;

		text_key_u64(t, i ? ",{\"id\":" : "{\"id\":", p->id);
		text_puts(t, ",\"name\":");
		text_str(t, p->name);
		text_puts(t, ",\"state\":\"");
		text_puts(t, pool_state_name(p->state));
		text_key_u64(t, "\",\"queueLength\":", c->queue_length);
		text_puts(t, c->failure.load_balancer_capabilities == WASP_LB_TCP_LEVEL
			      ? ",\"loadBalancerCapabilities\":\"TcpLevel\""
			      : ",\"loadBalancerCapabilities\":\"HttpLevel\"");
		text_key_u64(t, ",\"startupTimeLimitMs\":",
			     c->process_model.startup_time_limit / USEC_PER_MSEC);
		text_key_u64(t, ",\"maxProcesses\":", c->process_model.max_processes);
		text_put(t, "}", 1);
	}
}

/* A JSON text from routes_tls.c (malloc'd, NULL on OOM) appended after
 * key. */
static void
text_json(struct text *t, const char *key, char *json)
{
	if (!json) {
		t->oom = true;
		return;
	}
	text_puts(t, key);
	text_puts(t, json);
	free(json);
}

static void
text_site(struct wasp_env *env, struct text *t, const struct wasp_site *site, bool first)
{
	bool any = false, https = false, client_cert = false;

	text_key_u64(t, first ? "{\"id\":" : ",{\"id\":", site->id);
	text_puts(t, ",\"name\":");
	text_str(t, site->name);
	text_key_u64(t, ",\"connectionTimeoutMs\":", site->limits.connection_timeout / USEC_PER_MSEC);
	text_key_u64(t, ",\"maxConnections\":", site->limits.max_connections);
	text_puts(t, ",\"bindings\":[");
	for (size_t j = 0; j < site->n_bindings; j++)
		https |= strcaseeq(site->bindings[j].protocol, "https");
	if (https)
		client_cert = routes_site_client_cert(env, site);
	for (size_t j = 0; j < site->n_bindings; j++) {
		const struct wasp_binding *b = &site->bindings[j];

		text_puts(t, j ? ",{\"protocol\":" : "{\"protocol\":");
		text_str(t, b->protocol);
		text_puts(t, ",\"address\":");
		text_str(t, b->ip);
		text_key_u64(t, ",\"port\":", b->port);
		text_puts(t, ",\"host\":");
		text_str(t, b->host);
		if (strcaseeq(b->protocol, "https"))
			text_json(t, ",\"tls\":", routes_binding_tls_json(env, site, b, client_cert));
		text_put(t, "}", 1);
	}
	text_puts(t, "],\"apps\":[");
	/* A stopped site: its bindings without applications (404). */
	for (size_t j = 0; !site_is_stopped(env, site) && j < site->n_apps; j++) {
		const struct wasp_application *a = &site->apps[j];

		if (a->pool_id == UINT32_MAX || a->pool_id >= env->n_pools)
			continue; /* reported when the configuration was loaded */
		text_puts(t, any ? ",{\"path\":" : "{\"path\":");
		text_str(t, a->path);
		text_key_u64(t, ",\"pool\":", a->pool_id);
		/* "http" is what an application without "protocols" enables */
		if (a->enabled_protocols && !strcaseeq(a->enabled_protocols, "http")) {
			text_puts(t, ",\"protocols\":");
			text_str(t, a->enabled_protocols);
		}
		text_put(t, "}", 1);
		any = true;
	}
	text_puts(t, "]}");
}

/* The adapters' table (docs/adapter-protocol.md), written as text: one
 * pass, no JSON tree of every site (the tree and its dump were most of a
 * reload's time after loading the file, with 10,000 sites). */
char *
routes_json(struct wasp_env *env)
{
	/* webLimits headerWaitTimeout: 0 (IIS's default) leaves the adapter's own
	 * limit (wasp-http: 30 s) */
	const struct wasp_element *wl =
		env->cfg ? wasp_config_section(env->cfg, SEC_WEB_LIMITS) : NULL;
	uint64_t header_wait = wasp_element_get_uint(wl, "headerWaitTimeout", 0) / USEC_PER_MSEC;
	uint64_t per_client = wasp_element_get_uint(wl, "maxConnectionsPerClient", 0);
	struct text t = { 0 };

	/* about what a site and its pool take (some 350 bytes): not grown and
	 * copied a dozen times at 10,000 sites; pages never written are never
	 * resident */
	t.cap = 65536 + 512 * (env->ah->n_sites + env->n_pools);
	t.p = malloc(t.cap);
	if (!t.p)
		t.cap = 0;
	text_key_u64(&t, "{\"generation\":", env->generation);
	text_key_u64(&t, ",\"headerWaitTimeoutMs\":", header_wait);
	text_key_u64(&t, ",\"maxConnectionsPerClient\":", per_client);
	text_puts(&t, ",\"sockets\":[");
	text_sockets(env, &t);
	text_json(&t, "],\"tls\":", routes_tls_json(env));
	text_puts(&t, ",\"pools\":[");
	text_pools(env, &t);
	text_puts(&t, "],\"sites\":[");
	for (size_t i = 0; i < env->ah->n_sites; i++)
		text_site(env, &t, &env->ah->sites[i], i == 0);
	text_puts(&t, "]}");
	if (t.oom) {
		free(t.p);
		return NULL;
	}
	return t.p;
}


/* The table only changes with a pool's state (and, later, a reload), so
 * one sealed memfd serves every worker and adapter until then; each gets
 * its own descriptor of it (receivers read it with pread, so the shared
 * file offset does not matter). */
int
routes_memfd(struct wasp_env *env)
{
	int fd;

	if (env->routes_fd < 0) {
		char *s = routes_json(env);
		if (!s)
			return -ENOMEM;
		fd = wasp_memfd_create_sealed("wasp-routes", s, strlen(s));
		free(s);
		/* building it took several times the table's size (a JSON tree
		 * of every site), made for an adapter's start or a generation:
		 * give it back, waspd stays resident */
		(void)malloc_trim(0);
		if (fd < 0)
			return fd;
		env->routes_fd = fd;
	}
	fd = fcntl(env->routes_fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

void
routes_invalidate(struct wasp_env *env)
{
	env->routes_fd = safe_close(env->routes_fd);
}

/* ---- a worker's routing table ------------------------------------------- */

/* A binding's host as routing compares it: one trailing dot ignored, case
 * ignored (listener/route.c does the same). */
static size_t
host_len(const char *h)
{
	size_t n = strlen(strempty(h));

	return n > 0 && h[n - 1] == '.' ? n - 1 : n;
}

static bool
host_is_wildcard(const char *h, size_t n)
{
	return n > 2 && h[0] == '*' && h[1] == '.' && !memchr(h + 1, '*', n - 1);
}

/* Both addresses may accept one connection: either is any, or they are not
 * two different addresses of one family. */
static bool
addr_compatible(const char *a, const char *b)
{
	unsigned char x[16] = { 0 }, y[16] = { 0 };
	int fa, fb;

	fa = inet_pton(AF_INET, a, x) == 1 ? AF_INET : inet_pton(AF_INET6, a, x) == 1 ? AF_INET6 : 0;
	fb = inet_pton(AF_INET, b, y) == 1 ? AF_INET : inet_pton(AF_INET6, b, y) == 1 ? AF_INET6 : 0;
	if (!fa || !fb || fa != fb)
		return true; /* "*" (or a form not compared here) */
	if (memcmp(x, (unsigned char[16]){ 0 }, 16) == 0 ||
	    memcmp(y, (unsigned char[16]){ 0 }, 16) == 0)
		return true; /* 0.0.0.0, :: */
	return memcmp(x, y, 16) == 0;
}

/* Whether a request could match both own, a binding of the pool's sites,
 * and other, another site's binding, with other chosen by the routing
 * rules (adapter-protocol.md): the same host (then the address and the
 * order decide); own with no host, other with one (a host name beats no
 * host); own a wildcard and other a name or a longer wildcard under its
 * domain. Nothing else can take a request from own: a host name beats a
 * wildcard or no host, and a request other matches with another host
 * than own's is not own's. */
static bool
binding_shadows(const struct wasp_binding *own, const struct wasp_binding *other)
{
	size_t lo = host_len(own->host), lx = host_len(other->host);

	if (own->port != other->port || !strcaseeq(own->protocol, other->protocol) ||
	    !addr_compatible(own->ip, other->ip))
		return false;
	if (lo == lx && strncasecmp(strempty(own->host), strempty(other->host), lo) == 0)
		return true;
	if (lo == 0)
		return true;
	if (host_is_wildcard(own->host, lo)) /* ".example.com" */
		return lx > lo - 1 &&
		       strncasecmp(other->host + lx - (lo - 1), own->host + 1, lo - 1) == 0;
	return false;
}

/* Per generation, made once it is loaded (routes_prepare_later()) or by
 * the first worker's table: every binding of the generation with a host
 * name (not a wildcard), grouped by a hash of the host (hosts_place()), so
 * that a pool whose bindings name hosts finds the other sites' bindings on
 * those hosts without reading every site. 8 bytes a binding (the host is
 * the binding's own: it is read only for the few in a bucket). */
struct host_ref {
	uint32_t site, binding;
};

struct route_index {
	uint32_t generation;
	struct host_ref *hosts; /* grouped by host_hash() & mask */
	size_t n_hosts;
	uint32_t *bucket_first; /* bucket b's are hosts[bucket_first[b] .. [b + 1]) */
	size_t mask;
	/* the sites with an application in each pool, in order: pool i's are
	 * pool_sites[pool_first[i] .. pool_first[i + 1]) */
	uint32_t *pool_first, *pool_sites;
};

static int
host_cmp(const char *a, size_t la, const char *b, size_t lb)
{
	int r = strncasecmp(a, b, MIN(la, lb));

	return r ? r : la < lb ? -1 : la > lb ? 1 : 0;
}

/* A host's hash as host_cmp() compares them (case ignored). */
static uint32_t
host_hash(const char *h, size_t l)
{
	uint32_t x = 2166136261u;

	for (size_t i = 0; i < l; i++)
		x = (x ^ (uint32_t)tolower((unsigned char)h[i])) * 16777619u;
	return x;
}

void
route_index_free(struct wasp_env *env)
{
	if (!env->route_index)
		return;
	free(env->route_index->hosts);
	free(env->route_index->bucket_first);
	free(env->route_index->pool_first);
	free(env->route_index->pool_sites);
	free(env->route_index);
	env->route_index = NULL;
}

/* x->pool_first and x->pool_sites: a count per pool, then a second pass
 * placing each site under every pool its applications name (once). */
static int
pool_sites_build(const struct wasp_apphost *ah, struct route_index *x)
{
	_cleanup_free_ uint32_t *fill = calloc(ah->n_pools + 1, sizeof(*fill));
	size_t total = 0;

	x->pool_first = calloc(ah->n_pools + 1, sizeof(*x->pool_first));
	if (!fill || !x->pool_first)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ah->n_sites; i++)
			for (size_t j = 0; j < ah->sites[i].n_apps; j++) {
				uint32_t p = ah->sites[i].apps[j].pool_id;
				uint32_t *at;

				if (p >= ah->n_pools)
					continue;
				if (pass == 0) {
					/* counted once per site (fill: its last site + 1) */
					if (fill[p] != i + 1) {
						fill[p] = (uint32_t)i + 1;
						x->pool_first[p + 1]++;
					}
					continue;
				}
				at = &x->pool_sites[x->pool_first[p] + fill[p]];
				if (fill[p] > 0 && at[-1] == i)
					continue;
				*at = (uint32_t)i;
				fill[p]++;
			}
		if (pass == 0) {
			for (size_t p = 0; p < ah->n_pools; p++)
				x->pool_first[p + 1] += x->pool_first[p];
			total = x->pool_first[ah->n_pools];
			x->pool_sites = malloc(MAX(total, (size_t)1) * sizeof(*x->pool_sites));
			if (!x->pool_sites)
				return -ENOMEM;
			memset(fill, 0, (ah->n_pools + 1) * sizeof(*fill));
		}
	}
	return 0;
}

/* Each binding with a host name (not a wildcard) into x->hosts, grouped
 * by the host's hash: two passes (count, place), no sort of every host
 * name (with 100,000 sites the sort was most of the first worker start of
 * a generation). n: the number of bindings. */
static int
hosts_place(const struct wasp_apphost *ah, struct route_index *x, size_t n)
{
	_cleanup_free_ uint32_t *fill = NULL;
	size_t size = 1;

	while (size < n)
		size *= 2;
	x->mask = size - 1;
	x->bucket_first = calloc(size + 1, sizeof(*x->bucket_first));
	fill = calloc(size, sizeof(*fill));
	if (!x->bucket_first || !fill)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ah->n_sites; i++)
			for (size_t j = 0; j < ah->sites[i].n_bindings; j++) {
				const char *h = ah->sites[i].bindings[j].host;
				size_t l = host_len(h), b;

				if (l == 0 || host_is_wildcard(h, l))
					continue;
				b = host_hash(h, l) & x->mask;
				if (pass == 0) {
					x->bucket_first[b + 1]++;
					continue;
				}
				x->hosts[x->bucket_first[b] + fill[b]++] = (struct host_ref){
					(uint32_t)i, (uint32_t)j
				};
				x->n_hosts++;
			}
		for (size_t b = 0; pass == 0 && b < size; b++)
			x->bucket_first[b + 1] += x->bucket_first[b];
	}
	return 0;
}

static struct route_index *
route_index_get(struct wasp_env *env)
{
	const struct wasp_apphost *ah = env->ah;
	struct route_index *x = env->route_index;
	size_t n = 0;

	if (x && x->generation == env->generation)
		return x;
	route_index_free(env);
	for (size_t i = 0; i < ah->n_sites; i++)
		n += ah->sites[i].n_bindings;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	env->route_index = x;
	if (!(x->hosts = malloc(MAX(n, (size_t)1) * sizeof(*x->hosts))) ||
	    pool_sites_build(ah, x) < 0) {
		route_index_free(env);
		return NULL;
	}
	x->generation = env->generation;
	if (hosts_place(ah, x, n) < 0) {
		route_index_free(env);
		return NULL;
	}
	return x;
}

/* Other sites' bindings that binding_shadows() one of a pool's own, as
 * (site, binding) pairs: as many as it finds, never one per site of the
 * generation (a pool's table then costs the same with 10,000 sites). */
struct shadow { /* sorted as a pair (wasp_u32_pair_cmp) */
	uint32_t site, binding;
};

struct shadows {
	struct shadow *v;
	size_t n, n_alloc;
};

static int
shadows_add(struct shadows *sh, size_t site, size_t binding)
{
	if (sh->n == sh->n_alloc) {
		size_t n = sh->n_alloc ? 2 * sh->n_alloc : 8;
		struct shadow *v = realloc(sh->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sh->v = v;
		sh->n_alloc = n;
	}
	sh->v[sh->n++] = (struct shadow){ (uint32_t)site, (uint32_t)binding };
	return 0;
}

/* Whether site (an index in ah->sites) is one of own (ascending). */
static bool
site_is_own(const uint32_t *own, size_t n_own, size_t site)
{
	uint32_t key = (uint32_t)site;

	return bsearch(&key, own, n_own, sizeof(*own), wasp_u32_cmp) != NULL;
}

/* Into sh, the other sites' bindings that binding_shadows() own (a binding
 * of one of the pool's sites own_sites, ascending). */
static int
mark_shadowing(struct wasp_env *env, const struct wasp_binding *own, const uint32_t *own_sites,
	       size_t n_own, struct shadows *sh)
{
	const struct wasp_apphost *ah = env->ah;
	size_t lo = host_len(own->host);
	int r = 0;

	if (lo > 0 && !host_is_wildcard(own->host, lo)) {
		/* a host name: only the bindings on the same host */
		struct route_index *x = route_index_get(env);
		size_t b;

		if (!x)
			return -ENOMEM;
		b = host_hash(own->host, lo) & x->mask;
		for (size_t a = x->bucket_first[b]; a < x->bucket_first[b + 1] && r == 0; a++) {
			const struct host_ref *h = &x->hosts[a];
			const struct wasp_binding *o = &ah->sites[h->site].bindings[h->binding];

			if (host_cmp(o->host, host_len(o->host), own->host, lo) == 0 &&
			    binding_shadows(own, o) &&
			    !site_is_own(own_sites, n_own, h->site))
				r = shadows_add(sh, h->site, h->binding);
		}
		return r;
	}
	/* no host or a wildcard: any other site's binding may shadow it */
	for (size_t i = 0; i < ah->n_sites && r == 0; i++) {
		const struct wasp_site *s = &ah->sites[i];

		for (size_t j = 0; j < s->n_bindings && r == 0; j++)
			if (binding_shadows(own, &s->bindings[j]) && !site_is_own(own_sites, n_own, i))
				r = shadows_add(sh, i, j);
	}
	return r;
}

/* Whether one of the pool's own bindings has this host (as routing
 * compares them). */
static bool
host_is_own(const char *h, size_t l, const uint32_t *own_sites, size_t n_own,
	    const struct wasp_apphost *ah)
{
	for (size_t k = 0; k < n_own; k++) {
		const struct wasp_site *s = &ah->sites[own_sites[k]];

		for (size_t j = 0; j < s->n_bindings; j++)
			if (host_len(s->bindings[j].host) == l &&
			    strncasecmp(s->bindings[j].host, h, l) == 0)
				return true;
	}
	return false;
}

/* Another site's binding in a pool's table: its host as written when it
 * is empty or one of the pool's own (the pool's operator wrote it), else
 * as "hostHash", the keyed hash of its host lower-cased (of ".suffix" for
 * a wildcard, with "wildcard": true): the worker can tell a request for it
 * apart without the table naming it. */
static json_t *
foreign_binding_json(const struct wasp_binding *b, const uint32_t *own_sites, size_t n_own,
		     const struct wasp_apphost *ah, const uint8_t key[WASP_SIPHASH_KEY_SIZE])
{
	const char *h = strempty(b->host);
	size_t l = host_len(h), off = host_is_wildcard(h, l) ? 1 : 0;
	char lc[256], hex[17];

	if (l == 0 || l > sizeof(lc) || host_is_own(h, l, own_sites, n_own, ah))
		return json_pack("{s:s, s:s, s:i, s:s}", "protocol", b->protocol, "address", b->ip,
				 "port", (int)b->port, "host", h);
	for (size_t k = off; k < l; k++)
		lc[k - off] = (char)tolower((unsigned char)h[k]);
	(void)snprintf(hex, sizeof(hex), "%016llx",
		       (unsigned long long)wasp_siphash24(key, lc, l - off));
	return json_pack("{s:s, s:s, s:i, s:s, s:b}", "protocol", b->protocol, "address", b->ip,
			 "port", (int)b->port, "hostHash", hex, "wildcard", off == 1);
}

static void
on_prepare(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;

	if (!env->ah || !env->cfg)
		return;
	if (!route_index_get(env) || wasp_config_prepare_pools(env->cfg) < 0) {
		log_warning("generation %u: cannot index its sites ahead (out of memory); the "
			    "first worker start will", (unsigned)env->generation);
		return;
	}
	/* their scratch (and the load's, when this follows it) goes back */
	(void)malloc_trim(0);
	log_debug("generation %u: sites indexed by pool and host name for its first worker "
		  "starts", (unsigned)env->generation);
}

void
routes_prepare_later(struct wasp_env *env)
{
	if (event_base_once(env->base, -1, EV_TIMEOUT, on_prepare, env, NULL) < 0)
		log_warning("generation %u: cannot index its sites ahead; the first worker start "
			    "will", (unsigned)env->generation);
}

/* The sites with an application in pool p (none for a pool the generation
 * no longer has). */
static int
pool_sites(struct wasp_env *env, const struct pool *p, const uint32_t **ret, size_t *ret_n)
{
	struct route_index *x = route_index_get(env);

	if (!x)
		return -ENOMEM;
	*ret = x->pool_sites;
	*ret_n = 0;
	if (p->id < env->ah->n_pools) {
		*ret = x->pool_sites + x->pool_first[p->id];
		*ret_n = x->pool_first[p->id + 1] - x->pool_first[p->id];
	}
	return 0;
}

/* The entry of another site in pool p's table: its id, the bindings of it
 * that shadow p's (sh[0..n), that site's pairs, by binding), and one
 * application "/" of pool 1. */
static json_t *
foreign_site_json(const struct wasp_site *site, const struct shadow *sh, size_t n,
		  const uint32_t *own_sites, size_t n_own, const struct wasp_apphost *ah,
		  const uint8_t key[WASP_SIPHASH_KEY_SIZE])
{
	json_t *js = json_pack("{s:I, s:[{s:s, s:i}], s:[]}", "id", (json_int_t)site->id, "apps",
			       "path", "/", "pool", 1, "bindings");
	json_t *bindings = js ? json_object_get(js, "bindings") : NULL;

	for (size_t a = 0; bindings && a < n; a++) {
		if (a > 0 && sh[a].binding == sh[a - 1].binding)
			continue; /* shadowing two of p's bindings: once */
		if (json_array_append_new(bindings,
					  foreign_binding_json(&site->bindings[sh[a].binding],
							       own_sites, n_own, ah, key)) < 0)
			bindings = NULL;
	}
	if (!bindings) {
		json_decref(js);
		return NULL;
	}
	return js;
}

/* p's sites and the other sites of sh (sorted) into sites, in the
 * generation's order of sites. */
static int
pool_sites_json(struct wasp_env *env, const struct pool *p, json_t *sites,
		const uint32_t *own_sites, size_t n_own, const struct shadows *sh,
		const uint8_t key[WASP_SIPHASH_KEY_SIZE])
{
	const struct wasp_apphost *ah = env->ah;
	size_t k = 0, a = 0;
	int r = 0;

	while (r == 0 && (k < n_own || a < sh->n)) {
		uint32_t own = k < n_own ? own_sites[k] : UINT32_MAX;
		uint32_t other = a < sh->n ? sh->v[a].site : UINT32_MAX;
		size_t end = a;
		json_t *js;

		if (own < other) {
			const struct wasp_site *site = &ah->sites[own];

			js = json_pack("{s:I, s:s}", "id", (json_int_t)site->id, "name", site->name);
			r |= json_array_append_new(sites, js);
			r |= js ? site_json_fill(env, js, site, p->id) : -1;
			k++;
			continue;
		}
		while (end < sh->n && sh->v[end].site == other)
			end++;
		r |= json_array_append_new(sites, foreign_site_json(&ah->sites[other], sh->v + a,
								     end - a, own_sites, n_own,
								     ah, key));
		a = end;
	}
	return r;
}

/* The routing table a worker of pool p gets: the same format and rules as
 * the adapters' (so wasp_route_lookup() decides as the adapter does), but
 * only what tells whether a request is this pool's: the sockets; two pools,
 * p (id 0) and "another pool" (id 1, no name); p's sites (those with an
 * application in p) with their bindings and every application, another
 * pool's as pool 1; and, in place of each other site that has bindings
 * which could take one of p's requests (binding_shadows()), an entry with
 * its id, no name, only those bindings and one application "/" of pool 1.
 * Other sites' names, applications and pools are not in it. Made from p's
 * sites and the host index: no pass over the generation's sites (but for
 * a binding without a host name or with a wildcard one). */
static json_t *
pool_routes_build(struct wasp_env *env, const struct pool *p)
{
	const struct wasp_apphost *ah = env->ah;
	struct shadows sh = { 0 };
	json_t *root = NULL;
	uint8_t key[WASP_SIPHASH_KEY_SIZE];
	char key_hex[2 * WASP_SIPHASH_KEY_SIZE + 1];
	const uint32_t *own_sites;
	size_t n_own;
	int r = 0;

	if (pool_sites(env, p, &own_sites, &n_own) < 0)
		return NULL;
	for (size_t k = 0; k < n_own && r >= 0; k++) {
		const struct wasp_site *s = &ah->sites[own_sites[k]];

		for (size_t j = 0; j < s->n_bindings && r >= 0; j++)
			r = mark_shadowing(env, &s->bindings[j], own_sites, n_own, &sh);
	}
	if (r < 0 || getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		goto out;
	if (sh.n > 1)
		qsort(sh.v, sh.n, sizeof(*sh.v), wasp_u32_pair_cmp); /* by site, binding */
	for (size_t k = 0; k < sizeof(key); k++)
		(void)snprintf(key_hex + 2 * k, 3, "%02x", key[k]);
	root = json_pack("{s:I, s:s, s:[], s:[{s:i, s:s}, {s:i, s:s}], s:[]}", "generation",
			 (json_int_t)env->generation, "hostKey", key_hex, "sockets", "pools", "id",
			 0, "name", p->name, "id", 1, "name", "", "sites");
	if (!root)
		goto out;
	r = sockets_json(env, json_object_get(root, "sockets"));
	if (r == 0)
		r = pool_sites_json(env, p, json_object_get(root, "sites"), own_sites, n_own, &sh,
				    key);
	if (r) {
		json_decref(root);
		root = NULL;
	}
out:
	free(sh.v);
	return root;
}

char *
pool_routes_json(struct wasp_env *env, const struct pool *p)
{
	return routes_json_text(pool_routes_build(env, p));
}

/* ---- per pool and generation ------------------------------------------- */

/* The slot of pool p in the per-pool cache of this generation (made once
 * per pool and generation; a worker of the pool gets its own descriptor of
 * each memfd): a worker's start and memory then depend on its own sites,
 * not on how many the generation has. A new generation drops them all. */
static struct pool_fds *
pool_fds_get(struct wasp_env *env, const struct pool *p)
{
	if (env->pool_fds && env->pool_fds_generation != env->generation)
		config_memfd_drop(env);
	if (p->id >= env->n_pool_fds) {
		size_t n = MAX(env->n_pools, (size_t)p->id + 1);
		struct pool_fds *v = realloc(env->pool_fds, n * sizeof(*v));

		if (!v)
			return NULL;
		for (size_t i = env->n_pool_fds; i < n; i++)
			v[i] = (struct pool_fds){ -1, -1 };
		if (!env->pool_fds)
			/* once per generation, at its first worker: what loading it
			 * and building its first routing tables freed (several times
			 * the configuration's size) goes back to the system */
			(void)malloc_trim(0);
		env->pool_fds = v;
		env->n_pool_fds = n;
		env->pool_fds_generation = env->generation;
	}
	return &env->pool_fds[p->id];
}

static int
dup_fd(int fd)
{
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

static int
config_memfd_make(struct wasp_env *env, const struct pool *p)
{
	const uint32_t *sites;
	size_t n_sites;

	if (pool_sites(env, p, &sites, &n_sites) < 0)
		return -ENOMEM;
	/* a pool no longer in the generation: found (not) by name */
	return wasp_config_serialize_pool_memfd(env->cfg, env->ah, p->name,
						p->id < env->ah->n_pools ? sites : NULL, n_sites);
}

static int
pool_routes_memfd_make(struct wasp_env *env, const struct pool *p)
{
	_cleanup_free_ char *s = pool_routes_json(env, p);

	return s ? wasp_memfd_create_sealed("wasp-pool-routes", s, strlen(s)) : -ENOMEM;
}

/* A new descriptor of one of pool p's memfds (its routing table or its
 * configuration), made first if it is not yet. */
static int
pool_memfd(struct wasp_env *env, const struct pool *p, bool routes)
{
	struct pool_fds *f = pool_fds_get(env, p);
	int *slot, fd;

	if (!f)
		return -ENOMEM;
	slot = routes ? &f->routes : &f->config;
	if (*slot < 0) {
		fd = routes ? pool_routes_memfd_make(env, p) : config_memfd_make(env, p);
		if (fd < 0)
			return fd;
		*slot = fd;
	}
	return dup_fd(*slot);
}

int
config_memfd(struct wasp_env *env, const struct pool *p)
{
	return pool_memfd(env, p, false);
}

int
pool_routes_memfd(struct wasp_env *env, const struct pool *p)
{
	return pool_memfd(env, p, true);
}

void
config_memfd_drop(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_pool_fds; i++) {
		safe_close(env->pool_fds[i].config);
		safe_close(env->pool_fds[i].routes);
	}
	free(env->pool_fds);
	env->pool_fds = NULL;
	env->n_pool_fds = 0;
	route_index_free(env);
}
