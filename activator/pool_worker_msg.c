/* A worker's messages to waspd (READY, PONG, WORKER_STATS,
 * HANDOFF_CHANNEL_LOST) and the loss of its channel: the handlers of its
 * activator channel, and the worker_handle_*() functions they call (the
 * unit tests call those directly). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apphost.h"
#include "ipc.h"
#include "log.h"
#include "pool_internal.h"

int
worker_handle_ready(struct worker *w)
{
	struct pool *p = w->pool;
	uint64_t now = clock_now(p->env->clock);

	if (w->state != WORKER_STARTING) {
		log_warning("pool '%s': worker %u (pid %d) reported ready twice, ignoring", p->name,
			    w->id, (int)w->pid);
		return 0;
	}
	w->ready_mono = now;
	pool_metrics_w(p)->last_startup_usec = now - MIN(w->started_mono, now);
	p->start_failures = 0;
	worker_foreground(w, "ready");
	log_notice("pool '%s': worker %u (pid %d) ready in %" PRIu64 " ms", p->name, w->id,
		   (int)w->pid, (now - w->started_mono) / USEC_PER_MSEC);
	if (worker_set_state(w, WORKER_READY) < 0) {
		/* killed: a timer of its could not be armed */
		worker_replacement_failed(w, " (a timer could not be armed)");
		return 0;
	}
	if (p->state != WASP_POOL_STARTED) {
		/* Stopped while it started: it never takes work. */
		worker_drain(w, "pool not started");
		return 0;
	}
	p->env->events->worker_ready(w);
	w->announced = true;
	p->demand = false;

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

void
worker_handle_pong(struct worker *w, uint64_t token)
{
	if (w->ping_outstanding && token == w->ping_token) {
		w->ping_outstanding = false;
		timer_stop(w->pong_timer);
	}
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

void
worker_handle_stats(struct worker *w, const struct wasp_msg_worker_stats *st)
{
	struct pool *p = w->pool;
	bool active;

	active = st->connections > 0 || st->busy > 0 ||
		 (w->have_stats && st->requests != w->requests) ||
		 (!w->have_stats && st->requests > 0);
	if (st->requests > w->requests)
		pool_metrics_w(p)->requests += st->requests - w->requests; /* the pool's, across recycles */
	w->requests = st->requests;
	w->private_kb = st->private_kb;
	w->rss_kb = st->rss_kb;
	w->connections = st->connections;
	w->busy = st->busy;
	w->have_stats = true;
	if (p->cfg->recycling.memory_kb > 0)
		w->vm_kb = proc_vm_kb(w->pid); /* only when a limit needs it */
	if (w->state != WORKER_READY)
		return;
	worker_track_idle(w, active);
	if (w->state != WORKER_READY)
		return;
	pool_grow_garden(p);
	worker_recycle_check(w);
}

static bool
app_proc_valid(const struct wasp_msg_app_proc *a)
{
	return a->pid > 0 && a->kind >= 1 && a->kind <= WASP_APP_PROC_KIND__MAX &&
	       a->state <= WASP_APP_PROC_STATE__MAX &&
	       memchr(a->application, 0, sizeof(a->application));
}

int
worker_handle_apps(struct worker *w, const uint8_t *payload, size_t len)
{
	struct wasp_msg_worker_apps h;
	struct wasp_msg_app_proc *apps = NULL;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, payload, sizeof(h));
	if (h.count > WASP_APP_PROCS_MAX || h.total < h.count ||
	    len != sizeof(h) + (size_t)h.count * sizeof(*apps))
		return -EBADMSG;
	if (h.count > 0) {
		apps = malloc(h.count * sizeof(*apps));
		if (!apps)
			return -ENOMEM;
		memcpy(apps, payload + sizeof(h), h.count * sizeof(*apps));
		for (uint32_t k = 0; k < h.count; k++)
			if (!app_proc_valid(&apps[k])) {
				free(apps);
				return -EBADMSG;
			}
	}
	free(w->apps);
	w->apps = apps;
	w->n_apps = h.count;
	w->apps_total = h.total;
	return 0;
}

/* A broken handoff channel leaves the worker unreachable for that adapter
 * while its pings still come: pair them again; a worker that keeps losing
 * its channels is replaced. */
#define WORKER_CHANNELS_LOST_MAX 3

