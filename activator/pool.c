/* Application pools and their worker processes, with WAS semantics:
 * on-demand and AlwaysRunning start, startupTimeLimit, pinging (hung
 * workers killed and replaced, or orphaned), idleTimeout, periodicRestart
 * (time, requests, memory, privateMemory, schedule), manual recycle with
 * overlapped rotation, shutdownTimeLimit, and rapid-fail protection.
 *
 * Pool states: Started -> (stop) -> Stopping -> (last worker gone) ->
 * Stopped -> (start) -> Started. Every change goes to the adapters as
 * POOL_STATE and to the log with the pool's name and the reason.
 *
 * Worker states: Starting -> (READY) -> Ready -> (WORKER_GONE + DRAIN) ->
 * Draining -> exit; or killed (Dead) -> reaped. docs/design.md draws it. */
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "apphost.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "timespan.h"
#include "waspd.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

enum failure_kind {
	FAILURE_CRASH,
	FAILURE_STARTUP,
	FAILURE_PING,
	FAILURE_SPAWN,
};

static const char *const failure_names[] = {
	[FAILURE_CRASH] = "crash",
	[FAILURE_STARTUP] = "startup timeout",
	[FAILURE_PING] = "ping timeout",
	[FAILURE_SPAWN] = "start failure",
};

static struct worker *worker_spawn(struct pool *p, struct worker *replaces, const char *why);
static void worker_foreground(struct worker *w, const char *why);
static void worker_drain(struct worker *w, const char *why);
static void pool_after_worker_loss(struct pool *p, bool failure, enum failure_kind kind,
				   bool replace);
static void pool_respawn(struct pool *p, bool replace, bool from_timer);
static size_t pool_live_workers(const struct pool *p);

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

static const char *
fmt_span(uint64_t usec, char buf[static 32])
{
	uint64_t s = usec / USEC_PER_SEC, ms = (usec % USEC_PER_SEC) / USEC_PER_MSEC;

	if (ms)
		snprintf(buf, 32, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64,
			 s / 3600, (s / 60) % 60, s % 60, ms);
	else
		snprintf(buf, 32, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600,
			 (s / 60) % 60, s % 60);
	return buf;
}

static struct timeval
tv_from_usec(uint64_t usec)
{
	return (struct timeval){ .tv_sec = (time_t)(usec / USEC_PER_SEC),
				 .tv_usec = (suseconds_t)(usec % USEC_PER_SEC) };
}

/* Arm (creating if needed) a one-shot timer. */
static int
timer_arm(struct event_base *base, struct event **ev, event_callback_fn cb, void *arg,
	  uint64_t usec)
{
	struct timeval tv = tv_from_usec(usec);

	if (!*ev) {
		*ev = evtimer_new(base, cb, arg);
		if (!*ev)
			return -ENOMEM;
	} else if (event_get_callback(*ev) != cb || event_get_callback_arg(*ev) != arg) {
		/* One timer slot, several meanings (limit_timer: startup, then
		 * shutdown): re-point it. */
		event_del(*ev);
		if (event_assign(*ev, base, -1, 0, cb, arg) < 0)
			return -EINVAL;
	}
	return event_add(*ev, &tv) < 0 ? -EIO : 0;
}

static void
timer_stop(struct event *ev)
{
	if (ev)
		event_del(ev);
}

static void
timer_free(struct event **ev)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
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

struct worker *
worker_by_pid(struct wasp_env *env, pid_t pid)
{
	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w; w = w->next)
			if (w->pid == pid)
				return w;
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

/* A worker drains for a disallowOverlappingRotation recycle: its
 * replacement waits until it has exited (IIS: the old process stops before
 * the new one starts). */
static bool
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
	struct wasp_msg_pool_state m = {
		.pool_id = p->id,
		.state = (uint32_t)state,
		.reason = (uint32_t)reason,
		.generation = p->env->generation,
	};

	if (p->state == state && p->reason == reason)
		return;
	log_full_errno(reason == WASP_POOL_REASON_RAPID_FAIL ? LOG_ERR : LOG_NOTICE, 0,
		       "pool '%s': %s -> %s (%s)", p->name, pool_state_name(p->state),
		       pool_state_name(state), why);
	p->state = state;
	p->reason = reason;
	routes_invalidate(p->env);
	adapters_send_pool_state(p->env, &m);
}

/* Record a worker failure; true when rapid-fail protection stopped the pool. */
static bool
pool_count_failure(struct pool *p, enum failure_kind kind)
{
	const struct wasp_apppool *c = p->cfg;
	uint64_t now = wasp_now_usec(), interval = c->failure.rapid_fail_protection_interval;
	uint32_t max = c->failure.rapid_fail_protection_max_crashes;
	char buf[32];
	size_t k = 0;

	p->failures++;
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
		    failure_names[kind], p->n_fail, max, fmt_span(interval, buf));
	if (p->n_fail < max || p->state != WASP_POOL_STARTED)
		return false;
	char why[160];
	snprintf(why, sizeof(why),
		 "rapid-fail protection: %u failures within rapidFailProtectionInterval %s", max,
		 buf);
	(void)pool_stop(p, WASP_POOL_REASON_RAPID_FAIL, why);
	return true;
}

/* ---- worker records ------------------------------------------------------ */

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

static void
worker_send_gone(struct worker *w)
{
	struct wasp_msg_worker_ref ref = {
		.pool_id = w->pool->id,
		.worker_id = w->id,
		.pid = (uint32_t)w->pid,
		.generation = w->pool->env->generation,
	};

	if (!w->announced)
		return;
	w->announced = false;
	adapters_send_worker_gone(w->pool->env, &ref);
}

