/* wasp-worker internals: the process state (struct worker_env), connections,
 * requests, the pipeline engine, virtual directory mapping. Shared by the
 * files of worker/ only; modules see wasp/module.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "http/http.h"
#include "ipc.h"
#include "msg.h"
#include "wasp/module.h"

struct event;
struct event_base;
struct wasp_apphost;
struct wasp_apppool;
struct wasp_arena;
struct wasp_config;
struct worker_env;
struct wasp_route_app;
struct wasp_route_pool;
struct wasp_route_socket;
struct wasp_route_table;
struct rcache;
struct rc_entry;

/* ---- limits (named constants, one place) ---- */
/* Input buffer of a busy connection: a head (at most 16 KiB) plus pipelined
 * bytes. Exactly what one HANDBACK can carry, which is also more than any
 * HANDOFF brings, so both always fit. */
#define WORKER_INBUF_SIZE (WASP_IPC_MAX_PAYLOAD - sizeof(struct wasp_msg_handback))
#define WORKER_HEADER_TIMEOUT_USEC (30ULL * 1000000) /* first byte to end of head */
#define WORKER_LINGER_USEC (2ULL * 1000000)          /* read-and-discard after an error response */
#define WORKER_MAX_DISCARD_BODY 30000000ULL          /* IIS maxAllowedContentLength default */
#define WORKER_STATS_INTERVAL_USEC 1000000
/* Free memory at the heap's top kept for the next requests: a proxied or
 * streamed request's two 64 KiB buffers, 50 requests at once, would
 * otherwise be given back and faulted in again all the time (glibc trims
 * past 128 KiB). A worker idle for a whole stats tick trims it (main.c).
 * Setting it fixes glibc's mmap threshold, so that is set too (blocks
 * over it are mapped and unmapped each time). */
#define WORKER_TRIM_THRESHOLD (8 * 1024 * 1024)
#define WORKER_MMAP_THRESHOLD (1024 * 1024)
/* Descriptors kept free besides connections and the open file cache
 * (channels, log files, web.config reads, a file being served): a worker
 * takes at most RLIMIT_NOFILE - this - its file cache's size connections. */
#define WORKER_FD_RESERVE 32
/* Closed connections are reported to the adapter (WORKER_ROOM) this many at
 * a time, the rest at the next stats tick (at once when the room matters). */
#define WORKER_ROOM_BATCH 32
/* After refusing a connection, a WORKER_ROOM goes at the latest this long
 * after, so the adapter tries again even if no connection closed. */
#define WORKER_REFUSED_RETRY_USEC 100000
/* webLimits minBytesPerSecond is checked this often while a connection waits
 * to read a request body or to write a response, and only after this grace
 * period from the first wait (the first bytes of a transfer may wait for a
 * window or a module). */
#define WORKER_RATE_CHECK_USEC 1000000
#define WORKER_RATE_GRACE_USEC 1000000
#define WORKER_SPARE_MAX 64   /* input buffers and request arenas kept for reuse */
#define WORKER_CORK_MIN 65536 /* file bodies over this: TCP_CORK rather than MSG_MORE */
/* on a relayed (TLS) connection, file bodies up to this go out with the head
 * in one sendmsg rather than sendfile (the relay's read and TLS record) */
#define WORKER_RELAY_INLINE_MAX 16384
#define WORKER_STREAM_BUF 65536 /* a streamed response's buffer (stream.c) */
#define WORKER_FILTER_READ 16384 /* a filtered file body is read in pieces of this (filter.c) */
/* allowPathInfo: leading parts of a URL that match a handler's path looked
 * up as the script, at most, per request (pipeline.c) */
#define WORKER_PATH_INFO_TRIES 8
#define WORKER_DEFAULT_CONN_TIMEOUT_USEC (120ULL * 1000000) /* IIS connectionTimeout */
#define WORKER_CONFIG_REVALIDATE_USEC 1000000 /* web.config files re-stat'ed at most this often */
#define WORKER_RCACHE_MAX 1024     /* (application, path)s whose sections are remembered */
#define WORKER_RCACHE_MAX_PATH 512 /* longer paths are looked up section by section */
#define WORKER_MAX_INTERNAL_REDIRECTS 10 /* per request; one more answers 500 */
#define WORKER_ROUTES_MAX_BYTES (64u << 20) /* a routing table memfd */
#define WORKER_SERVER_HEADER "wasp/" WASP_VERSION
/* Allow and Public of an OPTIONS response (OPTIONS *, and IIS's
 * OPTIONSVerbHandler in ProtocolSupportModule): IIS's values, word for word. */
