/* ARR's server farms (farm.h): read from webFarms once per worker, the
 * next server chosen among the enabled, healthy ones, their health checks
 * run every interval (health.c does one check). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "farm.h"
#include "log.h"
#include "proxy.h"
#include "util.h"
#include "worker.h"

static struct farm *farms;
static size_t n_farms;

static void
farm_free(struct farm *f)
{
	for (size_t i = 0; i < f->n; i++) {
		health_probe_cancel(&f->s[i]);
		proxy_pool_free(f->s[i].pool);
		free(f->s[i].address);
		free(f->s[i].authority);
	}
	if (f->timer)
		event_free(f->timer);
	free(f->s);
	free(f->name);
	free(f->check_host);
	free(f->check_path);
	free(f->check_match);
	free(f->check_codes);
}

void
farms_free(void)
{
	for (size_t i = 0; i < n_farms; i++)
		farm_free(&farms[i]);
	free(farms);
	farms = NULL;
	n_farms = 0;
}

int
farm_resolve(const char *host, uint16_t port, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*ret_len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*ret_len = sizeof(*in6);
		return 0;
	}
	/* a name: resolved as the system does (blocking the worker for as
	 * long as the resolver takes; callers keep what it gave) */
	r = getaddrinfo(host, NULL, &hints, &ai);
	if (r != 0 || !ai || ai->ai_addrlen > sizeof(*ret)) {
		if (ai)
			freeaddrinfo(ai);
		return -EHOSTUNREACH;
	}
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	if (ret->ss_family == AF_INET)
		in->sin_port = htons(port);
	else
		in6->sin6_port = htons(port);
	freeaddrinfo(ai);
	return 0;
}

bool
farm_status_matches(const char *codes, unsigned status)
{
	const char *p = codes;

	while (*p) {
		char *e;
		unsigned long lo = strtoul(p, &e, 10), hi = lo;

		if (e == p)
			return false;
		p = e;
		if (*p == '-') {
			hi = strtoul(p + 1, &e, 10);
			if (e == p + 1)
				return false;
			p = e;
		}
		if (status >= lo && status <= hi)
			return true;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return false;
}

/* healthCheck url "http://host[:port]/path": the Host and path sent. */
static int
check_url_parse(struct farm *f, const char *url)
{
	const char *a, *slash;

	if (!*url)
		return 0;
	if (strncasecmp(url, "http://", 7) != 0) {
		wasp_log(WASP_LOG_ERR, "webFarm '%s': healthCheck url '%s' is not http://: no "
			 "health checks", f->name, url);
		return 0;
	}
	a = url + 7;
	slash = strchr(a, '/');
	f->check_host = strndup(a, slash ? (size_t)(slash - a) : strlen(a));
	f->check_path = strdup(slash ? slash : "/");
	return f->check_host && f->check_path ? 0 : -ENOMEM;
}

static int
server_load(struct farm *f, struct farm_server *s, const struct wasp_element *e)
{
	const struct wasp_element *arr = wasp_element_child(e, "applicationRequestRouting");

	s->farm = f;
	s->address = strdup(wasp_element_get_str(e, "address", ""));
	s->enabled = wasp_element_get_bool(e, "enabled", true);
	s->port = (uint16_t)wasp_element_get_uint(arr, "httpPort", 80);
	s->weight = (unsigned)wasp_element_get_uint(arr, "weight", 100);
	s->healthy = true;
	s->pool = proxy_pool_new(f->base);
	if (!s->address || !s->pool)
		return -ENOMEM;
	if (asprintf(&s->authority, strchr(s->address, ':') ? "[%s]:%u" : "%s:%u", s->address,
		     (unsigned)s->port) < 0) {
		s->authority = NULL;
		return -ENOMEM;
	}
	if (s->port == 80) /* the Host a server on the default port expects */
		s->authority[strlen(s->authority) - 3] = '\0';
	return 0;
}

static int
farm_load(struct farm *f, struct event_base *base, const struct wasp_element *e)
{
	const struct wasp_element *arr = wasp_element_child(e, "applicationRequestRouting");
	const struct wasp_element *hc = wasp_element_child(arr, "healthCheck");
	const struct wasp_element *lb = wasp_element_child(arr, "loadBalancing");
	uint64_t algo = wasp_element_get_uint(lb, "algorithm", 0);
	int r;

	f->base = base;
	f->name = strdup(wasp_element_get_str(e, "name", ""));
	f->enabled = wasp_element_get_bool(e, "enabled", true);
	f->algorithm = algo == 0 ? FARM_WRR : algo == 1 ? FARM_LEAST_REQUESTS : FARM_UNSUPPORTED;
	f->check_interval_usec = wasp_element_get_uint(hc, "interval", 30000000);
	f->check_timeout_usec = wasp_element_get_uint(hc, "timeout", 30000000);
	f->check_match = strdup(wasp_element_get_str(hc, "responseMatch", ""));
	f->check_codes = strdup(wasp_element_get_str(hc, "statusCodeMatch", "200-399"));
	f->n = MIN(e->n_items, (size_t)FARM_SERVERS_MAX);
	f->s = calloc(f->n ? f->n : 1, sizeof(*f->s));
	if (!f->name || !f->check_match || !f->check_codes || !f->s)
		return -ENOMEM;
	if (e->n_items > FARM_SERVERS_MAX)
		wasp_log(WASP_LOG_ERR, "webFarm '%s' has %zu servers: only the first %d are used",
			 f->name, e->n_items, FARM_SERVERS_MAX);
	for (size_t i = 0; i < f->n; i++) {
		r = server_load(f, &f->s[i], e->items[i]);
		if (r < 0)
			return r;
	}
	return check_url_parse(f, wasp_element_get_str(hc, "url", ""));
}

int
farms_load(struct event_base *base, const struct wasp_element *section)
{
	size_t n = section ? MIN(section->n_items, (size_t)FARM_MAX) : 0;

	farms_free();
	if (n == 0)
		return 0;
	farms = calloc(n, sizeof(*farms));
	if (!farms)
		return -ENOMEM;
	n_farms = n;
	for (size_t i = 0; i < n; i++)
		if (farm_load(&farms[i], base, section->items[i]) < 0) {
			farms_free();
			return -ENOMEM;
		}
	return 0;
}

/* ---- health checks ---- */

static void
on_check_timer(evutil_socket_t fd, short what, void *arg)
{
	struct farm *f = arg;
	struct timeval tv = { .tv_sec = (time_t)(f->check_interval_usec / 1000000),
			      .tv_usec = (suseconds_t)(f->check_interval_usec % 1000000) };

	for (size_t i = 0; i < f->n; i++)
		if (f->s[i].enabled && !f->s[i].probe)
			health_probe_start(&f->s[i]);
	(void)evtimer_add(f->timer, &tv);
}

/* The checks begin with the farm's first request: a farm no request of
 * this worker uses is never checked by it. */
static void
farm_start(struct farm *f)
{
	f->started = true;
	if (!f->check_host)
		return;
	f->timer = evtimer_new(f->base, on_check_timer, f);
	if (!f->timer) {
		wasp_log(WASP_LOG_ERR, "webFarm '%s': no health checks: out of memory", f->name);
		return;
	}
	on_check_timer(-1, 0, f);
}

struct farm *
farm_find(const char *name)
{
	for (size_t i = 0; i < n_farms; i++)
		if (farms[i].enabled && strcaseeq(farms[i].name, name)) {
			if (!farms[i].started)
				farm_start(&farms[i]);
			return &farms[i];
		}
	return NULL;
}

struct farm_server *
farm_server_of(struct farm *f, const struct proxy_pool *p)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->s[i].pool == p)
			return &f->s[i];
	return NULL;
}