static void
worker_free(struct worker *w)
{
	struct pool *p = w->pool;
	struct handoff_pair *hp;

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
	free(w);
}

/* A replacement started in the background (sched.c) goes back to normal
 * priority: it is ready, it took too long, or the pool now depends on it. */
static void
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
worker_on_sched_timer(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	worker_foreground(w, "still starting");
}

/* Kill a worker now (SIGKILL; it is reaped later). */
static void
worker_kill(struct worker *w, const char *why)
{
	worker_send_gone(w);
	worker_stop_timers(w);
	worker_foreground(w, "killed"); /* so that it dies now, even on a busy CPU */
	w->stop_reason = why;
	w->state = WORKER_DEAD;
	w->ch = wasp_ipc_channel_free(w->ch);
	if (w->pid > 0)
		(void)kill(w->pid, SIGKILL);
}

/* ---- worker timers ------------------------------------------------------- */

static void
worker_on_startup_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	char buf[32];

	if (w->state != WORKER_STARTING)
		return;
	log_error("pool '%s': worker %u (pid %d) did not report ready within startupTimeLimit "
		  "%s, killing it",
		  p->name, w->id, (int)w->pid, fmt_span(p->cfg->process_model.startup_time_limit, buf));
	if (w->replaces) {
		log_error("pool '%s': recycle of worker %u failed, it keeps serving", p->name,
			  w->replaces->id);
		p->recycle_failures++;
		w->replaces->recycling = false;
		w->replaces = NULL;
	}
	/* The adapter gave its waiting connections 503 at the same deadline. */
	p->demand = false;
	p->start_failures++;
	w->failed = true;
	worker_kill(w, "startupTimeLimit");
	(void)pool_count_failure(p, FAILURE_STARTUP);
}

static void
worker_on_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char buf[32];

	if (w->state != WORKER_DRAINING)
		return;
	log_warning("pool '%s': worker %u (pid %d) still running shutdownTimeLimit %s after "
		    "DRAIN, killing it",
		    w->pool->name, w->id, (int)w->pid,
		    fmt_span(w->pool->cfg->process_model.shutdown_time_limit, buf));
	worker_kill(w, "shutdownTimeLimit");
}

static void
worker_on_pong_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	char buf[32];

	if (w->state != WORKER_READY || !w->ping_outstanding)
		return;
	log_error("pool '%s': worker %u (pid %d) did not answer a ping within pingResponseTime "
		  "%s: hung",
		  p->name, w->id, (int)w->pid, fmt_span(p->cfg->process_model.ping_response_time, buf));
	w->failed = true;
	if (p->cfg->failure.orphan_worker_process) {
		worker_send_gone(w);
		worker_stop_timers(w);
		(void)kill(w->pid, SIGSTOP);
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
worker_on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	const struct wasp_apppool *c = w->pool->cfg;
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
		(void)timer_arm(w->pool->env->base, &w->pong_timer, worker_on_pong_timeout, w,
				c->process_model.ping_response_time);
	}
	(void)timer_arm(w->pool->env->base, &w->ping_timer, worker_on_ping_timer, w,
			c->process_model.ping_interval);
}

static void
worker_on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t limit = w->pool->cfg->process_model.idle_timeout, now = wasp_now_usec();
	char buf[32];

	if (w->state != WORKER_READY || !w->idle_since)
		return;
	if (now - w->idle_since < limit) {
		(void)timer_arm(w->pool->env->base, &w->idle_timer, worker_on_idle_timer, w,
				limit - (now - w->idle_since));
		return;
	}
	log_notice("pool '%s': worker %u (pid %d) idle for idleTimeout %s, stopping it",
		   w->pool->name, w->id, (int)w->pid, fmt_span(limit, buf));
	worker_drain(w, "idleTimeout");
}

/* Whether a recycle of w started. */
static bool
worker_recycle(struct worker *w, const char *why)
{
	struct pool *p = w->pool;

	if (w->state != WORKER_READY || w->recycling)
		return false;
	log_notice("pool '%s': recycling worker %u (pid %d): %s", p->name, w->id, (int)w->pid,
		   why);
	if (p->cfg->recycling.disallow_overlapping_rotation) {
		p->recycles++;
		w->rotating = true;
		worker_drain(w, why);
		/* The replacement starts once it has exited (worker_on_exit ->
		 * pool_respawn): on demand, or at once for AlwaysRunning. */
		return true;
	}
	/* Overlapped: the old one serves until the new one is ready. */
	w->recycling = true;
	if (!worker_spawn(p, w, why)) {
		w->recycling = false;
		p->recycle_failures++;
		log_error("pool '%s': recycle of worker %u failed: no replacement could be "
			  "started; it keeps serving",
			  p->name, w->id);
	}
	return true;
}

static void
worker_on_recycle_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)worker_recycle(arg, "periodicRestart time");
}

/* ---- worker messages ----------------------------------------------------- */

