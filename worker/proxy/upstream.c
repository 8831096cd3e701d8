/* ARR's backends named by host and port (upstream.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

#define UPSTREAM_RESOLVE_USEC (60ULL * 1000000) /* a name's answer is kept */

struct upstream {
	char *key; /* host:port lower-cased */
	struct proxy_pool *pool;
	uint64_t resolved_at, used_at;
};

struct upstream_wait {
	struct evdns_getaddrinfo_request *r;
	struct event_base *base;
	char *key;
	uint16_t port;
	upstream_cb cb;
	void *userdata;
	/* inside upstream_get(): an answer at once is kept here */
	bool in_call, answered;
	struct proxy_pool *pool;
	const char *why;
};

static struct upstream upstreams[UPSTREAM_MAX];
static size_t n_upstreams;
static struct evdns_base *dns;

void
upstreams_free(void)
{
	for (size_t i = 0; i < n_upstreams; i++) {
		free(upstreams[i].key);
		proxy_pool_free(upstreams[i].pool);
	}
	n_upstreams = 0;
	if (dns)
		evdns_base_free(dns, 0);
	dns = NULL;
}

static struct upstream *
upstream_find(const char *key)
{
	for (size_t i = 0; i < n_upstreams; i++)
		if (streq(upstreams[i].key, key))
			return &upstreams[i];
	return NULL;
}

/* The entry for key (taken), a new one in a free slot or in the least
 * recently used one's (its pool freed: its busy connections end with their
 * requests). NULL: out of memory (key freed). */
static struct upstream *
upstream_add(struct event_base *base, char *key)
{
	struct proxy_pool *p = proxy_pool_new(base);
	struct upstream *u = &upstreams[0];

	if (!p) {
		free(key);
		return NULL;
	}
	if (n_upstreams < UPSTREAM_MAX)
		u = &upstreams[n_upstreams++];
	else {
		for (size_t i = 1; i < n_upstreams; i++)
			if (upstreams[i].used_at < u->used_at)
				u = &upstreams[i];
		free(u->key);
		proxy_pool_free(u->pool);
	}
	*u = (struct upstream){ .key = key, .pool = p };
	return u;
}

/* key's pool, now at sa. NULL with *why. */
static struct proxy_pool *
upstream_set(struct event_base *base, char *key, const struct sockaddr *sa, socklen_t len,
	     const char **why)
{
	struct upstream *u = upstream_find(key);

	if (u)
		free(key);
	else if (!(u = upstream_add(base, key))) {
		*why = "out of memory";
		return NULL;
	}
	if (proxy_pool_set_addr(u->pool, sa, len) < 0) {
		*why = "the backend's address family is not supported";
		return NULL;
	}
	u->resolved_at = u->used_at = wasp_now_usec();
	return u->pool;
}

/* An IPv4 answer first (a backend on localhost is more often listening
 * there), else the first. */
static const struct evutil_addrinfo *
answer_pick(const struct evutil_addrinfo *res)
{
	for (const struct evutil_addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET)
			return a;
	return res;
}

static void
on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct upstream_wait *w = arg;
	const struct evutil_addrinfo *a = res ? answer_pick(res) : NULL;
	struct sockaddr_storage sa;

	w->r = NULL;
	if (result == EVUTIL_EAI_CANCEL) {
		if (res)
			evutil_freeaddrinfo(res);
		free(w->key);
		free(w);
		return;
	}
	w->why = "the backend's host name cannot be resolved";
	if (result == 0 && a && a->ai_addrlen <= sizeof(sa)) {
		memcpy(&sa, a->ai_addr, a->ai_addrlen);
		if (sa.ss_family == AF_INET)
			((struct sockaddr_in *)&sa)->sin_port = htons(w->port);
		else if (sa.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&sa)->sin6_port = htons(w->port);
		w->pool = upstream_set(w->base, w->key, (struct sockaddr *)&sa, a->ai_addrlen, &w->why);
		w->key = NULL;
	}
	if (res)
		evutil_freeaddrinfo(res);
	w->answered = true;
	if (w->in_call)
		return; /* upstream_get() answers */
	w->cb(w->userdata, w->pool, w->pool ? NULL : w->why);
	free(w->key);
	free(w);
}

void
upstream_wait_cancel(struct upstream_wait *w)
{
	if (w && w->r)
		evdns_getaddrinfo_cancel(w->r); /* on_resolved frees w */
}

/* A name: resolved, maybe at once. */
static int
resolve(struct event_base *base, char *key, const char *host, uint16_t port,
	struct proxy_pool **ret, const char **why, upstream_cb cb, void *userdata,
	struct upstream_wait **ret_wait)
{
	struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct upstream_wait *w = calloc(1, sizeof(*w));
	int r;

	if (!dns)
		dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!w || !dns) {
		free(w);
		free(key);
		*why = dns ? "out of memory" : "no resolver (evdns)";
		return -ENOMEM;
	}
	*w = (struct upstream_wait){ .base = base, .key = key, .port = port, .cb = cb,
				     .userdata = userdata, .in_call = true };
	w->r = evdns_getaddrinfo(dns, host, NULL, &hints, on_resolved, w);
	w->in_call = false;
	if (!w->answered) {
		*ret_wait = w;
		return 0;
	}
	*ret = w->pool;
	*why = w->why;
	r = w->pool ? 1 : -EHOSTUNREACH;
	free(w->key);
	free(w);
	return r;
}

int
upstream_get(struct event_base *base, const char *host, uint16_t port, struct proxy_pool **ret,
	     const char **why, upstream_cb cb, void *userdata, struct upstream_wait **ret_wait)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct upstream *u;
	char *key;

	*why = "out of memory";
	if (asprintf(&key, "%s:%u", host, (unsigned)port) < 0)
		return -ENOMEM;
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	u = upstream_find(key);
	if (u && wasp_now_usec() - u->resolved_at < UPSTREAM_RESOLVE_USEC) {
		free(key);
		u->used_at = wasp_now_usec();
		*ret = u->pool;
		return 1;
	}
	if (inet_pton(AF_INET, host, &in.sin_addr) == 1)
		*ret = upstream_set(base, key, (struct sockaddr *)&in, sizeof(in), why);
	else if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1)
		*ret = upstream_set(base, key, (struct sockaddr *)&in6, sizeof(in6), why);
	else
		return resolve(base, key, host, port, ret, why, cb, userdata, ret_wait);
	return *ret ? 1 : -ENOMEM;
}
