/* Bounded per-pool queue of waiting connections; see queue.h. */
#include <errno.h>
#include <stddef.h>

#include "queue.h"

void
wasp_queue_init(struct wasp_queue *q, uint32_t max)
{
	TAILQ_INIT(&q->head);
	q->n = 0;
	q->max = max;
}

void
wasp_queue_set_max(struct wasp_queue *q, uint32_t max)
{
	q->max = max;
}

int
wasp_queue_push(struct wasp_queue *q, struct wasp_queue_entry *e, uint64_t now)
{
	if (q->n >= q->max)
		return -ENOBUFS;
	e->t_enq = now;
	e->queued = true;
	TAILQ_INSERT_TAIL(&q->head, e, link);
	q->n++;
	return 0;
}

void
wasp_queue_push_head(struct wasp_queue *q, struct wasp_queue_entry *e)
{
	e->queued = true;
	TAILQ_INSERT_HEAD(&q->head, e, link);
	q->n++;
}

void
wasp_queue_remove(struct wasp_queue *q, struct wasp_queue_entry *e)
{
	if (!e->queued)
		return;
	TAILQ_REMOVE(&q->head, e, link);
	e->queued = false;
	q->n--;
}

struct wasp_queue_entry *
wasp_queue_pop(struct wasp_queue *q)
{
	struct wasp_queue_entry *e = TAILQ_FIRST(&q->head);

	if (e)
		wasp_queue_remove(q, e);
	return e;
}

struct wasp_queue_entry *
wasp_queue_pop_expired(struct wasp_queue *q, uint64_t now, uint64_t limit)
{
	struct wasp_queue_entry *e = TAILQ_FIRST(&q->head);

	if (!e || now < e->t_enq || now - e->t_enq < limit)
		return NULL;
	wasp_queue_remove(q, e);
	return e;
}

uint64_t
wasp_queue_deadline(const struct wasp_queue *q, uint64_t limit)
{
	const struct wasp_queue_entry *e = TAILQ_FIRST(&q->head);

	return e ? e->t_enq + limit : 0;
}
