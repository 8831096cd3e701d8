/* The typed view of system.applicationHost (apphost.h), built from the
 * effective applicationPools and sites sections, which already carry the
 * *Defaults elements' values. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apphost.h"
#include "internal.h"
#include "timespan.h"

/* A generation holds these per site and pool: a field added in the wrong
 * place costs every idle site its padding (docs/performance.md, "Where an
 * idle site's bytes go"). */
_Static_assert(sizeof(void *) != 8 || sizeof(struct wasp_binding) == 56, "wasp_binding grew");
_Static_assert(sizeof(void *) != 8 || sizeof(struct wasp_site) == 112, "wasp_site grew");
_Static_assert(sizeof(void *) != 8 || sizeof(struct wasp_application) == 64,
	       "wasp_application grew");
_Static_assert(sizeof(void *) != 8 || sizeof(struct wasp_virtual_directory) == 32,
	       "wasp_virtual_directory grew");
_Static_assert(sizeof(void *) != 8 || sizeof(struct cfg_node) == 56, "cfg_node grew");
_Static_assert(sizeof(void *) != 8 || sizeof(struct cfg_nattr) == 32, "cfg_nattr grew");

#define SEC_POOLS "system.applicationHost/applicationPools"
#define SEC_SITES "system.applicationHost/sites"

struct actx {
	struct wasp_arena *arena;
	struct wasp_diag_list *diags;
	const char *file; /* applicationHost.config, for elements from defaults */
	int errors;
	/* pools by lowercased name (the first of a name), so that 1,000 sites
	 * do not each scan 1,000 pools; NULL: scan */
	struct cfg_cache *pools_by_name;
};

/* Lowercased (ASCII, as strcasecmp in the C locale) concatenation of a, a
 * '\n' and b (b may be NULL), malloc'd; NULL on OOM. */
