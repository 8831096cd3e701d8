/* The <location> paths of applicationHost.config that set a section, for
 * a site: what waspd reads to know whether any URL of the site asks for
 * something at the connection level (client certificates). */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "internal.h"
#include "util.h"

int
wasp_config_site_locations(struct wasp_config *cfg, const char *section, const char *site,
			   int (*fn)(const char *url, void *userdata), void *userdata)
{
	size_t sl = strlen(site);

	for (size_t i = 0; cfg->apphost && i < cfg->apphost->n_insts; i++) {
		const struct cfg_inst *inst = cfg->apphost->insts[i];
		const char *loc = inst->location;
		int r;

		if (!*loc || !strcaseeq(inst->section->name, section) ||
		    strncasecmp(loc, site, sl) != 0 || (loc[sl] != '/' && loc[sl] != '\0'))
			continue;
		r = fn(loc[sl] ? loc + sl + 1 : "", userdata);
		if (r != 0)
			return r;
	}
	return 0;
}
