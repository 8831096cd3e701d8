/* The status system.webServer/security/access sslFlags give a request
 * (worker/sslpolicy.c, sslpolicy_check()): 403.4 without TLS, 403.5 below
 * a 128-bit key, 403.7 without a client certificate, 403.16 with one that
 * failed verification, 403.17 with one out of its validity period;
 * SslNegotiateCert alone and SslMapCert serve. */
#include "testutil.h"
#include "worker.h"

static const struct sslpolicy_tls plain = { .secure = false };
static const struct sslpolicy_tls tls = { .secure = true, .key_bits = 256 };
static const struct sslpolicy_tls tls56 = { .secure = true, .key_bits = 56 };
static const struct sslpolicy_tls tls_cert = { .secure = true, .key_bits = 128,
					       .client_cert = true, .client_cert_ok = true };
static const struct sslpolicy_tls tls_bad_cert = { .secure = true, .key_bits = 256,
						   .client_cert = true, .verify_result = 18 };
/* X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID */
static const struct sslpolicy_tls tls_expired = { .secure = true, .key_bits = 256,
						  .client_cert = true, .verify_result = 10 };
static const struct sslpolicy_tls tls_not_yet = { .secure = true, .key_bits = 256,
						  .client_cert = true, .verify_result = 9 };

static void
expect(uint64_t flags, const struct sslpolicy_tls *t, unsigned status, unsigned sub)
{
	unsigned got_sub = 99;
	unsigned got = sslpolicy_check(flags, t, &got_sub);

	ck_assert_uint_eq(got, status);
	ck_assert_uint_eq(got_sub, sub);
}

START_TEST(test_ssl_required)
{
	expect(0, &plain, 0, 0);
	expect(SSLFLAG_SSL, &plain, 403, 4);
	expect(SSLFLAG_SSL, &tls, 0, 0);
	expect(SSLFLAG_SSL, &tls56, 0, 0);
	/* SSL is checked first */
	expect(SSLFLAG_SSL | SSLFLAG_SSL128 | SSLFLAG_REQUIRE_CERT, &plain, 403, 4);
}
END_TEST

START_TEST(test_ssl128)
{
	expect(SSLFLAG_SSL | SSLFLAG_SSL128, &tls56, 403, 5);
	expect(SSLFLAG_SSL | SSLFLAG_SSL128, &tls, 0, 0);
	expect(SSLFLAG_SSL | SSLFLAG_SSL128, &tls_cert, 0, 0); /* exactly 128 */
	/* alone, over plain HTTP: no key at all */
	expect(SSLFLAG_SSL128, &plain, 403, 5);
	expect(SSLFLAG_SSL128 | SSLFLAG_REQUIRE_CERT, &tls56, 403, 5);
}
END_TEST

START_TEST(test_client_certificates)
{
	expect(SSLFLAG_SSL | SSLFLAG_REQUIRE_CERT, &tls, 403, 7);
	expect(SSLFLAG_SSL | SSLFLAG_REQUIRE_CERT, &tls_cert, 0, 0);
	expect(SSLFLAG_SSL | SSLFLAG_REQUIRE_CERT, &tls_bad_cert, 403, 16);
	expect(SSLFLAG_REQUIRE_CERT, &plain, 403, 7);
	/* negotiated: accepted, not required, but never an untrusted one */
	expect(SSLFLAG_SSL | SSLFLAG_NEGOTIATE_CERT, &tls, 0, 0);
	expect(SSLFLAG_SSL | SSLFLAG_NEGOTIATE_CERT, &tls_cert, 0, 0);
	expect(SSLFLAG_SSL | SSLFLAG_NEGOTIATE_CERT, &tls_bad_cert, 403, 16);
	expect(SSLFLAG_NEGOTIATE_CERT | SSLFLAG_REQUIRE_CERT, &tls_bad_cert, 403, 16);
	/* no certificate asked for: one the client sent anyway is not judged */
	expect(SSLFLAG_SSL, &tls_bad_cert, 0, 0);
	/* SslMapCert without a mapping configured changes nothing */
	expect(SSLFLAG_MAP_CERT, &plain, 0, 0);
	expect(SSLFLAG_SSL | SSLFLAG_MAP_CERT, &tls, 0, 0);
}
END_TEST

START_TEST(test_client_certificate_dates)
{
	expect(SSLFLAG_SSL | SSLFLAG_REQUIRE_CERT, &tls_expired, 403, 17);
	expect(SSLFLAG_SSL | SSLFLAG_REQUIRE_CERT, &tls_not_yet, 403, 17);
	expect(SSLFLAG_NEGOTIATE_CERT, &tls_expired, 403, 17);
	/* untrusted (self-signed) is 403.16 */
	expect(SSLFLAG_REQUIRE_CERT, &tls_bad_cert, 403, 16);
	/* not asked for: not judged */
	expect(SSLFLAG_SSL, &tls_expired, 0, 0);
	/* the order IIS checks in: SSL, 128 bits, then the certificate */
	expect(SSLFLAG_SSL | SSLFLAG_REQUIRE_CERT, &plain, 403, 4);
}
END_TEST

static Suite *
sslpolicy_suite(void)
{
	Suite *s = suite_create("worker_sslpolicy");
	TCase *tc = tcase_create("check");

	tcase_add_test(tc, test_ssl_required);
	tcase_add_test(tc, test_ssl128);
	tcase_add_test(tc, test_client_certificates);
	tcase_add_test(tc, test_client_certificate_dates);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(sslpolicy_suite());
}
