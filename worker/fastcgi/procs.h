/* FastCGI application processes (fastCgi <application>s) of one worker:
 * started lazily by the worker itself (so they run as the pool's identity
 * and die with it), each listening on its own Unix socket passed as fd 0
 * (FCGI_LISTENSOCK_FILENO), one request at a time on one kept connection.
 * Everything runs on the worker's event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct wasp_element;
struct fcgi_app;
struct fcgi_inst;

/* maxInstances="0": as many processes as requests need at once, up to this
 * many per online CPU (at least FCGI_AUTO_MIN). */
#define FCGI_AUTO_PER_CPU 4
#define FCGI_AUTO_MIN 4
/* stderrMode */
enum fcgi_stderr_mode {
	FCGI_STDERR_500,       /* ReturnStdErrIn500 */
	FCGI_STDERR_GENERIC,   /* ReturnGeneric500 */
	FCGI_STDERR_IGNORE,    /* IgnoreAndReturn200 */
	FCGI_STDERR_TERMINATE, /* TerminateProcess */
};

struct fcgi_conf {
	const char *full_path, *arguments;
	unsigned max_instances; /* the effective cap (0 resolved) */
	uint64_t idle_usec, activity_usec, request_usec;
	unsigned instance_max_requests, signal_before_terminate, queue_length;
	unsigned rapid_fails_per_minute;
	const char *monitor; /* absolute, or NULL */
	enum fcgi_stderr_mode stderr_mode;
};

/* A request waiting for a process (queued in its application). */
struct fcgi_waiter {
	struct fcgi_waiter *next, *prev;
	struct fcgi_app *app;
	void (*ready)(struct fcgi_waiter *w, struct fcgi_inst *inst);
	bool queued;
};

/* The application whose fullPath|arguments is key ("/usr/bin/php-cgi" or
 * "/usr/bin/php-cgi|-d x=y"), from fastCgi (applicationHost.config's own
 * section): made on first use and kept. NULL and *ret_err -ENOENT when no
 * <application> matches, -ENOMEM. */
struct fcgi_app *fcgi_app_get(struct event_base *base, const struct wasp_element *section,
			      const char *key, int *ret_err);
const struct fcgi_conf *fcgi_app_conf(const struct fcgi_app *a);

/* A process for w: 0 with w->ready called at once (an idle process or a new
 * one), 1 queued (w->ready later, from the event loop), -EBUSY the queue
 * is full (503.4), -EAGAIN rapid-fail protection holds the application
 * (rapidFailsPerMinute), -errno a process could not be started. */
int fcgi_app_acquire(struct fcgi_app *a, struct fcgi_waiter *w);
/* preloadEnabled: start a process of a when it has none and send it a
 * warm-up request that runs no script (SCRIPT_FILENAME "/"); it is listed
 * as starting, and a request that comes meanwhile waits for it, until the
 * answer ends (activityTimeout at most), then idle (for idleTimeout) until a
 * request takes it. 1 started, 0 it had one (or rapid-fail protection holds
 * it), -errno. */
int fcgi_app_preload(struct fcgi_app *a);
/* Leave the queue (the request went away). */
void fcgi_waiter_cancel(struct fcgi_waiter *w);
/* The request is done with inst: reusable when the request completed
 * cleanly (the connection is ready for the next one); otherwise the
 * process is ended. */
void fcgi_inst_release(struct fcgi_inst *i, bool reusable);
/* The request went away before the application finished answering, but
 * every record of it reached the application: the process reads and drops
 * the rest of the answer (parser state p, then data[0..len), which is not
 * kept) until FCGI_END_REQUEST, then serves the next request; it is ended
 * instead at deadline_usec, on a malformed record or on anything after the
 * end. */
struct fcgi_parser;
void fcgi_inst_drain(struct fcgi_inst *i, const struct fcgi_parser *p, const uint8_t *data,
		     size_t len, uint64_t deadline_usec);
int fcgi_inst_fd(const struct fcgi_inst *i);
pid_t fcgi_inst_pid(const struct fcgi_inst *i);
/* End every process (worker exit). */
void fcgi_apps_free(void);
