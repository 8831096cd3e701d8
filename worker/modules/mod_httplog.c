/* HttpLoggingModule: the W3C extended log of each site, as IIS writes it:
 * <logFile directory>/W3SVC<site id>/u_exYYMMDD.log (UTC; Hourly, Weekly
 * and Monthly periods name their files u_exYYMMDDHH, u_exYYMMWW, u_exYYMM),
 * or by local time with localTimeRollover; period MaxSize writes
 * u_extend1.log, u_extend2.log, ... of at most truncateSize bytes each,
 * a #Software/#Version/#Date/#Fields header block whenever a file starts,
 * the fields logExtFileFlags selects in IIS's order. system.webServer/
 * httpLogging dontLog and selectiveLogging (LogAll, LogSuccessful: status
 * below 400, LogError: 400 and up) apply per URL.
 *
 * Nothing here waits for the disk on a request: LogRequest formats the
 * line into the site's per-process buffer (logwriter.c); a one-second timer
 * (armed when a buffer gets its first line), a full buffer, a new file
 * period and the end of the process write it out. */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "libevent-util.h"
#include "log.h"
#include "logwriter.h"
#include "util.h"
#include "wasp/module.h"

#define HTTPLOG_FLUSH_USEC 1000000 /* lines reach the file within a second */

struct logsite {
	struct logsite *next;
	uint32_t id;
	char site_name[24]; /* "W3SVC1" */
	uint32_t flags;
	struct logwriter *w; /* NULL: this site does not log */
};

static struct {
	struct wasp_server *srv;
	struct event *timer;
	bool timer_armed;
	struct logsite *sites;
	char computer_name[256];
} hl;

/* The site's logFile element from applicationHost.config, or NULL. */
static const struct wasp_element *
site_log_file(uint32_t site_id)
{
	const struct wasp_element *sites =
		wasp_server_config(hl.srv, "system.applicationHost/sites");

	for (size_t i = 0; sites && i < sites->n_items; i++)
		if (wasp_element_get_uint(sites->items[i], "id", 0) == site_id)
			return wasp_element_child(sites->items[i], "logFile");
	return NULL;
}

