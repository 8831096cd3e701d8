/* Test switches, registered only when WORKER_CONFIG carries
 * WASP_WORKER_F_TEST_HEADERS (integration tests turn it on; never on
 * otherwise): every response names the pool and pid that served it
 * (X-Wasp-Pool, X-Wasp-Pid), and its IIS substatus when it has one
 * (X-Wasp-Substatus: 13 for a 404.13), and three URLs misbehave on purpose:
 *   /__wasp_test/hang        blocks the event loop forever (pings go unanswered)
 *   /__wasp_test/sleep?ms=N  answers 200 after N ms, from a timer (not blocking)
 *   /__wasp_test/crash       abort()
 * one answers with a module's own error body:
 *   /__wasp_test/error[/...][?skip]  500 with the body "module error body",
 *                            asking CustomErrorModule to keep it with ?skip
 * and two redirect internally from MapRequestHandler:
 *   /__wasp_test/redirect/N  to .../redirect/N-1; .../redirect/0 answers 200
 *                            "redirected from PATH" (the original path)
 *   /__wasp_test/loop        to itself, for ever (the worker's bound ends it)
 * and one, under any application, names a server variable as mapped:
 *   .../__wasp_test/var/NAME 200 "NAME=value" ("NAME unset" when there is none) */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libevent-util.h"
#include "util.h"
#include "worker.h"

#define TEST_PREFIX "/__wasp_test/"
#define TEST_SLEEP_MAX_MS 600000

struct test_sleep {
	struct wasp_request *req;
	struct event *ev;
	uint64_t ms;
};

static void
test_sleep_free(void *data)
{
	struct test_sleep *s = data;

	s->ev = wasp_event_free(s->ev);
}

static void
test_sleep_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct test_sleep *s = arg;
	char body[64];
	int n = snprintf(body, sizeof(body), "slept %llu ms\n", (unsigned long long)s->ms);

	wasp_response_set_status(s->req, 200, 0);
	(void)wasp_response_add_header(s->req, "Content-Type", "text/plain");
	(void)wasp_response_write(s->req, body, (size_t)n);
	wasp_request_resume(s->req, WASP_DONE);
}

