/* worker/pipeline.c and module.c with a real configuration: <modules>
 * enabling modules per application and ordering ties, the handler results
 * (continue, finish, pending, error), <handlers> gating
 * ExecuteRequestHandler, module-owned configuration state built once per
 * effective section, per-module request context, response headers. The
 * connections are socketpairs served in-process (as in test_worker_conn). */
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apphost.h"
#include "arena.h"
#include "builtin_modules.h"
#include "test_config_util.h"
#include "testutil.h"
#include "util.h"
#include "worker.h"

static struct tc tc;
static struct event_base *base;
static struct worker_env env;
static struct wasp_arena *ah_arena;
static char trace[128];

static void
env_setup(const char *web_server)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_apphost *ah = NULL;
	char *body;

	(void)signal(SIGPIPE, SIG_IGN);
	ck_assert_int_gt(asprintf(&body, TC_APPHOST_MIN "<system.webServer>%s</system.webServer>\n"
					 "<location path=\"S/app\"><system.webServer>"
					 "<modules><clear /><add name=\"ModA\" />"
					 "<add name=\"ModB\" />"
					 "</modules>"
					 "<directoryBrowse showFlags=\"Date\" />"
					 "</system.webServer></location>\n",
				 web_server),
			 0);
	tc_setup(&tc, body);
	free(body);
	if (tc.load_result < 0)
		tc_dump(&tc.diags);
	ck_assert_int_eq(tc.load_result, 0);
	tc_write(&tc, "www/a.txt", "aaa\n");
	tc_write(&tc, "www/x.mod", "x\n");
	tc_write(&tc, "www-app/a.txt", "app aaa\n");
	ah_arena = wasp_arena_new();
	ck_assert_int_eq(wasp_apphost_build(tc.cfg, ah_arena, &ah, &diags), 0);
	wasp_diag_list_done(&diags);

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(env_init(&env, base), 0);
	env.config = tc.cfg;
	env.apphost = ah;
	env.pool_name = strdup("P");
	ck_assert_int_eq(env_build_apps(&env), 0);
	ck_assert_uint_eq(env.n_apps, 2);
	ck_assert_int_eq(env_load_modules(&env, WASP_WORKER_F_TEST_HEADERS), 0);
	trace[0] = '\0';
}

static void
env_teardown(void)
{
	env_done(&env);
	event_base_free(base);
	ah_arena = wasp_arena_free(ah_arena);
	tc_done(&tc);
}

