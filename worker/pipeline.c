/* The integrated pipeline engine: hooks per stage, sorted by priority, and
 * the walk of one request through the stages (IIS 7 order). The walk is a
 * loop over a fixed step list, so a pending handler (WASP_AGAIN) just leaves
 * the request's position behind; wasp_request_resume() continues from it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apphost.h"
#include "arena.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* Pseudo-step: write the response, then go on with LogRequest. */
#define STEP_WRITE WASP_STAGE__COUNT

static const unsigned steps[] = {
	WASP_STAGE_BEGIN_REQUEST,
	WASP_STAGE_AUTHENTICATE_REQUEST,
	WASP_STAGE_AUTHORIZE_REQUEST,
	WASP_STAGE_RESOLVE_REQUEST_CACHE,
	WASP_STAGE_MAP_REQUEST_HANDLER,
	WASP_STAGE_ACQUIRE_REQUEST_STATE,
	WASP_STAGE_PRE_EXECUTE_REQUEST_HANDLER,
	WASP_STAGE_EXECUTE_REQUEST_HANDLER,
	WASP_STAGE_RELEASE_REQUEST_STATE,
	WASP_STAGE_UPDATE_REQUEST_CACHE,
	WASP_STAGE_SEND_RESPONSE,
	STEP_WRITE,
	WASP_STAGE_LOG_REQUEST,
	WASP_STAGE_END_REQUEST,
};

enum {
	STEP_MAP = 4,            /* index of WASP_STAGE_MAP_REQUEST_HANDLER in steps[] */
	STEP_EXECUTE = 7,        /* index of WASP_STAGE_EXECUTE_REQUEST_HANDLER in steps[] */
	STEP_SEND_RESPONSE = 10, /* index of WASP_STAGE_SEND_RESPONSE in steps[] */
	STEP_AFTER_WRITE = 12,
};

struct wasp_hooks *
hooks_new(void)
{
	struct wasp_hooks *h = calloc(1, sizeof(struct wasp_hooks));

	if (h) {
		h->cur_module = WHOOK_CORE;
		h->all.enabled = WMODSET_ALL;
	}
	return h;
}

struct wasp_hooks *
hooks_free(struct wasp_hooks *h)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < WASP_STAGE__COUNT; i++)
		free(h->all.stage[i]);
	stream_handlers_free(h);
	free(h);
	return NULL;
}

int
wasp_hooks_add(struct wasp_hooks *h, enum wasp_stage stage, enum wasp_priority prio,
	       wasp_handler_fn fn, void *userdata)
{
	struct wpipe *p;

	if (!h || (unsigned)stage >= WASP_STAGE__COUNT || (unsigned)prio >= WASP_PRIORITY__COUNT ||
	    !fn)
		return -EINVAL;
	p = &h->all;
	if (p->n[stage] == h->n_alloc[stage]) {
		size_t n = h->n_alloc[stage] ? h->n_alloc[stage] * 2 : 4;
		struct whook *a = reallocarray(p->stage[stage], n, sizeof(*a));
		if (!a)
			return -ENOMEM;
		p->stage[stage] = a;
		h->n_alloc[stage] = n;
	}
	p->stage[stage][p->n[stage]++] = (struct whook){
		.fn = fn,
		.userdata = userdata,
		.prio = prio,
		.module = h->cur_module,
		.order = h->order++,
	};
	return 0;
}

