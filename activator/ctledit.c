/* waspctl's edit verbs on the configuration files, as appcmd's:
 *
 *   waspctl set config ["SITE/path"] /section:NAME [/commit:apphost|site|app|url]
 *           [/ATTR:VALUE] [/+PATH] [/-PATH] ...
 *   waspctl add|set|delete site|app|vdir|apppool ... (ctledit_obj.c)
 *
 * The file is edited in place (comments, order, indentation kept), the
 * result loaded with the configuration library (schema, locks) before it
 * replaces the file atomically; an edit that does not load is refused and
 * the file is left as it was. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter_conf.h"
#include "apphost.h"
#include "config.h"
#include "ctledit_int.h"
#include "metrics_conf.h"
#include "util.h"

/* /+PATH or /-PATH (op '+' or '-'): parsed into p, walked to the element
 * whose collection its last step selects in (*node), names that
 * collection's element names. */
static int
collection_at(struct edit_ctx *c, xmlNode **node, char *spath, char *s, const char *arg,
	      char op, struct edit_path *p, struct wasp_config_collection *names)
{
	int r;

	if ((r = edit_path_parse(s, p, arg)) < 0)
		return r;
	if (p->segs[p->n - 1].name) {
		fprintf(stderr, "waspctl: '%s': /%c ends with [attribute='value',...]\n", arg, op);
		return -EINVAL;
	}
	if ((r = edit_walk(c, node, spath, EDIT_SPATH_MAX, p->segs, p->n - 1, true)) < 0)
		return r;
	if (wasp_config_collection_names(c->cfg, c->section, spath, names) < 0) {
		fprintf(stderr, "waspctl: '%s': %s%s%s has no collection\n", arg, c->section,
			*spath ? "/" : "", spath);
		return -EINVAL;
	}
	return 0;
}

/* appcmd refuses an attribute the schema does not declare (the loader
 * would only warn and ignore it). */
static int
attr_check(struct edit_ctx *c, const char *spath, const char *elem, const char *name)
{
	char path[EDIT_SPATH_MAX];

	int n = snprintf(path, sizeof(path), "%s%s%s", spath, *spath && elem ? "/" : "",
			 elem ? elem : "");
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "waspctl: the path of attribute \"%s\" in %s is too long\n", name,
			c->section);
		return -ENAMETOOLONG;
	}
	if (wasp_config_attr_declared(c->cfg, c->section, path, name))
		return 0;
	fprintf(stderr, "waspctl: unknown attribute \"%s\" on %s%s%s\n", name, c->section,
		*path ? "/" : "", path);
	return -EINVAL;
}

/* A new elem in parent with the selector's attributes (each checked
 * against the schema when check). */
static int
item_append(struct edit_ctx *c, const char *spath, xmlNode *parent, const char *elem,
	    const struct edit_seg *seg, bool check)
{
	xmlNode *n;
	int r;

	for (size_t i = 0; check && i < seg->n_kv; i++)
		if ((r = attr_check(c, spath, elem, seg->kv[i].k)) < 0)
			return r;
	if (!(n = edit_append(parent, elem)))
		return -ENOMEM;
	for (size_t i = 0; i < seg->n_kv; i++)
		if ((r = edit_set_prop(n, seg->kv[i].k, seg->kv[i].v)) < 0)
			return r;
	return 0;
}

static int
apply_add(struct edit_ctx *c, xmlNode *node, char *spath, char *s, const char *arg)
{
	struct wasp_config_collection names;
	struct edit_path p;
	int r;

	if ((r = collection_at(c, &node, spath, s, arg, '+', &p, &names)) < 0)
		return r;
	if (edit_find_item(node, names.add, &p.segs[p.n - 1])) {
		fprintf(stderr, "waspctl: cannot add a duplicate collection entry ");
		edit_seg_print(stderr, &p.segs[p.n - 1]);
		fputc('\n', stderr);
		return -EEXIST;
	}
	return item_append(c, spath, node, names.add, &p.segs[p.n - 1], true);
}

/* An item this file does not have is one it inherits: <remove> it, as
 * appcmd writes in a web.config or <location>. */
