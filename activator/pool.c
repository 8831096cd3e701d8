/* Application pools with WAS semantics: their states, the operator's verbs
 * (start, stop, recycle), rapid-fail protection, the back-off between
 * failed starts, and demand (on-demand start, web garden growth). The
 * workers themselves are pool_worker.c's, recycling pool_recycle.c's, a
 * reload pool_reload.c's.
 *
 * Pool states: Started -> (stop) -> Stopping -> (last worker gone) ->
 * Stopped -> (start) -> Started. Every change goes out as a pool event
 * (daemon.c: POOL_STATE to the adapters) and to the log with the pool's
 * name and the reason. docs/design.md draws the worker states. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "config.h"
#include "log.h"
#include "pool_internal.h"

static const char *const failure_names[] = {
	[FAILURE_CRASH] = "crash",
	[FAILURE_STARTUP] = "startup timeout",
	[FAILURE_PING] = "ping timeout",
	[FAILURE_SPAWN] = "start failure",
};

const char *
pool_state_name(enum wasp_pool_state s)
{
	switch (s) {
	case WASP_POOL_STARTING:
		return "Starting";
	case WASP_POOL_STARTED:
		return "Started";
	case WASP_POOL_STOPPING:
		return "Stopping";
	case WASP_POOL_STOPPED:
		return "Stopped";
	default:
		return "Unknown";
	}
}

/* ---- lookups and counts -------------------------------------------------- */

struct pool *
pool_by_name(struct wasp_env *env, const char *name)
{
	for (size_t i = 0; i < env->n_pools; i++)
		if (!env->pools[i].removed &&
		    strcaseeq(env->pools[i].name, name)) /* IIS: case-insensitive */
			return &env->pools[i];
	return NULL;
}

size_t
pool_count_workers(const struct pool *p, int state)
{
	size_t n = 0;

	for (const struct worker *w = p->workers; w; w = w->next)
		if (state < 0 || (int)w->state == state)
			n++;
	return n;
}

size_t
pool_live_workers(const struct pool *p)
{
	return pool_count_workers(p, WORKER_STARTING) + pool_count_workers(p, WORKER_READY);
}

/* A worker drains for a disallowOverlappingRotation recycle: its
 * replacement waits until it has exited (IIS: the old process stops before
 * the new one starts). */
bool
pool_rotating(const struct pool *p)
{
	for (const struct worker *w = p->workers; w; w = w->next)
		if (w->rotating)
			return true;
	return false;
}

size_t
pools_count_workers(const struct wasp_env *env)
{
	size_t n = 0;

	for (size_t i = 0; i < env->n_pools; i++)
		n += pool_count_workers(&env->pools[i], -1);
	return n;
}

/* ---- pool state ---------------------------------------------------------- */

static void
pool_set_state(struct pool *p, enum wasp_pool_state state, enum wasp_pool_stop_reason reason,
	       const char *why)
{
	if (p->state == state && p->reason == reason)
		return;
	log_full_errno(reason == WASP_POOL_REASON_RAPID_FAIL ? LOG_ERR : LOG_NOTICE, 0,
		       "pool '%s': %s -> %s (%s)", p->name, pool_state_name(p->state),
		       pool_state_name(state), why);
	p->state = state;
	p->reason = reason;
	p->env->events->pool_state(p);
}

bool
pool_count_failure(struct pool *p, enum failure_kind kind)
{
	const struct wasp_apppool *c = p->cfg;
	uint64_t now = clock_now(p->env->clock);
	uint64_t interval = c->failure.rapid_fail_protection_interval;
	uint32_t max = c->failure.rapid_fail_protection_max_crashes;
	char buf[WASP_TIMESPAN_MAX];
	size_t k = 0;

	p->failures++;
	switch (kind) {
	case FAILURE_CRASH:
		pool_metrics_w(p)->crashes++;
		break;
	case FAILURE_STARTUP:
		pool_metrics_w(p)->startup_failures++;
		break;
	case FAILURE_PING:
		pool_metrics_w(p)->ping_failures++;
		break;
	case FAILURE_SPAWN:
		pool_metrics_w(p)->spawn_failures++;
		break;
	}
	if (!c->failure.rapid_fail_protection || max == 0)
		return false;
	/* made at the first failure: most pools never have one */
	if (!p->fail_times && !(p->fail_times = calloc(max, sizeof(uint64_t))))
		return false;
	for (size_t i = 0; i < p->n_fail; i++)
		if (now - p->fail_times[i] < interval)
			p->fail_times[k++] = p->fail_times[i];
	p->n_fail = k;
	if (p->n_fail < max)
		p->fail_times[p->n_fail++] = now;
	log_warning("pool '%s': worker failure (%s), %zu of %u within %s", p->name,
		    failure_names[kind], p->n_fail, max,
		    wasp_timespan_format(interval, buf, sizeof(buf)));
	if (p->n_fail < max || p->state != WASP_POOL_STARTED)
		return false;
	char why[160];
	snprintf(why, sizeof(why),
		 "rapid-fail protection: %u failures within rapidFailProtectionInterval %s", max,
		 buf);
	(void)pool_stop(p, WASP_POOL_REASON_RAPID_FAIL, why);
	pool_metrics_w(p)->rapid_fail_trips++;
	return true;
}