static int
worker_on_ready(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker *w = userdata;
	struct pool *p = w->pool;
	const struct wasp_apppool *c = p->cfg;
	struct wasp_env *env = p->env;
	uint64_t now = wasp_now_usec();

	if (w->state != WORKER_STARTING) {
		log_warning("pool '%s': worker %u (pid %d) reported ready twice, ignoring", p->name,
			    w->id, (int)w->pid);
		return 0;
	}
	w->state = WORKER_READY;
	w->ready_mono = now;
	p->start_failures = 0;
	timer_stop(w->limit_timer);
	worker_foreground(w, "ready");
	log_notice("pool '%s': worker %u (pid %d) ready in %" PRIu64 " ms", p->name, w->id,
		   (int)w->pid, (now - w->started_mono) / USEC_PER_MSEC);

	if (p->state != WASP_POOL_STARTED) {
		/* Stopped while it started: it never takes work. */
		worker_drain(w, "pool not started");
		return 0;
	}
	adapters_announce_worker(env, w);
	p->demand = false;

	if (c->process_model.pinging_enabled && c->process_model.ping_interval > 0)
		(void)timer_arm(env->base, &w->ping_timer, worker_on_ping_timer, w,
				c->process_model.ping_interval);
	if (c->process_model.idle_timeout > 0 && c->start_mode != WASP_START_ALWAYS_RUNNING) {
		w->idle_since = now;
		(void)timer_arm(env->base, &w->idle_timer, worker_on_idle_timer, w,
				c->process_model.idle_timeout);
	}
	if (c->recycling.time > 0)
		(void)timer_arm(env->base, &w->recycle_timer, worker_on_recycle_timer, w,
				c->recycling.time);

	if (w->replaces) {
		struct worker *old = w->replaces;
		w->replaces = NULL;
		old->recycling = false;
		p->recycles++;
		log_notice("pool '%s': worker %u (pid %d) replaces worker %u (pid %d)", p->name,
			   w->id, (int)w->pid, old->id, (int)old->pid);
		worker_drain(old, "recycled");
	}
	return 0;
}

static int
worker_on_pong(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker *w = userdata;
	struct wasp_msg_ping pong;

	memcpy(&pong, msg->payload, sizeof(pong));
	if (w->ping_outstanding && pong.token == w->ping_token) {
		w->ping_outstanding = false;
		timer_stop(w->pong_timer);
	}
	return 0;
}

static uint64_t
proc_vm_kb(pid_t pid)
{
	char path[64];
	unsigned long pages = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	fclose(f);
	return (uint64_t)pages * ((uint64_t)sysconf(_SC_PAGESIZE) / 1024);
}

/* Web garden (maxProcesses > 1): the listener asks for a worker when a pool
 * has none, or when every worker holds as many connections as it can take
 * (WORKER_ROOM); besides that the garden grows here: when every ready worker
 * holds connections (per its last stats) and none is starting, start
 * another, up to maxProcesses. */
static void
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

static int
worker_on_stats(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker *w = userdata;
	struct pool *p = w->pool;
	const struct wasp_apppool *c = p->cfg;
	struct wasp_msg_worker_stats st;
	bool active;

	memcpy(&st, msg->payload, sizeof(st));
	active = st.connections > 0 || st.busy > 0 || (w->have_stats && st.requests != w->requests) ||
		 (!w->have_stats && st.requests > 0);
	w->requests = st.requests;
	w->private_kb = st.private_kb;
	w->rss_kb = st.rss_kb;
	w->connections = st.connections;
	w->busy = st.busy;
	w->have_stats = true;
	if (c->recycling.memory_kb > 0)
		w->vm_kb = proc_vm_kb(w->pid); /* only when a limit needs it */
	if (w->state != WORKER_READY)
		return 0;

	if (c->process_model.idle_timeout > 0 && c->start_mode != WASP_START_ALWAYS_RUNNING) {
		if (active) {
			w->idle_since = 0;
			timer_stop(w->idle_timer);
		} else if (!w->idle_since) {
			w->idle_since = wasp_now_usec();
			(void)timer_arm(p->env->base, &w->idle_timer, worker_on_idle_timer, w,
					c->process_model.idle_timeout);
		}
	}
	pool_grow_garden(p);
	if (c->recycling.requests > 0 && w->requests >= c->recycling.requests)
		worker_recycle(w, "periodicRestart requests");
	else if (c->recycling.memory_kb > 0 && w->vm_kb >= c->recycling.memory_kb)
		worker_recycle(w, "periodicRestart memory");
	else if (c->recycling.private_memory_kb > 0 && w->private_kb >= c->recycling.private_memory_kb)
		worker_recycle(w, "periodicRestart privateMemory");
	return 0;
}

/* A broken handoff channel leaves the worker unreachable for that adapter
 * while its pings still come: pair them again; a worker that keeps losing
 * its channels is replaced. */
#define WORKER_CHANNELS_LOST_MAX 3

static int
worker_on_channel_lost(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
		       void *userdata)
{
	struct worker *w = userdata;
	struct wasp_msg_handoff_channel hc;
	int r;

	memcpy(&hc, msg->payload, sizeof(hc));
	if (w->state != WORKER_READY)
		return 0;
	if (++w->channels_lost > WORKER_CHANNELS_LOST_MAX) {
		worker_recycle(w, "it keeps losing its handoff channels");
		return 0;
	}
	r = adapters_repair_worker(w->pool->env, w, hc.adapter_id);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		worker_recycle(w, "its handoff channel broke and could not be made again");
		return 0;
	}
	log_warning("pool '%s': worker %u (pid %d) lost its handoff channel with adapter %u: "
		    "a new one",
		    w->pool->name, w->id, (int)w->pid, hc.adapter_id);
	return 0;
}

