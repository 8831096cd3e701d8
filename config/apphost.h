/* Typed view of system.applicationHost (applicationPools and sites) built
 * from a loaded configuration, with applicationPoolDefaults, siteDefaults,
 * applicationDefaults and virtualDirectoryDefaults applied as IIS applies
 * them. This is what waspd, the routing table and waspctl use. Everything
 * here lives in the arena passed to wasp_apphost_build() (as long as the
 * generation when that is the generation's arena). Times are usec. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wasp_arena;
struct wasp_config;
struct wasp_config_opts;
struct wasp_diag_list;

enum wasp_start_mode { WASP_START_ON_DEMAND, WASP_START_ALWAYS_RUNNING };
enum wasp_identity_type {
	WASP_IDENTITY_APPLICATION_POOL_IDENTITY, /* a dedicated uid/gid per pool */
	WASP_IDENTITY_LOCAL_SYSTEM,              /* root */
	WASP_IDENTITY_LOCAL_SERVICE,
	WASP_IDENTITY_NETWORK_SERVICE,
	WASP_IDENTITY_SPECIFIC_USER, /* processModel userName */
};
enum wasp_idle_action { WASP_IDLE_TERMINATE, WASP_IDLE_SUSPEND };
enum wasp_lb_caps { WASP_LB_HTTP_LEVEL, WASP_LB_TCP_LEVEL };

struct wasp_apppool {
	/* fields ordered by size (no padding to speak of: a generation holds
	 * one per pool) */
	const char *name;
	/* what handler preConditions test (runtimeVersionv4.0, classicMode,
	 * bitness32); nothing runs managed code */
	const char *managed_runtime_version;
	uint32_t id; /* index in wasp_apphost.pools */
	enum wasp_start_mode start_mode;
	uint32_t queue_length;
	int line; /* where it was defined (with file), for messages */
	bool auto_start;
	bool managed_classic; /* managedPipelineMode="Classic" */
	bool enable_32bit;    /* enable32BitAppOnWin64 */
	struct {
		const char *user_name; /* NULL unless set */
		uint64_t idle_timeout; /* 0 = never */
		uint64_t startup_time_limit;
		uint64_t shutdown_time_limit;
		uint64_t ping_interval;
		uint64_t ping_response_time;
		enum wasp_identity_type identity_type;
		uint32_t max_processes;
		enum wasp_idle_action idle_timeout_action;
		bool pinging_enabled;
	} process_model;
	struct {
		uint64_t time;           /* periodicRestart time, 0 = off */
		uint64_t requests;       /* 0 = off */
		uint64_t memory_kb;      /* virtual memory, 0 = off */
		uint64_t private_memory_kb; /* 0 = off */
		const uint64_t *schedule; /* times of day, usec since midnight, sorted */
		size_t n_schedule;
		bool disallow_overlapping_rotation;
		bool disallow_rotation_on_config_change;
	} recycling;
	struct {
		uint64_t rapid_fail_protection_interval;
		enum wasp_lb_caps load_balancer_capabilities;
		uint32_t rapid_fail_protection_max_crashes;
		bool orphan_worker_process;
		bool rapid_fail_protection;
	} failure;
	struct {
		const char *action;
		uint32_t limit; /* 1/1000ths of a percent, as IIS; 0 = none */
	} cpu;
	const char *const *env; /* environmentVariables as "NAME=value", in order */
	size_t n_env;
	const char *file; /* where it was defined, for messages */
};

/* An https binding's certificate by name: made for https bindings only
 * (every other binding would carry two empty names). */
struct wasp_binding_cert {
	const char *hash;       /* certificateHash, "" for none */
	const char *store_name; /* certificateStoreName, "" for none */
};

/* 56 bytes (a generation holds one per site at least): the port and the
 * sslFlags side by side, the certificate's names behind one pointer. */
struct wasp_binding {
	const char *protocol;            /* "http", "https", "net.tcp", ... */
	const char *binding_information; /* as written: "IP:port:host" for http */
	const char *ip;   /* "*" for any, else a literal IPv4 or IPv6 address (no brackets) */
	const char *host; /* "" = any host */
	const struct wasp_binding_cert *cert; /* https: its certificate; else NULL */
	const char *file;
	uint16_t port;      /* 0 when the protocol's binding has no port */
	uint16_t ssl_flags; /* https: sslFlags (WASP_SSL_F_*) */
	int line;
};

/* An https binding's certificateHash and certificateStoreName ("" for none,
 * and for a binding of another protocol). */
