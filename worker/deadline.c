/* A connection's deadlines: the idle, head and transfer timeouts
 * (connectionTimeout) and webLimits minBytesPerSecond, with one timer per
 * connection whose deadline moves lazily (conn.c's conn_on_timer acts when
 * it passes). */
#include <event2/event.h>

#include "conn.h"
#include "log.h"
#include "util.h"

uint64_t
conn_timeout(const struct conn *c)
{
	return c->app && c->app->connection_timeout_usec ? c->app->connection_timeout_usec
							 : WORKER_DEFAULT_CONN_TIMEOUT_USEC;
}

static uint64_t
xfer_count(const struct conn *c)
{
	return c->xfer == XFER_WRITE ? c->req.bytes_out : c->body_read;
}

/* Wait for the client to take part of a response or send part of a body:
 * connectionTimeout from now (HTTP.sys's EntityBody timer: each wait after
 * progress gets another interval) and, with minBytesPerSecond, a rate check
 * once a second that progress does not postpone, so a client that trickles
 * a byte now and then is cut off too. No timer per byte: the counters are
 * the ones the transfer keeps anyway. */
void
conn_wait_xfer(struct conn *c, enum conn_xfer x)
{
	uint64_t now = wasp_now_usec(), at;

	if (c->xfer != x) {
		c->xfer = x;
		c->xfer_start = now;
		c->xfer_base = xfer_count(c);
		c->rate_check_at = now + WORKER_RATE_GRACE_USEC;
	}
	c->stall_at = now + conn_timeout(c);
	at = c->stall_at;
	if (c->env->min_bytes_per_sec > 0)
		at = MIN(at, c->rate_check_at);
	conn_set_deadline(c, at > now ? at - now : 0);
}

/* The rate check of a transfer (its deadline passed before it stalled):
 * true when the client moved fewer than minBytesPerSecond bytes a second
 * since the grace period; otherwise the next check is armed. */
bool
xfer_too_slow(struct conn *c, uint64_t now)
{
	uint64_t bytes = xfer_count(c) - c->xfer_base, min = c->env->min_bytes_per_sec;
	uint64_t elapsed = now - c->xfer_start;

	if (elapsed > WORKER_RATE_GRACE_USEC &&
	    bytes * 1000000 < min * (elapsed - WORKER_RATE_GRACE_USEC)) {
		log_debug("connection too slow: %llu bytes in %llu ms (minBytesPerSecond %llu)",
			  (unsigned long long)bytes, (unsigned long long)(elapsed / 1000),
			  (unsigned long long)min);
		return true;
	}
	c->rate_check_at = now + WORKER_RATE_CHECK_USEC;
	conn_set_deadline(c, MIN(c->stall_at, c->rate_check_at) - now);
	return false;
}

void
conn_set_deadline(struct conn *c, uint64_t usec_from_now)
{
	uint64_t now;
	struct timeval tv;

	if (usec_from_now == UINT64_MAX) {
		c->deadline = UINT64_MAX;
		return;
	}
	now = wasp_now_usec();
	c->deadline = now + usec_from_now;
	if (c->timer_at && c->timer_at <= c->deadline)
		return; /* fires first; re-arms then */
	tv.tv_sec = (time_t)(usec_from_now / 1000000);
	tv.tv_usec = (suseconds_t)(usec_from_now % 1000000);
	(void)event_add(&c->timer, &tv);
	c->timer_at = c->deadline;
}