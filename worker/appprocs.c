/* The application processes a worker runs (appprocs.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appprocs.h"
#include "ipc.h"
#include "util.h"

static struct appproc *procs;

/* The message last sent (malloc'd, NULL before the first), to send again
 * only what changed. Both it and the one to send are as long as their
 * entries: static buffers of WASP_APP_PROCS_MAX entries, zeroed and copied
 * every stats interval, were 64 KiB of every idle worker's memory. */
static void *sent;
static size_t sent_len;

void
appproc_add(struct appproc *ap, pid_t pid, enum wasp_app_proc_kind kind,
	    const char *application, enum wasp_app_proc_state state)
{
	if (ap->listed)
		appproc_remove(ap);
	ap->pid = pid;
	ap->kind = kind;
	ap->state = state;
	ap->requests = 0;
	snprintf(ap->application, sizeof(ap->application), "%s", application ? application : "");
	ap->prev = NULL;
	ap->next = procs;
	if (procs)
		procs->prev = ap;
	procs = ap;
	ap->listed = true;
}

void
appproc_remove(struct appproc *ap)
{
	if (!ap->listed)
		return;
	if (ap->prev)
		ap->prev->next = ap->next;
	else
		procs = ap->next;
	if (ap->next)
		ap->next->prev = ap->prev;
	ap->next = ap->prev = NULL;
	ap->listed = false;
}

void
appproc_move(struct appproc *to, struct appproc *from)
{
	if (!from->listed)
		return;
	appproc_add(to, from->pid, from->kind, from->application, from->state);
	to->requests = from->requests;
	to->refresh = NULL;
	appproc_remove(from);
}

size_t
appprocs_fill(struct wasp_msg_app_proc *out, size_t max, uint32_t *ret_total)
{
	size_t n = 0;
	uint32_t total = 0;

	for (struct appproc *ap = procs; ap; ap = ap->next) {
		if (ap->refresh)
			ap->refresh(ap);
		total++;
		if (n >= max)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].pid = (uint32_t)ap->pid;
		out[n].kind = ap->kind;
		out[n].state = ap->state;
		out[n].requests = ap->requests;
		memcpy(out[n].application, ap->application, sizeof(out[n].application));
		out[n].application[sizeof(out[n].application) - 1] = 0;
		n++;
	}
	*ret_total = total;
	return n;
}

size_t
appprocs_report_size(void)
{
	return sent_len;
}

int
appprocs_report(struct wasp_ipc_channel *ch)
{
	_cleanup_free_ struct wasp_msg_worker_apps *next = NULL;
	size_t n = 0, len;
	int r;

	for (struct appproc *ap = procs; ap && n < WASP_APP_PROCS_MAX; ap = ap->next)
		n++;
	len = sizeof(*next) + n * sizeof(struct wasp_msg_app_proc);
	next = calloc(1, len);
	if (!next)
		return -ENOMEM;
	/* the flexible part right after the head (msg.h's layout) */
	n = appprocs_fill((struct wasp_msg_app_proc *)(next + 1), n, &next->total);
	next->count = (uint32_t)n;
	len = sizeof(*next) + n * sizeof(struct wasp_msg_app_proc);
	if (sent && sent_len == len && memcmp(sent, next, len) == 0)
		return 0;
	r = wasp_ipc_channel_send(ch, WASP_MSG_WORKER_APPS, 0, next, len, -1, 0);
	if (r < 0)
		return r;
	free(sent);
	sent = TAKE_PTR(next);
	sent_len = len;
	return 0;
}