#define WORKER_ALLOW_SERVER "OPTIONS, TRACE, GET, HEAD, POST"

/* ---- virtual directories and applications of this worker's pool ---- */

struct wvdir {
	const char *url; /* app path + vdir path: "/", "/app", "/app/img" (no trailing '/') */
	size_t url_len;
	const char *physical_path; /* from the config, no trailing '/' (except "/") */
	int root_fd;               /* O_PATH directory fd, -1 until first use */
	dev_t root_dev;
	ino_t root_ino;
	uint64_t root_checked_usec; /* revalidated at most once a second */
	bool no_openat2;            /* the kernel has none: walk components instead */
};

struct wapp {
	uint32_t site_id;
	const char *site_name;
	const char *path; /* "/" or "/app" */
	size_t path_len;
	struct wvdir *vdirs; /* longest url first */
	size_t n_vdirs;
	uint64_t connection_timeout_usec;
	bool preload; /* preloadEnabled (preload.c) */
	struct wpipe *pipe; /* for pipe->key; NULL until the first request */
	uint64_t requests, requests_reported; /* served; reported in WORKER_SITE_STATS */
	struct wpipe *pipe_cur;   /* what requests use (pipe or every module's) ... */
	uint64_t pipe_checked_usec; /* ... until WORKER_CONFIG_REVALIDATE_USEC after this */
};

/* The first vdir whose url prefixes path on a segment boundary (ASCII case-
 * insensitive, as IIS) and the rest of path after it, without leading '/'
 * (a pointer into path). NULL when none covers it. */
struct wvdir *vdir_match(const struct wapp *app, const char *path, const char **ret_rel);
/* Open rel (relative, may be "") under v's physical path, never leaving it:
 * openat2(RESOLVE_BENEATH) when the kernel has it, else a component walk that
 * refuses every symbolic link. flags: open(2) flags. Returns an fd (with
 * O_CLOEXEC) or -ENOENT (missing or unsafe), -EACCES, -errno. */
int vdir_open(struct wvdir *v, const char *rel, int flags, uint64_t now_usec);
void vdir_close(struct wvdir *v);

/* ---- open file cache (fcache.c) ---- */

#define FCACHE_MAX 1024 /* entries (open fds) per worker */

struct fcache;
struct fcache_entry;

/* A cache of at most max entries (0: FCACHE_MAX). NULL on OOM. */
struct fcache *fcache_new(size_t max);
/* Closes every entry nobody uses; entries in use go with their last unref. */
struct fcache *fcache_free(struct fcache *fc);
/* The file rel under v (O_RDONLY, opened with vdir_open), from the cache when
 * it was checked less than a second ago. On success *ret holds a reference:
 * drop it with fcache_unref(). Returns 0 or vdir_open's -errno. */
int fcache_open(struct fcache *fc, struct wvdir *v, const char *rel, uint64_t now_usec,
		struct fcache_entry **ret);
void fcache_unref(struct fcache_entry *e);
int fcache_entry_fd(const struct fcache_entry *e);
const struct stat *fcache_entry_stat(const struct fcache_entry *e);
size_t fcache_size(const struct fcache *fc);

/* MIME type for a file name by its extension; "application/octet-stream" if unknown. */
const char *mime_lookup(const char *name);

/* ---- mime.c: the staticContent mimeMap ---- */

/* A case-insensitive extension -> Content-Type map. From the mimeMap
 * collection of a staticContent element (fileExtension ".html", "." for a
 * name without one, ".*" for any other); NULL on OOM. */
struct mime_pair {
	const char *ext; /* ".html" (kept as a pointer: it must outlive the map) */
	const char *type;
};
struct mime_map;
struct mime_map *mime_map_new(const struct mime_pair *pairs, size_t n);
void mime_map_free(struct mime_map *m);
/* The built-in map (IIS's shipped defaults), used when no mimeMap entry is
 * configured at all. Never NULL once built; NULL only on OOM. */
const struct mime_map *mime_map_builtin(void);
/* The Content-Type for the file name (its last segment's extension), or
 * NULL when the map has none (IIS: 404.3). */
const char *mime_map_lookup(const struct mime_map *m, const char *name);
size_t mime_map_size(const struct mime_map *m);

/* ---- vdir.c and fcache.c: the open that lets links leave the root ---- */

/* vdir_open(), but with links_outside_root symbolic links may resolve
 * outside v's root (no ".." is still accepted, magic links still refused). */
int vdir_open_ex(struct wvdir *v, const char *rel, int flags, bool links_outside_root,
		 uint64_t now_usec);
