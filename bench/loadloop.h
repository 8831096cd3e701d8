/* The closed loop bench/latprobe and bench/tcpecho share: CLOCK_MONOTONIC in
 * nanoseconds, and an epoll loop that hands every ready connection (the
 * event's data.ptr) to the program until a deadline. Benchmark tools only,
 * not part of the server. */
#pragma once

#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait on ep until stop (now_ns() time) and call on_ready() for each ready
 * connection. 0 at the deadline, or the first negative on_ready() result
 * (the program cannot go on). */
static inline int
load_loop(int ep, uint64_t stop, int (*on_ready)(void *conn))
{
	struct epoll_event evs[64];

	while (now_ns() < stop) {
		int k = epoll_wait(ep, evs, 64, 100);

		for (int j = 0; j < k; j++) {
			int r = on_ready(evs[j].data.ptr);

			if (r < 0)
				return r;
		}
	}
	return 0;
}
