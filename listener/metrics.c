/* The listener's metrics: connections accepted, held, and answered with an
 * error by reason; failed TLS handshakes by kind; per pool, handoffs, hand-backs, the queue's length and
 * the time connections waited in it. Counted here and sent to waspd as
 * what changed since the last report (ADAPTER_METRICS, ADAPTER_POOL_METRICS),
 * so waspd's totals survive a restart of the listener. */
#include <string.h>

#include "log.h"
#include "lsn.h"
#include "util.h"

enum wasp_reject_reason
lsn_reject_reason(unsigned status)
{
	switch (status) {
	case 400:
		return WASP_REJECT_400;
	case 404:
		return WASP_REJECT_404;
	case 408:
		return WASP_REJECT_408;
	case 414:
		return WASP_REJECT_414;
	case 431:
		return WASP_REJECT_431;
	case 503:
		return WASP_REJECT_503_OTHER;
	default:
		return WASP_REJECT_OTHER;
	}
}

void
lsn_metrics_reject(struct lsn_env *env, struct lsn_conn *c, enum wasp_reject_reason why)
{
	env->metrics.rejected[why]++;
	if (c->pool && (why == WASP_REJECT_503_QUEUE_FULL || why == WASP_REJECT_503_STOPPED ||
			why == WASP_REJECT_503_OTHER)) {
		c->pool->m.rejected_503++;
		c->pool->m_dirty = true;
	}
}

/* The pools whose counters moved (or whose queue changed length) since the
 * last report, as many messages as they need. */
static void
send_pools(struct lsn_env *env)
{
	struct wasp_msg_adapter_pool_metrics batch[64];
	size_t n = 0;
	struct lsn_pool *p;

	TAILQ_FOREACH(p, &env->pools, link)
	{
		uint32_t queued = wasp_queue_len(&p->queue);

		if (p->id == UINT32_MAX || !env->table || (!p->m_dirty && queued == p->queued_sent))
			continue;
		p->m.pool_id = p->id;
		p->m.generation = env->table->rt->generation;
		p->m.queued = queued;
		batch[n++] = p->m;
		p->queued_sent = queued;
		memset(&p->m, 0, sizeof(p->m));
		p->m_dirty = false;
		if (n == ELEMENTSOF(batch)) {
			(void)wasp_send_adapter_pool_metrics(env->act, 0, batch, n);
			n = 0;
		}
	}
	if (n > 0)
		(void)wasp_send_adapter_pool_metrics(env->act, 0, batch, n);
}

/* The TLS counters (failed handshakes by kind, client certificates asked
 * for after the handshake), when they moved. */
static void
send_tls(struct lsn_env *env)
{
	if (!env->tls_metrics_dirty ||
	    wasp_send_adapter_tls_metrics(env->act, 0, &env->tls_metrics) < 0)
		return;
	memset(&env->tls_metrics, 0, sizeof(env->tls_metrics));
	env->tls_metrics_dirty = false;
}

void
lsn_metrics_send(struct lsn_env *env)
{
	static const struct wasp_msg_adapter_metrics zero;
	uint32_t active = (uint32_t)MIN(lsn_accept_held(env), (uint64_t)UINT32_MAX);

	if (!env->act || !env->registered)
		return;
	send_pools(env);
	send_tls(env);
	env->metrics.active = active;
	env->metrics.accepted = env->stats.accepted - env->metrics_accepted_sent;
	if (active == env->metrics_active_sent &&
	    memcmp(env->metrics.rejected, zero.rejected, sizeof(zero.rejected)) == 0 &&
	    env->metrics.accepted == 0)
		return;
	if (wasp_send_adapter_metrics(env->act, 0, &env->metrics) < 0)
		return;
	env->metrics_active_sent = active;
	env->metrics_accepted_sent = env->stats.accepted;
	memset(&env->metrics, 0, sizeof(env->metrics));
}
