/* Resuming a request from the event loop rather than from the code that
 * decided it (a module's I/O callback): resuming may complete the request
 * and free its arena, and with it the caller's state, on the spot. */
#pragma once

#include <stdbool.h>

#include "wasp/module.h"

struct worker_later;

/* Made with the request (its arena), removed when the request ends. NULL
 * on OOM. */
struct worker_later *worker_later_new(struct wasp_request *req);
/* wasp_request_resume(req, status) from the loop, once; true after it was
 * asked for (a second call changes nothing). */
void worker_later_resume(struct worker_later *l, enum wasp_status status);
bool worker_later_asked(const struct worker_later *l);
