/* The application processes a worker runs (FastCGI processes, CGI
 * programs, httpPlatform and aspNetCore backends), as waspd lists them
 * under the worker (`waspctl list wp`): each module keeps an entry in the
 * record of each of its processes, and the worker sends the set
 * (WORKER_APPS) when it changed, at most once a stats interval. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "msg.h"

struct wasp_ipc_channel;

struct appproc {
	struct appproc *next, *prev;
	pid_t pid;
	enum wasp_app_proc_kind kind;
	enum wasp_app_proc_state state;
	uint64_t requests;
	/* Called before the set is read (NULL: none): the state of a process
	 * its module does not follow request by request. */
	void (*refresh)(struct appproc *ap);
	void *userdata;
	bool listed;
	char application[WASP_APP_PROC_NAME_MAX]; /* cut at its size */
};

/* List ap (not listed yet): pid, kind, application (fullPath|arguments,
 * the program, processPath), state. */
void appproc_add(struct appproc *ap, pid_t pid, enum wasp_app_proc_kind kind,
		 const char *application, enum wasp_app_proc_state state);
/* No longer listed (a no-op for an entry that is not). */
void appproc_remove(struct appproc *ap);
/* ap's listing moves to to (the process changes hands: a backend's
 * process on its way out). */
void appproc_move(struct appproc *to, struct appproc *from);

/* Send the set to waspd when it differs from the last one sent (and
 * always the first time): 0, or -errno from the channel. */
int appprocs_report(struct wasp_ipc_channel *ch);
/* Bytes the last report sent keeps for the comparison (0 before the
 * first): its head and one entry per process listed, nothing more. */
size_t appprocs_report_size(void);
/* The set as it would be sent: at most max entries into out, the number
 * filled; *ret_total the number listed. */
size_t appprocs_fill(struct wasp_msg_app_proc *out, size_t max, uint32_t *ret_total);