static void
worker_on_channel_gone_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->state == WORKER_DEAD || w->pid <= 0)
		return;
	log_warning("pool '%s': worker %u (pid %d) closed its channel but did not exit, "
		    "killing it",
		    w->pool->name, w->id, (int)w->pid);
	w->failed = true;
	(void)kill(w->pid, SIGKILL);
	w->state = WORKER_DEAD;
	w->stop_reason = "closed its channel";
	(void)pool_count_failure(w->pool, FAILURE_CRASH);
}

static void
worker_on_channel_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct worker *w = userdata;

	w->ch = wasp_ipc_channel_free(w->ch);
	if (err < 0 && err != -ECONNRESET && err != -EPIPE) {
		log_errno(err, "pool '%s': worker %u (pid %d) broke the protocol, killing it",
			  w->pool->name, w->id, (int)w->pid);
		if (w->pid > 0)
			(void)kill(w->pid, SIGKILL);
	} else {
		log_debug("pool '%s': worker %u (pid %d) closed its channel", w->pool->name, w->id,
			  (int)w->pid);
	}
	/* The exit itself arrives as SIGCHLD and is judged by the state the
	 * worker was in (an exit nobody asked for is a crash). It takes no new
	 * connections; if it does not exit, it is killed. */
	worker_send_gone(w);
	if (w->state == WORKER_DRAINING || w->state == WORKER_DEAD)
		return;
	worker_stop_timers(w);
	(void)timer_arm(w->pool->env->base, &w->limit_timer, worker_on_channel_gone_timeout, w,
			w->pool->cfg->process_model.shutdown_time_limit);
}

static const struct wasp_ipc_handler worker_handlers[] = {
	{ WASP_MSG_WORKER_READY, worker_on_ready },
	{ WASP_MSG_PONG, worker_on_pong },
	{ WASP_MSG_WORKER_STATS, worker_on_stats },
	{ WASP_MSG_HANDOFF_CHANNEL_LOST, worker_on_channel_lost },
};

static const struct wasp_ipc_channel_ops worker_ops = {
	.role = WASP_ROLE_ACTIVATOR,
	.peer_role = WASP_ROLE_WORKER,
	.handlers = worker_handlers,
	.n_handlers = ELEMENTSOF(worker_handlers),
	.on_close = worker_on_channel_close,
};

/* ---- starting and stopping workers --------------------------------------- */

static int
worker_send_config(struct worker *w)
{
	struct wasp_env *env = w->pool->env;
	struct wasp_msg_worker_config wc = {
		.pool_id = w->pool->id,
		.worker_id = w->id,
		.generation = env->generation,
		.flags = env->test_hooks ? WASP_WORKER_F_TEST_HEADERS : 0,
	};
	uint32_t gen = env->generation;
	int fd, r;

	fd = config_memfd(env, w->pool);
	if (fd < 0)
		return log_errno(fd, "serialize the configuration for worker %u", w->id);
	r = wasp_send_worker_config(w->ch, 0, &wc, fd, WASP_IPC_SEND_CLOSE_FD);
	if (r < 0)
		return log_errno(r, "send configuration to worker %u", w->id);
	fd = pool_routes_memfd(env, w->pool);
	if (fd < 0)
		return log_errno(fd, "routing table for worker %u", w->id);
	r = wasp_send_route_table(w->ch, 0, &gen, fd, WASP_IPC_SEND_CLOSE_FD);
	if (r < 0)
		return log_errno(r, "send routing table to worker %u", w->id);
	return adapters_pair_worker(env, w);
}

/* Test hook (--test-hooks only): WASP_TEST_SETUP_FAIL=POOL makes setting up
 * that pool's workers (configuration, routing table, handoff channels)
 * fail, as running out of descriptors would. */
static bool
worker_test_setup_fails(const struct pool *p)
{
	const char *pool = p->env->test_hooks ? getenv("WASP_TEST_SETUP_FAIL") : NULL;

	return pool && streq(pool, p->name);
}

/* A test hook's value for one pool: the environment variable var holds
 * "POOL:VALUE"; VALUE when POOL is name, else NULL. The pool name ends at the
 * first colon, or at the last one when last (for a value that may hold one,
 * the first; for a pool name that may, the last). */
static const char *
test_hook_value(const char *var, const char *name, bool last)
{
	const char *v = getenv(var);
	const char *colon = v ? (last ? strrchr(v, ':') : strchr(v, ':')) : NULL;

	if (!colon || (size_t)(colon - v) != strlen(name) ||
	    strncmp(v, name, (size_t)(colon - v)) != 0)
		return NULL;
	return colon + 1;
}

/* Start one worker for p (replacing `replaces` when overlapped recycling).
 * NULL when it could not be started (logged, counted as a failure). */
