/* TLS contexts: one SSL_CTX per certificate file (PEM with chain and key,
 * or PKCS#12), loaded when a routing table names it and again when the file
 * changes on disk (checked every LSN_TLS_CHECK_MS and at each table); the
 * certificate of a handshake chosen by SNI among the https bindings of the
 * socket in the ClientHello callback (before the version is chosen, so a
 * binding's DisableTLS13 applies); session ticket keys shared by every
 * context and rotated; OCSP staples from <file>.ocsp. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "libevent-util.h"
#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "util.h"
#include "wasp-build.h"

#define TLS12_CIPHERS                                                                      \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                       \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                       \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:P-256:P-384"
#define TICKET_ROTATE_USEC (12ULL * 3600 * 1000000) /* a key encrypts 12 h, decrypts 24 h */
#define RELAY_BUCKETS 4096
/* a binding's sslFlags (config/apphost.h's WASP_SSL_F_*) */
#define SSL_F_CENTRAL_CERT_STORE 0x2
#define SSL_F_DISABLE_OCSP_STAPLING 0x8
#define SSL_F_DISABLE_TLS13 0x20
#define CCS_FILE_MAX 512

/* One certificate file and its context. Never freed before the listener
 * exits: their number is bounded by the files the configuration and the
 * Central Certificate Store hold. */
struct tls_cert {
	struct tls_cert *next;
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool loaded; /* tried since the file last changed */
	SSL_CTX *ctx; /* NULL: unusable (logged) */
	unsigned char *ocsp;
	size_t ocsp_len;
};

struct ticket_key {
	unsigned char name[16], aes[32], hmac[32];
};

struct lsn_tls {
	SSL_CTX *base; /* every SSL is made from it: versions, ciphers, tickets */
	struct tls_cert *certs;
	struct event *ev_check;
	struct ticket_key keys[2]; /* [0] encrypts, both decrypt */
	uint64_t keys_time;
	bool seeded; /* keys derived from the table's seed (for period) */
	uint64_t period;
	unsigned char seed[32];
	EVP_CIPHER *aes; /* the tickets' cipher, fetched once */
	X509_STORE *ca; /* client certificates; NULL: none loaded */
	char *ca_path;
	struct lsn_relay *relays[RELAY_BUCKETS];
};

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static const char *
ssl_error_text(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

bool
lsn_tls_has_ca(const struct lsn_env *env)
{
	return env->tls && env->tls->ca;
}

int
lsn_tls_use_ca(struct lsn_env *env, SSL *ssl)
{
	if (!lsn_tls_has_ca(env))
		return -ENOENT;
	return SSL_set1_verify_cert_store(ssl, env->tls->ca) == 1 ? 0 : -ENOMEM;
}

struct lsn_relay **
lsn_tls_bucket(struct lsn_env *env, ino_t ino)
{
	return &env->tls->relays[(uint64_t)ino % RELAY_BUCKETS];
}

/* ---- certificates -------------------------------------------------------- */

/* The password of a PKCS#12 file: the Central Certificate Store's for its
 * files, else the store's. */
static const char *
pfx_password(struct lsn_env *env, const char *path)
{
	const struct wasp_route_tls *t = env->table ? &env->table->rt->tls : NULL;

	if (!t)
		return "";
	if (t->ccs_path && *t->ccs_path && strncmp(path, t->ccs_path, strlen(t->ccs_path)) == 0)
		return t->ccs_password;
	return t->pfx_password;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int
load_pkcs12(SSL_CTX *ctx, FILE *f, const char *password)
{
	PKCS12 *p12 = d2i_PKCS12_fp(f, NULL);
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *ca = NULL;
	int ok = 0;

	if (p12 && PKCS12_parse(p12, password, &pkey, &x, &ca) && x && pkey &&
	    SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, pkey) == 1) {
		ok = 1;
		for (int i = 0; ca && i < sk_X509_num(ca); i++)
			ok &= SSL_CTX_add1_chain_cert(ctx, sk_X509_value(ca, i)) == 1;
	}
	PKCS12_free(p12);
	EVP_PKEY_free(pkey);
	X509_free(x);
	sk_X509_pop_free(ca, X509_free);
	return ok ? 0 : -EINVAL;
}

/* The leaf certificate, its chain and the key, from one PEM file. */
static int
load_pem(SSL_CTX *ctx, FILE *f)
{
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL), *ca;
	EVP_PKEY *pkey = NULL;
	int ok = x && SSL_CTX_use_certificate(ctx, x) == 1;

	X509_free(x);
	while (ok && (ca = PEM_read_X509(f, NULL, NULL, NULL)))
		ok = SSL_CTX_add0_chain_cert(ctx, ca) == 1;
	ERR_clear_error(); /* the end of the certificates */
	rewind(f);
	pkey = ok ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	ok = pkey && SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
	EVP_PKEY_free(pkey);
	return ok ? 0 : -EINVAL;
}