static char *
lower_key(const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	char *k = malloc(la + 1 + lb + 1), *p;

	if (!k)
		return NULL;
	memcpy(k, a, la);
	k[la] = '\n';
	if (b)
		memcpy(k + la + 1, b, lb);
	k[la + 1 + lb] = '\0';
	if (!b)
		k[la] = '\0';
	for (p = k; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	if (b)
		for (p = k + la + 1; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p += 'a' - 'A';
	return k;
}

static const struct wasp_apppool *
find_pool(struct actx *c, const struct wasp_apphost *ah, const char *name)
{
	if (c->pools_by_name) {
		_cleanup_free_ char *k = lower_key(name, NULL);

		if (k)
			return cfg_cache_get(c->pools_by_name, k);
	}
	return wasp_apphost_find_pool(ah, name);
}

static const char *
efile(struct actx *c, const struct wasp_element *e)
{
	return e && e->file ? e->file : c->file;
}

static const char *
str_or_null(const struct wasp_element *e, const char *name)
{
	const char *s = wasp_element_get_str(e, name, NULL);

	return s && *s ? s : NULL;
}

static uint64_t
tsv(const struct wasp_element *e, const char *name, uint64_t def)
{
	return wasp_element_get_uint(e, name, def);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* environmentVariables: "NAME=value" strings for the pool's workers. */
static int
build_pool_env(struct actx *c, const struct wasp_element *ev, struct wasp_apppool *p)
{
	size_t n = ev ? ev->n_items : 0;
	/* sized exactly, here and below: a generation holds one of each per
	 * pool or site */
	const char **env = n ? wasp_arena_zalloc(c->arena, n * sizeof(*env)) : NULL;

	if (n && !env)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct wasp_element *it = ev->items[i];
		const char *name = wasp_element_get_str(it, "name", "");
		const char *value = wasp_element_get_str(it, "value", "");
		size_t nl = strlen(name), vl = strlen(value);
		char *kv;

		if (!*name || strchr(name, '=')) {
			(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, efile(c, it), it->line, "name",
					    "application pool '%s': environment variable name '%s' "
					    "must be non-empty and without '='",
					    p->name, name);
			c->errors++;
			continue;
		}
		kv = wasp_arena_alloc(c->arena, nl + vl + 2);
		if (!kv)
			return -ENOMEM;
		memcpy(kv, name, nl);
		kv[nl] = '=';
		memcpy(kv + nl + 1, value, vl + 1);
		env[p->n_env++] = kv;
	}
	p->env = env;
	return 0;
}

/* <processModel>: the identity, process count, timeouts and pings. */
static void
build_process_model(struct actx *c, const struct wasp_element *e, const struct wasp_element *pm,
		    struct wasp_apppool *p)
{
	switch (wasp_element_get_uint(pm, "identityType", 4)) {
	case 0:
		p->process_model.identity_type = WASP_IDENTITY_LOCAL_SYSTEM;
		break;
	case 1:
		p->process_model.identity_type = WASP_IDENTITY_LOCAL_SERVICE;
		break;
	case 2:
		p->process_model.identity_type = WASP_IDENTITY_NETWORK_SERVICE;
		break;
	case 3:
		p->process_model.identity_type = WASP_IDENTITY_SPECIFIC_USER;
		break;
	default:
		p->process_model.identity_type = WASP_IDENTITY_APPLICATION_POOL_IDENTITY;
		break;
	}
	p->process_model.user_name = str_or_null(pm, "userName");
	if (p->process_model.identity_type == WASP_IDENTITY_SPECIFIC_USER &&
	    !p->process_model.user_name) {
		(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, efile(c, pm), pm ? pm->line : e->line,
				    "userName",
				    "application pool '%s': identityType=\"SpecificUser\" needs a userName",
				    p->name);
		c->errors++;
	}
	p->process_model.max_processes = (uint32_t)wasp_element_get_uint(pm, "maxProcesses", 1);
	p->process_model.idle_timeout = tsv(pm, "idleTimeout", 20 * 60 * WASP_USEC_PER_SEC);
	p->process_model.idle_timeout_action =
		wasp_element_get_uint(pm, "idleTimeoutAction", 0) == 1 ? WASP_IDLE_SUSPEND
								       : WASP_IDLE_TERMINATE;
	p->process_model.startup_time_limit = tsv(pm, "startupTimeLimit", 90 * WASP_USEC_PER_SEC);
	p->process_model.shutdown_time_limit = tsv(pm, "shutdownTimeLimit", 90 * WASP_USEC_PER_SEC);
	p->process_model.pinging_enabled = wasp_element_get_bool(pm, "pingingEnabled", true);
	p->process_model.ping_interval = tsv(pm, "pingInterval", 30 * WASP_USEC_PER_SEC);
	p->process_model.ping_response_time = tsv(pm, "pingResponseTime", 90 * WASP_USEC_PER_SEC);
}

/* <recycling>: its flags, <periodicRestart> and its schedule (times of
 * day, sorted). */
static int
build_recycling(struct actx *c, const struct wasp_element *rec, struct wasp_apppool *p)
{
	const struct wasp_element *pr = wasp_element_child(rec, "periodicRestart");
	const struct wasp_element *sched = wasp_element_child(pr, "schedule");
	uint64_t *times;

	p->recycling.disallow_overlapping_rotation =
		wasp_element_get_bool(rec, "disallowOverlappingRotation", false);
	p->recycling.disallow_rotation_on_config_change =
		wasp_element_get_bool(rec, "disallowRotationOnConfigChange", false);
	p->recycling.time = tsv(pr, "time", 29 * 3600 * WASP_USEC_PER_SEC);
	p->recycling.requests = wasp_element_get_uint(pr, "requests", 0);
	p->recycling.memory_kb = wasp_element_get_uint(pr, "memory", 0);
	p->recycling.private_memory_kb = wasp_element_get_uint(pr, "privateMemory", 0);
	times = sched && sched->n_items ? wasp_arena_zalloc(c->arena, sched->n_items * sizeof(*times))
					: NULL;
	if (sched && sched->n_items && !times)
		return -ENOMEM;
	for (size_t i = 0; sched && i < sched->n_items; i++) {
		uint64_t t = wasp_element_get_uint(sched->items[i], "value", 0);

		if (t >= 24 * 3600 * WASP_USEC_PER_SEC) {
			(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, efile(c, sched->items[i]),
					    sched->items[i]->line, "value",
					    "a recycling schedule time must be a time of day "
					    "(00:00:00 to 23:59:59)");
			c->errors++;
			continue;
		}
		times[p->recycling.n_schedule++] = t;
	}
	if (p->recycling.n_schedule > 1)
		qsort(times, p->recycling.n_schedule, sizeof(*times), cmp_u64);
	p->recycling.schedule = times;
	return 0;
}

/* <failure>: load balancer capabilities, orphaning, rapid-fail protection. */
static void
build_failure(const struct wasp_element *fail, struct wasp_apppool *p)
{
	p->failure.load_balancer_capabilities =
		wasp_element_get_uint(fail, "loadBalancerCapabilities", 2) == 1 ? WASP_LB_TCP_LEVEL
										 : WASP_LB_HTTP_LEVEL;
	p->failure.orphan_worker_process = wasp_element_get_bool(fail, "orphanWorkerProcess", false);
	p->failure.rapid_fail_protection = wasp_element_get_bool(fail, "rapidFailProtection", true);
	p->failure.rapid_fail_protection_interval =
		tsv(fail, "rapidFailProtectionInterval", 5 * 60 * WASP_USEC_PER_SEC);
	p->failure.rapid_fail_protection_max_crashes =
		(uint32_t)wasp_element_get_uint(fail, "rapidFailProtectionMaxCrashes", 5);
}

static int
build_pool(struct actx *c, const struct wasp_element *e, struct wasp_apppool *p, uint32_t id)
{
	const struct wasp_element *cpu = wasp_element_child(e, "cpu");
	int r;

	p->name = wasp_element_get_str(e, "name", "");
	p->id = id;
	p->auto_start = wasp_element_get_bool(e, "autoStart", true);
	p->start_mode = wasp_element_get_uint(e, "startMode", 0) == 1 ? WASP_START_ALWAYS_RUNNING
								     : WASP_START_ON_DEMAND;
	p->queue_length = (uint32_t)wasp_element_get_uint(e, "queueLength", 1000);
	p->managed_runtime_version = wasp_element_get_str(e, "managedRuntimeVersion", "");
	p->managed_classic = wasp_element_get_uint(e, "managedPipelineMode", 0) == 1;
	p->enable_32bit = wasp_element_get_bool(e, "enable32BitAppOnWin64", false);

	build_process_model(c, e, wasp_element_child(e, "processModel"), p);
	r = build_recycling(c, wasp_element_child(e, "recycling"), p);
	if (r < 0)
		return r;
	build_failure(wasp_element_child(e, "failure"), p);
	p->cpu.limit = (uint32_t)wasp_element_get_uint(cpu, "limit", 0);
	p->cpu.action = wasp_element_get_str(cpu, "action", "NoAction");
	r = build_pool_env(c, wasp_element_child(e, "environmentVariables"), p);
	if (r < 0)
		return r;
	p->file = efile(c, e);
	p->line = e->line;
	return 0;
}

/* An https binding's certificate: a hash naming a file in a certificate
 * store (hex digits only: it becomes a file name), or the Central
 * Certificate Store. */
static int
check_https_binding(struct actx *c, const struct wasp_element *e, const struct wasp_binding *b)
{
	const char *h = wasp_binding_cert_hash(b), *st = wasp_binding_cert_store(b);
	const char *attr = NULL, *what = NULL;

	if (b->ssl_flags & WASP_SSL_F_CENTRAL_CERT_STORE)
		return 0;
	if (!*h) {
		/* IIS may have its certificate from netsh's sslcert bindings */
		(void)wasp_diag_add(c->diags, WASP_DIAG_WARNING, efile(c, e), e->line,
				    "certificateHash",
				    "binding 'https %s' has no certificateHash (nor sslFlags "
				    "CentralCertStore): its handshakes fail",
				    b->binding_information);
		return 0;
	}
	if (strspn(h, "0123456789abcdefABCDEF") != strlen(h) || strlen(h) > 128) {
		attr = "certificateHash";
		what = "a certificateHash is hexadecimal digits";
	} else if (st[0] == '.' || strlen(st) > 64 ||
		   strspn(st, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
			   strlen(st)) {
		attr = "certificateStoreName";
		what = "a certificate store name is letters, digits, '_', '-' and '.'";
	}
	if (!attr)
		return 0;
	(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, efile(c, e), e->line, attr,
			    "binding 'https %s': %s", b->binding_information, what);
	c->errors++;
	return -EINVAL;
}

/* "IP:port:host" into b (ip, port, host); IPv6 addresses in brackets.
 * 0, -EINVAL (nothing reported), -ENOMEM. */
static int
split_binding(struct actx *c, const char *info, struct wasp_binding *b)
{
	const char *ipend, *portend;
	_cleanup_free_ char *portstr = NULL;
	uint64_t port;
	char *ip;

	if (info[0] == '[') {
		ipend = strchr(info, ']');
		if (!ipend || ipend[1] != ':')
			return -EINVAL;
		ip = wasp_arena_strndup(c->arena, info + 1, (size_t)(ipend - info - 1));
		ipend++;
	} else {
		ipend = strchr(info, ':');
		if (!ipend)
			return -EINVAL;
		ip = wasp_arena_strndup(c->arena, info, (size_t)(ipend - info));
	}
	if (!ip)
		return -ENOMEM;
	portend = strchr(ipend + 1, ':');
	if (!portend)
		return -EINVAL;
	portstr = strndup(ipend + 1, (size_t)(portend - ipend - 1));
	if (!portstr)
		return -ENOMEM;
	if (wasp_parse_u64(portstr, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	if (!*ip)
		ip = "*";
	if (!streq(ip, "*")) {
		unsigned char buf[16];

		if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1)
			return -EINVAL;
	}
	b->ip = ip;
	b->port = (uint16_t)port;
	b->host = portend + 1;
	return 0;
}

/* "IP:port:host" for http/https/ftp and tcp (no host), and for another
 * protocol (a listener adapter's) written that way; else the adapter reads
 * bindingInformation itself (net.tcp "808:*", net.pipe "*"): a leading
 * port, if any. */
static int
parse_binding(struct actx *c, const struct wasp_element *e, struct wasp_binding *b)
{
	const char *info = b->binding_information;
	_cleanup_free_ char *portstr = NULL;
	uint64_t port;
	int r;

	b->ip = "*";
	b->host = "";
	if (!strcaseeq(b->protocol, "http") && !strcaseeq(b->protocol, "https") &&
	    !strcaseeq(b->protocol, "ftp") && !strcaseeq(b->protocol, "tcp")) {
		const char *colon = strchr(info, ':');

		r = split_binding(c, info, b);
		if (r != -EINVAL)
			return r;
		b->ip = "*";
		b->host = "";
		portstr = strndup(info, colon ? (size_t)(colon - info) : strlen(info));
		if (!portstr)
			return -ENOMEM;
		if (wasp_parse_u64(portstr, 65535, &port) == 0)
			b->port = (uint16_t)port;
		return 0;
	}
	r = split_binding(c, info, b);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, efile(c, e), e->line,
				    "bindingInformation",
				    "'%s' is not IP:port:host (IP '*' or an address, IPv6 in [])", info);
		c->errors++;
		return -EINVAL;
	}
	if (strcaseeq(b->protocol, "https"))
		return check_https_binding(c, e, b);
	if (strcaseeq(b->protocol, "tcp") && *b->host) {
		/* raw TCP has no host name to route by: one site per binding */
		(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, efile(c, e), e->line,
				    "bindingInformation",
				    "'%s': a tcp binding is IP:port: (no host name)", info);
		c->errors++;
		return -EINVAL;
	}
	return 0;
}

/* logFile's directory, IIS's default mapped to wasp's (config.h). */
static const char *
log_directory(struct actx *c, const char *dir)
{
	char buf[PATH_MAX];
	const char *d = wasp_config_log_directory(dir, buf, sizeof(buf));

	return d == dir ? dir : wasp_arena_strdup(c->arena, d);
}

/* An https binding's sslFlags (the schema's flags: 7 bits) and
 * certificate names; other bindings have none. */
static int
build_binding_cert(struct actx *c, const struct wasp_element *be, struct wasp_binding *b)
{
	struct wasp_binding_cert *cert;

	if (!strcaseeq(b->protocol, "https"))
		return 0;
	b->ssl_flags = (uint16_t)wasp_element_get_uint(be, "sslFlags", 0);
	cert = wasp_arena_alloc(c->arena, sizeof(*cert));
	if (!cert)
		return -ENOMEM;
	cert->hash = wasp_element_get_str(be, "certificateHash", "");
	cert->store_name = wasp_element_get_str(be, "certificateStoreName", "");
	b->cert = cert;
	return 0;
}

/* <bindings>: each parsed; one that does not parse is reported and left
 * out. */
static int
build_bindings(struct actx *c, const struct wasp_element *bindings, struct wasp_site *s)
{
	s->bindings = wasp_arena_zalloc(c->arena,
					(bindings ? bindings->n_items : 0) * sizeof(*s->bindings));
	if (!s->bindings)
		return -ENOMEM;
	for (size_t i = 0; bindings && i < bindings->n_items; i++) {
		const struct wasp_element *be = bindings->items[i];
		struct wasp_binding *b = &s->bindings[s->n_bindings];
		int r;

		b->protocol = wasp_element_get_str(be, "protocol", "http");
		b->binding_information = wasp_element_get_str(be, "bindingInformation", "");
		r = build_binding_cert(c, be, b);
		if (r < 0)
			return r;
		b->file = efile(c, be);
		b->line = be->line;
		r = parse_binding(c, be, b);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			continue;
		s->n_bindings++;
	}

	return 0;
}

bool
wasp_virtual_directory_exists(const struct wasp_virtual_directory *v)
{
	struct stat st;

	return *v->physical_path && stat(v->physical_path, &st) == 0;
}

/* One <application> and its virtual directories. */
static int
build_app(struct actx *c, const struct wasp_apphost *ah, const struct wasp_site *s,
	  const struct wasp_element *ae, struct wasp_application *a)
{
	const struct wasp_apppool *pool;

	a->path = wasp_element_get_str(ae, "path", "/");
	a->application_pool = wasp_element_get_str(ae, "applicationPool", "");
	if (!*a->application_pool)
		a->application_pool = "DefaultAppPool";
	a->enabled_protocols = wasp_element_get_str(ae, "enabledProtocols", "http");
	a->preload_enabled = wasp_element_get_bool(ae, "preloadEnabled", false);
	a->file = efile(c, ae);
	a->line = ae->line;
	pool = find_pool(c, ah, a->application_pool);
	a->pool_id = pool ? pool->id : UINT32_MAX;
	if (!pool)
		(void)wasp_diag_add(c->diags, WASP_DIAG_WARNING, a->file, a->line,
				    "applicationPool",
				    "site '%s' application '%s': no application pool '%s'; "
				    "requests to it will get 503",
				    s->name, a->path, a->application_pool);
	a->vdirs = wasp_arena_zalloc(c->arena, ae->n_items * sizeof(*a->vdirs));
	if (!a->vdirs)
		return -ENOMEM;
	for (size_t j = 0; j < ae->n_items; j++) {
		const struct wasp_element *ve = ae->items[j];
		struct wasp_virtual_directory *v = &a->vdirs[a->n_vdirs++];

		v->path = wasp_element_get_str(ve, "path", "/");
		v->physical_path = wasp_element_get_str(ve, "physicalPath", "");
		v->file = efile(c, ve);
		v->line = ve->line;
	}
	if (a->n_vdirs == 0 || !streq(a->vdirs[0].path, "/")) {
		bool root = false;

		for (size_t j = 0; j < a->n_vdirs; j++)
			root = root || streq(a->vdirs[j].path, "/");
		if (!root)
			(void)wasp_diag_add(c->diags, WASP_DIAG_WARNING, a->file, a->line, NULL,
					    "site '%s' application '%s' has no root "
					    "virtual directory (path=\"/\")",
					    s->name, a->path);
	}
	return 0;
}

static int
build_site(struct actx *c, const struct wasp_apphost *ah, const struct wasp_element *e,
	   struct wasp_site *s)
{
	const struct wasp_element *limits = wasp_element_child(e, "limits");
	const struct wasp_element *lf = wasp_element_child(e, "logFile");
	size_t n_apps = 0;
	int r;

	s->name = wasp_element_get_str(e, "name", "");
	s->id = (uint32_t)wasp_element_get_uint(e, "id", 0);
	s->server_auto_start = wasp_element_get_bool(e, "serverAutoStart", true);
	s->file = efile(c, e);
	s->line = e->line;
	r = build_bindings(c, wasp_element_child(e, "bindings"), s);
	if (r < 0)
		return r;

	s->limits.connection_timeout =
		wasp_element_get_uint(limits, "connectionTimeout", 120 * WASP_USEC_PER_SEC);
	s->limits.max_connections = (uint32_t)wasp_element_get_uint(limits, "maxConnections", 0);
	s->limits.max_bandwidth = (uint32_t)wasp_element_get_uint(limits, "maxBandwidth", 0);
	if (s->limits.max_connections == UINT32_MAX)
		s->limits.max_connections = 0;
	s->log_file.enabled = wasp_element_get_bool(lf, "enabled", true);
	s->log_file.directory = log_directory(c, wasp_element_get_str(lf, "directory", ""));
	s->log_file.log_format = wasp_element_get_str(lf, "logFormat", "W3C");
	s->log_file.period = wasp_element_get_str(lf, "period", "Daily");
	s->log_file.log_ext_file_flags = (uint32_t)wasp_element_get_uint(lf, "logExtFileFlags", 0);
	s->log_file.log_target_w3c = (uint32_t)wasp_element_get_uint(lf, "logTargetW3C", 1);

	s->apps = wasp_arena_zalloc(c->arena, e->n_items * sizeof(*s->apps));
	if (!s->apps)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_items; i++) {
		const struct wasp_element *ae = e->items[i];
		struct wasp_application *a = &s->apps[n_apps];

		r = build_app(c, ah, s, ae, a);
		if (r < 0)
			return r;
		/* The root application first. */
		if (streq(a->path, "/") && n_apps > 0) {
			struct wasp_application tmp = *a;

			memmove(&s->apps[1], &s->apps[0], n_apps * sizeof(*s->apps));
			s->apps[0] = tmp;
		}
		n_apps++;
	}
	s->n_apps = n_apps;
	if (n_apps == 0 || !streq(s->apps[0].path, "/"))
		(void)wasp_diag_add(c->diags, WASP_DIAG_WARNING, s->file, s->line, NULL,
				    "site '%s' has no root application (path=\"/\")", s->name);
	return 0;
}

static int apphost_build(struct actx *c, struct wasp_config *cfg, struct wasp_apphost **ret);

int
wasp_apphost_build(const struct wasp_config *ccfg, struct wasp_arena *arena,
		   struct wasp_apphost **ret, struct wasp_diag_list *diags)
{
	/* Effective sections are computed lazily and cached in the generation;
	 * that is not a visible change, so the view takes a const config. */
	struct wasp_config *cfg = (struct wasp_config *)(uintptr_t)ccfg;
	struct actx c = { .arena = arena, .diags = diags, .file = wasp_config_file(cfg) };
	struct wasp_apphost *ah = NULL;
	int r;

	r = apphost_build(&c, cfg, &ah);
	c.pools_by_name = cfg_cache_free(c.pools_by_name);
	if (r < 0)
		return r;
	if (arena == cfg->arena)
		cfg_items_bind(cfg, ah);
	*ret = ah;
	return 0;
}

static int check_duplicates(struct actx *c, struct wasp_apphost *ah);

int
cfg_apphost_check_duplicates(const struct wasp_apphost *ah, struct wasp_diag_list *diags)
{
	struct actx c = { .diags = diags };
	int r = check_duplicates(&c, (struct wasp_apphost *)(uintptr_t)ah);

	if (r < 0)
		return r;
	return c.errors ? -EINVAL : 0;
}

/* ASCII-lowercased bytes of a, '\n' and b, hashed (FNV-1a). */
static uint64_t
binding_hash(const struct wasp_binding *bd)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (const char *s = bd->protocol; *s; s++)
		h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s)) *
		    UINT64_C(0x100000001b3);
	h = (h ^ '\n') * UINT64_C(0x100000001b3);
	for (const char *s = bd->binding_information; *s; s++)
		h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s)) *
		    UINT64_C(0x100000001b3);
	return h ^ (h >> 29);
}

