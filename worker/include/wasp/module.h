/* The native module API of wasp-worker: the IIS 7 integrated pipeline.
 *
 * A module is a `const struct wasp_module` (built in for now; modules
 * loaded from .so files listed in <globalModules> come with the Worker
 * pipeline issue and will use this same header). Its
 * register_hooks() puts handlers on the pipeline's stages with a priority;
 * the worker runs every request through the stages in order:
 *
 *   BeginRequest, AuthenticateRequest, AuthorizeRequest, ResolveRequestCache,
 *   MapRequestHandler, AcquireRequestState, PreExecuteRequestHandler,
 *   ExecuteRequestHandler, ReleaseRequestState, UpdateRequestCache,
 *   then SendResponse (just before the response head is written),
 *   then LogRequest and EndRequest (after the response went out).
 *
 * A handler returns:
 *   WASP_OK, WASP_DECLINED  continue with the next handler;
 *   WASP_DONE               finish the request: the remaining stages up to
 *                           SendResponse are skipped; in
 *                           ExecuteRequestHandler it means "I produced the
 *                           response": the stage's other handlers are
 *                           skipped, ReleaseRequestState and
 *                           UpdateRequestCache still run;
 *   WASP_AGAIN              pending: the module completes it later from the
 *                           event loop with wasp_request_resume();
 *   WASP_ERROR              500 (unless a status >= 400 is set) and finish;
 *                           after the response is out it changes nothing.
 * ExecuteRequestHandler without a handler returning WASP_DONE and without a
 * status set: 404.
 *
 * Memory: everything a module allocates for a request comes from the
 * request's arena (wasp_request_alloc) and goes when the request ends.
 * Handlers run on the worker's single event loop thread and must not block.
 *
 * This header depends only on libc. The API grows with the Worker pipeline
 * issue; WASP_MODULE_ABI changes whenever a layout here does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WASP_MODULE_ABI 1

struct event_base;
struct stat;
struct wasp_request;
struct wasp_hooks;
struct wasp_server;

enum wasp_status {
	WASP_OK,
	WASP_DECLINED,
	WASP_AGAIN,
	WASP_DONE,
	WASP_ERROR,
};

enum wasp_stage {
	WASP_STAGE_BEGIN_REQUEST,
	WASP_STAGE_AUTHENTICATE_REQUEST,
	WASP_STAGE_AUTHORIZE_REQUEST,
	WASP_STAGE_RESOLVE_REQUEST_CACHE,
	WASP_STAGE_MAP_REQUEST_HANDLER,
	WASP_STAGE_ACQUIRE_REQUEST_STATE,
	WASP_STAGE_PRE_EXECUTE_REQUEST_HANDLER,
	WASP_STAGE_EXECUTE_REQUEST_HANDLER,
	WASP_STAGE_RELEASE_REQUEST_STATE,
	WASP_STAGE_UPDATE_REQUEST_CACHE,
	WASP_STAGE_LOG_REQUEST,
	WASP_STAGE_END_REQUEST,
	WASP_STAGE_SEND_RESPONSE,
	WASP_STAGE__COUNT,
	WASP_STAGE_INVALID = -22,
};

/* Order of handlers within a stage; ties keep module registration order. */
enum wasp_priority {
	WASP_PRIORITY_FIRST,
	WASP_PRIORITY_HIGH,
	WASP_PRIORITY_MEDIUM,
	WASP_PRIORITY_LOW,
	WASP_PRIORITY_LAST,
	WASP_PRIORITY__COUNT,
	WASP_PRIORITY_INVALID = -22,
};

typedef enum wasp_status (*wasp_handler_fn)(struct wasp_request *req, void *userdata);

struct wasp_module {
	uint32_t abi;     /* WASP_MODULE_ABI */
	const char *name; /* "StaticFileModule": the IIS name where there is one */
	/* Once per worker process, before any request; 0 or -errno (the
	 * worker then refuses to start, naming the module). Optional. */
	int (*init_process)(struct wasp_server *srv);
	/* Put handlers on stages with wasp_hooks_add(). 0 or -errno. */
	int (*register_hooks)(struct wasp_hooks *hooks);
	/* Once when the worker exits cleanly. Optional. */
	void (*exit_process)(struct wasp_server *srv);
};

