/* What the routing table's files (route.c: parsing; lookup.c: lookups)
 * share: the per-socket binding structure and the comparisons both make.
 * Not for users of the table: they have route.h. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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

/* Bindings whose host the table gives only as a keyed hash ("hostHash",
 * a worker's table: another pool's host names); sorted by hash. */
struct route_hhost {
	uint64_t hash; /* wasp_siphash24(key, host lower-cased); a wildcard's of ".suffix" */
	uint32_t first, count;
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
	struct route_hhost *hexact, *hwild;
	uint32_t n_hexact, n_hwild;
	const uint8_t *key; /* the table's hostKey, when it has hashed hosts */
};

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

static inline bool
addr_is_any(const struct wasp_route_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == AF_UNSPEC)
		return true;
	return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static inline bool
addr_eq(const struct wasp_route_addr *a, const struct wasp_route_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}