static struct worker *
worker_spawn(struct pool *p, struct worker *replaces, const char *why)
{
	struct wasp_env *env = p->env;
	_cleanup_free_ char *path = spawn_program_path(env, "wasp-worker");
	_cleanup_free_ char *title = NULL;
	char *argv[] = { NULL, NULL };
	struct spawn_opts o = { .path = path, .argv = argv, .ident = &p->ident,
				.pool_env = p->cfg->env, .n_pool_env = p->cfg->n_env };
	_cleanup_free_ char *hang = NULL, *nofile = NULL;
	const char *extra_env[3] = { NULL, NULL, NULL };
	struct worker *w;
	int fds[2], r;
	pid_t pid;
	char buf[32];

	/* What ps shows, as w3wp's `-ap "NAME"`: the pool (the kernel's comm
	 * stays the program's file name, for pgrep and top). */
	if (!path || asprintf(&title, "wasp-worker: %s", p->name) < 0)
		return NULL;
	argv[0] = title;
	p->spawned++;
	/* Test hook (--test-hooks only): WASP_TEST_WORKER_PROGRAM=POOL:PATH runs
	 * PATH instead of wasp-worker for that pool: a fake worker that breaks
	 * the protocol, to test that waspd survives it. */
	if (env->test_hooks) {
		const char *prog = test_hook_value("WASP_TEST_WORKER_PROGRAM", p->name, false);
		if (prog) {
			free(path);
			path = strdup(prog);
			if (!path)
				return NULL;
			argv[0] = path;
			o.path = path;
		}
	}
	/* Test hook (--test-hooks only): WASP_TEST_HANG_STARTUP_FROM=POOL:N makes
	 * that pool's workers from the Nth one on never report ready (through
	 * the worker's own WASP_TEST_HANG_STARTUP switch), so a test can make a
	 * recycle's replacement fail while the first worker serves. */
	if (env->test_hooks) {
		const char *from = test_hook_value("WASP_TEST_HANG_STARTUP_FROM", p->name, true);
		uint64_t nth;
		if (from && wasp_parse_u64(from, UINT32_MAX, &nth) >= 0 && p->spawned >= nth) {
			if (asprintf(&hang, "WASP_TEST_HANG_STARTUP=%s", p->name) < 0)
				return NULL;
			extra_env[0] = hang;
			o.extra_env = extra_env;
		}
	}
	/* Test hook (--test-hooks only): WASP_TEST_WORKER_NOFILE=POOL:N makes
	 * that pool's workers lower their RLIMIT_NOFILE to N (they size their
	 * connection limit from it), through the worker's WASP_TEST_NOFILE. */
	if (env->test_hooks) {
		const char *nf = test_hook_value("WASP_TEST_WORKER_NOFILE", p->name, true);
		if (nf) {
			if (asprintf(&nofile, "WASP_TEST_NOFILE=%s", nf) < 0)
				return NULL;
			extra_env[hang ? 1 : 0] = nofile;
			o.extra_env = extra_env;
		}
	}
	if (p->ident_error < 0) {
		log_errno(p->ident_error, "pool '%s': cannot start a worker: identity '%s'",
			  p->name, strempty(p->cfg->process_model.user_name));
		(void)pool_count_failure(p, FAILURE_SPAWN);
		return NULL;
	}
	r = wasp_ipc_socketpair(fds);
	if (r < 0) {
		log_errno(r, "pool '%s': worker channel", p->name);
		return NULL;
	}
	o.channel_fd = fds[1];
	r = spawn_child(&o, &pid);
	safe_close(fds[1]);
	if (r < 0) {
		safe_close(fds[0]);
		log_errno(r, "pool '%s': cannot start %s as %s", p->name, path,
			  p->ident.change ? p->ident.name : "the daemon's user");
		p->start_failures++;
		if (!pool_count_failure(p, FAILURE_SPAWN))
			pool_respawn(p, false, false);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		safe_close(fds[0]);
		(void)kill(pid, SIGKILL);
		log_errno(-ENOMEM, "pool '%s': worker", p->name);
		return NULL;
	}
	w->pool = p;
	w->id = ++env->next_worker_id;
	w->pid = pid;
	w->state = WORKER_STARTING;
	w->started_mono = wasp_now_usec();
	w->started_real = wasp_realtime_usec();
	w->replaces = replaces;
	w->next = p->workers;
	p->workers = w;
	/* Overlapped recycling: the old worker serves meanwhile, so the
	 * replacement starts on what CPU the busy processes leave (sched.c).
	 * The child has exec'd by now (spawn_child waits for it): the exec
	 * itself ran at normal priority and did not hold waspd up. */
	if (replaces && env->background_start) {
		r = sched_background(pid);
		if (r == 0) {
			w->background = true;
			(void)timer_arm(env->base, &w->sched_timer, worker_on_sched_timer, w,
					WASP_BACKGROUND_START_MAX_USEC);
		} else {
			log_debug_errno(r, "pool '%s': worker %u in the background", p->name,
					w->id);
		}
	}
	w->ch = wasp_ipc_channel_new(env->base, fds[0], &worker_ops, w);
	if (!w->ch || worker_test_setup_fails(p) || worker_send_config(w) < 0) {
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
	(void)timer_arm(env->base, &w->limit_timer, worker_on_startup_timeout, w,
			p->cfg->process_model.startup_time_limit);
	log_notice("pool '%s': starting worker %u (pid %d) as %s: %s (startupTimeLimit %s)",
		   p->name, w->id, (int)pid, p->ident.change ? p->ident.name : "the daemon's user",
		   why, fmt_span(p->cfg->process_model.startup_time_limit, buf));
	return w;
}

/* Stop giving w work and ask it to finish: WORKER_GONE to the adapters
 * first, then DRAIN; shutdownTimeLimit bounds the wait. */
static void
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
	worker_stop_timers(w);
	w->state = WORKER_DRAINING;
	w->stop_reason = why;
	r = wasp_send_drain(w->ch, 0);
	if (r < 0) {
		log_warning_errno(r, "pool '%s': DRAIN to worker %u, killing it", p->name, w->id);
		worker_kill(w, why);
		return;
	}
	log_notice("pool '%s': draining worker %u (pid %d): %s", p->name, w->id, (int)w->pid, why);
	(void)timer_arm(p->env->base, &w->limit_timer, worker_on_shutdown_timeout, w,
			p->cfg->process_model.shutdown_time_limit);
}

