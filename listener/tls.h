/* TLS termination in the listener (docs/design.md "HTTPS"): certificates
 * loaded from the certificate store files the routing table names, the
 * choice by SNI among a socket's https bindings, and the relay that keeps
 * the TLS session while the connection's plaintext end (one end of a
 * socketpair) travels to workers and back. Internal to listener/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event_struct.h>

#include "msg.h"

struct lsn_env;
struct lsn_conn;
struct lsn_tls;
struct lsn_relay;
struct wasp_route_socket;
struct wasp_ipc_writer;
struct x509_store_ctx_st;

/* The longest client certificate (DER) a HANDOFF carries; a longer one is
 * left out (CERT_FLAGS still says one was presented). */
#define LSN_TLS_CLIENT_CERT_MAX 8192
/* Plaintext buffered per direction in the relay. */
#define LSN_RELAY_BUF 16384
/* How often certificate files are checked for a replacement. */
#define LSN_TLS_CHECK_MS 2000

/* One TLS connection: the session, the client's TCP socket, and our end of
 * the socketpair whose other end is the connection as the listener core
 * and the workers see it (plaintext). Lives until both sides are done. */
struct lsn_relay {
	struct lsn_env *env;
	int tcp;  /* the client's socket */
	int pfd;  /* our end of the socketpair */
	ino_t ino; /* the other end's inode: how a HANDBACK's fd is recognised */
	struct ssl_st *ssl;
	struct lsn_table *table; /* ref held until the handshake is done */
	const struct wasp_route_socket *rs; /* in table */
	uint32_t bind_flags;  /* the chosen binding's sslFlags */
	struct lsn_conn *conn; /* the listener's connection holding the other end */
	struct event ev_tcp, ev_pfd, ev_timer;
	short want_tcp, want_pfd; /* armed events */
	bool hs_done;
	bool tcp_eof;  /* the client sent all it will (close_notify, FIN, error) */
	bool tcp_dead; /* the client cannot be written to any more */
	bool pfd_eof;  /* the plaintext end's holder shut down its writing */
	bool pfd_gone; /* nobody holds the plaintext end any more */
	bool pfd_shut, timer_set;
	bool tcp_idle, pfd_idle; /* the last read was short: wait for readiness */
	uint32_t in_off, in_len;   /* client -> worker */
	uint32_t out_off, out_len; /* worker -> client */
	uint8_t local[16], peer[16];
	uint16_t local_port, peer_port;
	char sni[256];
	/* the HANDOFF's TLS facts, made once the handshake is done */
	struct wasp_msg_tls_info info;
	char *info_strs;
	size_t info_strs_len;
	struct lsn_relay *hnext; /* in the inode hash */
	/* client certificates and failures (tlsclient.c, tlsfail.c) */
	uint32_t verify_err; /* the X509_V_* the client certificate is judged by (0: none) */
	bool failure_noted;  /* counted and logged: never again */
	bool cert_asked;     /* a client certificate was asked for after the handshake */
	bool reneg;          /* asking now (renegotiation, post-handshake auth) */
	bool reneg_fin;      /* its Finished read */
	bool reneg_done;     /* the client answered or refused */
	/* the bytes on their way: in the relay's shared buffer while a step
	 * runs, in in_own/out_own (LSN_RELAY_BUF, made on the first need)
	 * when a step leaves some behind: an idle connection holds none */
	char *in, *out;
	char *in_own, *out_own;
};

/* tls.c: contexts and certificates */
int lsn_tls_init(struct lsn_env *env);
void lsn_tls_done(struct lsn_env *env);
/* A new routing table: certificate files it names that changed on disk
 * are loaded again (new handshakes use them). */
void lsn_tls_table_changed(struct lsn_env *env);
/* A new server-side SSL for r (its certificate chosen by SNI among the
 * bindings of r->rs during the handshake); NULL on failure. */
struct ssl_st *lsn_tls_new_ssl(struct lsn_env *env, struct lsn_relay *r);
/* Whether a CA bundle for client certificates is loaded. */
bool lsn_tls_has_ca(const struct lsn_env *env);

/* tlsinfo.c: the facts of r's finished handshake into r->info and
 * r->info_strs. */
int lsn_tls_make_info(struct lsn_relay *r);
/* The relays by inode (relay.c uses it) */
struct lsn_relay **lsn_tls_bucket(struct lsn_env *env, ino_t ino);

/* tlsclient.c: client certificates */
/* The verify callback of handshakes that ask for one: notes in the relay
 * the error the certificate is judged by, never fails the handshake. */
