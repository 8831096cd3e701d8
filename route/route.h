/* The routing table an adapter (and a worker, for its keep-alive hand-back
 * decision) routes connections with: bindings -> site -> application -> pool,
 * parsed once per generation from the activator's JSON
 * (docs/adapter-protocol.md) into a per-socket lookup structure, so that a
 * lookup allocates nothing and takes a hash probe plus a short scan.
 *
 * Self-contained: depends only on libc and jansson (in route.c). Library
 * code: does not log; parse errors come back as text. One table is used by
 * one thread; a new generation is a new table (swap the pointer, free the
 * old one once nothing refers to it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define WASP_ROUTE_HOST_MAX 255 /* longest Host (port stripped) that can match a binding */
#define WASP_ROUTE_PATH_MAX 8192 /* longest request path (decoded) a lookup takes */
#define WASP_ROUTE_MAX_HEADER_WAIT_MS 86400000 /* headerWaitTimeout's schema max, 1 day */

/* Values of wasp_route_pool.state: the same numbers as enum wasp_pool_state
 * in common/msg.h (Starting, Started, Stopping, Stopped). */
#define WASP_ROUTE_POOL_STARTING 0
#define WASP_ROUTE_POOL_STARTED 1
#define WASP_ROUTE_POOL_STOPPING 2
#define WASP_ROUTE_POOL_STOPPED 3

enum wasp_route_lb {
	WASP_ROUTE_LB_HTTP = 0, /* loadBalancerCapabilities="HttpLevel": 503 */
	WASP_ROUTE_LB_TCP = 1,  /* "TcpLevel": reset the connection */
};

struct wasp_route_pool {
	uint32_t id; /* index in wasp_route_table.pools */
	const char *name;
	uint32_t state; /* WASP_ROUTE_POOL_* as the table had it */
	uint32_t queue_length;
	enum wasp_route_lb lb;
	uint32_t startup_time_limit_ms;
	uint32_t max_processes;
};

struct wasp_route_app {
	const char *path; /* "/" or "/a/b" (no trailing slash) */
	size_t path_len;
	const struct wasp_route_pool *pool;
	/* enabledProtocols names the table's protocol (http for a table
	 * parsed for every protocol: a worker's, which routes HTTP) */
	bool enabled;
};

struct wasp_route_site {
	uint32_t id; /* the IIS site id */
	uint32_t index; /* index in wasp_route_table.sites */
	const char *name;
	const struct wasp_route_app *apps; /* longest path first */
	size_t n_apps;
	uint32_t connection_timeout_ms;
	uint32_t max_connections; /* 0 = unlimited */
};

struct wasp_route_addr {
	uint8_t family; /* AF_INET, AF_INET6, or AF_UNSPEC for "*" */
	uint8_t bytes[16];
};

struct wasp_route_binding_set; /* per-socket lookup structure, opaque */

/* An https binding of a socket, for the listener's certificate choice. */
struct wasp_route_tls_binding {
	const struct wasp_route_site *site;
	const char *host;  /* lower case, no trailing dot; "" = none (the default) */
	uint32_t flags;    /* the binding's sslFlags */
	const char *cert;  /* certificate file; NULL: the Central Certificate Store */
	const char *where; /* "FILE:LINE" of the binding, for messages */
	bool client_cert;  /* ask for a client certificate (the site's access sslFlags) */
};

struct wasp_route_socket {
	uint32_t id; /* index in wasp_route_table.sockets */
	const char *protocol;
	struct wasp_route_addr addr; /* AF_UNSPEC: bound to any address */
	uint16_t port;
	/* true when the socket is bound to any address and some binding on it
	 * names one: a lookup then needs the connection's local address
	 * (getsockname); otherwise it may pass NULL. */
	bool needs_local_addr;
	const struct wasp_route_binding_set *bindings;
	/* https: its bindings in configuration order */
	const struct wasp_route_tls_binding *tls;
	size_t n_tls;
};

/* The table's "tls": what every https socket shares (adapters' table). */
struct wasp_route_tls {
	const char *pfx_password; /* "" when none */
	const char *ca_file;      /* client certificates' CA bundle; "" = default */
	const char *ccs_path;     /* Central Certificate Store; NULL: disabled */
	const char *ccs_password;
	const char *ticket_seed;  /* hex; "" = none (the listener makes its own keys) */
	bool ktls;                /* hand kTLS sockets to workers where the kernel can */
};

