/* The TLS parts of the adapters' routing table (docs/adapter-protocol.md):
 * each https binding's certificate file in the certificate store, whether
 * its site asks for client certificates, and the table's "tls" (the
 * store's and the Central Certificate Store's settings, the CA bundle,
 * the session ticket seed), as JSON texts routes.c puts in. Only adapters
 * get this table, never a worker. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "apphost.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "waspd.h"

#define SEC_TLS "system.applicationHost/wasp/tls"
#define SEC_CCS "system.applicationHost/wasp/centralCertificateStore"
#define SEC_ACCESS "system.webServer/security/access"
#define SSL_NEGOTIATE_CERT 32 /* access sslFlags */
#define SSL_REQUIRE_CERT 64
#define TICKET_SEED_SIZE 32

static json_t *
json_decref_null(json_t *j)
{
	json_decref(j);
	return NULL;
}

/* The certificate store's root: system.applicationHost/wasp/tls
 * certificateStorePath, else $sysconfdir/wasp/certs. */
static const char *
tls_store_root(struct wasp_env *env)
{
	const struct wasp_element *t = env->cfg ? wasp_config_section(env->cfg, SEC_TLS) : NULL;
	const char *p = wasp_element_get_str(t, "certificateStorePath", "");

	return *p ? p : WASP_SYSCONFDIR "/certs";
}

/* An https binding's certificate file: <root>/<store>/<hash>.pem, .pfx or
 * .p12, the first that exists (the hash as written, then in lower case;
 * config/apphost.c checked that it is hex digits); .pem when none does
 * (the listener then says so). */
static void
tls_cert_file(struct wasp_env *env, const struct wasp_binding *b, char *buf, size_t size)
{
	static const char *const exts[] = { "pem", "pfx", "p12" };
	const char *hash = wasp_binding_cert_hash(b), *store = wasp_binding_cert_store(b);
	char lower[129];
	size_t n = strlen(hash);

	for (size_t i = 0; i <= n && i < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)hash[i]);
	lower[sizeof(lower) - 1] = '\0';
	if (!*store)
		store = "My";
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
			(void)snprintf(buf, size, "%s/%s/%s.%s", tls_store_root(env), store,
				       pass ? lower : hash, exts[i]);
			if (access(buf, F_OK) == 0)
				return;
		}
	(void)snprintf(buf, size, "%s/%s/%s.pem", tls_store_root(env), store, hash);
}

/* Whether the effective access sslFlags at a URL path of site has
 * SslNegotiateCert or SslRequireCert. */
static bool
asks_client_cert(struct wasp_env *env, const struct wasp_site *site, const char *url)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	const struct wasp_element *e = NULL;

	(void)wasp_config_effective_section_at(env->cfg, site->name, url, SEC_ACCESS, &e, &diags);
	wasp_diag_list_done(&diags);
	return (wasp_element_get_uint(e, "sslFlags", 0) & (SSL_NEGOTIATE_CERT | SSL_REQUIRE_CERT)) != 0;
}

struct location_walk {
	struct wasp_env *env;
	const struct wasp_site *site;
};

static int
location_asks(const char *url, void *userdata)
{
	const struct location_walk *w = userdata;
	char path[PATH_MAX];

	if (strstr(url, ".."))
		return 0; /* not a URL path (refused when the file was read) */
	(void)snprintf(path, sizeof(path), "/%s", url);
	return asks_client_cert(w->env, w->site, path);
}

/* Whether a URL of site asks for client certificates: the effective
 * system.webServer/security/access sslFlags of one of its applications, or
 * of one of applicationHost.config's <location>s under it, has
 * SslNegotiateCert or SslRequireCert. The listener then asks for one in
 * every handshake of the site's https bindings (HTTP.sys would renegotiate
 * for those URLs alone; with TLS 1.3 a client that does not offer
 * post-handshake authentication could not be asked later). A web.config is
 * not read here: the worker asks for a renegotiation when it finds one
 * (docs/design.md "Client certificates"). */
bool
routes_site_client_cert(struct wasp_env *env, const struct wasp_site *site)
{
	struct location_walk w = { env, site };

	if (!env->cfg)
		return false;
	for (size_t i = 0; i < site->n_apps; i++)
		if (asks_client_cert(env, site, site->apps[i].path))
			return true;
	return wasp_config_site_locations(env->cfg, SEC_ACCESS, site->name, location_asks, &w) > 0;
}

