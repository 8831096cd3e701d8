/* ARR's server farms (applicationHost.config's webFarms) as a worker sees
 * them: each farm's servers, each with its proxy pool; which one takes the
 * next request (weighted round robin or least current requests) among the
 * enabled and healthy ones; health checks (health.c) taking a server out
 * of rotation and back. Built once per worker from its configuration (a
 * change to webFarms recycles the pools that use it); the checks of a farm
 * start with its first request. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct health_probe;
struct proxy_pool;
struct wasp_element;
struct farm;

#define FARM_MAX 256          /* farms read from webFarms */
#define FARM_SERVERS_MAX 64   /* servers of one farm */

enum farm_algorithm { FARM_WRR, FARM_LEAST_REQUESTS, FARM_UNSUPPORTED };

struct farm_server {
	struct farm *farm;
	char *address;  /* as written: a name or an IP address */
	char *authority; /* address[:port] (the port when not 80), for Host */
	uint16_t port;
	unsigned weight;
	int current; /* smooth weighted round robin */
	bool enabled, healthy, resolved;
	struct proxy_pool *pool;
	struct health_probe *probe; /* a check in flight, or NULL */
};

struct farm {
	char *name;
	bool enabled, started;
	enum farm_algorithm algorithm;
	struct farm_server *s;
	size_t n;
	unsigned rr; /* where a LeastRequests tie starts */
	/* healthCheck: no url, no checks (every server healthy) */
	char *check_host, *check_path, *check_match, *check_codes;
	uint64_t check_interval_usec, check_timeout_usec;
	struct event *timer;
	struct event_base *base;
};

/* The farms of section (webFarms), replacing any loaded before. 0,
 * -ENOMEM. */
int farms_load(struct event_base *base, const struct wasp_element *section);
void farms_free(void);
/* The enabled farm called name (case-insensitive), its health checks
 * started; NULL when there is none. */
struct farm *farm_find(const char *name);
/* The server for the next request, none of those whose bit is set in
 * tried (their index); NULL when no server is enabled, healthy and
 * reachable. */
struct farm_server *farm_pick(struct farm *f, uint64_t tried);
/* The server whose pool is p, or NULL. */
struct farm_server *farm_server_of(struct farm *f, const struct proxy_pool *p);
/* Is status in a statusCodeMatch list ("200-399", "200,301-302")? */
bool farm_status_matches(const char *codes, unsigned status);
/* The address (an IP address, or a name resolved with getaddrinfo, which
 * blocks) and port as a socket address: 0, -errno. */
int farm_resolve(const char *host, uint16_t port, struct sockaddr_storage *ret, socklen_t *ret_len);

/* health.c: one check of server s now (its result sets s->healthy). */
void health_probe_start(struct farm_server *s);
void health_probe_cancel(struct farm_server *s);
