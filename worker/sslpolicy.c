/* The HTTPS policy of a request, applied by the worker's core as IIS's core
 * and HTTP.sys apply it (not a module: no <modules> list can remove it):
 *
 *   BeginRequest (first)        the site's hsts redirectHttpToHttps: a plain
 *                               HTTP request gets a 301 to the same path and
 *                               query over https;
 *   AuthenticateRequest (first) system.webServer/security/access sslFlags
 *                               of the request's URL: 403.4, 403.5, 403.7,
 *                               403.16, 403.17 (sslpolicy_check());
 *   MapRequestHandler (first)   the same for the URL it maps, which an
 *                               internal redirect (a default document)
 *                               changes;
 *   SendResponse                the site's hsts: Strict-Transport-Security
 *                               on every response over TLS, never on plain
 *                               HTTP (RFC 6797 7.2).
 *
 * What the connection's TLS is comes from sslpolicy_tls(): the facts the
 * listener sent with the connection (wasp_request_tls()), never server
 * variables a module (URL Rewrite's serverVariables) set for the request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "util.h"
#include "worker.h"

#define ACCESS_SECTION "system.webServer/security/access"
#define SITES_SECTION "system.applicationHost/sites"

void
sslpolicy_tls(struct wasp_request *req, struct sslpolicy_tls *ret)
{
	struct wasp_tls_info t;

	*ret = (struct sslpolicy_tls){ .secure = wasp_request_tls(req, &t) == 0 };
	if (!ret->secure)
		return;
	ret->key_bits = t.key_bits;
	ret->client_cert = t.client_cert;
	ret->client_cert_ok = t.client_cert && t.client_cert_verified;
	ret->verify_result = t.client_verify_result;
	ret->cert_asked = t.client_cert_asked;
}

/* Whether an X509_V_* result says the certificate is outside its validity
 * period and nothing else (the listener reports a trust failure before a
 * date): IIS's 403.17. OpenSSL's values, which the worker does not link. */
static bool
cert_out_of_date(unsigned verify_result)
{
	enum { CERT_NOT_YET_VALID = 9, CERT_HAS_EXPIRED = 10 };

	return verify_result == CERT_NOT_YET_VALID || verify_result == CERT_HAS_EXPIRED;
}

unsigned
sslpolicy_check(uint64_t flags, const struct sslpolicy_tls *t, unsigned *ret_substatus)
{
	unsigned sub = 0;

	if ((flags & SSLFLAG_SSL) && !t->secure)
		sub = 4; /* SSL required */
	else if ((flags & SSLFLAG_SSL128) && t->key_bits < 128)
		sub = 5; /* SSL 128 required */
	else if ((flags & (SSLFLAG_NEGOTIATE_CERT | SSLFLAG_REQUIRE_CERT)) && t->client_cert &&
		 !t->client_cert_ok)
		/* 403.17 expired or not yet valid; 403.16 untrusted or invalid */
		sub = cert_out_of_date(t->verify_result) ? 17 : 16;
	else if ((flags & SSLFLAG_REQUIRE_CERT) && !t->client_cert)
		sub = 7; /* client certificate required */
	/* SslMapCert maps a certificate to an account through the mapping
	 * sections (not implemented: 500.19 where they are turned on); with
	 * no mapping configured IIS ignores it, and so does wasp */
	*ret_substatus = sub;
	return sub ? 403 : 0;
}

/* ---- the site's hsts ---- */

struct site_hsts {
	uint32_t site_id;
	bool enabled, redirect;
	uint16_t https_port; /* of the site's first https binding; 0: none */
	const char *header;  /* Strict-Transport-Security's value */
};

struct hsts_state {
	size_t n;
	struct site_hsts s[];
};

/* The port of "IP:port:host" ("[v6]:port:host"); 0 when there is none. */
static uint16_t
binding_port(const char *info)
{
	const char *p = info;
	unsigned long port;
	char *end;

	if (*p == '[' && !(p = strchr(p, ']')))
		return 0;
	p = strchr(p, ':');
	if (!p)
		return 0;
	port = strtoul(p + 1, &end, 10);
	return end != p + 1 && *end == ':' && port > 0 && port <= 65535 ? (uint16_t)port : 0;
}

