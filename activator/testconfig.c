/* waspd --test-config: load applicationHost.config as the daemon would,
 * print every warning and error, then the web.config files of every site's
 * content (what a worker would find in them, as a request would see it),
 * bindings no adapter serves, %VAR%s that are not set, and a summary of
 * what was understood (pools, sites, bindings, applications). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apphost.h"
#include "config.h"
#include "testconfig.h"
#include "timespan.h"
#include "util.h"
#include "metrics_conf.h"
#include "waspd.h"

/* The walk of each virtual directory's content for web.config files. */
#define TESTCONFIG_MAX_DEPTH 32     /* directory levels below a virtual directory */
#define TESTCONFIG_MAX_DIRS 20000   /* directories in all */
#define TESTCONFIG_MAX_VAR 128      /* longest %NAME% looked at */

/* Add d unless the same problem is there already: a web.config's problem
 * shows at every path below it. */
static void
add_unique(struct wasp_diag_list *to, const struct wasp_diag *d)
{
	for (size_t i = 0; i < to->n; i++) {
		const struct wasp_diag *o = &to->items[i];

		if (o->severity == d->severity && o->line == d->line && streq(o->file, d->file) &&
		    streq(o->message, d->message) && streq(strempty(o->attribute),
							  strempty(d->attribute)))
			return;
	}
	(void)wasp_diag_add(to, d->severity, d->file, d->line, d->attribute, "%s", d->message);
}

struct walk {
	struct wasp_config *cfg;
	const char *site;
	struct wasp_diag_list *out;
	size_t n_dirs;
	size_t n_files;
	bool truncated;
};

static void
check_url(struct walk *w, const char *url)
{
	struct wasp_diag_list local = WASP_DIAG_LIST_INIT;
	const struct wasp_config_error *err = NULL;

	(void)wasp_config_check_path(w->cfg, w->site, url, &err, &local);
	for (size_t i = 0; i < local.n; i++)
		add_unique(w->out, &local.items[i]);
	wasp_diag_list_done(&local);
}

/* The directory dir (URL url) and, depth permitting, the ones below it.
 * Symbolic links are not followed. */
static void
walk_dir(struct walk *w, const char *dir, const char *url, int depth)
{
	DIR *d;
	struct dirent *de;
	struct stat st;

	if (w->n_dirs >= TESTCONFIG_MAX_DIRS) {
		w->truncated = true;
		return;
	}
	w->n_dirs++;
	{
		_cleanup_free_ char *wc = NULL;

		if (asprintf(&wc, "%s/web.config", dir) >= 0 && stat(wc, &st) == 0)
			w->n_files++;
	}
	check_url(w, url);
	if (depth >= TESTCONFIG_MAX_DEPTH)
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL, *suburl = NULL;

		if (de->d_name[0] == '.' && (!de->d_name[1] || streq(de->d_name, "..")))
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0 ||
		    asprintf(&suburl, "%s%s%s", url, streq(url, "/") ? "" : "/", de->d_name) < 0)
			break;
		if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		walk_dir(w, sub, suburl, depth + 1);
	}
	closedir(d);
}

static void
walk_sites(struct wasp_config *cfg, const struct wasp_apphost *ah, struct wasp_diag_list *out,
	   FILE *f)
{
	struct walk w = { .cfg = cfg, .out = out };

	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *s = &ah->sites[i];

		w.site = s->name;
		for (size_t j = 0; j < s->n_apps; j++)
			for (size_t k = 0; k < s->apps[j].n_vdirs; k++) {
				const struct wasp_virtual_directory *vd = &s->apps[j].vdirs[k];
				_cleanup_free_ char *url = NULL;
				const char *ap = s->apps[j].path;

				if (!wasp_virtual_directory_exists(vd))
					continue; /* warned about at load */
				/* "/app" + "/images"; "/" + "/" is "/" */
				if (asprintf(&url, "%s%s", streq(ap, "/") ? "" : ap,
					     streq(vd->path, "/") && !streq(ap, "/") ? ""
										  : vd->path) < 0)
					return;
				walk_dir(&w, vd->physical_path, url, 0);
			}
	}
	fprintf(f, "web.config files: %zu in %zu director%s%s\n", w.n_files, w.n_dirs,
		w.n_dirs == 1 ? "y" : "ies",
		w.truncated ? " (stopped there: too many directories)" : "");
}

