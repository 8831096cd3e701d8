/* tcpecho: a closed-loop load generator for a TCP echo server.
 *
 *   tcpecho connect|rtt HOST-IP PORT CONNECTIONS SECONDS
 *
 * Each of CONNECTIONS slots sends a 16-byte message and waits until all of
 * it came back. In `connect` mode the slot then closes the connection and
 * opens a new one for the next exchange (one short exchange per
 * connection); in `rtt` mode it sends the next message on the same
 * connection (round trips on long-lived connections). Connects do not
 * block, so a slow accept delays only its own slot. At the end it prints
 * "exchanges N errors E per_second R" on stdout; an error is a connection
 * that failed, closed or answered wrong before its message came back. A
 * benchmark tool, not part of the server (bench/meson.build builds it). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadloop.h"

static const char msg[16] = "wasp tcp echo!\r\n";

struct econn {
	int fd;
	bool connecting;
	size_t got;
	char buf[sizeof(msg)];
};

static struct sockaddr_in addr;
static int ep;
static bool reconnect;
static unsigned long exchanges, errors;

static int
econn_send(struct econn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	c->got = 0;
	if (write(c->fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		return -1;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A new connection: its message goes out once the connect completes. */
static int
econn_open(struct econn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
		return -1;
	c->connecting = true;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* 1: the message came back whole; 0: more to come; -1: the connection
 * failed. */
static int
econn_on_event(struct econn *c)
{
	ssize_t n;

	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			return -1;
		c->connecting = false;
		return econn_send(c) < 0 ? -1 : 0;
	}
	n = read(c->fd, c->buf + c->got, sizeof(c->buf) - c->got);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	c->got += (size_t)n;
	if (c->got < sizeof(msg))
		return 0;
	return memcmp(c->buf, msg, sizeof(msg)) == 0 ? 1 : -1;
}

/* After an exchange (done) or a failure: the slot's next exchange. */
static int
econn_next(struct econn *c, bool done)
{
	if (done && !reconnect)
		return econn_send(c);
	close(c->fd);
	return econn_open(c);
}

/* load_loop()'s: -1 when the slot cannot go on. */
static int
econn_on_ready(void *p)
{
	struct econn *c = p;
	int r = econn_on_event(c);

	if (r == 0)
		return 0;
	if (r > 0)
		exchanges++;
	else
		errors++;
	if (econn_next(c, r > 0) < 0) {
		perror("tcpecho: next exchange");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct econn *conns;
	uint64_t start, end;
	size_t nconn, i;

	if (argc != 6 || (strcmp(argv[1], "connect") != 0 && strcmp(argv[1], "rtt") != 0)) {
		fprintf(stderr, "usage: tcpecho connect|rtt HOST-IP PORT CONNECTIONS SECONDS\n");
		return 2;
	}
	reconnect = strcmp(argv[1], "connect") == 0;
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1) {
		fprintf(stderr, "tcpecho: bad address %s\n", argv[2]);
		return 2;
	}
	nconn = (size_t)atoi(argv[4]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc(nconn ? nconn : 1, sizeof(*conns));
	if (ep < 0 || !conns) {
		perror("tcpecho");
		return 1;
	}
	for (i = 0; i < nconn; i++)
		if (econn_open(&conns[i]) < 0) {
			perror("tcpecho: connect");
			return 1;
		}
	start = now_ns();
	if (load_loop(ep, start + (uint64_t)(atof(argv[5]) * 1e9), econn_on_ready) < 0)
		return 1;
	end = now_ns();
	printf("exchanges %lu errors %lu per_second %.0f\n", exchanges, errors,
	       (double)exchanges / ((double)(end - start) / 1e9));
	return exchanges ? 0 : 1;
}
