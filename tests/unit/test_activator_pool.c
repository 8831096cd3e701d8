/* Unit tests for waspd's pool and worker state machines (activator/pool*.c)
 * on a fake clock, a fake process starter and a recorder of pool events:
 * no process is started, no time passes but what a test advances. Each
 * test drives one behaviour: rapid-fail protection, the back-off between
 * failed starts, an overlapped recycle whose replacement fails, the ping
 * timeout, the idle timeout, shutdownTimeLimit, periodicRestart time,
 * requests and schedule, a non-overlapped recycle, a stop, a worker that
 * closed its channel, and a timer that cannot be armed. */
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "apphost.h"
#include "ipc.h"
#include "pool_internal.h"
#include "testutil.h"
#include "util.h"

#define SEC UINT64_C(1000000)
#define MSEC UINT64_C(1000)

/* ---- fake clock ---------------------------------------------------------- */

struct fake_timer {
	struct timer *t;
	uint64_t due;
	bool armed;
};

#define FAKE_TIMERS_MAX 64

static struct {
	uint64_t now, real_base;
	struct fake_timer *timers[FAKE_TIMERS_MAX];
	bool fail_arm;
} fc;

static uint64_t
fake_now(struct clock *c)
{
	return fc.now;
}

static uint64_t
fake_realtime(struct clock *c)
{
	return fc.real_base + fc.now;
}

static int
fake_timer_init(struct clock *c, struct timer *t)
{
	for (size_t i = 0; i < FAKE_TIMERS_MAX; i++)
		if (!fc.timers[i]) {
			fc.timers[i] = calloc(1, sizeof(struct fake_timer));
			ck_assert_ptr_nonnull(fc.timers[i]);
			fc.timers[i]->t = t;
			t->impl = fc.timers[i];
			return 0;
		}
	ck_abort_msg("too many timers");
	return -ENOMEM;
}

static int
fake_timer_arm(struct clock *c, struct timer *t, uint64_t usec)
{
	struct fake_timer *f = t->impl;

	if (fc.fail_arm)
		return -ENOMEM;
	f->due = fc.now + usec;
	f->armed = true;
	return 0;
}

static void
fake_timer_stop(struct clock *c, struct timer *t)
{
	((struct fake_timer *)t->impl)->armed = false;
}

static bool
fake_timer_pending(struct clock *c, const struct timer *t, uint64_t *ret_left)
{
	const struct fake_timer *f = t->impl;

	if (f->armed && ret_left)
		*ret_left = f->due - fc.now;
	return f->armed;
}

static void
fake_timer_done(struct clock *c, struct timer *t)
{
	for (size_t i = 0; i < FAKE_TIMERS_MAX; i++)
		if (fc.timers[i] == t->impl) {
			free(fc.timers[i]);
			fc.timers[i] = NULL;
		}
}

static const struct clock_ops fake_clock_ops = {
	.now = fake_now,
	.realtime = fake_realtime,
	.timer_init = fake_timer_init,
	.timer_arm = fake_timer_arm,
	.timer_stop = fake_timer_stop,
	.timer_pending = fake_timer_pending,
	.timer_done = fake_timer_done,
};

static struct clock fake_clock = { .ops = &fake_clock_ops };

/* Let usec pass, firing every timer that falls due, in order. */
static void
advance(uint64_t usec)
{
	uint64_t until = fc.now + usec;

	for (;;) {
		struct fake_timer *next = NULL;

		for (size_t i = 0; i < FAKE_TIMERS_MAX; i++) {
			struct fake_timer *f = fc.timers[i];
			if (f && f->armed && f->due <= until && (!next || f->due < next->due))
				next = f;
		}
		if (!next)
			break;
		fc.now = next->due;
		next->armed = false;
		next->t->fn(next->t->arg);
	}
	fc.now = until;
}

/* ---- fake processes ------------------------------------------------------ */

#define FAKE_PROCS_MAX 32
#define FAKE_PID_FIRST 4000000 /* above any pid_max: never a real process */

