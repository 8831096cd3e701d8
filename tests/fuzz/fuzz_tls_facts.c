/* libFuzzer target for worker/conntls.c: the TLS facts a HANDOFF carries
 * (struct wasp_msg_tls_info, then its strings and the client certificate's
 * DER, docs/adapter-protocol.md) decoded by conn_tls_parse, and what the
 * worker makes of them: the server variables (HTTPS, SERVER_PORT_SECURE,
 * HTTPS_*, CERT_*) and the module API's wasp_request_tls. Every result is
 * checked against a reading of the bytes written apart from conntls.c's.
 * (The listener's side, lsn_tls_make_info, needs a finished handshake:
 * fuzz_tls_hello decodes its facts the same way.)
 *
 * Input: one options byte, then the facts. Options bit 0: make the string
 * lengths add up (each length taken modulo what is left, the DER's the
 * rest), so that the fuzzer gets past the length check; bit 1: ask the
 * variables of a plain connection too; bit 2: the last WASP_TLS_MAC_LEN
 * bytes are the facts' MAC (a kTLS socket's HANDOFF: only with
 * WASP_TLS_F_KTLS, and kept with the facts for a HANDBACK's echo). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "conn.h"
#include "fuzz_check.h"
#include "util.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_LENS 9

static uint16_t *
lens(struct wasp_msg_tls_info *in, size_t i)
{
	uint16_t *l[N_LENS] = {
		&in->cipher_len,	 &in->sni_len,		 &in->server_subject_len,
		&in->server_issuer_len,	 &in->client_subject_len, &in->client_issuer_len,
		&in->client_serial_len,	 &in->client_cookie_len, &in->client_cert_len,
	};
	return l[i];
}

/* Each length no more than what is left, the last all of the rest. */
static void
fix_lengths(uint8_t *p, size_t len)
{
	struct wasp_msg_tls_info in;
	size_t left = len - sizeof(in);

	memcpy(&in, p, sizeof(in));
	for (size_t i = 0; i < N_LENS; i++) {
		size_t n = i + 1 < N_LENS ? *lens(&in, i) % (left + 1) : MIN(left, UINT16_MAX);
		*lens(&in, i) = (uint16_t)n;
		left -= n;
	}
	memcpy(p, &in, sizeof(in));
}

/* The reference: whether the facts are well formed, and each string. */
static bool
ref_parse(const uint8_t *p, size_t len, const uint8_t *str[N_LENS], size_t n[N_LENS])
{
	struct wasp_msg_tls_info in;
	size_t off;

	if (len < sizeof(in))
		return false;
	memcpy(&in, p, sizeof(in));
	off = sizeof(in);
	for (size_t i = 0; i < N_LENS; i++) {
		n[i] = *lens(&in, i);
		if (n[i] > len - off)
			return false;
		str[i] = p + off;
		off += n[i];
		if (i < N_LENS - 1 && memchr(str[i], 0, n[i]))
			return false;
	}
	return off == len;
}

static bool
same(const char *s, const uint8_t *p, size_t n)
{
	return s && strlen(s) == n && memcmp(s, p, n) == 0;
}

static void
check_variables(struct wasp_request *req, const struct conn_tls *t)
{
	static const char *const names[] = {
		"HTTPS_SERVER_SUBJECT", "HTTPS_SERVER_ISSUER", "CERT_SUBJECT",
		"CERT_ISSUER",		"CERT_SERIALNUMBER",   "CERT_COOKIE",
	};
	const char *want[ELEMENTSOF(names)];
	char num[16];

	CHECK(streq(tls_server_variable(req, "HTTPS"), t ? "on" : "off"));
	CHECK(streq(tls_server_variable(req, "SERVER_PORT_SECURE"), t ? "1" : "0"));
	CHECK(wasp_request_is_secure(req) == (t != NULL));
	(void)snprintf(num, sizeof(num), "%u", t ? t->info.key_bits : 0);
	CHECK(streq(tls_server_variable(req, "HTTPS_KEYSIZE"), t ? num : ""));
	CHECK(streq(tls_server_variable(req, "CERT_KEYSIZE"), t ? num : ""));
	(void)snprintf(num, sizeof(num), "%u", t ? t->info.secret_bits : 0);
	CHECK(streq(tls_server_variable(req, "HTTPS_SECRETKEYSIZE"), t ? num : ""));
	want[0] = t ? t->server_subject : "";
	want[1] = t ? t->server_issuer : "";
	want[2] = t ? t->client_subject : "";
	want[3] = t ? t->client_issuer : "";
	want[4] = t ? t->client_serial : "";
	want[5] = t ? t->client_cookie : "";
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		CHECK(streq(tls_server_variable(req, names[i]), want[i]));
	/* CERT_FLAGS: bit 0 a certificate, bit 1 its issuer not trusted */
	CHECK(streq(tls_server_variable(req, "CERT_FLAGS"),
		    !t || !(t->info.flags & WASP_TLS_F_CLIENT_CERT)     ? "0"
		    : (t->info.flags & WASP_TLS_F_CLIENT_VERIFIED) ? "1"
								   : "3"));
	CHECK(tls_server_variable(req, "HTTPS_FLAGS") == NULL);
	CHECK(tls_server_variable(req, "HTTPS_SUBJECT") == NULL);
	CHECK(tls_server_variable(req, "CERT_") == NULL);
	CHECK(tls_server_variable(req, "SERVER_NAME") == NULL);
}