/* ---- choosing a server ---- */

static bool
usable(struct farm_server *s, uint64_t tried, size_t i)
{
	struct sockaddr_storage sa;
	socklen_t len;

	if (!s->enabled || !s->healthy || s->weight == 0 || (tried & ((uint64_t)1 << i)))
		return false;
	if (!s->resolved) {
		if (farm_resolve(s->address, s->port, &sa, &len) < 0 ||
		    proxy_pool_set_addr(s->pool, (struct sockaddr *)&sa, len) < 0) {
			wasp_log(WASP_LOG_ERR, "webFarm '%s': server '%s' cannot be resolved",
				 s->farm->name, s->address);
			return false;
		}
		s->resolved = true;
	}
	return true;
}

/* nginx's smooth weighted round robin: each usable server gains its weight,
 * the one with the most is chosen and loses the total. */
static struct farm_server *
pick_wrr(struct farm *f, uint64_t tried)
{
	struct farm_server *best = NULL;
	int total = 0;

	for (size_t i = 0; i < f->n; i++) {
		struct farm_server *s = &f->s[i];

		if (!usable(s, tried, i))
			continue;
		s->current += (int)s->weight;
		total += (int)s->weight;
		if (!best || s->current > best->current)
			best = s;
	}
	if (best)
		best->current -= total;
	return best;
}

/* The fewest requests in progress in this worker; ties taken in turn. */
static struct farm_server *
pick_least(struct farm *f, uint64_t tried)
{
	struct farm_server *best = NULL;

	for (size_t k = 0; k < f->n; k++) {
		size_t i = (f->rr + k) % f->n;
		struct farm_server *s = &f->s[i];

		if (usable(s, tried, i) &&
		    (!best || proxy_pool_busy(s->pool) < proxy_pool_busy(best->pool)))
			best = s;
	}
	f->rr++;
	return best;
}

struct farm_server *
farm_pick(struct farm *f, uint64_t tried)
{
	if (f->algorithm == FARM_LEAST_REQUESTS)
		return pick_least(f, tried);
	if (f->algorithm == FARM_WRR)
		return pick_wrr(f, tried);
	return NULL;
}