static size_t
pool_live_workers(const struct pool *p)
{
	return pool_count_workers(p, WORKER_STARTING) + pool_count_workers(p, WORKER_READY);
}

/* Demand is fresh while the adapter's waiting connections can still be
 * served: it answers them 503 after startupTimeLimit and asks again. */
static bool
pool_has_demand(const struct pool *p)
{
	return p->demand &&
	       wasp_now_usec() - p->demand_time < p->cfg->process_model.startup_time_limit;
}

static void
pool_on_respawn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;

	pool_respawn(p, p->respawn_replace, true);
}

/* Start a worker when the pool needs one and has none: AlwaysRunning, fresh
 * demand, or a hung worker to replace. After consecutive start failures
 * (crash before READY, startupTimeLimit, exec failure, set-up failure) the next attempt
 * waits 100 ms, doubling up to 10 s, so a worker that cannot start does not
 * make waspd spin even with rapid-fail protection off. */
static void
pool_respawn(struct pool *p, bool replace, bool from_timer)
{
	const char *why;
	uint64_t delay = 0;

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
		if (p->respawn_timer && evtimer_pending(p->respawn_timer, NULL)) {
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
	(void)timer_arm(p->env->base, &p->respawn_timer, pool_on_respawn_timer, p, delay);
}

/* After a worker died or was killed: stop-completion, rapid-fail, restart. */
static void
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
		if (w->replaces) {
			log_error("pool '%s': recycle of worker %u failed (its replacement "
				  "crashed); it keeps serving",
				  p->name, w->replaces->id);
			p->recycle_failures++;
		}
	}
	worker_send_gone(w);
	w->pid = 0;
	worker_free(w);
	pool_after_worker_loss(p, failure, FAILURE_CRASH, false);
	daemon_check_shutdown(env);
}