/* <path>.ocsp, a DER OCSP response to staple (absent: none). */
static void
load_ocsp(struct tls_cert *cert)
{
	_cleanup_free_ char *p = NULL;
	unsigned char *buf;
	FILE *f;
	long n;

	free(cert->ocsp);
	cert->ocsp = NULL;
	cert->ocsp_len = 0;
	if (asprintf(&p, "%s.ocsp", cert->path) < 0 || !(f = fopen(p, "rbe")))
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n <= 65536 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n))) {
		if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
			cert->ocsp = buf;
			cert->ocsp_len = (size_t)n;
		} else {
			free(buf);
		}
	}
	(void)fclose(f);
}

static int
on_status(SSL *ssl, void *arg)
{
	struct tls_cert *cert = arg;
	struct lsn_relay *r = SSL_get_app_data(ssl);
	unsigned char *copy;

	if (!cert->ocsp || (r && (r->bind_flags & SSL_F_DISABLE_OCSP_STAPLING)))
		return SSL_TLSEXT_ERR_NOACK;
	copy = OPENSSL_memdup(cert->ocsp, cert->ocsp_len);
	if (!copy || SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)cert->ocsp_len) != 1) {
		OPENSSL_free(copy);
		return SSL_TLSEXT_ERR_NOACK;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* Load cert->path into a new context. A key file any user may read is
 * refused: keys are the listener's alone (docs/design.md "HTTPS"). */
static int
cert_load(struct lsn_env *env, struct tls_cert *cert, const struct stat *st, const char *who)
{
	char err[256];
	SSL_CTX *ctx;
	FILE *f = NULL;
	int r;

	if (st->st_mode & S_IROTH) {
		log_error("%s: certificate '%s' is readable by every user (its private key must "
			  "not be): not used",
			  who, cert->path);
		return -EPERM;
	}
	f = fopen(cert->path, "rbe");
	if (!f)
		return log_errno(-errno, "%s: certificate '%s'", who, cert->path);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		(void)fclose(f);
		return -ENOMEM;
	}
	if (ends_with(cert->path, ".pfx") || ends_with(cert->path, ".p12"))
		r = load_pkcs12(ctx, f, pfx_password(env, cert->path));
	else
		r = load_pem(ctx, f);
	(void)fclose(f);
	if (r == 0 && SSL_CTX_check_private_key(ctx) != 1)
		r = -EINVAL;
	if (r < 0) {
		log_error("%s: certificate '%s': %s", who, cert->path,
			  ssl_error_text(err, sizeof(err)));
		SSL_CTX_free(ctx);
		return r;
	}
	/* the base context's: SSL_set_SSL_CTX takes it from here, and a
	 * handshake that verifies its peer resumes no session without one */
	(void)SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"wasp", 4);
	SSL_CTX_set_tlsext_status_cb(ctx, on_status);
	SSL_CTX_set_tlsext_status_arg(ctx, cert);
	load_ocsp(cert);
	SSL_CTX_free(cert->ctx); /* connections that use it keep their reference */
	cert->ctx = ctx;
	log_debug("certificate '%s' loaded%s", cert->path, cert->ocsp ? " (with an OCSP staple)" : "");
	return 0;
}

/* cert loaded again when its file changed (a new file, or a new mtime or
 * size); a file gone or unreadable keeps the context it had, if any. */
static void
cert_refresh(struct lsn_env *env, struct tls_cert *cert, const char *who)
{
	struct stat st;

	if (stat(cert->path, &st) < 0) {
		if (!cert->loaded)
			log_errno(-errno, "%s: certificate '%s'", who, cert->path);
		cert->loaded = true;
		return;
	}
	if (cert->loaded && st.st_dev == cert->dev && st.st_ino == cert->ino &&
	    st.st_size == cert->size && st.st_mtim.tv_sec == cert->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == cert->mtime.tv_nsec)
		return;
	if (cert->loaded && cert->ctx)
		log_info("certificate '%s' changed on disk: loading it again", cert->path);
	cert->dev = st.st_dev;
	cert->ino = st.st_ino;
	cert->size = st.st_size;
	cert->mtime = st.st_mtim;
	cert->loaded = true;
	(void)cert_load(env, cert, &st, who);
}