/* ---- starting workers when needed ---------------------------------------- */

/* Demand is fresh while the adapter's waiting connections can still be
 * served: it answers them 503 after startupTimeLimit and asks again. */
static bool
pool_has_demand(const struct pool *p)
{
	return p->demand && clock_now(p->env->clock) - p->demand_time <
				    p->cfg->process_model.startup_time_limit;
}

void
pool_on_respawn_timer(void *arg)
{
	struct pool *p = arg;

	pool_respawn(p, p->respawn_replace, true);
}

/* Start a worker when the pool needs one and has none: AlwaysRunning, fresh
 * demand, or a hung worker to replace. After consecutive start failures
 * (crash before READY, startupTimeLimit, exec failure, set-up failure) the next attempt
 * waits 100 ms, doubling up to 10 s, so a worker that cannot start does not
 * make waspd spin even with rapid-fail protection off. */
void
pool_respawn(struct pool *p, bool replace, bool from_timer)
{
	const char *why;
	uint64_t delay = 0;
	int r;

	if (p->state != WASP_POOL_STARTED || p->env->stopping || pool_live_workers(p) > 0 ||
	    pool_rotating(p))
		return;
	if (p->cfg->start_mode == WASP_START_ALWAYS_RUNNING)
		why = "AlwaysRunning";
	else if (pool_has_demand(p))
		why = "requests are waiting";
	else if (replace || (from_timer && p->respawn_replace))
		why = "replacing a hung worker";
	else
		return;
	if (!from_timer) {
		if (timer_pending(p->respawn_timer, NULL)) {
			p->respawn_replace |= replace;
			return; /* a start is already scheduled */
		}
		if (p->start_failures >= 2)
			delay = MIN(UINT64_C(100000) << MIN(p->start_failures - 2, 10u),
				    10 * USEC_PER_SEC);
	}
	if (delay == 0) {
		p->respawn_replace = false;
		(void)worker_spawn(p, NULL, why);
		return;
	}
	p->respawn_replace = replace;
	log_notice("pool '%s': %u consecutive start failures, next start in %" PRIu64 " ms",
		   p->name, p->start_failures, delay / USEC_PER_MSEC);
	r = timer_arm(p->env->clock, &p->respawn_timer, pool_on_respawn_timer, p, delay);
	if (r < 0) {
		/* no timer to wait with: the pool would wait for nothing */
		log_warning_errno(r, "pool '%s': back-off timer, starting a worker now", p->name);
		p->respawn_replace = false;
		(void)worker_spawn(p, NULL, why);
	}
}

void
pool_after_worker_loss(struct pool *p, bool failure, enum failure_kind kind, bool replace)
{
	if (failure && pool_count_failure(p, kind))
		replace = false; /* rapid-fail stopped the pool */
	if (p->state == WASP_POOL_STOPPING && pool_count_workers(p, -1) == 0)
		pool_set_state(p, WASP_POOL_STOPPED, p->reason,
			       p->reason == WASP_POOL_REASON_RAPID_FAIL ? "rapid-fail protection"
									: "last worker exited");
	pool_respawn(p, replace, false);
}