static struct {
	int fd[FAKE_PROCS_MAX]; /* the child's end of its channel */
	int last_sig[FAKE_PROCS_MAX];
	size_t n;
	bool fail;
} fp;

static int
fake_spawn(struct wasp_env *env, const struct proc_start *s, pid_t *ret_pid, int *ret_fd)
{
	int fds[2];

	ck_assert_ptr_eq(s->role, proc_role(PROC_WORKER));
	ck_assert_uint_lt(fp.n, FAKE_PROCS_MAX);
	if (fp.fail)
		return -ENOEXEC;
	ck_assert_int_eq(wasp_ipc_socketpair(fds), 0);
	fp.fd[fp.n] = fds[1];
	*ret_pid = FAKE_PID_FIRST + (pid_t)fp.n;
	*ret_fd = fds[0];
	fp.n++;
	return 0;
}

static int
fake_kill(struct wasp_env *env, pid_t pid, int sig)
{
	ck_assert_int_ge(pid, FAKE_PID_FIRST);
	ck_assert_int_lt(pid, FAKE_PID_FIRST + (pid_t)fp.n);
	fp.last_sig[pid - FAKE_PID_FIRST] = sig;
	return 0;
}

static const struct proc_ops fake_procs = {
	.spawn = fake_spawn,
	.kill = fake_kill,
};

/* ---- recorded pool events ------------------------------------------------ */

static struct {
	unsigned pool_state, setup, ready, gone, reaped;
} ev;

static void
rec_pool_state(struct pool *p)
{
	ev.pool_state++;
}

static int
rec_worker_setup(struct worker *w)
{
	ev.setup++;
	return 0;
}

static void
rec_worker_ready(struct worker *w)
{
	ev.ready++;
}

static void
rec_worker_gone(struct worker *w)
{
	ev.gone++;
}

static int
rec_worker_repair(struct worker *w, uint32_t adapter_id)
{
	return 0;
}

static void
rec_worker_reaped(struct wasp_env *e)
{
	ev.reaped++;
}

static const struct pool_events rec_events = {
	.pool_state = rec_pool_state,
	.worker_setup = rec_worker_setup,
	.worker_ready = rec_worker_ready,
	.worker_gone = rec_worker_gone,
	.worker_repair = rec_worker_repair,
	.worker_reaped = rec_worker_reaped,
};

/* ---- one pool ------------------------------------------------------------ */

static struct wasp_env env;
static struct wasp_apppool cfg;
static struct pool *P;

/* Defaults as applicationHost.config's, minus everything timed. */
static void
setup(void)
{
	memset(&fc, 0, sizeof(fc));
	memset(&fp, 0, sizeof(fp));
	memset(&ev, 0, sizeof(ev));
	fc.now = 1000 * SEC;
	cfg = (struct wasp_apppool){
		.name = "P",
		.auto_start = true,
		.start_mode = WASP_START_ON_DEMAND,
		.process_model = { .max_processes = 1,
				   .startup_time_limit = 90 * SEC,
				   .shutdown_time_limit = 90 * SEC },
	};
	env = (struct wasp_env){
		.clock = &fake_clock,
		.events = &rec_events,
		.procs = &fake_procs,
		.generation = 1,
		.routes_fd = -1,
	};
	env.base = event_base_new();
	ck_assert_ptr_nonnull(env.base);
}

/* pingingEnabled, every 30 s, 90 s to answer. */
static void
cfg_pinging(void)
{
	cfg.process_model.pinging_enabled = true;
	cfg.process_model.ping_interval = 30 * SEC;
	cfg.process_model.ping_response_time = 90 * SEC;
}

