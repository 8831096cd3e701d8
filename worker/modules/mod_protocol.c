/* ProtocolSupportModule: system.webServer/httpProtocol, as IIS 7+ applies it.
 *
 *   customHeaders    every <add name value> of the effective collection
 *                    (add/remove/clear merged along the path) is added to
 *                    every response, error pages included, in SendResponse;
 *                    a header the handler set too is sent twice, as in IIS
 *   redirectHeaders  the same, only on redirects (301, 302, 303, 307, 308)
 *   allowKeepAlive   "false": the response says Connection: close and the
 *                    connection closes after it
 *
 * OPTIONS mapped to a handlers entry that names this module (IIS's stock
 * OPTIONSVerbHandler: path="*" verb="OPTIONS" requireAccess="None") is
 * answered 200 with IIS's Allow and Public and no body, whether the
 * resource exists or not, as IIS does. Without a handlers entry chosen (no
 * <handlers> at all) the hook declines.
 *
 * TRACE and TRACK are refused with 501 Not Implemented (what IIS 7.5+ and
 * its TRACEVerbHandler answer), in BeginRequest after request filtering
 * (which may deny them first, 404.6): the request is never echoed.
 *
 * The header lists are derived once per distinct effective section (a declared
 * section, wasp_request_module_conf); a header the worker writes itself
 * (Connection, Content-Length, ...) cannot be configured and is skipped with a
 * warning when the section is first used. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"
#include "wasp/module.h"
#include "worker.h"

#define PS_SECTION "system.webServer/httpProtocol"

struct ps_header {
	const char *name; /* in the configuration (lives as long as the worker) */
	const char *value;
};

struct ps_state {
	bool allow_keep_alive;
	struct ps_header *custom;
	size_t n_custom;
	struct ps_header *redirect;
	size_t n_redirect;
	struct ps_header items[];
};

static const char *const worker_headers[] = {
	"Content-Length", "Transfer-Encoding", "Connection", "Date", "Keep-Alive", "Upgrade",
};

static bool
header_ok(const char *name, const char *value)
{
	if (!*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return false;
	for (size_t i = 0; i < ELEMENTSOF(worker_headers); i++)
		if (strcaseeq(name, worker_headers[i]))
			return false;
	return true;
}

static void
fill(struct ps_header **ret_v, size_t *ret_n, struct ps_header **next,
     const struct wasp_element *e, const char *what)
{
	struct ps_header *v = *next;
	size_t n = 0;

	for (size_t i = 0; e && i < e->n_items; i++) {
		const char *name = wasp_element_get_str(e->items[i], "name", "");
		const char *value = wasp_element_get_str(e->items[i], "value", "");

		if (!header_ok(name, value)) {
			wasp_log(WASP_LOG_WARNING, "httpProtocol/%s: header '%s' (%s:%d) cannot be set, ignoring",
				 what, name, e->items[i]->file ? e->items[i]->file : "?",
				 e->items[i]->line);
			continue;
		}
		v[n++] = (struct ps_header){ name, value };
	}
	*ret_v = v;
	*ret_n = n;
	*next += n;
}

static void *
ps_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	const struct wasp_element *custom = wasp_element_child(sec, "customHeaders");
	const struct wasp_element *redirect = wasp_element_child(sec, "redirectHeaders");
	size_t n = (custom ? custom->n_items : 0) + (redirect ? redirect->n_items : 0);
	struct ps_state *st;
	struct ps_header *next;

	st = calloc(1, sizeof(*st) + n * sizeof(struct ps_header));
	if (!st)
		return NULL;
	st->allow_keep_alive = wasp_element_get_bool(sec, "allowKeepAlive", true);
	next = st->items;
	fill(&st->custom, &st->n_custom, &next, custom, "customHeaders");
	fill(&st->redirect, &st->n_redirect, &next, redirect, "redirectHeaders");
	return st;
}

extern const struct wasp_module mod_protocol;

static const struct wasp_module_section ps_sections[] = {
	{ .name = PS_SECTION, .build = ps_build, .free_conf = free },
};

static bool
is_redirect(unsigned status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static enum wasp_status
ps_on_send_response(struct wasp_request *req, void *userdata)
{
	const struct ps_state *st = wasp_request_module_conf(req, &mod_protocol, 0);

	(void)userdata;
	if (!st)
		return WASP_OK;
	for (size_t i = 0; i < st->n_custom; i++)
		if (wasp_response_add_header(req, st->custom[i].name, st->custom[i].value) < 0)
			return WASP_ERROR;
	if (is_redirect(wasp_response_status(req)))
		for (size_t i = 0; i < st->n_redirect; i++)
			if (wasp_response_add_header(req, st->redirect[i].name,
						     st->redirect[i].value) < 0)
				return WASP_ERROR;
	if (!st->allow_keep_alive)
		wasp_response_disable_keep_alive(req);
	return WASP_OK;
}

static enum wasp_status
ps_on_begin_request(struct wasp_request *req, void *userdata)
{
	const char *m = wasp_request_method(req);

	(void)userdata;
	if (streq(m, "TRACE") || streq(m, "TRACK")) {
		wasp_response_set_status(req, 501, 0);
		return WASP_DONE;
	}
	return WASP_OK;
}

/* ExecuteRequestHandler: runs only when the chosen entry names this module. */
static enum wasp_status
ps_on_execute(struct wasp_request *req, void *userdata)
{
	(void)userdata;
	if (!wasp_request_handler_name(req) || !streq(wasp_request_method(req), "OPTIONS"))
		return WASP_DECLINED;
	wasp_response_set_status(req, 200, 0);
	if (wasp_response_add_header(req, "Allow", WORKER_ALLOW_SERVER) < 0 ||
	    wasp_response_add_header(req, "Public", WORKER_ALLOW_SERVER) < 0)
		return WASP_ERROR;
	return WASP_DONE;
}

static int
ps_register_hooks(struct wasp_hooks *hooks)
{
	int r = wasp_hooks_add(hooks, WASP_STAGE_BEGIN_REQUEST, WASP_PRIORITY_LOW,
			       ps_on_begin_request, NULL);
	if (r < 0)
		return r;
	r = wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_MEDIUM,
			   ps_on_execute, NULL);
	if (r < 0)
		return r;
	return wasp_hooks_add(hooks, WASP_STAGE_SEND_RESPONSE, WASP_PRIORITY_LOW,
			      ps_on_send_response, NULL);
}

const struct wasp_module mod_protocol = {
	.abi = WASP_MODULE_ABI,
	.name = "ProtocolSupportModule",
	.sections = ps_sections,
	.n_sections = ELEMENTSOF(ps_sections),
	.register_hooks = ps_register_hooks,
};
