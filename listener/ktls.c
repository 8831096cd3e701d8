/* The kTLS hand-off (docs/design.md "HTTPS"): where the kernel offers the
 * "tls" ULP and the table allows it (wasp/tls kernelTls), OpenSSL turns on
 * kernel TLS after the handshake; when both directions are in the kernel,
 * the relay gives the connection's TCP socket itself to the listener core
 * in place of the socketpair end, and the relay goes. Workers then read and
 * write plaintext on the TCP socket (sendfile works) and the listener holds
 * nothing of the connection once it is handed off. Its TLS facts travel
 * in the HANDOFF with a MAC over the socket's inode under a key only this
 * process has; a worker echoes them in its HANDBACK, and a socket handed
 * back with kTLS on and no valid MAC is closed (never served as plain
 * HTTP, never with facts a worker wrote). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "ipc.h"
#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "util.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* A kTLS connection's facts, held by its lsn_conn: the HANDOFF's TLS facts
 * (WASP_TLS_F_KTLS set) and their MAC. */
struct lsn_ktls {
	size_t len;
	uint8_t mac[WASP_TLS_MAC_LEN];
	uint8_t facts[];
};

static struct {
	bool available; /* the kernel has the tls ULP */
	bool keyed;
	uint8_t key[32];
	EVP_MAC *hmac;
	uint64_t taken; /* connections handed over as kTLS sockets */
} ktls;

static bool
kernel_has_ktls(void)
{
	char buf[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");
	bool yes;

	if (!f)
		return false;
	yes = fgets(buf, sizeof(buf), f) && strstr(buf, "tls");
	(void)fclose(f);
	return yes;
}

bool
lsn_ktls_init(void)
{
	ktls.available = kernel_has_ktls();
	ktls.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ktls.keyed = ktls.hmac && RAND_bytes(ktls.key, sizeof(ktls.key)) == 1;
	return ktls.available && ktls.keyed;
}

void
lsn_ktls_done(void)
{
	explicit_bzero(ktls.key, sizeof(ktls.key));
	ktls.keyed = false;
	EVP_MAC_free(ktls.hmac);
	ktls.hmac = NULL;
}

void
lsn_ktls_prepare(struct lsn_env *env, SSL *ssl)
{
	if (!ktls.available || !ktls.keyed || !env->table || !env->table->rt->tls.ktls)
		return;
	SSL_set_options(ssl, SSL_OP_ENABLE_KTLS);
	/* no record read past the handshake's last: what OpenSSL buffered
	 * would be lost to a socket handed over */
	SSL_set_read_ahead(ssl, 0);
}

/* The MAC of facts for the socket whose inode is ino: HMAC-SHA256 of the
 * inode (8 bytes, big endian) and the facts. */
static bool
ktls_mac(ino_t ino, const void *facts, size_t len, uint8_t mac[WASP_TLS_MAC_LEN])
{
	EVP_MAC_CTX *ctx = ktls.hmac ? EVP_MAC_CTX_new(ktls.hmac) : NULL;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	uint8_t id[8];
	size_t n = 0;
	bool ok;

	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)((uint64_t)ino >> (56 - 8 * i));
	ok = ctx && EVP_MAC_init(ctx, ktls.key, sizeof(ktls.key), params) == 1 &&
	     EVP_MAC_update(ctx, id, sizeof(id)) == 1 && EVP_MAC_update(ctx, facts, len) == 1 &&
	     EVP_MAC_final(ctx, mac, &n, WASP_TLS_MAC_LEN) == 1 && n == WASP_TLS_MAC_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok;
}

static ino_t
sock_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

/* Whether fd is a TCP socket with the tls ULP on. */
static bool
sock_is_ktls(int fd)
{
	char ulp[16] = "";
	socklen_t len = sizeof(ulp);

	return getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) == 0 && streq(ulp, "tls");
}

static struct lsn_ktls *
ktls_new(const void *facts, size_t len)
{
	struct lsn_ktls *k = malloc(sizeof(*k) + len);

	if (!k)
		return NULL;
	k->len = len;
	memcpy(k->facts, facts, len);
	return k;
}

