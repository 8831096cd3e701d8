/* What a backend process starts with (backend_env.c). Private to
 * worker/proxy/. */
#pragma once

#include <stdint.h>

struct backend_conf;

/* A free port on 127.0.0.1 (the kernel's choice). */
int backend_free_port(uint16_t *ret);
/* s with every %var% replaced by port; NULL without memory. */
char *backend_subst(const char *s, const char *var, uint16_t port);
/* The worker's environment, the configured variables over it, the port and
 * the token; NULL without memory. */
char **backend_envp(const struct backend_conf *c, uint16_t port, const char *token);
/* The stdout log file opened for appending; -1 without one. */
int backend_log_open(const struct backend_conf *c);
