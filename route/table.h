/* Shared by route.c (the JSON parsed) and build.c (a socket's lookup
 * structure built from the parsed bindings); not part of route.h's API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "siphash.h"

/* Everything a table owns is in one allocation list, freed at once. */
struct route_alloc {
	struct route_alloc *next;
	_Alignas(16) unsigned char data[];
};

struct route_table_priv {
	struct wasp_route_table pub; /* first: the public view */
	struct route_alloc *allocs;
	uint8_t host_key[WASP_SIPHASH_KEY_SIZE];
	bool has_host_key;
};

/* size bytes, zeroed, owned by the table (freed with it); NULL without
 * memory. */
void *route_table_alloc(struct route_table_priv *t, size_t size);

/* A binding awaiting placement into the per-socket structures. */
struct pending_binding {
	const struct wasp_route_site *site;
	const char *protocol;
	struct wasp_route_addr addr;
	uint16_t port;
	const char *host; /* lower case, no trailing dot, "" = any */
	size_t host_len;
	size_t order; /* config order, the tie-breaker */
	bool hashed; /* "hostHash": host is NULL, hash and wild say it */
	bool tls;    /* "tls" present: tls_flags, tls_cert, tls_where */
	uint32_t tls_flags;
	bool tls_client_cert;
	const char *tls_cert, *tls_where;
	bool wild;
	uint64_t hash;
};

/* sock's binding set from the bindings pb[0..nb) that are its port,
 * protocol and address. */
int route_build_socket(struct route_table_priv *t, struct wasp_route_socket *sock,
		       struct pending_binding *pb, size_t nb);