/* The entry for path (made and loaded on first use); NULL on OOM. */
static struct tls_cert *
cert_get(struct lsn_env *env, const char *path, const char *who)
{
	struct tls_cert *cert;

	for (cert = env->tls->certs; cert; cert = cert->next)
		if (streq(cert->path, path))
			return cert;
	cert = calloc(1, sizeof(*cert));
	if (!cert || !(cert->path = strdup(path))) {
		free(cert);
		return NULL;
	}
	cert->next = env->tls->certs;
	env->tls->certs = cert;
	cert_refresh(env, cert, who);
	return cert;
}

static void
on_check(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_env *env = arg;

	for (struct tls_cert *c = env->tls->certs; c; c = c->next)
		cert_refresh(env, c, "https binding");
}

/* ---- the certificate of a handshake ---------------------------------------- */

/* The host name of a server_name extension (RFC 6066 3) into buf, lower
 * case; false when there is none usable. */
static bool
parse_sni(const unsigned char *p, size_t len, char *buf, size_t size)
{
	size_t list, n;

	if (len < 5)
		return false;
	list = (size_t)p[0] << 8 | p[1];
	if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name)
		return false;
	n = (size_t)p[3] << 8 | p[4];
	if (n == 0 || n + 5 > len || n >= size)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[5 + i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '/')
			return false;
		buf[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[n - 1] = '\0';
	return buf[0] != '\0' && buf[0] != '.';
}

/* The binding whose certificate a handshake with SNI host gets: one naming
 * the host, then the longest wildcard ("*.example.com") covering it, then
 * the socket's default (a binding with no host). */
static const struct wasp_route_tls_binding *
choose_binding(const struct wasp_route_socket *rs, const char *host)
{
	const struct wasp_route_tls_binding *wild = NULL, *def = NULL;
	size_t hl = strlen(host), wl = 0;

	for (size_t i = 0; i < rs->n_tls; i++) {
		const struct wasp_route_tls_binding *b = &rs->tls[i];
		size_t bl = strlen(b->host);

		if (bl == 0) {
			if (!def)
				def = b;
		} else if (hl > 0 && streq(b->host, host)) {
			return b;
		} else if (hl > 0 && bl > 2 && b->host[0] == '*' && b->host[1] == '.' &&
			   hl > bl - 1 && streq(host + hl - (bl - 1), b->host + 1) && bl > wl) {
			wild = b;
			wl = bl;
		}
	}
	return wild ? wild : def;
}

/* The Central Certificate Store's file for host: <host>.pfx, else
 * _.<parent>.pfx (IIS's wildcard file); NULL when neither exists. */
static struct tls_cert *
ccs_cert(struct lsn_env *env, const char *host)
{
	const char *dir = env->table ? env->table->rt->tls.ccs_path : NULL;
	const char *dot = strchr(host, '.');
	char path[CCS_FILE_MAX];

	if (!dir || !*dir || !*host)
		return NULL;
	(void)snprintf(path, sizeof(path), "%s/%s.pfx", dir, host);
	if (access(path, F_OK) == 0)
		return cert_get(env, path, "Central Certificate Store");
	if (!dot || !dot[1])
		return NULL;
	(void)snprintf(path, sizeof(path), "%s/_%s.pfx", dir, dot);
	if (access(path, F_OK) == 0)
		return cert_get(env, path, "Central Certificate Store");
	return NULL;
}

/* ---- client certificates -------------------------------------------------- */

