/* What the pool files share and nothing else sees: pool.c (pool states,
 * operator verbs, rapid-fail counting, start back-off, demand),
 * pool_worker.c (the worker record, worker_set_state() and its timers,
 * spawn, drain, kill, its exit), pool_worker_msg.c (the worker's messages),
 * pool_recycle.c
 * (recycle triggers and the schedule) and pool_reload.c (pools across a
 * reload). The unit tests (tests/unit/test_activator_pool.c) drive the
 * state machines through these too. */
#pragma once

#include "timespan.h"
#include "waspd.h"

struct wasp_ipc_channel_ops;
struct wasp_msg_worker_stats;

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

enum failure_kind {
	FAILURE_CRASH,
	FAILURE_STARTUP,
	FAILURE_PING,
	FAILURE_SPAWN,
};

/* pool.c */
/* A new pool record for c (id, state from autoStart, the rapid-fail
 * window); the identity is resolved apart (pool_resolve_identity). */
int pool_record_init(struct pool *p, struct wasp_env *env, const struct wasp_apppool *c,
		     uint32_t id);
void pool_record_done(struct pool *p);
void pool_resolve_identity(struct pool *p, struct identity_taken *taken);
/* Record a worker failure; true when rapid-fail protection stopped the pool. */
bool pool_count_failure(struct pool *p, enum failure_kind kind);
/* After a worker died or was killed: stop-completion, rapid-fail, restart. */
void pool_after_worker_loss(struct pool *p, bool failure, enum failure_kind kind, bool replace);
void pool_respawn(struct pool *p, bool replace, bool from_timer);
void pool_on_respawn_timer(void *arg);
void pool_grow_garden(struct pool *p);
size_t pool_live_workers(const struct pool *p);
bool pool_rotating(const struct pool *p);
/* AlwaysRunning p has no worker and none is coming: start one. */
void pool_start_always_running(struct pool *p);

/* pool_worker.c */
/* Start one worker for p (replacing `replaces` when overlapped recycling).
 * NULL when it could not be started (logged, counted as a failure). */
struct worker *worker_spawn(struct pool *p, struct worker *replaces, const char *why);
/* Set w's state and the timers that belong to it (see the definition).
 * 0, or -errno when a timer could not be armed and w was killed. */
int worker_set_state(struct worker *w, enum worker_state state);
/* Stop giving w work and ask it to finish (shutdownTimeLimit bounds it). */
void worker_drain(struct worker *w, const char *why);
/* Kill w now (SIGKILL; it is reaped later). */
void worker_kill(struct worker *w, const char *why);
void worker_free(struct worker *w);
/* w, a recycle's replacement, failed: the worker it replaces keeps serving
 * (logged with how, counted). */
void worker_replacement_failed(struct worker *w, const char *how);
/* WORKER_GONE to the adapters, once, for an announced worker. */
void worker_send_gone(struct worker *w);
/* A background start (sched.c) back to normal priority. */
void worker_foreground(struct worker *w, const char *why);
/* After WORKER_STATS: idleTimeout counts from when w is first seen idle. */
void worker_track_idle(struct worker *w, bool active);

/* pool_worker_msg.c */
extern const struct wasp_ipc_channel_ops worker_channel_ops;
/* The worker's messages (its channel's handlers call these; so do the
 * unit tests). */
int worker_handle_ready(struct worker *w);
void worker_handle_pong(struct worker *w, uint64_t token);
void worker_handle_stats(struct worker *w, const struct wasp_msg_worker_stats *st);
/* WORKER_APPS's payload (len bytes): 0, or -EBADMSG when it does not keep
 * its layout (the channel is cut), -ENOMEM. */
int worker_handle_apps(struct worker *w, const uint8_t *payload, size_t len);
void worker_handle_channel_lost(struct worker *w, uint32_t adapter_id);
void worker_handle_channel_close(struct worker *w, int err);

/* pool_recycle.c */
/* Whether a recycle of w started: overlapped (a replacement starts, w
 * serves until it is ready) or, with disallowOverlappingRotation, w drains
 * first. */
bool worker_recycle(struct worker *w, enum recycle_reason reason, const char *why);
/* periodicRestart requests, memory and privateMemory, after new stats. */
void worker_recycle_check(struct worker *w);
void worker_on_recycle_timer(void *arg);
/* Arm p's schedule timer for the next of its times of day after
 * max(now, after). */
void pool_arm_schedule(struct pool *p, uint64_t after);
