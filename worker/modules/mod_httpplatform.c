/* HttpPlatformHandler (system.webServer/httpPlatform) and the ASP.NET Core
 * Module out of process (system.webServer/aspNetCore): a <handlers> entry
 * naming the module sends its requests to an HTTP server the worker runs
 * for the application (worker/proxy/backend.c: started on the first
 * request with a free loopback port in HTTP_PLATFORM_PORT or
 * ASPNETCORE_PORT, restarted after a crash) through the proxy engine
 * (worker/proxy/proxy.c). docs/httpplatform.md has the attributes and the
 * statuses:
 *
 *   502.5  the process cannot be started, exits before it listens, does not
 *          listen within startupTimeLimit (after its attempts), or
 *          rapidFailsPerMinute holds it;
 *   502.3  the connection to it fails, or it is silent for requestTimeout
 *          (after the head went out: the client's connection is cut);
 *   503    app_offline.htm in the application's root (aspNetCore): its
 *          content, and the process stopped until the file goes;
 *   500.30 aspNetCore hostingModel="inprocess": there is no CLR in a
 *          worker (500.0 for a value that is neither). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "child.h"
#include "config.h"
#include "msg.h"
#include "proxy/backend.h"
#include "proxy/proxy.h"
#include "util.h"
#include "worker.h"

#define HP_MAX_ARGS 256
#define HP_MAX_ENV 1024
#define HP_SHUTDOWN_USEC (5ULL * 1000000) /* httpPlatform has no shutdownTimeLimit */
#define HP_OFFLINE_MAX (1024 * 1024)      /* app_offline.htm served at most */
#define HP_TOKEN_HEADER "MS-ASPNETCORE-TOKEN"

struct flavour {
	const char *what, *port_var;
	bool ancm;
	const struct wasp_module *module; /* its sections[0] is the section */
};

extern const struct wasp_module mod_httpplatform, mod_aspnetcore;

static struct flavour httpplatform = {
	"httpPlatform", "HTTP_PLATFORM_PORT", false, &mod_httpplatform
};
static struct flavour aspnetcore = {
	"aspNetCore", "ASPNETCORE_PORT", true, &mod_aspnetcore
};

/* What a section says, parsed once per distinct effective section. */
struct hpconf {
	char *process_path, *arguments, *log_file, *hosting_model, *fingerprint;
	char **env;
	uint64_t startup_usec, shutdown_usec, request_usec;
	unsigned attempts, rapid_fails, processes;
	bool log_enabled;
};

static void
hpconf_free(void *p)
{
	struct hpconf *c = p;

	if (!c)
		return;
	free(c->process_path);
	free(c->arguments);
	free(c->log_file);
	free(c->hosting_model);
	free(c->fingerprint);
	worker_strv_free(c->env);
	free(c);
}

static char *
backslashes(char *s)
{
	for (char *p = s; p && *p; p++)
		if (*p == '\\')
			*p = '/';
	return s;
}