/* %NAME% left in value: not set in waspd's environment (an expanded
 * value keeps an unknown variable as written). */
static void
warn_unset(struct wasp_diag_list *diags, const char *file, int line, const char *attr,
	   const char *value)
{
	for (const char *p = value ? strchr(value, '%') : NULL; p;) {
		const char *q = strchr(p + 1, '%');
		size_t n;
		char name[TESTCONFIG_MAX_VAR];
		bool ok = true;

		if (!q)
			break;
		n = (size_t)(q - p - 1);
		for (size_t i = 0; i < n && ok; i++)
			ok = isalnum((unsigned char)p[1 + i]) || p[1 + i] == '_' ||
			     p[1 + i] == '(' || p[1 + i] == ')';
		if (n == 0 || n >= sizeof(name) || !ok) {
			p = q;
			continue;
		}
		memcpy(name, p + 1, n);
		name[n] = '\0';
		if (!getenv(name))
			(void)wasp_diag_add(diags, WASP_DIAG_WARNING, strempty(file), line, attr,
					    "'%s': the environment variable %%%s%% is not set", value,
					    name);
		p = strchr(q + 1, '%');
	}
}

/* What the daemon would use that does not work here: bindings of a protocol
 * no adapter is started for, %VAR%s that are not set. */
static void
check_usable(struct wasp_config *cfg, const struct wasp_apphost *ah, struct wasp_diag_list *diags)
{
	const struct wasp_element *gm = wasp_config_section(cfg, "system.webServer/globalModules");
	const struct wasp_element *sites = wasp_config_section(cfg, "system.applicationHost/sites");
	struct adapter_decls decls = { 0 };
	struct wasp_diag_list ignored = WASP_DIAG_LIST_INIT; /* reported by the caller */

	(void)adapter_decls_read(cfg, &decls, &ignored);
	wasp_diag_list_done(&ignored);
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *s = &ah->sites[i];

		for (size_t j = 0; j < s->n_bindings; j++) {
			const struct wasp_binding *b = &s->bindings[j];

			if (!adapter_decl_known(&decls, b->protocol))
				(void)wasp_diag_add(
					diags, WASP_DIAG_WARNING, strempty(b->file), b->line,
					"protocol",
					"site '%s': no adapter for protocol '%s' comes with wasp; "
					"binding '%s' is served only once listenerAdapters declares "
					"'%s' and its adapter registers",
					s->name, b->protocol, b->binding_information, b->protocol);
		}
		for (size_t j = 0; j < s->n_apps; j++)
			for (size_t k = 0; k < s->apps[j].n_vdirs; k++) {
				const struct wasp_virtual_directory *vd = &s->apps[j].vdirs[k];

				warn_unset(diags, vd->file, vd->line, "physicalPath",
					   vd->physical_path);
			}
	}
	/* a site's log directory, where a file sets it (IIS's default,
	 * %SystemDrive%\inetpub\logs\LogFiles, means no log here) */
	for (size_t i = 0; sites && i < sites->n_items; i++) {
		const struct wasp_element *lf = wasp_element_child(sites->items[i], "logFile");
		const struct wasp_attr *a = lf ? wasp_element_attr(lf, "directory") : NULL;

		if (a && a->is_set && wasp_element_get_bool(lf, "enabled", true))
			warn_unset(diags, a->file, a->line, "directory", a->value.text);
	}
	for (size_t i = 0; gm && i < gm->n_items; i++) {
		const struct wasp_attr *a = wasp_element_attr(gm->items[i], "image");

		if (a)
			warn_unset(diags, a->file, a->line, "image", a->value.text);
	}
	adapter_decls_done(&decls);
}

