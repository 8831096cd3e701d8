/* `waspctl list request`: the requests executing now in every worker.
 * waspd sends REQUESTS_QUERY to each worker that has a channel and gathers
 * the REQUESTS_REPLYs until all have answered or REQUESTS_DEADLINE_USEC
 * passed; a worker that did not answer in time is listed under
 * "unanswered" (pid, pool) and its requests are missing. Each worker
 * reports at most WASP_REQUESTS_MAX requests, URLs cut at
 * WASP_REQUEST_URL_MAX bytes (flagged "truncated"), and at most
 * REQUESTS_QUERIES_MAX queries run at once. */
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "ipc.h"
#include "libevent-util.h"
#include "log.h"
#include "waspd.h"
#include "wasp/module.h"

#define REQUESTS_DEADLINE_USEC 1000000
#define REQUESTS_QUERIES_MAX 16

struct asked {
	uint32_t worker_id;
	pid_t pid;
	char *pool;
	bool answered;
};

struct requests_query {
	struct requests_query *next;
	struct wasp_env *env;
	uint64_t token;
	struct asked *asked;
	size_t n_asked, n_waiting;
	json_t *list;
	struct event *deadline;
	requests_done_fn done;
	void *userdata;
};

static struct requests_query *queries;
static size_t n_queries;
static uint64_t next_token = 1;

static const char *const stage_names[WASP_STAGE__COUNT] = {
	"BeginRequest",
	"AuthenticateRequest",
	"AuthorizeRequest",
	"ResolveRequestCache",
	"MapRequestHandler",
	"AcquireRequestState",
	"PreExecuteRequestHandler",
	"ExecuteRequestHandler",
	"ReleaseRequestState",
	"UpdateRequestCache",
	"LogRequest",
	"EndRequest",
	"SendResponse",
};

const char *
requests_stage_name(uint32_t stage)
{
	if (stage == WASP_REQUEST_STAGE_SENDING)
		return "SendResponse";
	return stage < ELEMENTSOF(stage_names) ? stage_names[stage] : "unknown";
}

static void
query_free(struct requests_query *q)
{
	for (struct requests_query **pp = &queries; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			n_queries--;
			break;
		}
	for (size_t i = 0; i < q->n_asked; i++)
		free(q->asked[i].pool);
	free(q->asked);
	json_decref(q->list);
	wasp_event_free(q->deadline);
	free(q);
}

/* Every worker answered, or the deadline passed: the reply goes out. */
static void
query_finish(struct requests_query *q)
{
	json_t *unanswered = json_array(), *reply = NULL;

	for (size_t i = 0; unanswered && i < q->n_asked; i++) {
		const struct asked *a = &q->asked[i];
		if (!a->answered &&
		    json_array_append_new(unanswered,
					  json_pack("{s:I, s:s}", "pid", (json_int_t)a->pid, "pool",
						    a->pool)) < 0)
			unanswered = NULL;
	}
	if (unanswered && q->list)
		reply = json_pack("{s:b, s:O, s:o}", "ok", 1, "requests", q->list, "unanswered",
				  unanswered);
	else
		json_decref(unanswered);
	q->done(reply, q->userdata);
	query_free(q);
}

static void
query_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct requests_query *q = arg;

	if (q->n_waiting > 0)
		log_info("list request: %zu worker(s) did not answer within %u ms", q->n_waiting,
			 (unsigned)(REQUESTS_DEADLINE_USEC / 1000));
	query_finish(q);
}

static const char *
site_name(const struct wasp_env *env, uint32_t id)
{
	for (size_t i = 0; env->ah && i < env->ah->n_sites; i++)
		if (env->ah->sites[i].id == id)
			return env->ah->sites[i].name;
	return "";
}

static json_t *
request_json(struct requests_query *q, const struct worker *w, size_t i,
	     const struct wasp_msg_request_info *ri, const char *url)
{
	char id[32], time[32];
	uint64_t ms = ri->elapsed_usec / 1000;

	snprintf(id, sizeof(id), "%d-%zu", (int)w->pid, i + 1);
	snprintf(time, sizeof(time), "%llu msec", (unsigned long long)ms);
	return json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:s+#, s:s, s:I, s:s, s:s, s:b}", "id", id,
			 "pid", (json_int_t)w->pid, "pool", w->pool->name, "site",
			 site_name(q->env, ri->site_id), "siteId", (json_int_t)ri->site_id, "verb",
			 ri->method, "url", "", url, (int)ri->url_len, "client", ri->client,
			 "elapsedMs", (json_int_t)ms, "time", time, "stage",
			 requests_stage_name(ri->stage), "truncated",
			 (ri->flags & WASP_REQUEST_F_TRUNCATED) != 0);
}

