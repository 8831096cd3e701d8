/* appcmd's module edit verbs, as `set config` edits of the two sections
 * (the loader's validation, atomic write, backup and edit lock):
 *
 *   install module /name:N /image:/ABS/PATH.so [/preCondition:P] [/add:false]
 *   uninstall module N
 *   add module /name:N [/type:T] [/preCondition:P] [/app.name:"SITE/path"] [/commit:C]
 *   delete module N [/app.name:"SITE/path"] [/commit:C]
 *   set module N [/app.name:"SITE/path"] [/commit:C] /preCondition:P
 *
 * install adds to globalModules and (unless /add:false) to the server's
 * modules; uninstall removes from both. /app.name: and /commit: write where
 * `set config "SITE/path" /commit:C` writes (the path's web.config, or a
 * <location> with /commit:apphost). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctledit_int.h"
#include "ctledit_obj.h"
#include "ctlmodule.h"
#include "util.h"

#define SEC_MODULES "system.webServer/modules"
#define SEC_GLOBAL_MODULES "system.webServer/globalModules"
#define ITEM_MAX 2048

struct mod_args {
	const char *name, *image, *type, *pre, *app, *add, *commit;
};

static int
args_read(const char *verb, int argc, char **argv, struct mod_args *a)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	        {"name", offsetof(struct mod_args, name)},
	        {"module.name", offsetof(struct mod_args, name)},
	        {"image", offsetof(struct mod_args, image)},
	        {"type", offsetof(struct mod_args, type)},
	        {"preCondition", offsetof(struct mod_args, pre)},
	        {"app.name", offsetof(struct mod_args, app)},
	        {"add", offsetof(struct mod_args, add)},
	        {"commit", offsetof(struct mod_args, commit)},
	};

	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		size_t k;

		for (k = 0; k < ELEMENTSOF(keys) && !(v = edit_arg_key(argv[i], keys[k].key)); k++)
			;
		if (v)
			*(const char **)((char *)a + keys[k].off) = v;
		else if (argv[i][0] != '/' && !a->name)
			a->name = argv[i];
		else {
			fprintf(stderr, "waspctl: %s module does not take '%s'\n", verb, argv[i]);
			return -EINVAL;
		}
	}
	if (!a->name || !*a->name) {
		fprintf(stderr, "waspctl: %s module needs a name (/name:NAME)\n", verb);
		return -EINVAL;
	}
	if (a->app && startswith(a->app, "MACHINE/WEBROOT/APPHOST/"))
		a->app += strlen("MACHINE/WEBROOT/APPHOST/");
	return 0;
}

/* ",key='value'" appended to buf (quoted with what value does not hold). */
static int
kv_append(char *buf, size_t size, const char *key, const char *value)
{
	char q = strchr(value, '\'') ? '"' : '\'';
	size_t l = strlen(buf);

	if (strchr(value, '\'') && strchr(value, '"')) {
		fprintf(stderr, "waspctl: %s holds both quote characters\n", key);
		return -EINVAL;
	}
	if ((size_t)snprintf(buf + l, size - l, "%s%s=%c%s%c", l && buf[l - 1] != '[' ? "," : "",
	                     key, q, value, q) >= size - l)
		return -E2BIG;
	return 0;
}

/* op ("/+[", "/-[", "/[") with name and the given attributes (NULL: left
 * out), then tail ("]" or "].preCondition:P"). */
static int
item_arg(char *buf, size_t size, const char *op, const struct mod_args *a, bool attrs,
         const char *tail)
{
	int r;

	snprintf(buf, size, "%s", op);
	if ((r = kv_append(buf, size, "name", a->name)) < 0)
		return r;
	if (attrs && a->image && (r = kv_append(buf, size, "image", a->image)) < 0)
		return r;
	if (attrs && a->type && (r = kv_append(buf, size, "type", a->type)) < 0)
		return r;
	if (attrs && a->pre && (r = kv_append(buf, size, "preCondition", a->pre)) < 0)
		return r;
	if (strlen(buf) + strlen(tail) >= size)
		return -E2BIG;
	strcat(buf, tail);
	return 0;
}

/* One `set config [PATH] /section:SECTION [/commit:C] ARG` (path and
 * commit: a's /app.name: and /commit:, when given). */
static int
edit_at(const char *config, const char *section, const struct mod_args *a, char *arg)
{
	_cleanup_free_ char *p = a && a->app ? strdup(a->app) : NULL;
	_cleanup_free_ char *commit = NULL;
	char msg[1024], *argv[3];
	int n = 0;

	if (a && a->app && !p)
		return -ENOMEM;
	if (a && a->commit && asprintf(&commit, "/commit:%s", a->commit) < 0)
		return -ENOMEM;
	if (p)
		argv[n++] = p;
	if (commit)
		argv[n++] = commit;
	argv[n++] = arg;
	return ctledit_config(config, section, n, argv, msg, sizeof(msg));
}