/* The pool record, once cfg is what the test wants. */
static void
pool_make(void)
{
	struct identity_taken taken;

	env.pools = calloc(1, sizeof(struct pool));
	ck_assert_ptr_nonnull(env.pools);
	ck_assert_int_eq(pool_record_init(&env.pools[0], &env, &cfg, 0), 0);
	env.n_pools = 1;
	P = &env.pools[0];
	ck_assert_int_eq(identity_taken_init(&taken, 1), 0);
	pool_resolve_identity(P, &taken);
	identity_taken_done(&taken);
	ck_assert_int_eq(P->ident_error, 0);
	ck_assert_int_eq(P->state, WASP_POOL_STARTED);
}

static void
teardown(void)
{
	pools_free(&env);
	for (size_t i = 0; i < fp.n; i++)
		safe_close(fp.fd[i]);
	event_base_free(env.base);
}

/* The worker started nth (0-based), or NULL when its record is gone. */
static struct worker *
worker_nth(size_t nth)
{
	return worker_by_pid(&env, FAKE_PID_FIRST + (pid_t)nth);
}

static void
deliver_exit(struct worker *w, int status)
{
	ck_assert_ptr_nonnull(w);
	worker_on_exit(w, status);
}

#define EXITED(code) W_EXITCODE(code, 0)
#define KILLED(sig) (sig)

/* The next message the worker of spawn nth was sent, of any type; 0 when
 * none is waiting. */
static uint16_t
worker_received(size_t nth)
{
	static uint8_t buf[WASP_IPC_MAX_MSG];
	struct wasp_ipc_msg m;
	int r;

	(void)event_base_loop(env.base, EVLOOP_NONBLOCK);
	r = wasp_ipc_recv(fp.fd[nth], buf, sizeof(buf), &m);
	if (r <= 0)
		return 0;
	if (m.fd >= 0)
		safe_close(m.fd);
	return m.hdr.type;
}

/* Whether worker nth was sent a message of type (others skipped). */
static bool
worker_was_sent(size_t nth, uint16_t type)
{
	uint16_t t;

	while ((t = worker_received(nth)))
		if (t == type)
			return true;
	return false;
}

/* Worker nth (w) is killed usec from now, not a microsecond before. */
static void
assert_killed_after(struct worker *w, size_t nth, uint64_t usec)
{
	advance(usec - 1);
	ck_assert_int_eq(fp.last_sig[nth], 0);
	ck_assert_int_ne(w->state, WORKER_DEAD);
	advance(1);
	ck_assert_int_eq(w->state, WORKER_DEAD);
	ck_assert_int_eq(fp.last_sig[nth], SIGKILL);
}

