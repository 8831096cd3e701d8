/* The control socket: control.sock in the runtime directory, SOCK_STREAM,
 * one JSON object per line each way (jansson). The caller is checked with
 * SO_PEERCRED and SO_PEERGROUPS: root, waspd's own user and members of
 * --admin-group may use every verb, members of --read-group may list; anyone
 * else is refused (the socket is 0600 when neither group is set). Every field of a request is checked and an
 * error comes back as {"ok": false, "error": "<what to do about it>"}.
 *
 * Requests (docs/design.md "Control"):
 *   {"verb": "list", "object": "apppool"}   -> {"ok": true, "apppools": [...]}
 *   {"verb": "list", "object": "wp"}        -> {"ok": true, "workers": [...]}
 *   {"verb": "list", "object": "site"|"app"|"vdir"}
 *                                -> {"ok": true, "sites"|"apps"|"vdirs": [...]}
 *   {"verb": "start"|"stop"|"recycle", "object": "apppool", "name": "NAME"}
 *                                           -> {"ok": true, "message": "..."}
 *   {"verb": "reload"}                      -> {"ok": true, "message": "...", "generation": N}
 *   {"verb": "restart"}                     -> {"ok": true, "message": "...", "pid": PID}
 *                                              (restart.c)
 *   {"verb": "metrics"}                     -> {"ok": true, "text": "<Prometheus text>"}
 *   {"verb": "list", "object": "request"}   -> {"ok": true, "requests": [...]} (later:
 *                                              the workers are asked, ctl_requests.c) */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "apphost.h"
#include "control_apps.h"
#include "libevent-util.h"
#include "log.h"
#include "waspd.h"

#define CONTROL_MAX_LINE 65536
/* Entries of a list reply per line (a pool's are about 500 bytes). */
#define CONTROL_LIST_CHUNK 1000
#define CONTROL_MAX_CLIENTS 64
#define CONTROL_TIMEOUT_SEC 30
/* A caller's groups looked at (more are refused rather than half-read). */
#define CONTROL_MAX_GROUPS 1024

enum control_access {
	CONTROL_DENIED,
	CONTROL_READ, /* list only */
	CONTROL_ALL,
};

struct control_client {
	struct control_client *next;
	struct control *ctl;
	struct bufferevent *bev;
	uid_t uid;
	pid_t pid;
	enum control_access access;
	bool closing;
	/* list request: the workers are asked; no other line is read until
	 * the reply went out */
	struct requests_query *query;
	bool pending;
};

struct control {
	struct wasp_env *env;
	int fd;
	struct event *ev;
	char *path;
	dev_t dev; /* of the socket file: a restarted waspd replaces it */
	ino_t ino;
	struct control_client *clients;
	size_t n_clients;
};

static void
client_free(struct control_client *c)
{
	struct control *ctl = c->ctl;

	for (struct control_client **pp = &ctl->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ctl->n_clients--;
	requests_query_cancel(c->query);
	bufferevent_free(c->bev);
	free(c);
}

static void
client_write(struct control_client *c, json_t *reply)
{
	char *s = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

	if (!s) {
		static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}\n";
		(void)bufferevent_write(c->bev, oom, sizeof(oom) - 1);
	} else {
		(void)bufferevent_write(c->bev, s, strlen(s));
		(void)bufferevent_write(c->bev, "\n", 1);
	}
	free(s);
}

/* A reply with a list longer than CONTROL_LIST_CHUNK goes in lines of that
 * many entries, each but the last with "more": true, so that no line is
 * larger than a client reads (waspctl: 16 MiB) whatever the number of
 * pools or sites (docs/design.md "Control"). */
