/* libFuzzer target for the listener's TLS server (listener/tls.c and the
 * callbacks it installs, tlsclient.c, tlsfail.c, tlsinfo.c): the SSL_CTX
 * wasp-http makes (lsn_tls_init), certificates loaded as a routing table
 * names them (lsn_tls_table_changed), an SSL for each connection
 * (lsn_tls_new_ssl) driven through memory BIOs with the fuzzer's bytes as
 * everything the client sends. The ClientHello callback chooses among a
 * socket's https bindings (a host, a wildcard, the Central Certificate
 * Store's PKCS#12 files, a default), the verify callback judges client
 * certificates, the ticket callback encrypts and decrypts session tickets
 * (keys from a fixed ticket seed), and a finished handshake's facts
 * (lsn_tls_make_info) are decoded as the worker decodes them
 * (conn_tls_parse) and checked against the handshake.
 *
 * OpenSSL's random numbers come from a seeded generator reset before each
 * connection, so the server's answers, and therefore a recorded client's
 * later messages (its Finished, application data), replay exactly: the seed
 * corpus holds whole client sides of real handshakes, which get through to
 * the end (while the ticket keys' 24-hour window lasts for the resumed
 * ones). The certificates are made at start, also from the seeded
 * generator, with fixed dates: they are test-only and the same every run.
 *
 * Input: one options byte (bits 0-1: which socket's bindings, see
 * fuzz_tls.h), then the client's bytes.
 *
 * WASP_FUZZ_TLS_SEEDS=DIR fuzz_tls_hello: instead of fuzzing, record the
 * seed corpus into DIR (real OpenSSL clients against this server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fuzz_check.h"
#include "fuzz_tls.h"
#include "util.h"
#include "worker.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 64

/* ---- one connection ------------------------------------------------------- */

/* The binding a handshake naming sni gets, by the rules of docs/design.md
 * "HTTPS" (written apart from tls.c's): the host, else the longest
 * wildcard "*.parent" whose parent is a proper suffix, else the default. */
static const struct wasp_route_tls_binding *
ref_binding(const struct wasp_route_socket *rs, const char *sni)
{
	const struct wasp_route_tls_binding *best = NULL, *def = NULL;

	for (size_t i = 0; i < rs->n_tls; i++) {
		const char *h = rs->tls[i].host;
		size_t n = strlen(sni), m = strlen(h);

		if (!*h)
			def = def ? def : &rs->tls[i];
		else if (*sni && streq(h, sni))
			return &rs->tls[i];
		else if (h[0] == '*' && h[1] == '.' && n > m - 1 && streq(sni + n - (m - 1), h + 1) &&
			 (!best || m > strlen(best->host)))
			best = &rs->tls[i];
	}
	return best ? best : def;
}

struct tconn {
	struct lsn_relay *r;
	SSL *ssl;
	BIO *in, *out;
};

static void
conn_open(struct tconn *c, const struct wasp_route_socket *rs)
{
	fuzz_rng_reset(0, 0x5eed);
	c->r = calloc(1, sizeof(*c->r));
	CHECK(c->r);
	c->r->env = &fuzz_env;
	c->r->rs = rs;
	c->r->tcp = -1;
	c->ssl = c->r->ssl = lsn_tls_new_ssl(&fuzz_env, c->r);
	CHECK(c->ssl);
	c->in = BIO_new(BIO_s_mem());
	c->out = BIO_new(BIO_s_mem());
	CHECK(c->in && c->out);
	BIO_set_mem_eof_return(c->in, -1);
	SSL_set_bio(c->ssl, c->in, c->out);
}

static void
conn_close(struct tconn *c)
{
	SSL_free(c->ssl);
	free(c->r->info_strs);
	free(c->r);
	ERR_clear_error();
}