static int
apply_remove(struct edit_ctx *c, xmlNode *node, char *spath, char *s, const char *arg)
{
	struct wasp_config_collection names;
	struct edit_path p;
	xmlNode *n;
	int r;

	if ((r = collection_at(c, &node, spath, s, arg, '-', &p, &names)) < 0)
		return r;
	if ((n = edit_find_item(node, names.add, &p.segs[p.n - 1]))) {
		edit_remove(n);
		return 0;
	}
	if (!names.remove) {
		fprintf(stderr, "waspctl: cannot find ");
		edit_seg_print(stderr, &p.segs[p.n - 1]);
		fprintf(stderr, " to delete in %s\n", c->section);
		return -ENOENT;
	}
	return item_append(c, spath, node, names.remove, &p.segs[p.n - 1], false);
}

static int
apply_set(struct edit_ctx *c, xmlNode *node, char *spath, char *s, const char *arg)
{
	char *sep = edit_value_sep(s);
	struct edit_path p;
	int r;

	if (!sep) {
		fprintf(stderr, "waspctl: '%s': expected /ATTRIBUTE:VALUE, /+[...] or /-[...]\n",
			arg);
		return -EINVAL;
	}
	*sep = 0;
	if ((r = edit_path_parse(s, &p, arg)) < 0)
		return r;
	if (!p.segs[p.n - 1].name) {
		fprintf(stderr, "waspctl: '%s': the last step names an attribute\n", arg);
		return -EINVAL;
	}
	if ((r = edit_walk(c, &node, spath, EDIT_SPATH_MAX, p.segs, p.n - 1, true)) < 0 ||
	    (r = attr_check(c, spath, NULL, p.segs[p.n - 1].name)) < 0)
		return r;
	return edit_set_prop(node, p.segs[p.n - 1].name, sep + 1);
}

int
edit_apply_arg(struct edit_ctx *c, xmlNode *node, const char *spath, const char *arg)
{
	_cleanup_free_ char *s = NULL;
	char sp[EDIT_SPATH_MAX];

	if (arg[0] != '/' || !arg[1]) {
		fprintf(stderr, "waspctl: unexpected argument '%s'\n", arg);
		return -EINVAL;
	}
	snprintf(sp, sizeof(sp), "%s", spath);
	if (!(s = strdup(arg + 1 + (arg[1] == '+' || arg[1] == '-'))))
		return -ENOMEM;
	if (arg[1] == '+')
		return apply_add(c, node, sp, s, arg);
	if (arg[1] == '-')
		return apply_remove(c, node, sp, s, arg);
	return apply_set(c, node, sp, s, arg);
}

static bool
location_is(xmlNode *n, const char *location)
{
	_cleanup_free_ char *p = edit_prop(n, "path");
	const char *a = p ? p : "", *b = location;
	size_t la, lb;

	a += *a == '/';
	b += *b == '/';
	la = strlen(a);
	lb = strlen(b);
	la -= la && a[la - 1] == '/';
	lb -= lb && b[lb - 1] == '/';
	return la == lb && strncasecmp(a, b, la) == 0;
}

xmlNode *
edit_section_node(struct edit_ctx *c, const char *location)
{
	xmlNode *n = xmlDocGetRootElement(c->doc.doc);
	_cleanup_free_ char *groups = strdup(c->section);
	char *save = NULL;

	if (!groups)
		return NULL;
	if (location) {
		xmlNode *loc = NULL;

		for (xmlNode *x = n->children; x && !loc; x = x->next)
			if (x->type == XML_ELEMENT_NODE && streq((const char *)x->name, "location") &&
			    location_is(x, location))
				loc = x;
		if (!loc) {
			/* as IIS writes it: "Site" or "Site/app", no slash at the end */
			size_t l = strlen(location);
			_cleanup_free_ char *p =
				strndup(location, l - (l > 1 && location[l - 1] == '/'));

			if (!p || !(loc = edit_append(n, "location")) ||
			    edit_set_prop(loc, "path", p) < 0)
				return NULL;
		}
		n = loc;
	}
	for (char *g = strtok_r(groups, "/", &save); g && n; g = strtok_r(NULL, "/", &save))
		n = edit_child(n, g, true);
	return n;
}

/* A web.config changed: can its path still be served? The loader reads
 * web.config files from disk, so this runs after the write, and a refused
 * edit puts the previous file back. */
