/* Client certificates: what a handshake's verification of one found (the
 * X509_V_* the worker judges it by: 403.16 untrusted or invalid, 403.17
 * out of its validity period) and asking for one after the handshake
 * (docs/design.md "HTTPS", "Client certificates"). */
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
