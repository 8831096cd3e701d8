/* Metrics in Prometheus' text exposition format (version 0.0.4), for
 * `waspctl metrics` and the optional HTTP endpoint (metrics_http.c): the
 * pools' counters (struct pool_metrics: the pool's, so they survive
 * recycles), each worker's figures read from /proc, and the listener's
 * counters (ADAPTER_METRICS, summed across its restarts). Every metric is
 * listed with its type, labels and help in docs/metrics.md. */
#include <inttypes.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apphost.h"
#include "fs.h"
#include "log.h"
#include "util.h"
#include "waspd.h"

#define NS_PER_USEC 1000.0
#define USEC_PER_SEC_F 1000000.0

/* ---- /proc ---------------------------------------------------------------- */

/* "Name:   123 kB" lines of smaps_rollup. */
static void
smaps_rollup(pid_t pid, struct proc_figures *f)
{
	char path[64], line[256];
	uint64_t clean = 0, dirty = 0, v;
	FILE *in;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	in = fopen(path, "re");
	if (!in)
		return;
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "Rss: %" SCNu64, &v) == 1)
			f->rss_kb = v;
		else if (sscanf(line, "Private_Clean: %" SCNu64, &v) == 1)
			clean = v;
		else if (sscanf(line, "Private_Dirty: %" SCNu64, &v) == 1)
			dirty = v;
	}
	fclose(in);
	f->private_kb = clean + dirty;
}

/* utime and stime (fields 14 and 15 of /proc/PID/stat, after the command
 * in parentheses, which may hold anything). */
static int
proc_cpu_usec(pid_t pid, uint64_t *ret)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EBADMSG;
	long hz = sysconf(_SC_CLK_TCK);
	*ret = (uint64_t)(ut + st) * (uint64_t)(1000000 / (hz > 0 ? hz : 100));
	return 0;
}

int
metrics_proc_figures(pid_t pid, struct proc_figures *ret)
{
	*ret = (struct proc_figures){0};
	if (pid <= 0)
		return -ESRCH;
	smaps_rollup(pid, ret);
	return proc_cpu_usec(pid, &ret->cpu_usec);
}

/* ---- from the listener ------------------------------------------------------ */

void
metrics_on_adapter(struct wasp_env *env, const struct wasp_msg_adapter_metrics *m)
{
	env->lsn_metrics.accepted += m->accepted;
	for (size_t i = 0; i < WASP_REJECT__COUNT; i++)
		env->lsn_metrics.rejected[i] += m->rejected[i];
	env->lsn_metrics.active = m->active;
}

void
metrics_on_adapter_tls(struct wasp_env *env, const struct wasp_msg_adapter_tls_metrics *m)
{
	for (size_t i = 0; i < WASP_TLS_FAIL__COUNT; i++)
		env->lsn_metrics.tls.handshake_failed[i] += m->handshake_failed[i];
	env->lsn_metrics.tls.cert_requested += m->cert_requested;
	env->lsn_metrics.tls.cert_received += m->cert_received;
}

void
metrics_on_adapter_gone(struct wasp_env *env)
{
	/* its connections and queues went with it; the counters stay */
	env->lsn_metrics.active = 0;
	for (size_t i = 0; i < env->n_pools; i++)
		if (env->pools[i].m)
			env->pools[i].m->queued = 0;
}

void
metrics_on_adapter_pools(struct wasp_env *env, const struct wasp_msg_adapter_pool_metrics *m,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pool *p = pool_by_ref(env, m[i].pool_id, m[i].generation);

		if (!p)
			continue; /* gone with a reload meanwhile */
		pool_metrics_w(p)->handoffs += m[i].handoffs;
		pool_metrics_w(p)->handbacks += m[i].handbacks;
		pool_metrics_w(p)->dequeued += m[i].dequeued;
		pool_metrics_w(p)->queue_wait_usec += m[i].queue_wait_usec;
		pool_metrics_w(p)->rejected_503 += m[i].rejected_503;
		pool_metrics_w(p)->queued = m[i].queued;
	}
}

/* ---- sites ------------------------------------------------------------------- */

/* Requests per site (WORKER_SITE_STATS), by configured site id: one entry
 * per site of the current configuration, sorted by id. A reload makes the
 * table again, keeping the counts of the ids that stay. */
