/* waspctl: the operator's command (appcmd's role). Verbs that read the
 * configuration files directly (list config) are served here; the ones that
 * talk to waspd's control socket are served by ctlclient.c. New verbs go in
 * the verb table below.
 *
 *   waspctl [-c FILE] list config ["SITE/url/path"] [/section:NAME] [--json]
 *   waspctl [-r RUNTIME_DIR] list site|app|vdir|apppool|wp ...   (ctlclient.c)
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "ctlbackup.h"
#include "ctlclient.h"
#include "ctledit_obj.h"
#include "ctlmodule.h"
#include "util.h"
#include "wasp-build.h"

#define DEFAULT_CONFIG WASP_SYSCONFDIR "/applicationHost.config"

struct ctl_opts {
	const char *config;
	const char *runtime_dir;
	const char *section;
	bool json;
	/* The words after the options: verb, object, arguments. */
	int argc;
	char **argv;
	/* The original command line, for handlers that parse it again. */
	int full_argc;
	char **full_argv;
};

struct verb {
	const char *verb;
	const char *object; /* NULL: any object (the handler checks) */
	int (*run)(const struct ctl_opts *o);
	const char *usage;
};

static void usage(FILE *f);

/* ---- list config ------------------------------------------------------------ */

/* The section wrapped in its group elements, as appcmd shows it. */
static int
print_section_xml(const char *section, const struct wasp_element *e)
{
	_cleanup_free_ char *groups = strdup(section);
	char *slash, *parts[16];
	int n = 0;

	if (!groups)
		return -ENOMEM;
	for (char *p = groups; (slash = strchr(p, '/')) && n < 15; p = slash + 1) {
		*slash = '\0';
		parts[n++] = p;
	}
	for (int i = 0; i < n; i++)
		printf("%*s<%s>\n", i * 4, "", parts[i]);
	wasp_element_print_xml(e, stdout, n);
	for (int i = n - 1; i >= 0; i--)
		printf("%*s</%s>\n", i * 4, "", parts[i]);
	return 0;
}

/* The effective section at path (NULL: the server level), printed or added
 * to sections. 0, 1 when errors were printed but a merged result was shown,
 * -ENOENT when path names no site. */
static int
show_section(struct wasp_config *cfg, const char *path, const char *section, json_t *sections)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	const struct wasp_element *e = NULL;
	int r;

	if (!path) {
		e = wasp_config_section(cfg, section);
		r = e ? 0 : -ENOENT;
	} else {
		r = wasp_config_effective_section(cfg, path, section, &e, &diags);
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_WARNING);
		wasp_diag_list_done(&diags);
	}
	if (r == -ENOENT || !e)
		return -ENOENT;
	if (sections) {
		if (json_object_set_new(sections, section, wasp_element_to_json(e)) < 0)
			return -ENOMEM;
	} else if (print_section_xml(section, e) < 0)
		return -ENOMEM;
	return r < 0 ? 1 : 0;
}

static int
json_failure(bool json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print an error (and with --json, {"ok": false, "error": ...}); returns 1. */
static int
json_failure(bool json, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", msg ? msg : "out of memory");
		if (j && json_dumpf(j, stdout, JSON_INDENT(2)) == 0)
			fputc('\n', stdout);
		json_decref(j);
	}
	fprintf(stderr, "waspctl: %s\n", msg ? msg : "out of memory");
	return 1;
}

