/* The native module API of wasp-worker: the IIS 7 integrated pipeline.
 *
 * A module is a `const struct wasp_module`: built into wasp-worker, or
 * loaded with dlopen() from a .so file listed in
 * system.webServer/globalModules (<add name="..." image="/path/mod.so"/>),
 * which exports it as the symbol `wasp_module` (see docs/modules.md). Both
 * kinds use exactly this header. <modules> enables modules per application
 * (its built-in list names every built-in module and every one globalModules
 * loads; while nobody changed it, every module is enabled). Its
 * register_hooks() puts handlers on the pipeline's stages with a priority;
 * within one priority, handlers run in the application's <modules> order.
 * The worker runs every request through the stages in order:
 *
 *   BeginRequest, AuthenticateRequest, AuthorizeRequest, ResolveRequestCache,
 *   MapRequestHandler, AcquireRequestState, PreExecuteRequestHandler,
 *   ExecuteRequestHandler, ReleaseRequestState, UpdateRequestCache,
 *   then SendResponse (just before the response head is written),
 *   then LogRequest and EndRequest (after the response went out).
 *
 * At MapRequestHandler the worker picks the request's handler: the first
 * system.webServer/handlers entry whose path, verb, resourceType and
 * requireAccess fit; only the ExecuteRequestHandler hooks of the modules
 * that entry names (modules="A,B") run. No entry fits: 404.4; the path
 * fits but not the verb: 405; the access policy denies it: 403.1/.2/.3.
 * With no handlers configured at all, every enabled module's
 * ExecuteRequestHandler hooks run.
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
 * Strings returned by the request functions live until the request ends.
 *
 * This header depends only on libc; <wasp/config.h> (installed alongside)
 * reads the configuration elements wasp_request_config() returns.
 * WASP_MODULE_ABI changes whenever a layout or a signature here does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WASP_MODULE_ABI 4

struct event_base;
struct stat;
struct wasp_element;
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

/* Order of handlers within a stage; ties run in the application's <modules>
 * order, then in registration order. */
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

/* A configuration section a module reads, and how it becomes the module's
 * own struct (nginx's create/merge_loc_conf, done by the configuration
 * system: the element is already merged along the URL's path). */
struct wasp_module_section {
	const char *name; /* "system.webServer/staticContent": a section of the schema */
	/* The module's struct for one effective section: called once per
	 * distinct merged element (so at most once per configuration and URL
	 * path, again after a web.config along the path changed), when a
	 * request first needs it, never per request. Every attribute the
	 * schema declares is in the element with its schema default: a module
	 * keeps no defaults of its own. NULL: out of memory. */
	void *(*build)(const struct wasp_element *section, struct wasp_server *srv);
	/* Free what build returned, when its configuration is gone (the
	 * worker exits). Optional. */
	void (*free_conf)(void *conf);
};

struct wasp_module {
	uint32_t abi;     /* WASP_MODULE_ABI */
	const char *name; /* "StaticFileModule": the IIS name where there is one */
	/* The sections it reads: wasp_request_module_conf(req, &module, i) is
	 * sections[i]'s struct for the request. A section the schema does not
	 * have stops the worker (naming the module). Optional. */
	const struct wasp_module_section *sections;
	size_t n_sections;
	/* Once per worker process, before any request; 0 or -errno (the
	 * worker then refuses to start, naming the module). Optional. */
	int (*init_process)(struct wasp_server *srv);
	/* Put handlers on stages with wasp_hooks_add(). 0 or -errno. */
	int (*register_hooks)(struct wasp_hooks *hooks);
	/* Once when the worker exits cleanly. Optional. */
	void (*exit_process)(struct wasp_server *srv);
};

/* Add fn(req, userdata) to stage at prio, for the module whose
 * register_hooks() is running. 0, -EINVAL, -ENOMEM. */
int wasp_hooks_add(struct wasp_hooks *hooks, enum wasp_stage stage, enum wasp_priority prio,
		   wasp_handler_fn fn, void *userdata);

/* ---- stream handlers (protocols other than HTTP) ----
 *
 * A connection a protocol adapter other than wasp-http hands over (wasp-tcp:
 * protocol "tcp") does not go through the pipeline: it goes to the stream
 * handler its application selects by name in system.webServer/streamHandlers
 * (<add protocol="tcp" handler="echo" />), among those the worker's modules
 * registered. None selected, or none registered by that name: the worker
 * closes the connection. */
struct wasp_stream;

