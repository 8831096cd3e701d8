/* tlsload: a closed-loop HTTPS (HTTP/1.1 over TLS 1.3) load generator for
 * bench/run's tls scenario.
 *
 *   tlsload HOST-IP PORT PATH CONNECTIONS SECONDS MODE [tls1.2]
 *
 * MODE keepalive: each connection does one handshake, then sends a GET and
 * waits for the whole response (Content-Length bodies only), again and again;
 * handshake: each request on a new connection ("Connection: close") with a
 * full handshake; resume: the same, resuming a session from a ticket the
 * server sent, each ticket used once (RFC 8446 C.4), the newest first; a
 * full handshake when none is left. The certificate is not
 * verified (the benchmark's own). At the end it prints the count of
 * requests, errors, requests per second, full and resumed handshakes.
 * A benchmark tool, not part of the server (bench/meson.build builds it). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"
#include "loadloop.h"

enum mode { KEEPALIVE, HANDSHAKE, RESUME };
enum state { CONNECTING, SHAKING, SENDING, READING };

struct tconn {
	int fd;
	SSL *ssl;
	enum state st;
	size_t got, sent;
	long need; /* total bytes of the response once the head is in, else -1 */
	char buf[16384];
};

static struct sockaddr_in addr;
static char req[512];
static size_t req_len;
static int ep;
static enum mode mode;
static SSL_CTX *ctx;
/* resume: the tickets the server sent, each used once (RFC 8446 C.4),
 * the newest first */
#define TICKETS_MAX 4096
static SSL_SESSION *tickets[TICKETS_MAX];
static size_t n_tickets;
static unsigned long requests, errors, full, resumed;

static int
on_new_session(SSL *ssl, SSL_SESSION *s)
{
	(void)ssl;
	if (mode != RESUME)
		return 0;
	if (n_tickets == TICKETS_MAX) { /* the oldest goes */
		SSL_SESSION_free(tickets[0]);
		memmove(tickets, tickets + 1, (TICKETS_MAX - 1) * sizeof(*tickets));
		n_tickets--;
	}
	tickets[n_tickets++] = s;
	return 1; /* we keep the reference */
}

static void
watch(struct tconn *c, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep, op, c->fd, &ev) < 0) {
		perror("tlsload: epoll_ctl");
		exit(1);
	}
}

static void
tconn_open(struct tconn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		perror("tlsload: socket");
		exit(1);
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ssl = SSL_new(ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
		fprintf(stderr, "tlsload: SSL_new failed\n");
		exit(1);
	}
	if (mode == RESUME && n_tickets) {
		SSL_SESSION *t = tickets[--n_tickets];

		SSL_set_session(c->ssl, t);
		SSL_SESSION_free(t);
	}
	c->st = CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
		perror("tlsload: connect");
		exit(1);
	}
	watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* ok: the exchange completed (its session stays resumable: OpenSSL drops
 * the session of a connection freed without a shutdown) */
static void
tconn_close(struct tconn *c, bool ok)
{
	if (ok)
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c->ssl);
	close(c->fd);
	c->ssl = NULL;
}

static void
start_request(struct tconn *c)
{
	c->st = SENDING;
	c->sent = c->got = 0;
	c->need = -1;
}

/* What SSL's result r asks for: the events to wait for, or -1 (failed). */
static int
want(struct tconn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return EPOLLIN;
	case SSL_ERROR_WANT_WRITE:
		return EPOLLOUT;
	default:
		return -1;
	}
}

/* Run c as far as it goes without blocking; returns the events to wait
 * for, 0 when its one request is done (a new connection per request), -1
 * when it failed. */
static int
step(struct tconn *c)
{
	for (;;) {
		bool not_ok = false;
		size_t room;
		char *at;
		int r;

		switch (c->st) {
		case CONNECTING:
			c->st = SHAKING;
			break;
		case SHAKING:
			r = SSL_connect(c->ssl);
			if (r <= 0)
				return want(c, r);
			if (SSL_session_reused(c->ssl))
				resumed++;
			else
				full++;
			start_request(c);
			break;
		case SENDING:
			r = SSL_write(c->ssl, req + c->sent, (int)(req_len - c->sent));
			if (r <= 0)
				return want(c, r);
			c->sent += (size_t)r;
			if (c->sent == req_len)
				c->st = READING;
			break;
		case READING:
			at = response_room(c->buf, sizeof(c->buf), c->got, c->need, &room);
			r = SSL_read(c->ssl, at, (int)room);
			/* a kept-alive connection the server closed between
			 * requests: a new one, not an error */
			if (r <= 0 && c->got == 0 && mode == KEEPALIVE &&
			    SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (r <= 0)
				return want(c, r);
			r = response_take(c->buf, sizeof(c->buf), &c->got, &c->need, (size_t)r,
					  &not_ok);
			if (not_ok)
				errors++;
			switch (r) {
			case 0:
				break;
			case 1:
				requests++;
				if (mode != KEEPALIVE)
					return 0;
				start_request(c);
				break;
			default:
				return -1;
			}
			break;
		}
	}
}

/* load_loop()'s: c is ready. */
static int
run(void *p)
{
	struct tconn *c = p;
	int ev = step(c);

	if (ev > 0) {
		watch(c, (uint32_t)ev, EPOLL_CTL_MOD);
		return 0;
	}
	/* done (a new connection per request) or failed: start over */
	if (ev < 0)
		errors++;
	tconn_close(c, ev == 0);
	tconn_open(c);
	return 0;
}

static int
parse_mode(const char *s)
{
	if (!strcmp(s, "keepalive"))
		mode = KEEPALIVE;
	else if (!strcmp(s, "handshake"))
		mode = HANDSHAKE;
	else if (!strcmp(s, "resume"))
		mode = RESUME;
	else
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct tconn *conns;
	uint64_t start, stop;
	size_t nconn;
	bool tls12;

	if (argc < 7 || parse_mode(argv[6]) < 0) {
		fprintf(stderr, "usage: tlsload HOST-IP PORT PATH CONNECTIONS SECONDS "
				"keepalive|handshake|resume [tls1.2]\n");
		return 2;
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
		fprintf(stderr, "tlsload: bad address %s\n", argv[1]);
		return 2;
	}
	req_len = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n",
				   argv[3], mode == KEEPALIVE ? "" : "Connection: close\r\n");
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_client_method());
	/* an optional 7th argument "tls1.2": TLS 1.2 only (the kTLS path of
	 * OpenSSL 3.0, which offloads TLS 1.3's sending only) */
	tls12 = argc > 7 && strcmp(argv[7], "tls1.2") == 0;
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) ||
	    (tls12 && !SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION))) {
		fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	nconn = (size_t)atoi(argv[4]);
	ep = epoll_create1(0);
	conns = calloc(nconn ? nconn : 1, sizeof(*conns));
	if (ep < 0 || !conns) {
		perror("tlsload");
		return 1;
	}
	for (size_t i = 0; i < nconn; i++)
		tconn_open(&conns[i]);
	start = now_ns();
	stop = start + (uint64_t)(atof(argv[5]) * 1e9);
	(void)load_loop(ep, stop, run);
	printf("requests %lu errors %lu rps %.0f full %lu resumed %lu\n", requests, errors,
	       (double)requests / ((double)(stop - start) / 1e9), full, resumed);
	return requests ? 0 : 1;
}