int lsn_tls_on_verify(int ok, struct x509_store_ctx_st *ctx);
/* A worker handed c back for a client certificate: true when the client
 * is being asked (c waits, then is routed again, or dropped at the header
 * timeout: Timer_SslRenegotiation); false when it cannot be (not TLS,
 * asked once already, TLS 1.3 without post-handshake authentication): the
 * caller routes c as it is, and the worker serves it without one. */
bool lsn_tls_want_client_cert(struct lsn_env *env, struct lsn_conn *c);
/* After a relay step: when the client answered, new facts, c routed. */
void lsn_tls_reneg_check(struct lsn_relay *r);
/* tls.c: the CA bundle for client certificates into ssl (0, or -ENOENT). */
int lsn_tls_use_ca(struct lsn_env *env, struct ssl_st *ssl);

/* tlsfail.c: failed handshakes */
/* The kind of failure SSL_do_handshake()'s n says (before the error queue
 * is cleared); WASP_TLS_FAIL__COUNT when it only waits. */
enum wasp_tls_failure lsn_tls_failure_kind(struct ssl_st *ssl, int n);
/* r's handshake failed: counted, and logged in HTTPERR (once per
 * connection; not at all when the client closed without a byte). */
void lsn_tls_handshake_failed(struct lsn_relay *r, enum wasp_tls_failure kind);
/* The header timeout passed on c: when it is still in its TLS handshake,
 * counted and logged as Timer_SslHandshake and c freed (true); false when
 * the core answers it as any connection. */
bool lsn_tls_timed_out(struct lsn_env *env, struct lsn_conn *c);

/* relay.c: the TLS session and the plaintext socketpair */
/* c was accepted on an https socket: c->fd becomes the plaintext end of a
 * socketpair, the relay keeps the TCP socket and does the handshake. 0 or
 * -errno (c is then freed). */
int lsn_relay_start(struct lsn_env *env, struct lsn_conn *c, const struct wasp_route_socket *rs);
/* The relay whose plaintext end fd is (a HANDBACK's), or NULL. */
struct lsn_relay *lsn_relay_find(struct lsn_env *env, int fd);
/* c holds the relay's plaintext end now (or no more: c NULL). */
void lsn_relay_attach(struct lsn_relay *r, struct lsn_conn *c);
/* The TLS facts of the HANDOFF (struct wasp_msg_tls_info and its strings). */
void lsn_relay_put_info(const struct lsn_relay *r, struct wasp_ipc_writer *w);
size_t lsn_relay_info_len(const struct lsn_relay *r);
void lsn_relay_free_all(struct lsn_env *env);
/* Step r now (after its SSL was told to send something). */
void lsn_relay_kick(struct lsn_relay *r);

/* ktls.c: the kTLS hand-off (docs/design.md "HTTPS") */
struct lsn_ktls;
/* Whether the kernel offers kTLS (the tls ULP) and the hand-off can be made. */
bool lsn_ktls_init(void);
void lsn_ktls_done(void);
/* A new SSL asks OpenSSL for kTLS where the kernel and the table allow. */
void lsn_ktls_prepare(struct lsn_env *env, struct ssl_st *ssl);
/* r's handshake is done: when both directions are in the kernel, its
 * connection's fd becomes the TCP socket (r->tcp -1; the caller frees r)
 * and true; false: the relay goes on. */
bool lsn_ktls_take(struct lsn_relay *r);
void lsn_ktls_free(struct lsn_ktls *k);
/* The HANDOFF's TLS facts of a kTLS connection (0 when k is NULL), and
 * the facts and their MAC (WASP_TLS_MAC_LEN) into w. */
size_t lsn_ktls_facts_len(const struct lsn_ktls *k);
void lsn_ktls_put(const struct lsn_ktls *k, struct wasp_ipc_writer *w);
/* A HANDBACK's connection c (new, not a relay's) with the bytes echoed
 * after its data: a kTLS socket's facts checked against their MAC into
 * c->ktls. 0 (also for a plain socket with none), -EPERM (a kTLS socket
 * without valid facts, or facts for a socket without kTLS: close it),
 * -ENOMEM. */
int lsn_ktls_handback(struct lsn_conn *c, const void *echo, size_t len);
/* A kTLS connection's request wants a client certificate (a HANDBACK's
 * WASP_HANDBACK_F_CLIENT_CERT): the session is the kernel's, nobody can
 * ask; its facts say it was asked (CERT_ASKED), so the worker serves it
 * without one (403.7 where one is required) instead of handing it back
 * again. */
void lsn_ktls_cert_asked(struct lsn_conn *c);
/* Connections handed over as kTLS sockets so far. */
uint64_t lsn_ktls_taken(void);
