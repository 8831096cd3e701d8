/* The TLS fuzz targets' listener, certificates and random numbers
 * (fuzz_tls.h). */
#define OPENSSL_SUPPRESS_DEPRECATED /* RAND_set_rand_method: the seeded generator */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fuzz_check.h"
#include "fuzz_tls.h"
#include "log.h"
#include "util.h"

/* ---- the seeded generator ------------------------------------------------- */

/* Two streams: the server's (reset per connection) and, when recording
 * seeds, the client's, so that the client's draws do not move the
 * server's. */
static uint64_t rng_state[2];
int fuzz_rng_side;

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
rng_bytes(unsigned char *buf, int num)
{
	for (int i = 0; i < num; i += 8) {
		uint64_t v = splitmix(&rng_state[fuzz_rng_side]);
		memcpy(buf + i, &v, (size_t)MIN(8, num - i));
	}
	return 1;
}

static int
rng_status(void)
{
	return 1;
}

static const RAND_METHOD rng_method = {
	.bytes = rng_bytes,
	.pseudorand = rng_bytes,
	.status = rng_status,
};

void
fuzz_rng_reset(int side, uint64_t seed)
{
	rng_state[side] = seed;
	fuzz_rng_side = side;
}

/* ---- certificates ----------------------------------------------------------- */

static char dir[512];
static EVP_PKEY *ca_key;
EVP_PKEY *fuzz_client_key;
static X509 *ca_cert;
X509 *fuzz_client_cert;

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	CHECK(k);
	return k;
}

