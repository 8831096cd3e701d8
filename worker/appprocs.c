/* The application processes a worker runs (appprocs.h). */
#include <stdio.h>
#include <string.h>

#include "appprocs.h"
#include "ipc.h"
#include "util.h"

static struct appproc *procs;

/* The message last sent, to send again only what changed. */
static struct {
	struct wasp_msg_worker_apps head;
	struct wasp_msg_app_proc procs[WASP_APP_PROCS_MAX];
} sent, next;
static bool sent_once;

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

int
appprocs_report(struct wasp_ipc_channel *ch)
{
	size_t n, len;
	int r;

	memset(&next, 0, sizeof(next));
	n = appprocs_fill(next.procs, ELEMENTSOF(next.procs), &next.head.total);
	next.head.count = (uint32_t)n;
	len = sizeof(next.head) + n * sizeof(next.procs[0]);
	if (sent_once && memcmp(&sent, &next, len) == 0 && sent.head.count == next.head.count)
		return 0;
	r = wasp_ipc_channel_send(ch, WASP_MSG_WORKER_APPS, 0, &next, len, -1, 0);
	if (r < 0)
		return r;
	sent = next;
	sent_once = true;
	return 0;
}
