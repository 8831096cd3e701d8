/* Failed TLS handshakes: their kind (from OpenSSL's error), one HTTPERR
 * line per connection at most, in HTTP.sys's manner (reason phrases
 * docs/design.md "The HTTPERR log"), and a counter per kind in the
 * listener's metrics (ADAPTER_TLS_METRICS, docs/metrics.md). A connection
 * that closes before it sent a byte made no handshake: neither logged nor
 * counted, as a plain connection that sends nothing is not. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "util.h"

static const char *const phrases[WASP_TLS_FAIL__COUNT] = {
	[WASP_TLS_FAIL_NOT_TLS] = "SslHandshake_NotTls",
	[WASP_TLS_FAIL_NO_SHARED] = "SslHandshake_NoCommonProtocol",
	[WASP_TLS_FAIL_UNKNOWN_NAME] = "SslHandshake_UnknownHost",
	[WASP_TLS_FAIL_ALERT] = "SslHandshake_ClientAlert",
	[WASP_TLS_FAIL_CLOSED] = "SslHandshake_Dropped",
	[WASP_TLS_FAIL_TIMEOUT] = "Timer_SslHandshake",
	[WASP_TLS_FAIL_OTHER] = "SslHandshake_Failed",
};

/* The kind of an SSL library error. */
static enum wasp_tls_failure
ssl_reason_kind(int reason)
{
	if (reason >= SSL_AD_REASON_OFFSET)
		return WASP_TLS_FAIL_ALERT; /* an alert the client sent */
	switch (reason) {
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		return WASP_TLS_FAIL_NOT_TLS;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
		return WASP_TLS_FAIL_NO_SHARED;
	case SSL_R_CALLBACK_FAILED:
		/* the ClientHello callback's: no binding or certificate for
		 * the name (tls.c on_client_hello) */
		return WASP_TLS_FAIL_UNKNOWN_NAME;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return WASP_TLS_FAIL_CLOSED;
	default:
		return WASP_TLS_FAIL_OTHER;
	}
}

enum wasp_tls_failure
lsn_tls_failure_kind(struct ssl_st *ssl, int n)
{
	unsigned long e;

	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return WASP_TLS_FAIL__COUNT; /* not failed: waiting */
	case SSL_ERROR_SYSCALL:
	case SSL_ERROR_ZERO_RETURN:
		return WASP_TLS_FAIL_CLOSED; /* EOF or a reset */
	default:
		break;
	}
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		e = ERR_peek_error();
	return ERR_GET_LIB(e) == ERR_LIB_SSL ? ssl_reason_kind(ERR_GET_REASON(e))
					      : WASP_TLS_FAIL_OTHER;
}

/* Whether the client sent anything on r's connection. */
static bool
client_spoke(const struct lsn_relay *r)
{
	BIO *b = SSL_get_rbio(r->ssl);

	return b && BIO_number_read(b) > 0;
}

/* Count and log kind for r once; c is the connection to log (NULL: r's). */
static void
failure_note(struct lsn_relay *r, struct lsn_conn *c, enum wasp_tls_failure kind)
{
	struct lsn_env *env = r->env;

	if (r->failure_noted || kind >= WASP_TLS_FAIL__COUNT)
		return;
	r->failure_noted = true;
	env->tls_metrics.handshake_failed[kind]++;
	env->tls_metrics_dirty = true;
	log_debug("TLS handshake failed: %s", phrases[kind]);
	c = c ? c : r->conn;
	if (c)
		lsn_httperr_log(env, c, 0, phrases[kind]);
}

void
lsn_tls_handshake_failed(struct lsn_relay *r, enum wasp_tls_failure kind)
{
	if (kind == WASP_TLS_FAIL_CLOSED && !client_spoke(r))
		return; /* connected and closed: no handshake */
	failure_note(r, NULL, kind);
}

bool
lsn_tls_timed_out(struct lsn_env *env, struct lsn_conn *c)
{
	struct lsn_relay *r = c->relay;

	if (!r || r->hs_done || !client_spoke(r))
		return false; /* the core's own Timer_ConnectionIdle or 408 */
	failure_note(r, c, WASP_TLS_FAIL_TIMEOUT);
	lsn_conn_free(env, c);
	return true;
}