/* Add fn(req, userdata) to stage at prio. 0, -EINVAL, -ENOMEM. */
int wasp_hooks_add(struct wasp_hooks *hooks, enum wasp_stage stage, enum wasp_priority prio,
		   wasp_handler_fn fn, void *userdata);

/* ---- the worker process ---- */

const char *wasp_server_pool_name(const struct wasp_server *srv);
struct event_base *wasp_server_event_base(struct wasp_server *srv);

/* ---- the request ---- */

/* Memory that lives as long as the request. NULL only on OOM. */
void *wasp_request_alloc(struct wasp_request *req, size_t size);
char *wasp_request_strdup(struct wasp_request *req, const char *s);
/* Register fn(data) to run when the request ends (timers, fds). 0 or -ENOMEM. */
int wasp_request_on_cleanup(struct wasp_request *req, void (*fn)(void *data), void *data);

struct wasp_server *wasp_request_server(struct wasp_request *req);
/* "GET", "HEAD", ... as sent. */
const char *wasp_request_method(const struct wasp_request *req);
/* The decoded, normalised URL path ("/a/b.html"): the only decoded form. */
const char *wasp_request_path(const struct wasp_request *req);
/* The path as sent (still percent-encoded), for building URLs. */
const char *wasp_request_raw_path(const struct wasp_request *req);
/* The query string without '?', "" when there is none. */
const char *wasp_request_query(const struct wasp_request *req);
/* A request header's value (the first, case-insensitive name), or NULL. */
const char *wasp_request_header(const struct wasp_request *req, const char *name);
/* Site id, application path ("/" or "/app"), and the physical path the URL
 * maps to through the application's virtual directories (NULL when no
 * virtual directory covers it). */
uint32_t wasp_request_site_id(const struct wasp_request *req);
const char *wasp_request_app_path(const struct wasp_request *req);
const char *wasp_request_physical_path(const struct wasp_request *req);

/* Open the file the URL maps to (sub, when not NULL, is appended as one
 * more path component: "index.html") under its virtual directory's physical
 * path, never outside it: no "..", no symbolic link that leaves the root.
 * flags are open(2) flags (O_CLOEXEC is added). On success *ret_fd is an fd
 * that stays valid until the request ends (do not close it) and *ret_st its
 * fstat. With flags O_RDONLY the fd may come from the worker's open file
 * cache and be shared with other requests: read it with pread() or
 * sendfile() at an offset, never by moving its file position. Returns 0,
 * -ENOENT (nothing there, or not reachable safely: treat as 404),
 * -EACCES, or another -errno. */
int wasp_request_open(struct wasp_request *req, const char *sub, int flags, int *ret_fd,
		      struct stat *ret_st);

/* Continue a request whose handler returned WASP_AGAIN, as if the handler
 * had returned status now. Call it from the event loop, not from inside the
 * handler. */
void wasp_request_resume(struct wasp_request *req, enum wasp_status status);

/* ---- the response ---- */

/* Status and IIS substatus (0 when none): 404, 3 is "404.3". A response
 * of 400 or more without a body gets the worker's error page. */
void wasp_response_set_status(struct wasp_request *req, unsigned status, unsigned substatus);
unsigned wasp_response_status(const struct wasp_request *req);
/* Add a header (both strings copied). 0 or -ENOMEM; -EINVAL for a name or
 * value with CR or LF, a name with ':', or a header the worker writes itself
 * (Content-Length, Transfer-Encoding, Connection, Date, Keep-Alive, Upgrade). */
int wasp_response_add_header(struct wasp_request *req, const char *name, const char *value);
/* Append bytes to the body (copied). 0 or -ENOMEM. */
int wasp_response_write(struct wasp_request *req, const void *data, size_t len);
/* Send len bytes of fd from offset as the body (with sendfile). fd must stay
 * open until the request ends: one from wasp_request_open() (the request
 * owns it), or one registered with wasp_request_on_cleanup(). 0 or -errno. */
int wasp_response_send_file(struct wasp_request *req, int fd, off_t offset, uint64_t len);