static void
client_reply(struct control_client *c, json_t *reply)
{
	const char *key, *list_key = NULL;
	json_t *v, *list = NULL;
	size_t n;

	json_object_foreach(reply, key, v)
		if (json_is_array(v) && json_array_size(v) > CONTROL_LIST_CHUNK) {
			list_key = key;
			list = v;
		}
	n = list ? json_array_size(list) : 0;
	for (size_t off = 0; list && off < n; off += CONTROL_LIST_CHUNK) {
		json_t *line = json_object(), *part = json_array();
		bool ok = line && part && json_object_update(line, reply) == 0;

		for (size_t i = off; ok && i < n && i < off + CONTROL_LIST_CHUNK; i++)
			ok = json_array_append(part, json_array_get(list, i)) == 0;
		ok = ok && json_object_set(line, list_key, part) == 0 &&
		     (off + CONTROL_LIST_CHUNK >= n ||
		      json_object_set_new(line, "more", json_true()) == 0);
		client_write(c, ok ? line : NULL);
		json_decref(part);
		json_decref(line);
		if (!ok)
			break;
	}
	if (!list)
		client_write(c, reply);
	json_decref(reply);
}

static json_t *
error_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *
error_reply(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static const char *
stop_reason_name(enum wasp_pool_stop_reason r)
{
	switch (r) {
	case WASP_POOL_REASON_OPERATOR:
		return "operator";
	case WASP_POOL_REASON_RAPID_FAIL:
		return "rapidFailProtection";
	case WASP_POOL_REASON_STARTUP_FAILED:
		return "startupFailed";
	case WASP_POOL_REASON_AUTOSTART:
		return "autoStart";
	default:
		return "";
	}
}

static json_t *
json_decref_null(json_t *j)
{
	json_decref(j);
	return NULL;
}

static int
append_new(json_t *arr, json_t *o)
{
	return o && json_array_append_new(arr, o) == 0 ? 0 : -ENOMEM;
}

/* A worker's memory and CPU as the metrics show them (/proc), or its own
 * report when /proc cannot be read. */
static struct proc_figures
worker_figures(const struct worker *w)
{
	struct proc_figures f;

	if (metrics_proc_figures(w->pid, &f) < 0 || f.rss_kb == 0)
		f = (struct proc_figures){ .rss_kb = w->rss_kb, .private_kb = w->private_kb,
					   .cpu_usec = f.cpu_usec };
	return f;
}

/* The figures list apppool adds: requests (the pool's, across recycles),
 * its workers' memory now and CPU time (exited workers' included). */
static int
pool_figures(json_t *o, const struct pool *p)
{
	const struct pool_metrics *m = pool_metrics_r(p);
	uint64_t rss = 0, priv = 0, cpu = m->cpu_usec_exited;

	for (const struct worker *w = p->workers; w; w = w->next) {
		struct proc_figures f = worker_figures(w);
		rss += f.rss_kb;
		priv += f.private_kb;
		cpu += f.cpu_usec;
	}
	return json_object_set_new(o, "requests", json_integer((json_int_t)m->requests)) |
	       json_object_set_new(o, "rssKB", json_integer((json_int_t)rss)) |
	       json_object_set_new(o, "privateKB", json_integer((json_int_t)priv)) |
	       json_object_set_new(o, "cpuMs", json_integer((json_int_t)(cpu / 1000)));
}

static json_t *
list_apppools(struct wasp_env *env)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < env->n_pools; i++) {
		const struct pool *p = &env->pools[i];
		const struct wasp_apppool *c = p->cfg;
		json_t *o = json_pack(
			"{s:s, s:I, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, "
			"s:I, s:I, s:I}",
			"name", p->name, "id", (json_int_t)p->id, "state", pool_state_name(p->state),
			"stopReason", p->state == WASP_POOL_STARTED ? "" : stop_reason_name(p->reason),
			"startMode",
			c->start_mode == WASP_START_ALWAYS_RUNNING ? "AlwaysRunning" : "OnDemand",
			"autoStart", c->auto_start, "workers",
			(json_int_t)(pool_count_workers(p, WORKER_STARTING) +
				     pool_count_workers(p, WORKER_READY)),
			"workersDraining", (json_int_t)pool_count_workers(p, WORKER_DRAINING),
			"maxProcesses", (json_int_t)c->process_model.max_processes, "failures",
			(json_int_t)p->failures, "recentFailures", (json_int_t)p->n_fail, "recycles",
			(json_int_t)p->recycles, "recycleFailures", (json_int_t)p->recycle_failures,
			"identityType", wasp_identity_type_name(c->process_model.identity_type), "uid",
			(json_int_t)p->ident.uid, "queueLength", (json_int_t)c->queue_length,
			"idleTimeoutMs", (json_int_t)(c->process_model.idle_timeout / 1000));
		if (o && (json_object_set_new(o, "managedRuntimeVersion",
					      json_string(c->managed_runtime_version
								  ? c->managed_runtime_version
								  : "")) < 0 ||
			  json_object_set_new(o, "managedPipelineMode",
					      json_string(c->managed_classic ? "Classic"
									     : "Integrated")) < 0 ||
			  pool_figures(o, p) < 0))
			o = json_decref_null(o);
		if (append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:b, s:o}", "ok", 1, "apppools", arr);
}

