/* The start of a request on a connection: who serves the head (this
 * worker's application, or the adapter again: hand back), the request's
 * fields from the head, the error start for a head that cannot be served,
 * and the connection's addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "arena.h"
#include "conn.h"
#include "route.h"
#include "log.h"
#include "util.h"

void
start_error(struct conn *c, unsigned status)
{
	struct wasp_request *req = &c->req;

	if (!c->req_active) {
		if (!c->req_arena)
			c->req_arena = conn_arena_get(c->env);
		if (!c->req_arena) { /* no memory for an error page: just close */
			c->state = CS_CLOSE;
			return;
		}
		request_init(req, c->env, c, c->req_arena, NULL);
		req->start_usec = wasp_now_usec();
		c->req_active = true;
		c->env->n_busy++;
	}
	request_set_error(req, status, 0);
	c->close_after = true;
	c->linger = true;
	pipeline_skip_to_send(req);
	c->state = CS_RUN;
}

/* Decide who serves the request whose head is at in_start: this worker's
 * application (returned), or nobody here (NULL: hand back). */
static struct wapp *
conn_route(struct conn *c, bool *ret_handback)
{
	struct worker_env *env = c->env;
	const struct wasp_http_request *h = c->http;
	struct wasp_route_table *routes;
	struct wasp_route_result rr;
	struct wapp *app;
	bool first = c->first;
	int r;

	*ret_handback = false;
	if (first) {
		c->first = false;
		if (c->first_app)
			return c->first_app;
	}
	routes = env_routes(env); /* parsed on the first need */
	if (!routes)
		return first ? NULL : c->app;
	if (c->rsock_gen != env->routes_gen || !c->rsock) {
		c->rsock = wasp_route_find_socket(routes, (struct sockaddr *)&c->local,
						  c->local_len);
		c->rsock_gen = env->routes_gen;
		c->last_rapp = NULL;
	}
	if (!c->rsock) {
		*ret_handback = true;
		return NULL;
	}
	r = wasp_route_lookup(c->rsock, (struct sockaddr *)&c->local, h->host.ptr, h->host.len,
			      h->path.ptr, h->path.len, &rr);
	if (r < 0 || rr.pool != env->route_pool) {
		*ret_handback = true;
		return NULL;
	}
	if (rr.app == c->last_rapp && c->app)
		return c->app;
	app = env_find_app(env, rr.site->id, rr.app->path);
	c->last_rapp = app ? rr.app : NULL;
	return app;
}

/* A complete head of head_len bytes is at in_start. Returns false when the
 * connection went away (handed back). */
bool
start_request(struct conn *c, size_t head_len)
{
	struct worker_env *env = c->env;
	const struct wasp_http_request *h = c->http;
	struct wasp_request *req = &c->req;
	bool handback;
	struct wapp *app;
	char *path;
	int n;

	app = conn_route(c, &handback);
	if (handback) {
		conn_handback(c);
		return false;
	}
	c->in_start += head_len;
	request_init(req, env, c, c->req_arena, h);
	req->start_usec = wasp_now_usec();
	req->bytes_in = head_len;
	c->req_active = true;
	env->n_busy++;
	c->state = CS_RUN;
	if (!app) {
		log_warning("no application of pool '%s' for site %u, path '%.*s'",
			    strempty(env->pool_name), c->site_id, (int)h->path.len, h->path.ptr);
		start_error(c, 500);
		return true;
	}
	c->app = app;
	req->app = app;
	req->method =
		h->method != WASP_HTTP_METHOD_OTHER
			? wasp_http_method_name(h->method)
			: wasp_arena_strndup(c->req_arena, h->method_str.ptr, h->method_str.len);
	req->head = h->method == WASP_HTTP_METHOD_HEAD;
	if (h->query.ptr)
		req->query = wasp_arena_strndup(c->req_arena, h->query.ptr, h->query.len);
	path = wasp_arena_alloc(c->req_arena, h->path.len + 2);
	if (!req->method || !req->query || !path) {
		start_error(c, 500);
		return true;
	}
	if (h->form == WASP_HTTP_FORM_AUTHORITY) {
		/* CONNECT: we are no proxy, for any resource (RFC 9110 15.6.2) */
		start_error(c, 501);
		return true;
	}
	if (h->form == WASP_HTTP_FORM_ASTERISK) {
		/* OPTIONS * asks about the server, not a resource (RFC 9110
		 * 9.3.7): no handler maps it. req->path stays "" (the site's
		 * root for configuration; the log shows the raw "*"). */
		req->status = 200;
		if (wasp_response_add_header(req, "Allow", WORKER_ALLOW_SERVER) < 0 ||
		    wasp_response_add_header(req, "Public", WORKER_ALLOW_SERVER) < 0) {
			start_error(c, 500);
			return true;
		}
		pipeline_skip_to_send(req);
	} else {
		n = wasp_http_url_normalize(h->path.ptr, h->path.len, path, h->path.len + 2,
					    &req->path_flags);
		if (n < 0) {
			log_debug("bad URL path: %s", wasp_http_url_strerror(n));
			start_error(c, 400);
			return true;
		}
		req->path = path;
		req->vdir = vdir_match(app, path, &req->rel);
	}

	c->xfer = XFER_NONE;
	body_start(c, h);
	return true;
}

bool
conn_local_addr(struct conn *c, const struct sockaddr_storage **ret, socklen_t *ret_len)
{
	*ret = &c->local;
	*ret_len = c->local_len;
	return c->local_len > 0 &&
	       (c->local.ss_family == AF_INET || c->local.ss_family == AF_INET6);
}

bool
conn_peer_addr(struct conn *c, const struct sockaddr_storage **ret, socklen_t *ret_len)
{
	*ret = &c->peer;
	*ret_len = c->peer_len;
	return c->peer_len > 0 && (c->peer.ss_family == AF_INET || c->peer.ss_family == AF_INET6);
}

/* a.b.c.d into buf (at least INET_ADDRSTRLEN bytes), without inet_ntop's
 * sprintf: the W3C log asks for two addresses on every request */
static void
ipv4_text(char *buf, const uint8_t a[4])
{
	char *p = buf;

	for (size_t i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (i)
			*p++ = '.';
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
	}
	*p = '\0';
}

/* The address as IIS shows it (an IPv4 client on an IPv6 socket as IPv4),
 * into buf (INET6_ADDRSTRLEN bytes); "" when it has none. */
static void
addr_text(const struct sockaddr_storage *ss, char *buf)
{
	if (ss->ss_family == AF_INET) {
		ipv4_text(buf, (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr);
	} else {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			ipv4_text(buf, &a->s6_addr[12]);
		else if (!inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN))
			buf[0] = '\0';
	}
}

const char *
conn_addr_text(struct conn *c, bool peer)
{
	const struct sockaddr_storage *ss;
	char *buf = peer ? c->peer_text : c->local_text;
	socklen_t len;

	if (!buf[0] && (peer ? conn_peer_addr(c, &ss, &len) : conn_local_addr(c, &ss, &len)))
		addr_text(ss, buf);
	return buf;
}