struct dup_slot {
	const struct wasp_site *site;
	const struct wasp_binding *b; /* NULL in the ids' table */
};

/* The slot of key (an id, or a binding's hash) in an open-addressed table
 * of mask + 1 slots: the first entry with that id or binding, or an empty
 * one. */
static struct dup_slot *
dup_find(struct dup_slot *t, size_t mask, uint64_t key, const struct wasp_site *s,
	 const struct wasp_binding *b)
{
	for (size_t i = (size_t)(key * UINT64_C(0x9e3779b97f4a7c15) >> 20) & mask;; i = (i + 1) & mask) {
		struct dup_slot *e = &t[i];

		if (!e->site)
			return e;
		if (!b && e->site->id == s->id)
			return e;
		if (b && strcaseeq(e->b->protocol, b->protocol) &&
		    strcaseeq(e->b->binding_information, b->binding_information))
			return e;
	}
}

/* The same IP:port:host twice: the second one never gets a request. Also
 * the same id twice (an error). By hash: 1,000 sites, not 1,000,000 pairs. */
static int
check_duplicates(struct actx *c, struct wasp_apphost *ah)
{
	size_t n = ah->n_sites, nb = 0, mask = 15;
	_cleanup_free_ struct dup_slot *ids = NULL, *bindings = NULL;

	for (size_t i = 0; i < ah->n_sites; i++)
		nb += ah->sites[i].n_bindings;
	if (nb > n)
		n = nb;
	while (mask + 1 < 2 * n)
		mask = mask * 2 + 1;
	ids = calloc(mask + 1, sizeof(*ids));
	bindings = calloc(mask + 1, sizeof(*bindings));
	if (!ids || !bindings)
		return -ENOMEM;
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *s = &ah->sites[i];
		struct dup_slot *e = dup_find(ids, mask, s->id, s, NULL);

		if (!e->site) {
			e->site = s;
			continue;
		}
		(void)wasp_diag_add(c->diags, WASP_DIAG_ERROR, s->file, s->line, "id",
				    "site '%s' has the same id %u as site '%s' (%s:%d)", s->name, s->id,
				    e->site->name, e->site->file, e->site->line);
		c->errors++;
	}
	for (size_t i = 0; i < ah->n_sites; i++)
		for (size_t k = 0; k < ah->sites[i].n_bindings; k++) {
			const struct wasp_binding *b = &ah->sites[i].bindings[k];
			struct dup_slot *e = dup_find(bindings, mask, binding_hash(b), &ah->sites[i], b);

			if (!e->site) {
				*e = (struct dup_slot){ &ah->sites[i], b };
				continue;
			}
			(void)wasp_diag_add(c->diags, WASP_DIAG_WARNING, b->file, b->line,
					    "bindingInformation",
					    "binding %s '%s' of site '%s' is also a binding of "
					    "site '%s' (%s:%d); the first one gets the requests",
					    b->protocol, b->binding_information, ah->sites[i].name,
					    e->site->name, e->b->file, e->b->line);
		}
	return 0;
}

