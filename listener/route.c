/* Routing table: parse the activator's JSON into a per-socket structure and
 * look routes up without allocating. See route.h for the rules. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "route.h"

/* One binding as seen from one socket. */
struct route_cand {
	struct wasp_route_addr addr; /* AF_UNSPEC: "*" */
	const struct wasp_route_site *site;
};

/* Bindings that name one host; a bucket of the open-addressing hash. */
struct route_host {
	const char *host; /* lower case; NULL: empty bucket */
	uint32_t len;
	uint32_t hash;
	uint32_t first, count; /* range in cands: specific addresses first */
};

struct wasp_route_binding_set {
	struct route_host *buckets;
	uint32_t mask; /* n_buckets - 1 (power of two), 0 when no host bindings */
	struct route_cand *cands;
	uint32_t any_first, any_count; /* bindings with an empty host */
	/* Wildcard hosts ("*.example.com", IIS 10): host is the suffix
	 * ".example.com"; longest first. */
	struct route_host *wild;
	uint32_t n_wild;
};

/* Everything a table owns is in one allocation list, freed at once. */
struct route_alloc {
	struct route_alloc *next;
	_Alignas(16) unsigned char data[];
};

struct route_table_priv {
	struct wasp_route_table pub; /* first: the public view */
	struct route_alloc *allocs;
};

static void *
table_alloc(struct route_table_priv *t, size_t size)
{
	struct route_alloc *a = calloc(1, sizeof(*a) + (size ? size : 1));

	if (!a)
		return NULL;
	a->next = t->allocs;
	t->allocs = a;
	return a->data;
}

static char *
table_strndup(struct route_table_priv *t, const char *s, size_t n)
{
	char *p = table_alloc(t, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

struct wasp_route_table *
wasp_route_table_free(struct wasp_route_table *pub)
{
	struct route_table_priv *t = (struct route_table_priv *)pub;

	if (!t)
		return NULL;
	while (t->allocs) {
		struct route_alloc *a = t->allocs;
		t->allocs = a->next;
		free(a);
	}
	free(t);
	return NULL;
}

static inline unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline uint32_t
hash_lower(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= lower((unsigned char)s[i]);
		h *= 16777619u;
	}
	return h;
}

/* Parse "*", "", "1.2.3.4", "::1" or "[::1]". */
static int
addr_parse(const char *s, struct wasp_route_addr *ret)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	memset(ret, 0, sizeof(*ret));
	if (n == 0 || strcmp(s, "*") == 0)
		return 0;
	if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, ret->bytes) == 1) {
		ret->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, ret->bytes) == 1) {
		ret->family = AF_INET6;
		/* ::ffff:a.b.c.d counts as IPv4, the same as a local address. */
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(ret->bytes, mapped, 12) == 0) {
			memmove(ret->bytes, ret->bytes + 12, 4);
			memset(ret->bytes + 4, 0, 12);
			ret->family = AF_INET;
		}
		/* "0.0.0.0" / "::" mean any address too. */
		return 0;
	}
	return -EINVAL;
}

static bool
addr_is_any(const struct wasp_route_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == AF_UNSPEC)
		return true;
	return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static bool
addr_eq(const struct wasp_route_addr *a, const struct wasp_route_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

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

/* ---- parsing ------------------------------------------------------------ */

struct parse_ctx {
	struct route_table_priv *t;
	char *err;
	size_t errlen;
};

static void __attribute__((format(printf, 2, 3)))
fail_msg(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
}

/* -EINVAL with the message; a macro so that the compiler sees the value
 * (a variadic function is never inlined: without it, an optimized build
 * warns that the callers' outputs may be used uninitialized). */
#define fail(c, ...) (fail_msg((c), __VA_ARGS__), -EINVAL)

static int
get_uint(struct parse_ctx *c, json_t *obj, const char *what, const char *key, bool required,
	 uint64_t max, uint64_t def, uint64_t *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (required)
			return fail(c, "%s: missing \"%s\"", what, key);
		*ret = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return fail(c, "%s: \"%s\" is not an integer in 0..%llu", what, key,
			    (unsigned long long)max);
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int
get_str(struct parse_ctx *c, json_t *obj, const char *what, const char *key, bool required,
	const char *def, const char **ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (required)
			return fail(c, "%s: missing \"%s\"", what, key);
		*ret = def;
		return 0;
	}
	if (!json_is_string(v))
		return fail(c, "%s: \"%s\" is not a string", what, key);
	*ret = json_string_value(v);
	return 0;
}

static json_t *
get_array(struct parse_ctx *c, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_array(v)) {
		(void)fail(c, "\"%s\" is missing or not an array", key);
		return NULL;
	}
	return v;
}