void
worker_handle_channel_lost(struct worker *w, uint32_t adapter_id)
{
	int r;

	if (w->state != WORKER_READY)
		return;
	if (++w->channels_lost > WORKER_CHANNELS_LOST_MAX) {
		worker_recycle(w, RECYCLE_CHANNEL, "it keeps losing its handoff channels");
		return;
	}
	r = w->pool->env->events->worker_repair(w, adapter_id);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		worker_recycle(w, RECYCLE_CHANNEL,
			       "its handoff channel broke and could not be made again");
		return;
	}
	log_warning("pool '%s': worker %u (pid %d) lost its handoff channel with adapter %u: "
		    "a new one",
		    w->pool->name, w->id, (int)w->pid, adapter_id);
}

void
worker_handle_channel_close(struct worker *w, int err)
{
	struct wasp_env *env = w->pool->env;

	w->ch = wasp_ipc_channel_free(w->ch);
	if (err < 0 && !wasp_errno_is_disconnect(err)) {
		log_errno(err, "pool '%s': worker %u (pid %d) broke the protocol, killing it",
			  w->pool->name, w->id, (int)w->pid);
		if (w->pid > 0)
			(void)env->procs->kill(env, w->pid, SIGKILL);
	} else {
		log_debug("pool '%s': worker %u (pid %d) closed its channel", w->pool->name, w->id,
			  (int)w->pid);
	}
	/* The exit itself arrives as SIGCHLD and is judged by the state the
	 * worker was in (an exit nobody asked for is a crash). It takes no new
	 * connections; if it does not exit, it is killed (worker_set_state
	 * arms that for a worker without a channel). */
	worker_send_gone(w);
	if (w->state == WORKER_DRAINING || w->state == WORKER_DEAD)
		return;
	(void)worker_set_state(w, w->state);
}

static int
worker_on_ready(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	return worker_handle_ready(userdata);
}

static int
worker_on_pong(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct wasp_msg_ping pong;

	memcpy(&pong, msg->payload, sizeof(pong));
	worker_handle_pong(userdata, pong.token);
	return 0;
}

static int
worker_on_stats(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct wasp_msg_worker_stats st;

	memcpy(&st, msg->payload, sizeof(st));
	worker_handle_stats(userdata, &st);
	return 0;
}

static int
worker_on_apps(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct worker *w = userdata;
	int r = worker_handle_apps(w, msg->payload, msg->len);

	if (r == -ENOMEM) {
		log_error("pool '%s': worker %u (pid %d): out of memory for its application "
			  "processes", w->pool->name, w->id, (int)w->pid);
		return 0; /* the last list stays */
	}
	if (r < 0)
		log_warning("pool '%s': worker %u (pid %d) sent a malformed WORKER_APPS",
			    w->pool->name, w->id, (int)w->pid);
	return r;
}

static int
worker_on_channel_lost(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
		       void *userdata)
{
	struct wasp_msg_handoff_channel hc;

	memcpy(&hc, msg->payload, sizeof(hc));
	worker_handle_channel_lost(userdata, hc.adapter_id);
	return 0;
}

static int
worker_on_requests_reply(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
			 void *userdata)
{
	return requests_on_reply(userdata, msg->payload, msg->len);
}

static int
worker_on_site_stats(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct wasp_msg_site_requests m[64];
	size_t n = msg->len / sizeof(m[0]);

	for (size_t off = 0; off < n; off += ELEMENTSOF(m)) {
		size_t k = MIN(n - off, ELEMENTSOF(m));
		memcpy(m, (const uint8_t *)msg->payload + off * sizeof(m[0]), k * sizeof(m[0]));
		metrics_on_site_requests(userdata, m, k);
	}
	return 0;
}

static void
worker_on_channel_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	worker_handle_channel_close(userdata, err);
}

static const struct wasp_ipc_handler worker_handlers[] = {
	{ WASP_MSG_WORKER_READY, worker_on_ready },
	{ WASP_MSG_PONG, worker_on_pong },
	{ WASP_MSG_WORKER_STATS, worker_on_stats },
	{ WASP_MSG_HANDOFF_CHANNEL_LOST, worker_on_channel_lost },
	{ WASP_MSG_WORKER_APPS, worker_on_apps },
	{ WASP_MSG_REQUESTS_REPLY, worker_on_requests_reply },
	{ WASP_MSG_WORKER_SITE_STATS, worker_on_site_stats },
};

const struct wasp_ipc_channel_ops worker_channel_ops = {
	.role = WASP_ROLE_ACTIVATOR,
	.peer_role = WASP_ROLE_WORKER,
	.handlers = worker_handlers,
	.n_handlers = ELEMENTSOF(worker_handlers),
	.on_close = worker_on_channel_close,
};

