/* ARR's backends named by host and port in rules (not farms): one proxy
 * pool per host:port, at most UPSTREAM_MAX kept per worker (then the least
 * recently used is dropped). An IP address is used as it is; a name is
 * resolved without blocking the worker (libevent's evdns: /etc/hosts and
 * the resolv.conf name servers), again once its answer is a minute old. */
#pragma once

#include <stdint.h>

struct event_base;
struct proxy_pool;
struct upstream_wait;

#define UPSTREAM_MAX 256

/* The resolution's end: pool, or NULL and why. */
typedef void (*upstream_cb)(void *userdata, struct proxy_pool *pool, const char *why);

/* The pool for host:port: 1 with *ret now; 0 when a name is being
 * resolved (cb will be called from the event loop, once, unless
 * upstream_wait_cancel(*ret_wait) comes first); -errno with *why. */
int upstream_get(struct event_base *base, const char *host, uint16_t port, struct proxy_pool **ret,
		 const char **why, upstream_cb cb, void *userdata, struct upstream_wait **ret_wait);
/* Before the callback only: it will not be called. */
void upstream_wait_cancel(struct upstream_wait *w);
void upstreams_free(void);