static void
print_summary(const struct wasp_apphost *ah, FILE *out)
{
	char t1[WASP_TIMESPAN_MAX], t2[WASP_TIMESPAN_MAX];

	fprintf(out, "application pools: %zu\n", ah->n_pools);
	for (size_t i = 0; i < ah->n_pools; i++) {
		const struct wasp_apppool *p = &ah->pools[i];

		fprintf(out,
			"  %-24s %s%s, identity %s%s%s, maxProcesses %u, idleTimeout %s, "
			"periodicRestart %s, queueLength %u\n",
			p->name,
			p->start_mode == WASP_START_ALWAYS_RUNNING ? "AlwaysRunning" : "OnDemand",
			p->auto_start ? "" : " (autoStart off)",
			wasp_identity_type_name(p->process_model.identity_type),
			p->process_model.user_name ? " " : "",
			p->process_model.user_name ? p->process_model.user_name : "",
			p->process_model.max_processes,
			wasp_timespan_format(p->process_model.idle_timeout, t1, sizeof(t1)),
			wasp_timespan_format(p->recycling.time, t2, sizeof(t2)), p->queue_length);
	}
	fprintf(out, "sites: %zu\n", ah->n_sites);
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *s = &ah->sites[i];

		fprintf(out, "  %s (id %u)%s\n", s->name, s->id,
			s->server_auto_start ? "" : " (serverAutoStart off)");
		for (size_t j = 0; j < s->n_bindings; j++) {
			const struct wasp_binding *b = &s->bindings[j];

			if (b->port)
				fprintf(out, "    binding %s %s port %u host '%s'\n", b->protocol,
					b->ip, b->port, b->host);
			else
				fprintf(out, "    binding %s '%s'\n", b->protocol,
					b->binding_information);
		}
		for (size_t j = 0; j < s->n_apps; j++) {
			const struct wasp_application *a = &s->apps[j];

			fprintf(out, "    application %s -> pool %s%s\n", a->path,
				a->application_pool,
				a->pool_id == UINT32_MAX ? " (no such pool)" : "");
			for (size_t k = 0; k < a->n_vdirs; k++)
				fprintf(out, "      vdir %s -> %s%s\n", a->vdirs[k].path,
					a->vdirs[k].physical_path,
					wasp_virtual_directory_exists(&a->vdirs[k])
						? ""
						: " (does not exist)");
		}
	}
}

int
testconfig_run(const char *path, FILE *out)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT, wc = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	struct wasp_config *cfg = NULL;
	struct wasp_apphost *ah = NULL;
	int r, ok;

	r = wasp_config_load_file(path, &opts, &cfg, &diags);
	if (cfg && r != -ENOMEM)
		(void)wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &diags);
	if (ah) {
		check_usable(cfg, ah, &diags);
		(void)metrics_conf_check(cfg, &diags);
		(void)adapter_decls_read(cfg, NULL, &diags);
	}
	wasp_diag_list_print(&diags, out, WASP_DIAG_WARNING);
	if (ah) {
		/* The content's web.config files: printed and counted apart,
		 * since they do not stop waspd (a request they apply to is
		 * answered 500.19), and a site's content is its owner's. */
		walk_sites(cfg, ah, &wc, out);
		wasp_diag_list_print(&wc, out, WASP_DIAG_WARNING);
		print_summary(ah, out);
	}
	ok = r >= 0 && ah && diags.n_errors == 0;
	if (ah)
		fprintf(out, "web.config files: %zu error(s), %zu warning(s)%s\n", wc.n_errors,
			wc.n_warnings,
			wc.n_errors ? " (requests they apply to are answered 500.19)" : "");
	fprintf(out, "%s: %zu error(s), %zu warning(s): %s\n", path, diags.n_errors,
		diags.n_warnings, ok ? "configuration OK" : "configuration NOT usable");
	wasp_diag_list_done(&diags);
	wasp_diag_list_done(&wc);
	wasp_config_free(cfg);
	return ok ? 0 : 1;
}
