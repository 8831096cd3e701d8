/* An example external module for wasp-worker: built as its own .so against
 * nothing but the installed header <wasp/module.h>, loaded by listing it in
 * applicationHost.config:
 *
 *   <system.webServer>
 *     <globalModules>
 *       <add name="ExampleModule" image="/usr/lib/wasp/modules/mod_example.so" />
 *     </globalModules>
 *     <modules>
 *       <add name="ExampleModule" />
 *     </modules>
 *   </system.webServer>
 *
 * What it does:
 * - counts the requests this worker process ran it for and says so in a
 *   response header on every response: X-Example-Count: N (SendResponse);
 * - as a handler (a <handlers> entry with modules="ExampleModule") it
 *   answers the request itself with a short text (ExecuteRequestHandler):
 *   "example N: METHOD URL from REMOTE_ADDR", the request body's length
 *   appended for requests that have one (read with wasp_request_read_body,
 *   asynchronously when it has not all arrived yet), then, for
 *   ?vars=NAME,NAME, one "NAME=value" line per server variable; with
 *   ?delay=MS it answers MS milliseconds later, from a libevent timer on
 *   the worker's own event loop (wasp_server_event_base). A module that
 *   uses libevent links libevent_core; its calls bind to the copy inside
 *   wasp-worker (docs/modules.md).
 * - with ?conf it adds a line from its configuration: the module declares
 *   the section it reads (system.webServer/directoryBrowse), the worker
 *   builds its struct example_conf once per effective section (at most
 *   once per URL path, again after a web.config changed it) and the
 *   request gets it with wasp_request_module_conf(), exactly as built-in
 *   modules do.
 *
 * Everything per request lives in the request's arena (the timer is freed
 * by a request cleanup, so a request that ends early leaves none behind);
 * the counter and the server are the module's only global state (a worker
 * runs one event loop thread). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <wasp/config.h>
#include <wasp/module.h>

#define MIN_SIZE(a, b) ((a) < (b) ? (a) : (b))

#define MAX_DELAY_MS 10000

static uint64_t n_requests;
static struct wasp_server *server;

/* Per request: the number this request got, the body read so far, and the
 * ?delay timer while it runs. */
struct example_req {
	uint64_t n;
	uint64_t body_bytes;
	struct event *timer;
	bool delayed;
};

extern const struct wasp_module wasp_module;

/* The module's own view of its section, built by the worker's
 * configuration cache (example_conf_build) and shared by every request of
 * the paths it applies to: read-only. */
struct example_conf {
	bool browse;
	uint64_t show_flags;
};

enum { EXAMPLE_SECTION_BROWSE }; /* index in example_sections[] */

static void *
example_conf_build(const struct wasp_element *section, struct wasp_server *srv)
{
	struct example_conf *c = calloc(1, sizeof(*c));
	const struct wasp_value *v;

	(void)srv;
	if (!c)
		return NULL;
	/* the schema gives every attribute its default: no defaults here */
	v = wasp_element_value(section, "enabled");
	c->browse = v && v->b;
	v = wasp_element_value(section, "showFlags");
	c->show_flags = v ? v->u : 0;
	return c;
}

static const struct wasp_module_section example_sections[] = {
	[EXAMPLE_SECTION_BROWSE] = { .name = "system.webServer/directoryBrowse",
				     .build = example_conf_build,
				     .free_conf = free },
};

static struct example_req *
example_ctx(struct wasp_request *req)
{
	struct example_req *x = wasp_request_module_context(req, &wasp_module);

	if (x)
		return x;
	x = wasp_request_alloc(req, sizeof(*x));
	if (!x || wasp_request_set_module_context(req, &wasp_module, x) < 0)
		return NULL;
	x->n = ++n_requests;
	x->body_bytes = 0;
	x->timer = NULL;
	x->delayed = false;
	return x;
}

static enum wasp_status
example_begin(struct wasp_request *req, void *userdata)
{
	return example_ctx(req) ? WASP_OK : WASP_ERROR;
}

static enum wasp_status
example_send(struct wasp_request *req, void *userdata)
{
	struct example_req *x = example_ctx(req);
	char v[24];

	if (!x)
		return WASP_ERROR;
	(void)snprintf(v, sizeof(v), "%" PRIu64, x->n);
	return wasp_response_set_header(req, "X-Example-Count", v) < 0 ? WASP_ERROR : WASP_OK;
}