/* The facts the worker gets agree with the handshake. */
static void
check_facts(struct tconn *c)
{
	struct lsn_relay *r = c->r;
	const struct wasp_route_tls_binding *b = ref_binding(r->rs, r->sni);
	size_t len = sizeof(r->info) + r->info_strs_len;
	uint8_t *buf = malloc(len);
	struct conn_tls *t;
	int err;

	CHECK(buf && b);
	memcpy(buf, &r->info, sizeof(r->info));
	if (r->info_strs_len)
		memcpy(buf + sizeof(r->info), r->info_strs, r->info_strs_len);
	t = conn_tls_parse(buf, len, 0, &err);
	CHECK(t && err == 0);
	CHECK(streq(t->sni, r->sni));
	CHECK(t->info.version == TLS1_2_VERSION || t->info.version == TLS1_3_VERSION);
	CHECK(!(b->flags & SSL_F_DISABLE_TLS13) || t->info.version == TLS1_2_VERSION);
	CHECK(*t->cipher && t->info.key_bits >= 128);
	/* the certificate of the binding the name chooses */
	CHECK(strstr(t->server_subject, b->cert ? (strstr(b->cert, "www") ? "www.example.com" :
						     strstr(b->cert, "wild") ? "*.example.com" :
									       "CN=localhost") :
						  "*.ccs.example"));
	CHECK(!!(t->info.flags & WASP_TLS_F_CERT_ASKED) == b->client_cert);
	if (t->info.flags & WASP_TLS_F_CLIENT_CERT) {
		CHECK(b->client_cert);
		CHECK(t->client_cert && t->info.client_cert_len > 0);
		CHECK(!!(t->info.flags & WASP_TLS_F_CLIENT_VERIFIED) == (t->info.verify_result == 0));
	}
	free(t);
	free(buf);
}

/* The server's turn: what is in c->in read, its answers left in c->out.
 * Returns whether the handshake is done. */
static bool
server_step(struct tconn *c)
{
	char buf[4096];
	int n;

	fuzz_rng_side = 0;
	if (!c->r->hs_done) {
		n = SSL_do_handshake(c->ssl);
		if (n <= 0) {
			enum wasp_tls_failure k = lsn_tls_failure_kind(c->ssl, n);
			CHECK(k <= WASP_TLS_FAIL__COUNT);
			return false;
		}
		c->r->hs_done = true;
		CHECK(lsn_tls_make_info(c->r) == 0);
		check_facts(c);
	}
	for (int i = 0; i < MAX_STEPS && (n = SSL_read(c->ssl, buf, sizeof(buf))) > 0; i++)
		(void)SSL_write(c->ssl, buf, n);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tconn c;

	if (size < 1 || size > (1 << 20))
		return 0;
	conn_open(&c, &fuzz_sockets[(data[0] & 3) % N_SOCKETS]);
	if (size > 1)
		CHECK(BIO_write(c.in, data + 1, (int)(size - 1)) == (int)(size - 1));
	(void)server_step(&c);
	(void)BIO_reset(c.out);
	conn_close(&c);
	return 0;
}

/* ---- recording the seed corpus -------------------------------------------- */

struct scenario {
	const char *name;
	uint8_t socket;
	const char *sni; /* NULL: none */
	int version;     /* the client's highest */
	bool client_cert, ocsp, resume;
	bool fails; /* the handshake is refused */
};

static const struct scenario scenarios[] = {
	{ "tls13-sni-www-client-cert", 0, "www.example.com", TLS1_3_VERSION, true, true, false, false },
	{ "tls13-sni-www-resumed", 0, "www.example.com", TLS1_3_VERSION, true, false, true, false },
	{ "tls13-wildcard", 0, "c.example.com", TLS1_3_VERSION, false, false, false, false },
	{ "tls13-wildcard-resumed", 0, "c.example.com", TLS1_3_VERSION, false, false, true, false },
	{ "tls12-wildcard", 0, "c.example.com", TLS1_2_VERSION, false, false, false, false },
	{ "tls12-wildcard-resumed", 0, "c.example.com", TLS1_2_VERSION, false, false, true, false },
	{ "tls13-sni-ccs", 0, "a.ccs.example", TLS1_3_VERSION, false, false, false, false },
	{ "tls13-no-sni", 0, NULL, TLS1_3_VERSION, false, false, false, false },
	{ "tls12-sni-www-client-cert", 0, "www.example.com", TLS1_2_VERSION, true, true, false, false },
	{ "tls12-sni-www-resumed", 0, "www.example.com", TLS1_2_VERSION, true, false, true, false },
	{ "tls12-no-sni", 0, NULL, TLS1_2_VERSION, false, false, false, false },
	{ "tls13-client-on-tls12-socket", 1, "www.example.com", TLS1_3_VERSION, true, true, false, false },
	{ "tls12-default-no-cert-given", 1, "other.test", TLS1_2_VERSION, false, false, false, false },
	{ "tls13-unknown-name", 2, "other.test", TLS1_3_VERSION, false, false, false, true },
	{ "tls13-ccs-missing-file", 2, "a.b.ccs.example", TLS1_3_VERSION, false, false, false, true },
};