static inline const char *
wasp_binding_cert_hash(const struct wasp_binding *b)
{
	return b->cert ? b->cert->hash : "";
}

static inline const char *
wasp_binding_cert_store(const struct wasp_binding *b)
{
	return b->cert ? b->cert->store_name : "";
}

/* A binding's sslFlags (IIS 8 and 10). */
#define WASP_SSL_F_SNI 0x1
#define WASP_SSL_F_CENTRAL_CERT_STORE 0x2
#define WASP_SSL_F_DISABLE_HTTP2 0x4
#define WASP_SSL_F_DISABLE_OCSP_STAPLING 0x8
#define WASP_SSL_F_DISABLE_QUIC 0x10
#define WASP_SSL_F_DISABLE_TLS13 0x20
#define WASP_SSL_F_DISABLE_LEGACY_TLS 0x40

/* Fields are ordered by size (a generation holds one of each per site:
 * no padding between them). */
struct wasp_virtual_directory {
	const char *path;          /* "/" or "/images" */
	const char *physical_path; /* expanded, '\' turned into '/' */
	const char *file;
	int line;
};

struct wasp_application {
	const char *path; /* "/" or "/app" */
	const char *application_pool;
	const char *enabled_protocols;
	struct wasp_virtual_directory *vdirs;
	size_t n_vdirs;
	const char *file;
	uint32_t pool_id; /* resolved index, UINT32_MAX when the pool does not exist */
	int line;
	bool preload_enabled; /* preloadEnabled: warm up when a worker starts */
};

struct wasp_site {
	const char *name;
	struct wasp_binding *bindings;
	struct wasp_application *apps; /* "/" first, the rest in file order */
	struct {
		uint64_t connection_timeout; /* limits connectionTimeout */
		uint32_t max_connections;    /* 0 = unlimited */
		uint32_t max_bandwidth;
	} limits;
	struct {
		const char *directory; /* expanded */
		const char *log_format; /* "W3C" */
		const char *period;     /* "Daily", ... */
		uint32_t log_ext_file_flags; /* bit set, IIS flag values */
		uint32_t log_target_w3c;     /* logTargetW3C: 1 File, 2 ETW */
		bool enabled;
	} log_file;
	const char *file;
	uint32_t id; /* the configured site id */
	uint32_t n_bindings;
	uint32_t n_apps;
	int line;
	bool server_auto_start;
};

struct wasp_apphost {
	struct wasp_apppool *pools;
	size_t n_pools;
	struct wasp_site *sites;
	size_t n_sites;
};

/* Build the typed view. Problems (an application naming a pool that does not
 * exist, a binding that cannot be parsed, duplicate site ids or names) are
 * added to diags as errors or warnings with file and line. Returns 0, or
 * -EINVAL when an error was recorded, -ENOMEM. */
int wasp_apphost_build(const struct wasp_config *cfg, struct wasp_arena *arena,
		       struct wasp_apphost **ret, struct wasp_diag_list *diags);

/* IIS's name for an identityType ("ApplicationPoolIdentity", ...); static string. */
const char *wasp_identity_type_name(enum wasp_identity_type t);

const struct wasp_apppool *wasp_apphost_find_pool(const struct wasp_apphost *ah, const char *name);
const struct wasp_site *wasp_apphost_find_site(const struct wasp_apphost *ah, const char *name);
const struct wasp_site *wasp_apphost_find_site_id(const struct wasp_apphost *ah, uint32_t id);
/* Whether v's physical path is there now (a stat: the view does not keep
 * it, so a load and a reload need not look at every site's directory). */
bool wasp_virtual_directory_exists(const struct wasp_virtual_directory *v);
/* Longest application path that prefixes url_path on a segment boundary. */
const struct wasp_application *wasp_site_match_app(const struct wasp_site *site,
						    const char *url_path);

/* Load applicationHost.config from buf (named filename) and build its typed
 * view, as wasp_config_load_buffer() and wasp_apphost_build() in the
 * generation's arena would, reusing what prev (the previous generation of
 * the same file, whose view was built so) made of each site and pool entry
 * whose text and line did not change, when nothing else in the file did
 * (config/reuse.c). 1 with *ret and *ret_ah (the view lives as long as
 * *ret; prev may be freed before it); 0 when it cannot, or the file has an
 * error: load it whole, which reports it; -ENOMEM. Warnings go to diags. */
int wasp_config_reload_buffer(const char *buf, size_t len, const char *filename,
			      const struct wasp_config_opts *opts, struct wasp_config *prev,
			      struct wasp_config **ret, struct wasp_apphost **ret_ah,
			      struct wasp_diag_list *diags);
