/* Backends of the httpPlatform and aspNetCore modules: HTTP servers the
 * worker starts itself, per application (its own children, so the pool's
 * identity, and dead with it), each told a free loopback port in an
 * environment variable, ready once that port accepts a connection. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct proxy_pool;
struct backend;

#define BACKEND_WAITERS_MAX 4096 /* requests waiting for one application's start */
#define BACKEND_PROCS_MAX 100    /* processesPerApplication's maximum */

struct backend_conf {
	char **argv;       /* %<port_var>% in an argument is the port */
	char **env;        /* NAME=value: over the worker's environment, same substitution */
	const char *port_var; /* HTTP_PLATFORM_PORT, ASPNETCORE_PORT */
	const char *token_var; /* ASPNETCORE_TOKEN: the pairing token's variable, or NULL */
	const char *log_base; /* stdoutLogFile resolved (NULL: the worker's log) */
	const char *label;    /* for log lines: "httpPlatform /app of site 1" */
	uint64_t startup_usec, shutdown_usec;
	unsigned attempts;     /* starts tried before a request fails (>= 1) */
	unsigned rapid_fails;  /* crashes per minute before starts are refused */
	unsigned processes;    /* processesPerApplication */
	unsigned kind;         /* enum wasp_app_proc_kind, for waspctl list wp */
};

struct backend_waiter {
	struct backend_waiter *next, *prev;
	struct backend *b;
	/* pool NULL: it could not be started (why says why) */
	void (*ready)(struct backend_waiter *w, struct proxy_pool *pool, const char *why);
	bool queued;
};

/* The application's backend called key, made with conf when new or when
 * conf's fingerprint differs from the running one's (the old processes
 * are stopped). conf's strings are copied. NULL on OOM. */
struct backend *backend_get(struct event_base *base, const char *key, const char *fingerprint,
			    const struct backend_conf *conf);
/* The backend called key when its fingerprint is this one, else NULL (a
 * lookup that spares building a conf). */
struct backend *backend_find(const char *key, const char *fingerprint);
/* A ready process for w: 0 with *ret_pool set at once, 1 queued
 * (w->ready follows from the event loop), -EAGAIN rapidFailsPerMinute
 * holds the application, -EBUSY too many waiting, -errno. */
int backend_acquire(struct backend *b, struct backend_waiter *w, struct proxy_pool **ret_pool);
void backend_waiter_cancel(struct backend_waiter *w);
/* A random token made with the backend (32 hex digits), in token_var. */
const char *backend_token(const struct backend *b);
/* Stop the processes (app_offline.htm); the next acquire starts them again. */
void backend_stop(struct backend *b);
/* Is any process of b running (starting or ready)? */
bool backend_running(const struct backend *b);
/* Worker exit: SIGTERM to every process, SIGKILL to those still there
 * after their shutdown limit; all reaped. */
void backends_free(void);
