/* Resuming a request from the event loop (later.h). */
#include <event2/event.h>
#include <event2/event_struct.h>

#include "later.h"
#include "worker.h"

struct worker_later {
	struct wasp_request *req;
	struct event ev;
	enum wasp_status status;
	bool asked, pending;
};

static void
on_later(evutil_socket_t fd, short what, void *arg)
{
	struct worker_later *l = arg;

	l->pending = false;
	wasp_request_resume(l->req, l->status);
}

static void
later_cleanup(void *p)
{
	struct worker_later *l = p;

	if (l->pending)
		(void)event_del(&l->ev);
	l->pending = false;
}

struct worker_later *
worker_later_new(struct wasp_request *req)
{
	struct worker_later *l = wasp_request_alloc(req, sizeof(*l));

	if (!l)
		return NULL;
	*l = (struct worker_later){ .req = req };
	evtimer_assign(&l->ev, wasp_server_event_base(wasp_request_server(req)), on_later, l);
	if (wasp_request_on_cleanup(req, later_cleanup, l) < 0)
		return NULL;
	return l;
}

void
worker_later_resume(struct worker_later *l, enum wasp_status status)
{
	if (l->asked)
		return;
	l->asked = l->pending = true;
	l->status = status;
	event_active(&l->ev, EV_TIMEOUT, 0);
}

bool
worker_later_asked(const struct worker_later *l)
{
	return l->asked;
}