/* priority, then the module's place in <modules>, then registration order */
static int
hook_cmp(const void *a, const void *b)
{
	const struct whook *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void
hooks_seal(struct wasp_hooks *h)
{
	for (size_t i = 0; i < WASP_STAGE__COUNT; i++)
		if (h->all.n[i] > 1)
			qsort(h->all.stage[i], h->all.n[i], sizeof(struct whook), hook_cmp);
}

/* ---- per-application pipelines (<modules>) ---- */

#define MODULES_SECTION "system.webServer/modules"

void
pipe_unref(struct wpipe *p)
{
	if (!p || p->refs == 0 || --p->refs > 0)
		return;
	for (size_t i = 0; i < WASP_STAGE__COUNT; i++)
		free(p->stage[i]);
	free(p);
}

static void
pipe_unref_cb(void *p)
{
	pipe_unref(p);
}

/* The pipeline for the modules element e: the enabled modules' hooks, ranked
 * by their place in e. Unknown names are logged (once: this runs once per
 * distinct element). NULL on OOM. */
static struct wpipe *
pipe_build(struct worker_env *env, const struct wasp_element *e)
{
	struct wasp_hooks *h = env->hooks;
	unsigned rank[WORKER_MAX_MODULES];
	struct wpipe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	p->key = e;
	for (size_t i = 0; i < env->n_modules; i++) {
		rank[i] = 0;
		if (env->modules[i].core)
			p->enabled |= (wmodset)1 << i;
	}
	for (size_t i = 0; i < e->n_items; i++) {
		const char *name = wasp_element_get_str(e->items[i], "name", "");
		const char *type = wasp_element_get_str(e->items[i], "type", "");
		int m = module_find(env, name, strlen(name));

		if (m < 0) {
			if (*type) /* a managed (.NET) module: nothing to run here */
				log_debug("modules: '%s' (%s) is a managed module, ignored", name,
					  type);
			else
				log_warning("%s:%d: modules: no module '%s' is loaded "
					    "(built in, or in globalModules), ignored",
					    strempty(e->items[i]->file), e->items[i]->line, name);
			continue;
		}
		if (!(p->enabled & ((wmodset)1 << m))) {
			p->enabled |= (wmodset)1 << m;
			rank[m] = (unsigned)i + 1;
		}
	}
	for (size_t s = 0; s < WASP_STAGE__COUNT; s++) {
		size_t n = 0;

		p->stage[s] = calloc(MAX(h->all.n[s], (size_t)1), sizeof(struct whook));
		if (!p->stage[s]) {
			pipe_unref(p);
			return NULL;
		}
		for (size_t i = 0; i < h->all.n[s]; i++) {
			struct whook k = h->all.stage[s][i];

			if (k.module != WHOOK_CORE && !(p->enabled & ((wmodset)1 << k.module)))
				continue;
			k.rank = k.module == WHOOK_CORE ? 0 : rank[k.module];
			p->stage[s][n++] = k;
		}
		p->n[s] = n;
		if (n > 1)
			qsort(p->stage[s], n, sizeof(struct whook), hook_cmp);
	}
	return p;
}

/* The application's pipeline, from its effective <modules>: a cache hit
 * in config/ unless a web.config changed; NULL on OOM. */
static struct wpipe *
pipe_lookup(struct worker_env *env, struct wapp *app)
{
	const struct wasp_element *e = NULL;
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wpipe *p;
	int r;

	r = wasp_config_effective_section_at(env->config, app->site_name, app->path,
					     MODULES_SECTION, &e, &diags);
	/* the application root's web.config is often first read here: what
	 * it has to say is logged now (a cache hit would not say it again) */
	config_log_diags(&diags);
	wasp_diag_list_done(&diags);
	/* the built-in list as it is (no file nor <location> wrote
	 * <modules>): every loaded module, in registration order; else the
	 * merged list, the built-in names with what was removed, added or
	 * cleared */
	if ((r < 0 && r != -EINVAL) || !e || wasp_element_is_builtin(e) ||
	    (e->n_items == 0 && !e->file))
		return &env->hooks->all;
	if (app->pipe && app->pipe->key == e)
		return app->pipe;
	p = pipe_build(env, e);
	if (!p)
		return NULL;
	pipe_unref(app->pipe);
	app->pipe = p;
	return p;
}

struct wpipe *
pipe_for_request(struct wasp_request *req)
{
	struct worker_env *env = req->env;
	struct wapp *app = req->app;
	uint64_t now = req->start_usec ? req->start_usec : wasp_now_usec();
	struct wpipe *p;

	if (!env->config || !app)
		return &env->hooks->all;
	/* looked up again once a revalidation interval is over (the time is
	 * taken after the lookup, as for the request's sections) */
	if (!app->pipe_cur ||
	    (int64_t)(now - app->pipe_checked_usec) >= (int64_t)WORKER_CONFIG_REVALIDATE_USEC) {
		app->pipe_cur = pipe_lookup(env, app);
		if (!app->pipe_cur)
			return NULL;
		app->pipe_checked_usec = wasp_now_usec();
	}
	p = app->pipe_cur;
	if (p->refs == 0) /* static */
		return p;
	if (wasp_arena_add_cleanup(req->arena, pipe_unref_cb, p) < 0)
		return NULL;
	p->refs++;
	return p;
}

bool
pipeline_can_redirect(const struct wasp_request *req)
{
	return req->pipe && req->step <= STEP_EXECUTE;
}

bool
pipeline_in_begin(const struct wasp_request *req)
{
	return req->pipe && req->step == 0;
}

unsigned
pipeline_stage(const struct wasp_request *req)
{
	if (!req->pipe)
		return WASP_STAGE_BEGIN_REQUEST;
	if (req->step >= ELEMENTSOF(steps))
		return WASP_STAGE_END_REQUEST;
	if (steps[req->step] == STEP_WRITE)
		return WASP_REQUEST_STAGE_SENDING;
	return steps[req->step];
}

void
pipeline_redirect(struct wasp_request *req)
{
	req->mapped = false;
	req->handled = false;
	req->handler_name = NULL;
	req->handler_modules = WMODSET_ALL;
	req->bad_module = NULL;
	if (req->step >= STEP_MAP)
		req->remap = true;
}

/* After a handler redirected the request: MapRequestHandler again. */
static void
remap(struct wasp_request *req)
{
	req->remap = false;
	req->step = STEP_MAP;
	req->hook = 0;
}

void
pipeline_skip_to_send(struct wasp_request *req)
{
	req->step = STEP_SEND_RESPONSE;
	req->hook = 0;
}

/* What a handler's status means at this step. Returns true when the rest of
 * the stage is skipped. */
static bool
apply_status(struct wasp_request *req, unsigned stage, enum wasp_status st)
{
	switch (st) {
	case WASP_OK:
	case WASP_DECLINED:
	case WASP_AGAIN:
		return false;
	case WASP_DONE:
		if (stage == WASP_STAGE_EXECUTE_REQUEST_HANDLER) {
			/* the handler produced the response: other handlers of
			 * this stage do not run, the later stages do */
			req->handled = true;
			return true;
		}
		if (req->step < STEP_SEND_RESPONSE) {
			req->step = STEP_SEND_RESPONSE - 1; /* the loop's ++ lands on it */
			return true;
		}
		return stage == WASP_STAGE_SEND_RESPONSE;
	case WASP_ERROR:
	default:
		if (req->step <= STEP_SEND_RESPONSE) { /* nothing is on the wire yet */
			if (req->status < 400)
				request_set_error(req, 500, 0);
			if (req->step < STEP_SEND_RESPONSE)
				req->step = STEP_SEND_RESPONSE - 1;
			return true;
		}
		return false; /* after the response: the remaining stages still run */
	}
}

/* Does hook k run for req at stage? In ExecuteRequestHandler only the
 * modules of the chosen handler's entry (and core hooks) do. */
static inline bool
hook_runs(const struct wasp_request *req, unsigned stage, const struct whook *k)
{
	return stage != WASP_STAGE_EXECUTE_REQUEST_HANDLER || k->module == WHOOK_CORE ||
	       (req->handler_modules & ((wmodset)1 << k->module));
}

/* The request's first run: its pipeline, and whether its configuration
 * can be used at all. */
static void
pipeline_begin(struct wasp_request *req)
{
	req->pipe = pipe_for_request(req);
	req->handler_modules = WMODSET_ALL;
	if (!req->pipe) { /* out of memory: the bare pipeline, a 500 */
		req->pipe = &req->env->hooks->all;
		request_set_error(req, 500, 0);
		pipeline_skip_to_send(req);
	} else if (!request_config_usable(req)) {
		/* IIS reads the URL's configuration before BeginRequest: one
		 * it cannot use serves nothing (500.19) */
		request_set_error(req, 500, req->config_error ? 19 : 0);
		pipeline_skip_to_send(req);
	}
}

enum pipeline_result
pipeline_run(struct wasp_request *req)
{
	const struct wpipe *h;
	unsigned stage;

	if (!req->pipe)
		pipeline_begin(req);
	h = req->pipe;
	if (req->resumed) {
		/* the handler at req->hook returned WASP_AGAIN earlier */
		stage = steps[req->step];
		req->resumed = false;
		if (req->remap)
			remap(req);
		else if (apply_status(req, stage, req->resume_status))
			goto next_step;
		else
			req->hook++;
	}
	for (;;) {
		if (req->step >= ELEMENTSOF(steps))
			return PIPELINE_END;
		stage = steps[req->step];
		if (stage == STEP_WRITE) {
			/* a status >= 400 nobody gave a body gets the worker's page
			 * (after SendResponse, so CustomErrorModule can give one) */
			if (req->status >= 400 && !wasp_response_has_body(req))
				request_error_page(req);
			req->step = STEP_AFTER_WRITE;
			req->hook = 0;
			return PIPELINE_SEND;
		}
		while (req->hook < h->n[stage]) {
			const struct whook *k = &h->stage[stage][req->hook];
			enum wasp_status st;

			if (!hook_runs(req, stage, k)) {
				req->hook++;
				continue;
			}
			req->in_handler = true;
			st = k->fn(req, k->userdata);
			req->in_handler = false;
			if (st == WASP_AGAIN) {
				if (!req->resumed)
					return PIPELINE_PENDING;
				/* resumed from inside the handler: go on now */
				req->resumed = false;
				st = req->resume_status;
			}
			if (req->remap)
				break;
			if (apply_status(req, stage, st))
				break;
			req->hook++;
		}
		if (req->remap) {
			remap(req);
			continue;
		}
	next_step:
		if (req->step == STEP_MAP && !req->mapped && !handlers_map(req)) {
			req->step = STEP_SEND_RESPONSE;
			req->hook = 0;
			continue;
		}
		if (stage == WASP_STAGE_EXECUTE_REQUEST_HANDLER && !req->handled &&
		    req->status == 0)
			request_set_error(req, 404, 0);
		req->step++;
		req->hook = 0;
	}
}

void
wasp_request_resume(struct wasp_request *req, enum wasp_status status)
{
	req->resumed = true;
	req->resume_status = status == WASP_AGAIN ? WASP_ERROR : status;
	if (!req->in_handler)
		conn_resume(req->conn);
}