static json_t *
list_workers(struct wasp_env *env)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < env->n_pools; i++) {
		const struct pool *p = &env->pools[i];
		for (const struct worker *w = p->workers; w; w = w->next) {
			struct proc_figures f = worker_figures(w);
			uint64_t now = clock_now(env->clock);
			char started[64];
			time_t t = (time_t)(w->started_real / 1000000);
			struct tm tm;
			if (!gmtime_r(&t, &tm) ||
			    !strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm))
				started[0] = 0;
			json_t *o = json_pack(
				"{s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, "
				"s:b}",
				"pid", (json_int_t)w->pid, "id", (json_int_t)w->id, "pool", p->name,
				"state", worker_state_name(w->state), "requests",
				(json_int_t)w->requests, "connections", (json_int_t)w->connections,
				"busy", (json_int_t)w->busy, "privateKB", (json_int_t)f.private_kb,
				"rssKB", (json_int_t)f.rss_kb, "vmKB", (json_int_t)w->vm_kb,
				"started", started, "startedUsec", (json_int_t)w->started_real,
				"uid", (json_int_t)p->ident.uid, "recycling", w->recycling);
			if (o && control_worker_apps(o, w) < 0)
				o = (json_decref(o), NULL);
			if (o && (json_object_set_new(o, "cpuMs",
						      json_integer((json_int_t)(f.cpu_usec / 1000))) |
				  json_object_set_new(
					  o, "uptimeSeconds",
					  json_integer((json_int_t)((now - MIN(w->started_mono, now)) /
								    1000000)))) < 0)
				o = json_decref_null(o);
			if (!o || json_array_append_new(arr, o) < 0) {
				json_decref(arr);
				return NULL;
			}
		}
	}
	return json_pack("{s:b, s:o}", "ok", 1, "workers", arr);
}

/* appcmd's names: an application is "SITE/path", a virtual directory
 * "SITE/app/vdir" ("SITE/" for the root of the root application). */
static char *
app_vdir_name(const char *site, const char *app, const char *vdir)
{
	char *s;

	if (asprintf(&s, "%s%s%s", site, app, vdir && !streq(vdir, "/") ? vdir : "") < 0)
		return NULL;
	return s;
}

static json_t *
site_json(struct wasp_env *env, const struct wasp_site *s)
{
	json_t *b = json_array();
	_cleanup_free_ char *list = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&list, &len);
	if (!b || !f) {
		if (f)
			fclose(f);
		json_decref(b);
		return NULL;
	}
	for (size_t i = 0; i < s->n_bindings; i++) {
		const struct wasp_binding *bd = &s->bindings[i];
		fprintf(f, "%s%s/%s", i ? "," : "", bd->protocol, bd->binding_information);
		if (append_new(b, json_pack("{s:s, s:s}", "protocol", bd->protocol,
					    "bindingInformation", bd->binding_information)) < 0) {
			fclose(f);
			json_decref(b);
			return NULL;
		}
	}
	if (fclose(f) != 0) {
		json_decref(b);
		return NULL;
	}
	return json_pack("{s:s, s:I, s:s, s:s, s:b, s:o}", "name", s->name, "id",
			 (json_int_t)s->id, "bindings", list, "state",
			 site_is_stopped(env, s) ? "Stopped" : "Started",
			 "serverAutoStart", s->server_auto_start, "bindingList", b);
}

