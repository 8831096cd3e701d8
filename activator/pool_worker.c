/* Worker processes of a pool: the record, its state and the timers that
 * belong to each state (worker_set_state()), start, drain and kill, and its
 * exit. Its messages are pool_worker_msg.c's.
 *
 * Worker states: Starting -> (READY) -> Ready -> (WORKER_GONE + DRAIN) ->
 * Draining -> exit; or killed (Dead) -> reaped. docs/design.md draws it. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apphost.h"
#include "ipc.h"
#include "log.h"
#include "pool_internal.h"

static void worker_on_startup_timeout(void *arg);
static void worker_on_shutdown_timeout(void *arg);
static void worker_on_channel_gone_timeout(void *arg);
static void worker_on_ping_timer(void *arg);
static void worker_on_pong_timeout(void *arg);
static void worker_on_idle_timer(void *arg);

const char *
worker_state_name(enum worker_state s)
{
	switch (s) {
	case WORKER_STARTING:
		return "Starting";
	case WORKER_READY:
		return "Ready";
	case WORKER_DRAINING:
		return "Draining";
	case WORKER_DEAD:
		return "Dead";
	default:
		return "Unknown";
	}
}

struct worker *
worker_by_pid(struct wasp_env *env, pid_t pid)
{
	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w; w = w->next)
			if (w->pid == pid)
				return w;
	return NULL;
}

/* ---- state and timers ---------------------------------------------------- */

static void
worker_stop_timers(struct worker *w)
{
	timer_stop(w->limit_timer);
	timer_stop(w->ping_timer);
	timer_stop(w->pong_timer);
	timer_stop(w->idle_timer);
	timer_stop(w->recycle_timer);
	w->ping_outstanding = false;
}

void
worker_replacement_failed(struct worker *w, const char *how)
{
	struct pool *p = w->pool;

	if (!w->replaces)
		return;
	log_error("pool '%s': recycle of worker %u failed%s, it keeps serving", p->name,
		  w->replaces->id, how);
	p->recycle_failures++;
	w->replaces->recycling = false;
	w->replaces = NULL;
}

/* A worker whose timer could not be armed would run without the bound it
 * gives: it is killed instead. Returns r. */
static int
worker_timer_failed(struct worker *w, int r, const char *timer)
{
	log_errno(r, "pool '%s': worker %u (pid %d): cannot arm its %s timer, killing it",
		  w->pool->name, w->id, (int)w->pid, timer);
	w->failed = true;
	worker_kill(w, "a timer could not be armed");
	return r;
}

/* The timers of a ready worker: pings, idleTimeout (not for AlwaysRunning
 * pools) and periodicRestart time. */
static int
worker_arm_ready_timers(struct worker *w)
{
	const struct wasp_apppool *c = w->pool->cfg;
	struct clock *clk = w->pool->env->clock;
	int r;

	if (c->process_model.pinging_enabled && c->process_model.ping_interval > 0) {
		r = timer_arm(clk, &w->ping_timer, worker_on_ping_timer, w,
			      c->process_model.ping_interval);
		if (r < 0)
			return worker_timer_failed(w, r, "ping");
	}
	if (c->process_model.idle_timeout > 0 && c->start_mode != WASP_START_ALWAYS_RUNNING) {
		w->idle_since = clock_now(clk);
		r = timer_arm(clk, &w->idle_timer, worker_on_idle_timer, w,
			      c->process_model.idle_timeout);
		if (r < 0)
			return worker_timer_failed(w, r, "idleTimeout");
	}
	if (c->recycling.time > 0) {
		r = timer_arm(clk, &w->recycle_timer, worker_on_recycle_timer, w,
			      c->recycling.time);
		if (r < 0)
			return worker_timer_failed(w, r, "periodicRestart time");
	}
	return 0;
}

/* The one place a worker's state changes, with the timers that belong to
 * it (as systemd's service_set_state()): every timer is stopped, then
 * Starting arms startupTimeLimit, Ready the ping, idleTimeout and
 * periodicRestart time timers, Draining shutdownTimeLimit, Dead none. A
 * worker whose channel closed keeps its state (its exit is judged by it)
 * and gets only shutdownTimeLimit to exit in. A timer that cannot be armed
 * leaves no worker running without its bound: it is killed (-errno). */
