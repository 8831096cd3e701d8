/* The proxy engine: an HTTP/1.1 client that forwards a request to a
 * backend on the loopback interface and relays its response, on the
 * worker's event loop (never blocking it). Used by the httpPlatform and
 * aspNetCore modules; it knows nothing of how the backend is started.
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

struct event_base;
struct wasp_request;
struct proxy_pool;

#define PROXY_HEAD_MAX 65536     /* a backend's response head */
#define PROXY_IDLE_MAX 64        /* idle connections kept per pool */

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
};

struct proxy_pool *proxy_pool_new(struct event_base *base);
/* The backend now listens on port (0: none): idle connections to the old
 * one are closed, busy ones are not reused. */
void proxy_pool_set_port(struct proxy_pool *p, uint16_t port);
uint16_t proxy_pool_port(const struct proxy_pool *p);
/* Is a request on one of its connections now? */
bool proxy_pool_busy(const struct proxy_pool *p);
/* Close the idle connections; busy ones close when their request ends. */
void proxy_pool_free(struct proxy_pool *p);

/* Forward req through pool; the handler returns WASP_AGAIN after 0 (the
 * request is resumed when the response head is in, or with 502.3 on
 * failure). -ENOMEM. */
int proxy_forward(struct wasp_request *req, struct proxy_pool *pool, const struct proxy_opts *o);
