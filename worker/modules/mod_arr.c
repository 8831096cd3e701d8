/* ApplicationRequestRouting: IIS ARR's reverse proxy (docs/arr.md). With
 * system.webServer/proxy enabled, a URL Rewrite rule whose Rewrite action
 * is an absolute URL (arr_take()) sends the request there, through the
 * proxy engine (worker/proxy/proxy.c), in MapRequestHandler: to a host
 * and port (upstream.c: an address, or a name resolved without blocking),
 * or, when the host is the name of a webFarms farm, to one of its servers
 * (farm.c). ARR's statuses:
 *
 *   502.3  the backend cannot be reached, closes before its head, does not
 *          answer within timeout, sends a head that is malformed or over
 *          maxResponseHeaderSize; an https:// URL (no TLS to backends);
 *   502.4  a farm with no server enabled and healthy (or an algorithm wasp
 *          does not implement);
 *   400    Max-Forwards 0 (a rule proxying back to its own site). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "arena.h"
#include "arr.h"
#include "config.h"
#include "proxy/farm.h"
#include "proxy/proxy.h"
#include "proxy/upstream.h"
#include "util.h"
#include "worker.h"

#define ARR_URL_MAX 8192
#define ARR_MAX_FORWARDS 10 /* hops when the client sent no Max-Forwards */

extern const struct wasp_module mod_arr;

/* system.webServer/proxy */
struct arrconf {
	bool enabled, preserve_host, reverse_rewrite, xff_port;
	uint64_t timeout_usec;
	size_t head_max;
	char *xff_name, *log_guid_name;
};

static void
arrconf_free(void *p)
{
	struct arrconf *c = p;

	if (!c)
		return;
	free(c->xff_name);
	free(c->log_guid_name);
	free(c);
}

static void *
arrconf_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct arrconf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->enabled = wasp_element_get_bool(sec, "enabled", false);
	c->preserve_host = wasp_element_get_bool(sec, "preserveHostHeader", false);
	c->reverse_rewrite = wasp_element_get_bool(sec, "reverseRewriteHostInResponseHeaders", true);
	c->xff_port = wasp_element_get_bool(sec, "includePortInXForwardedFor", true);
	c->timeout_usec = wasp_element_get_uint(sec, "timeout", 120000000);
	c->head_max = (size_t)wasp_element_get_uint(sec, "maxResponseHeaderSize", 128) * 1024;
	c->xff_name = strdup(wasp_element_get_str(sec, "xForwardedForHeaderName", "X-Forwarded-For"));
	c->log_guid_name = strdup(wasp_element_get_str(sec, "logGuidName", "X-ARR-LOG-ID"));
	if (!c->xff_name || !c->log_guid_name) {
		arrconf_free(c);
		return NULL;
	}
	return c;
}

/* ---- one request ---- */

/* A Rewrite's absolute URL, taken apart. */
struct target {
	bool https;
	const char *host;      /* without brackets */
	const char *authority; /* host[:port] as written */
	uint16_t port;
	const char *path; /* "/..." decoded, as the rule made it */
	const char *query; /* NULL: none */
};

/* No control character nor blank (a query or host from a server variable
 * must not split the request line or a field). */
