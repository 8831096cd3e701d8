/* Client certificates: what a handshake's verification of one found (the
 * X509_V_* the worker judges it by: 403.16 untrusted or invalid, 403.17
 * out of its validity period) and asking for one after the handshake
 * when a worker hands a request back for one (WASP_HANDBACK_F_CLIENT_CERT:
 * a web.config's SslRequireCert or SslNegotiateCert the handshake did not
 * ask for), once per connection, bounded by the header timeout; then the
 * request is routed again with the new facts (docs/design.md "HTTPS",
 * "Client certificates"). */
#include <errno.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "lsn.h"
#include "tls.h"
#include "util.h"

static bool
date_error(int e)
{
	return e == X509_V_ERR_CERT_NOT_YET_VALID || e == X509_V_ERR_CERT_HAS_EXPIRED;
}

int
lsn_tls_on_verify(int ok, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct lsn_relay *r = ssl ? SSL_get_app_data(ssl) : NULL;
	int e = X509_STORE_CTX_get_error(ctx);

	/* OpenSSL goes on after an error (we return 1) and reports the last
	 * one: an untrusted certificate that has also expired would look
	 * merely expired. The first error that is not about dates is kept,
	 * a date error only when there is no other. */
	if (!ok && r && e != X509_V_OK &&
	    (r->verify_err == X509_V_OK || (date_error((int)r->verify_err) && !date_error(e))))
		r->verify_err = (uint32_t)e;
	/* never abort the handshake: the worker decides (403.7, 403.16, 403.17) */
	return 1;
}

/* ---- asking after the handshake ---------------------------------------- */

/* The client answered (its Finished read, then the handshake done or the
 * step's end: sending TLS 1.2's HelloRequest is a "handshake done" of its
 * own, and TLS 1.3's post-handshake authentication has none) or refused
 * (a no_renegotiation alert): lsn_tls_reneg_check() goes on. */
static void
on_info(const SSL *ssl, int where, int ret)
{
	struct lsn_relay *r = SSL_get_app_data(ssl);

	if (!r || !r->reneg)
		return;
	if ((where & SSL_CB_LOOP) && SSL_get_state(ssl) == TLS_ST_SR_FINISHED)
		r->reneg_fin = true;
	if (((where & (SSL_CB_HANDSHAKE_DONE | SSL_CB_EXIT)) && ret > 0 && r->reneg_fin) ||
	    ((where & SSL_CB_READ_ALERT) && (ret & 0xff) == SSL_AD_NO_RENEGOTIATION))
		r->reneg_done = true;
}

/* The header timeout passed while the client was asked: dropped, as
 * HTTP.sys drops it (Timer_SslRenegotiation). */
static void
on_reneg_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_conn *c = arg;

	c->ev_set = false;
	lsn_conn_drop(c->env, c, "Timer_SslRenegotiation");
}

/* Wait for the relay until the header timeout (from the hand-back). */
static int
conn_wait_reneg(struct lsn_env *env, struct lsn_conn *c)
{
	uint64_t now = wasp_now_usec(), deadline = c->t_start + env->header_timeout_usec;
	uint64_t left = deadline > now ? deadline - now : 0;
	struct timeval tv = { (time_t)(left / 1000000), (suseconds_t)(left % 1000000) };

	lsn_conn_drop_event(c);
	evtimer_assign(&c->ev, env->base, on_reneg_timeout, c);
	if (evtimer_add(&c->ev, &tv) < 0)
		return -ENOMEM;
	c->ev_set = true;
	return 0;
}

/* Ask r's client for a certificate: TLS 1.3 post-handshake authentication
 * (when the client offered it), TLS 1.2 a renegotiation the server starts
 * (a full handshake: no resumption, which would skip the request). */
static bool
reneg_start(struct lsn_env *env, struct lsn_relay *r)
{
	int n;

	SSL_set_verify(r->ssl, SSL_VERIFY_PEER, lsn_tls_on_verify);
	if (lsn_tls_has_ca(env))
		(void)lsn_tls_use_ca(env, r->ssl);
	r->verify_err = 0;
	if (SSL_version(r->ssl) == TLS1_3_VERSION) {
		if (SSL_verify_client_post_handshake(r->ssl) != 1)
			goto fail; /* the client did not offer it */
	} else {
		SSL_set_options(r->ssl, SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
		if (SSL_renegotiate(r->ssl) != 1)
			goto fail;
	}
	r->reneg = true;
	r->reneg_done = r->reneg_fin = false;
	SSL_set_info_callback(r->ssl, on_info);
	n = SSL_do_handshake(r->ssl); /* the HelloRequest or CertificateRequest */
	if (n != 1 && SSL_get_error(r->ssl, n) != SSL_ERROR_WANT_READ &&
	    SSL_get_error(r->ssl, n) != SSL_ERROR_WANT_WRITE) {
		r->reneg = false;
		goto fail;
	}
	ERR_clear_error();
	return true;
fail:
	ERR_clear_error();
	return false;
}

bool
lsn_tls_want_client_cert(struct lsn_env *env, struct lsn_conn *c)
{
	struct lsn_relay *r = c->relay;

	if (!r || !r->hs_done)
		return false;
	if (r->cert_asked || r->reneg || r->tcp_eof || r->tcp_dead) {
		r->cert_asked = true;
		r->info.flags |= WASP_TLS_F_CERT_ASKED;
		return false; /* once per connection: served as it is */
	}
	r->cert_asked = true;
	r->info.flags |= WASP_TLS_F_CERT_ASKED;
	if (!reneg_start(env, r))
		return false; /* served without one (403.7 where it is required) */
	env->tls_metrics.cert_requested++;
	env->tls_metrics_dirty = true;
	if (conn_wait_reneg(env, c) < 0) {
		lsn_conn_free(env, c);
		return true;
	}
	lsn_relay_kick(r);
	return true;
}

void
lsn_tls_reneg_check(struct lsn_relay *r)
{
	struct lsn_env *env = r->env;
	struct lsn_conn *c = r->conn;

	if (!r->reneg || (!r->reneg_done && !r->tcp_eof))
		return;
	r->reneg = false;
	SSL_set_info_callback(r->ssl, NULL);
	if (!r->reneg_done) {
		/* the client went away (or broke the handshake) instead */
		if (c)
			lsn_conn_drop(env, c, "Connection_Dropped");
		return;
	}
	(void)lsn_tls_make_info(r);
	if (r->info.flags & WASP_TLS_F_CLIENT_CERT) {
		env->tls_metrics.cert_received++;
		env->tls_metrics_dirty = true;
	}
	if (!c)
		return; /* timed out meanwhile */
	lsn_conn_drop_event(c);
	lsn_conn_route(env, c);
}
