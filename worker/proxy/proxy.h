/* The proxy engine: an HTTP/1.1 client that forwards a request to a
 * backend (an IPv4 or IPv6 address and port: the loopback for an
 * application's own process) and relays its response, on the worker's
 * event loop (never blocking it). Used by the httpPlatform and aspNetCore
 * modules and by Application Request Routing (mod_arr.c); it knows nothing
 * of how the backend is started or chosen.
 *
 * Connections are kept alive and pooled per backend port (struct
 * proxy_pool). The request head goes with hop-by-hop fields removed and the
 * forwarding fields added; the body is streamed as it arrives
 * (Content-Length, or chunked when the client's length is unknown), read
 * only as fast as the backend takes it; the response head is parsed with
 * limits and the body streamed to the client (wasp_response_stream), read
 * from the backend only as fast as the client takes it. A pooled connection
 * the backend closed while it was idle costs one retry on a new connection
 * when no byte of the client's body was sent yet. A WebSocket request
 * answered 101 becomes a tunnel (tunnel.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct wasp_request;
struct proxy_pool;

#define PROXY_HEAD_MAX 65536     /* a backend's response head */
#define PROXY_IDLE_MAX 64        /* idle connections kept per pool */
#define PROXY_BUSY_MAX 2048      /* connections in use at once, per worker */

struct proxy_header {
	const char *name, *value;
};

struct proxy_opts {
	/* the backend silent this long while a response is awaited: 502.3
	 * before the head, the connection cut after */
	uint64_t timeout_usec;
	/* fields to add (each replaces any the client sent of that name) */
	const struct proxy_header *add;
	size_t n_add;
	/* a name the client must never set (its field is dropped), or NULL */
	const char *strip;
	/* an Upgrade: websocket request goes on as one, and a 101 answer
	 * switches the client's connection to a tunnel to the backend
	 * (system.webServer/webSocket enabled) */
	bool websocket;
	/* the request-target sent (path and query, percent-encoded); NULL:
	 * the client's */
	const char *target;
	/* the Host sent; NULL: the client's */
	const char *host;
	/* the forwarding field's name (NULL: X-Forwarded-For), and whether the
	 * client's port is left out of it */
	const char *xff_name;
	bool xff_no_port;
	/* no X-Forwarded-Proto (ARR sends none) */
	bool no_forwarded_proto;
	/* a response head longer than this is 502.3 (0: PROXY_HEAD_MAX) */
	size_t head_max;
	/* Location and Content-Location starting with from (a scheme and
	 * host[:port]) followed by '/', '?' or the end get to in its place
	 * (ARR's reverseRewriteHostInResponseHeaders); NULL: as sent */
	const char *relocate_from, *relocate_to;
	/* The connection to pool failed before a byte of the request went
	 * (refused, reset, unreachable): another pool to try, or NULL (then
	 * 502.3). Called at most max_failovers times. */
	struct proxy_pool *(*failover)(void *userdata, struct proxy_pool *failed);
	void *failover_userdata;
	unsigned max_failovers;
	/* the substatus of a 502 when the backend cannot be reached or does
	 * not answer (0: 3) */
	unsigned substatus;
};

struct proxy_pool *proxy_pool_new(struct event_base *base);
/* The backend now listens on port (0: none): idle connections to the old
 * one are closed, busy ones are not reused. */
void proxy_pool_set_port(struct proxy_pool *p, uint16_t port);
uint16_t proxy_pool_port(const struct proxy_pool *p);
/* The backend is now at sa (IPv4 or IPv6); as proxy_pool_set_port. */
int proxy_pool_set_addr(struct proxy_pool *p, const struct sockaddr *sa, socklen_t len);
/* Requests being forwarded through p now (its busy connections). */
unsigned proxy_pool_busy(const struct proxy_pool *p);
/* Close the idle connections; busy ones close when their request ends. */
void proxy_pool_free(struct proxy_pool *p);

/* Forward req through pool; the handler returns WASP_AGAIN after 0 (the
 * request is resumed when the response head is in, or with 502.3 on
 * failure). -ENOMEM. o is copied; what its pointers other than add point to
 * must live as long as the request. */
int proxy_forward(struct wasp_request *req, struct proxy_pool *pool, const struct proxy_opts *o);