static const char *const pool_states[] = { "Starting", "Started", "Stopping", "Stopped" };

static int
parse_pools(struct parse_ctx *c, json_t *root)
{
	json_t *arr = get_array(c, root, "pools"), *p;
	struct wasp_route_pool *pools;
	size_t i, n;
	int r;

	if (!arr)
		return -EINVAL;
	n = json_array_size(arr);
	pools = table_alloc(c->t, n * sizeof(*pools));
	if (!pools)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		pools[i].id = UINT32_MAX;
	json_array_foreach(arr, i, p) {
		uint64_t id, ql, st, mp;
		const char *name, *state, *lb;
		struct wasp_route_pool *pool;

		if (!json_is_object(p))
			return fail(c, "pools[%zu] is not an object", i);
		if ((r = get_uint(c, p, "pool", "id", true, n - 1, 0, &id)) < 0 ||
		    (r = get_str(c, p, "pool", "name", true, NULL, &name)) < 0 ||
		    (r = get_str(c, p, "pool", "state", false, "Started", &state)) < 0 ||
		    (r = get_uint(c, p, "pool", "queueLength", false, UINT32_MAX, 1000, &ql)) < 0 ||
		    (r = get_str(c, p, "pool", "loadBalancerCapabilities", false, "HttpLevel",
				 &lb)) < 0 ||
		    (r = get_uint(c, p, "pool", "startupTimeLimitMs", false, UINT32_MAX, 90000,
				  &st)) < 0 ||
		    (r = get_uint(c, p, "pool", "maxProcesses", false, UINT32_MAX, 1, &mp)) < 0)
			return r;
		pool = &pools[id];
		if (pool->id != UINT32_MAX)
			return fail(c, "pool id %llu appears twice", (unsigned long long)id);
		pool->id = (uint32_t)id;
		if (!(pool->name = table_strndup(c->t, name, strlen(name))))
			return -ENOMEM;
		pool->state = UINT32_MAX;
		for (size_t k = 0; k < 4; k++)
			if (strcasecmp(state, pool_states[k]) == 0)
				pool->state = (uint32_t)k;
		if (pool->state == UINT32_MAX)
			return fail(c, "pool '%s': unknown state \"%s\"", name, state);
		if (strcasecmp(lb, "HttpLevel") == 0)
			pool->lb = WASP_ROUTE_LB_HTTP;
		else if (strcasecmp(lb, "TcpLevel") == 0)
			pool->lb = WASP_ROUTE_LB_TCP;
		else
			return fail(c, "pool '%s': unknown loadBalancerCapabilities \"%s\"", name,
				    lb);
		pool->queue_length = (uint32_t)ql;
		pool->startup_time_limit_ms = (uint32_t)st;
		pool->max_processes = (uint32_t)mp;
	}
	for (i = 0; i < n; i++)
		if (pools[i].id == UINT32_MAX)
			return fail(c, "pool ids are not 0..%zu", n - 1);
	c->t->pub.pools = pools;
	c->t->pub.n_pools = n;
	return 0;
}

/* Normalise an application path: leading '/', no trailing '/' (but "/"). */
static int
app_path_norm(struct parse_ctx *c, const char *in, const char **ret, size_t *ret_len)
{
	size_t n = strlen(in);
	char *p;

	while (n > 1 && in[n - 1] == '/')
		n--;
	if (n == 0 || in[0] != '/')
		return fail(c, "application path \"%s\" does not start with '/'", in);
	if (!(p = table_strndup(c->t, in, n)))
		return -ENOMEM;
	*ret = p;
	*ret_len = n;
	return 0;
}