/* A certificate for cn (and a DNS subjectAltName of it), issued by the CA
 * (self-signed when there is none yet), valid 2026-2046. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	char san[300];

	CHECK(x && X509_set_version(x, 2) == 1);
	CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1);
	CHECK(ASN1_TIME_set_string(X509_getm_notBefore(x), "20260101000000Z") == 1);
	CHECK(ASN1_TIME_set_string(X509_getm_notAfter(x), "20460101000000Z") == 1);
	CHECK(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
					 (const unsigned char *)"wasp fuzz test only", -1, -1, 0) == 1);
	CHECK(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					 -1, 0) == 1);
	CHECK(X509_set_issuer_name(x, ca_cert ? X509_get_subject_name(ca_cert) : n) == 1);
	CHECK(X509_set_pubkey(x, key) == 1);
	(void)snprintf(san, sizeof(san), "DNS:%s", cn);
	X509V3_set_ctx(&v3, ca_cert ? ca_cert : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, ca_cert ? NID_subject_alt_name : NID_basic_constraints,
				  ca_cert ? san : "critical,CA:TRUE");
	CHECK(ext && X509_add_ext(x, ext, -1) == 1);
	X509_EXTENSION_free(ext);
	CHECK(X509_sign(x, ca_cert ? ca_key : key, EVP_sha256()) > 0);
	return x;
}

/* A file only its owner reads (tls.c refuses key files others may read). */
static FILE *
private_file(const char *name, char *path, size_t size)
{
	int fd;

	(void)snprintf(path, size, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	return fdopen(fd, "w");
}

/* <dir>/<name>: a certificate for cn and its key, PEM; returns its path. */
static char *
write_pem(const char *name, const char *cn, long serial)
{
	char path[512];
	EVP_PKEY *k = make_key();
	X509 *x = make_cert(k, cn, serial);
	FILE *f = private_file(name, path, sizeof(path));

	CHECK(f && PEM_write_X509(f, x) == 1 && PEM_write_X509(f, ca_cert) == 1);
	CHECK(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	CHECK(fclose(f) == 0);
	X509_free(x);
	EVP_PKEY_free(k);
	return strdup(path);
}

/* The Central Certificate Store's wildcard file (IIS's _.<parent>.pfx). */
static void
write_pfx(const char *name, const char *cn, long serial, const char *password)
{
	char path[512];
	EVP_PKEY *k = make_key();
	X509 *x = make_cert(k, cn, serial);
	PKCS12 *p12 = PKCS12_create(password, NULL, k, x, NULL, 0, 0, 0, 0, 0);
	FILE *f = private_file(name, path, sizeof(path));

	CHECK(p12 && f && i2d_PKCS12_fp(f, p12) == 1);
	CHECK(fclose(f) == 0);
	PKCS12_free(p12);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* An OCSP staple next to a certificate (its bytes are only relayed). */
static void
write_ocsp(const char *pem)
{
	static const unsigned char resp[] = { 0x30, 0x03, 0x0a, 0x01, 0x06 }; /* unauthorized */
	char path[600];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s.ocsp", pem);
	CHECK((f = fopen(path, "we")));
	CHECK(fwrite(resp, 1, sizeof(resp), f) == sizeof(resp));
	CHECK(fclose(f) == 0);
}

/* ---- the listener --------------------------------------------------------- */

struct lsn_env fuzz_env;
static struct lsn_table table;
static struct wasp_route_table rt;
struct wasp_route_socket fuzz_sockets[N_SOCKETS];
static struct wasp_route_tls_binding bindings[N_SOCKETS][4];
static char ca_path[512], ccs_path[512];

/* the sockets fuzz_tls.h describes */
static void
make_table(void)
{
	char *www = write_pem("www.pem", "www.example.com", 2);
	char *wild = write_pem("wild.pem", "*.example.com", 3);
	char *def = write_pem("default.pem", "localhost", 4);
	struct wasp_route_tls_binding *b;
	FILE *f;

	write_ocsp(www);
	(void)snprintf(ccs_path, sizeof(ccs_path), "%s/ccs", dir);
	CHECK(mkdir(ccs_path, 0700) == 0);
	write_pfx("ccs/_.ccs.example.pfx", "*.ccs.example", 5, "fuzz");
	f = private_file("ClientCA.pem", ca_path, sizeof(ca_path));
	CHECK(f && PEM_write_X509(f, ca_cert) == 1 && fclose(f) == 0);

	b = bindings[0];
	b[0] = (struct wasp_route_tls_binding){ .host = "www.example.com", .cert = www,
						.where = "fuzz:1", .client_cert = true };
	b[1] = (struct wasp_route_tls_binding){ .host = "*.example.com", .cert = wild, .where = "fuzz:2" };
	b[2] = (struct wasp_route_tls_binding){ .host = "*.ccs.example",
						.flags = SSL_F_CENTRAL_CERT_STORE, .where = "fuzz:3" };
	b[3] = (struct wasp_route_tls_binding){ .host = "", .cert = def, .where = "fuzz:4" };
	b = bindings[1];
	b[0] = (struct wasp_route_tls_binding){ .host = "www.example.com", .cert = www,
						.flags = SSL_F_DISABLE_TLS13 | SSL_F_DISABLE_OCSP_STAPLING,
						.where = "fuzz:5", .client_cert = true };
	b[1] = (struct wasp_route_tls_binding){ .host = "", .cert = def, .flags = SSL_F_DISABLE_TLS13,
						.where = "fuzz:6", .client_cert = true };
	b = bindings[2];
	b[0] = (struct wasp_route_tls_binding){ .host = "www.example.com", .cert = www, .where = "fuzz:7" };
	b[1] = (struct wasp_route_tls_binding){ .host = "*.ccs.example",
						.flags = SSL_F_CENTRAL_CERT_STORE, .where = "fuzz:8" };
	for (size_t i = 0; i < N_SOCKETS; i++) {
		fuzz_sockets[i].id = (uint32_t)i;
		fuzz_sockets[i].protocol = "https";
		fuzz_sockets[i].port = (uint16_t)(443 + i);
		fuzz_sockets[i].tls = bindings[i];
		fuzz_sockets[i].n_tls = i == 0 ? 4 : 2;
	}
	rt.sockets = fuzz_sockets;
	rt.n_sockets = N_SOCKETS;
	rt.tls = (struct wasp_route_tls){
		.pfx_password = "",
		.ca_file = ca_path,
		.ccs_path = ccs_path,
		.ccs_password = "fuzz",
		.ticket_seed = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	};
	table.rt = &rt;
	table.refs = 1;
	fuzz_env.table = &table;
}

static void
remove_dir(void)
{
	char path[600];
	static const char *const files[] = { "www.pem", "www.pem.ocsp", "wild.pem", "default.pem",
					      "ClientCA.pem", "ccs/_.ccs.example.pfx", "ccs" };

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		(void)remove(path);
	}
	(void)rmdir(dir);
}


void
fuzz_tls_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	wasp_log_set_max_priority(LOG_CRIT);
	CHECK(RAND_set_rand_method(&rng_method) == 1);
	fuzz_rng_reset(0, 1);
	(void)snprintf(dir, sizeof(dir), "%s/wasp-fuzz-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir));
	atexit(remove_dir);
	ca_key = make_key();
	ca_cert = make_cert(ca_key, "wasp fuzz test CA", 1);
	fuzz_client_key = make_key();
	fuzz_client_cert = make_cert(fuzz_client_key, "fuzz client", 6);
	make_table();
	fuzz_env.base = event_base_new();
	CHECK(fuzz_env.base && lsn_tls_init(&fuzz_env) == 0);
	lsn_tls_table_changed(&fuzz_env);
}
