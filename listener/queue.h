/* A bounded FIFO of waiting connections (one per application pool): the
 * entries are embedded in the caller's objects, so pushing allocates
 * nothing. Each entry remembers when it was queued; the owner arms one
 * timer for the head's deadline (the oldest waits longest). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

struct wasp_queue_entry {
	TAILQ_ENTRY(wasp_queue_entry) link;
	uint64_t t_enq; /* usec, monotonic */
	bool queued;
};

struct wasp_queue {
	TAILQ_HEAD(, wasp_queue_entry) head;
	uint32_t n;
	uint32_t max; /* pushes beyond it fail */
};

void wasp_queue_init(struct wasp_queue *q, uint32_t max);
/* A new bound; entries already queued stay even when over it. */
void wasp_queue_set_max(struct wasp_queue *q, uint32_t max);
/* Append e (not queued elsewhere), stamped now. 0, or -ENOBUFS when full. */
int wasp_queue_push(struct wasp_queue *q, struct wasp_queue_entry *e, uint64_t now);
/* Put back an entry just popped, at the head, keeping its time (the bound
 * is not checked: it was in the queue a moment ago). */
void wasp_queue_push_head(struct wasp_queue *q, struct wasp_queue_entry *e);
/* Take the oldest entry out; NULL when empty. */
struct wasp_queue_entry *wasp_queue_pop(struct wasp_queue *q);
/* Take e out wherever it is (no-op when not queued). */
void wasp_queue_remove(struct wasp_queue *q, struct wasp_queue_entry *e);
/* The oldest entry if it waited limit usec or more by now (taken out), else NULL. */
struct wasp_queue_entry *wasp_queue_pop_expired(struct wasp_queue *q, uint64_t now,
						uint64_t limit);
/* When the oldest entry's wait reaches limit (usec, monotonic); 0 when empty. */
uint64_t wasp_queue_deadline(const struct wasp_queue *q, uint64_t limit);

static inline uint32_t
wasp_queue_len(const struct wasp_queue *q)
{
	return q->n;
}