/* Called once per connection, on the worker's event loop. The handler owns
 * the connection from then on: it reads and writes wasp_stream_fd() (non-
 * blocking) from events it adds to wasp_server_event_base(), and calls
 * wasp_stream_close() when it is done, once (never close the fd itself).
 * The connection counts as open (for the pool's idle timeout, drain and
 * recycle) until then. Return 0, or -errno: the worker closes it. */
typedef int (*wasp_stream_fn)(struct wasp_stream *s, void *userdata);

/* Register fn as the stream handler named name for protocol ("tcp"), for
 * the module whose register_hooks() is running. 0, -EINVAL (bad names, or
 * the pair already registered), -ENOMEM. */
int wasp_hooks_add_stream(struct wasp_hooks *hooks, const char *protocol, const char *name,
			  wasp_stream_fn fn, void *userdata);

/* The connection (non-blocking socket). */
int wasp_stream_fd(const struct wasp_stream *s);
/* What the adapter already read from it, before the handler's first read
 * (wasp-tcp reads nothing: 0 bytes). */
const void *wasp_stream_data(const struct wasp_stream *s, size_t *ret_len);
const char *wasp_stream_protocol(const struct wasp_stream *s);
/* The site id and the application's path ("/") it was routed to. */
uint32_t wasp_stream_site_id(const struct wasp_stream *s);
const char *wasp_stream_app_path(const struct wasp_stream *s);
struct wasp_server *wasp_stream_server(struct wasp_stream *s);
/* The application's effective section (merged as a request for its root
 * would see it; <wasp/config.h> reads it). NULL when the schema has no such
 * section or it cannot be read (logged). */
const struct wasp_element *wasp_stream_config(struct wasp_stream *s, const char *section);
/* The handler's pointer for this connection (NULL until set), and what
 * frees it (optional): called when the connection closes, by
 * wasp_stream_close() or because the worker exits with it still open. */
void *wasp_stream_context(const struct wasp_stream *s);
void wasp_stream_set_context(struct wasp_stream *s, void *ctx, void (*free_ctx)(void *ctx));
/* Close the connection (its context freed) and free s: the handler's last
 * call on it. */
void wasp_stream_close(struct wasp_stream *s);

/* ---- the worker process ---- */

const char *wasp_server_pool_name(const struct wasp_server *srv);
struct event_base *wasp_server_event_base(struct wasp_server *srv);
/* applicationHost.config's own section (no <location>, no web.config), for
 * settings a module reads once (init_process). NULL when unknown. */
const struct wasp_element *wasp_server_config(struct wasp_server *srv, const char *section);

/* ---- logging ---- */

/* syslog(3) priorities. */
#define WASP_LOG_ERR 3
#define WASP_LOG_WARNING 4
#define WASP_LOG_NOTICE 5
#define WASP_LOG_INFO 6
#define WASP_LOG_DEBUG 7

/* One line to the worker's log (stderr, journald), like the worker's own. */
void wasp_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
/* The size of header name's value as IIS measures it for headerLimits:
 * every field line of that name joined with ", " (0 when absent). */
size_t wasp_request_header_size(const struct wasp_request *req, const char *name);

/* What decoding the URL path found (wasp_request_url_flags), for request
 * filtering; the path itself is always safe to map to files. */
#define WASP_URL_DOUBLE_ESCAPED 0x1u /* the decoded path still holds %XX */
#define WASP_URL_HIGH_BIT 0x2u       /* bytes >= 0x80 (UTF-8) in the path */
#define WASP_URL_PLUS 0x4u           /* '+' in the path */
unsigned wasp_request_url_flags(const struct wasp_request *req);
/* Site id, application path ("/" or "/app"), and the physical path the URL
 * maps to through the application's virtual directories (NULL when no
 * virtual directory covers it). */
/* The request came over TLS (an https binding): the listener terminated
 * it and holds the keys; the worker knows these facts of the session. */
struct wasp_tls_info {
	unsigned version;      /* 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
	unsigned key_bits;     /* the cipher's key (HTTPS_KEYSIZE) */
	unsigned secret_bits;  /* the server key (HTTPS_SECRETKEYSIZE) */
	bool client_cert;      /* the client presented a certificate */
	bool client_cert_verified; /* and it verified against the CA bundle */
	unsigned client_verify_result; /* OpenSSL's X509_V_* (0: verified) */
	const char *cipher, *sni, *server_subject, *server_issuer;
	const char *client_subject, *client_issuer, *client_serial; /* "" without one */
	const unsigned char *client_der; /* the client certificate, DER; NULL: none or too long */
	size_t client_der_len;
	bool client_cert_asked; /* the client was asked for one on this connection */
};
/* Whether the request's connection is TLS. */
bool wasp_request_is_secure(const struct wasp_request *req);
/* Its TLS facts (valid while the request is): 0, or -ENOENT for plain HTTP. */
int wasp_request_tls(const struct wasp_request *req, struct wasp_tls_info *ret);
uint32_t wasp_request_site_id(const struct wasp_request *req);
const char *wasp_request_site_name(const struct wasp_request *req);
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

