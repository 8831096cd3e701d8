/* The listener's workers by worker id (WORKER_CHANNEL, WORKER_GONE name a
 * worker by it): a chained hash table of the workers it holds, grown by
 * doubling, so that finding one costs the same with 10,000 pools as with
 * two (it was a walk over every pool, each elsewhere in memory: a third of
 * the listener's part of a never-started site's first request at 10,000
 * sites, docs/performance.md). */
#include <stdlib.h>

#include "lsn.h"
#include "util.h"

static uint32_t
id_hash(uint32_t id)
{
	/* ids are handed out in sequence: a multiplicative hash spreads them */
	return id * 2654435761u;
}

static int
workers_grow(struct lsn_env *env)
{
	uint32_t size = env->worker_ids_mask ? 2 * (env->worker_ids_mask + 1) : 16;
	struct lsn_worker **v = calloc(size, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (uint32_t b = 0; env->worker_ids && b <= env->worker_ids_mask; b++)
		for (struct lsn_worker *w = env->worker_ids[b], *next; w; w = next) {
			uint32_t nb = id_hash(w->worker_id) & (size - 1);

			next = w->id_next;
			w->id_next = v[nb];
			v[nb] = w;
		}
	free(env->worker_ids);
	env->worker_ids = v;
	env->worker_ids_mask = size - 1;
	return 0;
}

int
lsn_workers_add(struct lsn_env *env, struct lsn_worker *w)
{
	uint32_t b;

	if ((!env->worker_ids || env->n_worker_ids > env->worker_ids_mask) && workers_grow(env) < 0)
		return -ENOMEM;
	b = id_hash(w->worker_id) & env->worker_ids_mask;
	w->id_next = env->worker_ids[b];
	env->worker_ids[b] = w;
	env->n_worker_ids++;
	return 0;
}

void
lsn_workers_remove(struct lsn_env *env, struct lsn_worker *w)
{
	struct lsn_worker **at;

	if (!env->worker_ids)
		return;
	for (at = &env->worker_ids[id_hash(w->worker_id) & env->worker_ids_mask]; *at;
	     at = &(*at)->id_next)
		if (*at == w) {
			*at = w->id_next;
			w->id_next = NULL;
			env->n_worker_ids--;
			return;
		}
}

struct lsn_worker *
lsn_workers_find(struct lsn_env *env, uint32_t worker_id)
{
	struct lsn_worker *w;

	if (!env->worker_ids)
		return NULL;
	for (w = env->worker_ids[id_hash(worker_id) & env->worker_ids_mask]; w; w = w->id_next)
		if (w->worker_id == worker_id)
			return w;
	return NULL;
}

void
lsn_workers_done(struct lsn_env *env)
{
	free(env->worker_ids);
	env->worker_ids = NULL;
	env->worker_ids_mask = 0;
	env->n_worker_ids = 0;
}