struct wasp_route_table {
	uint32_t generation;
	uint32_t header_wait_ms; /* headerWaitTimeoutMs; 0: the adapter's default */
	uint32_t max_per_client; /* maxConnectionsPerClient; 0: no limit */
	const struct wasp_route_pool *pools;
	size_t n_pools;
	const struct wasp_route_site *sites;
	size_t n_sites;
	const struct wasp_route_socket *sockets;
	size_t n_sockets;
	struct wasp_route_tls tls;
};

/* Whether a table parsed for protocol (an adapter's) takes a socket or a
 * binding of proto: the same, or https for http (wasp-http terminates TLS). */
bool wasp_route_protocol_serves(const char *protocol, const char *proto);

struct wasp_route_result {
	const struct wasp_route_site *site;
	const struct wasp_route_app *app;
	const struct wasp_route_pool *pool;
};

/* Parse the JSON routing table (len bytes, NUL not required). protocol, when
 * not NULL, keeps only the sockets and bindings of that protocol. Returns 0
 * with a new table in *ret_table, -ENOMEM, or -EINVAL with a description of
 * the first problem in err (errlen bytes, may be 0). */
int wasp_route_table_parse(const char *json, size_t len, const char *protocol,
			   struct wasp_route_table **ret_table, char *err, size_t errlen);
/* Frees the table and everything it owns. NULL-safe; returns NULL. */
struct wasp_route_table *wasp_route_table_free(struct wasp_route_table *t);

/* The socket whose address and port accept a connection with this local
 * address (a socket bound to the exact address first, then one bound to any
 * address), or NULL. IPv4-mapped IPv6 addresses count as IPv4. */
const struct wasp_route_socket *wasp_route_find_socket(const struct wasp_route_table *t,
						       const struct sockaddr *local,
						       socklen_t local_len);

/* Route a request that arrived on socket s: local is the connection's local
 * address (may be NULL unless s->needs_local_addr), host the Host header
 * value as sent (a ":port" suffix and one trailing dot are ignored, case is
 * not significant; NULL or "" matches only bindings with an empty host), and
 * path the raw request target (origin or absolute form). The path is
 * routed the way IIS does after canonicalising it: it ends at '?' or '#',
 * %XX escapes are decoded once, "//" collapses, "." and ".." segments are
 * resolved (never above the root). Binding precedence: a binding naming the
 * host, then a wildcard one ("*.example.com": any name under the domain,
 * the longest suffix first), then one with an empty host; among those, one
 * naming the local address beats "*". Then the application with the longest path that is a
 * prefix of the request path on a segment boundary ("/app" matches "/app",
 * "/app/x", "/x/../app", not "/application"); application paths compare
 * case-insensitively, as in IIS. Allocates nothing (a WASP_ROUTE_PATH_MAX
 * buffer on the stack). Returns 0 with *ret filled, -ENOENT when no binding
 * matches (HTTP 400), -ENXIO when the site has no application for the path
 * or the application's enabledProtocols leaves the protocol out,
 * -ENAMETOOLONG when the decoded path is over WASP_ROUTE_PATH_MAX (414). */
int wasp_route_lookup(const struct wasp_route_socket *s, const struct sockaddr *local,
		      const char *host, size_t host_len, const char *path, size_t path_len,
		      struct wasp_route_result *ret);

/* wasp_route_find_socket() then wasp_route_lookup(): for callers that only
 * have the connection (a worker). -ENOENT also when no socket matches. */
int wasp_route_lookup_conn(const struct wasp_route_table *t, const struct sockaddr *local,
			   socklen_t local_len, const char *host, size_t host_len,
			   const char *path, size_t path_len, struct wasp_route_result *ret);

/* Pool and site by id: NULL when absent. */
const struct wasp_route_pool *wasp_route_pool_by_id(const struct wasp_route_table *t,
						    uint32_t id);
const struct wasp_route_pool *wasp_route_pool_by_name(const struct wasp_route_table *t,
						      const char *name);
const struct wasp_route_site *wasp_route_site_by_id(const struct wasp_route_table *t,
						    uint32_t id);