#define FCACHE_LINKS_OUTSIDE_ROOT 0x1u
/* fcache_open() with FCACHE_* flags (part of the cache key). */
int fcache_open_ex(struct fcache *fc, struct wvdir *v, const char *rel, unsigned flags,
		   uint64_t now_usec, struct fcache_entry **ret);

/* ---- pipeline ---- */

#define WORKER_MAX_MODULES 64 /* built-in and loaded, per worker (a bit each) */
#define WHOOK_CORE UINT32_MAX /* a hook added outside register_hooks (tests): always runs */

typedef uint64_t wmodset; /* a set of module indexes (bit i: env->modules[i]) */
#define WMODSET_ALL UINT64_MAX

struct whook {
	wasp_handler_fn fn;
	void *userdata;
	enum wasp_priority prio;
	uint32_t module; /* index in env->modules, or WHOOK_CORE */
	unsigned order;  /* registration order, for ties */
	unsigned rank;   /* the module's place in <modules>, for ties (per pipeline) */
};

/* The hooks one request walks: per stage, sorted. */
struct wpipe {
	unsigned refs; /* 0: static (never freed) */
	const struct wasp_element *key; /* the <modules> element it was built for */
	wmodset enabled;
	struct whook *stage[WASP_STAGE__COUNT];
	size_t n[WASP_STAGE__COUNT];
};

struct wasp_hooks {
	struct wpipe all; /* every module's hooks in registration order: the master list */
	size_t n_alloc[WASP_STAGE__COUNT];
	unsigned order;
	uint32_t cur_module; /* whose register_hooks() runs; WHOOK_CORE otherwise */
	struct wstream_handler *streams; /* wasp_hooks_add_stream(), streamconn.c */
	size_t n_streams;
};

struct wasp_hooks *hooks_new(void);
struct wasp_hooks *hooks_free(struct wasp_hooks *h);
/* Sort each stage by priority (stable); call once after registration. */
void hooks_seal(struct wasp_hooks *h);

/* The pipeline of an application: the hooks of the modules its effective
 * <modules> enables, in <modules> order for ties. Cached per application;
 * rebuilt when that section changes (a web.config edit). The request holds
 * a reference until its arena is reset. */
struct wpipe *pipe_for_request(struct wasp_request *req);
void pipe_unref(struct wpipe *p);

enum pipeline_result {
	PIPELINE_PENDING, /* a handler returned WASP_AGAIN: wait for wasp_request_resume() */
	PIPELINE_SEND,    /* the response is ready to be written */
	PIPELINE_END,     /* LogRequest and EndRequest ran: the request is over */
};

/* Run the request from where it stands. */
enum pipeline_result pipeline_run(struct wasp_request *req);
/* Can req be redirected now (a stage up to ExecuteRequestHandler)? */
bool pipeline_can_redirect(const struct wasp_request *req);
/* Is req in BeginRequest (wasp_request_reroute)? */
bool pipeline_in_begin(const struct wasp_request *req);

/* A server variable a module set for the request. */
struct req_var {
	struct req_var *next;
	const char *name, *value;
};

/* Hand the connection back with the client's own head (and what followed
 * it) instead of a response, the HANDBACK with flags (WASP_HANDBACK_F_*):
 * 0, -EINVAL once its body is being read, -E2BIG, -ENOMEM. */
int request_reroute_as_sent(struct wasp_request *req, uint32_t flags);
/* The header a rerouted request carries the client's URL in (URL
 * Rewrite's), and that allows no second reroute. */
#define REROUTE_HEADER "X-Original-URL"
/* req was mapped to another URL (redirect.c): forget its handler; from
 * MapRequestHandler on, go back to MapRequestHandler once the running
 * handler returns. */
void pipeline_redirect(struct wasp_request *req);
/* The stage req is in (enum wasp_stage), WASP_REQUEST_STAGE_SENDING while
 * its response is written (list request). */
unsigned pipeline_stage(const struct wasp_request *req);

/* The requests executing now, answered to waspd's REQUESTS_QUERY on ch
 * (requests.c). 0 or -errno. */
struct wasp_msg_requests_query;
int requests_answer(struct worker_env *env, struct wasp_ipc_channel *ch, uint32_t seq,
		    const struct wasp_msg_requests_query *q);

/* The <handlers> mapping (pipeline.c): choose req's handler. Returns true
 * when one was chosen (or no handlers are configured: all run); false after
 * setting the error status (404.4, 405, 403.x, 404). */
bool handlers_map(struct wasp_request *req);
/* Does the preCondition of <handlers> entry it hold for pool (NULL: IIS's
 * defaults)? */