/* wasp_request_open(req, sub, O_RDONLY, ...) for content served as files
 * (StaticFileModule, DefaultDocumentModule, DirectoryListingModule): where
 * applicationHost.config itself (not a web.config) sets staticContent
 * allowSymbolicLinksOutsideRoot="true", symbolic links may also resolve
 * outside the virtual directory (a ".." is still refused). Same returns. */
int wasp_request_open_content(struct wasp_request *req, const char *sub, int *ret_fd,
			      struct stat *ret_st);

/* path, then suffix (may be NULL), percent-encoded for a Location or an
 * href (letters, digits and "-._~/!$()*+,;=:@" kept). In the request's
 * arena; NULL on OOM. */
char *wasp_request_url_encode(struct wasp_request *req, const char *path, const char *suffix);
/* Is the request's path a directory URL (ends in '/')? */
bool wasp_request_path_has_slash(const struct wasp_request *req);

/* The effective configuration section ("system.webServer/staticContent")
 * for this request's site and URL path: applicationHost.config, its
 * <location>s and the web.config files along the path, merged once and
 * cached (an edited web.config is seen by the next request, within a
 * second). Read it with <wasp/config.h>'s wasp_element_* accessors. NULL
 * when the schema has no such section; errors in a file are logged once. */
const struct wasp_element *wasp_request_config(struct wasp_request *req, const char *section);
/* The same for another URL path of the request's site (decoded, dot
 * segments resolved: "/app/dir"), e.g. a parent directory's. NULL as above. */
const struct wasp_element *wasp_request_config_at(struct wasp_request *req, const char *url_path,
						  const char *section);

/* The struct m's sections[index].build made for this request's URL: built
 * once per effective section and kept with the URL's configuration, so a
 * request pays an array lookup (an edited web.config is seen within a
 * second, as with wasp_request_config). NULL when m is not a loaded module
 * or index is not one of its sections, when there is no configuration, or
 * when build returned NULL (out of memory: answer 500). */
const void *wasp_request_module_conf(struct wasp_request *req, const struct wasp_module *m,
				     size_t index);

/* For a section chosen at run time (wasp_request_module_conf covers the
 * ones a module declares): state derived from it (parsed lists,
 * compiled patterns): build(section, userdata) runs once per distinct
 * effective section and its result is kept (freed with free_fn at worker
 * exit), so a request pays a cache lookup. NULL when the section is
 * unknown or build returned NULL. */
typedef void *(*wasp_config_build_fn)(const struct wasp_element *section, void *userdata);
const void *wasp_request_config_state(struct wasp_request *req, const char *section,
				      wasp_config_build_fn build, void (*free_fn)(void *),
				      void *userdata);

/* A server variable by its IIS name: REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR,
 * SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL, SERVER_SOFTWARE, REQUEST_METHOD,
 * URL, SCRIPT_NAME, PATH_INFO, QUERY_STRING, UNENCODED_URL, HTTP_URL,
 * PATH_TRANSLATED, APPL_PHYSICAL_PATH, APPL_MD_PATH, INSTANCE_ID,
 * INSTANCE_NAME, APP_POOL_ID, HTTPS, SERVER_PORT_SECURE, CONTENT_LENGTH,
 * CONTENT_TYPE, HTTP_<NAME> (the request header NAME, '_' for '-'),
 * ALL_RAW, AUTH_TYPE, LOGON_USER, REMOTE_USER, GATEWAY_INTERFACE. NULL when
 * unknown or (HTTP_*) absent. */
const char *wasp_request_server_variable(struct wasp_request *req, const char *name);

/* Set a server variable for the rest of the request (URL Rewrite's
 * <serverVariables>): wasp_request_server_variable(req, name) returns value
 * from now on, for every module (an HTTP_<NAME> one in place of the request
 * header NAME's value there, and as that header when the request is
 * rerouted). 0, -EINVAL (no name, CR or LF in value), -ENOMEM. */