void
pool_on_demand(struct pool *p)
{
	size_t starting = pool_count_workers(p, WORKER_STARTING);
	size_t ready = pool_count_workers(p, WORKER_READY);
	uint32_t max = p->cfg->process_model.max_processes;

	if (p->state != WASP_POOL_STARTED || p->env->stopping) {
		log_debug("pool '%s': demand while %s, ignoring", p->name,
			  pool_state_name(p->state));
		return;
	}
	if (max == 0)
		max = 1;
	p->demand = true;
	p->demand_time = clock_now(p->env->clock);
	if (starting > 0 || pool_rotating(p))
		return; /* a worker is coming, or comes when the rotated one exited */
	if (ready == 0 && timer_pending(p->respawn_timer, NULL))
		return; /* backing off after start failures; the timer starts one */
	if (ready == 0)
		(void)worker_spawn(p, NULL, "on demand");
	else if (ready < max)
		(void)worker_spawn(p, NULL, "on demand (web garden)");
}

/* Web garden (maxProcesses > 1): the listener asks for a worker when a pool
 * has none, or when every worker holds as many connections as it can take
 * (WORKER_ROOM); besides that the garden grows here: when every ready worker
 * holds connections (per its last stats) and none is starting, start
 * another, up to maxProcesses. */
void
pool_grow_garden(struct pool *p)
{
	uint32_t max = p->cfg->process_model.max_processes;
	size_t ready = 0;

	if (max <= 1 || p->state != WASP_POOL_STARTED || p->env->stopping ||
	    pool_count_workers(p, WORKER_STARTING) > 0 || pool_rotating(p))
		return;
	for (const struct worker *o = p->workers; o; o = o->next) {
		if (o->state != WORKER_READY)
			continue;
		if (!o->have_stats || (o->connections == 0 && o->busy == 0))
			return;
		ready++;
	}
	if (ready > 0 && ready < max)
		(void)worker_spawn(p, NULL, "web garden: every worker is busy");
}

void
pool_start_always_running(struct pool *p)
{
	if (p->state == WASP_POOL_STARTED && p->cfg->start_mode == WASP_START_ALWAYS_RUNNING &&
	    pool_live_workers(p) == 0 && !pool_rotating(p) &&
	    !timer_pending(p->respawn_timer, NULL))
		(void)worker_spawn(p, NULL, "AlwaysRunning");
}

/* ---- pool verbs ---------------------------------------------------------- */

int
pool_start(struct pool *p, const char **ret_msg)
{
	if (p->state == WASP_POOL_STARTED) {
		*ret_msg = "the application pool is already started";
		return -EALREADY;
	}
	if (p->ident_error < 0) {
		*ret_msg = "the application pool's identity cannot be resolved (see the log)";
		return p->ident_error;
	}
	p->n_fail = 0;
	p->demand = false;
	p->start_failures = 0;
	pool_set_state(p, WASP_POOL_STARTED, WASP_POOL_REASON_NONE, "started by the operator");
	if (p->cfg->start_mode == WASP_START_ALWAYS_RUNNING && pool_live_workers(p) == 0)
		(void)worker_spawn(p, NULL, "AlwaysRunning");
	return 0;
}

int
pool_stop(struct pool *p, enum wasp_pool_stop_reason reason, const char *why)
{
	struct worker *w, *next;

	if (p->state == WASP_POOL_STOPPED || p->state == WASP_POOL_STOPPING)
		return -EALREADY;
	p->demand = false;
	timer_stop(p->respawn_timer);
	pool_set_state(p, pool_count_workers(p, -1) ? WASP_POOL_STOPPING : WASP_POOL_STOPPED,
		       reason, why);
	for (w = p->workers; w; w = next) {
		next = w->next;
		worker_drain(w, why);
	}
	if (p->state == WASP_POOL_STOPPING && pool_count_workers(p, -1) == 0)
		pool_set_state(p, WASP_POOL_STOPPED, reason, why);
	return 0;
}

void
pools_shutdown(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_pools; i++) {
		struct pool *p = &env->pools[i];
		struct worker *w, *next;

		p->demand = false;
		if (p->state != WASP_POOL_STOPPED)
			pool_set_state(p, WASP_POOL_STOPPING, WASP_POOL_REASON_OPERATOR,
				       "waspd is shutting down");
		for (w = p->workers; w; w = next) {
			next = w->next;
			worker_drain(w, "waspd is shutting down");
		}
	}
}

/* ---- setup --------------------------------------------------------------- */

