/* A socket's lookup structure built from the parsed bindings (route.c):
 * the candidates sorted, exact hosts in an open-addressing table, wildcard
 * hosts longest suffix first, a worker's hashed hosts grouped by hash. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "table.h"

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

/* Hashed hosts: exact ones before wildcards, then by hash, then as
 * cand_cmp (specific address before "*", then order). */
static int
hcand_cmp(const void *a, const void *b)
{
	const struct pending_binding *x = *(const struct pending_binding *const *)a;
	const struct pending_binding *y = *(const struct pending_binding *const *)b;

	if (x->wild != y->wild)
		return x->wild ? 1 : -1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (addr_is_any(&x->addr) != addr_is_any(&y->addr))
		return addr_is_any(&x->addr) ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

/* The hashed bindings sel[0..n) (sorted by hcand_cmp), whose candidates are
 * set->cands[first..first + n), grouped by hash into set->hexact and
 * set->hwild. */
static int
build_hashed(struct route_table_priv *t, struct wasp_route_binding_set *set,
	     struct pending_binding **sel, size_t n, uint32_t first)
{
	size_t groups = 0;

	for (size_t i = 0; i < n; i++)
		groups += i == 0 || sel[i]->wild != sel[i - 1]->wild ||
			  sel[i]->hash != sel[i - 1]->hash;
	set->hexact = route_table_alloc(t, (groups ? groups : 1) * sizeof(*set->hexact));
	if (!set->hexact)
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		struct route_hhost *g;

		while (j < n && sel[j]->wild == sel[i]->wild && sel[j]->hash == sel[i]->hash)
			j++;
		if (sel[i]->wild && !set->hwild)
			set->hwild = set->hexact + set->n_hexact;
		g = sel[i]->wild ? &set->hwild[set->n_hwild++] : &set->hexact[set->n_hexact++];
		*g = (struct route_hhost){ .hash = sel[i]->hash, .first = first + (uint32_t)i,
					   .count = (uint32_t)(j - i) };
		i = j;
	}
	set->key = t->host_key;
	return 0;
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

/* The bindings of pb[0..nb) that sock serves into sel: the unhashed ones
 * first (*ret_ns of them), then the hashed ones (*ret_n_hashed). */
static void
select_bindings(struct wasp_route_socket *sock, struct pending_binding *pb, size_t nb,
		struct pending_binding **sel, size_t *ret_ns, size_t *ret_n_hashed)
{
	size_t ns = 0, n_hashed = 0, i;

	/* the hashed ones after the others (pass 1), each part sorted its way */
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < nb; i++) {
			struct pending_binding *b = &pb[i];
			if (b->hashed != (pass == 1) || b->port != sock->port ||
			    strcasecmp(b->protocol, sock->protocol) != 0)
				continue;
			if (!addr_is_any(&b->addr) && !addr_is_any(&sock->addr) &&
			    !addr_eq(&b->addr, &sock->addr))
				continue;
			if (!addr_is_any(&b->addr) && addr_is_any(&sock->addr))
				sock->needs_local_addr = true;
			sel[ns + n_hashed] = b;
			if (pass == 0)
				ns++;
			else
				n_hashed++;
		}
	*ret_ns = ns;
	*ret_n_hashed = n_hashed;
}

/* The unhashed candidates sel[0..ns) (sorted by cand_cmp) placed by host:
 * those with no host as the set's "any" run, wildcards in set->wild,
 * exact hosts in the open-addressing set->buckets. */
static void
place_hosts(struct wasp_route_binding_set *set, struct pending_binding **sel, size_t ns)
{
	size_t i;

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
}

/* An https socket's bindings for the certificate choice, in configuration
 * order (sel is that order until sorted). */
static int
build_tls(struct route_table_priv *t, struct wasp_route_socket *sock,
	  struct pending_binding **sel, size_t ns)
{
	struct wasp_route_tls_binding *tb;
	size_t n = 0;

	for (size_t i = 0; i < ns; i++)
		n += sel[i]->tls;
	if (n == 0)
		return 0;
	tb = route_table_alloc(t, n * sizeof(*tb));
	if (!tb)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < ns; i++) {
		if (!sel[i]->tls)
			continue;
		tb[n++] = (struct wasp_route_tls_binding){
			.site = sel[i]->site,
			.host = sel[i]->host,
			.flags = sel[i]->tls_flags,
			.cert = sel[i]->tls_cert,
			.where = sel[i]->tls_where,
			.client_cert = sel[i]->tls_client_cert,
		};
	}
	sock->tls = tb;
	sock->n_tls = n;
	return 0;
}

int
route_build_socket(struct route_table_priv *t, struct wasp_route_socket *sock,
		   struct pending_binding *pb, size_t nb)
{
	struct wasp_route_binding_set *set = route_table_alloc(t, sizeof(*set));
	struct pending_binding **sel = calloc(nb ? nb : 1, sizeof(*sel));
	size_t ns = 0, n_hosts = 0, n_wild = 0, n_hashed = 0, i;
	uint32_t n_buckets = 1;

	if (!set || !sel) {
		free(sel);
		return -ENOMEM;
	}
	select_bindings(sock, pb, nb, sel, &ns, &n_hashed);
	if (build_tls(t, sock, sel, ns) < 0) {
		free(sel);
		return -ENOMEM;
	}
	qsort(sel, ns, sizeof(*sel), cand_cmp);
	qsort(sel + ns, n_hashed, sizeof(*sel), hcand_cmp);
	set->cands = route_table_alloc(t, (ns + n_hashed ? ns + n_hashed : 1) * sizeof(*set->cands));
	if (!set->cands) {
		free(sel);
		return -ENOMEM;
	}
	for (i = 0; i < ns + n_hashed; i++) {
		set->cands[i].addr = sel[i]->addr;
		if (addr_is_any(&sel[i]->addr))
			set->cands[i].addr.family = AF_UNSPEC;
		set->cands[i].site = sel[i]->site;
	}
	if (n_hashed && build_hashed(t, set, sel + ns, n_hashed, (uint32_t)ns) < 0) {
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
	set->buckets = route_table_alloc(t, n_buckets * sizeof(*set->buckets));
	set->wild = route_table_alloc(t, (n_wild ? n_wild : 1) * sizeof(*set->wild));
	if (!set->buckets || !set->wild) {
		free(sel);
		return -ENOMEM;
	}
	set->mask = n_buckets - 1;
	place_hosts(set, sel, ns);
	free(sel);
	if (set->n_wild > 1)
		qsort(set->wild, set->n_wild, sizeof(*set->wild), wild_cmp);
	sock->bindings = set;
	return 0;
}
