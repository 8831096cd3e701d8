/* libFuzzer target for the TLS relay (listener/relay.c): a connection
 * started as the listener starts one (lsn_relay_start on an accepted
 * socket, here one end of a socketpair), a real OpenSSL client on the
 * other end, the plaintext end (the connection's fd afterwards) played by
 * the harness as the worker, and libevent's loop run without blocking
 * between steps. The input is a sequence of operations on both sides;
 * checked after each: nothing arrives that was not sent, in order, in
 * both directions; the relay's buffers within LSN_RELAY_BUF; and at the
 * end, with both sides closed, the relay gone and every descriptor closed.
 * While neither side has closed or half-closed, all that was sent arrives
 * once both sides read.
 *
 * Input: a sequence of (op, n) byte pairs, op % 9:
 *   0 the client writes n * 67 + 1 bytes   1 the client reads
 *   2 the worker writes n * 67 + 1 bytes   3 the worker reads n * 67 + 1
 *   4 the client half-closes (close_notify, SHUT_WR)
 *   5 the worker half-closes (SHUT_WR)    6 the event loop runs
 *   7 the client closes its socket         8 the worker closes its end */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fuzz_check.h"
#include "fuzz_tls.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 256
#define SETTLE_STEPS 400

static SSL_CTX *client_ctx;

/* the bytes of each direction: a pattern by offset, so that a retried
 * write sends the same and the receiver checks order */
static uint8_t
pattern(int dir, uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 8) + (unsigned)dir * 7);
}

static void
fill(uint8_t *buf, int dir, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(dir, off + i);
}

struct side {
	uint64_t sent, got;
	bool shut, closed;
	size_t retry; /* a client write to retry with at least this many bytes */
};

struct run {
	struct lsn_conn *c;
	SSL *cl;
	int cfd; /* the client's socket */
	int wfd; /* the worker's: the plaintext end */
	struct side client, worker;
};

static void
loop(void)
{
	(void)event_base_loop(fuzz_env.base, EVLOOP_NONBLOCK);
}

static void
check_got(int dir, struct side *from, struct side *to, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK(buf[i] == pattern(dir, to->got + i));
	to->got += n;
	CHECK(to->got <= from->sent);
}

static void
client_write(struct run *r, size_t n)
{
	uint8_t buf[16384];
	int m;

	if (r->client.shut || r->client.closed)
		return;
	n = MIN(MAX(n, r->client.retry), sizeof(buf));
	fill(buf, 0, r->client.sent, n);
	m = SSL_write(r->cl, buf, (int)n);
	if (m > 0) {
		r->client.sent += (uint64_t)m;
		r->client.retry = 0;
	} else {
		r->client.retry = n;
		ERR_clear_error();
	}
}

static void
client_read(struct run *r)
{
	uint8_t buf[16384];
	int m;

	if (r->client.closed)
		return;
	while ((m = SSL_read(r->cl, buf, sizeof(buf))) > 0)
		check_got(1, &r->worker, &r->client, buf, (size_t)m);
	ERR_clear_error();
}

