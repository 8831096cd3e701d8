/* latprobe: a closed-loop HTTP/1.1 load generator that keeps every
 * request's latency, so a benchmark can see when the slow ones happened.
 *
 *   latprobe HOST-IP PORT PATH CONNECTIONS SECONDS [OUT]
 *
 * Each connection sends a GET with keep-alive, waits for the whole response
 * (Content-Length bodies only) and sends the next. At the end it prints the
 * count, p50/p99/p99.9/max and errors on stdout; with OUT it also writes one
 * line per request, "END_NS LATENCY_NS", END_NS on CLOCK_MONOTONIC (what
 * Python's time.monotonic() reads), for requests over 500 us. A benchmark
 * tool, not part of the server (bench/meson.build builds it). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"
#include "loadloop.h"

struct lconn {
	int fd;
	uint64_t sent;
	size_t got;
	long need; /* total bytes of the response once the head is in, else -1 */
	char buf[16384];
};

struct sample {
	uint64_t end, lat;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct sockaddr_in addr;
static char req[512];
static size_t req_len;
static int ep;
static unsigned long errors;
static struct sample *samples;
static size_t n_samples, cap_samples = 1 << 20;

static int
lconn_open(struct lconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	return 0;
}

static int
lconn_send(struct lconn *c)
{
	c->got = 0;
	c->need = -1;
	c->sent = now_ns();
	return write(c->fd, req, req_len) == (ssize_t)req_len ? 0 : -1;
}

/* 1 the response is complete, 0 more to come, -1 error */
static int
lconn_read(struct lconn *c)
{
	size_t room;
	char *at = response_room(c->buf, sizeof(c->buf), c->got, c->need, &room);
	ssize_t n = read(c->fd, at, room);
	bool not_ok = false;
	int r;

	if (n <= 0)
		return -1;
	r = response_take(c->buf, sizeof(c->buf), &c->got, &c->need, (size_t)n, &not_ok);
	if (not_ok)
		errors++;
	return r;
}

/* The response's latency kept: -1 out of memory. */
static int
keep_sample(uint64_t end, uint64_t lat)
{
	if (n_samples == cap_samples) {
		struct sample *more = realloc(samples, 2 * cap_samples * sizeof(*samples));

		if (!more) {
			fprintf(stderr, "latprobe: out of memory\n");
			return -1;
		}
		samples = more;
		cap_samples *= 2;
	}
	samples[n_samples].end = end;
	samples[n_samples++].lat = lat;
	return 0;
}

/* load_loop()'s: -1 when the connection cannot go on. */
static int
lconn_on_ready(void *p)
{
	struct lconn *c = p;
	int r = lconn_read(c);

	if (r == 0)
		return 0;
	if (r > 0) {
		uint64_t t = now_ns();

		if (keep_sample(t, t - c->sent) < 0)
			return -1;
	} else {
		errors++;
		close(c->fd);
		if (lconn_open(c) < 0) {
			perror("latprobe: reconnect");
			return -1;
		}
	}
	if (lconn_send(c) < 0)
		errors++;
	return 0;
}

int
main(int argc, char **argv)
{
	struct lconn *conns;
	uint64_t *lats, start, stop;
	size_t n, nconn, i;
	FILE *out = NULL;
	uint64_t min_ns = 500000;

	if (argc < 6) {
		fprintf(stderr, "usage: latprobe HOST-IP PORT PATH CONNECTIONS SECONDS [OUT]\n");
		return 2;
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
		fprintf(stderr, "latprobe: bad address %s\n", argv[1]);
		return 2;
	}
	req_len = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
				   argv[3]);
	nconn = (size_t)atoi(argv[4]);
	ep = epoll_create1(0);
	conns = calloc(nconn ? nconn : 1, sizeof(*conns));
	samples = malloc(cap_samples * sizeof(*samples));
	if (ep < 0 || !conns || !samples) {
		perror("latprobe");
		return 1;
	}
	if (argc > 7)
		min_ns = (uint64_t)atoll(argv[7]) * 1000u;
	if (argc > 6 && !(out = fopen(argv[6], "w"))) {
		perror(argv[6]);
		return 2;
	}
	for (i = 0; i < nconn; i++)
		if (lconn_open(&conns[i]) < 0 || lconn_send(&conns[i]) < 0) {
			perror("latprobe: connect");
			return 1;
		}
	start = now_ns();
	stop = start + (uint64_t)(atof(argv[5]) * 1e9);
	if (load_loop(ep, stop, lconn_on_ready) < 0)
		return 1;
	n = n_samples;
	lats = malloc((n ? n : 1) * sizeof(*lats));
	if (!lats) {
		perror("latprobe");
		return 1;
	}
	for (i = 0; i < n; i++) {
		lats[i] = samples[i].lat;
		if (out && samples[i].lat > min_ns)
			fprintf(out, "%llu %llu\n", (unsigned long long)samples[i].end,
				(unsigned long long)samples[i].lat);
	}
	if (out)
		fclose(out);
	qsort(lats, n, sizeof(*lats), cmp_u64);
	if (!n) {
		printf("requests 0 errors %lu\n", errors);
		return 1;
	}
	printf("requests %zu errors %lu rps %.0f p50_us %.1f p99_us %.1f p999_us %.1f max_us %.1f\n",
	       n, errors, (double)n / ((double)(stop - start) / 1e9), lats[n / 2] / 1e3,
	       lats[n * 99 / 100] / 1e3, lats[n * 999 / 1000] / 1e3, lats[n - 1] / 1e3);
	return 0;
}
