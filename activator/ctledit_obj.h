/* waspctl's edit verbs (ctledit_obj.c): return 0 with msg set to appcmd's
 * line, or -errno with the reason printed on stderr. */
#pragma once

#include <stddef.h>

int ctledit_object(const char *config, const char *verb, const char *object, int argc,
		   char **argv, char *msg, size_t size);
int ctledit_config(const char *config, const char *section, int argc, char **argv, char *msg,
		   size_t size);