static json_t *
list_sites(struct wasp_env *env)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < env->ah->n_sites; i++)
		if (append_new(arr, site_json(env, &env->ah->sites[i])) < 0)
			arr = json_decref_null(arr);
	return arr ? json_pack("{s:b, s:o}", "ok", 1, "sites", arr) : NULL;
}

/* list app (vdirs false) or list vdir (vdirs true). */
static json_t *
list_apps(struct wasp_env *env, bool vdirs)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < env->ah->n_sites; i++) {
		const struct wasp_site *s = &env->ah->sites[i];
		for (size_t j = 0; arr && j < s->n_apps; j++) {
			const struct wasp_application *a = &s->apps[j];
			_cleanup_free_ char *an = app_vdir_name(s->name, a->path, NULL);

			if (!an)
				arr = json_decref_null(arr);
			else if (!vdirs) {
				if (append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", an,
							      "site", s->name, "path", a->path,
							      "applicationPool", a->application_pool,
							      "enabledProtocols",
							      a->enabled_protocols
								      ? a->enabled_protocols
								      : "")) < 0)
					arr = json_decref_null(arr);
				continue;
			}
			for (size_t k = 0; arr && k < a->n_vdirs; k++) {
				const struct wasp_virtual_directory *v = &a->vdirs[k];
				_cleanup_free_ char *vn = app_vdir_name(s->name, a->path, v->path);

				if (!vn || append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name",
								     vn, "app", an, "site", s->name,
								     "path", v->path, "physicalPath",
								     v->physical_path)) < 0)
					arr = json_decref_null(arr);
			}
		}
	}
	return arr ? json_pack("{s:b, s:o}", "ok", 1, vdirs ? "vdirs" : "apps", arr) : NULL;
}

/* start, stop or recycle pool p, for client c. */
static json_t *
control_pool_verb(struct control_client *c, const char *verb, struct pool *p)
{
	int r;

	log_notice("control: %s apppool '%s' (uid %u, pid %d)", verb, p->name, (unsigned)c->uid,
		   (int)c->pid);
	if (streq(verb, "start")) {
		const char *why = NULL;
		r = pool_start(p, &why);
		if (r < 0)
			return error_reply("cannot start application pool '%s': %s", p->name,
					   why ? why : strerror(-r));
		return json_pack("{s:b, s:s, s:s}", "ok", 1, "message",
				 "application pool started", "state", pool_state_name(p->state));
	}
	if (streq(verb, "stop")) {
		r = pool_stop(p, WASP_POOL_REASON_OPERATOR, "stopped by the operator");
		if (r == -EALREADY)
			return error_reply("application pool '%s' is already %s", p->name,
					   p->state == WASP_POOL_STOPPING ? "stopping" : "stopped");
		if (r < 0)
			return error_reply("cannot stop application pool '%s': %s", p->name,
					   strerror(-r));
		return json_pack("{s:b, s:s, s:s}", "ok", 1, "message",
				 "application pool stopping", "state", pool_state_name(p->state));
	}
	r = pool_recycle(p, "recycled by the operator");
	if (r < 0)
		return error_reply("cannot recycle application pool '%s': it is %s "
				   "('waspctl start apppool \"%s\"' first)",
				   p->name, pool_state_name(p->state), p->name);
	/* Not an error: the pool is started, and its next worker starts fresh. */
	if (r == 0)
		log_info("pool '%s': no ready worker, nothing recycled", p->name);
	return json_pack("{s:b, s:s, s:s, s:I}", "ok", 1, "message",
			 r > 0 ? "application pool recycled"
			       : "nothing recycled: the application pool has no ready worker "
				 "(one that is starting, or being recycled already, is not)",
			 "state", pool_state_name(p->state), "recycled", (json_int_t)r);
}

static json_t *
control_metrics(struct wasp_env *env, const char *object, const char *name)
{
	_cleanup_free_ char *text = NULL;

	if (object || name)
		return error_reply("'metrics' takes no object and no name");
	text = metrics_text(env);
	if (!text)
		return NULL;
	return json_pack("{s:b, s:s}", "ok", 1, "text", text);
}

