/* waspd's clock and timers, behind a seam: the daemon runs them on libevent
 * (clock.c), the activator's unit tests on a fake clock they advance by
 * hand. Pool and worker code takes every time and arms every timer through
 * here, never through libevent or wasp_now_usec() directly. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct clock;
struct event_base;
struct timer;

typedef void (*timer_fn)(void *arg);

struct clock_ops {
	uint64_t (*now)(struct clock *c);      /* monotonic, usec */
	uint64_t (*realtime)(struct clock *c); /* wall clock, usec */
	/* Make t's implementation (t->impl): 0 or -errno. */
	int (*timer_init)(struct clock *c, struct timer *t);
	/* Fire t->fn(t->arg) once, usec from now: 0 or -errno. */
	int (*timer_arm)(struct clock *c, struct timer *t, uint64_t usec);
	void (*timer_stop)(struct clock *c, struct timer *t);
	/* Whether t is armed; *ret_left (may be NULL) the time left. */
	bool (*timer_pending)(struct clock *c, const struct timer *t, uint64_t *ret_left);
	void (*timer_done)(struct clock *c, struct timer *t);
};

struct clock {
	const struct clock_ops *ops;
	void *userdata;
};

struct timer {
	struct clock *clock;
	timer_fn fn;
	void *arg; /* may be changed while armed (a record that moved) */
	void *impl;
};

/* The real clock: CLOCK_MONOTONIC/CLOCK_REALTIME and libevent timers on
 * base. */
void clock_init_event(struct clock *c, struct event_base *base);

static inline uint64_t
clock_now(struct clock *c)
{
	return c->ops->now(c);
}

static inline uint64_t
clock_realtime(struct clock *c)
{
	return c->ops->realtime(c);
}

/* Arm *t (created first when NULL) to call fn(arg) once after usec; a timer
 * armed for something else is re-pointed (one slot, several meanings).
 * 0 or -errno: the timer is then not armed. */
int timer_arm(struct clock *c, struct timer **t, timer_fn fn, void *arg, uint64_t usec);
/* NULL-safe. */
void timer_stop(struct timer *t);
/* NULL-safe: false for NULL. */
bool timer_pending(const struct timer *t, uint64_t *ret_left);
/* Stop and free *t, then NULL. */
void timer_free(struct timer **t);
