/* waspd --test-config: load applicationHost.config as the daemon would,
 * print every warning and error, then a summary of what was understood
 * (pools, sites, bindings, applications). */
#include <stdio.h>

#include "apphost.h"
#include "config.h"
#include "testconfig.h"
#include "timespan.h"

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
					a->vdirs[k].physical_path_exists ? "" : " (does not exist)");
		}
	}
}

int
testconfig_run(const char *path, FILE *out)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	struct wasp_config *cfg = NULL;
	struct wasp_apphost *ah = NULL;
	int r, ok;

	r = wasp_config_load_file(path, &opts, &cfg, &diags);
	if (cfg && r != -ENOMEM)
		(void)wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &diags);
	wasp_diag_list_print(&diags, out, WASP_DIAG_WARNING);
	if (ah)
		print_summary(ah, out);
	ok = r >= 0 && ah && diags.n_errors == 0;
	fprintf(out, "%s: %zu error(s), %zu warning(s): %s\n", path, diags.n_errors,
		diags.n_warnings, ok ? "configuration OK" : "configuration NOT usable");
	wasp_diag_list_done(&diags);
	wasp_config_free(cfg);
	return ok ? 0 : 1;
}
