/* Pools across a reload: the records of pools that stay move into the new
 * array with their workers, counters and timers; new pools are added and
 * their identities resolved; pools gone stay, stopping, while they have
 * workers. reload.c decides what changed and calls these in order. */
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "config.h"
#include "log.h"
#include "pool_internal.h"

/* p's record moved: whoever points at it follows. */
static void
pool_moved(struct pool *p)
{
	for (struct worker *w = p->workers; w; w = w->next)
		w->pool = p;
	if (p->respawn_timer)
		p->respawn_timer->arg = p; /* the same expiry, the new argument */
	timer_free(&p->schedule_timer); /* re-armed from the new schedule */
}

static bool
identity_config_changed(const struct wasp_apppool *a, const struct wasp_apppool *b)
{
	return a->process_model.identity_type != b->process_model.identity_type ||
	       !streq(strempty(a->process_model.user_name), strempty(b->process_model.user_name));
}

/* Where each new pool's record comes from: from[i] = old index + 1, 0 for
 * a new pool; taken[j]: old pool j stays; reset_fails[i]: the pool's
 * rapid-fail window changed size, its failures start over (the window is
 * allocated again at the next failure). The old pools are found by a
 * name table, not one pass over them per new pool. -ENOMEM, nothing
 * changed. */
static int
pools_reload_match(struct wasp_env *env, const struct wasp_apphost *ah, size_t *from,
		   bool *taken, bool *reset_fails)
{
	const struct pool *old = env->pools;
	struct name_table old_names;

	if (name_table_init(&old_names, env->n_pools) < 0)
		return -ENOMEM;
	for (size_t j = 0; j < env->n_pools; j++)
		if (!old[j].removed)
			name_table_add(&old_names, old[j].name, (uint32_t)j);
	for (size_t i = 0; i < ah->n_pools; i++) {
		const struct wasp_apppool *c = &ah->pools[i];
		const struct name_ref *o;
		size_t pos = 0;

		/* the first of that name not taken (names are unique but for case) */
		while ((o = name_table_next(&old_names, c->name, &pos)))
			if (!taken[o->index]) {
				taken[o->index] = true;
				from[i] = o->index + 1;
				break;
			}
		reset_fails[i] = from[i] && old[from[i] - 1].cfg->failure.rapid_fail_protection_max_crashes !=
						    c->failure.rapid_fail_protection_max_crashes;
	}
	name_table_done(&old_names);
	return 0;
}

/* Identities once the new pools are in place: a new or changed pool's
 * uid is clear of every uid the others hold, those kept (whatever their
 * place) and those of removed pools still running. */
static void
pools_reload_identities(struct wasp_env *env, const struct wasp_apphost *ah, const size_t *from,
			const bool *ident_redo, struct identity_taken *taken)
{
	for (size_t i = 0; i < env->n_pools; i++)
		if (i >= ah->n_pools || !ident_redo[i])
			identity_taken_add(taken, &env->pools[i]);
	for (size_t i = 0; i < ah->n_pools; i++) {
		struct pool *p = &env->pools[i];

		if (!ident_redo[i])
			continue;
		pool_resolve_identity(p, taken);
		if (p->ident_error < 0 && !from[i]) {
			p->state = WASP_POOL_STOPPED;
			p->reason = WASP_POOL_REASON_STARTUP_FAILED;
		}
		if (!from[i])
			log_info("pool '%s': added, %s", p->name, pool_state_name(p->state));
	}
}

/* The old pools gone from the configuration (!taken): those with workers
 * go to np from index k on, marked removed; the others' records are done.
 * Returns the number of pools in np. */
static size_t
pools_reload_removed(struct wasp_env *env, const bool *taken, struct pool *np, size_t k,
		     struct pools_reload_stats *st)
{
	struct pool *old = env->pools;

	for (size_t j = 0; j < env->n_pools; j++) {
		if (taken[j])
			continue;
		if (!old[j].removed)
			st->removed++;
		if (!old[j].workers) {
			pool_record_done(&old[j]);
			continue;
		}
		np[k] = old[j];
		np[k].id = (uint32_t)k;
		np[k].removed = true;
		k++;
	}
	return k;
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
	_cleanup_(identity_taken_done) struct identity_taken held = { 0 };

	/* Everything that can fail first: nothing changes on -ENOMEM. */
	if (identity_taken_init(&held, ah->n_pools + n_old) < 0)
		return -ENOMEM;
	from = calloc(ah->n_pools + 1, sizeof(*from));
	taken = calloc(n_old + 1, sizeof(*taken));
	reset_fails = calloc(ah->n_pools + 1, sizeof(*reset_fails));
	ident_redo = calloc(ah->n_pools + 1, sizeof(*ident_redo));
	if (!from || !taken || !reset_fails || !ident_redo)
		return -ENOMEM;
	if (pools_reload_match(env, ah, from, taken, reset_fails) < 0)
		return -ENOMEM;
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
	k = pools_reload_removed(env, taken, np, ah->n_pools, &st);
	for (size_t i = 0; i < k; i++)
		if (i >= ah->n_pools || from[i])
			pool_moved(&np[i]);
	free(old);
	env->pools = np;
	env->n_pools = k;
	pools_reload_identities(env, ah, from, ident_redo, &held);
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
		pool_start_always_running(p);
	}
}
