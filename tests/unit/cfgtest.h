/* Helpers for the configuration suites (test_config*.c). */
#pragma once

#include <stdbool.h>

#include "config.h"

/* The JSON text (keys sorted) of an effective section, site_path being
 * "Site/url/path", or of applicationHost.config's own section when
 * site_path is NULL: what two generations are compared by. "(none)" when
 * there is no such section. strict: the lookup must return 0 and the
 * section exist; otherwise -EINVAL (a file with an error) is accepted too.
 * malloc'd. */
char *cfgtest_section_json(struct wasp_config *cfg, const char *site_path, const char *section,
			   bool strict);
