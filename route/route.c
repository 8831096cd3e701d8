/* Routing table: parse the activator's JSON into a per-socket structure
 * (lookups: lookup.c). See route.h for the rules. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "internal.h"
#include "table.h"
#include "siphash.h"

void *
route_table_alloc(struct route_table_priv *t, size_t size)
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
	char *p = route_table_alloc(t, n + 1);

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
	pools = route_table_alloc(c->t, n * sizeof(*pools));
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

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Every site id once: sorted, not each against all before it (a table may
 * have 100,000 sites). */
static int
check_site_ids(struct parse_ctx *c, const struct wasp_route_site *sites, size_t n)
{
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));

	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = sites[i].id;
	qsort(ids, n, sizeof(*ids), u32_cmp);
	for (size_t i = 1; i < n; i++)
		if (ids[i] == ids[i - 1]) {
			uint32_t id = ids[i];

			free(ids);
			return fail(c, "site id %llu appears twice", (unsigned long long)id);
		}
	free(ids);
	return 0;
}

static int
hex_value(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi * 16 + lo);
	}
	return 0;
}

/* A binding given as "hostHash" (16 hex digits: wasp_siphash24 with the
 * table's "hostKey" of the host lower-cased, or of a wildcard's ".suffix"
 * when "wildcard" is true) instead of "host". */
static int
parse_host_hash(struct parse_ctx *c, json_t *x, const char *name, struct pending_binding *b)
{
	json_t *h = json_object_get(x, "hostHash"), *w = json_object_get(x, "wildcard");
	uint8_t v[8];

	if (!c->t->has_host_key)
		return fail(c, "site '%s': a binding's hostHash without the table's hostKey", name);
	if (!json_is_string(h) || strlen(json_string_value(h)) != 16 ||
	    hex_value(json_string_value(h), 8, v) < 0)
		return fail(c, "site '%s': hostHash is not 16 hex digits", name);
	if (w && !json_is_boolean(w))
		return fail(c, "site '%s': \"wildcard\" is not a boolean", name);
	b->hashed = true;
	b->wild = json_is_true(w);
	b->hash = 0;
	for (size_t i = 0; i < 8; i++)
		b->hash = b->hash << 8 | v[i];
	b->host = "";
	b->host_len = 0;
	return 0;
}

/* "hostKey": 32 hex digits, the key of the bindings' "hostHash". */
static int
parse_host_key(struct parse_ctx *c, json_t *root)
{
	json_t *k = json_object_get(root, "hostKey");

	if (!k)
		return 0;
	if (!json_is_string(k) || strlen(json_string_value(k)) != 2 * WASP_SIPHASH_KEY_SIZE ||
	    hex_value(json_string_value(k), WASP_SIPHASH_KEY_SIZE, c->t->host_key) < 0)
		return fail(c, "\"hostKey\" is not %d hex digits", 2 * WASP_SIPHASH_KEY_SIZE);
	c->t->has_host_key = true;
	return 0;
}

/* A site's "apps": each path normalised and its pool found, sorted for
 * the lookup (longest path first), no path twice. */
/* Is protocol in list ("http,tcp": IIS's enabledProtocols, commas, blanks
 * around names ignored, case-insensitive)? */
static bool
protocol_listed(const char *list, const char *protocol)
{
	size_t n = strlen(protocol);

	for (const char *p = list; *p;) {
		const char *e = strchrnul(p, ',');
		const char *b = p;

		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - b) == n && strncasecmp(b, protocol, n) == 0)
			return true;
		p = strchrnul(p, ',');
		if (*p)
			p++;
	}
	return false;
}