static int
apphost_build(struct actx *c, struct wasp_config *cfg, struct wasp_apphost **ret)
{
	struct wasp_arena *arena = c->arena;
	const struct wasp_element *pools = wasp_config_section(cfg, SEC_POOLS);
	const struct wasp_element *sites = wasp_config_section(cfg, SEC_SITES);
	struct wasp_apphost *ah;
	int r;

	if (!pools || !sites)
		return -ENOMEM;
	/* the view's arrays in the generation's own arena when it is built in
	 * the generation's: a later one that reuses the entries copies them
	 * (config/reuse.c), and these go with this generation */
	if (arena == cfg->arena && !cfg->view && !(cfg->view = wasp_arena_new()))
		return -ENOMEM;
	if (arena == cfg->arena)
		arena = cfg->view;
	ah = wasp_arena_zalloc(arena, sizeof(*ah));
	if (!ah)
		return -ENOMEM;
	ah->pools = wasp_arena_zalloc(arena, (pools->n_items + 1) * sizeof(*ah->pools));
	ah->sites = wasp_arena_zalloc(arena, (sites->n_items + 1) * sizeof(*ah->sites));
	c->pools_by_name = cfg_cache_new();
	if (!ah->pools || !ah->sites || !c->pools_by_name)
		return -ENOMEM;
	for (size_t i = 0; i < pools->n_items; i++) {
		struct wasp_apppool *p = &ah->pools[ah->n_pools];
		_cleanup_free_ char *k = NULL;

		r = build_pool(c, pools->items[i], p, (uint32_t)ah->n_pools);
		if (r < 0)
			return r;
		ah->n_pools++;
		k = lower_key(p->name, NULL);
		if (!k)
			return -ENOMEM;
		if (!cfg_cache_get(c->pools_by_name, k) &&
		    (r = cfg_cache_put(c->pools_by_name, k, p)) < 0)
			return r;
	}
	for (size_t i = 0; i < sites->n_items; i++) {
		r = build_site(c, ah, sites->items[i], &ah->sites[ah->n_sites]);
		if (r < 0)
			return r;
		ah->n_sites++;
	}
	r = check_duplicates(c, ah);
	if (r < 0)
		return r;
	if (c->errors)
		return -EINVAL;
	/* what waspd accepts, each pool's workers must be able to read (a
	 * worker's own copy names its pool: it was checked already) */
	if (!cfg->pool && (r = cfg_check_pool_bounds(cfg, ah, c->diags)) < 0)
		return r;
	*ret = ah;
	return 0;
}