static void *
hpconf_build(const struct wasp_element *sec, const struct flavour *fl)
{
	const struct wasp_element *vars = wasp_element_child(sec, "environmentVariables");
	size_t n_vars = vars ? MIN(vars->n_items, (size_t)HP_MAX_ENV) : 0, n = 0;
	struct hpconf *c = calloc(1, sizeof(*c));
	char *fp = NULL;
	size_t fp_len = 0;
	FILE *f;

	if (!c)
		return NULL;
	c->process_path = backslashes(strdup(wasp_element_get_str(sec, "processPath", "")));
	c->arguments = strdup(wasp_element_get_str(sec, "arguments", ""));
	c->log_file = backslashes(strdup(wasp_element_get_str(sec, "stdoutLogFile", "")));
	c->hosting_model = strdup(wasp_element_get_str(sec, "hostingModel", ""));
	c->log_enabled = wasp_element_get_bool(sec, "stdoutLogEnabled", false);
	c->startup_usec = MAX(wasp_element_get_uint(sec, "startupTimeLimit", 10), 1) * 1000000;
	c->request_usec = wasp_element_get_uint(sec, "requestTimeout", 120000000);
	c->rapid_fails = (unsigned)wasp_element_get_uint(sec, "rapidFailsPerMinute", 10);
	if (fl->ancm) {
		c->shutdown_usec = wasp_element_get_uint(sec, "shutdownTimeLimit", 10) * 1000000;
		c->attempts = 1;
		c->processes = 1;
	} else {
		c->shutdown_usec = HP_SHUTDOWN_USEC;
		c->attempts = (unsigned)MAX(wasp_element_get_uint(sec, "startupRetryCount", 10), 1);
		c->processes = (unsigned)wasp_element_get_uint(sec, "processesPerApplication", 1);
	}
	if (c->request_usec == 0)
		c->request_usec = 120000000;
	c->env = calloc(n_vars + 1, sizeof(char *));
	if (!c->process_path || !c->arguments || !c->log_file || !c->hosting_model || !c->env)
		goto oom;
	for (size_t k = 0; k < n_vars; k++) {
		const char *name = wasp_element_get_str(vars->items[k], "name", "");

		if (!*name || strchr(name, '='))
			continue;
		if (asprintf(&c->env[n++], "%s=%s", name,
			     wasp_element_get_str(vars->items[k], "value", "")) < 0) {
			c->env[--n] = NULL;
			goto oom;
		}
	}
	/* everything a process is started with: a change restarts it */
	f = open_memstream(&fp, &fp_len);
	if (!f)
		goto oom;
	fprintf(f, "%s%c%s%c%d%c%s%c", c->process_path, 0, c->arguments, 0, c->log_enabled, 0,
		c->log_file, 0);
	fprintf(f, "%llu %llu %u %u %u%c", (unsigned long long)c->startup_usec,
		(unsigned long long)c->shutdown_usec, c->attempts, c->rapid_fails, c->processes, 0);
	for (size_t k = 0; c->env[k]; k++)
		fprintf(f, "%s%c", c->env[k], 0);
	if (fclose(f) != 0 || !fp)
		goto oom;
	/* the NULs separate fields; a printable form for strcmp */
	for (size_t k = 0; k < fp_len; k++)
		if (fp[k] == 0)
			fp[k] = '\x1f';
	c->fingerprint = fp;
	return c;
oom:
	free(fp);
	hpconf_free(c);
	return NULL;
}

/* ---- one request ---- */

struct hpreq {
	struct wasp_request *req;
	const struct flavour *fl;
	const struct hpconf *conf;
	struct backend *b;
	struct backend_waiter waiter;
};

static enum wasp_status
early_error(struct wasp_request *req, const struct flavour *fl, unsigned status,
	    unsigned substatus, const char *why)
{
	wasp_log(status >= 500 && status != 503 ? WASP_LOG_ERR : WASP_LOG_WARNING, "%s: %s (%s %s)",
		 fl->what, why, wasp_request_method(req), wasp_request_path(req));
	wasp_response_set_status(req, status, substatus);
	wasp_request_set_error_detail(req, why);
	return WASP_DONE;
}

static int
forward(struct hpreq *h, struct proxy_pool *pool)
{
	struct proxy_header add[1];
	const struct wasp_element *ws = wasp_request_config(h->req, "system.webServer/webSocket");
	struct proxy_opts o = { .timeout_usec = h->conf->request_usec,
				.websocket = wasp_element_get_bool(ws, "enabled", true) };

	if (h->fl->ancm) {
		add[0] = (struct proxy_header){ HP_TOKEN_HEADER, backend_token(h->b) };
		o.add = add;
		o.n_add = 1;
		o.strip = HP_TOKEN_HEADER;
	}
	return proxy_forward(h->req, pool, &o);
}

static void
on_ready(struct backend_waiter *w, struct proxy_pool *pool, const char *why)
{
	struct hpreq *h = (struct hpreq *)((char *)w - offsetof(struct hpreq, waiter));
	struct wasp_request *req = h->req;

	if (pool && forward(h, pool) == 0)
		return;
	if (!pool)
		(void)early_error(req, h->fl, 502, 5,
				  wasp_arena_printf(req->arena, "the %s process failed: %s",
						    h->fl->what, strempty(why)));
	else
		wasp_response_set_status(req, 500, 0);
	wasp_request_resume(req, WASP_DONE); /* from the loop: the dispatch event */
}

static void
hpreq_cleanup(void *p)
{
	struct hpreq *h = p;

	backend_waiter_cancel(&h->waiter);
}

/* processPath as a file: absolute, relative to the application's root
 * (with a '/'), or found in PATH (a bare name: "node", "dotnet"). */
static char *
resolve_program(struct wasp_request *req, const char *root, const char *path)
{
	const char *env_path = getenv("PATH");
	char *dirs, *save = NULL;

	if (*path == '/')
		return wasp_request_strdup(req, path);
	if (strchr(path, '/'))
		return wasp_arena_printf(req->arena, "%s%s", root,
					 strncmp(path, "./", 2) == 0 ? path + 2 : path);
	dirs = wasp_request_strdup(req, env_path && *env_path ? env_path
							       : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = wasp_arena_printf(req->arena, "%s/%s", d, path);

		if (p && access(p, X_OK) == 0)
			return p;
	}
	return wasp_request_strdup(req, path); /* fails at start: 502.5, logged */
}

