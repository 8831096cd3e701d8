/* A worker's application processes in `list wp` (control.c): the
 * "applications" array of its entry, from its last WORKER_APPS. */
#include <jansson.h>

#include "control_apps.h"
#include "util.h"

static const char *const kind_names[] = {
	[WASP_APP_PROC_FASTCGI] = "fastcgi",
	[WASP_APP_PROC_CGI] = "cgi",
	[WASP_APP_PROC_HTTP_PLATFORM] = "httpPlatform",
	[WASP_APP_PROC_ASPNETCORE] = "aspNetCore",
};

static const char *const state_names[] = {
	[WASP_APP_PROC_STARTING] = "starting",
	[WASP_APP_PROC_IDLE] = "idle",
	[WASP_APP_PROC_BUSY] = "busy",
	[WASP_APP_PROC_STOPPING] = "stopping",
};

int
control_worker_apps(json_t *o, const struct worker *w)
{
	json_t *arr = json_array();

	if (!arr)
		return -ENOMEM;
	for (uint32_t k = 0; k < w->n_apps; k++) {
		const struct wasp_msg_app_proc *a = &w->apps[k];
		json_t *e = json_pack("{s:I, s:s, s:s, s:s, s:I}", "pid", (json_int_t)a->pid,
				      "kind", kind_names[a->kind], "application", a->application,
				      "state", state_names[a->state], "requests",
				      (json_int_t)a->requests);

		if (!e || json_array_append_new(arr, e) < 0) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	if (json_object_set_new(o, "applications", arr) < 0 ||
	    json_object_set_new(o, "applicationsTotal", json_integer(w->apps_total)) < 0)
		return -ENOMEM;
	return 0;
}