/* The answer, once the body (if any) is all read. */
static enum wasp_status
example_respond(struct wasp_request *req, struct example_req *x)
{
	const char *q = strstr(wasp_request_query(req), "vars=");
	char text[512], *vars;
	int n;

	n = snprintf(text, sizeof(text), "example %" PRIu64 ": %s %s from %s", x->n,
		     wasp_request_method(req), wasp_request_path(req),
		     wasp_request_server_variable(req, "REMOTE_ADDR"));
	if (wasp_request_body_length(req) != 0 && n > 0 && (size_t)n < sizeof(text))
		n += snprintf(text + n, sizeof(text) - (size_t)n, ", body %" PRIu64 " bytes",
			      x->body_bytes);
	if (n < 0 || (size_t)n >= sizeof(text) - 1)
		return WASP_ERROR;
	text[n++] = '\n';
	wasp_response_set_status(req, 200, 0);
	if (wasp_response_write(req, text, (size_t)n) < 0)
		return WASP_ERROR;
	/* ?vars=A,B: one "NAME=value" line each (the server variable API) */
	if (q) {
		vars = wasp_request_strdup(req, q + 5);
		for (char *save = NULL, *v = vars ? strtok_r(vars, ",&", &save) : NULL; v;
		     v = strtok_r(NULL, ",&", &save)) {
			const char *val = wasp_request_server_variable(req, v);
			if (strchr(v, '=')) /* the next query parameter */
				break;
			n = snprintf(text, sizeof(text), "%s=%s\n", v, val ? val : "(null)");
			if (n < 0 || wasp_response_write(req, text, MIN_SIZE((size_t)n,
									    sizeof(text) - 1)) < 0)
				return WASP_ERROR;
		}
	}
	if (strstr(wasp_request_query(req), "conf")) {
		const struct example_conf *c =
			wasp_request_module_conf(req, &wasp_module, EXAMPLE_SECTION_BROWSE);

		if (!c)
			return WASP_ERROR;
		n = snprintf(text, sizeof(text), "directoryBrowse enabled=%s showFlags=%" PRIu64 "\n",
			     c->browse ? "true" : "false", c->show_flags);
		if (n < 0 || wasp_response_write(req, text, (size_t)n) < 0)
			return WASP_ERROR;
	}
	if (wasp_response_set_header(req, "Content-Type", "text/plain") < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

/* Read what is there. WASP_AGAIN: wait for more (a callback is set). */
static enum wasp_status example_read(struct wasp_request *req, struct example_req *x);

static void
example_on_body(struct wasp_request *req, void *userdata)
{
	enum wasp_status st = example_read(req, userdata);

	if (st != WASP_AGAIN)
		wasp_request_resume(req, st);
}

static enum wasp_status
example_read(struct wasp_request *req, struct example_req *x)
{
	char buf[4096];

	for (;;) {
		ssize_t n = wasp_request_read_body(req, buf, sizeof(buf));

		if (n > 0) {
			x->body_bytes += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return example_respond(req, x);
		if (n == -EAGAIN)
			return wasp_request_wait_body(req, example_on_body, x) < 0 ? WASP_ERROR
										    : WASP_AGAIN;
		wasp_log(WASP_LOG_INFO, "ExampleModule: reading the body: %s", strerror((int)-n));
		return WASP_ERROR;
	}
}

static void
example_timer_free(void *data)
{
	struct example_req *x = data;

	if (x->timer) {
		event_free(x->timer);
		x->timer = NULL;
	}
}

static void
example_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_request *req = arg;
	struct example_req *x = example_ctx(req);
	enum wasp_status st;

	example_timer_free(x);
	st = example_read(req, x);
	if (st != WASP_AGAIN)
		wasp_request_resume(req, st);
}

/* ?delay=MS (at most MAX_DELAY_MS): arm the timer. WASP_AGAIN, or
 * WASP_OK when there is no delay to wait for. */
static enum wasp_status
example_delay(struct wasp_request *req, struct example_req *x)
{
	const char *q = strstr(wasp_request_query(req), "delay=");
	struct timeval tv;
	long ms;

	if (!q || x->delayed)
		return WASP_OK;
	x->delayed = true;
	ms = strtol(q + 6, NULL, 10);
	if (ms <= 0)
		return WASP_OK;
	if (ms > MAX_DELAY_MS)
		ms = MAX_DELAY_MS;
	x->timer = evtimer_new(wasp_server_event_base(server), example_on_timer, req);
	if (!x->timer || wasp_request_on_cleanup(req, example_timer_free, x) < 0) {
		example_timer_free(x);
		return WASP_ERROR;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(x->timer, &tv) < 0 ? WASP_ERROR : WASP_AGAIN;
}

static enum wasp_status
example_execute(struct wasp_request *req, void *userdata)
{
	struct example_req *x = example_ctx(req);
	enum wasp_status st;

	if (!x)
		return WASP_ERROR;
	st = example_delay(req, x);
	if (st != WASP_OK)
		return st;
	return example_read(req, x);
}

static int
example_register(struct wasp_hooks *hooks)
{
	int r;

	r = wasp_hooks_add(hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_MEDIUM, example_begin,
			   NULL);
	if (r >= 0)
		r = wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_MEDIUM,
				   example_execute, NULL);
	if (r >= 0)
		r = wasp_hooks_add(hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_MEDIUM,
				   example_send, NULL);
	return r;
}

static int
example_init(struct wasp_server *srv)
{
	server = srv;
	wasp_log(WASP_LOG_INFO, "ExampleModule: loaded in pool '%s'", wasp_server_pool_name(srv));
	return 0;
}

/* The symbol wasp-worker looks up after dlopen(). */
const struct wasp_module wasp_module = {
	.abi = WASP_MODULE_ABI,
	.name = "ExampleModule",
	.sections = example_sections,
	.n_sections = sizeof(example_sections) / sizeof(example_sections[0]),
	.init_process = example_init,
	.register_hooks = example_register,
};
