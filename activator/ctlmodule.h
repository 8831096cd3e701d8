/* waspctl list module (ctlmodule.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* argv: the words after "list module". Returns the exit status. */
int ctlmodule_list(const char *config, int argc, char **argv, bool json);
/* install|uninstall|add|set|delete module (ctlmodule_edit.c): 0 with msg
 * set to appcmd's line, or -errno with the reason printed. */
int ctlmodule_edit(const char *config, const char *verb, int argc, char **argv, char *msg,
		   size_t size);