struct site_counter {
	uint32_t id;
	uint32_t index; /* in env->ah->sites */
	uint64_t requests;
};

struct site_metrics {
	uint32_t generation;
	struct site_counter *v;
	size_t n;
};

static int
site_cmp(const void *a, const void *b)
{
	const struct site_counter *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct site_counter *
site_find(const struct site_metrics *sm, uint32_t id)
{
	struct site_counter key = { .id = id };

	return sm && sm->n ? bsearch(&key, sm->v, sm->n, sizeof(key), site_cmp) : NULL;
}

/* The table for env->generation (made on first use after a reload). */
static struct site_metrics *
sites_sync(struct wasp_env *env)
{
	struct site_metrics *old = env->site_metrics, *sm;
	size_t n = env->ah ? env->ah->n_sites : 0;

	if (old && old->generation == env->generation)
		return old;
	sm = calloc(1, sizeof(*sm));
	if (!sm || !(sm->v = calloc(n ? n : 1, sizeof(*sm->v)))) {
		free(sm);
		return old; /* the old counts, until memory allows */
	}
	sm->generation = env->generation;
	sm->n = n;
	for (size_t i = 0; i < n; i++)
		sm->v[i] = (struct site_counter){ .id = env->ah->sites[i].id, .index = (uint32_t)i };
	qsort(sm->v, n, sizeof(*sm->v), site_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct site_counter *o = site_find(old, sm->v[i].id);
		if (o)
			sm->v[i].requests = o->requests;
	}
	metrics_done(env);
	env->site_metrics = sm;
	return sm;
}

/* Does site index i have an application in pool p? */
static bool
site_in_pool(const struct wasp_env *env, uint32_t i, const struct pool *p)
{
	const struct wasp_site *s = &env->ah->sites[i];

	for (size_t j = 0; j < s->n_apps; j++)
		if (s->apps[j].pool_id == p->id)
			return true;
	return false;
}

void
metrics_on_site_requests(struct worker *w, const struct wasp_msg_site_requests *m, size_t n)
{
	struct wasp_env *env = w->pool->env;
	struct site_metrics *sm = sites_sync(env);

	for (size_t i = 0; i < n; i++) {
		struct site_counter *c = site_find(sm, m[i].site_id);

		/* only a site the worker's pool serves: a worker cannot make
		 * up sites, nor count for another pool's */
		if (c && sm->generation == env->generation && site_in_pool(env, c->index, w->pool))
			c->requests += m[i].requests;
	}
}

void
metrics_done(struct wasp_env *env)
{
	struct site_metrics *sm = env->site_metrics;

	if (!sm)
		return;
	free(sm->v);
	free(sm);
	env->site_metrics = NULL;
}

/* ---- the exposition --------------------------------------------------------- */

/* Each live worker's /proc figures, read once per exposition. */
struct snap {
	const struct worker *w;
	struct proc_figures f;
	bool have;
};

struct expo {
	FILE *f;
	struct wasp_env *env;
	struct snap *snaps;
	size_t n_snaps;
	uint64_t now_real, now_mono;
};

static void
family(struct expo *x, const char *name, const char *type, const char *help)
{
	fprintf(x->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped. */
static void
label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* name{pool="P"[,key="value"]} */
static void
pool_sample_start(struct expo *x, const char *name, const struct pool *p, const char *key,
		  const char *value)
{
	fprintf(x->f, "%s{pool=", name);
	label_value(x->f, p->name);
	if (key) {
		fprintf(x->f, ",%s=", key);
		label_value(x->f, value);
	}
	fputc('}', x->f);
}

static void
value_u(FILE *f, uint64_t v)
{
	fprintf(f, " %" PRIu64 "\n", v);
}

static void
value_usec(FILE *f, uint64_t usec)
{
	fprintf(f, " %" PRIu64 ".%06" PRIu64 "\n", usec / 1000000, usec % 1000000);
}

static uint64_t
pool_cpu_usec(const struct expo *x, const struct pool *p)
{
	uint64_t usec = pool_metrics_r(p)->cpu_usec_exited;

	for (size_t i = 0; i < x->n_snaps; i++)
		if (x->snaps[i].w->pool == p && x->snaps[i].have)
			usec += x->snaps[i].f.cpu_usec;
	return usec;
}

/* One value per pool: a table of the plain ones. */
struct pool_family {
	const char *name, *type, *help;
	uint64_t (*get)(const struct expo *x, const struct pool *p);
	bool usec; /* the value is in usec, printed in seconds */
};

#define POOL_GETTER(fn, expr)                                          \
	static uint64_t fn(const struct expo *x, const struct pool *p) \
	{                                                              \
		return (expr);                                         \
	}
POOL_GETTER(get_requests, pool_metrics_r(p)->requests)
POOL_GETTER(get_queued, pool_metrics_r(p)->queued)
POOL_GETTER(get_handoffs, pool_metrics_r(p)->handoffs)
POOL_GETTER(get_handbacks, pool_metrics_r(p)->handbacks)
POOL_GETTER(get_rejected, pool_metrics_r(p)->rejected_503)
POOL_GETTER(get_crashes, pool_metrics_r(p)->crashes)
POOL_GETTER(get_startup_failures,
	    pool_metrics_r(p)->startup_failures + pool_metrics_r(p)->spawn_failures)
POOL_GETTER(get_ping_failures, pool_metrics_r(p)->ping_failures)
POOL_GETTER(get_rapid_fail, pool_metrics_r(p)->rapid_fail_trips)
POOL_GETTER(get_recycle_failures, p->recycle_failures)
POOL_GETTER(get_spawned, p->spawned)
POOL_GETTER(get_startup, pool_metrics_r(p)->last_startup_usec)
POOL_GETTER(get_cpu, pool_cpu_usec(x, p))

static const struct pool_family pool_families[] = {
	{.name = "wasp_pool_requests_total",
	 .type = "counter",
	 .help = "Requests the pool's workers served (summed across recycles).",
	 .get = get_requests,
	 .usec = false},
	{.name = "wasp_pool_queue_length",
	 .type = "gauge",
	 .help = "Connections waiting in the listener for a worker of the pool.",
	 .get = get_queued,
	 .usec = false},
	{.name = "wasp_pool_handoffs_total",
	 .type = "counter",
	 .help = "Connections the listener handed to the pool's workers.",
	 .get = get_handoffs,
	 .usec = false},
	{.name = "wasp_pool_handbacks_total",
	 .type = "counter",
	 .help = "Connections the pool's workers handed back to the listener.",
	 .get = get_handbacks,
	 .usec = false},
	{.name = "wasp_pool_unavailable_total",
	 .type = "counter",
	 .help = "503 responses the listener gave for the pool (queue full, stopped, no worker in "
		 "time).",
	 .get = get_rejected,
	 .usec = false},
	{.name = "wasp_pool_worker_crashes_total",
	 .type = "counter",
	 .help = "Workers of the pool that exited or closed their channel unasked.",
	 .get = get_crashes,
	 .usec = false},
	{.name = "wasp_pool_worker_startup_failures_total",
	 .type = "counter",
	 .help = "Workers of the pool that could not start or missed startupTimeLimit.",
	 .get = get_startup_failures,
	 .usec = false},
	{.name = "wasp_pool_worker_ping_failures_total",
	 .type = "counter",
	 .help = "Workers of the pool that did not answer a ping within pingResponseTime.",
	 .get = get_ping_failures,
	 .usec = false},
	{.name = "wasp_pool_rapid_fail_trips_total",
	 .type = "counter",
	 .help = "Times rapid-fail protection stopped the pool.",
	 .get = get_rapid_fail,
	 .usec = false},
	{.name = "wasp_pool_recycle_failures_total",
	 .type = "counter",
	 .help = "Overlapped recycles whose replacement worker failed to start.",
	 .get = get_recycle_failures,
	 .usec = false},
	{.name = "wasp_pool_workers_started_total",
	 .type = "counter",
	 .help = "Workers started for the pool.",
	 .get = get_spawned,
	 .usec = false},
	{.name = "wasp_pool_worker_startup_seconds",
	 .type = "gauge",
	 .help = "Time from start to ready of the pool's last worker that became ready.",
	 .get = get_startup,
	 .usec = true},
	{.name = "wasp_pool_cpu_seconds_total",
	 .type = "counter",
	 .help = "CPU time of the pool's workers and their children, exited ones included.",
	 .get = get_cpu,
	 .usec = true},
};

static void
pools_plain(struct expo *x)
{
	for (size_t k = 0; k < ELEMENTSOF(pool_families); k++) {
		const struct pool_family *pf = &pool_families[k];

		family(x, pf->name, pf->type, pf->help);
		for (size_t i = 0; i < x->env->n_pools; i++) {
			const struct pool *p = &x->env->pools[i];
			uint64_t v = pf->get(x, p);

			pool_sample_start(x, pf->name, p, NULL, NULL);
			if (pf->usec)
				value_usec(x->f, v);
			else
				value_u(x->f, v);
		}
	}
}

static const char *const recycle_reason_names[RECYCLE_REASON__COUNT] = {
	[RECYCLE_TIME] = "time",         [RECYCLE_REQUESTS] = "requests",
	[RECYCLE_MEMORY] = "memory",     [RECYCLE_PRIVATE_MEMORY] = "privateMemory",
	[RECYCLE_SCHEDULE] = "schedule", [RECYCLE_CONFIG] = "config",
	[RECYCLE_MANUAL] = "manual",     [RECYCLE_CHANNEL] = "handoffChannel",
};

/* The labelled pool families: state, workers by state, recycles by reason,
 * queue wait. */
static void
pools_labelled(struct expo *x)
{
	static const enum wasp_pool_state states[] = {WASP_POOL_STARTING, WASP_POOL_STARTED,
						      WASP_POOL_STOPPING, WASP_POOL_STOPPED};
	static const enum worker_state wstates[] = {WORKER_STARTING, WORKER_READY, WORKER_DRAINING};
	struct wasp_env *env = x->env;

	family(x, "wasp_pool_state", "gauge", "1 for the pool's state, 0 for the others.");
	for (size_t i = 0; i < env->n_pools; i++)
		for (size_t s = 0; s < ELEMENTSOF(states); s++) {
			pool_sample_start(x, "wasp_pool_state", &env->pools[i], "state",
					  pool_state_name(states[s]));
			value_u(x->f, env->pools[i].state == states[s]);
		}
	family(x, "wasp_pool_workers", "gauge", "The pool's worker processes by state.");
	for (size_t i = 0; i < env->n_pools; i++)
		for (size_t s = 0; s < ELEMENTSOF(wstates); s++) {
			pool_sample_start(x, "wasp_pool_workers", &env->pools[i], "state",
					  worker_state_name(wstates[s]));
			value_u(x->f, pool_count_workers(&env->pools[i], (int)wstates[s]));
		}
	family(x, "wasp_pool_recycles_total", "counter", "Worker recycles started, by reason.");
	for (size_t i = 0; i < env->n_pools; i++)
		for (size_t r = 0; r < RECYCLE_REASON__COUNT; r++) {
			pool_sample_start(x, "wasp_pool_recycles_total", &env->pools[i], "reason",
					  recycle_reason_names[r]);
			value_u(x->f, pool_metrics_r(&env->pools[i])->recycles[r]);
		}
	family(x, "wasp_pool_queue_wait_seconds", "summary",
	       "Time connections waited in the listener's queue for a worker of the pool.");
	for (size_t i = 0; i < env->n_pools; i++) {
		pool_sample_start(x, "wasp_pool_queue_wait_seconds_sum", &env->pools[i], NULL,
				  NULL);
		value_usec(x->f, pool_metrics_r(&env->pools[i])->queue_wait_usec);
		pool_sample_start(x, "wasp_pool_queue_wait_seconds_count", &env->pools[i], NULL,
				  NULL);
		value_u(x->f, pool_metrics_r(&env->pools[i])->dequeued);
	}
}

/* ---- workers ---------------------------------------------------------------- */

struct worker_family {
	const char *name, *type, *help;
	uint64_t (*get)(const struct expo *x, const struct snap *s);
	bool usec;
	bool proc; /* read from /proc: left out when it could not be read */
};

#define WORKER_GETTER(fn, expr)                                        \
	static uint64_t fn(const struct expo *x, const struct snap *s) \
	{                                                              \
		return (expr);                                         \
	}
WORKER_GETTER(get_w_rss, s->f.rss_kb * 1024)
WORKER_GETTER(get_w_private, s->f.private_kb * 1024)
WORKER_GETTER(get_w_cpu, s->f.cpu_usec)
WORKER_GETTER(get_w_requests, s->w->requests)
WORKER_GETTER(get_w_connections, s->w->connections)
WORKER_GETTER(get_w_busy, s->w->busy)
WORKER_GETTER(get_w_uptime, x->now_mono - MIN(s->w->started_mono, x->now_mono))
WORKER_GETTER(get_w_start, s->w->started_real)

static const struct worker_family worker_families[] = {
	{.name = "wasp_worker_resident_memory_bytes",
	 .type = "gauge",
	 .help = "The worker's resident memory (Rss of /proc/PID/smaps_rollup).",
	 .get = get_w_rss,
	 .usec = false,
	 .proc = true},
	{.name = "wasp_worker_private_memory_bytes",
	 .type = "gauge",
	 .help = "The worker's private memory (Private_Clean + Private_Dirty of smaps_rollup).",
	 .get = get_w_private,
	 .usec = false,
	 .proc = true},
	{.name = "wasp_worker_cpu_seconds_total",
	 .type = "counter",
	 .help = "CPU time the worker used (user + system, /proc/PID/stat).",
	 .get = get_w_cpu,
	 .usec = true,
	 .proc = true},
	{.name = "wasp_worker_requests_total",
	 .type = "counter",
	 .help = "Requests the worker served.",
	 .get = get_w_requests,
	 .usec = false,
	 .proc = false},
	{.name = "wasp_worker_connections",
	 .type = "gauge",
	 .help = "Connections the worker holds.",
	 .get = get_w_connections,
	 .usec = false,
	 .proc = false},
	{.name = "wasp_worker_busy_requests",
	 .type = "gauge",
	 .help = "Requests the worker executes now.",
	 .get = get_w_busy,
	 .usec = false,
	 .proc = false},
	{.name = "wasp_worker_uptime_seconds",
	 .type = "gauge",
	 .help = "Time since the worker was started.",
	 .get = get_w_uptime,
	 .usec = true,
	 .proc = false},
	{.name = "wasp_worker_start_time_seconds",
	 .type = "gauge",
	 .help = "When the worker was started, in seconds since the Unix epoch.",
	 .get = get_w_start,
	 .usec = true,
	 .proc = false},
};

static void
workers(struct expo *x)
{
	for (size_t k = 0; k < ELEMENTSOF(worker_families); k++) {
		const struct worker_family *wf = &worker_families[k];

		family(x, wf->name, wf->type, wf->help);
		for (size_t i = 0; i < x->n_snaps; i++) {
			const struct snap *s = &x->snaps[i];
			char pid[16];

			if (wf->proc && !s->have)
				continue;
			snprintf(pid, sizeof(pid), "%d", (int)s->w->pid);
			pool_sample_start(x, wf->name, s->w->pool, "pid", pid);
			if (wf->usec)
				value_usec(x->f, wf->get(x, s));
			else
				value_u(x->f, wf->get(x, s));
		}
	}
}

/* ---- the listener ------------------------------------------------------------ */

static const char *const reject_names[WASP_REJECT__COUNT] = {
	[WASP_REJECT_400] = "400",
	[WASP_REJECT_404] = "404",
	[WASP_REJECT_408] = "408",
	[WASP_REJECT_414] = "414",
	[WASP_REJECT_431] = "431",
	[WASP_REJECT_503_QUEUE_FULL] = "503_queue_full",
	[WASP_REJECT_503_STOPPED] = "503_stopped",
	[WASP_REJECT_503_OTHER] = "503_other",
	[WASP_REJECT_OTHER] = "other",
};

static const char *const tls_failure_names[WASP_TLS_FAIL__COUNT] = {
	[WASP_TLS_FAIL_NOT_TLS] = "not_tls",
	[WASP_TLS_FAIL_NO_SHARED] = "no_common_protocol",
	[WASP_TLS_FAIL_UNKNOWN_NAME] = "unknown_host",
	[WASP_TLS_FAIL_ALERT] = "client_alert",
	[WASP_TLS_FAIL_CLOSED] = "dropped",
	[WASP_TLS_FAIL_TIMEOUT] = "timeout",
	[WASP_TLS_FAIL_OTHER] = "other",
};

static void
listener_tls(struct expo *x)
{
	const struct wasp_msg_adapter_tls_metrics *t = &x->env->lsn_metrics.tls;

	family(x, "wasp_listener_tls_handshake_failures_total", "counter",
	       "TLS handshakes that failed, by kind.");
	for (size_t i = 0; i < WASP_TLS_FAIL__COUNT; i++) {
		fprintf(x->f, "wasp_listener_tls_handshake_failures_total{reason=\"%s\"}",
			tls_failure_names[i]);
		value_u(x->f, t->handshake_failed[i]);
	}
	family(x, "wasp_listener_tls_client_cert_requests_total", "counter",
	       "Client certificates asked for after the handshake (renegotiation, "
	       "post-handshake authentication), by whether the client sent one.");
	fprintf(x->f, "wasp_listener_tls_client_cert_requests_total{result=\"received\"}");
	value_u(x->f, t->cert_received);
	fprintf(x->f, "wasp_listener_tls_client_cert_requests_total{result=\"none\"}");
	value_u(x->f, t->cert_requested - MIN(t->cert_received, t->cert_requested));
}

static void
listener(struct expo *x)
{
	const struct wasp_env *env = x->env;

	family(x, "wasp_listener_connections_accepted_total", "counter",
	       "Connections the listener accepted.");
	fprintf(x->f, "wasp_listener_connections_accepted_total");
	value_u(x->f, env->lsn_metrics.accepted);
	family(x, "wasp_listener_connections_active", "gauge",
	       "Connections open now: held by the listener or by a worker.");
	fprintf(x->f, "wasp_listener_connections_active");
	value_u(x->f, env->lsn_metrics.active);
	family(x, "wasp_listener_rejected_total", "counter",
	       "Requests the listener answered with an error itself, by reason.");
	for (size_t i = 0; i < WASP_REJECT__COUNT; i++) {
		fprintf(x->f, "wasp_listener_rejected_total{reason=\"%s\"}", reject_names[i]);
		value_u(x->f, env->lsn_metrics.rejected[i]);
	}
	listener_tls(x);
}

static void
sites(struct expo *x)
{
	const struct site_metrics *sm = sites_sync(x->env);

	family(x, "wasp_site_requests_total", "counter",
	       "Requests served for the site (by every pool its applications run in).");
	for (size_t i = 0; sm && sm->generation == x->env->generation && i < sm->n; i++) {
		fprintf(x->f, "wasp_site_requests_total{site=");
		label_value(x->f, x->env->ah->sites[sm->v[i].index].name);
		fputc('}', x->f);
		value_u(x->f, sm->v[i].requests);
	}
}

static int
snaps_take(struct expo *x)
{
	size_t n = pools_count_workers(x->env), k = 0;

	x->snaps = n ? calloc(n, sizeof(*x->snaps)) : NULL;
	if (n && !x->snaps)
		return -ENOMEM;
	for (size_t i = 0; i < x->env->n_pools; i++)
		for (const struct worker *w = x->env->pools[i].workers; w && k < n; w = w->next) {
			if (w->state == WORKER_DEAD)
				continue;
			x->snaps[k].w = w;
			x->snaps[k].have = metrics_proc_figures(w->pid, &x->snaps[k].f) == 0;
			k++;
		}
	x->n_snaps = k;
	return 0;
}

char *
metrics_text(struct wasp_env *env)
{
	struct expo x = {.env = env};
	char *buf = NULL;
	size_t len = 0;

	x.now_real = clock_realtime(env->clock);
	x.now_mono = clock_now(env->clock);
	if (snaps_take(&x) < 0)
		return NULL;
	x.f = open_memstream(&buf, &len);
	if (!x.f) {
		free(x.snaps);
		return NULL;
	}
	pools_labelled(&x);
	pools_plain(&x);
	workers(&x);
	sites(&x);
	listener(&x);
	if (fclose(x.f) != 0) {
		free(buf);
		buf = NULL;
	}
	free(x.snaps);
	return buf;
}
