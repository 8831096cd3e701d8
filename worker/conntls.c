/* A TLS connection as the worker knows it: the facts its HANDOFF carried
 * (the listener holds the session and the keys, docs/design.md "HTTPS"),
 * the server variables IIS makes of them (HTTPS, HTTPS_*, CERT_*,
 * SERVER_PORT_SECURE) and the module API's view (wasp_request_tls). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "util.h"
#include "worker.h"
#include "conn.h"

/* the string lengths of info in wire order */
static size_t
tls_lengths(const struct wasp_msg_tls_info *in, size_t n[9])
{
	size_t sum = 0;

	n[0] = in->cipher_len;
	n[1] = in->sni_len;
	n[2] = in->server_subject_len;
	n[3] = in->server_issuer_len;
	n[4] = in->client_subject_len;
	n[5] = in->client_issuer_len;
	n[6] = in->client_serial_len;
	n[7] = in->client_cookie_len;
	n[8] = in->client_cert_len;
	for (size_t i = 0; i < 9; i++)
		sum += n[i];
	return sum;
}

struct conn_tls *
conn_tls_parse(const void *p, size_t len, size_t mac_len, int *err)
{
	const char **fields[8];
	struct wasp_msg_tls_info in;
	struct conn_tls *t;
	const uint8_t *src;
	size_t n[9];
	char *dst;

	*err = -EBADMSG;
	if (len < sizeof(in))
		return NULL;
	memcpy(&in, p, sizeof(in));
	if (tls_lengths(&in, n) != len - sizeof(in))
		return NULL;
	if (mac_len != 0 && (mac_len != WASP_TLS_MAC_LEN || !(in.flags & WASP_TLS_F_KTLS)))
		return NULL;
	/* the strings NUL-terminated after the struct, then the DER, then (a
	 * kTLS socket) the facts and their MAC as they came, for a HANDBACK */
	t = malloc(sizeof(*t) + len + 8 + (mac_len ? len + mac_len : 0));
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	t->info = in;
	t->echo = NULL;
	t->echo_len = mac_len ? len + mac_len : 0;
	fields[0] = &t->cipher;
	fields[1] = &t->sni;
	fields[2] = &t->server_subject;
	fields[3] = &t->server_issuer;
	fields[4] = &t->client_subject;
	fields[5] = &t->client_issuer;
	fields[6] = &t->client_serial;
	fields[7] = &t->client_cookie;
	src = (const uint8_t *)p + sizeof(in);
	dst = (char *)(t + 1);
	for (size_t i = 0; i < 8; i++) {
		if (memchr(src, '\0', n[i])) {
			free(t);
			return NULL;
		}
		memcpy(dst, src, n[i]);
		dst[n[i]] = '\0';
		*fields[i] = dst;
		dst += n[i] + 1;
		src += n[i];
	}
	memcpy(dst, src, n[8]);
	t->client_cert = n[8] ? (const uint8_t *)dst : NULL;
	if (t->echo_len) {
		memcpy(dst + n[8], p, t->echo_len);
		t->echo = (const uint8_t *)dst + n[8];
	}
	*err = 0;
	return t;
}

static const struct conn_tls *
req_tls(const struct wasp_request *req)
{
	return req->conn ? req->conn->tls : NULL;
}

bool
wasp_request_is_secure(const struct wasp_request *req)
{
	return req_tls(req) != NULL;
}

int
wasp_request_tls(const struct wasp_request *req, struct wasp_tls_info *ret)
{
	const struct conn_tls *t = req_tls(req);

	if (!t)
		return -ENOENT;
	*ret = (struct wasp_tls_info){
		.version = t->info.version,
		.key_bits = t->info.key_bits,
		.secret_bits = t->info.secret_bits,
		.client_cert = (t->info.flags & WASP_TLS_F_CLIENT_CERT) != 0,
		.client_cert_verified = (t->info.flags & WASP_TLS_F_CLIENT_VERIFIED) != 0,
		.client_verify_result = t->info.verify_result,
		.cipher = t->cipher,
		.sni = t->sni,
		.server_subject = t->server_subject,
		.server_issuer = t->server_issuer,
		.client_subject = t->client_subject,
		.client_issuer = t->client_issuer,
		.client_serial = t->client_serial,
		.client_der = t->client_cert,
		.client_der_len = t->info.client_cert_len,
		.client_cert_asked = (t->info.flags & WASP_TLS_F_CERT_ASKED) != 0,
	};
	return 0;
}

/* CERT_FLAGS (IIS): bit 0 a client certificate is present, bit 1 its
 * certification authority is not valid (not in the CA bundle). */
static const char *
cert_flags(const struct conn_tls *t)
{
	if (!(t->info.flags & WASP_TLS_F_CLIENT_CERT))
		return "0";
	return (t->info.flags & WASP_TLS_F_CLIENT_VERIFIED) ? "1" : "3";
}

const char *
tls_server_variable(struct wasp_request *req, const char *name)
{
	const struct conn_tls *t = req_tls(req);
	const char *s;

	if (streq(name, "HTTPS"))
		return t ? "on" : "off";
	if (streq(name, "SERVER_PORT_SECURE"))
		return t ? "1" : "0";
	if (streq(name, "WASP_TLS_OFFLOAD"))
		return !t ? "" : (t->info.flags & WASP_TLS_F_KTLS) ? "ktls" : "relay";
	if ((s = startswith(name, "HTTPS_")) || (s = startswith(name, "CERT_"))) {
		bool cert = name[0] == 'C';

		if (streq(s, "KEYSIZE"))
			return t ? wasp_arena_printf(req->arena, "%u", t->info.key_bits) : "";
		if (streq(s, "SECRETKEYSIZE"))
			return t ? wasp_arena_printf(req->arena, "%u", t->info.secret_bits) : "";
		if (streq(s, "SERVER_SUBJECT"))
			return t ? t->server_subject : "";
		if (streq(s, "SERVER_ISSUER"))
			return t ? t->server_issuer : "";
		if (!cert)
			return NULL;
		if (streq(s, "FLAGS"))
			return t ? cert_flags(t) : "0";
		if (streq(s, "SUBJECT"))
			return t ? t->client_subject : "";
		if (streq(s, "ISSUER"))
			return t ? t->client_issuer : "";
		if (streq(s, "SERIALNUMBER"))
			return t ? t->client_serial : "";
		if (streq(s, "COOKIE"))
			return t ? t->client_cookie : "";
	}
	return NULL;
}