static char *
resolve_log(struct wasp_request *req, const char *root, const char *file)
{
	if (*file == '/')
		return wasp_request_strdup(req, file);
	return wasp_arena_printf(req->arena, "%s%s", root,
				 strncmp(file, "./", 2) == 0 ? file + 2 : file);
}

/* a, sep and b in the request's arena (every request makes its backend's
 * key and fingerprint: no printf) */
static char *
join(struct wasp_request *req, const char *a, char sep, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	char *s = wasp_request_alloc(req, al + bl + 2);

	if (!s)
		return NULL;
	memcpy(s, a, al);
	s[al] = sep;
	memcpy(s + al + 1, b, bl + 1);
	return s;
}

/* "WHAT SITE APP" */
static char *
backend_key(struct wasp_request *req, const char *what, unsigned site, const char *app)
{
	char num[16], *p = num + sizeof(num) - 1;

	*p = '\0';
	do
		*--p = (char)('0' + site % 10);
	while (site /= 10);
	p = join(req, p, ' ', app);
	return p ? join(req, what, ' ', p) : NULL;
}

static struct backend *
backend_for(struct hpreq *h, const char *root)
{
	struct wasp_request *req = h->req;
	const struct hpconf *c = h->conf;
	const char *app = wasp_request_app_path(req);
	char *key = backend_key(req, h->fl->what, wasp_request_site_id(req), app);
	char *fp = join(req, c->fingerprint, '\x1f', root);
	struct backend_conf bc;
	struct backend *b;
	char **env, *program;
	size_t n = 0;

	if (!key || !fp)
		return NULL;
	b = backend_find(key, fp);
	if (b)
		return b;
	program = resolve_program(req, root, c->process_path);
	while (c->env[n])
		n++;
	env = wasp_request_alloc(req, (n + 2) * sizeof(char *));
	if (!program || !env)
		return NULL;
	memcpy(env, c->env, n * sizeof(char *));
	env[n] = NULL;
	if (h->fl->ancm) /* the application's virtual path, as ANCM gives it */
		env[n++] = wasp_arena_printf(req->arena, "ASPNETCORE_APPL_PATH=%s", app);
	env[n] = NULL;
	bc = (struct backend_conf){
		.argv = worker_argv_build(program, c->arguments, HP_MAX_ARGS),
		.env = env,
		.port_var = h->fl->port_var,
		.token_var = h->fl->ancm ? "ASPNETCORE_TOKEN" : NULL,
		.kind = h->fl->ancm ? WASP_APP_PROC_ASPNETCORE : WASP_APP_PROC_HTTP_PLATFORM,
		.log_base = c->log_enabled ? resolve_log(req, root, c->log_file) : NULL,
		.label = wasp_arena_printf(req->arena, "%s of site %u %s", h->fl->what,
					   wasp_request_site_id(req), app),
		.startup_usec = c->startup_usec,
		.shutdown_usec = c->shutdown_usec,
		.attempts = c->attempts,
		.rapid_fails = c->rapid_fails,
		.processes = c->processes,
	};
	if (!bc.argv || !bc.label || (h->fl->ancm && !env[n - 1]))
		b = NULL;
	else
		b = backend_get(wasp_server_event_base(wasp_request_server(req)), key, fp, &bc);
	worker_strv_free(bc.argv);
	return b;
}

/* app_offline.htm in the application's root: 1 answered (503 with the
 * file's content, the process stopped), 0 not there. */
static int
app_offline(struct hpreq *h, const char *root)
{
	struct wasp_request *req = h->req;
	const char *path = wasp_arena_printf(req->arena, "%sapp_offline.htm", root);
	_cleanup_close_ int fd = -1;
	struct stat st;
	char *buf;
	ssize_t n;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (h->b && backend_running(h->b)) {
		wasp_log(WASP_LOG_INFO, "%s: app_offline.htm in %s, stopping the application",
			 h->fl->what, root);
		backend_stop(h->b);
	}
	buf = wasp_request_alloc(req, HP_OFFLINE_MAX);
	if (!buf)
		return -ENOMEM;
	n = read(fd, buf, HP_OFFLINE_MAX);
	wasp_response_set_status(req, 503, 0);
	(void)wasp_response_set_header(req, "Content-Type", "text/html");
	if (n > 0)
		(void)wasp_response_write(req, buf, (size_t)n);
	wasp_response_set_try_skip_custom_errors(req, true);
	return 1;
}