const struct wasp_apppool *
wasp_apphost_find_pool(const struct wasp_apphost *ah, const char *name)
{
	for (size_t i = 0; i < ah->n_pools; i++)
		if (strcaseeq(ah->pools[i].name, name))
			return &ah->pools[i];
	return NULL;
}

const struct wasp_site *
wasp_apphost_find_site(const struct wasp_apphost *ah, const char *name)
{
	for (size_t i = 0; i < ah->n_sites; i++)
		if (strcaseeq(ah->sites[i].name, name))
			return &ah->sites[i];
	return NULL;
}

const struct wasp_site *
wasp_apphost_find_site_id(const struct wasp_apphost *ah, uint32_t id)
{
	for (size_t i = 0; i < ah->n_sites; i++)
		if (ah->sites[i].id == id)
			return &ah->sites[i];
	return NULL;
}

const struct wasp_application *
wasp_site_match_app(const struct wasp_site *site, const char *url_path)
{
	const struct wasp_application *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < site->n_apps; i++) {
		const char *p = site->apps[i].path;
		size_t l = strlen(p);

		while (l > 0 && p[l - 1] == '/')
			l--; /* "/" -> "", "/app/" -> "/app" */
		if (strncasecmp(p, url_path, l) != 0)
			continue;
		if (url_path[l] != '\0' && url_path[l] != '/' && url_path[l] != '?')
			continue;
		if (!best || l > best_len) {
			best = &site->apps[i];
			best_len = l;
		}
	}
	return best;
}

const char *
wasp_identity_type_name(enum wasp_identity_type t)
{
	switch (t) {
	case WASP_IDENTITY_LOCAL_SYSTEM:
		return "LocalSystem";
	case WASP_IDENTITY_LOCAL_SERVICE:
		return "LocalService";
	case WASP_IDENTITY_NETWORK_SERVICE:
		return "NetworkService";
	case WASP_IDENTITY_SPECIFIC_USER:
		return "SpecificUser";
	default:
		return "ApplicationPoolIdentity";
	}
}
