/* What waspd tells systemd besides READY/RELOADING/STOPPING: STATUS= with
 * its counts (pools started, workers, requests per second over the last
 * interval), sent every STATUS_INTERVAL_USEC when the text changed; while
 * it drains at shutdown, EXTEND_TIMEOUT_USEC= up to its own drain deadline,
 * so a long shutdownTimeLimit is not cut short by TimeoutStopSec=. Nothing
 * is sent without NOTIFY_SOCKET (sd_notify is a no-op then). */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "libevent-util.h"
#include "log.h"
#include "waspd.h"

#define STATUS_INTERVAL_USEC (5 * UINT64_C(1000000))
/* Extensions reach this much past the drain deadline: the kill and the
 * last exits after it. */
#define STATUS_EXTEND_MARGIN_USEC (5 * UINT64_C(1000000))

/* Every request a worker served: the live ones' counters (their last
 * WORKER_STATS) and those of the workers gone. */
static uint64_t
requests_total(const struct wasp_env *env)
{
	uint64_t n = env->requests_exited;

	for (size_t i = 0; i < env->n_pools; i++)
		for (const struct worker *w = env->pools[i].workers; w; w = w->next)
			n += w->requests;
	return n;
}

/* The configured pools (not those a reload removed that still drain), and
 * how many of them are Started. */
static size_t
pools_started(const struct wasp_env *env, size_t *ret_configured)
{
	size_t n = 0;

	*ret_configured = 0;
	for (size_t i = 0; i < env->n_pools; i++) {
		if (env->pools[i].removed)
			continue;
		(*ret_configured)++;
		n += env->pools[i].state == WASP_POOL_STARTED;
	}
	return n;
}

static void
status_text(struct wasp_env *env, char *buf, size_t size)
{
	uint64_t now = wasp_now_usec(), total = requests_total(env), rate = 0;
	size_t configured, started = pools_started(env, &configured);

	if (env->status_mono && now > env->status_mono && total >= env->status_requests)
		rate = ((total - env->status_requests) * UINT64_C(1000000) +
			(now - env->status_mono) / 2) /
		       (now - env->status_mono);
	env->status_mono = now;
	env->status_requests = total;
	if (env->stopping) {
		(void)snprintf(buf, size, "draining: %zu worker(s) left",
			       pools_count_workers(env));
		return;
	}
	(void)snprintf(buf, size, "%s%s: %zu of %zu pool(s) started, %zu worker(s), %llu req/s",
		       env->retiring ? "handing over the listening sockets" : "serving",
		       env->reload_failed ? " (the last reload failed)" : "", started, configured,
		       pools_count_workers(env), (unsigned long long)rate);
}

static void
status_send(struct wasp_env *env, const char *extra, const char *text)
{
	char msg[512];

	(void)snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", extra ? extra : "", extra ? "\n" : "",
		       text);
	(void)sd_notify(0, msg);
	(void)snprintf(env->status_last, sizeof(env->status_last), "%s", text);
}

void
status_notify(struct wasp_env *env, const char *extra)
{
	char text[256];

	status_text(env, text, sizeof(text));
	status_send(env, extra, text);
}

/* While draining: EXTEND_TIMEOUT_USEC= to the drain deadline (and margin). */
void
status_extend_stop(struct wasp_env *env)
{
	uint64_t now = wasp_now_usec(), left;
	char msg[64];

	if (!env->stopping || !env->stop_deadline)
		return;
	left = (env->stop_deadline > now ? env->stop_deadline - now : 0) + STATUS_EXTEND_MARGIN_USEC;
	(void)snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)left);
	(void)sd_notify(0, msg);
}

static void
status_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;
	char text[256];

	status_extend_stop(env);
	status_text(env, text, sizeof(text));
	if (!streq(text, env->status_last))
		status_send(env, NULL, text);
}

/* Test hook (--test-hooks only): WASP_TEST_STATUS_INTERVAL_MS. */
static uint64_t
status_interval(const struct wasp_env *env)
{
	const char *v = env->test_hooks ? getenv("WASP_TEST_STATUS_INTERVAL_MS") : NULL;
	uint64_t ms;

	if (v && wasp_parse_u64(v, 3600000, &ms) == 0 && ms > 0)
		return ms * 1000;
	return STATUS_INTERVAL_USEC;
}

int
status_start(struct wasp_env *env)
{
	struct timeval tv = wasp_timeval_from_usec(status_interval(env));

	status_notify(env, "READY=1");
	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	env->status_timer = event_new(env->base, -1, EV_PERSIST, status_on_timer, env);
	if (!env->status_timer || event_add(env->status_timer, &tv) < 0)
		return -ENOMEM;
	return 0;
}