static int
install(const char *config, struct mod_args *a)
{
	char arg[ITEM_MAX];
	int r;

	if (!a->image || a->image[0] != '/') {
		fprintf(stderr, "waspctl: module '%s': image '%s' is not an absolute path\n",
		        a->name, a->image ? a->image : "");
		return -EINVAL;
	}
	if (a->type || a->app || a->commit) {
		fprintf(stderr, "waspctl: install module takes /name:, /image:, /preCondition:, "
		                "/add:\n");
		return -EINVAL;
	}
	if ((r = item_arg(arg, sizeof(arg), "/+[", a, true, "]")) < 0 ||
	    (r = edit_at(config, SEC_GLOBAL_MODULES, NULL, arg)) < 0)
		return r;
	if (a->add && strcaseeq(a->add, "false"))
		return 0;
	a->image = NULL;
	if ((r = item_arg(arg, sizeof(arg), "/+[", a, true, "]")) < 0)
		return r;
	return edit_at(config, SEC_MODULES, NULL, arg);
}

/* Does config's own server-level <modules> have an <add> of name? (One
 * it does not write is enabled through globalModules alone.) 1, 0 or
 * -errno (printed). */
static int
enabled_in_file(const char *config, const char *name)
{
	struct edit_doc d;
	xmlNode *n = NULL;
	int r, found = 0;

	if ((r = edit_doc_open(&d, config, false)) < 0)
		return r;
	if ((n = xmlDocGetRootElement(d.doc)) && (n = edit_child(n, "system.webServer", false)))
		n = edit_child(n, "modules", false);
	for (xmlNode *x = n ? n->children : NULL; x && !found; x = x->next) {
		_cleanup_free_ char *v = NULL;

		if (x->type == XML_ELEMENT_NODE && streq((const char *)x->name, "add"))
			found = (v = edit_prop(x, "name")) && strcaseeq(v, name);
	}
	edit_doc_done(&d);
	return found;
}

/* uninstall: the server's modules entry first (when there is one), then
 * the globalModules one. */
static int
uninstall(const char *config, const struct mod_args *a)
{
	char arg[ITEM_MAX];
	int r;

	if ((r = item_arg(arg, sizeof(arg), "/-[", a, false, "]")) < 0)
		return r;
	r = enabled_in_file(config, a->name);
	if (r < 0 || (r > 0 && (r = edit_at(config, SEC_MODULES, NULL, arg)) < 0))
		return r;
	return edit_at(config, SEC_GLOBAL_MODULES, NULL, arg);
}

static int
set_module(const char *config, const struct mod_args *a)
{
	char arg[ITEM_MAX], tail[ITEM_MAX];

	if (!a->pre && !a->type) {
		fprintf(stderr, "waspctl: set module needs /preCondition: or /type:\n");
		return -EINVAL;
	}
	if (a->pre) {
		int r;

		snprintf(tail, sizeof(tail), "].preCondition:%s", a->pre);
		if ((r = item_arg(arg, sizeof(arg), "/[", a, false, tail)) < 0 ||
		    (r = edit_at(config, SEC_MODULES, a, arg)) < 0)
			return r;
	}
	if (!a->type)
		return 0;
	snprintf(tail, sizeof(tail), "].type:%s", a->type);
	return item_arg(arg, sizeof(arg), "/[", a, false, tail) < 0
	               ? -E2BIG
	               : edit_at(config, SEC_MODULES, a, arg);
}

int
ctlmodule_edit(const char *config, const char *verb, int argc, char **argv, char *msg, size_t size)
{
	struct mod_args a = {0};
	char arg[ITEM_MAX];
	int r;

	if ((r = args_read(verb, argc, argv, &a)) < 0)
		return r;
	if (streq(verb, "install"))
		r = install(config, &a);
	else if (streq(verb, "uninstall"))
		r = uninstall(config, &a);
	else if (streq(verb, "set"))
		r = set_module(config, &a);
	else if (a.image) {
		fprintf(stderr, "waspctl: %s module does not take /image: (install module)\n",
		        verb);
		r = -EINVAL;
	} else if ((r = item_arg(arg, sizeof(arg), streq(verb, "add") ? "/+[" : "/-[", &a,
	                         streq(verb, "add"), "]")) >= 0)
		r = edit_at(config, SEC_MODULES, &a, arg);
	if (r >= 0)
		snprintf(msg, size, "MODULE object \"%s\" %s", a.name,
		         streq(verb, "install")     ? "installed"
		         : streq(verb, "uninstall") ? "uninstalled"
		         : streq(verb, "add")       ? "added"
		         : streq(verb, "set")       ? "changed"
		                                    : "deleted");
	return r;
}