int
worker_set_state(struct worker *w, enum worker_state state)
{
	const struct wasp_apppool *c = w->pool->cfg;
	struct clock *clk = w->pool->env->clock;
	int r = 0;

	w->state = state;
	worker_stop_timers(w);
	if (state == WORKER_DEAD)
		return 0;
	if (!w->ch && state != WORKER_DRAINING) {
		r = timer_arm(clk, &w->limit_timer, worker_on_channel_gone_timeout, w,
			      c->process_model.shutdown_time_limit);
		return r < 0 ? worker_timer_failed(w, r, "shutdownTimeLimit") : 0;
	}
	switch (state) {
	case WORKER_STARTING:
		r = timer_arm(clk, &w->limit_timer, worker_on_startup_timeout, w,
			      c->process_model.startup_time_limit);
		return r < 0 ? worker_timer_failed(w, r, "startupTimeLimit") : 0;
	case WORKER_READY:
		return worker_arm_ready_timers(w);
	case WORKER_DRAINING:
		r = timer_arm(clk, &w->limit_timer, worker_on_shutdown_timeout, w,
			      c->process_model.shutdown_time_limit);
		return r < 0 ? worker_timer_failed(w, r, "shutdownTimeLimit") : 0;
	default:
		return 0;
	}
}

void
worker_send_gone(struct worker *w)
{
	if (!w->announced)
		return;
	w->announced = false;
	w->pool->env->events->worker_gone(w);
}

/* A replacement started in the background (sched.c) goes back to normal
 * priority: it is ready, it took too long, or the pool now depends on it. */
void
worker_foreground(struct worker *w, const char *why)
{
	int r;

	if (!w->background)
		return;
	w->background = false;
	timer_stop(w->sched_timer);
	if (w->pid <= 0)
		return;
	r = sched_foreground(w->pid);
	if (r < 0 && r != -ESRCH)
		log_warning_errno(r, "pool '%s': worker %u (pid %d) back to normal priority",
				  w->pool->name, w->id, (int)w->pid);
	else
		log_debug("pool '%s': worker %u (pid %d) at normal priority: %s", w->pool->name,
			  w->id, (int)w->pid, why);
}

static void
worker_on_sched_timer(void *arg)
{
	worker_foreground(arg, "still starting");
}