void
pool_on_demand(struct pool *p)
{
	size_t starting = pool_count_workers(p, WORKER_STARTING);
	size_t ready = pool_count_workers(p, WORKER_READY);
	uint32_t max = p->cfg->process_model.max_processes;

	if (p->state != WASP_POOL_STARTED || p->env->stopping) {
		log_debug("pool '%s': demand while %s, ignoring", p->name, pool_state_name(p->state));
		return;
	}
	if (max == 0)
		max = 1;
	p->demand = true;
	p->demand_time = wasp_now_usec();
	if (starting > 0 || pool_rotating(p))
		return; /* a worker is coming, or comes when the rotated one exited */
	if (ready == 0 && p->respawn_timer && evtimer_pending(p->respawn_timer, NULL))
		return; /* backing off after start failures; the timer starts one */
	if (ready == 0)
		(void)worker_spawn(p, NULL, "on demand");
	else if (ready < max)
		(void)worker_spawn(p, NULL, "on demand (web garden)");
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

int
pool_recycle(struct pool *p, const char *why)
{
	struct worker *w, *next;
	int n = 0;

	if (p->state != WASP_POOL_STARTED)
		return -ESRCH;
	for (w = p->workers; w; w = next) {
		next = w->next;
		if (w->state == WORKER_READY && !w->replaces && worker_recycle(w, why))
			n++;
	}
	return n;
}

int
pool_recycle_config(struct pool *p)
{
	static const char why[] = "configuration changed";
	struct worker *w, *next;
	int r;

	if (p->state != WASP_POOL_STARTED)
		return -ESRCH;
	/* A worker still starting was sent the previous configuration at its
	 * spawn and has served nothing yet: it is stopped now rather than
	 * recycled once ready. A replacement of an overlapped recycle lets go
	 * of its ready worker (worker_drain clears `recycling`), which
	 * pool_recycle below gives a new replacement; any other starting
	 * worker gets a fresh one in its place first, so a failed start
	 * leaves the pool no worse off. New workers go to the head of the
	 * list: `next` never reaches them. */
	for (w = p->workers; w && p->state == WASP_POOL_STARTED; w = next) {
		next = w->next;
		if (w->state != WORKER_STARTING)
			continue;
		if (!w->replaces && !worker_spawn(p, NULL, "configuration changed while a worker "
							   "was starting"))
			continue;
		worker_drain(w, why); /* "stopping worker N before it was ready" */
	}
	r = pool_recycle(p, why);
	return r < 0 ? r : 0;
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

void
pools_kill_all(struct wasp_env *env, int sig)
{
	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w; w = w->next)
			if (w->pid > 0)
				(void)kill(w->pid, sig);
}

/* ---- schedule ------------------------------------------------------------ */

static void pool_on_schedule(evutil_socket_t fd, short what, void *arg);

/* Arm the pool's schedule timer for the next of its times of day strictly
 * after max(now, after). libevent counts a timer from the time it cached
 * when the loop woke up, so a timer armed late in a long callback (a
 * reload) would fire that much early: the cache is brought up to date
 * first, pool_on_schedule() waits out what is left if it fires early all
 * the same, and from there the time it was due is `after`, so the same
 * time of day is not taken again (it was, and recycled the replacement as
 * well). */
static void
pool_arm_schedule(struct pool *p, uint64_t after)
{
	const struct wasp_apppool *c = p->cfg;
	uint64_t now_real = MAX(wasp_realtime_usec(), after), tod, next = UINT64_MAX;
	time_t t = (time_t)(now_real / USEC_PER_SEC);
	struct tm tm;

	if (c->recycling.n_schedule == 0 || !localtime_r(&t, &tm))
		return;
	tod = ((uint64_t)tm.tm_hour * 3600 + (uint64_t)tm.tm_min * 60 + (uint64_t)tm.tm_sec) *
		      USEC_PER_SEC +
	      now_real % USEC_PER_SEC;
	for (size_t i = 0; i < c->recycling.n_schedule; i++) {
		uint64_t s = c->recycling.schedule[i] % (86400 * USEC_PER_SEC);
		uint64_t d = s > tod ? s - tod : s + 86400 * USEC_PER_SEC - tod;
		next = MIN(next, d);
	}
	p->schedule_due = now_real + next;
	(void)event_base_update_cache_time(p->env->base);
	(void)timer_arm(p->env->base, &p->schedule_timer, pool_on_schedule, p, next);
}

static void
pool_on_schedule(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	uint64_t now = wasp_realtime_usec();

	if (now < p->schedule_due) {
		/* Early (see pool_arm_schedule): not before the time. */
		(void)event_base_update_cache_time(p->env->base);
		(void)timer_arm(p->env->base, &p->schedule_timer, pool_on_schedule, p,
				p->schedule_due - now);
		return;
	}
	(void)pool_recycle(p, "periodicRestart schedule");
	pool_arm_schedule(p, p->schedule_due);
}

/* ---- setup --------------------------------------------------------------- */

static void
pool_resolve_identity(struct pool *p)
{
	const struct wasp_apppool *c = p->cfg;
	int r;

	identity_done(&p->ident);
	p->ident_error = 0;
	r = identity_pool(p->env, p, &p->ident);
	if (r < 0) {
		p->ident_error = r;
		log_errno(r, "%s:%d: application pool '%s': cannot resolve its identity "
			  "(identityType %d, userName '%s'); the pool stays stopped",
			  strempty(c->file), c->line, p->name, (int)c->process_model.identity_type,
			  strempty(c->process_model.user_name));
	} else if (p->ident.change) {
		log_info("pool '%s' runs as %s (uid %u, gid %u)", p->name, p->ident.name,
			 (unsigned)p->ident.uid, (unsigned)p->ident.gid);
	}
}

static void
pool_record_done(struct pool *p)
{
	timer_free(&p->schedule_timer);
	timer_free(&p->respawn_timer);
	free(p->fail_times);
	identity_done(&p->ident);
}


int
pools_init(struct wasp_env *env)
{
	const struct wasp_apphost *ah = env->ah;

	env->pools = calloc(ah->n_pools ? ah->n_pools : 1, sizeof(struct pool));
	if (!env->pools)
		return -ENOMEM;
	env->n_pools = ah->n_pools;
	for (size_t i = 0; i < ah->n_pools; i++) {
		struct pool *p = &env->pools[i];
		const struct wasp_apppool *c = &ah->pools[i];

		p->env = env;
		p->cfg = c;
		p->gen = env->cfg;
		p->name = c->name;
		p->id = (uint32_t)i;
		p->state = c->auto_start ? WASP_POOL_STARTED : WASP_POOL_STOPPED;
		p->reason = c->auto_start ? WASP_POOL_REASON_NONE : WASP_POOL_REASON_AUTOSTART;
		pool_resolve_identity(p);
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
pools_free(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_pools; i++) {
		struct pool *p = &env->pools[i];
		while (p->workers) {
			if (p->workers->pid > 0)
				(void)kill(p->workers->pid, SIGKILL);
			worker_free(p->workers);
		}
		pool_record_done(p);
	}
	free(env->pools);
	env->pools = NULL;
	env->n_pools = 0;
}

/* ---- reload -------------------------------------------------------------- */

/* A pending timer whose argument is a pool record that moves: the same
 * expiry, the new argument. */
static void
timer_rebind(struct event_base *base, struct event **ev, event_callback_fn cb, void *arg)
{
	struct timeval when, now;
	uint64_t w, n;

	if (!*ev)
		return;
	if (!evtimer_pending(*ev, &when)) {
		timer_free(ev);
		return;
	}
	timer_free(ev);
	(void)evutil_gettimeofday(&now, NULL);
	w = (uint64_t)when.tv_sec * USEC_PER_SEC + (uint64_t)when.tv_usec;
	n = (uint64_t)now.tv_sec * USEC_PER_SEC + (uint64_t)now.tv_usec;
	(void)timer_arm(base, ev, cb, arg, w > n ? w - n : 0);
}

static void
pool_moved(struct pool *p)
{
	for (struct worker *w = p->workers; w; w = w->next)
		w->pool = p;
	timer_rebind(p->env->base, &p->respawn_timer, pool_on_respawn_timer, p);
	timer_free(&p->schedule_timer); /* re-armed from the new schedule */
}

static bool
identity_config_changed(const struct wasp_apppool *a, const struct wasp_apppool *b)
{
	return a->process_model.identity_type != b->process_model.identity_type ||
	       !streq(strempty(a->process_model.user_name), strempty(b->process_model.user_name));
}

int
pools_reload(struct wasp_env *env, struct wasp_config *cfg, const struct wasp_apphost *ah,
	     struct pools_reload_stats *ret_stats)
{
	struct pools_reload_stats st = { 0 };
	struct pool *np, *old = env->pools;
	size_t n_old = env->n_pools, n_removed = 0, k;
	_cleanup_free_ size_t *from = NULL; /* new index -> old index + 1, 0 = new pool */
	_cleanup_free_ bool *taken = NULL;
	_cleanup_free_ bool *reset_fails = NULL; /* another failure window: start over */
	_cleanup_free_ bool *ident_redo = NULL;
	_cleanup_free_ struct name_ref *old_names = NULL; /* the pools that stay, by name */
	size_t n_old_names = 0;

	/* Everything that can fail first: nothing changes on -ENOMEM. */
	from = calloc(ah->n_pools + 1, sizeof(*from));
	taken = calloc(n_old + 1, sizeof(*taken));
	reset_fails = calloc(ah->n_pools + 1, sizeof(*reset_fails));
	ident_redo = calloc(ah->n_pools + 1, sizeof(*ident_redo));
	old_names = calloc(n_old + 1, sizeof(*old_names));
	if (!from || !taken || !reset_fails || !ident_redo || !old_names)
		return -ENOMEM;
	for (size_t j = 0; j < n_old; j++)
		if (!old[j].removed)
			old_names[n_old_names++] = (struct name_ref){ old[j].name, (uint32_t)j };
	name_refs_sort(old_names, n_old_names);
	for (size_t i = 0; i < ah->n_pools; i++) {
		const struct wasp_apppool *c = &ah->pools[i];
		const struct name_ref *o = name_refs_find(old_names, n_old_names, c->name);

		/* the first of that name not taken (names are unique but for case) */
		for (; o && o < old_names + n_old_names && strcaseeq(o->name, c->name); o++)
			if (!taken[o->index]) {
				taken[o->index] = true;
				from[i] = o->index + 1;
				break;
			}
		reset_fails[i] = from[i] && old[from[i] - 1].cfg->failure.rapid_fail_protection_max_crashes !=
						    c->failure.rapid_fail_protection_max_crashes;
	}
	/* Pools gone from the configuration stay (at the end, stopping) until
	 * their last worker has exited; the next reload drops them. */
	for (size_t j = 0; j < n_old; j++)
		if (!taken[j] && old[j].workers)
			n_removed++;
	np = calloc(ah->n_pools + n_removed + 1, sizeof(*np));
	if (!np)
		return -ENOMEM;

	for (size_t i = 0; i < ah->n_pools; i++) {
		const struct wasp_apppool *c = &ah->pools[i];
		struct pool *p = &np[i];

		if (from[i]) {
			*p = old[from[i] - 1];
			ident_redo[i] = p->ident_error < 0 || identity_config_changed(p->cfg, c);
			if (reset_fails[i]) {
				free(p->fail_times);
				p->fail_times = NULL;
				p->n_fail = 0;
			}
		} else {
			*p = (struct pool){
				.env = env,
				.state = c->auto_start ? WASP_POOL_STARTED : WASP_POOL_STOPPED,
				.reason = c->auto_start ? WASP_POOL_REASON_NONE
							: WASP_POOL_REASON_AUTOSTART,
			};
			ident_redo[i] = true;
			st.added++;
		}
		p->cfg = c;
		p->gen = cfg;
		p->name = c->name;
		p->id = (uint32_t)i;
	}
	k = ah->n_pools;
	for (size_t j = 0; j < n_old; j++) {
		if (taken[j])
			continue;
		if (!old[j].removed)
			st.removed++;
		if (!old[j].workers) {
			pool_record_done(&old[j]);
			continue;
		}
		np[k] = old[j];
		np[k].id = (uint32_t)k;
		np[k].removed = true;
		k++;
	}
	for (size_t i = 0; i < k; i++)
		if (i >= ah->n_pools || from[i])
			pool_moved(&np[i]);
	free(old);
	env->pools = np;
	env->n_pools = k;

	/* Identities once the new pools are in place (ApplicationPoolIdentity
	 * uids must not collide with another pool's). */
	for (size_t i = 0; i < ah->n_pools; i++) {
		struct pool *p = &np[i];

		if (!ident_redo[i])
			continue;
		pool_resolve_identity(p);
		if (p->ident_error < 0 && !from[i]) {
			p->state = WASP_POOL_STOPPED;
			p->reason = WASP_POOL_REASON_STARTUP_FAILED;
		}
		if (!from[i])
			log_info("pool '%s': added, %s", p->name, pool_state_name(p->state));
	}
	if (ret_stats)
		*ret_stats = st;
	return 0;
}

void
pools_reload_start(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_pools; i++) {
		struct pool *p = &env->pools[i];

		if (p->removed) {
			(void)pool_stop(p, WASP_POOL_REASON_OPERATOR,
					"removed from the configuration");
			continue;
		}
		pool_arm_schedule(p, 0);
		if (p->state == WASP_POOL_STARTED &&
		    p->cfg->start_mode == WASP_START_ALWAYS_RUNNING && pool_live_workers(p) == 0 &&
		    !pool_rotating(p) && !(p->respawn_timer && evtimer_pending(p->respawn_timer, NULL)))
			(void)worker_spawn(p, NULL, "AlwaysRunning");
	}
}

void
pools_send_routes(struct wasp_env *env)
{
	uint32_t gen = env->generation;

	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w; w = w->next) {
			int fd, r;

			if (!w->ch || w->state == WORKER_DEAD)
				continue;
			fd = pool_routes_memfd(env, &env->pools[i]);
			if (fd < 0) {
				log_errno(fd, "routing table for worker %u", w->id);
				return;
			}
			r = wasp_send_route_table(w->ch, 0, &gen, fd, WASP_IPC_SEND_CLOSE_FD);
			if (r < 0)
				log_errno(r, "send routing table to worker %u", w->id);
		}
}