/* Start the pool's first worker on demand and make it ready. */
static struct worker *
ready_worker(void)
{
	struct worker *w;

	pool_on_demand(P);
	ck_assert_uint_eq(fp.n, 1);
	w = worker_nth(0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(w->state, WORKER_STARTING);
	ck_assert_int_eq(worker_handle_ready(w), 0);
	ck_assert_int_eq(w->state, WORKER_READY);
	return w;
}

/* ---- tests --------------------------------------------------------------- */

/* rapidFailProtection: maxCrashes failures within the interval stop the
 * pool (reason RapidFail); failures further apart than the interval do not. */
START_TEST(rapid_fail_window)
{
	cfg.start_mode = WASP_START_ALWAYS_RUNNING;
	cfg.failure.rapid_fail_protection = true;
	cfg.failure.rapid_fail_protection_max_crashes = 3;
	cfg.failure.rapid_fail_protection_interval = 300 * SEC;
	pool_make();
	pools_autostart(&env);

	/* a crash, then another once the first has left the window */
	ck_assert_int_eq(worker_handle_ready(worker_nth(0)), 0);
	deliver_exit(worker_nth(0), EXITED(1));
	ck_assert_uint_eq(P->n_fail, 1);
	ck_assert_int_eq(worker_handle_ready(worker_nth(1)), 0);
	advance(301 * SEC);
	deliver_exit(worker_nth(1), EXITED(1));
	ck_assert_uint_eq(P->n_fail, 1);
	/* two more within the window: three in it */
	for (size_t i = 2; i < 4; i++) {
		ck_assert_int_eq(P->state, WASP_POOL_STARTED);
		ck_assert_uint_eq(fp.n, i + 1); /* AlwaysRunning: replaced at once */
		ck_assert_int_eq(worker_handle_ready(worker_nth(i)), 0);
		advance(10 * SEC);
		deliver_exit(worker_nth(i), EXITED(1));
	}
	ck_assert_int_eq(P->state, WASP_POOL_STOPPED);
	ck_assert_int_eq(P->reason, WASP_POOL_REASON_RAPID_FAIL);
	ck_assert_uint_eq(P->failures, 4);
	ck_assert_uint_eq(pool_metrics_r(P)->crashes, 4);
	ck_assert_uint_eq(pool_metrics_r(P)->rapid_fail_trips, 1);
	ck_assert_uint_eq(fp.n, 4); /* no worker after the stop */
	ck_assert_ptr_null(P->workers);
}
END_TEST

/* An on-demand pool that never started holds no counters (an idle site
 * costs waspd no metrics record); its first count makes them, and they
 * read as zeros before. */
START_TEST(metrics_lazy)
{
	pool_make();
	pools_autostart(&env);
	ck_assert_uint_eq(fp.n, 0);
	ck_assert_ptr_null(P->m);
	ck_assert_uint_eq(pool_metrics_r(P)->requests, 0);
	pool_metrics_w(P)->crashes++;
	ck_assert_ptr_nonnull(P->m);
	ck_assert_uint_eq(pool_metrics_r(P)->crashes, 1);
}
END_TEST

/* Consecutive start failures: the first is retried at once, then 100 ms,
 * 200 ms, ... (rapid-fail protection off). */
START_TEST(start_backoff)
{
	cfg.start_mode = WASP_START_ALWAYS_RUNNING;
	pool_make();
	pools_autostart(&env);
	ck_assert_uint_eq(fp.n, 1);

	deliver_exit(worker_nth(0), EXITED(1)); /* crash while starting */
	ck_assert_uint_eq(P->start_failures, 1);
	ck_assert_uint_eq(fp.n, 2); /* at once */

	deliver_exit(worker_nth(1), EXITED(1));
	ck_assert_uint_eq(fp.n, 2);
	ck_assert(timer_pending(P->respawn_timer, NULL));
	pool_on_demand(P); /* demand does not jump the back-off */
	ck_assert_uint_eq(fp.n, 2);
	advance(99 * MSEC);
	ck_assert_uint_eq(fp.n, 2);
	advance(1 * MSEC);
	ck_assert_uint_eq(fp.n, 3);

	deliver_exit(worker_nth(2), EXITED(1));
	advance(199 * MSEC);
	ck_assert_uint_eq(fp.n, 3);
	advance(1 * MSEC);
	ck_assert_uint_eq(fp.n, 4);

	/* a worker that gets ready ends the streak */
	ck_assert_int_eq(worker_handle_ready(worker_nth(3)), 0);
	ck_assert_uint_eq(P->start_failures, 0);
}
END_TEST

/* An overlapped recycle whose replacement does not get ready within
 * startupTimeLimit: the replacement is killed, the old worker keeps
 * serving (never sent DRAIN, still announced). */
START_TEST(recycle_replacement_fails)
{
	struct worker *old, *repl;

	pool_make();
	old = ready_worker();
	ck_assert_int_eq(pool_recycle(P, "test"), 1);
	ck_assert_uint_eq(pool_metrics_r(P)->recycles[RECYCLE_MANUAL], 1);
	ck_assert_uint_eq(fp.n, 2);
	repl = worker_nth(1);
	ck_assert_ptr_eq(repl->replaces, old);
	ck_assert(old->recycling);

	advance(90 * SEC);
	ck_assert_int_eq(repl->state, WORKER_DEAD);
	ck_assert_int_eq(fp.last_sig[1], SIGKILL);
	ck_assert_int_eq(old->state, WORKER_READY);
	ck_assert(!old->recycling);
	ck_assert(old->announced);
	ck_assert_uint_eq(P->recycle_failures, 1);
	ck_assert_uint_eq(P->recycles, 0);
	deliver_exit(repl, KILLED(SIGKILL));
	ck_assert_ptr_eq(worker_nth(0), old);
	ck_assert_int_eq(old->state, WORKER_READY);
	ck_assert(!worker_was_sent(0, WASP_MSG_DRAIN));
	ck_assert_int_eq(fp.last_sig[0], 0);
	ck_assert_int_eq(P->state, WASP_POOL_STARTED);
}
END_TEST

/* A worker that does not answer a PING within pingResponseTime is killed,
 * counted as a failure and replaced; one that answers is not. */
START_TEST(ping_timeout)
{
	struct worker *w;

	cfg_pinging();
	pool_make();
	w = ready_worker();

	advance(30 * SEC);
	ck_assert(worker_was_sent(0, WASP_MSG_PING));
	ck_assert(w->ping_outstanding);
	worker_handle_pong(w, w->ping_token);
	ck_assert(!w->ping_outstanding);
	advance(90 * SEC); /* pinged again at 60 s, 30 s left for the answer */
	ck_assert_int_eq(w->state, WORKER_READY);
	ck_assert(w->ping_outstanding);

	advance(30 * SEC);
	ck_assert_int_eq(w->state, WORKER_DEAD);
	ck_assert_int_eq(fp.last_sig[0], SIGKILL);
	ck_assert_uint_eq(P->failures, 1);
	ck_assert_uint_eq(fp.n, 2); /* replaced at once, without waiting for its exit */
	deliver_exit(w, KILLED(SIGKILL));
	ck_assert_uint_eq(P->failures, 1); /* the exit of a killed worker is not another */
	ck_assert_uint_eq(pool_metrics_r(P)->ping_failures, 1);
	ck_assert_uint_eq(pool_metrics_r(P)->crashes, 0);
	ck_assert_int_eq(P->state, WASP_POOL_STARTED);
}
END_TEST

/* idleTimeout: a worker idle that long drains (DRAIN sent) and exits; the
 * pool stays Started and starts nothing until asked. Activity in its stats
 * restarts the count. */
START_TEST(idle_timeout)
{
	struct wasp_msg_worker_stats busy = { .requests = 5 };
	struct worker *w;

	cfg.process_model.idle_timeout = 600 * SEC;
	pool_make();
	w = ready_worker();

	advance(500 * SEC);
	worker_handle_stats(w, &busy); /* active: no longer idle */
	ck_assert_uint_eq(w->idle_since, 0);
	worker_handle_stats(w, &busy); /* the same count: idle from now */
	advance(599 * SEC);
	ck_assert_int_eq(w->state, WORKER_READY);
	advance(1 * SEC);
	ck_assert_int_eq(w->state, WORKER_DRAINING);
	ck_assert(worker_was_sent(0, WASP_MSG_DRAIN));
	ck_assert_uint_eq(ev.gone, 1);
	deliver_exit(w, EXITED(0));
	ck_assert_ptr_null(P->workers);
	ck_assert_int_eq(P->state, WASP_POOL_STARTED);
	ck_assert_uint_eq(P->failures, 0);
	ck_assert_uint_eq(fp.n, 1);
}
END_TEST

/* A draining worker that outlives shutdownTimeLimit is killed. */
START_TEST(shutdown_time_limit)
{
	struct worker *w;

	pool_make();
	w = ready_worker();
	worker_drain(w, "test");
	ck_assert_int_eq(w->state, WORKER_DRAINING);
	assert_killed_after(w, 0, 90 * SEC);
}
END_TEST

/* periodicRestart time: the worker is recycled after that long, overlapped:
 * the old one drains once its replacement is ready. */
START_TEST(recycle_periodic_time)
{
	struct worker *old, *repl;

	cfg.recycling.time = 1740 * 60 * SEC;
	pool_make();
	old = ready_worker();
	advance(1740 * 60 * SEC - 1);
	ck_assert_uint_eq(fp.n, 1);
	advance(1);
	ck_assert_uint_eq(fp.n, 2);
	repl = worker_nth(1);
	ck_assert_int_eq(old->state, WORKER_READY);
	ck_assert_int_eq(worker_handle_ready(repl), 0);
	ck_assert_int_eq(old->state, WORKER_DRAINING);
	ck_assert_uint_eq(P->recycles, 1);
	ck_assert_uint_eq(pool_metrics_r(P)->recycles[RECYCLE_TIME], 1);
	ck_assert_uint_eq(pool_metrics_r(P)->recycles[RECYCLE_MANUAL], 0);
}
END_TEST

/* periodicRestart schedule: the recycle comes at the time of day, not
 * before, and the next one a day later. */
START_TEST(recycle_schedule)
{
	static const uint64_t at[] = { 3 * 3600 * SEC }; /* 03:00 */

	setenv("TZ", "UTC", 1);
	tzset();
	fc.real_base = 20000 * 86400 * SEC + 3600 * SEC - fc.now; /* 01:00 UTC */
	cfg.recycling.schedule = at;
	cfg.recycling.n_schedule = 1;
	pool_make();
	(void)ready_worker();
	pool_arm_schedule(P, 0);

	advance(2 * 3600 * SEC - 1);
	ck_assert_uint_eq(fp.n, 1);
	advance(1);
	ck_assert_uint_eq(fp.n, 2);
	ck_assert_uint_eq(pool_metrics_r(P)->recycles[RECYCLE_SCHEDULE], 1);
	ck_assert_int_eq(worker_handle_ready(worker_nth(1)), 0);
	advance(86400 * SEC - 1);
	ck_assert_uint_eq(fp.n, 2);
	advance(1);
	ck_assert_uint_eq(fp.n, 3);
}
END_TEST

/* A worker whose startupTimeLimit timer cannot be armed is not left running
 * without it: it is killed and the start counts as failed. */
START_TEST(timer_arm_failure_kills)
{
	struct worker *w;

	pool_make();
	fc.fail_arm = true;
	pool_on_demand(P);
	ck_assert_uint_eq(fp.n, 1);
	w = worker_nth(0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(w->state, WORKER_DEAD);
	ck_assert_int_eq(fp.last_sig[0], SIGKILL);
	ck_assert_uint_eq(P->start_failures, 1);
}
END_TEST

/* worker_set_state arms exactly the timers of the state. */
START_TEST(set_state_timers)
{
	struct worker *w;

	cfg_pinging();
	cfg.process_model.idle_timeout = 600 * SEC;
	cfg.recycling.time = 3600 * SEC;
	pool_make();
	pool_on_demand(P);
	w = worker_nth(0);
	ck_assert(timer_pending(w->limit_timer, NULL));
	ck_assert(!timer_pending(w->ping_timer, NULL));
	ck_assert_int_eq(worker_handle_ready(w), 0);
	ck_assert(!timer_pending(w->limit_timer, NULL));
	ck_assert(timer_pending(w->ping_timer, NULL));
	ck_assert(timer_pending(w->idle_timer, NULL));
	ck_assert(timer_pending(w->recycle_timer, NULL));
	worker_drain(w, "test");
	ck_assert(timer_pending(w->limit_timer, NULL));
	ck_assert(!timer_pending(w->ping_timer, NULL));
	ck_assert(!timer_pending(w->idle_timer, NULL));
	ck_assert(!timer_pending(w->recycle_timer, NULL));
	worker_kill(w, "test");
	ck_assert(!timer_pending(w->limit_timer, NULL));
}
END_TEST

/* A worker that closes its channel but does not exit is killed after
 * shutdownTimeLimit and counted as a failure. */
START_TEST(channel_closed_no_exit)
{
	struct worker *w;

	pool_make();
	w = ready_worker();
	fp.fd[0] = safe_close(fp.fd[0]);
	worker_handle_channel_close(w, 0);
	ck_assert_ptr_null(w->ch);
	ck_assert_uint_eq(ev.gone, 1);
	ck_assert_int_eq(w->state, WORKER_READY);
	assert_killed_after(w, 0, 90 * SEC);
	ck_assert_uint_eq(P->failures, 1);
}
END_TEST

/* stop: Stopping while a worker drains, Stopped when it has exited, and
 * demand starts nothing meanwhile. */
START_TEST(stop_then_stopped)
{
	struct worker *w;

	pool_make();
	w = ready_worker();
	ck_assert_int_eq(pool_stop(P, WASP_POOL_REASON_OPERATOR, "test"), 0);
	ck_assert_int_eq(P->state, WASP_POOL_STOPPING);
	ck_assert_int_eq(w->state, WORKER_DRAINING);
	pool_on_demand(P);
	ck_assert_uint_eq(fp.n, 1);
	deliver_exit(w, EXITED(0));
	ck_assert_int_eq(P->state, WASP_POOL_STOPPED);
	ck_assert_int_eq(P->reason, WASP_POOL_REASON_OPERATOR);
	ck_assert_uint_eq(P->failures, 0);
}
END_TEST

/* A ready worker whose stats go from below (no recycle) to at (a recycle
 * starts, counted under reason): the worker. */
static struct worker *
recycle_on_stats(const struct wasp_msg_worker_stats *below, const struct wasp_msg_worker_stats *at,
		 enum recycle_reason reason)
{
	struct worker *w;

	pool_make();
	w = ready_worker();
	worker_handle_stats(w, below);
	ck_assert_uint_eq(fp.n, 1);
	worker_handle_stats(w, at);
	ck_assert_uint_eq(fp.n, 2);
	ck_assert(w->recycling);
	ck_assert_uint_eq(pool_metrics_r(P)->recycles[reason], 1);
	return w;
}

/* periodicRestart requests: the stats that reach the count recycle. */
START_TEST(recycle_requests)
{
	struct wasp_msg_worker_stats st = { .requests = 100 };
	struct worker *w, *repl;

	cfg.recycling.requests = 100;
	w = recycle_on_stats(&(struct wasp_msg_worker_stats){ .requests = 99 }, &st,
			     RECYCLE_REQUESTS);

	/* the pool's count goes on with the replacement's (from 0 again),
	 * and a draining worker's last report still counts */
	repl = worker_nth(1);
	ck_assert_int_eq(worker_handle_ready(repl), 0);
	ck_assert_int_eq(w->state, WORKER_DRAINING);
	st.requests = 103;
	worker_handle_stats(w, &st);
	st.requests = 5;
	worker_handle_stats(repl, &st);
	ck_assert_uint_eq(pool_metrics_r(P)->requests, 108);
}
END_TEST

/* periodicRestart privateMemory: a worker whose stats report that much
 * private memory is recycled, counted under its reason (not memory's). */
START_TEST(recycle_private_memory)
{
	cfg.recycling.private_memory_kb = 1024;
	(void)recycle_on_stats(&(struct wasp_msg_worker_stats){ .private_kb = 1000 },
			       &(struct wasp_msg_worker_stats){ .private_kb = 1024 },
			       RECYCLE_PRIVATE_MEMORY);
	ck_assert_uint_eq(pool_metrics_r(P)->recycles[RECYCLE_MEMORY], 0);
}
END_TEST

/* disallowOverlappingRotation: the old worker drains first; its successor
 * starts once it has exited (at once for AlwaysRunning). */
START_TEST(recycle_not_overlapped)
{
	struct worker *w;

	cfg.start_mode = WASP_START_ALWAYS_RUNNING;
	cfg.recycling.disallow_overlapping_rotation = true;
	pool_make();
	pools_autostart(&env);
	w = worker_nth(0);
	ck_assert_int_eq(worker_handle_ready(w), 0);
	ck_assert_int_eq(pool_recycle(P, "test"), 1);
	ck_assert_int_eq(w->state, WORKER_DRAINING);
	ck_assert_uint_eq(fp.n, 1);
	pool_on_demand(P);
	ck_assert_uint_eq(fp.n, 1);
	deliver_exit(w, EXITED(0));
	ck_assert_uint_eq(fp.n, 2);
	ck_assert_uint_eq(P->recycles, 1);
}
END_TEST

/* WORKER_APPS: kept when it keeps its layout, refused (the channel cut)
 * otherwise; the last good list stays. */
START_TEST(worker_apps_checked)
{
	struct worker *w;
	struct {
		struct wasp_msg_worker_apps h;
		struct wasp_msg_app_proc a[2];
	} m = { .h = { .count = 2, .total = 3 } };

	pool_make();
	pool_on_demand(P);
	w = worker_nth(0);
	m.a[0] = (struct wasp_msg_app_proc){ .pid = 10, .kind = WASP_APP_PROC_FASTCGI,
					     .state = WASP_APP_PROC_IDLE, .requests = 7 };
	strcpy(m.a[0].application, "/usr/bin/php-cgi");
	m.a[1] = (struct wasp_msg_app_proc){ .pid = 11, .kind = WASP_APP_PROC_ASPNETCORE,
					     .state = WASP_APP_PROC_BUSY };
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m)), 0);
	ck_assert_uint_eq(w->n_apps, 2);
	ck_assert_uint_eq(w->apps_total, 3);
	ck_assert_uint_eq(w->apps[0].requests, 7);
	ck_assert_str_eq(w->apps[0].application, "/usr/bin/php-cgi");
	/* a length that is not its count's */
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m) - 1), -EBADMSG);
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, 4), -EBADMSG);
	/* an unknown kind, an unknown state, no NUL, pid 0, total below count */
	m.a[1].kind = 9;
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m)), -EBADMSG);
	m.a[1].kind = WASP_APP_PROC_CGI;
	m.a[1].state = 4;
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m)), -EBADMSG);
	m.a[1].state = WASP_APP_PROC_STOPPING;
	memset(m.a[1].application, 'x', sizeof(m.a[1].application));
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m)), -EBADMSG);
	m.a[1].application[0] = 0;
	m.a[1].pid = 0;
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m)), -EBADMSG);
	m.a[1].pid = 12;
	m.h.total = 1;
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m)), -EBADMSG);
	m.h.count = WASP_APP_PROCS_MAX + 1;
	m.h.total = WASP_APP_PROCS_MAX + 1;
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m)), -EBADMSG);
	ck_assert_uint_eq(w->n_apps, 2);
	ck_assert_uint_eq(w->apps[1].pid, 11);
	/* an empty set */
	m.h = (struct wasp_msg_worker_apps){ 0 };
	ck_assert_int_eq(worker_handle_apps(w, (const uint8_t *)&m, sizeof(m.h)), 0);
	ck_assert_uint_eq(w->n_apps, 0);
	ck_assert_ptr_null(w->apps);
}
END_TEST

static Suite *
activator_pool_suite(void)
{
	Suite *s = suite_create("activator_pool");
	TCase *tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rapid_fail_window);
	tcase_add_test(tc, metrics_lazy);
	tcase_add_test(tc, start_backoff);
	tcase_add_test(tc, recycle_replacement_fails);
	tcase_add_test(tc, ping_timeout);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, shutdown_time_limit);
	tcase_add_test(tc, recycle_periodic_time);
	tcase_add_test(tc, recycle_schedule);
	tcase_add_test(tc, timer_arm_failure_kills);
	tcase_add_test(tc, set_state_timers);
	tcase_add_test(tc, channel_closed_no_exit);
	tcase_add_test(tc, stop_then_stopped);
	tcase_add_test(tc, recycle_requests);
	tcase_add_test(tc, recycle_private_memory);
	tcase_add_test(tc, recycle_not_overlapped);
	tcase_add_test(tc, worker_apps_checked);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(activator_pool_suite());
}
