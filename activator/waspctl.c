/* waspctl: the operator's command (appcmd's role). Verbs that read the
 * configuration files directly (list config) are served here; the ones that
 * talk to waspd's control socket are served by ctlclient.c. New verbs go in
 * the verb table below.
 *
 *   waspctl [-c FILE] list config "SITE/url/path" [--section NAME] [--json]
 *   waspctl [-r RUNTIME_DIR] list apppool|wp [--json]   (ctlclient.c)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "ctlclient.h"
#include "util.h"
#include "wasp-build.h"

#define DEFAULT_CONFIG WASP_SYSCONFDIR "/applicationHost.config"
#define DEFAULT_SECTION "system.webServer/defaultDocument"

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

static int
list_config(const struct ctl_opts *o)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	struct wasp_config *cfg = NULL;
	const struct wasp_element *e = NULL;
	const char *path = o->argc > 2 ? o->argv[2] : NULL;
	const char *section = o->section ? o->section : DEFAULT_SECTION;
	int r, status = 0;

	if (o->argc > 3) {
		fprintf(stderr, "waspctl: unexpected argument '%s'\n", o->argv[3]);
		return 2;
	}
	r = wasp_config_load_file(o->config, &opts, &cfg, &diags);
	if (r < 0 && !cfg) {
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
		if (!diags.n_errors)
			fprintf(stderr, "waspctl: cannot load %s: %s\n", o->config, strerror(-r));
		wasp_diag_list_done(&diags);
		return 1;
	}
	/* applicationHost.config's own warnings are waspd --test-config's
	 * business; errors matter here because they change the result. */
	wasp_diag_list_print(&diags, stderr, WASP_DIAG_ERROR);
	if (diags.n_errors)
		status = 1;
	wasp_diag_list_done(&diags);

	if (!path || !*path || streq(path, "/") || streq(path, "MACHINE/WEBROOT/APPHOST")) {
		/* appcmd list config with no path: the server level. */
		e = wasp_config_section(cfg, section);
		r = e ? 0 : -ENOENT;
	} else {
		const char *p = startswith(path, "MACHINE/WEBROOT/APPHOST/");

		r = wasp_config_effective_section(cfg, p ? p : path, section, &e, &diags);
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_WARNING);
		wasp_diag_list_done(&diags);
	}
	if (r == -ENOENT || !e) {
		if (!wasp_config_section(cfg, section))
			fprintf(stderr, "waspctl: wasp does not implement section '%s'\n", section);
		else
			fprintf(stderr, "waspctl: no site named in '%s'\n", path);
		wasp_config_free(cfg);
		return 1;
	}
	if (r < 0)
		status = 1; /* errors printed; show what merged anyway */
	if (o->json) {
		json_t *j = wasp_element_to_json(e);

		if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
			fprintf(stderr, "waspctl: out of memory\n");
			status = 1;
		} else
			fputc('\n', stdout);
		json_decref(j);
	} else {
		/* appcmd shows the section wrapped in its group elements. */
		_cleanup_free_ char *groups = strdup(section);
		char *slash, *parts[16];
		int n = 0;

		if (!groups) {
			wasp_config_free(cfg);
			return 1;
		}
		for (char *p = groups; (slash = strchr(p, '/')) && n < 15; p = slash + 1) {
			*slash = '\0';
			parts[n++] = p;
		}
		for (int i = 0; i < n; i++)
			printf("%*s<%s>\n", i * 4, "", parts[i]);
		wasp_element_print_xml(e, stdout, n);
		for (int i = n - 1; i >= 0; i--)
			printf("%*s</%s>\n", i * 4, "", parts[i]);
	}
	wasp_config_free(cfg);
	return status;
}

/* ---- the daemon's verbs (ctlclient.c) ----------------------------------------- */

static int
daemon_verb(const struct ctl_opts *o)
{
	return ctlclient_run(o->runtime_dir, o->json, o->argc, o->argv);
}

static const struct verb verbs[] = {
	{ "list", "config", list_config,
	  "list config \"SITE/url/path\" [--section NAME] [--json]   effective merged section, "
	  "read from -c FILE" },
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
		fprintf(f, "  %s\n", verbs[i].usage);
	fprintf(f, "  list apppool|wp, start|stop|recycle apppool NAME   (talk to waspd)\n");
	fprintf(f, "  reload   read applicationHost.config again and apply it (talk to waspd)\n");
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