static void
check_api(struct wasp_request *req, const struct conn_tls *t)
{
	struct wasp_tls_info ti;

	if (!t) {
		CHECK(wasp_request_tls(req, &ti) == -ENOENT);
		return;
	}
	CHECK(wasp_request_tls(req, &ti) == 0);
	CHECK(ti.version == t->info.version && ti.key_bits == t->info.key_bits);
	CHECK(ti.client_cert == !!(t->info.flags & WASP_TLS_F_CLIENT_CERT));
	CHECK(ti.client_cert_verified == !!(t->info.flags & WASP_TLS_F_CLIENT_VERIFIED));
	CHECK(ti.client_cert_asked == !!(t->info.flags & WASP_TLS_F_CERT_ASKED));
	CHECK(ti.client_verify_result == t->info.verify_result);
	CHECK(ti.sni == t->sni && ti.cipher == t->cipher);
	CHECK(ti.client_der_len == t->info.client_cert_len);
	CHECK((ti.client_der != NULL) == (ti.client_der_len > 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *str[N_LENS];
	size_t n[N_LENS], len, flen, mac_len;
	struct wasp_request req = { 0 };
	struct conn conn = { 0 };
	struct conn_tls *t;
	uint8_t *p;
	bool ok;
	int err = 1;

	if (size < 1 || size > 200000)
		return 0;
	len = size - 1;
	/* a copy of exactly the facts' size: AddressSanitizer sees overreads */
	p = malloc(len ? len : 1);
	CHECK(p);
	memcpy(p, data + 1, len);
	mac_len = (data[0] & 4) && len >= WASP_TLS_MAC_LEN ? WASP_TLS_MAC_LEN : 0;
	flen = len - mac_len;
	if ((data[0] & 1) && flen >= sizeof(struct wasp_msg_tls_info))
		fix_lengths(p, flen);
	ok = ref_parse(p, flen, str, n);
	if (ok && mac_len) {
		struct wasp_msg_tls_info in;
		memcpy(&in, p, sizeof(in));
		ok = (in.flags & WASP_TLS_F_KTLS) != 0;
	}
	t = conn_tls_parse(p, flen, mac_len, &err);
	CHECK(ok == (t != NULL));
	CHECK(err == (ok ? 0 : -EBADMSG));
	if (t && mac_len)
		CHECK(t->echo && t->echo_len == len && memcmp(t->echo, p, len) == 0);
	else if (t)
		CHECK(!t->echo && t->echo_len == 0);
	if (t) {
		const char *s[N_LENS - 1] = { t->cipher,	 t->sni,	    t->server_subject,
					      t->server_issuer,	 t->client_subject, t->client_issuer,
					      t->client_serial,	 t->client_cookie };
		CHECK(memcmp(&t->info, p, sizeof(t->info)) == 0);
		for (size_t i = 0; i < N_LENS - 1; i++)
			CHECK(same(s[i], str[i], n[i]));
		CHECK(n[N_LENS - 1] ? t->client_cert && memcmp(t->client_cert, str[N_LENS - 1],
								   n[N_LENS - 1]) == 0
				    : t->client_cert == NULL);
	}
	/* the facts are the connection's own: the input may go */
	free(p);
	req.arena = wasp_arena_new();
	CHECK(req.arena);
	req.conn = &conn;
	conn.tls = t;
	if (t || (data[0] & 2)) {
		check_variables(&req, t);
		check_api(&req, t);
	}
	req.arena = wasp_arena_free(req.arena);
	free(t);
	return 0;
}