static uint16_t
site_https_port(const struct wasp_element *site)
{
	const struct wasp_element *b = wasp_element_child(site, "bindings");

	for (size_t i = 0; b && i < b->n_items; i++)
		if (strcaseeq(wasp_element_get_str(b->items[i], "protocol", ""), "https"))
			return binding_port(wasp_element_get_str(b->items[i], "bindingInformation", ""));
	return 0;
}

static char *
hsts_header(const struct wasp_element *h)
{
	char *s = NULL;

	if (asprintf(&s, "max-age=%llu%s%s",
		     (unsigned long long)wasp_element_get_uint(h, "max-age", 0),
		     wasp_element_get_bool(h, "includeSubDomains", false) ? "; includeSubDomains" : "",
		     wasp_element_get_bool(h, "preload", false) ? "; preload" : "") < 0)
		return NULL;
	return s;
}

static void
hsts_free(void *p)
{
	struct hsts_state *st = p;

	for (size_t i = 0; st && i < st->n; i++)
		free((char *)(uintptr_t)st->s[i].header);
	free(st);
}

static int
site_cmp(const void *a, const void *b)
{
	const struct site_hsts *x = a, *y = b;

	return x->site_id < y->site_id ? -1 : x->site_id > y->site_id;
}

static bool
has_hsts(const struct wasp_element *site)
{
	const struct wasp_element *h = wasp_element_child(site, "hsts");

	return wasp_element_get_bool(h, "enabled", false) ||
	       wasp_element_get_bool(h, "redirectHttpToHttps", false);
}

/* The sites (this pool's) with hsts enabled or redirectHttpToHttps, by id:
 * made once per configuration. */
static void *
hsts_build(const struct wasp_element *sites, void *userdata)
{
	struct hsts_state *st;
	size_t n = 0;

	(void)userdata;
	for (size_t i = 0; i < sites->n_items; i++)
		n += has_hsts(sites->items[i]);
	st = calloc(1, sizeof(*st) + n * sizeof(struct site_hsts));
	if (!st)
		return NULL;
	for (size_t i = 0; i < sites->n_items && st->n < n; i++) {
		const struct wasp_element *site = sites->items[i];
		const struct wasp_element *h = wasp_element_child(site, "hsts");
		struct site_hsts *s = &st->s[st->n];

		if (!has_hsts(site))
			continue;
		*s = (struct site_hsts){
			.site_id = (uint32_t)wasp_element_get_uint(site, "id", 0),
			.enabled = wasp_element_get_bool(h, "enabled", false),
			.redirect = wasp_element_get_bool(h, "redirectHttpToHttps", false),
		};
		s->https_port = site_https_port(site);
		if (s->enabled && !(s->header = hsts_header(h))) {
			hsts_free(st);
			return NULL;
		}
		st->n++;
	}
	qsort(st->s, st->n, sizeof(st->s[0]), site_cmp);
	return st;
}

/* Has the request a configuration (not so in unit tests of the core)?
 * Without one nothing asks for SSL or hsts. */
static bool
configured(const struct wasp_request *req)
{
	return req->app && req->env->config;
}

/* The request's site's hsts; NULL when it has none (or *oom). */
static const struct site_hsts *
request_hsts(struct wasp_request *req, bool *oom)
{
	const struct hsts_state *st;
	struct site_hsts key = { .site_id = wasp_request_site_id(req) };

	*oom = false;
	if (!configured(req))
		return NULL;
	st = wasp_request_config_state(req, SITES_SECTION, hsts_build, hsts_free, NULL);
	*oom = !st;
	if (!st)
		return NULL;
	return bsearch(&key, st->s, st->n, sizeof(st->s[0]), site_cmp);
}

/* The request's Host without its port, else the address it came to. */
static const char *
host_name(struct wasp_request *req)
{
	const char *h = wasp_request_header(req, "Host");
	const char *end;

	if (!h || !*h)
		return request_server_variable_base(req, "SERVER_NAME");
	end = h[0] == '[' ? strchr(h, ']') : NULL;
	end = strchr(end ? end : h, ':');
	return end ? wasp_arena_strndup(req->arena, h, (size_t)(end - h)) : h;
}

