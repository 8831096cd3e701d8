/* Cleanup helpers for libevent's objects, in the style of util.h's:
 * `ev = wasp_event_free(ev);` frees and forgets (NULL is fine), and the
 * *p variants go with _cleanup_(). Header only: the users link libevent. */
#pragma once

#include <event2/event.h>

static inline struct event *
wasp_event_free(struct event *ev)
{
	if (ev)
		event_free(ev);
	return NULL;
}

static inline void
wasp_event_freep(struct event **ev)
{
	*ev = wasp_event_free(*ev);
}

static inline struct event_base *
wasp_event_base_free(struct event_base *base)
{
	if (base)
		event_base_free(base);
	return NULL;
}