static int
list_config(const struct ctl_opts *o)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	struct wasp_config *cfg = NULL;
	const char *path = o->argc > 2 ? o->argv[2] : NULL, *section = NULL;
	json_t *sections = NULL;
	int r, status = 0;

	if (o->argc > 3) {
		fprintf(stderr, "waspctl: unexpected argument '%s'\n", o->argv[3]);
		return 2;
	}
	r = wasp_config_load_file(o->config, &opts, &cfg, &diags);
	if (r < 0 && !cfg) {
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
		wasp_diag_list_done(&diags);
		return json_failure(o->json, "cannot load %s%s%s", o->config,
				    diags.n_errors ? "" : ": ", diags.n_errors ? "" : strerror(-r));
	}
	/* applicationHost.config's own warnings are waspd --test-config's
	 * business; errors matter here because they change the result. */
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
	if (diags.n_errors)
		status = 1;
	wasp_diag_list_done(&diags);

	if (!path || !*path || streq(path, "/") || streq(path, "MACHINE/WEBROOT/APPHOST"))
		path = NULL; /* appcmd list config with no path: the server level */
	else if (startswith(path, "MACHINE/WEBROOT/APPHOST/"))
		path += strlen("MACHINE/WEBROOT/APPHOST/");
	if (o->section) {
		section = wasp_config_section_resolve(cfg, o->section);
		if (!section) {
			status = json_failure(o->json,
					      "wasp does not implement section '%s' (or the short "
					      "name fits more than one: give the full name)",
					      o->section);
			goto out;
		}
	}
	if (o->json && !(sections = json_object())) {
		status = 1;
		goto out;
	}
	if (section)
		r = show_section(cfg, path, section, sections);
	else
		/* appcmd list config PATH without /section: every section. */
		for (size_t i = 0; (section = wasp_config_section_nth(cfg, i)); i++)
			if ((r = show_section(cfg, path, section, sections)) < 0)
				break;
	if (r == -ENOENT) {
		json_decref(sections);
		sections = NULL;
		status = json_failure(o->json, "no site named in '%s'", path);
		goto out;
	}
	if (r < 0) {
		status = json_failure(o->json, "out of memory");
		goto out;
	}
	if (r > 0)
		status = 1; /* errors printed; shown what merged anyway */
	if (sections) {
		json_t *j = json_pack("{s:b, s:O}", "ok", 1, "sections", sections);

		if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
			status = 1;
		else
			fputc('\n', stdout);
		json_decref(j);
	}
out:
	json_decref(sections);
	wasp_config_free(cfg);
	return status;
}

/* ---- edits (ctledit_obj.c, ctlbackup.c) ------------------------------------------ */

static int
edit_result(const struct ctl_opts *o, int r, const char *msg)
{
	if (r < 0)
		return json_failure(o->json, "%s %s: %s", o->argv[0], o->argv[1],
				    r == -EINVAL || r == -ENOENT || r == -EEXIST
					    ? "refused (the reason is on stderr)"
					    : strerror(-r));
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 1, "message", msg);

		if (j && json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0)
			fputc('\n', stdout);
		json_decref(j);
	} else
		printf("%s\n", msg);
	return 0;
}

/* The file an edit writes: where a symbolic link -c names points (a
 * rename over the link would put a file in its place). */
static char *
edit_target(const struct ctl_opts *o)
{
	char *p = realpath(o->config, NULL);

	if (!p)
		(void)json_failure(o->json, "%s: %s", o->config, strerror(errno));
	return p;
}

static int
edit_verb(const struct ctl_opts *o)
{
	_cleanup_free_ char *config = NULL;
	char msg[2048] = "";
	int r;

	if (o->argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!(config = edit_target(o)))
		return 1;
	if (streq(o->argv[1], "config"))
		r = ctledit_config(config, o->section, o->argc - 2, o->argv + 2, msg, sizeof(msg));
	else if (streq(o->argv[1], "module"))
		r = ctlmodule_edit(config, o->argv[0], o->argc - 2, o->argv + 2, msg, sizeof(msg));
	else
		r = ctledit_object(config, o->argv[0], o->argv[1], o->argc - 2, o->argv + 2, msg,
				   sizeof(msg));
	return edit_result(o, r, msg);
}

static int
backup_verb(const struct ctl_opts *o)
{
	_cleanup_free_ char *config = NULL;
	char msg[512] = "";
	int r;

	if (o->argc > 3) {
		fprintf(stderr, "waspctl: unexpected argument '%s'\n", o->argv[3]);
		return 2;
	}
	if (!(config = edit_target(o)))
		return 1;
	r = ctlbackup_run(config, o->argv[0], o->argc > 2 ? o->argv[2] : NULL, o->json, msg,
			  sizeof(msg));
	if (r == 1)
		return 0;
	return edit_result(o, r, msg);
}

static int
list_module(const struct ctl_opts *o)
{
	return ctlmodule_list(o->config, o->argc - 2, o->argv + 2, o->json);
}

/* ---- the daemon's verbs (ctlclient.c) ----------------------------------------- */

static int
daemon_verb(const struct ctl_opts *o)
{
	return ctlclient_run(o->runtime_dir, o->json, o->argc, o->argv);
}

