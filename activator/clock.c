/* The real clock behind clock.h: the kernel's clocks and libevent timers.
 * libevent counts a timer from the time it cached when the loop last woke
 * up, so a timer armed late in a long callback (a reload) would fire that
 * much early: the cache is brought up to date before every arm. */
#include <event2/event.h>
#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "util.h"

#define USEC_PER_SEC UINT64_C(1000000)

static uint64_t
event_clock_now(struct clock *c)
{
	return wasp_now_usec();
}

static uint64_t
event_clock_realtime(struct clock *c)
{
	return wasp_realtime_usec();
}

static void
event_clock_fire(evutil_socket_t fd, short what, void *arg)
{
	struct timer *t = arg;

	t->fn(t->arg);
}

static int
event_clock_timer_init(struct clock *c, struct timer *t)
{
	t->impl = evtimer_new(c->userdata, event_clock_fire, t);
	return t->impl ? 0 : -ENOMEM;
}

static int
event_clock_timer_arm(struct clock *c, struct timer *t, uint64_t usec)
{
	struct timeval tv = wasp_timeval_from_usec(usec);

	(void)event_base_update_cache_time(c->userdata);
	return event_add(t->impl, &tv) < 0 ? -EIO : 0;
}

static void
event_clock_timer_stop(struct clock *c, struct timer *t)
{
	event_del(t->impl);
}

static bool
event_clock_timer_pending(struct clock *c, const struct timer *t, uint64_t *ret_left)
{
	struct timeval when, now;
	uint64_t w, n;

	if (!evtimer_pending((struct event *)t->impl, &when))
		return false;
	if (ret_left) {
		/* libevent reports the expiry on the wall clock */
		(void)evutil_gettimeofday(&now, NULL);
		w = (uint64_t)when.tv_sec * USEC_PER_SEC + (uint64_t)when.tv_usec;
		n = (uint64_t)now.tv_sec * USEC_PER_SEC + (uint64_t)now.tv_usec;
		*ret_left = w > n ? w - n : 0;
	}
	return true;
}

static void
event_clock_timer_done(struct clock *c, struct timer *t)
{
	event_free(t->impl);
}

static const struct clock_ops event_clock_ops = {
	.now = event_clock_now,
	.realtime = event_clock_realtime,
	.timer_init = event_clock_timer_init,
	.timer_arm = event_clock_timer_arm,
	.timer_stop = event_clock_timer_stop,
	.timer_pending = event_clock_timer_pending,
	.timer_done = event_clock_timer_done,
};

void
clock_init_event(struct clock *c, struct event_base *base)
{
	*c = (struct clock){ .ops = &event_clock_ops, .userdata = base };
}

int
timer_arm(struct clock *c, struct timer **t, timer_fn fn, void *arg, uint64_t usec)
{
	int r;

	if (!*t) {
		struct timer *n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n->clock = c;
		r = c->ops->timer_init(c, n);
		if (r < 0) {
			free(n);
			return r;
		}
		*t = n;
	}
	c->ops->timer_stop(c, *t);
	(*t)->fn = fn;
	(*t)->arg = arg;
	return c->ops->timer_arm(c, *t, usec);
}

void
timer_stop(struct timer *t)
{
	if (t)
		t->clock->ops->timer_stop(t->clock, t);
}

bool
timer_pending(const struct timer *t, uint64_t *ret_left)
{
	return t && t->clock->ops->timer_pending(t->clock, t, ret_left);
}

void
timer_free(struct timer **t)
{
	if (!*t)
		return;
	(*t)->clock->ops->timer_stop((*t)->clock, *t);
	(*t)->clock->ops->timer_done((*t)->clock, *t);
	free(*t);
	*t = NULL;
}