int wasp_request_set_server_variable(struct wasp_request *req, const char *name,
				     const char *value);

/* The name of the system.webServer/handlers entry serving the request,
 * chosen at MapRequestHandler; NULL before, or when none was chosen. */
const char *wasp_request_handler_name(const struct wasp_request *req);

/* When the request's configuration cannot be used (its status is then
 * 500.19, as IIS's): the configuration file, line, message and IIS's error
 * code (struct wasp_config_error, <wasp/config.h>); NULL otherwise. */
struct wasp_config_error;
const struct wasp_config_error *wasp_request_config_error(const struct wasp_request *req);
/* 500.21: the module named by the chosen handler that is not available
 * (IIS: "Handler X has a bad module Y in its module list"); NULL otherwise. */
const char *wasp_request_bad_module(const struct wasp_request *req);
/* A sentence saying why the request failed (copied), shown on the detailed
 * error page (httpErrors errorMode Detailed, or DetailedLocalOnly for a
 * local client) of an error status. */
void wasp_request_set_error_detail(struct wasp_request *req, const char *text);
const char *wasp_request_error_detail(const struct wasp_request *req);
/* Serve the request with the handlers entry called name instead (from a
 * MapRequestHandler or earlier hook). 0, or -ENOENT when there is none. */
int wasp_request_set_handler_name(struct wasp_request *req, const char *name);

/* Internal redirect: map the request to url ("/dir/index.html", as sent:
 * percent-encoded, dot segments resolved; with "?query" the query is
 * replaced, without it kept), which must lie in the request's application,
 * and go on with it. From a hook of MapRequestHandler up to
 * ExecuteRequestHandler, once that hook returns (whatever it returns) the
 * request goes back to MapRequestHandler: its handler is chosen again for
 * the new URL and runs (nginx's ngx_http_internal_redirect); from an earlier
 * stage the request simply goes on with the new URL (a rewrite). The
 * response's status and body so far are dropped (headers stay), and so is
 * the handler chosen; module contexts stay. wasp_request_path() and the
 * configuration are the new URL's; wasp_request_original_path() is still
 * the client's. 0; -EINVAL (not a path, or not before SendResponse),
 * -EXDEV (another application), -ENOMEM; -ELOOP after 10 redirects of the
 * request and -EIO when the new URL's configuration cannot be used: then
 * the status is set (500, 500.19): return WASP_ERROR. */
int wasp_request_internal_redirect(struct wasp_request *req, const char *url);
/* Hand the request to whichever application serves url (as sent: "/a/b?q",
 * percent-encoded), another application of the site, maybe of another
 * pool, where an internal redirect answers -EXDEV: once the hook returns
 * WASP_DONE, the connection goes back to the listener with the request's
 * head rewritten to url and the client's URL in X-Original-URL (one the
 * client sent is dropped), and is routed anew. From BeginRequest, before
 * the body is read. 0; -EINVAL (not a path, too late, body read), -ELOOP
 * (the request was rerouted already: it came with X-Original-URL), -E2BIG
 * (the head would not fit the handoff), -ENOMEM. */
int wasp_request_reroute(struct wasp_request *req, const char *url);
/* Log the URL the request was rewritten to (its path and query) in place of
 * the client's (URL Rewrite's logRewrittenUrl), and whether to. */
void wasp_request_log_rewritten_url(struct wasp_request *req);
bool wasp_request_logs_rewritten_url(const struct wasp_request *req);
/* The decoded path the client asked for, before any internal redirect. */
const char *wasp_request_original_path(const struct wasp_request *req);

/* A module's own per-request pointer (m is the module's struct). NULL until set. */
void *wasp_request_module_context(const struct wasp_request *req, const struct wasp_module *m);
int wasp_request_set_module_context(struct wasp_request *req, const struct wasp_module *m,
				    void *ctx);

/* The request body: Content-Length, -1 for chunked, 0 when none. */
int64_t wasp_request_body_length(const struct wasp_request *req);
/* Copy up to len body bytes (chunked framing removed) into buf. Returns the
 * number (> 0), 0 at the end of the body, -EAGAIN when none are in yet (see
 * wasp_request_wait_body), -EBADMSG for a malformed body, -EMSGSIZE when it
 * is over the limit, -ECONNRESET when the client went away. A body no module
 * read is discarded after the response. */
