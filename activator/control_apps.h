/* A worker's application processes as `list wp` shows them. */
#pragma once

#include <jansson.h>

#include "waspd.h"

/* Set o's "applications" (an array of {pid, kind, application, state,
 * requests}) and "applicationsTotal" (how many it runs: more than the
 * array when the worker's report was cut). 0 or -ENOMEM. */
int control_worker_apps(json_t *o, const struct worker *w);