static enum wasp_status
test_sleep_start(struct wasp_request *req)
{
	const char *q = wasp_request_query(req);
	const char *p = strstr(q, "ms=");
	char num[24] = "";
	struct test_sleep *s;
	struct timeval tv;
	uint64_t ms;

	if (p && (p == q || p[-1] == '&')) {
		size_t n = strcspn(p + 3, "&");
		if (n < sizeof(num)) {
			memcpy(num, p + 3, n);
			num[n] = '\0';
		}
	}
	if (wasp_parse_u64(num, TEST_SLEEP_MAX_MS, &ms) < 0) {
		wasp_response_set_status(req, 400, 0);
		return WASP_DONE;
	}
	s = wasp_request_alloc(req, sizeof(*s));
	if (!s)
		return WASP_ERROR;
	*s = (struct test_sleep){ .req = req, .ms = ms };
	s->ev = evtimer_new(wasp_server_event_base(wasp_request_server(req)), test_sleep_on_timer,
			    s);
	if (!s->ev || wasp_request_on_cleanup(req, test_sleep_free, s) < 0) {
		s->ev = wasp_event_free(s->ev);
		return WASP_ERROR;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	/* libevent counts a timeout from the time it cached when its loop last
	 * woke, which can be a few ms before this request started: without a
	 * fresh clock the answer came before N ms of the request's own time
	 * (time-taken 298 for ms=300) */
	(void)event_base_update_cache_time(wasp_server_event_base(wasp_request_server(req)));
	if (evtimer_add(s->ev, &tv) < 0)
		return WASP_ERROR;
	return WASP_AGAIN;
}

static void
test_no_room(struct wasp_request *req, void *userdata)
{
	(void)req;
	(void)userdata;
}

/* .../__wasp_test/stream-ended: a streamed HTML body produced and ended
 * before SendResponse (a FastCGI application's small page, all in). */
static enum wasp_status
test_stream_ended(struct wasp_request *req)
{
	static const char body[] = "<a href=\"/old/s\">s</a>\n";

	wasp_response_set_status(req, 200, 0);
	if (wasp_response_set_header(req, "Content-Type", "text/html") < 0 ||
	    wasp_response_stream(req, sizeof(body) - 1, test_no_room, NULL) < 0 ||
	    wasp_response_stream_write(req, body, sizeof(body) - 1) != sizeof(body) - 1 ||
	    wasp_response_stream_end(req) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

static enum wasp_status
test_on_begin(struct wasp_request *req, void *userdata)
{
	const char *what = startswith(wasp_request_path(req), TEST_PREFIX);

	if (!what)
		return WASP_OK;
	if (streq(what, "hang"))
		for (;;)
			pause(); /* the point: the loop stops */
	if (streq(what, "crash"))
		abort();
	if (streq(what, "sleep"))
		return test_sleep_start(req);
	if (streq(what, "stream-ended"))
		return test_stream_ended(req);
	if (streq(what, "error") || startswith(what, "error/")) {
		static const char body[] = "module error body\n";

		wasp_response_set_status(req, 500, 0);
		if (wasp_response_set_header(req, "Content-Type", "text/plain") < 0 ||
		    wasp_response_write(req, body, sizeof(body) - 1) < 0)
			return WASP_ERROR;
		if (streq(wasp_request_query(req), "skip"))
			wasp_response_set_try_skip_custom_errors(req, true);
		return WASP_DONE;
	}
	return WASP_OK;
}

/* .../__wasp_test/var/NAME: the server variable NAME, as mapped. */
static enum wasp_status
test_var(struct wasp_request *req, const char *name)
{
	const char *v = wasp_request_server_variable(req, name);

	wasp_response_set_status(req, 200, 0);
	if (wasp_response_write(req, name, strlen(name)) < 0 ||
	    wasp_response_write(req, v ? "=" : " unset", v ? 1 : 6) < 0 ||
	    (v && wasp_response_write(req, v, strlen(v)) < 0))
		return WASP_ERROR;
	return WASP_DONE;
}

static enum wasp_status
test_on_map(struct wasp_request *req, void *userdata)
{
	const char *what = startswith(wasp_request_path(req), TEST_PREFIX);
	const char *var = strstr(wasp_request_path(req), TEST_PREFIX "var/");
	const char *n;
	char url[64];
	uint64_t v;

	if (var)
		return test_var(req, var + strlen(TEST_PREFIX "var/"));
	if (what && streq(what, "loop"))
		return wasp_request_internal_redirect(req, wasp_request_path(req)) < 0 ? WASP_ERROR
										       : WASP_OK;
	if (!what || !(n = startswith(what, "redirect/")) || wasp_parse_u64(n, 1000, &v) < 0)
		return WASP_OK;
	if (v == 0) {
		const char *from = wasp_request_original_path(req);

		wasp_response_set_status(req, 200, 0);
		if (wasp_response_write(req, "redirected from ", 16) < 0 ||
		    wasp_response_write(req, from, strlen(from)) < 0)
			return WASP_ERROR;
		return WASP_DONE;
	}
	(void)snprintf(url, sizeof(url), TEST_PREFIX "redirect/%llu", (unsigned long long)(v - 1));
	return wasp_request_internal_redirect(req, url) < 0 ? WASP_ERROR : WASP_OK;
}

static enum wasp_status
test_on_send(struct wasp_request *req, void *userdata)
{
	struct wasp_server *srv = wasp_request_server(req);
	unsigned sub = wasp_response_substatus(req);
	char pid[16], substatus[16];

	(void)snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (wasp_response_add_header(req, "X-Wasp-Pool", wasp_server_pool_name(srv)) < 0 ||
	    wasp_response_add_header(req, "X-Wasp-Pid", pid) < 0)
		return WASP_ERROR;
	(void)snprintf(substatus, sizeof(substatus), "%u", sub);
	if (sub && wasp_response_add_header(req, "X-Wasp-Substatus", substatus) < 0)
		return WASP_ERROR;
	return WASP_OK;
}

static int
test_register_hooks(struct wasp_hooks *hooks)
{
	int r = wasp_hooks_add(hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_FIRST, test_on_begin,
			       NULL);
	if (r < 0)
		return r;
	r = wasp_hooks_add(hooks, WASP_STAGE_MAP_REQUEST_HANDLER, WASP_PRIORITY_FIRST, test_on_map,
			   NULL);
	if (r < 0)
		return r;
	return wasp_hooks_add(hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_LAST, test_on_send,
			      NULL);
}

const struct wasp_module mod_test = {
	.abi = WASP_MODULE_ABI,
	.name = "WaspTestModule",
	.register_hooks = test_register_hooks,
};