ssize_t wasp_request_read_body(struct wasp_request *req, void *buf, size_t len);
/* After -EAGAIN: call fn(req, userdata) once from the event loop when
 * wasp_request_read_body() has something new to say (bytes, end, error).
 * The handler returns WASP_AGAIN; fn reads on and finally calls
 * wasp_request_resume(). 0 or -errno. */
int wasp_request_wait_body(struct wasp_request *req,
			   void (*fn)(struct wasp_request *req, void *userdata), void *userdata);
/* Limit the body to max bytes (decoded): reading more fails with -EMSGSIZE
 * and sets status.substatus (RequestFilteringModule: 404.13); a body nobody
 * read is still discarded after the response (or the connection closed). */
void wasp_request_set_body_limit(struct wasp_request *req, uint64_t max, unsigned status,
				 unsigned substatus);

/* Bytes of the request received (head and body so far), bytes of the
 * response sent (head and body; final in LogRequest), and microseconds
 * since the request's head was complete. */
uint64_t wasp_request_bytes_received(const struct wasp_request *req);
uint64_t wasp_response_bytes_sent(const struct wasp_request *req);
uint64_t wasp_request_elapsed_usec(const struct wasp_request *req);
/* The Windows error code IIS logs as sc-win32-status (LogRequest): 0, or 64
 * when the client went away before the whole response was sent, 1236 when
 * the worker aborted the connection (a send timeout, a broken response). */
unsigned wasp_request_win32_status(const struct wasp_request *req);

/* Continue a request whose handler returned WASP_AGAIN, as if the handler
 * had returned status now. Call it from the event loop, not from inside the
 * handler. */
void wasp_request_resume(struct wasp_request *req, enum wasp_status status);

/* ---- the response ---- */

/* Status and IIS substatus (0 when none): 404, 3 is "404.3". A response
 * of 400 or more without a body gets the worker's error page. */
void wasp_response_set_status(struct wasp_request *req, unsigned status, unsigned substatus);
unsigned wasp_response_status(const struct wasp_request *req);
unsigned wasp_response_substatus(const struct wasp_request *req);
/* Add a header (both strings copied). 0 or -ENOMEM; -EINVAL for a name or
 * value with CR or LF, a name with ':', or a header the worker writes itself
 * (Content-Length, Transfer-Encoding, Connection, Date, Keep-Alive, Upgrade). */
int wasp_response_add_header(struct wasp_request *req, const char *name, const char *value);
/* Replace every header called name with one (or add it); same errors. */
int wasp_response_set_header(struct wasp_request *req, const char *name, const char *value);
/* Remove every header called name (case-insensitive). 0, or -ENOENT when none. */
int wasp_response_remove_header(struct wasp_request *req, const char *name);
/* The first response header called name, or NULL. */
const char *wasp_response_header(const struct wasp_request *req, const char *name);
/* Iterate the response headers: i from 0 until it returns false. */
bool wasp_response_header_at(const struct wasp_request *req, size_t i, const char **ret_name,
			     const char **ret_value);
/* Append bytes to the body (copied). 0 or -ENOMEM. */
int wasp_response_write(struct wasp_request *req, const void *data, size_t len);
/* Send len bytes of fd from offset as the body (with sendfile). fd must stay
 * open until the request ends: one from wasp_request_open() (the request
 * owns it), or one registered with wasp_request_on_cleanup(). 0 or -errno. */
int wasp_response_send_file(struct wasp_request *req, int fd, off_t offset, uint64_t len);
/* Is there a body (bytes written or a file set)? */
bool wasp_response_has_body(const struct wasp_request *req);
/* Stream the body instead of giving it whole: for a handler that produces
 * it over time. Call it from ExecuteRequestHandler (or before resuming it
 * with WASP_DONE), with the status and headers set: the head goes out after
 * SendResponse, then the bytes as wasp_response_stream_write() gives them.
 * length is the body's size when known (Content-Length), else -1: chunked
 * for HTTP/1.1, the end of the connection for HTTP/1.0. on_writable(req,
 * userdata) is called from the event loop when a write was refused
 * (-EAGAIN) and the client has since taken enough to make room. 0,
 * -EINVAL (already streaming), -ENOMEM. */
int wasp_response_stream(struct wasp_request *req, int64_t length,
			 void (*on_writable)(struct wasp_request *req, void *userdata),
			 void *userdata);
/* Copy up to len bytes into the stream's buffer (64 KiB). Returns how many
 * it took (> 0; fewer than len when the buffer filled), -EAGAIN when it took
 * none (on_writable follows), -EMSGSIZE past the declared length, -EPIPE
 * when the stream is over (ended, aborted, the client went away, or a
 * module replaced the body: stop producing). */