static int
parse_site_apps(struct parse_ctx *c, json_t *s, struct wasp_route_site *site, const char *name,
		const char *protocol)
{
	const char *protos;
	json_t *apps, *x;
	struct wasp_route_app *a;
	size_t k;
	int r;

	apps = json_object_get(s, "apps");
	if (!json_is_array(apps))
		return fail(c, "site '%s': \"apps\" is missing or not an array", name);
	a = route_table_alloc(c->t, json_array_size(apps) * sizeof(*a));
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
		if ((r = get_str(c, x, "application", "protocols", false, "http", &protos)) < 0)
			return r;
		a[k].enabled = protocol_listed(protos, protocol ? protocol : "http");
	}
	site->n_apps = json_array_size(apps);
	qsort(a, site->n_apps, sizeof(*a), app_cmp);
	for (k = 1; k < site->n_apps; k++)
		if (a[k].path_len == a[k - 1].path_len &&
		    strcasecmp(a[k].path, a[k - 1].path) == 0)
			return fail(c, "site '%s': application \"%s\" appears twice", name,
				    a[k].path);
	site->apps = a;
	return 0;
}

bool
wasp_route_protocol_serves(const char *protocol, const char *proto)
{
	return strcasecmp(protocol, proto) == 0 ||
	       (strcasecmp(protocol, "http") == 0 && strcasecmp(proto, "https") == 0);
}

static int
table_str(struct parse_ctx *c, const char *s, const char **ret)
{
	*ret = s ? table_strndup(c->t, s, strlen(s)) : NULL;
	return s && !*ret ? -ENOMEM : 0;
}

/* A binding's "tls" (https: {"flags":N,"cert":PATH,"where":"FILE:LINE"}). */
static int
parse_binding_tls(struct parse_ctx *c, json_t *x, const char *name, struct pending_binding *b)
{
	json_t *t = json_object_get(x, "tls");
	const char *cert, *where;
	uint64_t flags;
	int r;

	b->tls = false;
	if (!t)
		return 0;
	if (!json_is_object(t))
		return fail(c, "site '%s': a binding's \"tls\" is not an object", name);
	if ((r = get_uint(c, t, "binding tls", "flags", false, UINT32_MAX, 0, &flags)) < 0 ||
	    (r = get_str(c, t, "binding tls", "cert", false, NULL, &cert)) < 0 ||
	    (r = get_str(c, t, "binding tls", "where", false, "", &where)) < 0 ||
	    (r = table_str(c, cert, &b->tls_cert)) < 0 || (r = table_str(c, where, &b->tls_where)) < 0)
		return r;
	b->tls = true;
	b->tls_flags = (uint32_t)flags;
	b->tls_client_cert = json_is_true(json_object_get(t, "clientCert"));
	return 0;
}

/* The table's "tls" (absent: no https sockets, nothing configured). */
static int
parse_tls(struct parse_ctx *c, json_t *root)
{
	json_t *t = json_object_get(root, "tls");
	struct wasp_route_tls *o = &c->t->pub.tls;
	const char *pw = "", *ca = "", *ccs = NULL, *ccs_pw = "", *seed = "";
	int r;

	if (t && !json_is_object(t))
		return fail(c, "\"tls\" is not an object");
	if (t && ((r = get_str(c, t, "tls", "pfxPassword", false, "", &pw)) < 0 ||
		  (r = get_str(c, t, "tls", "caFile", false, "", &ca)) < 0 ||
		  (r = get_str(c, t, "tls", "ccsPath", false, NULL, &ccs)) < 0 ||
		  (r = get_str(c, t, "tls", "ccsPassword", false, "", &ccs_pw)) < 0 ||
		  (r = get_str(c, t, "tls", "ticketSeed", false, "", &seed)) < 0))
		return r;
	if ((r = table_str(c, pw, &o->pfx_password)) < 0 || (r = table_str(c, ca, &o->ca_file)) < 0 ||
	    (r = table_str(c, ccs, &o->ccs_path)) < 0 ||
	    (r = table_str(c, ccs_pw, &o->ccs_password)) < 0 ||
	    (r = table_str(c, seed, &o->ticket_seed)) < 0)
		return r;
	/* kernel TLS where the kernel offers it; only an explicit false turns it off */
	o->ktls = !t || !json_is_false(json_object_get(t, "kernelTls"));
	return 0;
}