static const struct verb verbs[] = {
	{ "list", "config", list_config,
	  "list config [\"SITE/url/path\"] [/section:NAME] [--json]   effective merged "
	  "section (every section without one), read from -c FILE" },
	{ "list", "module", list_module,
	  "list module [NAME] [/app.name:\"SITE/path\"] [--json]   modules enabled there" },
	{ "install", "module", edit_verb,
	  "install module /name:N /image:/PATH.so [/preCondition:P] [/add:false]   "
	  "globalModules (and the server's modules)" },
	{ "uninstall", "module", edit_verb, "uninstall module NAME   from globalModules and modules" },
	{ "add", "module", edit_verb,
	  "add|set|delete module NAME|/name:N [/type:T] [/preCondition:P] "
	  "[/app.name:\"SITE/path\"]   modules" },
	{ "set", "module", edit_verb, NULL },
	{ "delete", "module", edit_verb, NULL },
	{ "add", "backup", backup_verb, "add|list|restore|delete backup [NAME]   copies of -c FILE" },
	{ "list", "backup", backup_verb, NULL },
	{ "restore", "backup", backup_verb, NULL },
	{ "delete", "backup", backup_verb, NULL },
	{ "set", "config", edit_verb,
	  "set config [\"SITE/path\"] /section:NAME [/commit:apphost|site|app|url] [/ATTR:VALUE] "
	  "[/+[KEY='V',...]] [/-[KEY='V']]" },
	{ "add", NULL, edit_verb,
	  "add|set|delete site|app|vdir|apppool [NAME] [/ATTR:VALUE] ...   edit -c FILE" },
	{ "set", NULL, edit_verb, NULL },
	{ "delete", NULL, edit_verb, NULL },
};

static void
usage(FILE *f)
{
	fprintf(f, "Usage: waspctl [OPTIONS] VERB OBJECT [ARGS]\n\nOptions:\n"
		   "  -c, --config FILE       applicationHost.config (default " DEFAULT_CONFIG ")\n"
		   "  -r, --runtime-dir DIR   where waspd's control.sock is\n"
		   "  -s, --section NAME      configuration section (list config)\n"
		   "      --json              JSON output\n"
		   "  -h, --help              this text\n\nVerbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (verbs[i].usage)
			fprintf(f, "  %s\n", verbs[i].usage);
	fprintf(f, "  list site|app|vdir|apppool|wp|request [NAME] [/ATTR:VALUE...] [/text:ATTR|*]   "
		   "(talk to waspd)\n"
		   "  start|stop|recycle apppool NAME|/apppool.name:NAME   (talk to waspd)\n"
		   "  start|stop site NAME|/site.name:NAME   (talk to waspd)\n");
	fprintf(f, "  reload   read applicationHost.config again and apply it (talk to waspd)\n");
	fprintf(f, "  restart  start waspd again keeping the listening sockets; the old one drains\n"
		   "           (talk to waspd; without systemd)\n");
	fprintf(f, "  metrics   every metric in Prometheus' text format (talk to waspd)\n");
}

int
main(int argc, char **argv)
{
	enum { OPT_JSON = 0x100, OPT_VERSION };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "section", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	struct ctl_opts o = { .config = DEFAULT_CONFIG, .full_argc = argc, .full_argv = argv };
	const char *section_arg = NULL;
	int c;

	/* Options may come after the words too (appcmd style). */
	while ((c = getopt_long(argc, argv, "c:r:s:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'r':
			o.runtime_dir = optarg;
			break;
		case 's':
			o.section = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("waspctl %s\n", WASP_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	o.argc = argc - optind;
	o.argv = argv + optind;
	/* appcmd writes /section:NAME. */
	for (int i = 0; i < o.argc; i++)
		if ((section_arg = startswith(o.argv[i], "/section:"))) {
			o.section = section_arg;
			memmove(&o.argv[i], &o.argv[i + 1], (size_t)(o.argc - i - 1) * sizeof(*o.argv));
			o.argc--;
			i--;
		}
	if (o.argc < 1) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(o.argv[0], verbs[i].verb) &&
		    (!verbs[i].object || (o.argc > 1 && streq(o.argv[1], verbs[i].object))))
			return verbs[i].run(&o);
	if (o.argc > 1 ? ctlclient_handles_object(o.argv[0], o.argv[1])
		       : ctlclient_handles(o.argv[0]))
		return daemon_verb(&o);
	fprintf(stderr, "waspctl: unknown command '%s%s%s' (waspctl --help)\n", o.argv[0],
		o.argc > 1 ? " " : "", o.argc > 1 ? o.argv[1] : "");
	return 2;
}