static bool
token_ok(const char *p)
{
	for (; p && *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int
target_parse(struct wasp_request *req, const char *url, struct target *t)
{
	const char *a, *e, *colon = NULL, *h_end;
	unsigned long port;
	char *end;

	*t = (struct target){ .https = strncasecmp(url, "https://", 8) == 0 };
	a = url + (t->https ? 8 : 7);
	e = a + strcspn(a, "/?#");
	if (e == a)
		return -EINVAL;
	if (*a == '[') {
		h_end = memchr(a, ']', (size_t)(e - a));
		if (!h_end)
			return -EINVAL;
		t->host = wasp_arena_printf(req->arena, "%.*s", (int)(h_end - a - 1), a + 1);
		colon = h_end + 1 < e && h_end[1] == ':' ? h_end + 1 : NULL;
	} else {
		colon = memchr(a, ':', (size_t)(e - a));
		h_end = colon ? colon : e;
		t->host = wasp_arena_printf(req->arena, "%.*s", (int)(h_end - a), a);
	}
	port = t->https ? 443 : 80;
	if (colon) {
		port = strtoul(colon + 1, &end, 10);
		if (end != e || port == 0 || port > 65535)
			return -EINVAL;
	}
	t->port = (uint16_t)port;
	t->authority = wasp_arena_printf(req->arena, "%.*s", (int)(e - a), a);
	t->query = strchr(e, '?');
	t->path = t->query ? wasp_arena_printf(req->arena, "%.*s", (int)(t->query - e), e) : e;
	if (t->query)
		t->query++;
	if (t->path && !*t->path)
		t->path = "/";
	return t->host && *t->host && t->authority && t->path && *t->path == '/' &&
			       token_ok(t->authority) && token_ok(t->query)
		       ? 0
		       : -EINVAL;
}

static enum wasp_status
arr_fail(struct wasp_request *req, unsigned status, unsigned substatus, const char *url,
	 const char *why)
{
	wasp_log(WASP_LOG_ERR, "ARR: %s %s to %s: %s: %u.%u", wasp_request_method(req),
		 wasp_request_path(req), url, why, status, substatus);
	wasp_response_set_status(req, status, substatus);
	wasp_request_set_error_detail(req, why);
	return WASP_DONE;
}

/* What a farm's request needs when its server cannot be reached. */
struct farmreq {
	struct farm *f;
	uint64_t tried;
};

static struct proxy_pool *
farm_failover(void *userdata, struct proxy_pool *failed)
{
	struct farmreq *fr = userdata;
	struct farm_server *s = farm_server_of(fr->f, failed);

	if (s)
		fr->tried |= (uint64_t)1 << (s - fr->f->s);
	s = farm_pick(fr->f, fr->tried);
	return s ? s->pool : NULL;
}

/* A log id as ARR sends it: a GUID, unique per request: 16 random bytes
 * drawn once per worker, a counter added to the last 8 (no system call per
 * request). */
static const char *
log_guid(struct wasp_request *req)
{
	static uint8_t seed[16];
	static uint64_t counter;
	static bool seeded;
	uint8_t b[16];
	uint64_t n;

	if (!seeded && getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		for (size_t i = 0; i < sizeof(seed); i++)
			seed[i] = (uint8_t)((wasp_now_usec() >> (i % 8)) ^ (uint64_t)getpid());
	seeded = true;
	memcpy(b, seed, sizeof(b));
	memcpy(&n, b + 8, sizeof(n));
	n += ++counter;
	memcpy(b + 8, &n, sizeof(n));
	return wasp_arena_printf(req->arena,
				 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
				 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
				 b[11], b[12], b[13], b[14], b[15]);
}

/* The target's path percent-encoded for the request line: what is not a
 * path character becomes %XX; a %XX already there stays (a rule built from
 * {UNENCODED_URL} sends the client's encoding unchanged). */
static char *
path_encode(struct wasp_request *req, const char *path)
{
	static const char keep[] = "-._~/!$&'()*+,;=:@";
	char *out = wasp_request_alloc(req, strlen(path) * 3 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)path; out && *p; p++) {
		if (isalnum(*p) || (*p && strchr(keep, *p)) ||
		    (*p == '%' && isxdigit(p[1]) && isxdigit(p[2])))
			*o++ = (char)*p;
		else
			o += sprintf(o, "%%%02X", *p);
	}
	if (out)
		*o = '\0';
	return out;
}

/* The hops left to the request (Max-Forwards, ARR_MAX_FORWARDS without
 * one): as ARR, a request that has none left is not forwarded (a rule
 * proxying back to this server ends there), and the backend gets one less. */
static long
max_forwards(struct wasp_request *req)
{
	const char *v = wasp_request_header(req, "Max-Forwards");
	char *e;
	long n;

	if (!v)
		return ARR_MAX_FORWARDS;
	n = strtol(v, &e, 10);
	return e == v || *e || n < 0 ? ARR_MAX_FORWARDS : MIN(n, 1000000L);
}

/* The options of this request: Host, forwarding fields, the reverse
 * rewrite of Location from the Host sent to the client's. */
static int
opts_fill(struct wasp_request *req, const struct arrconf *c, const struct target *t,
	  const char *sent_host, struct proxy_opts *o, struct proxy_header *add)
{
	const struct wasp_element *ws = wasp_request_config(req, "system.webServer/webSocket");
	const char *client_host = wasp_request_header(req, "Host");
	const char *https = wasp_request_server_variable(req, "HTTPS");
	const char *enc = path_encode(req, t->path);

	if (!enc)
		return -ENOMEM;
	add[0] = (struct proxy_header){ "X-Original-URL",
					strempty(wasp_request_server_variable(req, "UNENCODED_URL")) };
	add[1] = (struct proxy_header){ "Max-Forwards", wasp_arena_printf(req->arena, "%ld",
									   max_forwards(req) - 1) };
	add[2] = (struct proxy_header){ c->log_guid_name, log_guid(req) };
	*o = (struct proxy_opts){
		.timeout_usec = c->timeout_usec,
		.add = add,
		.n_add = *c->log_guid_name ? 3 : 2,
		.websocket = wasp_element_get_bool(ws, "enabled", true),
		.target = t->query ? wasp_arena_printf(req->arena, "%s?%s", enc, t->query) : enc,
		.host = c->preserve_host ? NULL : sent_host,
		.xff_name = c->xff_name,
		.xff_no_port = !c->xff_port,
		.no_forwarded_proto = true,
		.head_max = c->head_max,
	};
	if (c->reverse_rewrite && !c->preserve_host && client_host) {
		o->relocate_from = wasp_arena_printf(req->arena, "http://%s", sent_host);
		o->relocate_to = wasp_arena_printf(req->arena, "%s://%s",
						   https && strcaseeq(https, "on") ? "https" : "http",
						   client_host);
	}
	return o->target && add[1].value && add[2].value ? 0 : -ENOMEM;
}

/* A request waiting for its backend's name to be resolved. */
struct arrwait {
	struct wasp_request *req;
	const char *url;
	struct proxy_opts o;
	struct upstream_wait *wait;
};

static void
arrwait_cleanup(void *p)
{
	struct arrwait *a = p;

	upstream_wait_cancel(a->wait);
	a->wait = NULL;
}

static void
on_upstream(void *userdata, struct proxy_pool *pool, const char *why)
{
	struct arrwait *a = userdata;

	a->wait = NULL;
	if (!pool)
		(void)arr_fail(a->req, 502, 3, a->url, why);
	else if (proxy_forward(a->req, pool, &a->o) == 0)
		return;
	else
		wasp_response_set_status(a->req, 500, 0);
	wasp_request_resume(a->req, WASP_DONE); /* from the loop: the resolver's event */
}

/* To host:port: at once, or once its name is resolved. */
static enum wasp_status
to_upstream(struct wasp_request *req, const struct arrconf *c, const struct target *t,
	    const char *url, struct proxy_header *add)
{
	struct event_base *base = wasp_server_event_base(wasp_request_server(req));
	struct arrwait *a = wasp_request_alloc(req, sizeof(*a));
	struct proxy_pool *pool = NULL;
	const char *why = "out of memory";
	int r;

	if (!a)
		return WASP_ERROR;
	*a = (struct arrwait){ .req = req, .url = url };
	if (opts_fill(req, c, t, t->authority, &a->o, add) < 0 ||
	    wasp_request_on_cleanup(req, arrwait_cleanup, a) < 0)
		return WASP_ERROR;
	r = upstream_get(base, t->host, t->port, &pool, &why, on_upstream, a, &a->wait);
	if (r < 0)
		return arr_fail(req, 502, 3, url, why);
	if (r == 0)
		return WASP_AGAIN; /* on_upstream() goes on */
	return proxy_forward(req, pool, &a->o) < 0 ? WASP_ERROR : WASP_AGAIN;
}

/* To one of farm f's servers, another one when it cannot be reached. */
static enum wasp_status
to_farm(struct wasp_request *req, const struct arrconf *c, const struct target *t,
	const char *url, struct proxy_header *add, struct farm *f)
{
	struct farm_server *s = farm_pick(f, 0);
	struct farmreq *fr;
	struct proxy_opts o;

	if (!s)
		return arr_fail(req, 502, 4, url,
				f->algorithm == FARM_UNSUPPORTED
					? "the farm's load-balancing algorithm is not implemented"
					: "no server of the farm is available");
	fr = wasp_request_alloc(req, sizeof(*fr));
	if (!fr || opts_fill(req, c, t, s->authority, &o, add) < 0)
		return WASP_ERROR;
	*fr = (struct farmreq){ .f = f };
	o.failover = farm_failover;
	o.failover_userdata = fr;
	o.max_failovers = (unsigned)f->n;
	return proxy_forward(req, s->pool, &o) < 0 ? WASP_ERROR : WASP_AGAIN;
}

static enum wasp_status
arr_forward(struct wasp_request *req, const struct arrconf *c, const char *url)
{
	struct proxy_header *add = wasp_request_alloc(req, 3 * sizeof(*add));
	struct target t;
	struct farm *f;

	if (!add)
		return WASP_ERROR;
	if (strlen(url) > ARR_URL_MAX || target_parse(req, url, &t) < 0)
		return arr_fail(req, 502, 3, url, "not a URL ARR can forward to");
	if (t.https)
		return arr_fail(req, 502, 3, url,
				"https:// backends need TLS, which wasp's proxy does not speak");
	if (max_forwards(req) == 0)
		return arr_fail(req, 400, 0, url,
				"the request cannot be routed: it has reached the Max-Forwards limit");
	f = farm_find(t.host);
	return f ? to_farm(req, c, &t, url, add, f) : to_upstream(req, c, &t, url, add);
}

int
arr_take(struct wasp_request *req, const char *url)
{
	const struct arrconf *c = wasp_request_module_conf(req, &mod_arr, 0);
	char *u;

	if (!c || !c->enabled)
		return 0;
	u = wasp_request_strdup(req, url);
	if (!u || wasp_request_set_module_context(req, &mod_arr, u) < 0)
		return -ENOMEM;
	return 1;
}

static enum wasp_status
arr_on_map(struct wasp_request *req, void *userdata)
{
	const char *url = wasp_request_module_context(req, &mod_arr);
	const struct arrconf *c;

	if (!url)
		return WASP_OK;
	(void)wasp_request_set_module_context(req, &mod_arr, NULL);
	c = wasp_request_module_conf(req, &mod_arr, 0);
	if (!c)
		return WASP_ERROR;
	return arr_forward(req, c, url);
}

static int
arr_init(struct wasp_server *srv)
{
	int r = farms_load(wasp_server_event_base(srv), wasp_server_config(srv, "webFarms"));

	if (r < 0)
		wasp_log(WASP_LOG_ERR, "ARR: the webFarms cannot be loaded: %s", strerror(-r));
	return r;
}

static void
arr_exit(struct wasp_server *srv)
{
	upstreams_free();
	farms_free();
}

static int
arr_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_MAP_REQUEST_HANDLER, WASP_PRIORITY_FIRST,
			      arr_on_map, NULL);
}

static const struct wasp_module_section arr_sections[] = {
	{ "system.webServer/proxy", arrconf_build, arrconf_free },
};

const struct wasp_module mod_arr = {
	.abi = WASP_MODULE_ABI,
	.name = "ApplicationRequestRouting",
	.sections = arr_sections,
	.n_sections = ELEMENTSOF(arr_sections),
	.init_process = arr_init,
	.register_hooks = arr_register_hooks,
	.exit_process = arr_exit,
};