static enum wasp_status
execute(struct wasp_request *req, struct flavour *fl)
{
	const struct hpconf *c;
	const char *root;
	struct proxy_pool *pool = NULL;
	struct hpreq *h;
	int r;

	if (!wasp_request_handler_name(req))
		return WASP_DECLINED; /* no <handlers> (a worker without configuration) */
	c = wasp_request_module_conf(req, fl->module, 0);
	if (!c)
		return early_error(req, fl, 500, 0, "out of memory");
	if (!*c->process_path)
		return early_error(req, fl, 500, 0,
				   wasp_arena_printf(req->arena, "%s has no processPath", fl->what));
	if (fl->ancm && *c->hosting_model && !strcaseeq(c->hosting_model, "outofprocess")) {
		if (strcaseeq(c->hosting_model, "inprocess"))
			return early_error(req, fl, 500, 30,
					   "aspNetCore hostingModel=\"inprocess\" needs the .NET "
					   "runtime inside the worker, which wasp does not have; "
					   "use hostingModel=\"outofprocess\"");
		return early_error(req, fl, 500, 0,
				   wasp_arena_printf(req->arena, "unknown aspNetCore hostingModel '%s'",
						     c->hosting_model));
	}
	root = wasp_request_server_variable(req, "APPL_PHYSICAL_PATH");
	if (!root || !*root)
		return early_error(req, fl, 500, 0, "the application has no physical path");
	h = wasp_request_alloc(req, sizeof(*h));
	if (!h)
		return WASP_ERROR;
	*h = (struct hpreq){ .req = req, .fl = fl, .conf = c };
	h->b = backend_for(h, root);
	if (fl->ancm) {
		r = app_offline(h, root);
		if (r != 0)
			return r < 0 ? WASP_ERROR : WASP_DONE;
	}
	if (!h->b)
		return early_error(req, fl, 500, 0, "out of memory");
	if (wasp_request_on_cleanup(req, hpreq_cleanup, h) < 0)
		return WASP_ERROR;
	h->waiter.ready = on_ready;
	r = backend_acquire(h->b, &h->waiter, &pool);
	if (r == 0)
		return forward(h, pool) < 0 ? WASP_ERROR : WASP_AGAIN;
	if (r == 1)
		return WASP_AGAIN;
	if (r == -EBUSY)
		return early_error(req, fl, 503, 0, "too many requests wait for the process to start");
	return early_error(req, fl, 502, 5,
			   r == -EAGAIN
				   ? wasp_arena_printf(req->arena,
						       "the %s process failed rapidFailsPerMinute "
						       "times in the last minute",
						       fl->what)
				   : wasp_arena_printf(req->arena, "the %s process could not be started",
						       fl->what));
}

static enum wasp_status
httpplatform_execute(struct wasp_request *req, void *userdata)
{
	return execute(req, &httpplatform);
}

static enum wasp_status
aspnetcore_execute(struct wasp_request *req, void *userdata)
{
	return execute(req, &aspnetcore);
}

static void *
httpplatform_conf_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	return hpconf_build(sec, &httpplatform);
}

static void *
aspnetcore_conf_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	return hpconf_build(sec, &aspnetcore);
}

static const struct wasp_module_section httpplatform_sections[] = {
	{ "system.webServer/httpPlatform", httpplatform_conf_build, hpconf_free },
};

static const struct wasp_module_section aspnetcore_sections[] = {
	{ "system.webServer/aspNetCore", aspnetcore_conf_build, hpconf_free },
};

static int
httpplatform_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_MEDIUM,
			      httpplatform_execute, NULL);
}

static int
aspnetcore_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_MEDIUM,
			      aspnetcore_execute, NULL);
}

static void
backends_exit(struct wasp_server *srv)
{
	backends_free(); /* idempotent: both modules call it */
}

const struct wasp_module mod_httpplatform = {
	.abi = WASP_MODULE_ABI,
	.name = "httpPlatformHandler",
	.sections = httpplatform_sections,
	.n_sections = ELEMENTSOF(httpplatform_sections),
	.register_hooks = httpplatform_register_hooks,
	.exit_process = backends_exit,
};

const struct wasp_module mod_aspnetcore = {
	.abi = WASP_MODULE_ABI,
	.name = "AspNetCoreModuleV2",
	.sections = aspnetcore_sections,
	.n_sections = ELEMENTSOF(aspnetcore_sections),
	.register_hooks = aspnetcore_register_hooks,
	.exit_process = backends_exit,
};