/* p's identity, clear of the uids in taken; then taken holds it too. */
void
pool_resolve_identity(struct pool *p, struct identity_taken *taken)
{
	const struct wasp_apppool *c = p->cfg;
	int r;

	identity_done(&p->ident);
	p->ident_error = 0;
	r = identity_pool(p->env, p, taken, &p->ident);
	if (r < 0) {
		p->ident_error = r;
		log_errno(r, "%s:%d: application pool '%s': cannot resolve its identity "
			  "(identityType %d, userName '%s'); the pool stays stopped",
			  strempty(c->file), c->line, p->name, (int)c->process_model.identity_type,
			  strempty(c->process_model.user_name));
	} else if (p->ident.change) {
		log_info("pool '%s' runs as %s (uid %u, gid %u)", p->name, p->ident.name,
			 (unsigned)p->ident.uid, (unsigned)p->ident.gid);
		identity_taken_add(taken, p);
	}
}

int
pool_record_init(struct pool *p, struct wasp_env *env, const struct wasp_apppool *c, uint32_t id)
{
	*p = (struct pool){
		.env = env,
		.cfg = c,
		.gen = env->cfg,
		.name = c->name,
		.id = id,
		.state = c->auto_start ? WASP_POOL_STARTED : WASP_POOL_STOPPED,
		.reason = c->auto_start ? WASP_POOL_REASON_NONE : WASP_POOL_REASON_AUTOSTART,
	};
	return 0;
}

struct pool_metrics *
pool_metrics_w(struct pool *p)
{
	static struct pool_metrics scratch;

	if (!p->m)
		p->m = calloc(1, sizeof(*p->m));
	return p->m ? p->m : &scratch;
}

const struct pool_metrics *
pool_metrics_r(const struct pool *p)
{
	static const struct pool_metrics zero;

	return p->m ? p->m : &zero;
}

void
pool_record_done(struct pool *p)
{
	free(p->m);
	p->m = NULL;
	timer_free(&p->schedule_timer);
	timer_free(&p->respawn_timer);
	free(p->fail_times);
	identity_done(&p->ident);
}

int
pools_init(struct wasp_env *env)
{
	const struct wasp_apphost *ah = env->ah;
	_cleanup_(identity_taken_done) struct identity_taken taken = { 0 };

	if (identity_taken_init(&taken, ah->n_pools) < 0)
		return -ENOMEM;
	env->pools = calloc(ah->n_pools ? ah->n_pools : 1, sizeof(struct pool));
	if (!env->pools)
		return -ENOMEM;
	for (size_t i = 0; i < ah->n_pools; i++) {
		struct pool *p = &env->pools[i];
		const struct wasp_apppool *c = &ah->pools[i];

		if (pool_record_init(p, env, c, (uint32_t)i) < 0)
			return -ENOMEM;
		env->n_pools = i + 1;
		pool_resolve_identity(p, &taken);
		if (p->ident_error < 0) {
			p->state = WASP_POOL_STOPPED;
			p->reason = WASP_POOL_REASON_STARTUP_FAILED;
		}
		if (c->process_model.idle_timeout_action == WASP_IDLE_SUSPEND)
			log_warning("%s:%d: application pool '%s': idleTimeoutAction Suspend is "
				    "not supported, workers are terminated instead",
				    strempty(c->file), c->line, p->name);
		log_info("pool '%s': %s (%s, autoStart %s)", p->name, pool_state_name(p->state),
			 c->start_mode == WASP_START_ALWAYS_RUNNING ? "AlwaysRunning" : "OnDemand",
			 c->auto_start ? "true" : "false");
	}
	return 0;
}

void
pools_autostart(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_pools; i++) {
		struct pool *p = &env->pools[i];
		pool_arm_schedule(p, 0);
		if (p->state == WASP_POOL_STARTED &&
		    p->cfg->start_mode == WASP_START_ALWAYS_RUNNING)
			(void)worker_spawn(p, NULL, "AlwaysRunning");
	}
}

void
pools_kill_all(struct wasp_env *env, int sig)
{
	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w; w = w->next)
			if (w->pid > 0)
				(void)env->procs->kill(env, w->pid, sig);
}

void
pools_free(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_pools; i++) {
		struct pool *p = &env->pools[i];
		while (p->workers) {
			if (p->workers->pid > 0)
				(void)env->procs->kill(env, p->workers->pid, SIGKILL);
			worker_free(p->workers);
		}
		pool_record_done(p);
	}
	free(env->pools);
	env->pools = NULL;
	env->n_pools = 0;
}