ssize_t wasp_response_stream_write(struct wasp_request *req, const void *data, size_t len);
/* No more bytes: the request completes once they are sent. Short of the
 * declared length the connection is cut (-EPIPE). 0 or -EPIPE. */
int wasp_response_stream_end(struct wasp_request *req);
/* The producer failed: the response cannot be completed. Once the head is
 * out the connection is cut (never a complete-looking response). */
void wasp_response_stream_abort(struct wasp_request *req);
/* Filter the response body (URL Rewrite's outbound rules): every byte of
 * it, whatever made it (wasp_response_write, a file, a stream), goes
 * through fn on its way out: fn(userdata, in, len, end, out, room,
 * &written) writes what goes out instead into out (room bytes), sets
 * written and returns how many input bytes it took: at least one whenever
 * len > 0 and room >= WASP_FILTER_MIN_ROOM. After the last byte it is
 * called once with end (len 0) to write what it held back (at most
 * WASP_FILTER_MIN_ROOM bytes). Call it in SendResponse, before the head
 * goes out; the response then has no Content-Length (chunked for
 * HTTP/1.1). 0 (also when there is no body); -EINVAL (already filtered, or
 * a stream a module replaced); -ENOMEM. */
#define WASP_FILTER_MIN_ROOM 32768
typedef size_t (*wasp_body_filter_fn)(void *userdata, const char *in, size_t len, bool end,
				      char *out, size_t room, size_t *ret_written);
int wasp_response_filter(struct wasp_request *req, wasp_body_filter_fn fn, void *userdata);
/* The reason phrase of the status line ("OK" for 200 when not set): a
 * copy of reason, which must be printable ASCII (tabs and spaces allowed).
 * 0, -EINVAL, -ENOMEM. */
int wasp_response_set_reason(struct wasp_request *req, const char *reason);
/* Switch protocols (WebSockets): answer 101 with "Connection: Upgrade" and
 * "Upgrade: protocol" (the other fields set as usual) and take the client's
 * connection over. Once the head is out and the request ended (LogRequest,
 * EndRequest), fn(t, userdata) runs with t the connection: from then on the
 * module reads and writes wasp_tunnel_fd(t) itself and ends it with
 * wasp_tunnel_close(); the worker keeps counting it (a draining worker waits
 * for it, until the pool's shutdownTimeLimit). fn(NULL, userdata) instead
 * when it did not happen (another status was sent, the head could not be,
 * the request had a body left) and, after an open, when the worker closes
 * the connection itself (its exit): the module then lets go of its state
 * and of t. 0, -EINVAL (not HTTP/1.1, a bad token, already upgrading). */
struct wasp_tunnel;
int wasp_response_upgrade(struct wasp_request *req, const char *protocol,
			  void (*fn)(struct wasp_tunnel *t, void *userdata), void *userdata);
/* The client's socket (non-blocking), and the bytes the client sent after
 * the request's head that the worker read already (to be handled first). */
int wasp_tunnel_fd(const struct wasp_tunnel *t);
const void *wasp_tunnel_input(const struct wasp_tunnel *t, size_t *ret_len);
/* The tunnel is over: the connection is closed (fn is not called again). */
void wasp_tunnel_close(struct wasp_tunnel *t);
/* Drop the body (bytes, file, or a stream whose head is not out yet: its
 * producer's writes fail from then on); status and headers stay. */
void wasp_response_clear_body(struct wasp_request *req);
/* IIS's courtesy redirect of a directory URL without its trailing slash:
 * 301 to the request's path with '/' appended, the query kept. Returns
 * WASP_DONE, or WASP_ERROR on OOM. */
enum wasp_status wasp_response_redirect_slash(struct wasp_request *req);
/* This response says Connection: close and the connection closes after it. */
void wasp_response_disable_keep_alive(struct wasp_request *req);
/* Close the connection without any response once the request reaches
 * SendResponse (URL Rewrite's AbortRequest); return WASP_DONE after it. */
void wasp_request_abort(struct wasp_request *req);
/* This response goes out without the Server header (requestFiltering's
 * removeServerHeader). */
void wasp_response_omit_server_header(struct wasp_request *req);
/* Ask CustomErrorModule to leave this error response's body alone under
 * httpErrors existingResponse="Auto" (IIS's fTrySkipCustomErrors). */
void wasp_response_set_try_skip_custom_errors(struct wasp_request *req, bool skip);
