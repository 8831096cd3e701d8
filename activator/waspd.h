/* waspd's internal types: the one struct wasp_env, application pools, worker
 * records, protocol adapters, listening sockets and identities, and the
 * seams the pool code reaches the rest through (pool events, the process
 * starter, the clock). Shared by the activator's files only; docs/design.md
 * "Source map" says which file does what. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "adapter_conf.h"
#include "clock.h"
#include "msg.h"
#include "names.h"
#include "wasp-build.h"

/* applicationHost.config when waspd is given no -c (as waspctl's default). */
#define WASPD_DEFAULT_CONFIG WASP_SYSCONFDIR "/applicationHost.config"

struct event;
struct event_base;
struct wasp_apphost;
struct wasp_apppool;
struct wasp_config;
struct wasp_ipc_channel;
struct control;
struct route_index;
typedef struct json_t json_t;

/* A pool's sealed memfds of one generation, -1 = not made yet. */
struct pool_fds {
	int config;
	int routes;
};

/* Credentials a child runs with. change=false keeps the daemon's own
 * (development mode, or LocalSystem as root). */
struct wasp_identity {
	bool change;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups (malloc'd) */
	size_t n_groups;
	char *name; /* user name (or "pool:<name>") for messages and $USER */
	char *home; /* in the same allocation as name */
};

/* One listening socket: one per distinct protocol address:port. */
struct listen_sock {
	uint32_t id; /* index in env->socks, the routing table's socket id */
	char *protocol;
	char *address; /* "*" or a literal IPv4/IPv6 address */
	uint16_t port;
	int family;
	int fd;
	bool covered; /* a passed dual-stack [::] socket serves it */
	bool stored;  /* kept by the service manager: its file descriptor store
			 (fdstore.c), or a socket unit; or passed by a restart */
};

enum worker_state {
	WORKER_STARTING, /* spawned, no READY yet (startupTimeLimit running) */
	WORKER_READY,    /* taking connections */
	WORKER_DRAINING, /* WORKER_GONE sent, DRAIN sent (shutdownTimeLimit running) */
	WORKER_DEAD,     /* killed, waiting to be reaped */
	WORKER_STATE__COUNT,
	WORKER_STATE_INVALID = -22,
};

/* The adapter's end of a handoff channel to one worker, kept until the
 * worker is ready (then it goes to the adapter as WORKER_CHANNEL). */
struct handoff_pair {
	struct handoff_pair *next;
	uint32_t adapter_id;
	int adapter_fd;
};

struct pool;

/* Why a worker was recycled (metrics: wasp_pool_recycles_total's reason). */
enum recycle_reason {
	RECYCLE_TIME,           /* periodicRestart time */
	RECYCLE_REQUESTS,       /* periodicRestart requests */
	RECYCLE_MEMORY,         /* periodicRestart memory */
	RECYCLE_PRIVATE_MEMORY, /* periodicRestart privateMemory */
	RECYCLE_SCHEDULE,       /* periodicRestart schedule */
	RECYCLE_CONFIG,         /* its configuration changed (reload) */
	RECYCLE_MANUAL,         /* waspctl recycle apppool */
	RECYCLE_CHANNEL,        /* it kept losing its handoff channels */
	RECYCLE_REASON__COUNT,
};

/* A pool's counters (metrics.c): the pool's, not a worker's, so they survive
 * recycles and reloads (the record is carried over by name). */
struct pool_metrics {
	uint64_t requests; /* served, summed from the workers' WORKER_STATS */
	uint64_t recycles[RECYCLE_REASON__COUNT]; /* recycles started */
	uint64_t crashes, startup_failures, ping_failures, spawn_failures;
	uint64_t rapid_fail_trips;
	uint64_t cpu_usec_exited;  /* CPU time of its workers that exited */
	uint64_t last_startup_usec; /* its last worker's spawn to READY */
	/* from the listener (ADAPTER_POOL_METRICS) */
	uint64_t handoffs, handbacks, dequeued, queue_wait_usec, rejected_503;
	uint32_t queued;
};

struct worker {
	struct worker *next; /* pool->workers */
	struct pool *pool;
	uint32_t id; /* unique for the daemon's lifetime */
	pid_t pid;
	enum worker_state state;
	struct wasp_ipc_channel *ch;
	uint64_t started_mono; /* usec */
	uint64_t started_real;
	uint64_t ready_mono;
	struct timer *limit_timer; /* startupTimeLimit, then shutdownTimeLimit */
	struct timer *ping_timer;  /* next PING */
	struct timer *pong_timer;  /* pingResponseTime for the outstanding PING */
	struct timer *idle_timer;
	struct timer *recycle_timer; /* periodicRestart time */
	struct timer *sched_timer;   /* background start: the bound */
	bool background;             /* SCHED_IDLE until READY (sched.c) */
	uint64_t ping_token;
	bool ping_outstanding;
	/* From the worker's last WORKER_STATS (vm_kb from /proc). */
	uint64_t requests, private_kb, rss_kb, vm_kb;
	uint32_t connections, busy;
	bool have_stats;
	uint64_t idle_since; /* monotonic usec; 0 = busy */
	bool announced;      /* WORKER_CHANNEL went to the adapters */
	bool recycling;      /* a replacement is starting */
	bool rotating;       /* drains for a disallowOverlappingRotation recycle:
				no new worker of its pool starts until it exited */
	struct worker *replaces; /* overlapped recycle: the worker this one replaces */
	const char *stop_reason; /* why it drains or was killed */
	bool failed;             /* counted as a failure already */
	struct handoff_pair *pairs;
	uint32_t channels_lost;  /* HANDOFF_CHANNEL_LOST reports */
	/* From its last WORKER_APPS: the application processes it runs
	 * (n_apps of apps_total, at most WASP_APP_PROCS_MAX). */
	struct wasp_msg_app_proc *apps;
	uint32_t n_apps, apps_total;
};

struct pool {
	struct wasp_env *env;
	const struct wasp_apppool *cfg;
	const char *name;
	uint32_t id;
	enum wasp_pool_state state;
	enum wasp_pool_stop_reason reason;
	struct worker *workers;
	struct wasp_identity ident;
	int ident_error; /* < 0: the identity could not be resolved */
	uint64_t *fail_times; /* failure times (monotonic usec), oldest first */
	size_t n_fail;
	uint64_t failures; /* since the daemon started */
	uint64_t recycles;
	uint64_t recycle_failures;
	uint64_t spawned; /* workers started, ever */
	struct pool_metrics *m; /* NULL until the pool first counts something
				   (an idle site's pool costs no counters) */
	bool demand; /* an adapter asked for a worker and none is ready yet */
	uint64_t demand_time; /* when it last asked (monotonic usec) */
	unsigned start_failures; /* consecutive workers that failed before READY */
	struct timer *respawn_timer; /* backoff after start failures */
	bool respawn_replace;
	struct timer *schedule_timer;
	uint64_t schedule_due; /* realtime usec of the time of day it is armed for */
	/* The generation cfg belongs to; removed: gone from the configuration
	 * by a reload, stopping, kept (at the end of env->pools, after the
	 * configured ones) until the next reload once its workers are gone. */
	struct wasp_config *gen;
	bool removed;
};

/* A pool's counters: written through pool_metrics_w(), which allocates
 * them on the first count (a scratch record when memory is short: that
 * count is lost), read through pool_metrics_r() (zeros before any). */
struct pool_metrics *pool_metrics_w(struct pool *p);
const struct pool_metrics *pool_metrics_r(const struct pool *p);

/* What the pool and worker state machines (pool*.c) tell the rest of waspd;
 * daemon.c wires it to the adapters, the unit tests to a recorder. */
struct pool_events {
	/* p's state or stop reason changed (the routing table shows it). */
	void (*pool_state)(struct pool *p);
	/* w's channel exists: send it its configuration, the routing table and
	 * a handoff channel per adapter. 0 or -errno (w is then killed). */
	int (*worker_setup)(struct worker *w);
	/* w is ready: its handoff channels go to the adapters. */
	void (*worker_ready)(struct worker *w);
	/* w, announced before, takes no more connections. */
	void (*worker_gone)(struct worker *w);
	/* w lost its handoff channel with adapter_id: 0 paired again,
	 * -ENOENT that adapter is gone, other -errno. */
	int (*worker_repair)(struct worker *w, uint32_t adapter_id);
	/* A worker exited and its record is gone (shutdown may be done). */
	void (*worker_reaped)(struct wasp_env *env);
};

/* The processes waspd starts (process.c). */
enum proc_role_id {
	PROC_ADAPTER_HTTP,
	PROC_ADAPTER_TCP,
	PROC_WORKER,
	PROC_ADAPTER_CONFIGURED, /* listenerAdapters' executable (proc_start.path) */
	PROC_ROLE__COUNT,
};

enum proc_identity_rule {
	PROC_IDENT_LISTENER, /* env->listener_ident */
	PROC_IDENT_POOL,     /* the pool's identity and environmentVariables */
};

struct proc_role {
	const char *name;       /* for messages */
	const char *program;    /* file name in libexecdir */
	const char *build_path; /* where meson builds it, from the build root */
	const char *protocol;   /* an adapter: the protocol waspd starts it for */
	enum proc_identity_rule ident;
	/* --test-hooks: a variable naming a stand-in program (for one pool,
	 * as POOL:PATH, when per pool) */
	const char *test_program_var;
	bool test_program_per_pool;
};

struct proc_start {
	const struct proc_role *role;
	const char *title;            /* argv[0]; NULL: the program's path */
	const struct pool *pool;      /* PROC_IDENT_POOL */
	const char *const *extra_env; /* NULL-terminated "K=V", may be NULL */
	/* set: this program, argv and identity rather than the role's */
	const char *path;
	char *const *argv;
	const struct wasp_identity *ident;
};

struct proc_ops {
	/* Start one process: 0 with *ret_pid and *ret_fd (waspd's end of its
	 * channel), or -errno (logged). */
	int (*spawn)(struct wasp_env *env, const struct proc_start *s, pid_t *ret_pid,
		     int *ret_fd);
	int (*kill)(struct wasp_env *env, pid_t pid, int sig);
};

struct adapter {
	struct adapter *next;
	struct wasp_env *env;
	uint32_t id; /* unique for the daemon's lifetime, like worker ids */
	pid_t pid;
	const struct proc_role *role;
	const char *program; /* role->program, for messages */
	const char *protocol_hint; /* the protocol it is started for */
	char protocol[WASP_PROTOCOL_NAME_MAX];
	bool registered;
	struct wasp_ipc_channel *ch;
	uint64_t started_mono;
	unsigned fast_exits; /* consecutive exits within a second of starting */
	bool stop_sent;      /* SIGTERM sent at shutdown */
	struct timer *restart_timer;
	struct timer *kill_timer;
	struct wasp_msg_adapter_stats stats;
	/* Connected to adapter.sock (adapter_sock.c) rather than started by
	 * waspd: pid is SO_PEERCRED's, never signalled nor restarted; the
	 * record goes when its channel closes. */
	bool external;
	struct timer *register_timer; /* until ADAPTER_REGISTER */
	/* A listenerAdapters entry's executable waspd starts (its arguments,
	 * userName as ident); NULL for the built-in ones. */
	char *exe;
	char **argv;
	struct wasp_identity ident;
	char hint[WASP_PROTOCOL_NAME_MAX]; /* protocol_hint's storage */
};


struct wasp_env {
	struct event_base *base;
	struct clock *clock;               /* pool timers (clock.h) */
	const struct pool_events *events;  /* what pools tell the rest */
	const struct proc_ops *procs;      /* how children start and die */
	const char *config_path;
	char *runtime_dir;
	/* Who besides root may use control.sock (--admin-group: every verb;
	 * --read-group: list only); control.c checks the caller's groups. */
	struct {
		gid_t gid;
		bool set;
	} ctl_admin_group, ctl_read_group;
	bool test_hooks;
	bool is_root;
	/* applicationHost.config's directory watched for edits (watch.c);
	 * --watch-config=no turns it off. */
	bool no_watch;
	struct config_watch *watch;
	/* Per site of ah: stopped (sitestate.c); NULL: all started. */
	bool *site_stopped;
	bool background_start; /* replacements start at SCHED_IDLE (sched.c) */
	struct wasp_config *cfg;
	struct wasp_apphost *ah;
	uint32_t generation;
	/* Earlier generations still used by removed pools (reload.c frees
	 * each once no pool refers to it). */
	struct wasp_config **old_cfgs;
	size_t n_old_cfgs;
	/* The pools' names of the generation before (an adapter's message may
	 * still use its pool ids); prev_generation 0 = none. */
	uint32_t prev_generation;
	char **prev_pool_names;
	size_t n_prev_pool_names;
	/* cached per pool id, of generation pool_fds_generation (routes.c):
	 * its serialized configuration and its workers' routing table */
	struct pool_fds *pool_fds;
	size_t n_pool_fds;
	uint32_t pool_fds_generation;
	struct route_index *route_index; /* routes.c, made with the first pool table */
	int routes_fd; /* cached routing table (sealed memfd), -1 = none */
	char *build_root;  /* running from the build tree: its root, else NULL */
	char *program_dir; /* installed: WASP_LIBEXECDIR */
	const char *listener_user; /* NULL: WASP_LISTENER_USER, else nobody */
	uint32_t uid_first, uid_last; /* ApplicationPoolIdentity range */
	struct wasp_identity listener_ident;
	/* the site log directories prepared for this generation (logdirs.c),
	 * by site id: a reload prepares only those whose print changed */
	/* each site's id with its directory and writers, hashed (logdirs.c),
	 * sorted: 8 bytes a site */
	uint64_t *logdir_prints;
	size_t n_logdir_prints;
	struct listen_sock *socks;
	size_t n_socks;
	struct pool *pools;
	size_t n_pools;
	struct adapter *adapters;
	/* listenerAdapters of the running generation (adapter_conf.h) */
	struct adapter_decls adapter_decls;
	struct adapter_sock *adapter_sock; /* adapter.sock (adapter_sock.c) */
	uint32_t next_worker_id;
	uint32_t next_adapter_id;
	struct control *control;
	struct event *sig_chld, *sig_term, *sig_int, *sig_hup, *sig_pipe;
	struct event *shutdown_timer;
	struct event *watchdog;
	/* the listeners' counters, summed over their restarts (metrics.c) */
	struct {
		uint64_t accepted;
		uint64_t rejected[WASP_REJECT__COUNT];
		uint32_t active;
		struct wasp_msg_adapter_tls_metrics tls; /* summed like the others */
	} lsn_metrics;
	struct metrics_http *metrics_http; /* the optional HTTP endpoint (metrics_http.c) */
	struct site_metrics *site_metrics; /* requests per site (metrics.c) */
	bool stopping;
	bool exiting;
	int exit_status;
	/* systemd status (status.c) */
	uint64_t requests_exited; /* served by workers gone */
	struct event *status_timer;
	char status_last[256];
	uint64_t status_mono, status_requests;
	uint64_t stop_deadline; /* monotonic usec the drain is cut at */
	bool reload_failed;
	/* restart.c: exec'd by `waspctl restart`, the pipe to tell the old
	 * waspd it serves (-1: none); or the old one, handing over */
	int restart_ready_fd;
	bool retiring;
	char **argv; /* as started, for the restart */
	char *exe;   /* this program's path, for the restart */
};

/* daemon.c */
int daemon_main(int argc, char **argv);
/* Drain every worker, then stop the adapters and exit (SIGTERM). */
void daemon_stop(struct wasp_env *env, const char *why);
/* Called whenever something that shutdown waits for went away. */
void daemon_check_shutdown(struct wasp_env *env);

/* identity.c */
void identity_done(struct wasp_identity *id);
/* Look up a passwd user (name or numeric uid) with its groups. 0, -ENOENT, -errno. */
int identity_from_user(const char *user, struct wasp_identity *ret);
/* The listener's own system user, created by dist/sysusers.d/wasp.conf. */
#define WASP_LISTENER_USER "wasp-http"
/* The listener's identity: as root the configured user, else
 * WASP_LISTENER_USER when it exists, else "nobody"; otherwise unchanged. */
int identity_listener(struct wasp_env *env, struct wasp_identity *ret);
/* The uids of --pool-uid-range that a configuration's pools hold (an
 * open-addressing set of uid + 1, never more than half full), and the
 * first LocalService and NetworkService identities: what the next pool's
 * identity must not take, or shares. */
struct identity_taken {
	uint32_t *slots;
	size_t cap, n;
	const struct wasp_identity *service[2]; /* LocalService, NetworkService */
};
/* Sized for n_pools pools. 0 or -ENOMEM. */
int identity_taken_init(struct identity_taken *t, size_t n_pools);
void identity_taken_done(struct identity_taken *t);
/* p's resolved identity, when it is one of the range. */
void identity_taken_add(struct identity_taken *t, const struct pool *p);
/* A pool's identity from its processModel (see docs/design.md "Identities"),
 * clear of the uids in taken. */
int identity_pool(struct wasp_env *env, const struct pool *pool, const struct identity_taken *taken,
		  struct wasp_identity *ret);

/* logdirs.c */
/* Create <logFile directory>/W3SVC<id> of every site that logs and, as
 * root, give it to the identities of the site's pools (after pools_init).
 * Problems are warnings. A site prepared for the generation before with the
 * same directory and writers is left as it is (a reload of 10,000 sites
 * does not chown 10,000 directories again); one that failed is tried again. */
void logdirs_prepare(struct wasp_env *env);
/* Drop the record of what was prepared (the next call prepares all). */
void logdirs_forget(struct wasp_env *env);

/* spawn.c */
struct spawn_opts {
	const char *path;
	char *const *argv;
	int channel_fd;                    /* becomes fd 3 */
	const struct wasp_identity *ident; /* NULL or !change: keep credentials */
	const char *const *extra_env;      /* NULL-terminated "K=V" (may be NULL) */
	const char *const *pool_env;       /* the pool's environmentVariables */
	size_t n_pool_env;
};
/* clone (sharing memory until exec) + exec with fd 3 = channel_fd, every other fd but 0-2 closed,
 * credentials dropped, no_new_privs. Returns 0 with *ret_pid, or -errno
 * (including the child's failure before exec). */
int spawn_child(const struct spawn_opts *o, pid_t *ret_pid);

/* process.c */
extern const struct proc_ops proc_ops_real;
const struct proc_role *proc_role(enum proc_role_id id);
/* The adapter role waspd starts for protocol ("http"), or NULL (another
 * adapter may still register it). */
const struct proc_role *proc_role_for_protocol(const char *protocol);
/* Whether the adapter registered for protocol adapter takes protocol's
 * sockets (itself; "http" takes "https" too). */
bool proc_protocol_serves(const char *adapter, const char *protocol);
/* A test hook's value for one pool: the environment variable var holds
 * "POOL:VALUE"; VALUE when POOL is name, else NULL. The pool name ends at
 * the first colon, or at the last one when last (for a value that may hold
 * one, the first; for a pool name that may, the last). */
const char *test_hook_value(const char *var, const char *name, bool last);

/* sched.c */
/* A replacement starts in the background for at most this long. */
#define WASP_BACKGROUND_START_MAX_USEC UINT64_C(1000000) /* 1 s */
/* Whether waspd may put a worker back to SCHED_OTHER after SCHED_IDLE
 * (CAP_SYS_NICE, or an RLIMIT_NICE that allows it). */
bool sched_background_possible(void);
/* SCHED_IDLE for process pid (its one thread, just after exec): 0 or -errno. */
int sched_background(pid_t pid);
/* SCHED_OTHER for every thread of pid that is SCHED_IDLE: 0 or -errno. */
int sched_foreground(pid_t pid);

/* sockets.c */
int sockets_bind(struct wasp_env *env);
/* Reload: the sockets of ah's bindings, keeping the descriptors of those
 * that stay and binding the new ones; the ones no longer needed are closed.
 * *ret_changed: the list (and so the socket ids) changed. On failure
 * (logged) nothing changed. */
int sockets_reload(struct wasp_env *env, const struct wasp_apphost *ah, bool *ret_changed);
void sockets_close(struct wasp_env *env);

/* fdstore.c */
#define FDSTORE_NAME_MAX 256 /* FDNAME= is at most 255 bytes */
/* s's name in LISTEN_FDNAMES and FDNAME= ("wasp-http-127.0.0.1-80"). */
int fdstore_name(const struct listen_sock *s, char *buf, size_t size);
/* Whether a passed descriptor's name is one fdstore_name() makes. */
bool fdstore_is_ours(const char *name);
/* Under systemd (NOTIFY_SOCKET): FDSTORE=1 every socket not stored yet. */
void fdstore_store(struct wasp_env *env);
/* Under systemd, some listening socket is in the store (it outlives us). */
bool fdstore_holds(const struct wasp_env *env);
/* FDSTOREREMOVE=1 for a stored socket waspd closes (a reload dropped it). */
void fdstore_remove(const struct listen_sock *s);
/* The same for a passed descriptor of ours no binding wants. */
void fdstore_remove_name(const char *name);

/* reload.c */
struct wasp_config_opts;
struct wasp_diag_list;
/* applicationHost.config and its typed view (wasp_apphost_build), keeping
 * of the sites and pools only the typed view; prev (NULL: none) is the
 * running generation, whose unchanged sites and pools a reload reuses. */
int config_load(const char *path, const struct wasp_config_opts *opts, struct wasp_config *prev,
		struct wasp_config **ret_cfg, struct wasp_apphost **ret_ah,
		struct wasp_diag_list *diags);

/* routes.c */
/* The routing table JSON (docs/adapter-protocol.md) in a sealed memfd. */
int routes_memfd(struct wasp_env *env);
/* malloc'd JSON text, for tests and debugging. */
char *routes_json(struct wasp_env *env);
struct wasp_site;
struct wasp_binding;
/* routes_tls.c: an https binding's "tls" object and the table's, as JSON
 * texts (malloc'd; NULL on OOM); whether an application of site asks for
 * client certificates. */
char *routes_binding_tls_json(struct wasp_env *env, const struct wasp_site *site,
			      const struct wasp_binding *b, bool client_cert);
char *routes_tls_json(struct wasp_env *env);
/* j's compact text (malloc'd; jansson escapes the strings), j released;
 * NULL for NULL or OOM. */
char *routes_json_text(json_t *j);
bool routes_site_client_cert(struct wasp_env *env, const struct wasp_site *site);
/* The table changed (a pool's state): the next routes_memfd() rebuilds it. */
void routes_invalidate(struct wasp_env *env);
/* The configuration a worker of pool p needs (wasp_config_serialize_pool)
 * in a sealed memfd: a new descriptor of one memfd cached per pool and
 * generation (env->generation changing drops the cache). */
int config_memfd(struct wasp_env *env, const struct pool *p);
/* The routing table of pool p's workers (its own sites, and only what
 * tells another pool's request apart; adapter-protocol.md), cached the same
 * way. */
int pool_routes_memfd(struct wasp_env *env, const struct pool *p);
/* Its JSON text (malloc'd), for tests and debugging. */
char *pool_routes_json(struct wasp_env *env, const struct pool *p);
/* Close the cached memfds and the generation's binding index (the
 * generation goes). */
void config_memfd_drop(struct wasp_env *env);
void route_index_free(struct wasp_env *env);
/* Once the loop is back (a generation was just loaded): make what every
 * pool's first worker start in the generation shares (the index of its
 * sites by pool and by host name, the configuration's sites and pools by
 * name), so that no first request waits for work that grows with the
 * number of sites. A start before it makes them itself. */
void routes_prepare_later(struct wasp_env *env);

/* adapter.c */
int adapters_start(struct wasp_env *env);
void adapters_stop(struct wasp_env *env);
/* SIGQUIT: stop accepting, finish what they hold, exit (a restart). */
void adapters_quit(struct wasp_env *env);
void adapters_free(struct wasp_env *env);
/* Send to every registered adapter. */
void adapters_send_pool_state(struct wasp_env *env, const struct wasp_msg_pool_state *m);
void adapters_send_worker_gone(struct wasp_env *env, const struct wasp_msg_worker_ref *m);
/* Give a ready worker's handoff channels to the adapters. */
void adapters_announce_worker(struct wasp_env *env, struct worker *w);
/* A new generation to every registered adapter: its protocol's listening
 * sockets when with_sockets, then the routing table. */
void adapters_send_generation(struct wasp_env *env, bool with_sockets);
/* Create a handoff channel per registered adapter for a new worker. */
int adapters_pair_worker(struct wasp_env *env, struct worker *w);
/* A ready worker's handoff channel with adapter_id broke: a new pair when
 * that adapter still runs (0), -ENOENT when it does not (its successor
 * gets a channel anyway), or -errno when the new pair could not be made. */
int adapters_repair_worker(struct wasp_env *env, struct worker *w, uint32_t adapter_id);
struct adapter *adapter_by_pid(struct wasp_env *env, pid_t pid);
/* The pool an adapter's message names by id in a generation (the current
 * one or the one before), or NULL. */
struct pool *pool_by_ref(struct wasp_env *env, uint32_t pool_id, uint32_t generation);
void adapter_on_exit(struct adapter *a, int status);
bool adapters_running(const struct wasp_env *env);

/* A new adapter record of role (not started). NULL on OOM. */
struct adapter *adapter_new(struct wasp_env *env, const struct proc_role *role);
/* Start a's process (a restart is scheduled when that fails). */
int adapter_spawn(struct adapter *a);

/* adapter_exec.c: the adapters listenerAdapters' executable names */
/* Start one for every such entry whose protocol has a listening socket and
 * no adapter (after the built-in ones). 0 or -ENOMEM. */
int adapters_start_configured(struct wasp_env *env);
/* Free what a started entry's record holds (NULL-safe for the others). */
void adapter_configured_done(struct adapter *a);

/* Free an external adapter's record (its channel closed, or it was refused),
 * or one waspd has not started. */
void adapter_forget(struct adapter *a);
/* A new external adapter's record for the accepted connection fd (taken),
 * not yet registered; NULL on OOM (fd closed). */
struct adapter *adapter_new_external(struct wasp_env *env, int fd, pid_t pid);
/* The registered adapter of protocol, or a waspd-started one that runs for
 * it; NULL: none. */
struct adapter *adapter_of_protocol(struct wasp_env *env, const char *protocol);

/* adapter_sock.c: adapter.sock, where adapters started from outside register */
int adapter_sock_open(struct wasp_env *env);
void adapter_sock_close(struct wasp_env *env);
/* An external adapter's ADAPTER_REGISTER for protocol: 0 when it may have
 * it, else the refusal (reason and message, also logged). */
int adapter_sock_check(struct adapter *a, const char *protocol,
		       struct wasp_msg_adapter_refused *ret);
/* a registered or went: it no longer counts as pending. */
void adapter_sock_settled(struct adapter *a);
/* listenerAdapters of a loaded configuration into env (at start, and a
 * reload's before its sockets): 0 or -errno (logged). */
int adapter_decls_apply(struct wasp_env *env, struct wasp_config *cfg);

/* daemon.c: the pool events as the daemon acts on them */
extern const struct pool_events daemon_pool_events;
/* The current routing table to every live worker. */
void pools_send_routes(struct wasp_env *env);

/* pool.c */
int pools_init(struct wasp_env *env);
void pools_free(struct wasp_env *env);
/* Start AlwaysRunning pools' workers (after the adapters were started). */
void pools_autostart(struct wasp_env *env);
struct pool *pool_by_name(struct wasp_env *env, const char *name);
void pool_on_demand(struct pool *p);
/* Operator verbs: 0 or -errno with *ret_msg (static) telling why not. */
int pool_start(struct pool *p, const char **ret_msg);
int pool_stop(struct pool *p, enum wasp_pool_stop_reason reason, const char *why);
/* The number of workers whose recycle started (0: none was ready), or
 * -ESRCH when p is not Started. */
int pool_recycle(struct pool *p, const char *why);
/* Reload: p's workers would get another configuration. Ready workers are
 * recycled; starting ones (sent the previous configuration) are killed and
 * started again. 0, or -ESRCH when p is not Started. */
int pool_recycle_config(struct pool *p);
/* Drain every worker of every pool (shutdown). */
void pools_shutdown(struct wasp_env *env);
size_t pools_count_workers(const struct wasp_env *env);
size_t pool_count_workers(const struct pool *p, int state);
struct worker *worker_by_pid(struct wasp_env *env, pid_t pid);
void worker_on_exit(struct worker *w, int status);
void pools_kill_all(struct wasp_env *env, int sig);
const char *pool_state_name(enum wasp_pool_state s);
const char *worker_state_name(enum worker_state s);

/* Reload: env->pools rebuilt for ah's pools (same order): the records of
 * pools that stay move over with their workers, counters and timers; new
 * ones are added (identity resolved); pools gone stay at the end, marked
 * removed, while they have workers. -ENOMEM with nothing changed. */
struct pools_reload_stats {
	size_t added, removed;
};
int pools_reload(struct wasp_env *env, struct wasp_config *cfg, const struct wasp_apphost *ah,
		 struct pools_reload_stats *ret_stats);
/* After the adapters have the new generation: stop the removed pools, arm
 * schedules, start AlwaysRunning pools that have no worker. */
void pools_reload_start(struct wasp_env *env);

/* restart.c */
/* At start: argv and this program's path kept for a restart; when started
 * by one, the pipe to the old waspd (WASP_RESTART_FD). */
int restart_init(struct wasp_env *env, char **argv);
/* Started by `waspctl restart`: the old waspd still answers on control.sock. */
bool restart_taking_over(const struct wasp_env *env);
/* Serving: tell the old waspd (when started by a restart). */
void restart_ready(struct wasp_env *env);
/* `waspctl restart`: start a new waspd on the listening sockets and, once
 * it serves, hand over (0, *ret_pid its pid), or -errno with nothing
 * changed; *ret_msg (malloc'd, may be NULL) says which. */
int restart_request(struct wasp_env *env, char **ret_msg, pid_t *ret_pid);

/* status.c */
/* READY=1 (or what extra says) with STATUS= and the counts; the timer that
 * sends STATUS= again when it changed, under systemd. */
int status_start(struct wasp_env *env);
/* extra (may be NULL), then STATUS= with the counts, now. */
void status_notify(struct wasp_env *env, const char *extra);
/* Draining: EXTEND_TIMEOUT_USEC= up to the drain deadline. */
void status_extend_stop(struct wasp_env *env);

/* reload.c */
/* Load the configuration file again and apply it: sockets, pools (changed
 * ones recycled), sites, routing table. On an error in the file nothing
 * changes. Returns 0 or -errno; *ret_msg (malloc'd, may be NULL on OOM)
 * says what happened or why not. */
int daemon_reload(struct wasp_env *env, char **ret_msg);
/* Free the earlier generations no pool uses any more. */
void reload_gc(struct wasp_env *env);

/* sitestate.c */
struct wasp_site;
/* Each site's state from serverAutoStart (at start). */
int sites_state_init(struct wasp_env *env);
/* The states for ah, the generation a reload brings, carried over by site
 * name from the running one (a new site: serverAutoStart). NULL on OOM. */
bool *sites_state_carry(const struct wasp_env *env, const struct wasp_apphost *ah);
/* s is one of env->ah's sites. */
bool site_is_stopped(const struct wasp_env *env, const struct wasp_site *s);
/* `waspctl start|stop site NAME`: the control reply. */
struct json_t *site_verb(struct wasp_env *env, const char *verb, const char *name, uid_t uid);

/* watch.c */
/* Watch applicationHost.config's directory: a change to the file (written
 * in place or renamed over it) reloads once nothing has changed for
 * WATCH_QUIET_USEC. A failure to watch is a warning. */
#define WATCH_QUIET_USEC (500 * 1000)
void watch_open(struct wasp_env *env);
void watch_close(struct wasp_env *env);

/* reap.c */
void reap_on_sigchld(int fd, short what, void *arg); /* evutil_socket_t is int on Linux */

/* control.c */
int control_open(struct wasp_env *env);
void control_close(struct wasp_env *env);

/* ctl_requests.c: list request */
struct requests_query;
/* reply: {"ok": true, "requests": [...], "unanswered": [...]}, or NULL on
 * OOM; owned by the callee. */
typedef void (*requests_done_fn)(json_t *reply, void *userdata);
/* Ask every worker for its executing requests; done is called once, from
 * the event loop, when all answered or the deadline passed. 0 with *ret,
 * -EBUSY (too many queries at once), -ENOMEM. */
int requests_query_start(struct wasp_env *env, requests_done_fn done, void *userdata,
			 struct requests_query **ret);
/* Drop a query whose caller went away (done is not called). */
void requests_query_cancel(struct requests_query *q);
/* A worker's REQUESTS_REPLY: 0, or -EBADMSG (the worker broke the protocol). */
int requests_on_reply(struct worker *w, const void *payload, size_t len);
const char *requests_stage_name(uint32_t stage);

/* metrics_http.c: the optional HTTP endpoint (its section: metrics_conf.h) */
/* Open, move or close the endpoint as env->cfg says (at start and after a
 * reload). 0, or -errno (logged) when it cannot listen. */
int metrics_http_apply(struct wasp_env *env);
void metrics_http_close(struct wasp_env *env);

/* metrics.c */
/* The Prometheus text exposition of every metric (docs/metrics.md),
 * malloc'd, NULL on OOM. */
char *metrics_text(struct wasp_env *env);
/* ADAPTER_METRICS, ADAPTER_POOL_METRICS from an adapter. */
void metrics_on_adapter(struct wasp_env *env, const struct wasp_msg_adapter_metrics *m);
/* ADAPTER_TLS_METRICS from an adapter. */
void metrics_on_adapter_tls(struct wasp_env *env, const struct wasp_msg_adapter_tls_metrics *m);
void metrics_on_adapter_pools(struct wasp_env *env, const struct wasp_msg_adapter_pool_metrics *m,
			      size_t n);
/* An adapter exited: the gauges it reported (connections, queues) go to 0. */
void metrics_on_adapter_gone(struct wasp_env *env);
/* WORKER_SITE_STATS from w: counted for the sites of w's pool only. */
void metrics_on_site_requests(struct worker *w, const struct wasp_msg_site_requests *m, size_t n);
void metrics_done(struct wasp_env *env);
/* A worker's figures read from /proc: resident and private memory (KiB,
 * smaps_rollup), CPU time (usec, stat). -errno when it cannot be read. */
struct proc_figures {
	uint64_t rss_kb, private_kb, cpu_usec;
};
int metrics_proc_figures(pid_t pid, struct proc_figures *ret);
