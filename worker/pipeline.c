/* The integrated pipeline engine: hooks per stage, sorted by priority, and
 * the walk of one request through the stages (IIS 7 order). The walk is a
 * loop over a fixed step list, so a pending handler (WASP_AGAIN) just leaves
 * the request's position behind; wasp_request_resume() continues from it. */
#include <errno.h>
#include <stdlib.h>

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
	STEP_SEND_RESPONSE = 10, /* index of WASP_STAGE_SEND_RESPONSE in steps[] */
	STEP_AFTER_WRITE = 12,
};

struct wasp_hooks *
hooks_new(void)
{
	return calloc(1, sizeof(struct wasp_hooks));
}

struct wasp_hooks *
hooks_free(struct wasp_hooks *h)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < WASP_STAGE__COUNT; i++)
		free(h->stage[i]);
	free(h);
	return NULL;
}

int
wasp_hooks_add(struct wasp_hooks *h, enum wasp_stage stage, enum wasp_priority prio,
	       wasp_handler_fn fn, void *userdata)
{
	if ((unsigned)stage >= WASP_STAGE__COUNT || (unsigned)prio >= WASP_PRIORITY__COUNT || !fn)
		return -EINVAL;
	if (h->n[stage] == h->n_alloc[stage]) {
		size_t n = h->n_alloc[stage] ? h->n_alloc[stage] * 2 : 4;
		struct whook *a = reallocarray(h->stage[stage], n, sizeof(*a));
		if (!a)
			return -ENOMEM;
		h->stage[stage] = a;
		h->n_alloc[stage] = n;
	}
	h->stage[stage][h->n[stage]++] =
		(struct whook){ .fn = fn, .userdata = userdata, .prio = prio, .order = h->order++ };
	return 0;
}

static int
hook_cmp(const void *a, const void *b)
{
	const struct whook *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void
hooks_seal(struct wasp_hooks *h)
{
	for (size_t i = 0; i < WASP_STAGE__COUNT; i++)
		if (h->n[i] > 1)
			qsort(h->stage[i], h->n[i], sizeof(struct whook), hook_cmp);
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

enum pipeline_result
pipeline_run(struct wasp_request *req)
{
	struct wasp_hooks *h = req->env->hooks;
	unsigned stage;

	if (req->resumed) {
		/* the handler at req->hook returned WASP_AGAIN earlier */
		stage = steps[req->step];
		req->resumed = false;
		if (apply_status(req, stage, req->resume_status))
			goto next_step;
		req->hook++;
	}
	for (;;) {
		if (req->step >= ELEMENTSOF(steps))
			return PIPELINE_END;
		stage = steps[req->step];
		if (req->step == STEP_SEND_RESPONSE && req->hook == 0 && req->status >= 400 &&
		    req->body_len == 0 && req->file_fd < 0)
			request_set_error(req, req->status, req->substatus); /* the error page */
		if (stage == STEP_WRITE) {
			req->step = STEP_AFTER_WRITE;
			req->hook = 0;
			return PIPELINE_SEND;
		}
		while (req->hook < h->n[stage]) {
			const struct whook *k = &h->stage[stage][req->hook];
			enum wasp_status st;

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
			if (apply_status(req, stage, st))
				break;
			req->hook++;
		}
	next_step:
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

int
wasp_request_set_handler_name(struct wasp_request *req, const char *name)
{
	/* the handlers mapping (next commit) validates the name */
	req->handler_name = wasp_request_strdup(req, name);
	return req->handler_name ? 0 : -ENOMEM;
}
