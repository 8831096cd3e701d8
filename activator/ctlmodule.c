/* appcmd's module object, read from the configuration files as `list
 * config` is (no daemon):
 *
 *   waspctl list module [NAME] [/app.name:"SITE/path"] [--json]
 *
 * The modules <modules> enables at the server level, or at an
 * application's path (its web.config files and <location> paths merged):
 *
 *   MODULE "StaticFileModule" ( native:true )
 *   MODULE "Auth" ( type:My.AuthModule, preCondition:managedHandler )
 *
 * --json: {"ok": true, "modules": [{"name", "native", "type",
 * "preCondition", "image"}]}; image is the globalModules entry's, or
 * "builtin" for a module built into the worker. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "builtin_modules.h"
#include "config.h"
#include "ctlmodule.h"
#include "util.h"

#define SEC_MODULES "system.webServer/modules"
#define SEC_GLOBAL_MODULES "system.webServer/globalModules"

static const char *
module_image(struct wasp_config *cfg, const char *name)
{
#define X(sym, mname) mname,
	static const char *const builtins[] = { WASP_BUILTIN_MODULES(X) };
#undef X
	const struct wasp_element *g = wasp_config_section(cfg, SEC_GLOBAL_MODULES), *it;

	if (g && (it = wasp_element_find_item(g, name)))
		return wasp_element_get_str(it, "image", "");
	for (size_t i = 0; i < ELEMENTSOF(builtins); i++)
		if (strcaseeq(builtins[i], name))
			return "builtin";
	return "";
}

static json_t *
module_json(struct wasp_config *cfg, const struct wasp_element *it)
{
	const char *name = wasp_element_get_str(it, "name", "");
	const char *type = wasp_element_get_str(it, "type", "");

	return json_pack("{s:s, s:b, s:s, s:s, s:s}", "name", name, "native", !*type, "type", type,
			 "preCondition", wasp_element_get_str(it, "preCondition", ""), "image",
			 module_image(cfg, name));
}

static void
module_print(json_t *m)
{
	const char *pre = json_string_value(json_object_get(m, "preCondition"));

	printf("MODULE \"%s\" ( ", json_string_value(json_object_get(m, "name")));
	if (json_is_true(json_object_get(m, "native")))
		printf("native:true%s%s", *pre ? ", preCondition:" : "", pre);
	else
		printf("type:%s, preCondition:%s", json_string_value(json_object_get(m, "type")),
		       pre);
	printf(" )\n");
}

/* The effective <modules> at path (NULL: the server level). Errors printed. */
static int
modules_at(struct wasp_config *cfg, const char *path, const struct wasp_element **ret)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	int r = 0;

	if (!path) {
		*ret = wasp_config_section(cfg, SEC_MODULES);
		return *ret ? 0 : -ENOENT;
	}
	r = wasp_config_effective_section(cfg, path, SEC_MODULES, ret, &diags);
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
	wasp_diag_list_done(&diags);
	if (r == -ENOENT)
		fprintf(stderr, "waspctl: cannot find APP object with identifier \"%s\"\n", path);
	return r == -EINVAL && *ret ? 1 : r;
}

static int
args_read(int argc, char **argv, const char **name, const char **path)
{
	const char *v;

	for (int i = 0; i < argc; i++) {
		if ((v = startswith(argv[i], "/app.name:")))
			*path = v;
		else if ((v = startswith(argv[i], "/name:")) || (v = startswith(argv[i], "/module.name:")))
			*name = v;
		else if (argv[i][0] != '/' && !*name)
			*name = argv[i];
		else {
			fprintf(stderr, "waspctl: list module takes NAME and /app.name:PATH, not '%s'\n",
				argv[i]);
			return -EINVAL;
		}
	}
	if (*path && startswith(*path, "MACHINE/WEBROOT/APPHOST/"))
		*path += strlen("MACHINE/WEBROOT/APPHOST/");
	return 0;
}

int
ctlmodule_list(const char *config, int argc, char **argv, bool json)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	const struct wasp_element *mods = NULL;
	const char *name = NULL, *path = NULL;
	struct wasp_config *cfg = NULL;
	json_t *arr = NULL;
	int r, status = 1;

	if (args_read(argc, argv, &name, &path) < 0)
		return 2;
	r = wasp_config_load_file(config, &opts, &cfg, &diags);
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
	wasp_diag_list_done(&diags);
	if (!cfg) {
		fprintf(stderr, "waspctl: cannot load %s: %s\n", config, strerror(-r));
		return 1;
	}
	if ((r = modules_at(cfg, path, &mods)) < 0 || !(arr = json_array()))
		goto out;
	for (size_t i = 0; i < mods->n_items; i++)
		if (!name || strcaseeq(name, wasp_element_get_str(mods->items[i], "name", "")))
			json_array_append_new(arr, module_json(cfg, mods->items[i]));
	if (name && !json_array_size(arr)) {
		fprintf(stderr, "waspctl: cannot find MODULE object with identifier \"%s\"\n", name);
		goto out;
	}
	status = r > 0;
	if (json) {
		json_t *j = json_pack("{s:b, s:O}", "ok", 1, "modules", arr);

		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else {
		size_t i;
		json_t *m;

		json_array_foreach(arr, i, m)
			module_print(m);
	}
out:
	if (status && json && !arr)
		printf("{\"ok\": false, \"error\": \"see stderr\"}\n");
	json_decref(arr);
	wasp_config_free(cfg);
	return status;
}
