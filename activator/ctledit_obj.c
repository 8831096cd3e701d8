/* waspctl's edit verbs, as appcmd's:
 *
 *   set config ["SITE/path"] /section:NAME [/commit:apphost|site|app|url] ARGS
 *   add site /name:N [/id:I] [/bindings:PROTO/IP:PORT:HOST] [/physicalPath:P] [ARGS]
 *   add apppool /name:N [ARGS]
 *   add app /site.name:S /path:/P [/physicalPath:D] [ARGS]
 *   add vdir /app.name:"S/P" /path:/V [/physicalPath:D] [ARGS]
 *   set site|apppool|app|vdir NAME [ARGS]     delete site|apppool|app|vdir NAME
 *
 * ARGS are /ATTR:VALUE (dotted: /processModel.identityType:LocalService),
 * /+PATH and /-PATH collection edits. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctledit_int.h"
#include "ctledit_obj.h"
#include "util.h"

#define SEC_SITES "system.applicationHost/sites"
#define SEC_POOLS "system.applicationHost/applicationPools"
#define MAX_ARGS 64

/* A command's words: the object's name and the special attributes, and the
 * rest applied to the element as they are. */
struct obj_args {
	const char *name, *site, *app, *path, *physical, *bindings, *id, *commit;
	const char *rest[MAX_ARGS];
	size_t n_rest;
};

const char *
edit_arg_key(const char *arg, const char *key)
{
	size_t l = strlen(key);

	if (arg[0] != '/' || strncasecmp(arg + 1, key, l) != 0 || arg[1 + l] != ':')
		return NULL;
	return arg + 2 + l;
}

static int
args_read(const char *object, const char *verb, int argc, char **argv, struct obj_args *a)
{
	bool add = streq(verb, "add");
	char oname[32];

	snprintf(oname, sizeof(oname), "%s.name", object);
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *v;

		if (arg[0] != '/') {
			if (a->name) {
				fprintf(stderr, "waspctl: unexpected argument '%s'\n", arg);
				return -EINVAL;
			}
			a->name = arg;
		} else if ((v = edit_arg_key(arg, "name")) || (v = edit_arg_key(arg, oname)))
			a->name = v;
		else if ((v = edit_arg_key(arg, "commit")))
			a->commit = v;
		else if (add && (v = edit_arg_key(arg, "site.name")))
			a->site = v;
		else if (add && (v = edit_arg_key(arg, "app.name")))
			a->app = v;
		else if (add && (v = edit_arg_key(arg, "path")))
			a->path = v;
		else if (add && strcmp(object, "vdir") && (v = edit_arg_key(arg, "physicalPath")))
			a->physical = v;
		else if (add && streq(object, "site") && (v = edit_arg_key(arg, "id")))
			a->id = v;
		else if (streq(object, "site") && (v = edit_arg_key(arg, "bindings")))
			a->bindings = v;
		else if (a->n_rest < MAX_ARGS)
			a->rest[a->n_rest++] = arg;
		else {
			fprintf(stderr, "waspctl: at most %d arguments\n", MAX_ARGS);
			return -E2BIG;
		}
	}
	return 0;
}

static xmlNode *
find_by(xmlNode *parent, const char *elem, const char *attr, const char *value)
{
	struct edit_seg seg = { .n_kv = 1, .kv = { { attr, value } } };

	return edit_find_item(parent, elem, &seg);
}

static xmlNode *
add_with(xmlNode *parent, const char *elem, const char *attr, const char *value)
{
	xmlNode *n = edit_append(parent, elem);

	return n && edit_set_prop(n, attr, value) >= 0 ? n : NULL;
}

static int
apply_rest(struct edit_ctx *c, xmlNode *n, const char *spath, const struct obj_args *a)
{
	int r;

	for (size_t i = 0; i < a->n_rest; i++)
		if ((r = edit_apply_arg(c, n, spath, a->rest[i])) < 0)
			return r;
	return 0;
}