static int
app_cmp(const void *a, const void *b)
{
	const struct wasp_route_app *x = a, *y = b;

	if (x->path_len != y->path_len)
		return x->path_len > y->path_len ? -1 : 1;
	return strcasecmp(x->path, y->path);
}

/* A binding awaiting placement into the per-socket structures. */
struct pending_binding {
	const struct wasp_route_site *site;
	const char *protocol;
	struct wasp_route_addr addr;
	uint16_t port;
	const char *host; /* lower case, no trailing dot, "" = any */
	size_t host_len;
	size_t order; /* config order, the tie-breaker */
};

static int
parse_sites(struct parse_ctx *c, json_t *root, const char *protocol,
	    struct pending_binding **ret_b, size_t *ret_nb)
{
	json_t *arr = get_array(c, root, "sites"), *s;
	struct wasp_route_site *sites;
	struct pending_binding *pb;
	size_t i, n, nb = 0, nb_alloc = 0;
	int r;

	if (!arr)
		return -EINVAL;
	n = json_array_size(arr);
	json_array_foreach(arr, i, s) {
		json_t *b = json_object_get(s, "bindings");
		nb_alloc += json_is_array(b) ? json_array_size(b) : 0;
	}
	sites = table_alloc(c->t, n * sizeof(*sites));
	pb = table_alloc(c->t, nb_alloc * sizeof(*pb));
	if (!sites || !pb)
		return -ENOMEM;
	json_array_foreach(arr, i, s) {
		struct wasp_route_site *site = &sites[i];
		json_t *bindings, *apps, *x;
		struct wasp_route_app *a;
		uint64_t id, ct, mc;
		const char *name;
		size_t k;

		if (!json_is_object(s))
			return fail(c, "sites[%zu] is not an object", i);
		if ((r = get_uint(c, s, "site", "id", true, UINT32_MAX, 0, &id)) < 0 ||
		    (r = get_str(c, s, "site", "name", false, "", &name)) < 0 ||
		    (r = get_uint(c, s, "site", "connectionTimeoutMs", false, UINT32_MAX, 120000,
				  &ct)) < 0 ||
		    (r = get_uint(c, s, "site", "maxConnections", false, UINT32_MAX, 0, &mc)) < 0)
			return r;
		for (k = 0; k < i; k++)
			if (sites[k].id == id)
				return fail(c, "site id %llu appears twice", (unsigned long long)id);
		site->id = (uint32_t)id;
		site->index = (uint32_t)i;
		if (!(site->name = table_strndup(c->t, name, strlen(name))))
			return -ENOMEM;
		site->connection_timeout_ms = (uint32_t)ct;
		site->max_connections = (uint32_t)mc;

		apps = json_object_get(s, "apps");
		if (!json_is_array(apps))
			return fail(c, "site '%s': \"apps\" is missing or not an array", name);
		a = table_alloc(c->t, json_array_size(apps) * sizeof(*a));
		if (!a)
			return -ENOMEM;
		json_array_foreach(apps, k, x) {
			const char *path;
			uint64_t pool;

			if (!json_is_object(x))
				return fail(c, "site '%s': apps[%zu] is not an object", name, k);
			if ((r = get_str(c, x, "application", "path", true, NULL, &path)) < 0 ||
			    (r = app_path_norm(c, path, &a[k].path, &a[k].path_len)) < 0)
				return r;
			if ((r = get_uint(c, x, "application", "pool", true, UINT32_MAX, 0, &pool)) <
			    0)
				return r;
			if (pool >= c->t->pub.n_pools)
				return fail(c, "site '%s' application \"%s\": no pool %llu", name,
					    path, (unsigned long long)pool);
			a[k].pool = &c->t->pub.pools[pool];
		}
		site->n_apps = json_array_size(apps);
		qsort(a, site->n_apps, sizeof(*a), app_cmp);
		for (k = 1; k < site->n_apps; k++)
			if (a[k].path_len == a[k - 1].path_len &&
			    strcasecmp(a[k].path, a[k - 1].path) == 0)
				return fail(c, "site '%s': application \"%s\" appears twice", name,
					    a[k].path);
		site->apps = a;

		bindings = json_object_get(s, "bindings");
		if (!json_is_array(bindings))
			return fail(c, "site '%s': \"bindings\" is missing or not an array", name);
		json_array_foreach(bindings, k, x) {
			const char *proto, *addr, *host;
			uint64_t port;
			size_t hl;
			char *h;

			if (!json_is_object(x))
				return fail(c, "site '%s': bindings[%zu] is not an object", name, k);
			if ((r = get_str(c, x, "binding", "protocol", false, "http", &proto)) < 0 ||
			    (r = get_str(c, x, "binding", "address", false, "*", &addr)) < 0 ||
			    (r = get_uint(c, x, "binding", "port", true, 65535, 0, &port)) < 0 ||
			    (r = get_str(c, x, "binding", "host", false, "", &host)) < 0)
				return r;
			if (protocol && strcasecmp(proto, protocol) != 0)
				continue;
			pb[nb].site = site;
			pb[nb].protocol = proto;
			pb[nb].port = (uint16_t)port;
			pb[nb].order = nb;
			if (addr_parse(addr, &pb[nb].addr) < 0)
				return fail(c, "site '%s': binding address \"%s\" is not valid", name,
					    addr);
			hl = strlen(host);
			if (hl > 0 && host[hl - 1] == '.')
				hl--;
			if (hl > WASP_ROUTE_HOST_MAX)
				return fail(c, "site '%s': binding host is too long", name);
			if (!(h = table_strndup(c->t, host, hl)))
				return -ENOMEM;
			for (size_t j = 0; j < hl; j++)
				h[j] = (char)lower((unsigned char)h[j]);
			pb[nb].host = h;
			pb[nb].host_len = hl;
			nb++;
		}
	}
	c->t->pub.sites = sites;
	c->t->pub.n_sites = n;
	*ret_b = pb;
	*ret_nb = nb;
	return 0;
}