/* An https binding's ,"tls":{"flags":N,"cert":PATH,"where":TEXT} (no
 * cert for the Central Certificate Store, which is found by host, nor
 * for a binding without a certificateHash, whose handshakes fail). */
char *
routes_binding_tls_json(struct wasp_env *env, const struct wasp_site *site,
			const struct wasp_binding *b, bool client_cert)
{
	char path[PATH_MAX], where[PATH_MAX + 512];
	json_t *o;

	(void)snprintf(where, sizeof(where), "site '%.100s' binding 'https %.300s' (%s:%d)",
		       site->name, b->binding_information, strempty(b->file), b->line);
	o = json_pack("{s:I, s:s}", "flags", (json_int_t)b->ssl_flags, "where", where);
	if (o && !(b->ssl_flags & WASP_SSL_F_CENTRAL_CERT_STORE) && *wasp_binding_cert_hash(b)) {
		tls_cert_file(env, b, path, sizeof(path));
		if (json_object_set_new(o, "cert", json_string(path)) < 0)
			o = json_decref_null(o);
	}
	if (o && client_cert && json_object_set_new(o, "clientCert", json_true()) < 0)
		o = json_decref_null(o);
	return routes_json_text(o);
}

/* The session ticket seed: <runtime dir>/tls-ticket-seed (0600, made
 * once): the listener derives its ticket keys from it per 12-hour period,
 * so a restarted listener (or waspd, the runtime directory kept) still
 * resumes the sessions of the one before. hex gets 2 * TICKET_SEED_SIZE + 1
 * bytes; "" when it cannot be had (the listener then makes its own). */
static void
ticket_seed(struct wasp_env *env, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char seed[TICKET_SEED_SIZE];
	_cleanup_free_ char *path = NULL;
	int fd;

	hex[0] = '\0';
	if (!env->runtime_dir || asprintf(&path, "%s/tls-ticket-seed", env->runtime_dir) < 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || read(fd, seed, sizeof(seed)) != (ssize_t)sizeof(seed)) {
		safe_close(fd);
		if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
			return;
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || write(fd, seed, sizeof(seed)) != (ssize_t)sizeof(seed))
			log_warning_errno(fd < 0 ? -errno : -EIO, "%s: session tickets will not "
					  "survive a restart of the listener", path);
	}
	safe_close(fd);
	for (size_t i = 0; i < sizeof(seed); i++) {
		hex[2 * i] = digits[seed[i] >> 4];
		hex[2 * i + 1] = digits[seed[i] & 15];
	}
	hex[2 * sizeof(seed)] = '\0';
	explicit_bzero(seed, sizeof(seed));
}

char *
routes_tls_json(struct wasp_env *env)
{
	const struct wasp_element *t = env->cfg ? wasp_config_section(env->cfg, SEC_TLS) : NULL;
	const struct wasp_element *ccs = env->cfg ? wasp_config_section(env->cfg, SEC_CCS) : NULL;
	char seed[2 * TICKET_SEED_SIZE + 1];
	json_t *o;

	ticket_seed(env, seed);
	o = json_pack("{s:s, s:s, s:s}", "pfxPassword",
		      wasp_element_get_str(t, "pfxPassword", ""), "caFile",
		      wasp_element_get_str(t, "clientCertificateCaFile", ""), "ticketSeed", seed);
	explicit_bzero(seed, sizeof(seed));
	if (o && json_object_set_new(o, "kernelTls",
				     json_boolean(wasp_element_get_bool(t, "kernelTls", true))) < 0)
		o = json_decref_null(o);
	if (o && wasp_element_get_bool(ccs, "enabled", false) &&
	    (json_object_set_new(o, "ccsPath",
				 json_string(wasp_element_get_str(ccs, "physicalPath", ""))) < 0 ||
	     json_object_set_new(o, "ccsPassword",
				 json_string(wasp_element_get_str(ccs, "privateKeyPassword", ""))) < 0))
		o = json_decref_null(o);
	return routes_json_text(o);
}