static enum wasp_status
redirect_to_https(struct wasp_request *req, const struct site_hsts *s)
{
	const char *host = host_name(req);
	const char *url = request_server_variable_base(req, "UNENCODED_URL");
	char port[8] = "";
	char *loc;

	if (!host || !url)
		return WASP_ERROR;
	/* IIS sends the client to the standard port; a site whose https
	 * binding has another port is sent there */
	if (s->https_port && s->https_port != 443)
		snprintf(port, sizeof(port), ":%u", s->https_port);
	loc = wasp_arena_printf(req->arena, "https://%s%s%s", host, port, url);
	if (!loc)
		return WASP_ERROR;
	wasp_response_set_status(req, 301, 0);
	if (wasp_response_set_header(req, "Location", loc) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

/* The request's site's hsts when the request came over TLS (secure) or
 * not; NULL otherwise, or when the site has none. -ENOMEM in *ret_r. */
static const struct site_hsts *
hsts_when(struct wasp_request *req, bool secure, int *ret_r)
{
	struct sslpolicy_tls t;
	bool oom;
	const struct site_hsts *s = request_hsts(req, &oom);

	*ret_r = oom ? -ENOMEM : 0;
	if (!s)
		return NULL; /* most sites: no TLS facts needed */
	sslpolicy_tls(req, &t);
	return t.secure == secure ? s : NULL;
}

static enum wasp_status
on_begin_request(struct wasp_request *req, void *userdata)
{
	int r;
	const struct site_hsts *s = hsts_when(req, false, &r);

	(void)userdata;
	if (r < 0)
		return WASP_ERROR;
	return s && s->redirect ? redirect_to_https(req, s) : WASP_OK;
}

/* HTTP.sys renegotiates when a URL wants a client certificate the
 * connection's handshake did not ask for: so does the listener, once per
 * connection (a second wish is served as it is), for a request whose body
 * is not being read yet. Only when nothing but the certificate is
 * missing. */
static bool
wants_renegotiation(uint64_t flags, const struct sslpolicy_tls *t, unsigned sub)
{
	if (!t->secure || t->client_cert || t->cert_asked)
		return false;
	return sub == 7 || (sub == 0 && (flags & SSLFLAG_NEGOTIATE_CERT));
}

static enum wasp_status
on_authenticate_request(struct wasp_request *req, void *userdata)
{
	const struct wasp_element *access = wasp_request_config(req, ACCESS_SECTION);
	struct sslpolicy_tls t;
	unsigned status, sub;
	uint64_t flags;

	(void)userdata;
	if (!configured(req))
		return WASP_OK;
	if (!access)
		return WASP_ERROR; /* what cannot be read is not served */
	flags = wasp_element_get_uint(access, "sslFlags", 0);
	if (!flags)
		return WASP_OK;
	sslpolicy_tls(req, &t);
	status = sslpolicy_check(flags, &t, &sub);
	if (wants_renegotiation(flags, &t, sub) &&
	    request_reroute_as_sent(req, WASP_HANDBACK_F_CLIENT_CERT) == 0)
		return WASP_DONE; /* the listener asks, then routes the request again */
	if (!status)
		return WASP_OK;
	request_set_error(req, status, sub);
	return WASP_DONE;
}

static enum wasp_status
on_send_response(struct wasp_request *req, void *userdata)
{
	int r;
	const struct site_hsts *s = hsts_when(req, true, &r);

	(void)userdata;
	if (r < 0)
		return WASP_ERROR;
	if (!s || !s->enabled)
		return WASP_OK;
	return wasp_response_set_header(req, "Strict-Transport-Security", s->header) < 0
		       ? WASP_ERROR
		       : WASP_OK;
}

int
sslpolicy_register(struct wasp_hooks *hooks)
{
	int r;

	r = wasp_hooks_add(hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_FIRST,
			   on_begin_request, NULL);
	if (r >= 0)
		r = wasp_hooks_add(hooks, WASP_STAGE_AUTHENTICATE_REQUEST, WASP_PRIORITY_FIRST,
				   on_authenticate_request, NULL);
	/* again for the URL an internal redirect (a default document) maps:
	 * IIS checks a child request's own URL */
	if (r >= 0)
		r = wasp_hooks_add(hooks, WASP_STAGE_MAP_REQUEST_HANDLER, WASP_PRIORITY_FIRST,
				   on_authenticate_request, NULL);
	if (r >= 0)
		r = wasp_hooks_add(hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_LAST,
				   on_send_response, NULL);
	return r;
}