/* Host (shorter first, then bytes), then specific address before "*", then
 * config order. */
static int
cand_cmp(const void *a, const void *b)
{
	const struct pending_binding *x = *(const struct pending_binding *const *)a;
	const struct pending_binding *y = *(const struct pending_binding *const *)b;
	int r;

	if (x->host_len != y->host_len)
		return x->host_len < y->host_len ? -1 : 1;
	if ((r = memcmp(x->host, y->host, x->host_len)) != 0)
		return r;
	if (addr_is_any(&x->addr) != addr_is_any(&y->addr))
		return addr_is_any(&x->addr) ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

/* "*.example.com": IIS 10's wildcard host header, any name under the domain.
 * A '*' elsewhere is no wildcard (the host is taken literally and matches
 * no Host a client can send). */
static bool
host_is_wildcard(const char *host, size_t len)
{
	return len > 2 && host[0] == '*' && host[1] == '.' && !memchr(host + 1, '*', len - 1);
}

/* Longest suffix first: the most specific wildcard wins. */
static int
wild_cmp(const void *a, const void *b)
{
	const struct route_host *x = a, *y = b;

	return x->len != y->len ? (x->len > y->len ? -1 : 1) : 0;
}

static int
build_socket(struct parse_ctx *c, struct wasp_route_socket *sock, struct pending_binding *pb,
	     size_t nb)
{
	struct wasp_route_binding_set *set = table_alloc(c->t, sizeof(*set));
	struct pending_binding **sel = calloc(nb ? nb : 1, sizeof(*sel));
	size_t ns = 0, n_hosts = 0, n_wild = 0, i;
	uint32_t n_buckets = 1;

	if (!set || !sel) {
		free(sel);
		return -ENOMEM;
	}
	for (i = 0; i < nb; i++) {
		struct pending_binding *b = &pb[i];
		if (b->port != sock->port || strcasecmp(b->protocol, sock->protocol) != 0)
			continue;
		if (!addr_is_any(&b->addr) && !addr_is_any(&sock->addr) &&
		    !addr_eq(&b->addr, &sock->addr))
			continue;
		if (!addr_is_any(&b->addr) && addr_is_any(&sock->addr))
			sock->needs_local_addr = true;
		sel[ns++] = b;
	}
	qsort(sel, ns, sizeof(*sel), cand_cmp);
	set->cands = table_alloc(c->t, (ns ? ns : 1) * sizeof(*set->cands));
	if (!set->cands) {
		free(sel);
		return -ENOMEM;
	}
	for (i = 0; i < ns; i++) {
		set->cands[i].addr = sel[i]->addr;
		if (addr_is_any(&sel[i]->addr))
			set->cands[i].addr.family = AF_UNSPEC;
		set->cands[i].site = sel[i]->site;
		if (sel[i]->host_len > 0 &&
		    (i == 0 || sel[i - 1]->host_len != sel[i]->host_len ||
		     memcmp(sel[i - 1]->host, sel[i]->host, sel[i]->host_len) != 0)) {
			if (host_is_wildcard(sel[i]->host, sel[i]->host_len))
				n_wild++;
			else
				n_hosts++;
		}
	}
	while (n_buckets < n_hosts * 2)
		n_buckets <<= 1;
	set->buckets = table_alloc(c->t, n_buckets * sizeof(*set->buckets));
	set->wild = table_alloc(c->t, (n_wild ? n_wild : 1) * sizeof(*set->wild));
	if (!set->buckets || !set->wild) {
		free(sel);
		return -ENOMEM;
	}
	set->mask = n_buckets - 1;
	for (i = 0; i < ns;) {
		size_t j = i + 1;
		while (j < ns && sel[j]->host_len == sel[i]->host_len &&
		       memcmp(sel[j]->host, sel[i]->host, sel[i]->host_len) == 0)
			j++;
		if (sel[i]->host_len == 0) {
			set->any_first = (uint32_t)i;
			set->any_count = (uint32_t)(j - i);
		} else if (host_is_wildcard(sel[i]->host, sel[i]->host_len)) {
			set->wild[set->n_wild++] = (struct route_host){
				.host = sel[i]->host + 1, /* ".example.com" */
				.len = (uint32_t)sel[i]->host_len - 1,
				.first = (uint32_t)i,
				.count = (uint32_t)(j - i),
			};
		} else {
			uint32_t h = hash_lower(sel[i]->host, sel[i]->host_len);
			uint32_t k = h & set->mask;
			while (set->buckets[k].host)
				k = (k + 1) & set->mask;
			set->buckets[k] = (struct route_host){
				.host = sel[i]->host,
				.len = (uint32_t)sel[i]->host_len,
				.hash = h,
				.first = (uint32_t)i,
				.count = (uint32_t)(j - i),
			};
		}
		i = j;
	}
	free(sel);
	if (set->n_wild > 1)
		qsort(set->wild, set->n_wild, sizeof(*set->wild), wild_cmp);
	sock->bindings = set;
	return 0;
}

static int
parse_sockets(struct parse_ctx *c, json_t *root, const char *protocol, struct pending_binding *pb,
	      size_t nb)
{
	json_t *arr = get_array(c, root, "sockets"), *s;
	struct wasp_route_socket *socks;
	size_t i, n;
	int r;

	if (!arr)
		return -EINVAL;
	n = json_array_size(arr);
	socks = table_alloc(c->t, n * sizeof(*socks));
	if (!socks)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		socks[i].id = UINT32_MAX;
	/* find_socket and lookup read these while parsing is incomplete */
	c->t->pub.sockets = socks;
	json_array_foreach(arr, i, s) {
		const char *proto, *addr;
		uint64_t id, port;
		struct wasp_route_socket *sock;

		if (!json_is_object(s))
			return fail(c, "sockets[%zu] is not an object", i);
		if ((r = get_uint(c, s, "socket", "id", true, n - 1, 0, &id)) < 0 ||
		    (r = get_str(c, s, "socket", "protocol", false, "http", &proto)) < 0 ||
		    (r = get_str(c, s, "socket", "address", false, "*", &addr)) < 0 ||
		    (r = get_uint(c, s, "socket", "port", true, 65535, 0, &port)) < 0)
			return r;
		sock = &socks[id];
		if (sock->id != UINT32_MAX)
			return fail(c, "socket id %llu appears twice", (unsigned long long)id);
		sock->id = (uint32_t)id;
		if (!(sock->protocol = table_strndup(c->t, proto, strlen(proto))))
			return -ENOMEM;
		sock->port = (uint16_t)port;
		if (addr_parse(addr, &sock->addr) < 0)
			return fail(c, "socket %llu: address \"%s\" is not valid",
				    (unsigned long long)id, addr);
		if (addr_is_any(&sock->addr))
			sock->addr.family = sock->addr.family == AF_INET6 ? AF_INET6 : AF_UNSPEC;
		/* Another protocol's socket: keep its slot (ids index the array),
		 * with no bindings. */
		if (protocol && strcasecmp(proto, protocol) != 0) {
			sock->bindings = table_alloc(c->t, sizeof(struct wasp_route_binding_set));
			if (!sock->bindings)
				return -ENOMEM;
			continue;
		}
		if ((r = build_socket(c, sock, pb, nb)) < 0)
			return r;
	}
	for (i = 0; i < n; i++)
		if (socks[i].id == UINT32_MAX)
			return fail(c, "socket ids are not 0..%zu", n - 1);
	c->t->pub.n_sockets = n;
	return 0;
}

int
wasp_route_table_parse(const char *json, size_t len, const char *protocol,
		       struct wasp_route_table **ret_table, char *err, size_t errlen)
{
	struct route_table_priv *t = calloc(1, sizeof(*t));
	struct parse_ctx c = { .t = t, .err = err, .errlen = errlen };
	struct pending_binding *pb = NULL;
	json_error_t jerr;
	json_t *root;
	uint64_t gen, header_wait, per_client;
	size_t nb = 0;
	int r;

	if (errlen > 0)
		err[0] = 0;
	if (!t)
		return -ENOMEM;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		r = fail(&c, "line %d: %s", jerr.line, jerr.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		r = fail(&c, "the routing table is not a JSON object");
		goto fail;
	}
	if ((r = get_uint(&c, root, "table", "generation", false, UINT32_MAX, 0, &gen)) < 0 ||
	    (r = get_uint(&c, root, "table", "headerWaitTimeoutMs", false,
			  WASP_ROUTE_MAX_HEADER_WAIT_MS, 0, &header_wait)) < 0 ||
	    (r = get_uint(&c, root, "table", "maxConnectionsPerClient", false, UINT32_MAX, 0,
			  &per_client)) < 0 ||
	    (r = parse_pools(&c, root)) < 0 || (r = parse_sites(&c, root, protocol, &pb, &nb)) < 0 ||
	    (r = parse_sockets(&c, root, protocol, pb, nb)) < 0)
		goto fail;
	t->pub.generation = (uint32_t)gen;
	t->pub.header_wait_ms = (uint32_t)header_wait;
	t->pub.max_per_client = (uint32_t)per_client;
	json_decref(root);
	*ret_table = &t->pub;
	return 0;
fail:
	if (r == -ENOMEM && errlen > 0)
		(void)snprintf(err, errlen, "out of memory");
	json_decref(root);
	wasp_route_table_free(&t->pub);
	return r;
}

/* ---- lookup -------------------------------------------------------------- */

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

static inline int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
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

	/* Host: strip ":port" (after "]" for an IPv6 literal) and one trailing
	 * dot. Exact host bindings first, then wildcard ones (longest suffix
	 * first), then those with an empty host: HTTP.sys's order. */
	if (host && host_len > 0) {
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
		if (n > 0 && n <= WASP_ROUTE_HOST_MAX && set->mask + 1 > 1) {
			uint32_t h = hash_lower(host, n);
			for (uint32_t k = h & set->mask; set->buckets[k].host;
			     k = (k + 1) & set->mask) {
				const struct route_host *b = &set->buckets[k];
				if (b->hash == h && b->len == n && strncasecmp(b->host, host, n) == 0) {
					site = cand_pick(set->cands + b->first, b->count, lap);
					break;
				}
			}
		}
		for (uint32_t k = 0; !site && n <= WASP_ROUTE_HOST_MAX && k < set->n_wild; k++) {
			const struct route_host *w = &set->wild[k];
			if (n > w->len && strncasecmp(host + n - w->len, w->host, w->len) == 0)
				site = cand_pick(set->cands + w->first, w->count, lap);
		}
	}
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