bool handler_precondition_holds(const struct wasp_apppool *pool, const struct wasp_element *it);

/* ---- preloadEnabled (preload.c) ---- */

/* Warm up every application of the worker whose preloadEnabled is true
 * (once, after READY): the FastCGI applications its handlers map to are
 * started, and an application whose handlers include httpPlatformHandler
 * or AspNetCoreModuleV2 gets a warm-up GET of its root (which starts the
 * backend). */
void worker_preload(struct worker_env *env);
/* Worker exit: the warm-up requests still waiting for their response. */
void worker_preload_free(void);

/* ---- modules ---- */

struct wmodule {
	const struct wasp_module *m;
	const char *name;  /* the name <modules> and handlers use */
	const char *image; /* the .so file, NULL for built-ins */
	void *dl;          /* dlopen handle */
	bool core;         /* always enabled (the test module) */
	uint32_t conf_base; /* its sections are env->confs[conf_base ..] */
};

/* A section a module declared (wasp_module_section), numbered across the
 * worker's modules: its built structs live in the per-path configuration
 * cache under that number. */
#define WORKER_MAX_MODULE_SECTIONS 256
struct wconf {
	const struct wasp_module_section *sec;
	struct worker_env *env;
};
#define WORKER_MODULE_INDEX_SLOTS 128 /* module pointer -> index, open addressing */

/* Make env->modules[i] findable by its struct (module_index) and number
 * its declared sections, each of which must be one the schema has when
 * there is a configuration. 0 or -errno (logged, naming the module). */
int module_register(struct worker_env *env, uint32_t i);
/* Index of the loaded module m (by its struct's address), or -1. O(1). */
int module_index(const struct worker_env *env, const struct wasp_module *m);
/* The struct for env->confs[i] built from e (NULL: none), built on first
 * use and kept for e's lifetime (module.c). */
const void *module_conf_get(struct worker_env *env, size_t i, const struct wasp_element *e);

/* Register the built-in modules (and the test module when test_hooks), the
 * .so modules of globalModules (from env->config, when there is one), run
 * their init_process, and register their hooks into env->hooks.
 * 0 or -errno (logged, naming the module or its file). */
int modules_init(struct worker_env *env, bool test_hooks);
void modules_exit(struct worker_env *env);
/* Index of the module called name (ASCII case-insensitive), or -1. */
int module_find(const struct worker_env *env, const char *name, size_t len);
/* Free the module-owned configuration state (wasp_request_config_state)
 * and the per-(application, path) sections (config_cache.c). */
void config_states_free(struct worker_env *env);
extern const struct wasp_module mod_static;
extern const struct wasp_module mod_fastcgi;
extern const struct wasp_module mod_httpplatform;
extern const struct wasp_module mod_aspnetcore;
extern const struct wasp_module mod_test;

/* ---- process state ---- */

struct wchan; /* a handoff channel with an adapter (handoff.c) */
struct conn;

struct wasp_server {
	struct worker_env *env;
};

struct worker_env {
	struct event_base *base;
	struct wasp_server server;
	pid_t pid;

	/* identity, from WORKER_CONFIG */
	uint32_t pool_id, worker_id, generation, flags;
	char *pool_name; /* NULL until WORKER_CONFIG is in */

	/* configuration */
	struct wasp_config *config;
	const struct wasp_apphost *apphost;
	struct wasp_arena *apps_arena;
	struct wapp *apps; /* this pool's applications */
	size_t n_apps;
	/* the routing table: only the last ROUTE_TABLE's memfd (routes_fd, -1 =
	 * none newer than routes) until env_routes() needs it */
	struct wasp_route_table *routes;
	const struct wasp_route_pool *route_pool; /* ours in routes */
	unsigned routes_gen;                      /* bumped on every table swap */
	int routes_fd;

	struct wasp_hooks *hooks;
	struct wmodule modules[WORKER_MAX_MODULES];
	size_t n_modules;
	/* module_index(): the struct's address hashed to its index + 1 */
	const struct wasp_module *module_keys[WORKER_MODULE_INDEX_SLOTS];
	uint8_t module_slots[WORKER_MODULE_INDEX_SLOTS];
	struct wconf confs[WORKER_MAX_MODULE_SECTIONS]; /* every module's sections */
	size_t n_confs;
	struct cstate *cstates; /* wasp_request_config_state(): open addressing */
	struct rcache *rcache;  /* each (application, path)'s sections (config_cache.c) */
	size_t n_cstates, n_cstates_alloc;
	struct fcache *fcache;
	/* memory of connections between requests, for the next busy one */
	char *spare_bufs[WORKER_SPARE_MAX];
	size_t n_spare_bufs;
	struct wasp_arena *spare_arenas[WORKER_SPARE_MAX];
	size_t n_spare_arenas;