/* appcmd's /bindings:PROTOCOL/INFORMATION,... replaces the site's bindings. */
static int
set_bindings(xmlNode *site, const char *list)
{
	xmlNode *b = edit_child(site, "bindings", true), *x;
	_cleanup_free_ char *s = strdup(list);
	char *save = NULL;

	if (!b || !s)
		return -ENOMEM;
	while ((x = edit_child(b, "binding", false)))
		edit_remove(x);
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(t, '/');

		if (!slash || slash == t) {
			fprintf(stderr, "waspctl: binding '%s' is not PROTOCOL/INFORMATION\n", t);
			return -EINVAL;
		}
		*slash = 0;
		if (!(x = add_with(b, "binding", "protocol", t)) ||
		    edit_set_prop(x, "bindingInformation", slash + 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* An application with its root virtual directory. */
static int
add_app_node(xmlNode *site, const char *path, const char *physical, xmlNode **ret)
{
	xmlNode *app = add_with(site, "application", "path", path), *vd;

	if (!app)
		return -ENOMEM;
	*ret = app;
	if (!physical)
		return 0;
	vd = add_with(app, "virtualDirectory", "path", "/");
	return vd && edit_set_prop(vd, "physicalPath", physical) >= 0 ? 0 : -ENOMEM;
}

static uint64_t
next_site_id(xmlNode *sites)
{
	uint64_t max = 0;

	for (xmlNode *s = sites->children; s; s = s->next) {
		_cleanup_free_ char *id = NULL;

		if (s->type != XML_ELEMENT_NODE || !streq((const char *)s->name, "site"))
			continue;
		id = edit_prop(s, "id");
		if (id && strtoull(id, NULL, 10) > max)
			max = strtoull(id, NULL, 10);
	}
	return max + 1;
}

static int
add_site(struct edit_ctx *c, xmlNode *sites, const struct obj_args *a)
{
	xmlNode *site, *app;
	char id[32];
	int r;

	if (find_by(sites, "site", "name", a->name)) {
		fprintf(stderr, "waspctl: a site named \"%s\" exists\n", a->name);
		return -EEXIST;
	}
	snprintf(id, sizeof(id), "%" PRIu64, next_site_id(sites));
	if (!(site = add_with(sites, "site", "name", a->name)) ||
	    edit_set_prop(site, "id", a->id ? a->id : id) < 0)
		return -ENOMEM;
	if (a->bindings && (r = set_bindings(site, a->bindings)) < 0)
		return r;
	if (a->physical && (r = add_app_node(site, "/", a->physical, &app)) < 0)
		return r;
	return apply_rest(c, site, "site", a);
}

/* "S/blog" into the site's element and the application's path "/blog". */
static xmlNode *
site_of(xmlNode *sites, const char *name, const char **rest)
{
	_cleanup_free_ char *s = strndup(name, strcspn(name, "/"));
	xmlNode *site = s ? find_by(sites, "site", "name", s) : NULL;

	*rest = name + strcspn(name, "/");
	if (!**rest)
		*rest = "/";
	if (!site)
		fprintf(stderr, "waspctl: cannot find SITE object with identifier \"%s\"\n",
			s ? s : name);
	return site;
}

/* The application of site whose path is the longest prefix of url (by
 * segments); *rest is what is left ("/" when nothing). */
static xmlNode *
app_of(xmlNode *site, const char *url, const char **rest)
{
	xmlNode *best = NULL;
	size_t best_len = 0;

	for (xmlNode *x = site->children; x; x = x->next) {
		_cleanup_free_ char *p = NULL;
		size_t l;

		if (x->type != XML_ELEMENT_NODE || !streq((const char *)x->name, "application") ||
		    !(p = edit_prop(x, "path")))
			continue;
		l = strlen(p);
		l -= l && p[l - 1] == '/';
		if (strncasecmp(p, url, l) == 0 && (url[l] == '/' || !url[l]) &&
		    (!best || l >= best_len)) {
			best = x;
			best_len = l;
		}
	}
	*rest = url + best_len;
	if (!**rest)
		*rest = "/";
	return best;
}

static xmlNode *
find_object(xmlNode *sec, const char *object, const char *name)
{
	const char *rest, *vrest;
	xmlNode *site, *app, *vd;

	if (streq(object, "apppool"))
		return find_by(sec, "add", "name", name);
	if (!(site = site_of(sec, name, &rest)) || streq(object, "site"))
		return site;
	app = app_of(site, rest, &vrest);
	if (streq(object, "app"))
		return app && streq(vrest, "/") ? app : NULL;
	vd = app ? find_by(app, "virtualDirectory", "path", vrest) : NULL;
	return vd;
}

static int
add_object(struct edit_ctx *c, xmlNode *sec, const char *object, struct obj_args *a)
{
	const char *rest, *vrest;
	xmlNode *site, *app, *n;
	int r;

	if (streq(object, "site"))
		return add_site(c, sec, a);
	if (streq(object, "apppool")) {
		if (find_by(sec, "add", "name", a->name)) {
			fprintf(stderr, "waspctl: an apppool named \"%s\" exists\n", a->name);
			return -EEXIST;
		}
		n = add_with(sec, "add", "name", a->name);
		return n ? apply_rest(c, n, "add", a) : -ENOMEM;
	}
	if (!a->path) {
		fprintf(stderr, "waspctl: add %s needs /path:\n", object);
		return -EINVAL;
	}
	if (!(site = site_of(sec, streq(object, "app") ? a->site : a->app, &rest)))
		return -ENOENT;
	if (streq(object, "app")) {
		if (find_by(site, "application", "path", a->path)) {
			fprintf(stderr, "waspctl: the site has an application at '%s'\n", a->path);
			return -EEXIST;
		}
		if ((r = add_app_node(site, a->path, a->physical, &n)) < 0)
			return r;
		return apply_rest(c, n, "site/application", a);
	}
	app = app_of(site, rest, &vrest);
	if (!app || !streq(vrest, "/")) {
		fprintf(stderr, "waspctl: cannot find APP object with identifier \"%s\"\n", a->app);
		return -ENOENT;
	}
	if (!(n = add_with(app, "virtualDirectory", "path", a->path)))
		return -ENOMEM;
	return apply_rest(c, n, "site/application/virtualDirectory", a);
}

static const struct edit_object {
	const char *object, *tag, *spath, *section;
} edit_objects[] = {
	{ "site", "SITE", "site", SEC_SITES },
	{ "app", "APP", "site/application", SEC_SITES },
	{ "vdir", "VDIR", "site/application/virtualDirectory", SEC_SITES },
	{ "apppool", "APPPOOL", "add", SEC_POOLS },
};

static const struct edit_object *
edit_object_find(const char *object)
{
	for (size_t i = 0; object && i < ELEMENTSOF(edit_objects); i++)
		if (streq(edit_objects[i].object, object))
			return &edit_objects[i];
	return NULL;
}

static int
object_name(const char *verb, const char *object, struct obj_args *a, char *buf, size_t size)
{
	if (streq(verb, "add") && streq(object, "app") && a->site && a->path)
		snprintf(buf, size, "%s%s", a->site, a->path);
	else if (streq(verb, "add") && streq(object, "vdir") && a->app && a->path)
		snprintf(buf, size, "%s%s%s", a->app,
			 *a->app && a->app[strlen(a->app) - 1] == '/' ? "" : "/",
			 a->path + (a->path[0] == '/'));
	else if (a->name)
		snprintf(buf, size, "%s", a->name);
	else {
		fprintf(stderr, "waspctl: %s %s needs %s\n", verb, object,
			streq(object, "app")    ? "/site.name: and /path:"
			: streq(object, "vdir") ? "/app.name: and /path:"
						: "a name (/name:NAME)");
		return -EINVAL;
	}
	return 0;
}

static int
run_object(struct edit_ctx *c, const char *verb, const struct edit_object *ob,
	   struct obj_args *a)
{
	const char *object = ob->object;
	xmlNode *sec = edit_section_node(c, NULL), *n;

	if (!sec)
		return -ENOMEM;
	if (streq(verb, "add"))
		return add_object(c, sec, object, a);
	n = find_object(sec, object, a->name);
	if (!n) {
		fprintf(stderr, "waspctl: cannot find %s object with identifier \"%s\"\n", ob->tag,
			a->name);
		return -ENOENT;
	}
	if (streq(verb, "delete")) {
		edit_remove(n);
		return 0;
	}
	if (a->bindings) {
		int r = set_bindings(n, a->bindings);

		if (r < 0)
			return r;
	}
	return apply_rest(c, n, ob->spath, a);
}

int
ctledit_object(const char *config, const char *verb, const char *object, int argc, char **argv,
	       char *msg, size_t size)
{
	const struct edit_object *ob = edit_object_find(object);
	struct obj_args a = { 0 };
	struct edit_ctx c;
	char name[1024];
	int r;

	if (!ob) {
		fprintf(stderr, "waspctl: cannot %s '%s' (site, app, vdir, apppool, config)\n", verb,
			object ? object : "");
		return -EINVAL;
	}
	if ((r = args_read(object, verb, argc, argv, &a)) < 0 ||
	    (r = object_name(verb, object, &a, name, sizeof(name))) < 0)
		return r;
	if (a.commit && !strcaseeq(a.commit, "apphost") &&
	    !strcaseeq(a.commit, "MACHINE/WEBROOT/APPHOST")) {
		fprintf(stderr, "waspctl: %s objects live in applicationHost.config "
				"(/commit:apphost)\n", ob->tag);
		return -EINVAL;
	}
	r = edit_ctx_open(&c, config, config, ob->section);
	if (r >= 0)
		r = run_object(&c, verb, ob, &a);
	if (r >= 0)
		r = edit_commit_at(&c, NULL, NULL);
	edit_ctx_done(&c);
	if (r >= 0)
		snprintf(msg, size, "%s object \"%s\" %s", ob->tag, name,
			 streq(verb, "add") ? "added" : streq(verb, "set") ? "changed" : "deleted");
	return r;
}

/* ---- set config ------------------------------------------------------------------ */

/* The URL whose directory's web.config /commit: names: the path itself
 * (url), its application's root (app) or its site's (site). */
static char *
commit_url(struct edit_ctx *c, const char *site, const char *url, const char *commit)
{
	_cleanup_free_ char *app = NULL;
	char *s = NULL;

	if (!commit || strcaseeq(commit, "url") || strcaseeq(commit, "webconfig"))
		return strdup(url);
	if (strcaseeq(commit, "site"))
		return strdup("/");
	if (!(app = wasp_config_app_path(c->cfg, site, url)))
		return NULL;
	return asprintf(&s, "/%s", app) < 0 ? NULL : s;
}

/* appcmd's commit path for a configuration path: where to write (*file, a
 * web.config, or *location in applicationHost.config), and the commit path
 * as appcmd names it ("Site/app" after MACHINE/WEBROOT/APPHOST/). */
static int
config_target(struct edit_ctx *c, const char *path, const char *commit, char **file,
	      char **location, char **commit_path)
{
	_cleanup_free_ char *site = NULL, *dir = NULL, *url = NULL;

	*file = *location = *commit_path = NULL;
	if (commit && (strcaseeq(commit, "apphost") ||
		       strcaseeq(commit, "MACHINE/WEBROOT/APPHOST"))) {
		*location = strdup(path);
		return *location ? 0 : -ENOMEM;
	}
	if (commit && !strcaseeq(commit, "url") && !strcaseeq(commit, "webconfig") &&
	    !strcaseeq(commit, "site") && !strcaseeq(commit, "app")) {
		fprintf(stderr, "waspctl: /commit:%s is not one of apphost, site, app, url\n",
			commit);
		return -EINVAL;
	}
	if (!(site = strndup(path, strcspn(path, "/"))))
		return -ENOMEM;
	url = commit_url(c, site, path + strcspn(path, "/"), commit);
	dir = url ? wasp_config_map_dir(c->cfg, site, url) : NULL;
	if (!dir) {
		fprintf(stderr, "waspctl: '%s' maps to no directory of a site\n", path);
		return -ENOENT;
	}
	if (asprintf(commit_path, "%s%s", site, streq(url, "/") ? "" : url) < 0)
		return -ENOMEM;
	return asprintf(file, "%s/web.config", dir) < 0 ? -ENOMEM : 0;
}

static const char *
strip_apphost(const char *path)
{
	if (!path || !*path || streq(path, "/") || strcaseeq(path, "MACHINE/WEBROOT/APPHOST"))
		return NULL;
	if (startswith(path, "MACHINE/WEBROOT/APPHOST/"))
		return path + strlen("MACHINE/WEBROOT/APPHOST/");
	return path;
}

static int
set_config_in(struct edit_ctx *c, const char *path, const char *commit, int argc, char **argv,
	      char **commit_path)
{
	_cleanup_free_ char *file = NULL, *location = NULL, *site = NULL;
	xmlNode *sec;
	int r;

	if (path && (r = config_target(c, path, commit, &file, &location, commit_path)) < 0)
		return r;
	if (file) { /* a web.config: the document and the file change */
		c->file = file;
		edit_doc_done(&c->doc);
		if ((r = edit_doc_open(&c->doc, file, true)) < 0)
			return r;
	}
	if (!(sec = edit_section_node(c, location)))
		return -ENOMEM;
	for (int i = 0; i < argc; i++)
		if ((r = edit_apply_arg(c, sec, "", argv[i])) < 0)
			return r;
	if (!file)
		return edit_commit_at(c, NULL, NULL);
	if (!(site = strndup(path, strcspn(path, "/"))))
		return -ENOMEM;
	r = edit_commit_at(c, site, path + strcspn(path, "/"));
	c->file = c->config;
	return r;
}

int
ctledit_config(const char *config, const char *section, int argc, char **argv, char *msg,
	       size_t size)
{
	const char *path = NULL, *commit = NULL, *v;
	_cleanup_free_ char *commit_path = NULL;
	char *args[MAX_ARGS];
	int n = 0, r;
	struct edit_ctx c;

	for (int i = 0; i < argc; i++) {
		if ((v = edit_arg_key(argv[i], "commit")))
			commit = v;
		else if (argv[i][0] != '/' && !path && !n)
			path = argv[i];
		else if (n < MAX_ARGS)
			args[n++] = argv[i];
		else
			return -E2BIG;
	}
	if (!section) {
		fprintf(stderr, "waspctl: set config needs /section:NAME\n");
		return -EINVAL;
	}
	path = strip_apphost(path);
	if (!path && commit && !strcaseeq(commit, "apphost") &&
	    !strcaseeq(commit, "MACHINE/WEBROOT/APPHOST")) {
		fprintf(stderr, "waspctl: the server level is applicationHost.config "
				"(/commit:apphost)\n");
		return -EINVAL;
	}
	if ((r = edit_ctx_open(&c, config, config, section)) >= 0)
		r = set_config_in(&c, path, commit, n, args, &commit_path);
	if (r >= 0)
		snprintf(msg, size,
			 "Applied configuration changes to section \"%s\" for "
			 "\"MACHINE/WEBROOT/APPHOST%s%s\" at configuration commit path "
			 "\"MACHINE/WEBROOT/APPHOST%s%s\"",
			 c.section, path ? "/" : "", path ? path : "", commit_path ? "/" : "",
			 commit_path ? commit_path : "");
	edit_ctx_done(&c);
	return r;
}
