/* waspctl's backup object (ctlbackup.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* verb: add, list, restore, delete; name may be NULL (add: a timestamp;
 * list: every backup). 0 with msg set, 1 when the output was printed
 * (list), or -errno with the reason on stderr. */
int ctlbackup_run(const char *config, const char *verb, const char *name, bool json, char *msg,
		  size_t size);
