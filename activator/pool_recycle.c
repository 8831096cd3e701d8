/* Recycling: what triggers it (periodicRestart time, requests, memory,
 * privateMemory and schedule; the operator; a configuration change) and how
 * a worker is recycled: overlapped (the old worker serves until its
 * replacement is ready; a replacement that fails leaves it serving) or,
 * with disallowOverlappingRotation, the old one first. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apphost.h"
#include "log.h"
#include "pool_internal.h"

bool
worker_recycle(struct worker *w, enum recycle_reason reason, const char *why)
{
	struct pool *p = w->pool;

	if (w->state != WORKER_READY || w->recycling)
		return false;
	pool_metrics_w(p)->recycles[reason]++;
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

void
worker_on_recycle_timer(void *arg)
{
	(void)worker_recycle(arg, RECYCLE_TIME, "periodicRestart time");
}

void
worker_recycle_check(struct worker *w)
{
	const struct wasp_apppool *c = w->pool->cfg;

	if (c->recycling.requests > 0 && w->requests >= c->recycling.requests)
		worker_recycle(w, RECYCLE_REQUESTS, "periodicRestart requests");
	else if (c->recycling.memory_kb > 0 && w->vm_kb >= c->recycling.memory_kb)
		worker_recycle(w, RECYCLE_MEMORY, "periodicRestart memory");
	else if (c->recycling.private_memory_kb > 0 &&
		 w->private_kb >= c->recycling.private_memory_kb)
		worker_recycle(w, RECYCLE_PRIVATE_MEMORY, "periodicRestart privateMemory");
}

static int
pool_recycle_workers(struct pool *p, enum recycle_reason reason, const char *why)
{
	struct worker *w, *next;
	int n = 0;

	if (p->state != WASP_POOL_STARTED)
		return -ESRCH;
	for (w = p->workers; w; w = next) {
		next = w->next;
		if (w->state == WORKER_READY && !w->replaces && worker_recycle(w, reason, why))
			n++;
	}
	return n;
}

int
pool_recycle(struct pool *p, const char *why)
{
	return pool_recycle_workers(p, RECYCLE_MANUAL, why);
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
	r = pool_recycle_workers(p, RECYCLE_CONFIG, why);
	return r < 0 ? r : 0;
}

/* ---- schedule ------------------------------------------------------------ */

static void pool_on_schedule(void *arg);

static void
pool_arm_schedule_timer(struct pool *p, uint64_t usec)
{
	int r = timer_arm(p->env->clock, &p->schedule_timer, pool_on_schedule, p, usec);

	if (r < 0)
		log_errno(r, "pool '%s': cannot arm the periodicRestart schedule timer: its "
			  "workers are not recycled on schedule",
			  p->name);
}

/* Arm the pool's schedule timer for the next of its times of day strictly
 * after max(now, after). A timer that fires early all the same (the real
 * clock counts from the present, clock.c, but a clock step can still make
 * it early) waits out what is left in pool_on_schedule(), and from there
 * the time it was due is `after`, so the same time of day is not taken
 * again (it was, and recycled the replacement as well). */
void
pool_arm_schedule(struct pool *p, uint64_t after)
{
	const struct wasp_apppool *c = p->cfg;
	uint64_t now_real = MAX(clock_realtime(p->env->clock), after), tod, next = UINT64_MAX;
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
	pool_arm_schedule_timer(p, next);
}

static void
pool_on_schedule(void *arg)
{
	struct pool *p = arg;
	uint64_t now = clock_realtime(p->env->clock);

	if (now < p->schedule_due) {
		/* Early (see pool_arm_schedule): not before the time. */
		pool_arm_schedule_timer(p, p->schedule_due - now);
		return;
	}
	(void)pool_recycle_workers(p, RECYCLE_SCHEDULE, "periodicRestart schedule");
	pool_arm_schedule(p, p->schedule_due);
}
