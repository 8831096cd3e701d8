/* waspd --test-config (activator/testconfig.c). */
#pragma once

#include <stdio.h>

/* Load and validate applicationHost.config at path, print warnings, errors
 * and a summary to out. Returns the exit status: 0 usable, 1 not. */
int testconfig_run(const char *path, FILE *out);