/* A site's "bindings" of the protocol (all when protocol is NULL) appended
 * at pb[*nb]: hosts lower case without a trailing dot. */
static int
parse_site_bindings(struct parse_ctx *c, json_t *s, const struct wasp_route_site *site,
		    const char *name, const char *protocol, struct pending_binding *pb, size_t *nb)
{
	json_t *bindings, *x;
	size_t k;
	int r;

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
		if (protocol && !wasp_route_protocol_serves(protocol, proto))
			continue;
		if ((r = parse_binding_tls(c, x, name, &pb[*nb])) < 0)
			return r;
		pb[*nb].site = site;
		pb[*nb].protocol = proto;
		pb[*nb].port = (uint16_t)port;
		pb[*nb].order = *nb;
		if (addr_parse(addr, &pb[*nb].addr) < 0)
			return fail(c, "site '%s': binding address \"%s\" is not valid", name,
				    addr);
		if (json_object_get(x, "hostHash")) {
			if ((r = parse_host_hash(c, x, name, &pb[*nb])) < 0)
				return r;
			(*nb)++;
			continue;
		}
		hl = strlen(host);
		if (hl > 0 && host[hl - 1] == '.')
			hl--;
		if (hl > WASP_ROUTE_HOST_MAX)
			return fail(c, "site '%s': binding host is too long", name);
		if (!(h = table_strndup(c->t, host, hl)))
			return -ENOMEM;
		for (size_t j = 0; j < hl; j++)
			h[j] = (char)lower((unsigned char)h[j]);
		pb[*nb].host = h;
		pb[*nb].host_len = hl;
		(*nb)++;
	}
	return 0;
}

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
	sites = route_table_alloc(c->t, n * sizeof(*sites));
	pb = route_table_alloc(c->t, nb_alloc * sizeof(*pb));
	if (!sites || !pb)
		return -ENOMEM;
	json_array_foreach(arr, i, s) {
		struct wasp_route_site *site = &sites[i];
		uint64_t id, ct, mc;
		const char *name;

		if (!json_is_object(s))
			return fail(c, "sites[%zu] is not an object", i);
		if ((r = get_uint(c, s, "site", "id", true, UINT32_MAX, 0, &id)) < 0 ||
		    (r = get_str(c, s, "site", "name", false, "", &name)) < 0 ||
		    (r = get_uint(c, s, "site", "connectionTimeoutMs", false, UINT32_MAX, 120000,
				  &ct)) < 0 ||
		    (r = get_uint(c, s, "site", "maxConnections", false, UINT32_MAX, 0, &mc)) < 0)
			return r;
		site->id = (uint32_t)id;
		site->index = (uint32_t)i;
		if (!(site->name = table_strndup(c->t, name, strlen(name))))
			return -ENOMEM;
		site->connection_timeout_ms = (uint32_t)ct;
		site->max_connections = (uint32_t)mc;

		if ((r = parse_site_apps(c, s, site, name, protocol)) < 0 ||
		    (r = parse_site_bindings(c, s, site, name, protocol, pb, &nb)) < 0)
			return r;
	}
	if ((r = check_site_ids(c, sites, n)) < 0)
		return r;
	c->t->pub.sites = sites;
	c->t->pub.n_sites = n;
	*ret_b = pb;
	*ret_nb = nb;
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
	socks = route_table_alloc(c->t, n * sizeof(*socks));
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
		if (protocol && !wasp_route_protocol_serves(protocol, proto)) {
			sock->bindings = route_table_alloc(c->t, sizeof(struct wasp_route_binding_set));
			if (!sock->bindings)
				return -ENOMEM;
			continue;
		}
		if ((r = route_build_socket(c->t, sock, pb, nb)) < 0)
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
	    (r = parse_host_key(&c, root)) < 0 || (r = parse_tls(&c, root)) < 0 ||
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
