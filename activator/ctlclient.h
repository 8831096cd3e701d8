/* waspctl's daemon verbs (list apppool|wp, start|stop|recycle apppool),
 * spoken to waspd's control socket. Used by waspctl.c. */
#pragma once

#include <stdbool.h>

/* True for a verb this module serves (list, start, stop, recycle). */
bool ctlclient_handles(const char *verb);
/* True for a verb + object pair it serves ("list wp", "stop apppool"). */
bool ctlclient_handles_object(const char *verb, const char *object);
/* argv = { verb, object [, name] } without options. runtime_dir NULL: the
 * default ($RUNTIME_DIRECTORY, else /run/wasp). Returns the exit status. */
int ctlclient_run(const char *runtime_dir, bool json_out, int argc, char **argv);
/* A whole command line (argv[0] = program): parses -r/--runtime-dir DIR and
 * --json anywhere, then runs the verb. Returns the exit status. */
int ctlclient_main(int argc, char **argv);