	/* channels */
	struct wasp_ipc_channel *activator;
	struct wchan *chans;

	/* connections */
	struct conn *conns;
	struct wasp_stream *streams; /* handed to stream handlers (streamconn.c) */
	uint32_t n_conns;            /* both kinds */
	uint32_t n_busy;
	uint64_t n_requests;
	/* n_requests at the last malloc_trim and at the last stats tick (main.c) */
	uint64_t n_requests_trimmed, n_requests_tick;

	uint32_t conn_max; /* connections it takes at once (descriptors left), 0: no limit */
	uint64_t min_bytes_per_sec; /* webLimits minBytesPerSecond, 0: not checked */
	bool ready, draining;
	struct event *stats_timer;
	struct event *exit_timer;
	struct wasp_http_date_cache date;
	struct wasp_http_limits limits;
	uint64_t header_timeout_usec; /* WORKER_HEADER_TIMEOUT_USEC (tests shorten it) */
};

/* Set up the process state on base (which must do edge triggering). 0 or -errno. */
int env_init(struct worker_env *env, struct event_base *base);
/* Register the modules (the test module too with WASP_WORKER_F_TEST_HEADERS)
 * and run their init_process; once, before the first connection. 0 or -errno. */
int env_load_modules(struct worker_env *env, uint32_t flags);
void env_done(struct worker_env *env);
/* Size the connection limit and the open file cache to RLIMIT_NOFILE (once,
 * before the first connection; docs/design.md "Descriptor limits"). */
void env_fit_fd_limit(struct worker_env *env);
/* Build env->apps from env->apphost for env->pool_name. 0 or -errno. */
int env_build_apps(struct worker_env *env);
/* Keep a ROUTE_TABLE's memfd (owned from now on) for env_routes(). */
void env_set_routes_fd(struct worker_env *env, int fd);
/* The routing table, parsed here when a newer one came in since the last
 * call (a start does not wait on the parse; only a request that is not a
 * connection's first needs the table). One that cannot be read or parsed is
 * logged and the previous one kept. NULL when there is none. */
struct wasp_route_table *env_routes(struct worker_env *env);
/* This pool's application by site id and path (case-insensitive), or NULL. */
struct wapp *env_find_app(struct worker_env *env, uint32_t site_id, const char *path);
/* Called whenever a connection went away or the worker started draining:
 * exits the loop once draining and nothing is left. */
void env_check_drained(struct worker_env *env);

/* ---- handoff channels (handoff.c) ---- */

/* Take sock (this worker's end of a handoff channel). 0 or -errno. */
int wchan_add(struct worker_env *env, int sock, uint32_t adapter_id);
void wchan_ref(struct wchan *c);
void wchan_unref(struct wchan *c);
/* Whether c (NULL: none) can still take a HANDBACK. */
bool wchan_open(const struct wchan *c);
/* Send HANDBACK (fd is closed once sent, also on failure) with data. 0 or -errno. */
struct conn_tls;
int wchan_handback(struct wchan *c, int fd, uint32_t conn_id, const void *data, size_t len,
		   uint32_t flags, const struct conn_tls *tls);
/* An acknowledged connection of c's was closed (not handed back): counted
 * for the adapter's next WORKER_ROOM. */
void wchan_release(struct wchan *c);
/* WORKER_ROOM to every adapter that has closed connections to hear of
 * (once a second, with the stats). */
void wchan_flush_rooms(struct worker_env *env);
/* Messages still queued on the handoff channels (a HANDBACK not yet on the wire). */
size_t wchan_queued(struct worker_env *env);
void wchan_close_all(struct worker_env *env);

/* ---- connections (conn.c; its parts share conn.h) ---- */

/* Serve fd: data is what the adapter already read; the first request routes
 * to (site_id, app_path). chan may be NULL (tests): no hand back then. Takes
 * fd (closed on failure). 0 or -errno. */
int conn_new(struct worker_env *env, int fd, struct wchan *chan, uint32_t site_id,
	     const char *app_path, const void *data, size_t len);
/* conn_new in two steps: take fd and the bytes (0 with *ret, or -errno with
 * fd closed), then serve; or conn_discard: close it unserved. */
/* Make fd non-blocking: 0, or -errno with fd closed. */
int conn_fd_nonblock(int fd);
/* Where a connection comes from, as its HANDOFF says: its addresses (the
 * listener's: the fd may be a socketpair carrying a TLS connection's
 * plaintext) and, for TLS, the facts (conn_tls_parse). */