static void client_on_read(struct bufferevent *bev, void *arg);

static void
client_on_requests(json_t *reply, void *userdata)
{
	struct control_client *c = userdata;

	c->query = NULL;
	c->pending = false;
	client_reply(c, reply);
	bufferevent_enable(c->bev, EV_READ);
	client_on_read(c->bev, c); /* lines that came meanwhile */
}

/* list request: answered once the workers did (client_on_requests); NULL
 * with c->pending set, or an error. */
static json_t *
control_list_requests(struct control_client *c)
{
	int r;

	c->pending = true;
	r = requests_query_start(c->ctl->env, client_on_requests, c, &c->query);
	if (r == -EBUSY) {
		c->pending = false;
		return error_reply("too many 'list request' queries at once, try again");
	}
	if (r < 0)
		c->pending = false;
	return NULL; /* pending, or out of memory */
}

static json_t *
control_list(struct control_client *c, const char *object, const char *name)
{
	struct wasp_env *env = c->ctl->env;

	if (name)
		return error_reply("'list' takes no name");
	if (streq(object, "apppool"))
		return list_apppools(env);
	if (streq(object, "wp"))
		return list_workers(env);
	if (streq(object, "site"))
		return list_sites(env);
	if (streq(object, "app"))
		return list_apps(env, false);
	if (streq(object, "vdir"))
		return list_apps(env, true);
	if (streq(object, "request"))
		return control_list_requests(c);
	return error_reply("cannot list '%s' (this waspd lists: site, app, vdir, apppool, wp, "
			   "request)",
			   object);
}

static json_t *
control_restart(struct control_client *c, bool args)
{
	_cleanup_free_ char *msg = NULL;
	pid_t pid = 0;
	int r;

	if (args)
		return error_reply("'restart' takes no object and no name");
	log_notice("control: restart (uid %u, pid %d)", (unsigned)c->uid, (int)c->pid);
	r = restart_request(c->ctl->env, &msg, &pid);
	if (r < 0)
		return error_reply("%s", msg ? msg : strerror(-r));
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "message", msg ? msg : "restarted", "pid",
			 (json_int_t)pid);
}

static json_t *
control_handle(struct control_client *c, json_t *req)
{
	struct wasp_env *env = c->ctl->env;
	const char *verb = NULL, *object = NULL, *name = NULL, *key;
	json_t *v;
	struct pool *p;
	int r;

	if (!json_is_object(req))
		return error_reply("a request is one JSON object per line, "
				   "like {\"verb\": \"list\", \"object\": \"apppool\"}");
	json_object_foreach(req, key, v) {
		if (!streq(key, "verb") && !streq(key, "object") && !streq(key, "name"))
			return error_reply("unknown field '%s' (known: verb, object, name)", key);
		if (!json_is_string(v))
			return error_reply("field '%s' must be a string", key);
	}
	verb = json_string_value(json_object_get(req, "verb"));
	object = json_string_value(json_object_get(req, "object"));
	name = json_string_value(json_object_get(req, "name"));
	if (!verb)
		return error_reply(
			"missing field 'verb' (list, start, stop, recycle, reload, restart, metrics)");
	if (c->access != CONTROL_ALL && !streq(verb, "list") && !streq(verb, "metrics"))
		return error_reply("permission denied: uid %u may only list and read metrics (a "
				   "member of waspd's --read-group); '%s' needs root or "
				   "--admin-group",
				   (unsigned)c->uid, verb);
	if (streq(verb, "restart"))
		return control_restart(c, object || name);
	if (streq(verb, "metrics"))
		return control_metrics(env, object, name);
	if (streq(verb, "reload")) {
		_cleanup_free_ char *msg = NULL;

		if (object || name)
			return error_reply("'reload' takes no object and no name");
		log_notice("control: reload (uid %u, pid %d)", (unsigned)c->uid, (int)c->pid);
		r = daemon_reload(env, &msg);
		if (r < 0)
			return error_reply("%s", msg ? msg : strerror(-r));
		return json_pack("{s:b, s:s, s:I}", "ok", 1, "message", msg ? msg : "reloaded",
				 "generation", (json_int_t)env->generation);
	}
	if (!object)
		return error_reply("missing field 'object' (apppool, wp)");

	if (streq(verb, "list"))
		return control_list(c, object, name);
	if (!streq(verb, "start") && !streq(verb, "stop") && !streq(verb, "recycle"))
		return error_reply(
			"unknown verb '%s' (list, start, stop, recycle, reload, restart, metrics)",
			verb);
	if (streq(object, "site") && !streq(verb, "recycle")) {
		if (!name || !*name)
			return error_reply("%s site needs the site's name", verb);
		if (env->stopping)
			return error_reply("waspd is shutting down");
		return site_verb(env, verb, name, c->uid);
	}
	if (!streq(object, "apppool"))
		return error_reply("cannot %s '%s' (this waspd can %s: apppool%s)", verb, object,
				   verb, streq(verb, "recycle") ? "" : ", site");
	if (!name || !*name)
		return error_reply("%s apppool needs the pool's name", verb);
	if (strlen(name) >= WASP_POOL_NAME_MAX)
		return error_reply("application pool name too long (at most %d bytes)",
				   WASP_POOL_NAME_MAX - 1);
	p = pool_by_name(env, name);
	if (!p)
		return error_reply("no application pool named '%s' "
				   "('waspctl list apppool' shows the configured pools)",
				   name);
	if (env->stopping)
		return error_reply("waspd is shutting down");

	return control_pool_verb(c, verb, p);
}

