/* Routing table lookups: a connection's local address and Host, and a
 * request path, to a site, application and pool, without allocating. See
 * route.h for the rules. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "siphash.h"

/* A local sockaddr as a route address and port; false for other families. */
static bool
addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct wasp_route_addr *ret,
		   uint16_t *ret_port)
{
	memset(ret, 0, sizeof(*ret));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		ret->family = AF_INET;
		memcpy(ret->bytes, &in->sin_addr, 4);
		*ret_port = ntohs(in->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			ret->family = AF_INET;
			memcpy(ret->bytes, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			ret->family = AF_INET6;
			memcpy(ret->bytes, &in6->sin6_addr, 16);
		}
		*ret_port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

/* The first candidate whose address is the local one, else the first "*". */
static const struct wasp_route_site *
cand_pick(const struct route_cand *c, uint32_t n, const struct wasp_route_addr *local)
{
	for (uint32_t i = 0; i < n; i++) {
		if (c[i].addr.family == AF_UNSPEC)
			return c[i].site; /* specific ones sort first */
		if (local && addr_eq(&c[i].addr, local))
			return c[i].site;
	}
	return NULL;
}

/* Decoded byte at *i of the path (advancing *i), or -1 at its end. */
static inline int
path_next(const char *p, size_t n, size_t *i)
{
	unsigned char ch;

	if (*i >= n)
		return -1;
	ch = (unsigned char)p[*i];
	if (ch == '?' || ch == '#')
		return -1;
	if (ch == '%' && n - *i >= 3) {
		int hi = hexval((unsigned char)p[*i + 1]), lo = hexval((unsigned char)p[*i + 2]);
		if (hi >= 0 && lo >= 0) {
			*i += 3;
			return hi * 16 + lo;
		}
	}
	(*i)++;
	return ch;
}

/* The request path as the routing rules see it, into out: %XX decoded once,
 * up to '?' or '#', "//" collapsed, "." and ".." segments resolved (never
 * above the root), no trailing '/': "" is the root. This is what IIS routes
 * on, so "/x/../app/" belongs to "/app"; a worker that maps the path to a
 * file normalises it the same way (wasp_http_url_normalize). A path not
 * starting with '/' ("*", an authority) is the root. */
static int
path_normalize(const char *p, size_t n, char *out, size_t size, size_t *ret_len)
{
	size_t i = 0, o = 0;
	int ch;

	if (n == 0 || p[0] != '/') {
		*ret_len = 0;
		return 0;
	}
	(void)path_next(p, n, &i); /* the leading '/' */
	for (;;) {
		size_t seg = o, sl;

		if (o >= size)
			return -ENAMETOOLONG;
		out[o++] = '/';
		while ((ch = path_next(p, n, &i)) >= 0 && ch != '/') {
			if (o >= size)
				return -ENAMETOOLONG;
			out[o++] = (char)ch;
		}
		sl = o - seg - 1;
		if (sl == 0 || (sl == 1 && out[seg + 1] == '.')) {
			o = seg;
		} else if (sl == 2 && out[seg + 1] == '.' && out[seg + 2] == '.') {
			o = seg;
			while (o > 0 && out[--o] != '/')
				;
		}
		if (ch < 0)
			break;
	}
	*ret_len = o;
	return 0;
}

static bool
app_matches(const struct wasp_route_app *a, const char *norm, size_t n)
{
	if (a->path_len == 1)
		return true; /* "/" */
	if (n < a->path_len || (n > a->path_len && norm[a->path_len] != '/'))
		return false;
	for (size_t k = 0; k < a->path_len; k++)
		if (lower((unsigned char)norm[k]) != lower((unsigned char)a->path[k]))
			return false;
	return true;
}

/* The group of hashed bindings for h in v[0..n) (sorted), or NULL. */
static const struct route_hhost *
hhost_find(const struct route_hhost *v, uint32_t n, uint64_t h)
{
	uint32_t a = 0, b = n;

	while (a < b) {
		uint32_t m = a + (b - a) / 2;

		if (v[m].hash < h)
			a = m + 1;
		else
			b = m;
	}
	return a < n && v[a].hash == h ? &v[a] : NULL;
}

/* A host's (lower-cased, lc) wildcard candidates when some are hashed: the
 * suffixes at each '.' after the first character, longest first, each
 * looked for among the plain wildcards and the hashed ones (a suffix is in
 * one of them at most: the activator writes a host plainly when the
 * worker's own bindings have it). The same order as the plain walk over
 * set->wild. */
static const struct wasp_route_site *
wild_lookup_hashed(const struct wasp_route_binding_set *set, const char *lc, size_t n,
		   const struct wasp_route_addr *lap)
{
	const struct wasp_route_site *site = NULL;

	for (size_t i = 1; !site && i < n; i++) {
		size_t len = n - i;

		if (lc[i] != '.')
			continue;
		for (uint32_t k = 0; !site && k < set->n_wild; k++) {
			const struct route_host *w = &set->wild[k];
			if (w->len == len && memcmp(lc + i, w->host, len) == 0)
				site = cand_pick(set->cands + w->first, w->count, lap);
		}
		if (!site) {
			const struct route_hhost *g =
				hhost_find(set->hwild, set->n_hwild, wasp_siphash24(set->key, lc + i, len));
			if (g)
				site = cand_pick(set->cands + g->first, g->count, lap);
		}
	}
	return site;
}

/* The host without ":port" (after "]" for an IPv6 literal) and one
 * trailing dot: its length. */
static size_t
host_bare_len(const char *host, size_t host_len)
{
	size_t n = host_len;

	if (host[0] == '[') {
		const char *e = memchr(host, ']', host_len);
		n = e ? (size_t)(e - host) + 1 : host_len;
	} else {
		const char *e = memchr(host, ':', host_len);
		if (e)
			n = (size_t)(e - host);
	}
	if (n > 0 && host[n - 1] == '.')
		n--;
	return n;
}

/* The site of a host (n bytes, already bare): exact host bindings first,
 * then wildcard ones (longest suffix first): HTTP.sys's order. NULL when
 * none has it. Single caller on the hot path: static, so inlined. */
static const struct wasp_route_site *
site_by_host(const struct wasp_route_binding_set *set, const char *host, size_t n,
	     const struct wasp_route_addr *lap)
{
	const struct wasp_route_site *site = NULL;

	if (n > 0 && n <= WASP_ROUTE_HOST_MAX && set->mask + 1 > 1) {
		uint32_t h = hash_lower(host, n);
		for (uint32_t k = h & set->mask; set->buckets[k].host; k = (k + 1) & set->mask) {
			const struct route_host *b = &set->buckets[k];
			if (b->hash == h && b->len == n && strncasecmp(b->host, host, n) == 0) {
				site = cand_pick(set->cands + b->first, b->count, lap);
				break;
			}
		}
	}
	if (set->n_hexact + set->n_hwild > 0 && n <= WASP_ROUTE_HOST_MAX) {
		/* a worker's table: other pools' hosts as keyed hashes */
		char lc[WASP_ROUTE_HOST_MAX];

		for (size_t k = 0; k < n; k++)
			lc[k] = (char)lower((unsigned char)host[k]);
		if (!site && n > 0) {
			const struct route_hhost *g = hhost_find(set->hexact, set->n_hexact,
								 wasp_siphash24(set->key, lc, n));
			if (g)
				site = cand_pick(set->cands + g->first, g->count, lap);
		}
		if (!site)
			site = wild_lookup_hashed(set, lc, n, lap);
	}
	for (uint32_t k = 0; !site && !set->n_hwild && n <= WASP_ROUTE_HOST_MAX && k < set->n_wild;
	     k++) {
		const struct route_host *w = &set->wild[k];
		if (n > w->len && strncasecmp(host + n - w->len, w->host, w->len) == 0)
			site = cand_pick(set->cands + w->first, w->count, lap);
	}
	return site;
}

int
wasp_route_lookup(const struct wasp_route_socket *s, const struct sockaddr *local,
		  const char *host, size_t host_len, const char *path, size_t path_len,
		  struct wasp_route_result *ret)
{
	const struct wasp_route_binding_set *set = s->bindings;
	const struct wasp_route_site *site = NULL;
	struct wasp_route_addr la;
	const struct wasp_route_addr *lap = NULL;
	char norm[WASP_ROUTE_PATH_MAX];
	size_t norm_len;
	uint16_t port;

	if (!set)
		return -ENOENT;
	if (s->addr.family != AF_UNSPEC && !addr_is_any(&s->addr)) {
		lap = &s->addr;
	} else if (local && addr_from_sockaddr(local, sizeof(struct sockaddr_in6), &la, &port)) {
		lap = &la;
	}

	/* Host bindings first, then those with an empty host. */
	if (host && host_len > 0)
		site = site_by_host(set, host, host_bare_len(host, host_len), lap);
	if (!site && set->any_count > 0)
		site = cand_pick(set->cands + set->any_first, set->any_count, lap);
	if (!site)
		return -ENOENT;

	/* Absolute form ("http://host/x"): the path starts after the authority. */
	if (path_len > 0 && path[0] != '/') {
		const char *e = path_len > 3 ? memmem(path, path_len, "://", 3) : NULL;
		if (e) {
			const char *slash = memchr(e + 3, '/', path_len - (size_t)(e + 3 - path));
			size_t skip = slash ? (size_t)(slash - path) : path_len;
			path += skip;
			path_len -= skip;
		}
	}
	{
		int r = path_normalize(path, path_len, norm, sizeof(norm), &norm_len);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < site->n_apps; i++) {
		if (app_matches(&site->apps[i], norm, norm_len)) {
			if (!site->apps[i].enabled)
				return -ENXIO;
			ret->site = site;
			ret->app = &site->apps[i];
			ret->pool = site->apps[i].pool;
			return 0;
		}
	}
	return -ENXIO;
}

const struct wasp_route_socket *
wasp_route_find_socket(const struct wasp_route_table *t, const struct sockaddr *local,
		       socklen_t local_len)
{
	const struct wasp_route_socket *any = NULL;
	struct wasp_route_addr la;
	uint16_t port;

	if (!t || !local || !addr_from_sockaddr(local, local_len, &la, &port))
		return NULL;
	for (size_t i = 0; i < t->n_sockets; i++) {
		const struct wasp_route_socket *s = &t->sockets[i];
		if (s->port != port || s->id == UINT32_MAX)
			continue;
		if (!addr_is_any(&s->addr) && s->addr.family != AF_UNSPEC) {
			if (addr_eq(&s->addr, &la))
				return s;
		} else if (!any) {
			any = s;
		}
	}
	return any;
}

int
wasp_route_lookup_conn(const struct wasp_route_table *t, const struct sockaddr *local,
		       socklen_t local_len, const char *host, size_t host_len, const char *path,
		       size_t path_len, struct wasp_route_result *ret)
{
	const struct wasp_route_socket *s = wasp_route_find_socket(t, local, local_len);

	if (!s)
		return -ENOENT;
	return wasp_route_lookup(s, local, host, host_len, path, path_len, ret);
}

const struct wasp_route_pool *
wasp_route_pool_by_id(const struct wasp_route_table *t, uint32_t id)
{
	return t && id < t->n_pools ? &t->pools[id] : NULL;
}

const struct wasp_route_pool *
wasp_route_pool_by_name(const struct wasp_route_table *t, const char *name)
{
	for (size_t i = 0; t && i < t->n_pools; i++)
		if (t->pools[i].name && strcmp(t->pools[i].name, name) == 0)
			return &t->pools[i];
	return NULL;
}

const struct wasp_route_site *
wasp_route_site_by_id(const struct wasp_route_table *t, uint32_t id)
{
	for (size_t i = 0; t && i < t->n_sites; i++)
		if (t->sites[i].id == id)
			return &t->sites[i];
	return NULL;
}