struct conn_origin {
	struct sockaddr_storage local, peer;
	socklen_t local_len, peer_len; /* 0: not known */
	struct conn_tls *tls;          /* malloc'd, taken by the connection; NULL: plain */
};
/* A TLS connection's facts (struct wasp_msg_tls_info with its strings,
 * NUL-terminated), one allocation. */
struct conn_tls {
	struct wasp_msg_tls_info info;
	const char *cipher, *sni, *server_subject, *server_issuer;
	const char *client_subject, *client_issuer, *client_serial, *client_cookie;
	const uint8_t *client_cert; /* DER, info.client_cert_len bytes; NULL: none */
	/* a kTLS socket's facts and MAC as the HANDOFF had them, echoed in a
	 * HANDBACK (echo_len bytes); NULL: none (a relayed connection) */
	const uint8_t *echo;
	size_t echo_len;
};
/* HTTPS, SERVER_PORT_SECURE, HTTPS_* and CERT_* (conntls.c); NULL for
 * another name. */
const char *tls_server_variable(struct wasp_request *req, const char *name);
/* A HANDOFF's TLS facts (len bytes, then mac_len bytes of their MAC on a
 * kTLS socket) into a new conn_tls; NULL when malformed (or out of memory:
 * *err says which, -EBADMSG or -ENOMEM). */
struct conn_tls *conn_tls_parse(const void *p, size_t len, size_t mac_len, int *err);
int conn_prepare(struct worker_env *env, int fd, struct wchan *chan, uint32_t site_id,
		 const char *app_path, const void *data, size_t len,
		 const struct conn_origin *origin, struct conn **ret);
void conn_start(struct conn *c);
void conn_discard(struct conn *c);
/* Draining: hand connections that are between requests back to their
 * adapter now, the others once their response is out. A response stays
 * keep-alive while the connection has an adapter to go back to; without one
 * it says Connection: close and is closed. */
void conn_drain_all(struct worker_env *env);
void conn_free_all(struct worker_env *env);

/* ---- connections of other protocols: stream handlers (streamconn.c) ---- */

struct wstream_handler {
	char *protocol, *name;
	wasp_stream_fn fn;
	void *userdata;
	uint32_t module;
};

void stream_handlers_free(struct wasp_hooks *h);
/* Take a connection of protocol (not http), hand it to the stream handler
 * its application selects. Closes fd on every error. */
int streamconn_take(struct worker_env *env, int fd, struct wchan *chan, uint32_t site_id,
		    const char *app_path, const char *protocol, const void *data, size_t len,
		    struct wasp_stream **ret);
void streamconn_start(struct wasp_stream *s);
void streamconn_discard(struct wasp_stream *s);
void streamconn_free_all(struct worker_env *env);
/* Continue a connection whose request was pending (from wasp_request_resume). */
void conn_resume(struct conn *c);

/* ---- requests (request.c) ---- */

struct req_ctx {
	struct req_ctx *next;
	const struct wasp_module *module;
	void *ctx;
};

struct resp_header {
	const char *name;
	const char *value;
	size_t name_len, value_len;
};

struct wasp_request {
	struct worker_env *env;
	struct conn *conn;
	struct wasp_arena *arena;
	const struct wasp_http_request *http; /* the parsed head (conn's) */

	const char *method;
	const char *path;    /* normalised */
	unsigned path_flags; /* WASP_HTTP_URL_* */
	const char *query;   /* "" when none */
	bool head;           /* HEAD: no body on the wire */

	struct wapp *app;
	struct wvdir *vdir;        /* NULL: no vdir covers the path */
	const char *rel;           /* path under the vdir */
	const char *physical_path; /* built on demand */
	const char *raw_path;      /* wasp_request_raw_path(), built on demand */
	const char *orig_path;     /* the path before the first internal redirect, or NULL */
	unsigned n_redirects;      /* internal redirects so far */
	struct req_var *vars;      /* wasp_request_set_server_variable(), newest first */
	bool log_rewritten;        /* wasp_request_log_rewritten_url() */
	bool remap;                /* redirected at MapRequestHandler or later: map again */