static int
check_webconfig(struct edit_ctx *c, const char *site, const char *url)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	const struct wasp_config_error *err = NULL;
	struct wasp_config *cfg = NULL;
	int r;

	r = wasp_config_load_file(c->config, &opts, &cfg, &diags);
	if (r >= 0)
		r = wasp_config_check_path(cfg, site, url, &err, &diags);
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
	if (r == -EINVAL && err && !diags.n_errors)
		fprintf(stderr, "%s:%d: error: %s\n", err->file, err->line, err->message);
	wasp_diag_list_done(&diags);
	wasp_config_free(cfg);
	return r;
}

static int
write_back(struct edit_ctx *c)
{
	if (c->doc.old)
		return edit_write_atomic(c->file, c->doc.old, c->doc.old_len, &c->doc.st);
	return unlink(c->file) < 0 ? -errno : 0;
}

int
edit_validate(const char *text, size_t len, const char *filename)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	struct wasp_config *cfg = NULL;
	struct wasp_apphost *ah = NULL;
	int r;

	/* what waspd's reload does: the file, then the typed view of its
	 * pools and sites (bindings, identities...) */
	r = wasp_config_load_buffer(text, len, filename, &opts, &cfg, &diags);
	if (r >= 0)
		r = wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &diags);
	if (r >= 0)
		r = metrics_conf_check(cfg, &diags);
	if (r >= 0)
		r = adapter_decls_read(cfg, NULL, &diags);
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
	if (r >= 0 && diags.n_errors)
		r = -EINVAL;
	wasp_diag_list_done(&diags);
	wasp_config_free(cfg);
	return r;
}

int
edit_commit_at(struct edit_ctx *c, const char *site, const char *url)
{
	_cleanup_free_ char *text = NULL;
	bool apphost = streq(c->file, c->config);
	size_t len = 0;
	int r;

	if ((r = edit_doc_text(&c->doc, &text, &len)) < 0)
		return r;
	if (c->doc.old && len == c->doc.old_len && memcmp(text, c->doc.old, len) == 0)
		return 0; /* nothing changed */
	if (apphost && edit_validate(text, len, c->file) < 0) {
		fprintf(stderr, "waspctl: the edit was refused: %s is unchanged\n", c->file);
		return -EINVAL;
	}
	if (apphost && c->doc.old && (r = backup_history(c->config, c->cfg)) < 0)
		return r;
	if ((r = edit_write_atomic(c->file, text, len, c->doc.old ? &c->doc.st : NULL)) < 0) {
		fprintf(stderr, "waspctl: cannot write %s: %s\n", c->file, strerror(-r));
		return r;
	}
	if (!apphost && check_webconfig(c, site, url) < 0) {
		r = write_back(c);
		fprintf(stderr, "waspctl: the edit was refused: %s %s\n", c->file,
			r < 0 ? "could not be put back" : "is as it was");
		return -EINVAL;
	}
	return 0;
}

int
edit_ctx_open(struct edit_ctx *c, const char *config, const char *file, const char *section)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	int r;

	*c = (struct edit_ctx){ .config = config, .file = file };
	if ((c->lock_fd = edit_lock(config)) < 0)
		return c->lock_fd;
	r = wasp_config_load_file(config, &opts, &c->cfg, &diags);
	if (r < 0 && !c->cfg) {
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
		wasp_diag_list_done(&diags);
		fprintf(stderr, "waspctl: cannot load %s%s%s\n", config, diags.n_errors ? "" : ": ",
			diags.n_errors ? "" : strerror(-r));
		return r;
	}
	/* Errors already in the file: an edit may be what mends them; the
	 * result is checked as a whole anyway. */
	wasp_diag_list_done(&diags);
	c->section = wasp_config_section_resolve(c->cfg, section);
	if (!c->section) {
		fprintf(stderr,
			"waspctl: wasp does not implement section '%s' (or the short name fits "
			"more than one: give the full name)\n",
			section);
		return -ENOENT;
	}
	return edit_doc_open(&c->doc, file, !streq(file, config));
}

void
edit_ctx_done(struct edit_ctx *c)
{
	edit_doc_done(&c->doc);
	wasp_config_free(c->cfg);
	c->cfg = NULL;
	c->lock_fd = safe_close(c->lock_fd);
}