static void
worker_write(struct run *r, size_t n)
{
	uint8_t buf[16384];
	ssize_t m;

	if (r->worker.shut || r->worker.closed)
		return;
	n = MIN(n, sizeof(buf));
	fill(buf, 1, r->worker.sent, n);
	m = send(r->wfd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (m > 0)
		r->worker.sent += (uint64_t)m;
}

static void
worker_read(struct run *r, size_t n)
{
	uint8_t buf[16384];
	ssize_t m;

	if (r->worker.closed)
		return;
	m = recv(r->wfd, buf, MIN(n, sizeof(buf)), MSG_DONTWAIT);
	if (m > 0)
		check_got(0, &r->client, &r->worker, buf, (size_t)m);
}

static void
check_relay(struct run *r)
{
	const struct lsn_relay *re = r->c->relay;

	if (!re)
		return;
	CHECK(re->in_off + re->in_len <= LSN_RELAY_BUF);
	CHECK(re->out_off + re->out_len <= LSN_RELAY_BUF);
}

static void
client_close(struct run *r)
{
	if (r->client.closed)
		return;
	SSL_free(r->cl);
	r->cl = NULL;
	(void)close(r->cfd);
	r->client.closed = true;
}

static void
worker_close(struct run *r)
{
	if (r->worker.closed)
		return;
	(void)close(r->wfd);
	r->worker.closed = true;
}

static void
op(struct run *r, uint8_t code, uint8_t arg)
{
	size_t n = (size_t)arg * 67 + 1;

	switch (code % 9) {
	case 0: client_write(r, n); break;
	case 1: client_read(r); break;
	case 2: worker_write(r, n); break;
	case 3: worker_read(r, n); break;
	case 4:
		if (!r->client.shut && !r->client.closed) {
			(void)SSL_shutdown(r->cl);
			(void)shutdown(r->cfd, SHUT_WR);
			r->client.shut = true;
		}
		break;
	case 5:
		if (!r->worker.shut && !r->worker.closed) {
			(void)shutdown(r->wfd, SHUT_WR);
			r->worker.shut = true;
		}
		break;
	case 6: break;
	case 7: client_close(r); break;
	case 8: worker_close(r); break;
	}
	loop();
	check_relay(r);
}

/* Both sides read until nothing moves. */
static void
settle(struct run *r)
{
	for (int i = 0, idle = 0; i < SETTLE_STEPS && idle < 3; i++) {
		uint64_t c = r->client.got, w = r->worker.got, cs = r->client.sent;

		client_write(r, 0); /* a write to retry */
		client_read(r);
		worker_read(r, 16384);
		loop();
		check_relay(r);
		idle = c == r->client.got && w == r->worker.got && cs == r->client.sent ? idle + 1 : 0;
	}
}

static bool
start(struct run *r)
{
	int tcp[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tcp) == 0);
	r->cfd = tcp[0];
	r->c = calloc(1, sizeof(*r->c));
	CHECK(r->c);
	r->c->env = &fuzz_env;
	r->c->fd = tcp[1];
	CHECK(lsn_relay_start(&fuzz_env, r->c, &fuzz_sockets[0]) == 0);
	r->wfd = r->c->fd;
	r->cl = SSL_new(client_ctx);
	CHECK(r->cl && SSL_set_fd(r->cl, r->cfd) == 1);
	CHECK(SSL_set_tlsext_host_name(r->cl, "a.example.com") == 1);
	SSL_set_connect_state(r->cl);
	for (int i = 0; i < SETTLE_STEPS; i++) {
		if (SSL_do_handshake(r->cl) == 1)
			return true;
		loop();
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	int before = fuzz_count_fds();
	bool open_both = true;

	fuzz_rng_reset(0, 0x5eed);
	CHECK(start(&r));
	for (size_t i = 0; i + 1 < size && i / 2 < MAX_OPS; i += 2) {
		op(&r, data[i], data[i + 1]);
		open_both &= !r.client.shut && !r.client.closed && !r.worker.shut && !r.worker.closed;
	}
	settle(&r);
	if (open_both) {
		CHECK(r.worker.got == r.client.sent);
		CHECK(r.client.got == r.worker.sent);
	}
	/* the end: both sides close, the relay goes */
	client_close(&r);
	worker_close(&r);
	for (int i = 0; i < SETTLE_STEPS && r.c->relay; i++)
		loop();
	CHECK(r.c->relay == NULL);
	CHECK(fuzz_count_fds() == before);
	free(r.c);
	ERR_clear_error();
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_tls_setup();
	(void)signal(SIGPIPE, SIG_IGN); /* as the listener */
	client_ctx = SSL_CTX_new(TLS_client_method());
	CHECK(client_ctx);
	SSL_CTX_set_mode(client_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
					     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}