/* The records of one REQUESTS_REPLY into q->list. -EBADMSG when they do not
 * add up (the worker is then cut off). */
static int
query_take(struct requests_query *q, const struct worker *w,
	   const struct wasp_msg_requests_reply *h, struct wasp_ipc_reader *rd)
{
	if (h->count > WASP_REQUESTS_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < h->count; i++) {
		struct wasp_msg_request_info ri;
		const void *p = wasp_ipc_get_bytes(rd, sizeof(ri));
		const char *url;

		if (!p)
			return -EBADMSG;
		memcpy(&ri, p, sizeof(ri));
		if (ri.url_len > WASP_REQUEST_URL_MAX ||
		    !(url = wasp_ipc_get_bytes(rd, ri.url_len)))
			return -EBADMSG;
		ri.method[sizeof(ri.method) - 1] = 0;
		ri.client[sizeof(ri.client) - 1] = 0;
		if (q->list && json_array_append_new(q->list, request_json(q, w, i, &ri, url)) < 0)
			q->list = NULL; /* OOM: answered as such */
	}
	return wasp_ipc_reader_done(rd) ? 0 : -EBADMSG;
}

int
requests_on_reply(struct worker *w, const void *payload, size_t len)
{
	struct wasp_msg_requests_reply h;
	struct wasp_ipc_reader rd;
	struct requests_query *q;
	struct asked *a = NULL;
	int r;

	wasp_ipc_reader_init(&rd, payload, len);
	memcpy(&h, wasp_ipc_get_bytes(&rd, sizeof(h)), sizeof(h));
	if (h.data_len != len - sizeof(h))
		return -EBADMSG;
	for (q = queries; q && q->token != h.token; q = q->next)
		;
	for (size_t i = 0; q && i < q->n_asked; i++)
		if (q->asked[i].worker_id == w->id && !q->asked[i].answered)
			a = &q->asked[i];
	if (!a)
		return 0; /* after the deadline, or not asked: dropped */
	r = query_take(q, w, &h, &rd);
	if (r < 0)
		return r;
	a->answered = true;
	if (--q->n_waiting == 0)
		query_finish(q);
	return 0;
}

/* Ask every worker that has a channel. */
static int
query_ask(struct requests_query *q)
{
	struct wasp_env *env = q->env;
	size_t n = pools_count_workers(env);
	struct wasp_msg_requests_query m = {.token = q->token};

	q->asked = calloc(n ? n : 1, sizeof(*q->asked));
	if (!q->asked)
		return -ENOMEM;
	for (size_t i = 0; i < env->n_pools; i++)
		for (struct worker *w = env->pools[i].workers; w && q->n_asked < n; w = w->next) {
			struct asked *a = &q->asked[q->n_asked];

			if (!w->ch || (w->state != WORKER_READY && w->state != WORKER_DRAINING))
				continue;
			if (wasp_send_requests_query(w->ch, 0, &m) < 0)
				continue;
			a->worker_id = w->id;
			a->pid = w->pid;
			a->pool = strdup(w->pool->name);
			if (!a->pool)
				return -ENOMEM;
			q->n_asked++;
		}
	q->n_waiting = q->n_asked;
	return 0;
}

int
requests_query_start(struct wasp_env *env, requests_done_fn done, void *userdata,
		     struct requests_query **ret)
{
	struct timeval tv = {.tv_sec = REQUESTS_DEADLINE_USEC / 1000000,
			     .tv_usec = REQUESTS_DEADLINE_USEC % 1000000};
	struct requests_query *q;

	if (n_queries >= REQUESTS_QUERIES_MAX)
		return -EBUSY;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->env = env;
	q->token = next_token++;
	q->done = done;
	q->userdata = userdata;
	q->next = queries;
	queries = q;
	n_queries++;
	q->list = json_array();
	q->deadline = evtimer_new(env->base, query_on_deadline, q);
	if (!q->list || !q->deadline || query_ask(q) < 0 || event_add(q->deadline, &tv) < 0) {
		query_free(q);
		return -ENOMEM;
	}
	/* no worker to ask: answered from the loop, never from the caller's
	 * stack */
	if (q->n_waiting == 0)
		event_active(q->deadline, EV_TIMEOUT, 0);
	*ret = q;
	return 0;
}

void
requests_query_cancel(struct requests_query *q)
{
	if (q)
		query_free(q);
}