/* Set up the log of site id from its logFile settings (once per process). */
static struct logsite *
site_get(uint32_t id)
{
	const struct wasp_element *lf;
	struct logsite *s;
	const char *dir, *fmt;
	enum w3c_period period;
	uint64_t truncate_size = 0;
	char *path, dirbuf[PATH_MAX];

	for (s = hl.sites; s; s = s->next)
		if (s->id == id)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	snprintf(s->site_name, sizeof(s->site_name), "W3SVC%u", id);
	s->next = hl.sites;
	hl.sites = s;

	lf = site_log_file(id);
	if (!lf || !wasp_element_get_bool(lf, "enabled", true))
		return s;
	fmt = wasp_element_get_str(lf, "logFormat", "W3C");
	if (!strcaseeq(fmt, "W3C")) {
		log_warning("site %u: logFormat %s is not supported (only W3C); not logging", id,
			    fmt);
		return s;
	}
	if (!(wasp_element_get_uint(lf, "logTargetW3C", 1) & 1))
		return s; /* ETW only */
	dir = wasp_config_log_directory(wasp_element_get_str(lf, "directory", ""), dirbuf,
					sizeof(dirbuf));
	if (!*dir || strchr(dir, '%')) {
		log_warning("site %u: log directory '%s' %s; not logging", id, dir,
			    *dir ? "names an environment variable that is not set"
				 : "is empty");
		return s;
	}
	period = (enum w3c_period)wasp_element_get_uint(lf, "period", W3C_PERIOD_DAILY);
	if (period > W3C_PERIOD_HOURLY)
		period = W3C_PERIOD_DAILY;
	if (period == W3C_PERIOD_MAX_SIZE) {
		truncate_size = wasp_element_get_uint(lf, "truncateSize", 0);
		if (truncate_size == 0) /* cannot be, by the schema's range */
			period = W3C_PERIOD_DAILY;
	}
	if (wasp_element_get_bool(lf, "localTimeRollover", false))
		period |= W3C_PERIOD_LOCAL_TIME;
	s->flags = (uint32_t)wasp_element_get_uint(lf, "logExtFileFlags", W3C_F_DEFAULT);
	if (!(s->flags & W3C_F_ALL)) {
		log_warning("site %u: logExtFileFlags selects no field; not logging", id);
		return s;
	}
	if (asprintf(&path, "%s%sW3SVC%u", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", id) < 0)
		return s;
	s->w = logwriter_new(path, period, s->flags);
	free(path);
	if (s->w && truncate_size > 0) /* MaxSize, with localTimeRollover or not */
		logwriter_set_max_size(s->w, truncate_size);
	return s;
}

static void
flush_all(void)
{
	for (struct logsite *s = hl.sites; s; s = s->next)
		if (s->w)
			(void)logwriter_flush(s->w);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	hl.timer_armed = false;
	flush_all();
}

static unsigned
parse_port(const char *s)
{
	uint64_t v;

	return s && wasp_parse_u64(s, 65535, &v) == 0 ? (unsigned)v : 0;
}

/* httpLogging as a request needs it, derived once per distinct effective
 * section (the attributes are not looked up by name on every request) */
struct hl_conf {
	bool dont_log;
	uint64_t selective; /* 0 LogAll, 1 LogSuccessful, 2 LogError */
};

static void *
hl_conf_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct hl_conf *c = malloc(sizeof(*c));

	if (c)
		*c = (struct hl_conf){
			.dont_log = wasp_element_get_bool(sec, "dontLog", false),
			.selective = wasp_element_get_uint(sec, "selectiveLogging", 0),
		};
	return c;
}

extern const struct wasp_module mod_httplog;

static const struct wasp_module_section hl_sections[] = {
	{ .name = "system.webServer/httpLogging", .build = hl_conf_build, .free_conf = free },
};

/* cs-uri-query: the client's query, or the rewritten one where
 * logRewrittenUrl asks for the rewritten URL. */
static const char *
log_query(struct wasp_request *req)
{
	const char *u, *q;

	if (wasp_request_logs_rewritten_url(req))
		return wasp_request_query(req);
	u = wasp_request_server_variable(req, "UNENCODED_URL");
	q = u ? strchr(u, '?') : NULL;
	return q ? q + 1 : (u ? "" : wasp_request_query(req));
}

/* The W3C fields that are a server variable or a request header as it is. */
struct w3c_string {
	uint32_t flag;
	size_t offset; /* of the const char * in struct w3c_entry */
	bool header;
	const char *name;
};

static const struct w3c_string w3c_strings[] = {
	{ W3C_F_SERVER_IP, offsetof(struct w3c_entry, server_ip), false, "LOCAL_ADDR" },
	{ W3C_F_USER_NAME, offsetof(struct w3c_entry, user_name), false, "LOGON_USER" },
	{ W3C_F_CLIENT_IP, offsetof(struct w3c_entry, client_ip), false, "REMOTE_ADDR" },
	{ W3C_F_PROTOCOL_VERSION, offsetof(struct w3c_entry, version), false, "SERVER_PROTOCOL" },
	{ W3C_F_USER_AGENT, offsetof(struct w3c_entry, user_agent), true, "User-Agent" },
	{ W3C_F_COOKIE, offsetof(struct w3c_entry, cookie), true, "Cookie" },
	{ W3C_F_REFERER, offsetof(struct w3c_entry, referer), true, "Referer" },
	{ W3C_F_HOST, offsetof(struct w3c_entry, host), true, "Host" },
};

static enum wasp_status
httplog_on_log(struct wasp_request *req, void *userdata)
{
	const struct hl_conf *cfg;
	struct logsite *s;
	struct w3c_entry e;
	unsigned status = wasp_response_status(req);
	uint64_t sel;
	uint32_t f;
	size_t size;
	char *line;
	int n;

	(void)userdata;
	if (wasp_request_site_id(req) == 0)
		return WASP_OK; /* refused before it reached a site */
	s = site_get(wasp_request_site_id(req));
	if (!s || !s->w)
		return WASP_OK;
	cfg = wasp_request_module_conf(req, &mod_httplog, 0);
	if (cfg) {
		if (cfg->dont_log)
			return WASP_OK;
		sel = cfg->selective;
		if ((sel == 1 && status >= 400) || (sel == 2 && status < 400))
			return WASP_OK;
	}
	/* only what the fields need: every lookup costs */
	e = (struct w3c_entry){
		.time = time(NULL),
		.site_name = s->site_name,
		.computer_name = hl.computer_name,
		.method = wasp_request_method(req),
		.uri_query = log_query(req),
		.status = status,
		.substatus = wasp_response_substatus(req),
		.win32_status = wasp_request_win32_status(req),
	};
	f = s->flags;
	if (f & W3C_F_URI_STEM && wasp_request_logs_rewritten_url(req))
		e.uri_stem = wasp_request_path(req); /* URL Rewrite's logRewrittenUrl */
	else if (f & W3C_F_URI_STEM)
		/* the client's URL, not where an internal redirect took it */
		e.uri_stem = *wasp_request_original_path(req) ? wasp_request_original_path(req)
							      : wasp_request_raw_path(req); /* refused URL */
	for (size_t i = 0; i < ELEMENTSOF(w3c_strings); i++) {
		const struct w3c_string *ws = &w3c_strings[i];

		if (f & ws->flag)
			*(const char **)((char *)&e + ws->offset) =
				ws->header ? wasp_request_header(req, ws->name)
					   : wasp_request_server_variable(req, ws->name);
	}
	if (f & W3C_F_SERVER_PORT)
		e.server_port = parse_port(wasp_request_server_variable(req, "SERVER_PORT"));
	if (f & W3C_F_BYTES_SENT)
		e.bytes_sent = wasp_response_bytes_sent(req);
	if (f & W3C_F_BYTES_RECV)
		e.bytes_received = wasp_request_bytes_received(req);
	if (f & W3C_F_TIME_TAKEN)
		e.time_taken_ms = wasp_request_elapsed_usec(req) / 1000;
	size = w3c_line_size(s->flags, &e);
	line = wasp_request_alloc(req, size);
	if (!line)
		return WASP_OK;
	n = w3c_format_line(s->flags, &e, line, size);
	if (n < 0)
		return WASP_OK;
	(void)logwriter_append(s->w, e.time, line, (size_t)n);
	if (!hl.timer_armed && hl.timer) {
		struct timeval tv = { HTTPLOG_FLUSH_USEC / 1000000, HTTPLOG_FLUSH_USEC % 1000000 };

		if (event_add(hl.timer, &tv) == 0)
			hl.timer_armed = true;
	}
	return WASP_OK;
}

static int
httplog_init_process(struct wasp_server *srv)
{
	hl.srv = srv;
	if (gethostname(hl.computer_name, sizeof(hl.computer_name) - 1) < 0)
		strcpy(hl.computer_name, "-");
	hl.timer = evtimer_new(wasp_server_event_base(srv), on_timer, NULL);
	if (!hl.timer)
		return -ENOMEM;
	return 0;
}

static void
httplog_exit_process(struct wasp_server *srv)
{
	(void)srv;
	while (hl.sites) {
		struct logsite *s = hl.sites;
		hl.sites = s->next;
		logwriter_free(s->w); /* flushes */
		free(s);
	}
	hl.timer = wasp_event_free(hl.timer);
	hl.timer = NULL;
	hl.timer_armed = false;
}

static int
httplog_register_hooks(struct wasp_hooks *hooks)
{
	return wasp_hooks_add(hooks, WASP_STAGE_LOG_REQUEST, WASP_PRIORITY_MEDIUM, httplog_on_log,
			      NULL);
}

const struct wasp_module mod_httplog = {
	.abi = WASP_MODULE_ABI,
	.name = "HttpLoggingModule",
	.sections = hl_sections,
	.n_sections = ELEMENTSOF(hl_sections),
	.init_process = httplog_init_process,
	.register_hooks = httplog_register_hooks,
	.exit_process = httplog_exit_process,
};