/* A handshake made at start (see LLVMFuzzerInitialize) */
static const struct scenario prime = { "prime", 0, "a.ccs.example", TLS1_3_VERSION, false, false, false, false };

/* What the client has to send, appended to rec; the server's answers go
 * to the client. */
static void
pump(BIO *from, BIO *to, BIO *rec)
{
	char buf[16384];
	int n;

	while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
		CHECK(BIO_write(to, buf, n) == n);
		if (rec)
			CHECK(BIO_write(rec, buf, n) == n);
	}
}

static bool recorded_resumed;

static SSL_SESSION *
record(const struct scenario *s, SSL_SESSION *session, BIO *rec)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	BIO *cin = BIO_new(BIO_s_mem()), *cout = BIO_new(BIO_s_mem());
	SSL_SESSION *ret = NULL;
	SSL *cl;
	struct tconn c;
	char buf[4096];
	bool sent = false;

	conn_open(&c, &fuzz_sockets[s->socket]);
	fuzz_rng_side = 1;
	CHECK(ctx && cin && cout && SSL_CTX_set_max_proto_version(ctx, s->version) == 1);
	if (s->client_cert)
		CHECK(SSL_CTX_use_certificate(ctx, fuzz_client_cert) == 1 &&
		      SSL_CTX_use_PrivateKey(ctx, fuzz_client_key) == 1);
	CHECK((cl = SSL_new(ctx)));
	BIO_set_mem_eof_return(cin, -1);
	SSL_set_bio(cl, cin, cout);
	SSL_set_connect_state(cl);
	if (s->sni) {
		char host[256];
		(void)snprintf(host, sizeof(host), "%s", s->sni);
		CHECK(SSL_set_tlsext_host_name(cl, host) == 1);
	}
	if (s->ocsp)
		CHECK(SSL_set_tlsext_status_type(cl, TLSEXT_STATUSTYPE_ocsp) == 1);
	if (session)
		CHECK(SSL_set_session(cl, session) == 1);
	for (int i = 0; i < MAX_STEPS; i++) {
		fuzz_rng_side = 1;
		if (SSL_do_handshake(cl) == 1 && !sent) {
			CHECK(SSL_write(cl, req, sizeof(req) - 1) == sizeof(req) - 1);
			sent = true;
		} else if (sent) {
			(void)SSL_read(cl, buf, sizeof(buf));
		}
		pump(cout, c.in, rec);
		(void)server_step(&c);
		pump(c.out, cin, NULL);
	}
	/* a close_notify (a session not closed so is not resumed) */
	fuzz_rng_side = 1;
	(void)SSL_shutdown(cl);
	pump(cout, c.in, rec);
	(void)server_step(&c);
	ERR_clear_error();
	recorded_resumed = SSL_session_reused(cl);
	if (SSL_is_init_finished(cl))
		ret = SSL_get1_session(cl);
	SSL_free(cl);
	SSL_CTX_free(ctx);
	conn_close(&c);
	return ret;
}

static void
record_seeds(const char *out)
{
	SSL_SESSION *last = NULL;

	for (size_t i = 0; i < ELEMENTSOF(scenarios); i++) {
		const struct scenario *s = &scenarios[i];
		BIO *rec = BIO_new(BIO_s_mem());
		SSL_SESSION *next;
		char path[512], *p;
		long n;
		FILE *f;

		CHECK(rec && BIO_write(rec, &s->socket, 1) == 1);
		next = record(s, s->resume ? last : NULL, rec);
		SSL_SESSION_free(last);
		last = next;
		n = BIO_get_mem_data(rec, &p);
		(void)snprintf(path, sizeof(path), "%s/%s", out, s->name);
		CHECK((f = fopen(path, "we")) && fwrite(p, 1, (size_t)n, f) == (size_t)n);
		CHECK(fclose(f) == 0);
		fprintf(stderr, "%s: %ld bytes, handshake %s%s\n", path, n,
			last ? "done" : "refused", recorded_resumed ? " (resumed)" : "");
		CHECK(!last == s->fails);
		CHECK(!s->resume || recorded_resumed);
		BIO_free(rec);
	}
	SSL_SESSION_free(last);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("WASP_FUZZ_TLS_SEEDS");

	fuzz_tls_setup();
	/* the Central Certificate Store's file is loaded on first use, and a
	 * new context draws random numbers: loaded now, each connection
	 * starts from the same state */
	SSL_SESSION_free(record(&prime, NULL, NULL));
	if (seeds) {
		record_seeds(seeds);
		exit(0);
	}
	return 0;
}
