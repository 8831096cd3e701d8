/* A finished handshake's facts for the HANDOFF (struct wasp_msg_tls_info
 * and its strings, docs/adapter-protocol.md): protocol version, cipher and
 * key sizes, the server certificate's names, and the client certificate's
 * (subject, issuer, serial, thumbprint, DER) with whether it verified. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lsn.h"
#include "tls.h"
#include "util.h"

#define NAME_TEXT_MAX 1024

/* name as "C=US, O=Example, CN=www.example.com", at most NAME_TEXT_MAX bytes. */
static size_t
name_text(const X509_NAME *name, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	if (b && name &&
	    X509_NAME_print_ex(b, name, 0,
			       XN_FLAG_SEP_CPLUS_SPC | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)) >= 0)
		n = BIO_read(b, buf, (int)size);
	BIO_free(b);
	return n > 0 ? (size_t)n : 0;
}

/* bytes as lower-case hex, sep between bytes (0: none), into buf. */
static size_t
hex_text(const unsigned char *p, size_t n, char sep, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n && o + 3 < size; i++) {
		if (i && sep)
			buf[o++] = sep;
		buf[o++] = hex[p[i] >> 4];
		buf[o++] = hex[p[i] & 15];
	}
	return o;
}

struct info_strs {
	char *buf;
	size_t len, cap;
};

static uint16_t
strs_add(struct info_strs *s, const void *p, size_t n)
{
	if (n > UINT16_MAX)
		n = 0;
	if (s->len + n > s->cap) {
		size_t cap = MAX(s->cap * 2, s->len + n + 1024);
		char *b = realloc(s->buf, cap);
		if (!b)
			return 0;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return (uint16_t)n;
}

static void
client_facts(struct lsn_relay *r, X509 *x, struct info_strs *s)
{
	struct wasp_msg_tls_info *in = &r->info;
	char buf[NAME_TEXT_MAX];
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0;
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	int derlen;

	in->flags |= WASP_TLS_F_CLIENT_CERT;
	in->verify_result = r->verify_err ? r->verify_err : (uint32_t)SSL_get_verify_result(r->ssl);
	if (in->verify_result == X509_V_OK && lsn_tls_has_ca(r->env))
		in->flags |= WASP_TLS_F_CLIENT_VERIFIED;
	else if (in->verify_result == X509_V_OK)
		in->verify_result = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
	in->client_subject_len = strs_add(s, buf, name_text(X509_get_subject_name(x), buf, sizeof(buf)));
	in->client_issuer_len = strs_add(s, buf, name_text(X509_get_issuer_name(x), buf, sizeof(buf)));
	in->client_serial_len = strs_add(s, buf, serial ? hex_text(serial->data, (size_t)serial->length,
								   '-', buf, sizeof(buf)) : 0);
	if (X509_digest(x, EVP_sha1(), md, &mdlen) == 1)
		in->client_cookie_len = strs_add(s, buf, hex_text(md, mdlen, 0, buf, sizeof(buf)));
	derlen = i2d_X509(x, &der);
	if (derlen > 0 && derlen <= LSN_TLS_CLIENT_CERT_MAX)
		in->client_cert_len = strs_add(s, der, (size_t)derlen);
	OPENSSL_free(der);
}

/* The server certificate's subject and issuer as text, and its key's size:
 * the same for every connection of a context (one certificate file), so
 * made on its first connection and kept with it (ex_data, freed with it). */
struct server_facts {
	const X509 *x;
	uint16_t key_bits, subject_len, issuer_len;
	char text[]; /* the subject, then the issuer */
};

static int facts_index = -1;

static void
facts_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	free(ptr);
}

static struct server_facts *
facts_make(SSL *ssl, X509 *x)
{
	char subject[NAME_TEXT_MAX], issuer[NAME_TEXT_MAX];
	size_t sl = name_text(X509_get_subject_name(x), subject, sizeof(subject));
	size_t il = name_text(X509_get_issuer_name(x), issuer, sizeof(issuer));
	EVP_PKEY *pk = SSL_get_privatekey(ssl);
	struct server_facts *f = malloc(sizeof(*f) + sl + il);

	if (!f)
		return NULL;
	f->x = x;
	f->key_bits = pk ? (uint16_t)EVP_PKEY_get_bits(pk) : 0;
	f->subject_len = (uint16_t)sl;
	f->issuer_len = (uint16_t)il;
	memcpy(f->text, subject, sl);
	memcpy(f->text + sl, issuer, il);
	return f;
}

/* The facts of ssl's certificate x: the context's, else made (*owned: the
 * caller frees them); NULL without memory. */
static const struct server_facts *
server_facts(SSL *ssl, X509 *x, struct server_facts **owned)
{
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	struct server_facts *f;

	*owned = NULL;
	if (facts_index < 0)
		facts_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, facts_free);
	f = facts_index >= 0 ? SSL_CTX_get_ex_data(ctx, facts_index) : NULL;
	if (f && f->x == x)
		return f;
	if (!(f = facts_make(ssl, x)))
		return NULL;
	if (facts_index >= 0 && !SSL_CTX_get_ex_data(ctx, facts_index) &&
	    SSL_CTX_set_ex_data(ctx, facts_index, f) == 1)
		return f;
	*owned = f; /* another certificate than the context's, or no room */
	return f;
}

int
lsn_tls_make_info(struct lsn_relay *r)
{
	struct wasp_msg_tls_info *in = &r->info;
	struct info_strs s = { 0 };
	X509 *srv = SSL_get_certificate(r->ssl), *cli = SSL_get0_peer_certificate(r->ssl);
	struct server_facts *owned = NULL;
	const struct server_facts *f = srv ? server_facts(r->ssl, srv, &owned) : NULL;
	const char *cipher = SSL_get_cipher_name(r->ssl);
	int bits = SSL_get_cipher_bits(r->ssl, NULL);

	memset(in, 0, sizeof(*in));
	in->version = (uint16_t)SSL_version(r->ssl);
	in->key_bits = (uint16_t)MAX(bits, 0);
	in->secret_bits = f ? f->key_bits : 0;
	in->cipher_len = strs_add(&s, strempty(cipher), strlen(strempty(cipher)));
	in->sni_len = strs_add(&s, r->sni, strlen(r->sni));
	in->server_subject_len = f ? strs_add(&s, f->text, f->subject_len) : 0;
	in->server_issuer_len = f ? strs_add(&s, f->text + f->subject_len, f->issuer_len) : 0;
	free(owned);
	if (cli)
		client_facts(r, cli, &s);
	if (r->cert_asked || (SSL_get_verify_mode(r->ssl) & SSL_VERIFY_PEER))
		in->flags |= WASP_TLS_F_CERT_ASKED;
	free(r->info_strs);
	r->info_strs = s.buf;
	r->info_strs_len = s.len;
	return 0;
}
