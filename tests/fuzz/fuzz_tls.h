/* The listener's TLS server for the TLS fuzz targets (fuzz_tls_hello,
 * fuzz_tls_relay): OpenSSL's random numbers from a seeded generator,
 * test-only certificates made at start (an EC CA, www.example.com,
 * *.example.com, a default, a Central Certificate Store PKCS#12 file for
 * *.ccs.example, a client certificate of the CA) in a temporary directory
 * removed at exit, a routing table whose https sockets name them, and
 * lsn_tls_init's contexts. */
#pragma once

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lsn.h"
#include "tls.h"

/* a binding's sslFlags (config/apphost.h's WASP_SSL_F_*) */
#define SSL_F_CENTRAL_CERT_STORE 0x2
#define SSL_F_DISABLE_OCSP_STAPLING 0x8
#define SSL_F_DISABLE_TLS13 0x20
#define N_SOCKETS 3

/* socket 0: www.example.com asking for a client certificate, a wildcard
 * *.example.com, the Central Certificate Store for *.ccs.example, a
 * default; socket 1: TLS 1.2 only, no OCSP staple, a client certificate
 * asked for everywhere; socket 2: no default (an unknown name fails). */
extern struct wasp_route_socket fuzz_sockets[N_SOCKETS];
extern struct lsn_env fuzz_env;
extern EVP_PKEY *fuzz_client_key;
extern X509 *fuzz_client_cert;

/* Two streams: the server's (reset per connection) and a client's, so
 * that a client's draws do not move the server's; fuzz_rng_side says
 * which one draws. */
extern int fuzz_rng_side;
void fuzz_rng_reset(int side, uint64_t seed);

void fuzz_tls_setup(void);