/* r's facts with WASP_TLS_F_KTLS, sealed for its TCP socket. */
static struct lsn_ktls *
ktls_seal(struct lsn_relay *r)
{
	struct wasp_msg_tls_info in = r->info;
	struct lsn_ktls *k = malloc(sizeof(*k) + sizeof(in) + r->info_strs_len);
	ino_t ino = sock_ino(r->tcp);

	if (!k || !ino) {
		free(k);
		return NULL;
	}
	in.flags |= WASP_TLS_F_KTLS;
	k->len = sizeof(in) + r->info_strs_len;
	memcpy(k->facts, &in, sizeof(in));
	if (r->info_strs_len)
		memcpy(k->facts + sizeof(in), r->info_strs, r->info_strs_len);
	if (!ktls_mac(ino, k->facts, k->len, k->mac)) {
		free(k);
		return NULL;
	}
	return k;
}

bool
lsn_ktls_take(struct lsn_relay *r)
{
	SSL *ssl = r->ssl;
	struct lsn_conn *c = r->conn;
	struct lsn_env *env = r->env;
	struct lsn_ktls *k;

	if (!(SSL_get_options(ssl) & SSL_OP_ENABLE_KTLS))
		return false;
	/* the relay goes on (e.g. OpenSSL 3.0 offloads TLS 1.3's sending
	 * only): it reads ahead again */
	SSL_set_read_ahead(ssl, 1);
	if (!BIO_get_ktls_send(SSL_get_wbio(ssl)) || !BIO_get_ktls_recv(SSL_get_rbio(ssl)))
		return false;
	/* a binding that asks for client certificates keeps the session here:
	 * asking again later (renegotiation, post-handshake authentication)
	 * needs it */
	if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER)
		return false;
	/* the core waits for the head on the plaintext end and nothing went
	 * either way yet */
	if (!c || c->state != LSN_CONN_READING || !c->ev_set || c->len > 0 || r->out_len > 0 ||
	    r->in_len > 0 || SSL_has_pending(ssl))
		return false;
	k = ktls_seal(r);
	if (!k)
		return false;
	lsn_conn_drop_event(c);
	lsn_relay_attach(r, NULL);
	(void)safe_close(c->fd);
	c->fd = r->tcp;
	r->tcp = -1;
	c->ktls = k;
	ktls.taken++;
	log_debug("connection %u: kTLS on both directions, the TCP socket goes to the workers",
		  c->id);
	lsn_conn_read(env, c);
	return true;
}

void
lsn_ktls_free(struct lsn_ktls *k)
{
	free(k);
}

size_t
lsn_ktls_facts_len(const struct lsn_ktls *k)
{
	return k ? k->len : 0;
}

void
lsn_ktls_put(const struct lsn_ktls *k, struct wasp_ipc_writer *w)
{
	wasp_ipc_put_bytes(w, k->facts, k->len);
	wasp_ipc_put_bytes(w, k->mac, sizeof(k->mac));
}

int
lsn_ktls_handback(struct lsn_conn *c, const void *echo, size_t len)
{
	const uint8_t *p = echo;
	uint8_t mac[WASP_TLS_MAC_LEN];
	struct wasp_msg_tls_info in;
	bool on = sock_is_ktls(c->fd);

	if (!on && len == 0)
		return 0; /* plain HTTP, or a relay's plaintext end */
	/* kTLS on without facts, facts for a socket without it, a MAC that
	 * does not match: not served (fail closed) */
	if (!on || !ktls.keyed || len < sizeof(in) + WASP_TLS_MAC_LEN)
		return -EPERM;
	len -= WASP_TLS_MAC_LEN;
	memcpy(&in, p, sizeof(in));
	if (!(in.flags & WASP_TLS_F_KTLS) || !ktls_mac(sock_ino(c->fd), p, len, mac) ||
	    CRYPTO_memcmp(mac, p + len, WASP_TLS_MAC_LEN) != 0)
		return -EPERM;
	c->ktls = ktls_new(p, len);
	if (!c->ktls)
		return -ENOMEM;
	memcpy(c->ktls->mac, p + len, WASP_TLS_MAC_LEN);
	return 0;
}

void
lsn_ktls_cert_asked(struct lsn_conn *c)
{
	struct wasp_msg_tls_info in;

	if (!c->ktls || c->ktls->len < sizeof(in))
		return;
	memcpy(&in, c->ktls->facts, sizeof(in));
	in.flags |= WASP_TLS_F_CERT_ASKED;
	memcpy(c->ktls->facts, &in, sizeof(in));
	if (!ktls_mac(sock_ino(c->fd), c->ktls->facts, c->ktls->len, c->ktls->mac))
		memset(c->ktls->mac, 0, sizeof(c->ktls->mac)); /* its next hand-back fails */
}

uint64_t
lsn_ktls_taken(void)
{
	return ktls.taken;
}