	/* pipeline position */
	unsigned step;
	size_t hook;
	bool in_handler;
	bool resumed;
	enum wasp_status resume_status;
	bool handled; /* a handler in ExecuteRequestHandler returned WASP_DONE */
	struct wpipe *pipe;          /* the hooks it walks (a reference) */
	wmodset handler_modules;     /* whose ExecuteRequestHandler hooks run */
	bool mapped;                 /* handlers_map() ran (or a module chose) */
	const char *handler_name;    /* the <handlers> entry chosen, NULL before */
	const char *bad_module;      /* 500.21: the handler's module that is not there */
	const struct wasp_config_error *config_error; /* 500.19: why (belongs to env->config) */
	struct req_ctx *module_ctx;  /* per-module pointers (wasp_request_set_module_context) */
	struct rc_entry *rc;         /* its (application, path)'s sections, a reference */
	bool rc_tried;               /* rc was looked for (NULL: not cacheable) */
	uint64_t start_usec;         /* head complete */
	uint64_t bytes_in, bytes_out;
	unsigned win32_status;       /* sc-win32-status: 0, or why the response was cut */

	/* response */
	unsigned status, substatus;
	struct resp_header *headers;
	size_t n_headers, n_headers_alloc;
	char *body;
	size_t body_len, body_alloc;
	int file_fd;
	off_t file_off;
	uint64_t file_len;
	bool keep_alive;
	bool no_keep_alive; /* wasp_response_disable_keep_alive() */
	bool aborted;       /* wasp_request_abort(): closed without a response */
	/* wasp_request_reroute(): the head the listener gets instead of a
	 * response (the connection is handed back with it) */
	char *reroute_head;
	size_t reroute_len;
	uint32_t reroute_flags; /* the HANDBACK's (WASP_HANDBACK_F_*) */
	bool no_server_header; /* wasp_response_omit_server_header() */
	const char *reason; /* wasp_response_set_reason(), NULL: the status's own */
	struct wstream *stream; /* wasp_response_stream(), NULL when not streaming */
	const char *upgrade; /* wasp_response_upgrade(): the Upgrade token of a 101 */
	const char *error_detail; /* wasp_request_set_error_detail() */
	/* allowPathInfo (handlers_map): the URL's first script_len bytes name
	 * the script file (script_file), the rest is PATH_INFO (mapped to
	 * path_info_file, NULL when no virtual directory covers it); 0: none */
	size_t script_len;
	const char *script_file, *path_info_file;
	bool path_info_allowed; /* the chosen handler's allowPathInfo */
};

/* ---- streamed responses (stream.c) ---- */

struct wstream {
	char *buf;                /* WORKER_STREAM_BUF bytes */
	size_t off, len;          /* buffered body bytes: buf[off..off+len) */
	size_t inflight;          /* the first of them, framed and being sent */
	size_t frame_left;        /* bytes of that frame not yet sent */
	char chunk_hdr[WASP_HTTP_CHUNK_HEADER_MAX];
	bool frame_last;          /* the frame ends with the last chunk */
	int64_t length;           /* declared, -1 unknown */
	uint64_t written;         /* body bytes the producer gave */
	void (*on_writable)(struct wasp_request *req, void *userdata);
	void *userdata;
	bool head_sent, chunked, discard, want_room, ended, failed, cancelled, last_sent;
	struct wfilter *filter; /* wasp_response_filter() (filter.c), NULL when none */
};

/* Is the response streamed (and not replaced since)? */
bool stream_active(const struct wasp_request *req);
/* Does the producer still have bytes to give (not ended, failed or cancelled)? */
bool stream_producing(const struct wasp_request *req);
/* A module replaced the body (wasp_response_clear_body) before the head
 * went out: the producer's writes fail from now on. */
void stream_cancel(struct wasp_request *req);
int64_t stream_length(const struct wasp_request *req);
/* The head is going out: the framing is chosen (bodyless: HEAD, 204, 304). */
void stream_begin(struct wasp_request *req, bool bodyless);
/* Is anything buffered to go out with the head (MSG_MORE on the head)? */
bool stream_pending(const struct wasp_request *req);
/* The head (what is left of it) and the next frame in one sendmsg, when
 * stream_pending(): a small response is one segment and one syscall.
 * Returns the head's bytes sent (the frame's are accounted here), -errno. */
ssize_t stream_send_with_head(struct wasp_request *req, int fd, const struct iovec *head);
/* Write what is buffered to fd. 1 when the stream ended and all of it is
 * out, 0 when waiting for the producer, -EAGAIN (socket full),
 * -ECONNABORTED (aborted, or ended short: cut the connection), -errno. */
int stream_send(struct wasp_request *req, int fd);
/* A filtered stream (filter.c): the producer's write and end, and the
 * filter's own bytes (a whole body) fed while there is room. */
ssize_t filter_write(struct wasp_request *req, const void *data, size_t len);
int filter_end(struct wasp_request *req);
void filter_pump(struct wasp_request *req);
/* The producer added bytes or ended: have the connection look (conn.c). */
void conn_stream_kick(struct conn *c);

