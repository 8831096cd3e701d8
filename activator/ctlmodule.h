/* waspctl list module (ctlmodule.c). */
#pragma once

#include <stdbool.h>

/* argv: the words after "list module". Returns the exit status. */
int ctlmodule_list(const char *config, int argc, char **argv, bool json);