void
worker_free(struct worker *w)
{
	struct pool *p = w->pool;
	struct handoff_pair *hp;

	p->env->requests_exited += w->requests;
	for (struct worker **pp = &p->workers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	/* Overlapped recycling links: whoever pointed at w forgets it; a
	 * replacement whose old worker is gone is all the pool has now. */
	for (struct worker *o = p->workers; o; o = o->next)
		if (o->replaces == w) {
			o->replaces = NULL;
			worker_foreground(o, "the worker it replaces is gone");
		}
	if (w->replaces)
		w->replaces->recycling = false;
	while ((hp = w->pairs)) {
		w->pairs = hp->next;
		safe_close(hp->adapter_fd);
		free(hp);
	}
	timer_free(&w->limit_timer);
	timer_free(&w->ping_timer);
	timer_free(&w->pong_timer);
	timer_free(&w->idle_timer);
	timer_free(&w->recycle_timer);
	timer_free(&w->sched_timer);
	wasp_ipc_channel_free(w->ch);
	free(w->apps);
	free(w);
}

void
worker_kill(struct worker *w, const char *why)
{
	struct wasp_env *env = w->pool->env;

	worker_send_gone(w);
	worker_foreground(w, "killed"); /* so that it dies now, even on a busy CPU */
	w->stop_reason = why;
	w->ch = wasp_ipc_channel_free(w->ch);
	(void)worker_set_state(w, WORKER_DEAD);
	if (w->pid > 0)
		(void)env->procs->kill(env, w->pid, SIGKILL);
}

/* ---- timer expiries ------------------------------------------------------ */

static void
worker_on_startup_timeout(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	char buf[WASP_TIMESPAN_MAX];

	if (w->state != WORKER_STARTING)
		return;
	log_error("pool '%s': worker %u (pid %d) did not report ready within startupTimeLimit "
		  "%s, killing it",
		  p->name, w->id, (int)w->pid,
		  wasp_timespan_format(p->cfg->process_model.startup_time_limit, buf, sizeof(buf)));
	worker_replacement_failed(w, "");
	/* The adapter gave its waiting connections 503 at the same deadline. */
	p->demand = false;
	p->start_failures++;
	w->failed = true;
	worker_kill(w, "startupTimeLimit");
	(void)pool_count_failure(p, FAILURE_STARTUP);
}

static void
worker_on_shutdown_timeout(void *arg)
{
	struct worker *w = arg;
	char buf[WASP_TIMESPAN_MAX];

	if (w->state != WORKER_DRAINING)
		return;
	log_warning("pool '%s': worker %u (pid %d) still running shutdownTimeLimit %s after "
		    "DRAIN, killing it",
		    w->pool->name, w->id, (int)w->pid,
		    wasp_timespan_format(w->pool->cfg->process_model.shutdown_time_limit, buf,
					 sizeof(buf)));
	worker_kill(w, "shutdownTimeLimit");
}

static void
worker_on_channel_gone_timeout(void *arg)
{
	struct worker *w = arg;

	if (w->state == WORKER_DEAD || w->pid <= 0)
		return;
	log_warning("pool '%s': worker %u (pid %d) closed its channel but did not exit, "
		    "killing it",
		    w->pool->name, w->id, (int)w->pid);
	w->failed = true;
	worker_kill(w, "closed its channel");
	(void)pool_count_failure(w->pool, FAILURE_CRASH);
}

static void
worker_on_pong_timeout(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	struct wasp_env *env = p->env;
	char buf[WASP_TIMESPAN_MAX];

	if (w->state != WORKER_READY || !w->ping_outstanding)
		return;
	log_error("pool '%s': worker %u (pid %d) did not answer a ping within pingResponseTime "
		  "%s: hung",
		  p->name, w->id, (int)w->pid,
		  wasp_timespan_format(p->cfg->process_model.ping_response_time, buf, sizeof(buf)));
	w->failed = true;
	if (p->cfg->failure.orphan_worker_process) {
		worker_send_gone(w);
		(void)env->procs->kill(env, w->pid, SIGSTOP);
		log_error("pool '%s': orphanWorkerProcess: worker pid %d left stopped (SIGSTOP) "
			  "for debugging; waspd forgets it",
			  p->name, (int)w->pid);
		worker_free(w);
	} else {
		worker_kill(w, "ping timeout");
	}
	if (!pool_count_failure(p, FAILURE_PING))
		pool_after_worker_loss(p, false, FAILURE_PING, true);
}

static void
worker_on_ping_timer(void *arg)
{
	struct worker *w = arg;
	const struct wasp_apppool *c = w->pool->cfg;
	struct clock *clk = w->pool->env->clock;
	struct wasp_msg_ping ping;
	int r;

	if (w->state != WORKER_READY || !w->ch)
		return;
	if (!w->ping_outstanding) {
		ping.token = ++w->ping_token;
		r = wasp_send_ping(w->ch, 0, &ping);
		if (r < 0)
			log_warning_errno(r, "pool '%s': ping worker %u", w->pool->name, w->id);
		w->ping_outstanding = true;
		r = timer_arm(clk, &w->pong_timer, worker_on_pong_timeout, w,
			      c->process_model.ping_response_time);
		if (r < 0) {
			(void)worker_timer_failed(w, r, "pingResponseTime");
			return;
		}
	}
	r = timer_arm(clk, &w->ping_timer, worker_on_ping_timer, w, c->process_model.ping_interval);
	if (r < 0)
		(void)worker_timer_failed(w, r, "ping");
}

static void
worker_on_idle_timer(void *arg)
{
	struct worker *w = arg;
	uint64_t limit = w->pool->cfg->process_model.idle_timeout;
	uint64_t now = clock_now(w->pool->env->clock);
	char buf[WASP_TIMESPAN_MAX];
	int r;

	if (w->state != WORKER_READY || !w->idle_since)
		return;
	if (now - w->idle_since < limit) {
		r = timer_arm(w->pool->env->clock, &w->idle_timer, worker_on_idle_timer, w,
			      limit - (now - w->idle_since));
		if (r < 0)
			(void)worker_timer_failed(w, r, "idleTimeout");
		return;
	}
	log_notice("pool '%s': worker %u (pid %d) idle for idleTimeout %s, stopping it",
		   w->pool->name, w->id, (int)w->pid,
		   wasp_timespan_format(limit, buf, sizeof(buf)));
	worker_drain(w, "idleTimeout");
}

/* idleTimeout counts from when the worker's stats first show it idle. */
void
worker_track_idle(struct worker *w, bool active)
{
	const struct wasp_apppool *c = w->pool->cfg;
	int r;

	if (c->process_model.idle_timeout == 0 || c->start_mode == WASP_START_ALWAYS_RUNNING)
		return;
	if (active) {
		w->idle_since = 0;
		timer_stop(w->idle_timer);
	} else if (!w->idle_since) {
		w->idle_since = clock_now(w->pool->env->clock);
		r = timer_arm(w->pool->env->clock, &w->idle_timer, worker_on_idle_timer, w,
			      c->process_model.idle_timeout);
		if (r < 0)
			(void)worker_timer_failed(w, r, "idleTimeout");
	}
}

/* ---- starting and stopping ----------------------------------------------- */

/* Test hooks (--test-hooks only), passed to the worker in its environment:
 * WASP_TEST_HANG_STARTUP_FROM=POOL:N makes that pool's workers from the Nth
 * one on never report ready (the worker's WASP_TEST_HANG_STARTUP), so a
 * test can make a recycle's replacement fail while the first worker serves;
 * WASP_TEST_WORKER_NOFILE=POOL:N makes them lower their RLIMIT_NOFILE to N
 * (they size their connection limit from it; WASP_TEST_NOFILE). bufs are
 * the caller's to free. */
static int
worker_test_env(const struct pool *p, char *bufs[static 2], const char *extra_env[static 3])
{
	const char *from, *nf;
	uint64_t nth;
	size_t n = 0;

	if (!p->env->test_hooks)
		return 0;
	from = test_hook_value("WASP_TEST_HANG_STARTUP_FROM", p->name, true);
	if (from && wasp_parse_u64(from, UINT32_MAX, &nth) >= 0 && p->spawned >= nth) {
		if (asprintf(&bufs[0], "WASP_TEST_HANG_STARTUP=%s", p->name) < 0)
			return -ENOMEM;
		extra_env[n++] = bufs[0];
	}
	nf = test_hook_value("WASP_TEST_WORKER_NOFILE", p->name, true);
	if (nf) {
		if (asprintf(&bufs[1], "WASP_TEST_NOFILE=%s", nf) < 0)
			return -ENOMEM;
		extra_env[n++] = bufs[1];
	}
	return 0;
}

/* A start failure before the worker record exists: counted, and the next
 * attempt backs off. */
static void
worker_spawn_failed(struct pool *p)
{
	p->start_failures++;
	if (!pool_count_failure(p, FAILURE_SPAWN))
		pool_respawn(p, false, false);
}

/* Overlapped recycling: the old worker serves meanwhile, so the replacement
 * starts on what CPU the busy processes leave (sched.c). The child has
 * exec'd by now (spawn_child waits for it): the exec itself ran at normal
 * priority and did not hold waspd up. */
static void
worker_background(struct worker *w)
{
	struct wasp_env *env = w->pool->env;
	int r = sched_background(w->pid);

	if (r < 0) {
		log_debug_errno(r, "pool '%s': worker %u in the background", w->pool->name, w->id);
		return;
	}
	w->background = true;
	r = timer_arm(env->clock, &w->sched_timer, worker_on_sched_timer, w,
		      WASP_BACKGROUND_START_MAX_USEC);
	if (r < 0)
		worker_foreground(w, "no timer to bound the background start");
}

struct worker *
worker_spawn(struct pool *p, struct worker *replaces, const char *why)
{
	struct wasp_env *env = p->env;
	_cleanup_free_ char *title = NULL, *hang = NULL, *nofile = NULL;
	char *bufs[2] = { NULL, NULL };
	const char *extra_env[3] = { NULL, NULL, NULL };
	struct proc_start s = { .role = proc_role(PROC_WORKER), .pool = p, .extra_env = extra_env };
	struct worker *w;
	int fd, r;
	pid_t pid;
	char buf[WASP_TIMESPAN_MAX];

	/* What ps shows, as w3wp's `-ap "NAME"`: the pool. */
	if (asprintf(&title, "wasp-worker: %s", p->name) < 0)
		return NULL;
	s.title = title;
	p->spawned++;
	r = worker_test_env(p, bufs, extra_env);
	hang = bufs[0];
	nofile = bufs[1];
	if (r < 0)
		return NULL;
	if (p->ident_error < 0) {
		log_errno(p->ident_error, "pool '%s': cannot start a worker: identity '%s'",
			  p->name, strempty(p->cfg->process_model.user_name));
		(void)pool_count_failure(p, FAILURE_SPAWN);
		return NULL;
	}
	r = env->procs->spawn(env, &s, &pid, &fd);
	if (r < 0) {
		worker_spawn_failed(p);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		safe_close(fd);
		(void)env->procs->kill(env, pid, SIGKILL);
		log_errno(-ENOMEM, "pool '%s': worker", p->name);
		return NULL;
	}
	w->pool = p;
	w->id = ++env->next_worker_id;
	w->pid = pid;
	w->started_mono = clock_now(env->clock);
	w->started_real = clock_realtime(env->clock);
	w->replaces = replaces;
	w->next = p->workers;
	p->workers = w;
	if (replaces && env->background_start)
		worker_background(w);
	w->ch = wasp_ipc_channel_new(env->base, fd, &worker_channel_ops, w);
	if (!w->ch)
		safe_close(fd);
	if (!w->ch || env->events->worker_setup(w) < 0) {
		/* A start failure like any other (out of descriptors, say): the
		 * next attempt backs off, and rapid-fail protection counts it. */
		log_error("pool '%s': worker %u (pid %d) could not be set up, killing it", p->name,
			  w->id, (int)pid);
		w->replaces = NULL;
		worker_kill(w, "setup failed");
		p->start_failures++;
		(void)pool_count_failure(p, FAILURE_SPAWN);
		return NULL;
	}
	if (worker_set_state(w, WORKER_STARTING) < 0) {
		/* killed for want of its startupTimeLimit: a failed start */
		w->replaces = NULL;
		p->start_failures++;
		(void)pool_count_failure(p, FAILURE_SPAWN);
		return NULL;
	}
	log_notice("pool '%s': starting worker %u (pid %d) as %s: %s (startupTimeLimit %s)",
		   p->name, w->id, (int)pid, p->ident.change ? p->ident.name : "the daemon's user",
		   why,
		   wasp_timespan_format(p->cfg->process_model.startup_time_limit, buf,
					sizeof(buf)));
	return w;
}

/* Stop giving w work and ask it to finish: WORKER_GONE to the adapters
 * first, then DRAIN; shutdownTimeLimit bounds the wait. */
void
worker_drain(struct worker *w, const char *why)
{
	struct pool *p = w->pool;
	int r;

	if (w->state == WORKER_DRAINING || w->state == WORKER_DEAD)
		return;
	if (w->replaces) {
		w->replaces->recycling = false;
		w->replaces = NULL;
	}
	if (w->state == WORKER_STARTING || !w->ch) {
		log_notice("pool '%s': stopping worker %u (pid %d) before it was ready: %s",
			   p->name, w->id, (int)w->pid, why);
		worker_kill(w, why);
		return;
	}
	worker_send_gone(w);
	w->stop_reason = why;
	r = wasp_send_drain(w->ch, 0);
	if (r < 0) {
		log_warning_errno(r, "pool '%s': DRAIN to worker %u, killing it", p->name, w->id);
		worker_kill(w, why);
		return;
	}
	log_notice("pool '%s': draining worker %u (pid %d): %s", p->name, w->id, (int)w->pid, why);
	(void)worker_set_state(w, WORKER_DRAINING);
}

void
worker_on_exit(struct worker *w, int status)
{
	struct pool *p = w->pool;
	struct wasp_env *env = p->env;
	enum worker_state was = w->state;
	bool failure = false;
	char how[64];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));

	if (was == WORKER_DRAINING || was == WORKER_DEAD) {
		log_info("pool '%s': worker %u (pid %d) %s (%s)", p->name, w->id, (int)w->pid, how,
			 strempty(w->stop_reason));
	} else {
		/* Nobody asked it to go: a crash (IIS counts any such exit). */
		failure = !w->failed;
		if (was == WORKER_STARTING)
			p->start_failures++;
		log_error("pool '%s': worker %u (pid %d) crashed: %s while %s", p->name, w->id,
			  (int)w->pid, how, was == WORKER_STARTING ? "starting" : "ready");
		worker_replacement_failed(w, " (its replacement crashed)");
	}
	worker_send_gone(w);
	w->pid = 0;
	worker_free(w);
	pool_after_worker_loss(p, failure, FAILURE_CRASH, false);
	env->events->worker_reaped(env);
}