/* The connection's addresses, as the HANDOFF gave them (never the fd's:
 * it may be a TLS relay's socketpair). false when unknown (a preloaded
 * request, a socketpair in tests). */
bool conn_local_addr(struct conn *c, const struct sockaddr_storage **ret, socklen_t *ret_len);
bool conn_peer_addr(struct conn *c, const struct sockaddr_storage **ret, socklen_t *ret_len);
/* The connection's local or peer address as text, "" when it has none;
 * made once, it lives as long as the connection. */
const char *conn_addr_text(struct conn *c, bool peer);

/* Log config/'s diagnostics (errors and warnings with file and line). */
struct wasp_diag_list;
void config_log_diags(const struct wasp_diag_list *diags);

/* Can the request's configuration be used (wasp_config_check_path(), through
 * the per-path cache)? false, with req->config_error set, when not (500.19);
 * false without it when that could not be found out (out of memory: 500). */
bool request_config_usable(struct wasp_request *req);

/* Initialise req for a request on conn (arena already reset). */
void request_init(struct wasp_request *req, struct worker_env *env, struct conn *c,
		  struct wasp_arena *arena, const struct wasp_http_request *http);
/* Set an error status and drop any body: the worker's error page is added
 * after SendResponse unless a module (CustomErrorModule) gives one. */
void request_set_error(struct wasp_request *req, unsigned status, unsigned substatus);
/* The worker's error page for req's status as the body. */
void request_error_page(struct wasp_request *req);
/* Replace a response the modules already made (headers, body) with an error
 * and the worker's error page: the response's headers are dropped. */
void request_replace_with_error(struct wasp_request *req, unsigned status, unsigned substatus);
/* Add a header without copying or checking it: name and value (of those
 * lengths) hold no CR or LF, name is not one the worker writes itself and
 * both stay as they are until the request ends (literals, configuration
 * state). For the worker's own modules. 0 or -ENOMEM. */
int request_add_header_static(struct wasp_request *req, const char *name, size_t name_len,
			      const char *value, size_t value_len);
/* Build the response head into the arena. Returns its length and sets
 * *ret_head, or -errno. */
int request_build_head(struct wasp_request *req, char **ret_head);
/* The per-(application, path) section cache (config_cache.c): drop it, and how
 * many entries it holds (tests). */
void request_config_cache_free(struct worker_env *env);
size_t request_config_cache_size(const struct worker_env *env);
/* The module-owned state for (e, build, userdata): built on first use
 * (module.c). NULL when build returned NULL or on OOM. */
const void *config_state_get(struct worker_env *env, const struct wasp_element *e,
			     wasp_config_build_fn build, void (*free_fn)(void *), void *userdata);
/* Jump the pipeline straight to SendResponse (parser errors). */
void pipeline_skip_to_send(struct wasp_request *req);

/* ---- the HTTPS policy (sslpolicy.c) ---- */

/* system.webServer/security/access sslFlags (IIS's values) */
#define SSLFLAG_SSL 8
#define SSLFLAG_NEGOTIATE_CERT 32
#define SSLFLAG_REQUIRE_CERT 64
#define SSLFLAG_MAP_CERT 128
#define SSLFLAG_SSL128 256

/* What the request's connection has of TLS. */
struct sslpolicy_tls {
	bool secure;         /* the request came over TLS */
	unsigned key_bits;   /* the cipher's key size (HTTPS_KEYSIZE) */
	bool client_cert;    /* a client certificate was presented */
	bool client_cert_ok; /* and it verified */
	unsigned verify_result; /* why not: OpenSSL's X509_V_* (0: verified) */
	bool cert_asked;     /* the client was asked for one on this connection */
};

/* The request's connection's TLS, from the facts the listener sent
 * (wasp_request_tls(); not server variables a module set). */
void sslpolicy_tls(struct wasp_request *req, struct sslpolicy_tls *ret);
/* The status sslFlags give a request over t: 0 (allowed) or 403 with
 * *ret_substatus 4 (SSL required), 5 (128-bit key required), 7 (client
 * certificate required), 16 (client certificate untrusted or invalid), 17
 * (client certificate expired or not yet valid). */
unsigned sslpolicy_check(uint64_t flags, const struct sslpolicy_tls *t, unsigned *ret_substatus);
/* The core's hooks: redirectHttpToHttps, sslFlags, Strict-Transport-Security. */
int sslpolicy_register(struct wasp_hooks *hooks);
/* A server variable as the worker makes it, whatever a module set
 * (wasp_request_set_server_variable) for the request. */
const char *request_server_variable_base(struct wasp_request *req, const char *name);