static int
on_client_hello(SSL *ssl, int *al, void *arg)
{
	struct lsn_relay *r = SSL_get_app_data(ssl);
	struct lsn_env *env = r->env;
	const struct wasp_route_tls_binding *b;
	const unsigned char *ext;
	struct tls_cert *cert;
	size_t len;

	if (r->reneg)
		return SSL_CLIENT_HELLO_SUCCESS; /* a renegotiation we asked for (tlsclient.c) */
	r->sni[0] = '\0';
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1 &&
	    !parse_sni(ext, len, r->sni, sizeof(r->sni)))
		r->sni[0] = '\0';
	b = r->rs ? choose_binding(r->rs, r->sni) : NULL;
	if (!b) {
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	r->bind_flags = b->flags;
	if (!b->cert && !(b->flags & SSL_F_CENTRAL_CERT_STORE))
		cert = NULL; /* no certificateHash (warned at load) */
	else
		cert = b->cert ? cert_get(env, b->cert, b->where) : ccs_cert(env, r->sni);
	if (!cert || !cert->ctx) {
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (!SSL_set_SSL_CTX(ssl, cert->ctx)) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	/* a client certificate is asked for where the site wants one, never
	 * required: the worker decides (403.7, 403.16) */
	SSL_set_verify(ssl, b->client_cert ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
		       b->client_cert ? lsn_tls_on_verify : NULL);
	/* against the CA bundle, when there is one (after SSL_set_SSL_CTX,
	 * which replaces the SSL's certificate settings) */
	if (b->client_cert && env->tls->ca)
		(void)SSL_set1_verify_cert_store(ssl, env->tls->ca);
	if (b->flags & SSL_F_DISABLE_TLS13)
		(void)SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* ---- session tickets ---------------------------------------------------- */

/* A period's key from the seed: HMAC-SHA512 gives the name and the AES
 * key, HMAC-SHA256 the MAC key. */
static void
ticket_derive(const unsigned char seed[32], uint64_t period, struct ticket_key *k)
{
	unsigned char msg[16] = "wasp-tkt", out[64];
	unsigned int n = 0;

	for (int i = 0; i < 8; i++)
		msg[8 + i] = (unsigned char)(period >> (56 - 8 * i));
	(void)HMAC(EVP_sha512(), seed, 32, msg, sizeof(msg), out, &n);
	memcpy(k->name, out, 16);
	memcpy(k->aes, out + 16, 32);
	msg[0] = 'W';
	(void)HMAC(EVP_sha256(), seed, 32, msg, sizeof(msg), out, &n);
	memcpy(k->hmac, out, 32);
	explicit_bzero(out, sizeof(out));
}

/* The table's ticket seed (hex) into seed: false when it has none. */
static bool
ticket_seed(struct lsn_env *env, unsigned char seed[32])
{
	const char *hex = env->table ? env->table->rt->tls.ticket_seed : NULL;

	if (!hex || strlen(hex) != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		seed[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* The keys of this period: derived from waspd's seed (shared by the
 * listener's restarts), else random ones of our own; the previous
 * period's key still decrypts. */
static void
tickets_rotate(struct lsn_env *env)
{
	struct lsn_tls *t = env->tls;
	uint64_t now = wasp_now_usec();
	unsigned char seed[32];

	if (ticket_seed(env, seed)) {
		uint64_t period = (uint64_t)time(NULL) / (TICKET_ROTATE_USEC / 1000000);
		if (!t->seeded || period != t->period || memcmp(seed, t->seed, 32) != 0) {
			ticket_derive(seed, period, &t->keys[0]);
			ticket_derive(seed, period - 1, &t->keys[1]);
			memcpy(t->seed, seed, 32);
			t->period = period;
			t->seeded = true;
		}
		explicit_bzero(seed, sizeof(seed));
		return;
	}
	if (t->keys_time && !t->seeded && now - t->keys_time < TICKET_ROTATE_USEC)
		return;
	t->seeded = false;
	t->keys[1] = t->keys[0];
	if (RAND_bytes((unsigned char *)&t->keys[0], sizeof(t->keys[0])) != 1)
		return;
	if (!t->keys_time)
		t->keys[1] = t->keys[0];
	t->keys_time = now;
}

/* The keys still current? A ticket's step asks only the clock; the seed is
 * read when a table comes (lsn_tls_table_changed). */
static void
tickets_check(struct lsn_env *env)
{
	struct lsn_tls *t = env->tls;

	if (t->seeded ? (uint64_t)time(NULL) / (TICKET_ROTATE_USEC / 1000000) != t->period
		      : wasp_now_usec() - t->keys_time >= TICKET_ROTATE_USEC)
		tickets_rotate(env);
}

static int
on_ticket(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
	  EVP_MAC_CTX *hctx, int enc)
{
	struct lsn_relay *r = SSL_get_app_data(ssl);
	struct lsn_tls *t = r->env->tls;
	const struct ticket_key *k = NULL;
	unsigned char hmac[32];
	char digest[] = "sha256";
	int ok;
	OSSL_PARAM params[3];

	tickets_check(r->env);
	if (enc) {
		k = &t->keys[0];
		memcpy(name, k->name, 16);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return -1;
	} else {
		for (int i = 0; i < 2 && !k; i++)
			if (memcmp(name, t->keys[i].name, 16) == 0)
				k = &t->keys[i];
		if (!k)
			return 0; /* unknown: a full handshake */
	}
	memcpy(hmac, k->hmac, sizeof(hmac));
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, hmac, sizeof(hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_CTX_set_params(hctx, params);
	explicit_bzero(hmac, sizeof(hmac));
	if (ok != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(ectx, t->aes, NULL, k->aes, iv) == 1 ? 1 : -1;
	if (EVP_DecryptInit_ex(ectx, t->aes, NULL, k->aes, iv) != 1)
		return -1;
	/* 2: send a new ticket. TLS 1.3 clients use a ticket once (RFC 8446
	 * C.4), and OpenSSL sends one after a resumed handshake only when told
	 * to renew: without it every other connection would be a full one. */
	if (SSL_version(ssl) == TLS1_3_VERSION || k != &t->keys[0])
		return 2;
	return 1;
}

/* ---- contexts ------------------------------------------------------------- */

static SSL_CTX *
base_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* renegotiation: only the server's, to ask for a client certificate
	 * (tlsclient.c); a client's is refused (OpenSSL 3's default, without
	 * SSL_OP_ALLOW_CLIENT_RENEGOTIATION) */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* one read(2) per record, not a header's and a body's (the relay
	 * asks SSL_has_pending before it waits for the socket) */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"wasp", 4);
	SSL_CTX_set_client_hello_cb(ctx, on_client_hello, NULL);
	(void)SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
	SSL_CTX_set_num_tickets(ctx, 1);
	return ctx;
}

/* The CA bundle of client certificates, as the table names it (default
 * $sysconfdir/wasp/certs/ClientCA.pem), loaded again when the name changed. */
static void
ca_refresh(struct lsn_env *env)
{
	struct lsn_tls *t = env->tls;
	const char *p = env->table->rt->tls.ca_file;
	X509_STORE *st;

	if (!p || !*p)
		p = WASP_SYSCONFDIR "/certs/ClientCA.pem";
	if (t->ca_path && streq(t->ca_path, p))
		return;
	free(t->ca_path);
	t->ca_path = strdup(p);
	X509_STORE_free(t->ca);
	t->ca = NULL;
	if (access(p, R_OK) < 0)
		return; /* no client certificate verifies */
	st = X509_STORE_new();
	if (st && X509_STORE_load_file(st, p) == 1) {
		t->ca = st;
		return;
	}
	log_warning("client certificate CA bundle '%s' cannot be loaded: no client certificate "
		    "will verify",
		    p);
	ERR_clear_error();
	X509_STORE_free(st);
}

void
lsn_tls_table_changed(struct lsn_env *env)
{
	const struct wasp_route_table *rt = env->table ? env->table->rt : NULL;

	if (!rt || !env->tls)
		return;
	tickets_rotate(env); /* the table's seed, if it changed */
	ca_refresh(env);
	for (struct tls_cert *c = env->tls->certs; c; c = c->next)
		cert_refresh(env, c, "https binding");
	for (size_t i = 0; i < rt->n_sockets; i++)
		for (size_t j = 0; j < rt->sockets[i].n_tls; j++) {
			const struct wasp_route_tls_binding *b = &rt->sockets[i].tls[j];
			if (b->cert)
				(void)cert_get(env, b->cert, b->where);
		}
}

SSL *
lsn_tls_new_ssl(struct lsn_env *env, struct lsn_relay *r)
{
	SSL *ssl = SSL_new(env->tls->base);

	if (!ssl)
		return NULL;
	SSL_set_app_data(ssl, r);
	if (SSL_set_fd(ssl, r->tcp) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	lsn_ktls_prepare(env, ssl);
	return ssl;
}

int
lsn_tls_init(struct lsn_env *env)
{
	struct timeval tv = { LSN_TLS_CHECK_MS / 1000, (LSN_TLS_CHECK_MS % 1000) * 1000 };
	struct lsn_tls *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	env->tls = t;
	t->base = base_new();
	t->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	t->ev_check = event_new(env->base, -1, EV_PERSIST, on_check, env);
	if (!t->base || !t->aes || !t->ev_check || event_add(t->ev_check, &tv) < 0)
		return -ENOMEM;
	tickets_rotate(env);
	log_info("TLS: %s", lsn_ktls_init() ? "the kernel offers kTLS: connections with both "
					      "directions in the kernel go to workers as TCP sockets"
					    : "no kernel TLS (no tls ULP): connections go through "
					      "the listener's relay");
	return 0;
}

void
lsn_tls_done(struct lsn_env *env)
{
	struct lsn_tls *t = env->tls;
	struct tls_cert *c;

	if (!t)
		return;
	lsn_relay_free_all(env);
	while ((c = t->certs)) {
		t->certs = c->next;
		SSL_CTX_free(c->ctx);
		free(c->ocsp);
		free(c->path);
		free(c);
	}
	SSL_CTX_free(t->base);
	EVP_CIPHER_free(t->aes);
	X509_STORE_free(t->ca);
	free(t->ca_path);
	t->ev_check = wasp_event_free(t->ev_check);
	explicit_bzero(t->keys, sizeof(t->keys));
	explicit_bzero(t->seed, sizeof(t->seed));
	lsn_ktls_done();
	free(t);
	env->tls = NULL;
}
