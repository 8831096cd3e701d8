/* Application pools as the listener sees them: the queue of connections
 * waiting for a worker (bounded by queueLength, each waiting at most
 * startupTimeLimit), the pool's state, and on-demand activation requests. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "libevent-util.h"
#include "log.h"
#include "lsn.h"
#include "util.h"

#define conn_of_qe(e) ((struct lsn_conn *)((char *)(e)-offsetof(struct lsn_conn, qe)))

static uint64_t
pool_startup_limit_usec(const struct lsn_pool *p)
{
	uint32_t ms = p->rp ? p->rp->startup_time_limit_ms : 90000;

	return (uint64_t)(ms ? ms : 90000) * 1000;
}

static void
pool_on_expire(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_pool *p = arg;
	struct lsn_env *env = p->env;
	uint64_t now = wasp_now_usec(), limit = pool_startup_limit_usec(p);
	struct wasp_queue_entry *e;
	unsigned n = 0;

	while ((e = wasp_queue_pop_expired(&p->queue, now, limit))) {
		struct lsn_conn *c = conn_of_qe(e);
		c->state = LSN_CONN_READING;
		lsn_conn_reject(env, c, 503, "startupTimeLimit passed waiting for a worker");
		n++;
	}
	if (n > 0) {
		log_info("application pool '%s': %u connection(s) waited startupTimeLimit for a "
			 "worker: 503",
			 p->name, n);
		/* Ask again for the next one: the activator may have given up. */
		p->demand_sent = false;
		if (wasp_queue_len(&p->queue) > 0 && p->n_workers == 0)
			lsn_channel_demand(env, p);
	}
	lsn_pool_rearm(env, p);
}

void
lsn_pool_rearm(struct lsn_env *env, struct lsn_pool *p)
{
	uint64_t deadline = wasp_queue_deadline(&p->queue, pool_startup_limit_usec(p)), now, d;
	struct timeval tv;

	if (deadline == 0) {
		(void)event_del(p->ev_expire);
		return;
	}
	now = wasp_now_usec();
	d = deadline > now ? deadline - now : 0;
	tv = wasp_timeval_from_usec(d);
	(void)event_add(p->ev_expire, &tv);
}

struct lsn_pool *
lsn_pool_new(struct lsn_env *env, const char *name)
{
	struct lsn_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->name = strdup(name);
	p->ev_expire = evtimer_new(env->base, pool_on_expire, p);
	if (!p->name || !p->ev_expire) {
		p->ev_expire = wasp_event_free(p->ev_expire);
		free(p->name);
		free(p);
		return NULL;
	}
	p->env = env;
	p->id = UINT32_MAX;
	p->state = WASP_POOL_STARTED;
	wasp_queue_init(&p->queue, 0);
	TAILQ_INIT(&p->workers);
	TAILQ_INSERT_TAIL(&env->pools, p, link);
	return p;
}

void
lsn_pool_free(struct lsn_env *env, struct lsn_pool *p)
{
	struct lsn_worker *w;

	lsn_pool_flush(env, p, 503, "application pool removed");
	while ((w = TAILQ_FIRST(&p->workers)))
		lsn_handoff_worker_free(env, w);
	TAILQ_REMOVE(&env->pools, p, link);
	event_free(p->ev_expire);
	free(p->name);
	free(p);
}

void
lsn_pool_flush(struct lsn_env *env, struct lsn_pool *p, unsigned status, const char *reason)
{
	bool stopped = p->state == WASP_POOL_STOPPED || p->state == WASP_POOL_STOPPING;
	struct wasp_queue_entry *e;

	while ((e = wasp_queue_pop(&p->queue))) {
		struct lsn_conn *c = conn_of_qe(e);
		c->state = LSN_CONN_READING;
		if (status == 503 && stopped)
			lsn_conn_reject_503(env, c, WASP_REJECT_503_STOPPED, reason);
		else
			lsn_conn_reject(env, c, status, reason);
	}
	(void)event_del(p->ev_expire);
}

void
lsn_pool_enqueue(struct lsn_env *env, struct lsn_pool *p, struct lsn_conn *c)
{
	/* Every worker holds as many connections as it can: wait for a new one
	 * of a web garden that can grow, else 503 at once (a slot may stay
	 * taken for connectionTimeout). */
	if (lsn_handoff_pool_full(p)) {
		if (!p->rp || p->n_workers >= p->rp->max_processes) {
			lsn_conn_reject_503(env, c, WASP_REJECT_503_QUEUE_FULL,
					    "application pool at its connection limit");
			return;
		}
		lsn_channel_demand(env, p);
	}
	if (wasp_queue_push(&p->queue, &c->qe, wasp_now_usec()) < 0) {
		lsn_conn_reject_503(env, c, WASP_REJECT_503_QUEUE_FULL, "application pool queue full");
		return;
	}
	c->state = LSN_CONN_QUEUED;
	lsn_conn_watch_queued(env, c);
	if (wasp_queue_len(&p->queue) == 1)
		lsn_pool_rearm(env, p);
	if (p->n_workers == 0)
		lsn_channel_demand(env, p);
	else
		lsn_pool_drain(env, p);
}

/* Hand queued connections to the pool's workers, oldest first. */
void
lsn_pool_drain(struct lsn_env *env, struct lsn_pool *p)
{
	struct wasp_queue_entry *e;

	while (p->n_workers > 0 && (e = wasp_queue_pop(&p->queue))) {
		struct lsn_conn *c = conn_of_qe(e);
		uint64_t t_enq = e->t_enq, now;

		lsn_conn_drop_event(c);
		c->state = LSN_CONN_READING;
		if (lsn_handoff_send(env, p, c) < 0) {
			/* No usable worker after all: back to the head. */
			wasp_queue_push_head(&p->queue, &c->qe);
			c->state = LSN_CONN_QUEUED;
			lsn_conn_watch_queued(env, c);
			break;
		}
		now = wasp_now_usec();
		p->m.dequeued++;
		p->m.queue_wait_usec += now - MIN(t_enq, now);
		p->m_dirty = true;
	}
	lsn_pool_rearm(env, p);
	if (wasp_queue_len(&p->queue) > 0 && p->n_workers == 0)
		lsn_channel_demand(env, p);
}

void
lsn_pool_set_state(struct lsn_env *env, struct lsn_pool *p, uint32_t state, uint32_t reason)
{
	static const char *const names[] = { "Starting", "Started", "Stopping", "Stopped" };
	uint32_t old = p->state;

	if (state >= WASP_POOL_STATE__COUNT)
		return;
	p->state = state;
	if (old != state)
		log_debug("application pool '%s': %s", p->name, names[state]);
	if (state == WASP_POOL_STOPPED || state == WASP_POOL_STOPPING) {
		lsn_pool_flush(env, p, 503,
			       reason == WASP_POOL_REASON_RAPID_FAIL
				       ? "application pool stopped (rapid-fail protection)"
				       : "application pool stopped");
		p->demand_sent = false;
		return;
	}
	if (old != state)
		p->demand_sent = false;
	if (wasp_queue_len(&p->queue) > 0) {
		if (p->n_workers > 0)
			lsn_pool_drain(env, p);
		else
			lsn_channel_demand(env, p);
	}
}