static void
client_on_event(struct bufferevent *bev, short what, void *arg)
{
	client_free(arg);
}

static void
client_on_write(struct bufferevent *bev, void *arg)
{
	struct control_client *c = arg;

	if (c->closing)
		client_free(c);
}

static void
client_on_read(struct bufferevent *bev, void *arg)
{
	struct control_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	if (c->closing)
		return;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
		json_error_t jerr;
		json_t *req = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
		json_t *reply;

		if (!req)
			reply = error_reply("malformed JSON at column %d: %s", jerr.column,
					    jerr.text);
		else
			reply = control_handle(c, req);
		json_decref(req);
		free(line);
		if (c->pending) {
			/* the reply comes later; so does the next line */
			bufferevent_disable(bev, EV_READ);
			return;
		}
		client_reply(c, reply);
	}
	if (evbuffer_get_length(in) > CONTROL_MAX_LINE) {
		client_reply(c, error_reply("request longer than %d bytes", CONTROL_MAX_LINE));
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
	}
}

static bool
gid_in(gid_t gid, const gid_t *groups, size_t n, gid_t primary)
{
	if (gid == primary)
		return true;
	for (size_t i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* What the peer of cfd may do: root and waspd's user everything, then by
 * its groups (SO_PEERGROUPS: the peer's supplementary groups when it
 * connected). A peer whose groups cannot be read gets what its uid alone
 * gives. */
static enum control_access
control_peer_access(const struct wasp_env *env, int cfd, const struct ucred *cred)
{
	_cleanup_free_ gid_t *groups = NULL;
	socklen_t len = CONTROL_MAX_GROUPS * sizeof(gid_t);
	size_t n = 0;

	if (cred->uid == 0 || cred->uid == geteuid())
		return CONTROL_ALL;
	if (!env->ctl_admin_group.set && !env->ctl_read_group.set)
		return CONTROL_DENIED;
	groups = malloc(len);
	if (groups && getsockopt(cfd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		n = len / sizeof(gid_t);
	if (env->ctl_admin_group.set && gid_in(env->ctl_admin_group.gid, groups, n, cred->gid))
		return CONTROL_ALL;
	if (env->ctl_read_group.set && gid_in(env->ctl_read_group.gid, groups, n, cred->gid))
		return CONTROL_READ;
	return CONTROL_DENIED;
}

static void
control_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct control_client *c;
	enum control_access access;
	int cfd;

	cfd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning_errno(-errno, "control: accept, ignoring");
		return;
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		safe_close(cfd);
		return;
	}
	access = control_peer_access(ctl->env, cfd, &cred);
	if (access == CONTROL_DENIED) {
		char msg[256];
		int n = snprintf(msg, sizeof(msg),
				 "{\"ok\":false,\"error\":\"permission denied: uid %u may not "
				 "control waspd (root, uid %u and waspd's --admin-group and "
				 "--read-group only)\"}\n",
				 (unsigned)cred.uid, (unsigned)geteuid());
		log_warning("control: refused uid %u (pid %d)", (unsigned)cred.uid, (int)cred.pid);
		(void)!write(cfd, msg, (size_t)MAX(n, 0));
		safe_close(cfd);
		return;
	}
	if (ctl->n_clients >= CONTROL_MAX_CLIENTS) {
		static const char busy[] = "{\"ok\":false,\"error\":\"too many control "
					   "connections, try again\"}\n";
		(void)!write(cfd, busy, sizeof(busy) - 1);
		safe_close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		safe_close(cfd);
		return;
	}
	c->ctl = ctl;
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->access = access;
	c->bev = bufferevent_socket_new(ctl->env->base, cfd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		safe_close(cfd);
		free(c);
		return;
	}
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_SEC };
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setcb(c->bev, client_on_read, client_on_write, client_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->n_clients++;
}

/* Is another waspd answering on this socket? */
static bool
control_in_use(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	return connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
}

/* With an access group, anyone may connect and the caller's credentials
 * decide (control_peer_access); without one, only root. */
static mode_t
control_mode(const struct wasp_env *env)
{
	return env->ctl_admin_group.set || env->ctl_read_group.set ? 0666 : 0600;
}

int
control_open(struct wasp_env *env)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct control *ctl;
	struct stat st;
	char *path;

	if (asprintf(&path, "%s/control.sock", env->runtime_dir) < 0)
		return -ENOMEM;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("control socket path '%s' is too long (at most %zu bytes)", path,
			  sizeof(sa.sun_path) - 1);
		free(path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* a restart's new waspd takes the name over from the old one */
	if (!restart_taking_over(env) && control_in_use(&sa)) {
		log_error("another waspd answers on %s; stop it or use another --runtime-dir",
			  path);
		free(path);
		return -EADDRINUSE;
	}
	/* Bind and listen under a temporary name, then rename: the socket
	 * appears only once it accepts (no ECONNREFUSED window for clients
	 * that wait for the file). */
	struct sockaddr_un tmp = sa;
	if ((size_t)snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.tmp", path) >=
	    sizeof(tmp.sun_path)) {
		free(path);
		return -ENAMETOOLONG;
	}
	(void)unlink(tmp.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)) < 0 ||
	    chmod(tmp.sun_path, control_mode(env)) < 0 || listen(fd, 64) < 0 ||
	    rename(tmp.sun_path, path) < 0) {
		int r = log_errno(-errno, "control socket %s", path);
		(void)unlink(tmp.sun_path);
		free(path);
		return r;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		free(path);
		return -ENOMEM;
	}
	ctl->env = env;
	ctl->path = path;
	if (stat(path, &st) == 0) {
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
	}
	ctl->ev = event_new(env->base, fd, EV_READ | EV_PERSIST, control_on_accept, ctl);
	if (!ctl->ev || event_add(ctl->ev, NULL) < 0) {
		free(ctl->path);
		ctl->ev = wasp_event_free(ctl->ev);
		free(ctl);
		return -ENOMEM;
	}
	ctl->fd = TAKE_FD(fd);
	env->control = ctl;
	log_info("control socket %s", path);
	return 0;
}

void
control_close(struct wasp_env *env)
{
	struct control *ctl = env->control;
	struct stat st;

	if (!ctl)
		return;
	while (ctl->clients) {
		struct bufferevent *bev = ctl->clients->bev;

		/* an answer still queued (a restart's, just before we exit) */
		(void)evbuffer_write(bufferevent_get_output(bev), bufferevent_getfd(bev));
		client_free(ctl->clients);
	}
	event_free(ctl->ev);
	safe_close(ctl->fd);
	/* only our own socket file: after a restart the name is the new waspd's */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		(void)unlink(ctl->path);
	free(ctl->path);
	free(ctl);
	env->control = NULL;
}