/* Serve one request on a new connection to the application at app_path. */
static char *
serve(const char *app_path, const char *req)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap + 1);
	ssize_t n;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(conn_new(&env, sv[0], NULL, 1, app_path, NULL, 0), 0);
	ck_assert_int_eq(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_ge(event_base_dispatch(base), 0);
	while ((n = read(sv[1], out + len, cap - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(sv[1]);
	return out;
}

/* ---- fake modules, registered as if they were built in ---- */

static enum wasp_status
hook_trace(struct wasp_request *req, void *userdata)
{
	strcat(trace, userdata);
	return WASP_OK;
}

/* ExecuteRequestHandler: answer with its letter. */
static enum wasp_status
hook_answer(struct wasp_request *req, void *userdata)
{
	strcat(trace, userdata);
	wasp_response_set_status(req, 200, 0);
	(void)wasp_response_write(req, userdata, strlen(userdata));
	return WASP_DONE;
}

static int
reg_a(struct wasp_hooks *h)
{
	ck_assert_int_eq(wasp_hooks_add(h, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_MEDIUM,
					hook_trace, "A"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(h, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_HIGH,
					hook_trace, "a"),
			 0);
	return wasp_hooks_add(h, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_HIGH,
			      hook_answer, "XA");
}

static int
reg_b(struct wasp_hooks *h)
{
	ck_assert_int_eq(wasp_hooks_add(h, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_MEDIUM,
					hook_trace, "B"),
			 0);
	return wasp_hooks_add(h, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_HIGH,
			      hook_answer, "XB");
}

static int
reg_c(struct wasp_hooks *h)
{
	return wasp_hooks_add(h, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_FIRST, hook_trace, "C");
}

static const struct wasp_module mod_a = { .abi = WASP_MODULE_ABI, .name = "ModA",
					  .register_hooks = reg_a };
static const struct wasp_module mod_b = { .abi = WASP_MODULE_ABI, .name = "ModB",
					  .register_hooks = reg_b };
static const struct wasp_module mod_c = { .abi = WASP_MODULE_ABI, .name = "ModC",
					  .register_hooks = reg_c };

static void
add_module(const struct wasp_module *m)
{
	size_t i = env.n_modules++;

	env.modules[i] = (struct wmodule){ .m = m, .name = m->name };
	env.hooks->cur_module = (uint32_t)i;
	ck_assert_int_eq(m->register_hooks(env.hooks), 0);
	env.hooks->cur_module = WHOOK_CORE;
}

static void
add_fake_modules(void)
{
	add_module(&mod_a);
	add_module(&mod_b);
	add_module(&mod_c);
	hooks_seal(env.hooks);
}

/* ---- <modules> ---- */

/* A handler entry for the fake modules (the built-in defaults' StaticFile
 * entry runs only the static modules); written in applicationHost.config,
 * it is the whole list. */
#define ALL_HANDLER                                                                        \
	"<handlers><add name=\"Fake\" path=\"*\" verb=\"*\" modules=\"ModA,ModB\" />"      \
	"</handlers>"

START_TEST(test_modules_order_and_enabling)
{
	_cleanup_free_ char *out = NULL;

	env_setup("<modules><add name=\"StaticFileModule\" /><add name=\"ModB\" />"
		  "<add name=\"ModA\" /><add name=\"NoSuchModule\" /></modules>" ALL_HANDLER);
	add_fake_modules();

	/* the root: B before A (the <modules> order breaks the tie), a (HIGH)
	 * first; in ExecuteRequestHandler B answers first; ModC is not in
	 * <modules>: never runs */
	out = serve("/", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(trace, "aBAXB");
	ck_assert_msg(startswith(out, "HTTP/1.1 200 ") && strstr(out, "\r\n\r\nXB"), "%s", out);
	free(out);

	/* /app: A before B */
	trace[0] = '\0';
	out = serve("/app", "GET /app/a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(trace, "aABXA");
	ck_assert_msg(strstr(out, "\r\n\r\nXA"), "%s", out);
	env_teardown();
}
END_TEST

START_TEST(test_no_modules_section_enables_all)
{
	_cleanup_free_ char *out = NULL;

	env_setup(ALL_HANDLER);
	add_fake_modules();
	out = serve("/", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	/* registration order for ties; with a handler naming both, either
	 * module's ExecuteRequestHandler may run: ModA's answers first */
	ck_assert_str_eq(trace, "CaABXA");
	ck_assert_msg(strstr(out, "\r\n\r\nXA"), "%s", out);
	env_teardown();
}
END_TEST

#define X(sym, name) extern const struct wasp_module sym;
WASP_BUILTIN_MODULES(X)
#undef X

/* One list names the built-in modules: each module's .name is the name
 * listed, the worker has it under that name, and the built-in <modules>
 * list (config/defaults.c) names exactly these, in that order. */
START_TEST(test_builtin_module_names)
{
	static const struct {
		const struct wasp_module *m;
		const char *name;
	} listed[] = {
#define X(sym, name) { &sym, name },
		WASP_BUILTIN_MODULES(X)
#undef X
	};
	const struct wasp_element *e = NULL;
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;

	env_setup("");
	ck_assert_int_eq(wasp_config_effective_section(tc.cfg, "S/x", "system.webServer/modules", &e,
						       &diags),
			 0);
	wasp_diag_list_done(&diags);
	ck_assert(wasp_element_is_builtin(e));
	ck_assert_uint_eq(e->n_items, ELEMENTSOF(listed));
	for (size_t i = 0; i < ELEMENTSOF(listed); i++) {
		int k = module_find(&env, listed[i].name, strlen(listed[i].name));

		ck_assert_str_eq(listed[i].m->name, listed[i].name);
		ck_assert_int_ge(k, 0);
		ck_assert_ptr_eq(env.modules[k].m, listed[i].m);
		ck_assert_str_eq(wasp_element_get_str(e->items[i], "name", ""), listed[i].name);
	}
	env_teardown();
}
END_TEST

/* ---- <handlers> gate ExecuteRequestHandler ---- */

START_TEST(test_handler_runs_only_its_modules)
{
	_cleanup_free_ char *out = NULL;

	env_setup("<handlers accessPolicy=\"Read\">"
		  "<add name=\"Mod\" path=\"*.mod\" verb=\"GET\" modules=\"ModB\" "
		  "requireAccess=\"Read\" />"
		  "<add name=\"StaticFile\" path=\"*\" verb=\"GET,HEAD\" "
		  "modules=\"StaticFileModule\" "
		  "resourceType=\"Either\" requireAccess=\"Read\" />"
		  "</handlers>");
	add_fake_modules();
	out = serve("/", "GET /x.mod HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(strstr(out, "\r\n\r\nXB") && !strstr(trace, "XA"), "%s %s", trace, out);
	free(out);
	trace[0] = '\0';
	out = serve("/", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(strstr(out, "\r\n\r\naaa\n") && !strstr(trace, "X"), "%s %s", trace, out);
	free(out);
	out = serve("/", "POST /x.mod HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	ck_assert_msg(startswith(out, "HTTP/1.1 405 "), "%s", out);
	free(out);
	out = serve("/", "GET /nothing.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	/* StaticFile's file is missing: 404.0, not 404.4 */
	ck_assert_msg(startswith(out, "HTTP/1.1 404 ") && !strstr(out, "X-Wasp-Substatus"), "%s",
		      out);
	free(out);
	out = serve("/", "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(startswith(out, "HTTP/1.1 404 "), "%s", out);
	env_teardown();
}
END_TEST

/* A MapRequestHandler hook choosing the handler by name for /pick.txt. */
static enum wasp_status
hook_pick(struct wasp_request *req, void *userdata)
{
	ck_assert_ptr_null(wasp_request_handler_name(req)); /* not chosen yet */
	if (streq(wasp_request_path(req), "/pick.txt")) {
		ck_assert_int_eq(wasp_request_set_handler_name(req, "NoSuchHandler"), -ENOENT);
		ck_assert_int_eq(wasp_request_set_handler_name(req, "mod"), 0);
	}
	return WASP_OK;
}

static enum wasp_status
hook_name(struct wasp_request *req, void *userdata)
{
	strcat(trace, "[");
	strcat(trace, strempty(wasp_request_handler_name(req)));
	strcat(trace, "]");
	return WASP_OK;
}

START_TEST(test_set_handler_name)
{
	_cleanup_free_ char *out = NULL;

	env_setup("<handlers accessPolicy=\"Read\">"
		  "<add name=\"Mod\" path=\"*.mod\" verb=\"GET\" modules=\"ModB\" "
		  "requireAccess=\"Read\" />"
		  "<add name=\"StaticFile\" path=\"*\" verb=\"GET,HEAD\" "
		  "modules=\"StaticFileModule\" requireAccess=\"Read\" />"
		  "</handlers>");
	add_fake_modules();
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_MAP_REQUEST_HANDLER,
					WASP_PRIORITY_MEDIUM, hook_pick, NULL),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_PRE_EXECUTE_REQUEST_HANDLER,
					WASP_PRIORITY_MEDIUM, hook_name, NULL),
			 0);
	hooks_seal(env.hooks);
	out = serve("/", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(strstr(trace, "[StaticFile]") && strstr(out, "\r\n\r\naaa\n"), "%s %s",
		      trace, out);
	free(out);
	trace[0] = '\0';
	out = serve("/", "GET /pick.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(strstr(trace, "[Mod]") && strstr(out, "\r\n\r\nXB"), "%s %s", trace, out);
	env_teardown();
}
END_TEST

/* ---- handler results ---- */

static enum wasp_status
hook_result(struct wasp_request *req, void *userdata)
{
	const char *path = wasp_request_path(req);

	strcat(trace, userdata);
	if (streq(path, "/error"))
		return WASP_ERROR;
	if (streq(path, "/done"))
		return WASP_DONE;
	return WASP_OK;
}

START_TEST(test_results)
{
	_cleanup_free_ char *out = NULL;

	env_setup("");
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_AUTHORIZE_REQUEST,
					WASP_PRIORITY_MEDIUM, hook_result, "Z"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_RESOLVE_REQUEST_CACHE,
					WASP_PRIORITY_MEDIUM, hook_trace, "R"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_MEDIUM,
					hook_trace, "S"),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_END_REQUEST, WASP_PRIORITY_MEDIUM,
					hook_trace, "E"),
			 0);
	hooks_seal(env.hooks);

	out = serve("/", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(trace, "ZRSE"); /* continue */
	free(out);
	trace[0] = '\0';
	out = serve("/", "GET /done HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(trace, "ZSE"); /* finish: on to SendResponse */
	ck_assert_msg(startswith(out, "HTTP/1.1 200 "), "%s", out);
	free(out);
	trace[0] = '\0';
	out = serve("/", "GET /error HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(trace, "ZSE");
	ck_assert_msg(startswith(out, "HTTP/1.1 500 ") && strstr(out, "500 - "), "%s", out);
	env_teardown();
}
END_TEST

/* ---- module-owned config state, module context, response headers ---- */

static int n_builds;

static void *
build_flags(const struct wasp_element *sec, void *userdata)
{
	char *s;

	n_builds++;
	s = strdup(wasp_element_get_str(sec, "showFlags", "?"));
	return s;
}

static enum wasp_status
hook_state(struct wasp_request *req, void *userdata)
{
	const char *flags = wasp_request_config_state(req, "system.webServer/directoryBrowse",
						      build_flags, free, NULL);
	const struct wasp_element *e =
		wasp_request_config(req, "system.webServer/directoryBrowse");
	const char *name, *value;

	ck_assert_ptr_nonnull(flags);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(flags, wasp_element_get_str(e, "showFlags", ""));
	ck_assert_ptr_null(wasp_request_config(req, "system.webServer/noSuchSection"));

	/* per-module context */
	ck_assert_ptr_null(wasp_request_module_context(req, &mod_a));
	ck_assert_int_eq(wasp_request_set_module_context(req, &mod_a, &n_builds), 0);
	ck_assert_int_eq(wasp_request_set_module_context(req, &mod_b, trace), 0);
	ck_assert_ptr_eq(wasp_request_module_context(req, &mod_a), &n_builds);
	ck_assert_ptr_eq(wasp_request_module_context(req, &mod_b), trace);

	/* response headers */
	ck_assert_int_eq(wasp_response_add_header(req, "X-One", "1"), 0);
	ck_assert_int_eq(wasp_response_add_header(req, "x-one", "2"), 0);
	ck_assert_int_eq(wasp_response_add_header(req, "X-Two", "2"), 0);
	ck_assert_str_eq(wasp_response_header(req, "X-ONE"), "1");
	ck_assert_int_eq(wasp_response_set_header(req, "X-One", "3"), 0);
	ck_assert_str_eq(wasp_response_header(req, "X-One"), "3");
	ck_assert_int_eq(wasp_response_remove_header(req, "X-Two"), 0);
	ck_assert_int_eq(wasp_response_remove_header(req, "X-Two"), -ENOENT);
	ck_assert_int_eq(wasp_response_set_header(req, "Content-Length", "1"), -EINVAL);
	ck_assert(wasp_response_header_at(req, 0, &name, &value));
	ck_assert_str_eq(name, "X-One");
	ck_assert(!wasp_response_header_at(req, 1, &name, &value));

	/* server variables that need no socket */
	ck_assert_str_eq(wasp_request_server_variable(req, "URL"), wasp_request_path(req));
	ck_assert_str_eq(wasp_request_server_variable(req, "REQUEST_METHOD"), "GET");
	ck_assert_str_eq(wasp_request_server_variable(req, "HTTP_X_ASK"), "me");
	ck_assert_str_eq(wasp_request_server_variable(req, "SERVER_NAME"), "host.test");
	ck_assert_str_eq(wasp_request_server_variable(req, "INSTANCE_ID"), "1");
	ck_assert_str_eq(wasp_request_server_variable(req, "APP_POOL_ID"), "P");
	ck_assert_ptr_null(wasp_request_server_variable(req, "HTTP_X_NOT_SENT"));
	ck_assert_ptr_null(wasp_request_server_variable(req, "NO_SUCH_VARIABLE"));
	wasp_response_set_status(req, 200, 0);
	(void)wasp_response_write(req, flags, strlen(flags));
	return WASP_DONE;
}

START_TEST(test_state_context_headers)
{
	static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: host.test\r\nX-Ask: me\r\n\r\n";
	static const char app_req[] =
		"GET /app/a.txt HTTP/1.1\r\nHost: host.test\r\nX-Ask: me\r\n\r\n";
	_cleanup_free_ char *out = NULL;

	env_setup("<directoryBrowse showFlags=\"Time,Size\" />");
	/* applicationHost.config's own section, for init_process */
	ck_assert_str_eq(wasp_element_get_str(wasp_server_config(&env.server,
								 "system.webServer/directoryBrowse"),
					      "showFlags", ""),
			 "Time,Size");
	ck_assert_ptr_null(wasp_server_config(&env.server, "system.webServer/noSuchSection"));
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER,
					WASP_PRIORITY_FIRST, hook_state, NULL),
			 0);
	hooks_seal(env.hooks);
	n_builds = 0;
	out = serve("/", req);
	ck_assert_msg(strstr(out, "\r\nX-One: 3\r\n") && !strstr(out, "X-Two") &&
			      strstr(out, "\r\n\r\nTime,Size"),
		      "%s", out);
	free(out);
	out = serve("/", req);
	ck_assert_int_eq(n_builds, 1); /* the same effective section: built once */
	free(out);
	out = serve("/app", app_req);
	ck_assert_msg(strstr(out, "\r\n\r\nDate"), "%s", out);
	ck_assert_int_eq(n_builds, 2); /* another one */
	env_teardown();
}
END_TEST

/* ---- the per-(application, path) section cache ---- */

static enum wasp_status
hook_flags(struct wasp_request *req, void *userdata)
{
	const char *flags = wasp_request_config_state(req, "system.webServer/directoryBrowse",
						      build_flags, free, NULL);

	flags = flags ? flags : "-";
	wasp_response_set_status(req, 200, 0);
	(void)wasp_response_write(req, flags, strlen(flags));
	(void)wasp_response_write(req, ";", 1);
	return WASP_DONE;
}

/* n keep-alive requests on one connection, for prefix0 .. prefix<n-1>;
 * how many answers say what. */
static unsigned
serve_paths(const char *app_path, const char *prefix, unsigned n, const char *what)
{
	size_t cap = n * 64 + 1, len = 0;
	_cleanup_free_ char *reqs = malloc(cap);
	_cleanup_free_ char *out = NULL;
	unsigned count = 0;

	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(reqs + len, cap - len,
					"GET %s%u HTTP/1.1\r\nHost: h\r\n\r\n", prefix, i);
	out = serve(app_path, reqs);
	for (const char *p = out; (p = strstr(p, what)); p++)
		count++;
	return count;
}

START_TEST(test_config_cache_bound)
{
	unsigned batches = WORKER_RCACHE_MAX / 100 + 3;
	char prefix[32];

	env_setup("<directoryBrowse showFlags=\"Time,Size\" />");
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER,
					WASP_PRIORITY_FIRST, hook_flags, NULL),
			 0);
	hooks_seal(env.hooks);
	n_builds = 0;
	ck_assert_uint_eq(serve_paths("/", "/same", 1, "\r\n\r\nTime,Size;"), 1);
	ck_assert_uint_eq(serve_paths("/", "/same", 1, "\r\n\r\nTime,Size;"), 1);
	ck_assert_uint_eq(request_config_cache_size(&env), 1); /* one entry per path */

	/* more distinct paths than it keeps: the oldest go, the answers stay right */
	for (unsigned b = 0; b < batches; b++) {
		snprintf(prefix, sizeof(prefix), "/b%u/p", b);
		ck_assert_uint_eq(serve_paths("/", prefix, 100, "Time,Size;"), 100);
		ck_assert_uint_le(request_config_cache_size(&env), WORKER_RCACHE_MAX);
	}
	ck_assert_uint_eq(request_config_cache_size(&env), WORKER_RCACHE_MAX);
	ck_assert_uint_eq(serve_paths("/", "/b0/p", 3, "Time,Size;"), 3); /* evicted ones */
	ck_assert_uint_eq(serve_paths("/app", "/app/q", 2, "Date;"), 2);
	ck_assert_uint_eq(request_config_cache_size(&env), WORKER_RCACHE_MAX);
	ck_assert_int_eq(n_builds, 2); /* a state per distinct section, not per path */
	env_teardown();
}
END_TEST

/* ---- sections a module declares (wasp_request_module_conf) ---- */

struct dir_conf {
	char flags[64];
};

static int n_conf_builds;

static void *
build_dir_conf(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct dir_conf *c = calloc(1, sizeof(*c));

	ck_assert_ptr_eq(srv, &env.server);
	n_conf_builds++;
	if (c)
		snprintf(c->flags, sizeof(c->flags), "%s",
			 wasp_element_get_str(sec, "showFlags", ""));
	return c;
}

static enum wasp_status hook_conf(struct wasp_request *req, void *userdata);

static int
reg_conf(struct wasp_hooks *h)
{
	return wasp_hooks_add(h, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_FIRST, hook_conf, NULL);
}

static const struct wasp_module_section conf_sections[] = {
	{ .name = "system.webServer/directoryBrowse", .build = build_dir_conf, .free_conf = free },
};
static const struct wasp_module mod_conf = { .abi = WASP_MODULE_ABI,
					     .name = "ModConf",
					     .sections = conf_sections,
					     .n_sections = ELEMENTSOF(conf_sections),
					     .register_hooks = reg_conf };
static const struct wasp_module_section bad_sections[] = {
	{ .name = "system.webServer/noSuchSection", .build = build_dir_conf },
};
static const struct wasp_module mod_bad_section = { .abi = WASP_MODULE_ABI,
						    .name = "ModBad",
						    .sections = bad_sections,
						    .n_sections = 1,
						    .register_hooks = reg_c };

static enum wasp_status
hook_conf(struct wasp_request *req, void *userdata)
{
	const struct dir_conf *c = wasp_request_module_conf(req, &mod_conf, 0);

	ck_assert_ptr_eq(wasp_request_module_conf(req, &mod_conf, 0), c); /* the same struct */
	ck_assert_ptr_null(wasp_request_module_conf(req, &mod_conf, 1));  /* no such index */
	ck_assert_ptr_null(wasp_request_module_conf(req, &mod_a, 0));     /* not loaded */
	wasp_response_set_status(req, 200, 0);
	(void)wasp_response_write(req, c ? c->flags : "-", strlen(c ? c->flags : "-"));
	(void)wasp_response_write(req, ";", 1);
	return WASP_DONE;
}

/* Serve path until the answer holds want (the per-path cache revalidates
 * once a second); false after 5 s. */
static bool
wait_answer(const char *path, const char *want)
{
	uint64_t deadline = wasp_now_usec() + 5000000;

	do {
		if (serve_paths("/", path, 1, want) == 1)
			return true;
	} while (wasp_now_usec() < deadline);
	return false;
}

/* www/sub/web.config with directoryBrowse showFlags="flags" */
static void
write_browse_flags(const char *flags)
{
	_cleanup_free_ char *text = NULL;

	ck_assert_int_gt(asprintf(&text,
				  "<configuration><system.webServer><directoryBrowse showFlags=\"%s\" />"
				  "</system.webServer></configuration>",
				  flags),
			 0);
	tc_write(&tc, "www/sub/web.config", text);
}

START_TEST(test_module_sections)
{
	size_t i;

	env_setup("<directoryBrowse showFlags=\"Time,Size\" />");
	i = env.n_modules;
	add_module(&mod_conf);
	env.modules[i].core = true; /* also where /app's <modules> is cleared */
	ck_assert_int_eq(module_register(&env, (uint32_t)i), 0);
	ck_assert_int_eq(module_index(&env, &mod_conf), (int)i);
	hooks_seal(env.hooks);

	n_conf_builds = 0;
	ck_assert_uint_eq(serve_paths("/", "/same", 1, "\r\n\r\nTime,Size;"), 1);
	ck_assert_uint_eq(serve_paths("/", "/same", 3, "\r\n\r\nTime,Size;"), 3);
	ck_assert_int_eq(n_conf_builds, 1); /* built once for the path, not per request */
	ck_assert_uint_eq(serve_paths("/app", "/app/q", 2, "\r\n\r\nDate;"), 2);
	ck_assert_int_eq(n_conf_builds, 2); /* another effective section */

	/* a web.config appears along the path, then changes: built again each time */
	write_browse_flags("Size");
	ck_assert(wait_answer("/sub/x", "\r\n\r\nSize;"));
	ck_assert_int_eq(n_conf_builds, 3);
	ck_assert_uint_eq(serve_paths("/", "/sub/x", 3, "\r\n\r\nSize;"), 3);
	ck_assert_int_eq(n_conf_builds, 3);
	write_browse_flags("Extension");
	ck_assert(wait_answer("/sub/x", "\r\n\r\nExtension;"));
	ck_assert_int_eq(n_conf_builds, 4);
	ck_assert_uint_eq(serve_paths("/", "/same", 1, "\r\n\r\nTime,Size;"), 1);
	ck_assert_int_eq(n_conf_builds, 4);

	/* a section the schema does not have: the module is refused */
	i = env.n_modules;
	add_module(&mod_bad_section);
	ck_assert_int_eq(module_register(&env, (uint32_t)i), -ENOENT);
	env_teardown();
}
END_TEST

/* ---- internal redirects ---- */

static int redirect_late_result;

static enum wasp_status
hook_rewrite(struct wasp_request *req, void *userdata)
{
	const char *path = wasp_request_path(req);

	if (streq(path, "/rewrite")) {
		/* from BeginRequest: the request goes on with the new URL */
		ck_assert_int_eq(wasp_request_internal_redirect(req, "/a%2etxt?q=1"), 0);
		ck_assert_str_eq(wasp_request_path(req), "/a.txt");
		ck_assert_str_eq(wasp_request_query(req), "q=1");
		ck_assert_str_eq(wasp_request_original_path(req), "/rewrite");
		ck_assert_str_eq(wasp_request_server_variable(req, "URL"), "/a.txt");
		return WASP_OK;
	}
	if (streq(path, "/refused")) {
		/* another application (/app, same site), not a path, a bad one */
		ck_assert_int_eq(wasp_request_internal_redirect(req, "/app/a.txt"), -EXDEV);
		ck_assert_int_eq(wasp_request_internal_redirect(req, "/APP"), -EXDEV);
		ck_assert_int_eq(wasp_request_internal_redirect(req, "a.txt"), -EINVAL);
		ck_assert_int_eq(wasp_request_internal_redirect(req, "/x%00y"), -EINVAL);
		ck_assert_int_eq(wasp_request_internal_redirect(req, "/../a.txt"), -EINVAL);
		ck_assert_str_eq(wasp_request_path(req), "/refused");
		ck_assert_str_eq(wasp_request_original_path(req), "/refused");
		wasp_response_set_status(req, 200, 0);
		(void)wasp_response_write(req, "refused", 7);
		return WASP_DONE;
	}
	return WASP_OK;
}

/* After the response is decided: too late to redirect. */
static enum wasp_status
hook_redirect_late(struct wasp_request *req, void *userdata)
{
	redirect_late_result = wasp_request_internal_redirect(req, "/a.txt");
	return WASP_OK;
}

START_TEST(test_internal_redirect)
{
	_cleanup_free_ char *out = NULL;

	env_setup("");
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_FIRST,
					hook_rewrite, NULL),
			 0);
	ck_assert_int_eq(wasp_hooks_add(env.hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_FIRST,
					hook_redirect_late, NULL),
			 0);
	hooks_seal(env.hooks);
	/* the rewritten URL is mapped and served (StaticFile: a.txt) */
	out = serve("/", "GET /rewrite HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_msg(strstr(out, "HTTP/1.1 200 ") && strstr(out, "\r\n\r\naaa\n"), "%s", out);
	ck_assert_int_eq(redirect_late_result, -EINVAL);
	free(out);
	out = serve("/", "GET /refused HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_msg(strstr(out, "\r\n\r\nrefused"), "%s", out);
	env_teardown();
}
END_TEST

static Suite *
worker_pipeline_suite(void)
{
	Suite *s = suite_create("worker_pipeline");
	TCase *tc_ = tcase_create("pipeline");

	tcase_add_test(tc_, test_modules_order_and_enabling);
	tcase_add_test(tc_, test_no_modules_section_enables_all);
	tcase_add_test(tc_, test_builtin_module_names);
	tcase_add_test(tc_, test_handler_runs_only_its_modules);
	tcase_add_test(tc_, test_set_handler_name);
	tcase_add_test(tc_, test_results);
	tcase_add_test(tc_, test_state_context_headers);
	tcase_add_test(tc_, test_config_cache_bound);
	tcase_add_test(tc_, test_module_sections);
	tcase_add_test(tc_, test_internal_redirect);
	suite_add_tcase(s, tc_);
	return s;
}

int
main(void)
{
	return testutil_run(worker_pipeline_suite());
}
