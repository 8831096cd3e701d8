/* waspctl's daemon verbs: talk JSON to waspd's control socket and print a
 * table (or the JSON reply with --json).
 *
 *   waspctl [-r RUNTIME_DIR] list site|app|vdir|apppool|wp [NAME] [/ATTR:VALUE...]
 *           [/text:ATTR|*] [--json]
 *   waspctl [-r RUNTIME_DIR] start|stop|recycle apppool NAME|/apppool.name:NAME [--json]
 *   waspctl [-r RUNTIME_DIR] metrics [--json]   (Prometheus' text format)
 *   waspctl [-r RUNTIME_DIR] list request|requests [/elapsed:MS] [/ATTR:VALUE...] [--json]
 *
 * Lists print appcmd's lines (SITE "Default Web Site" (id:1,bindings:...,
 * state:Started)); --json prints the reply: {"ok": true, "<objects>": [...]}
 * on success, {"ok": false, "error": "..."} on failure.
 *
 * The protocol is one JSON object per line each way; see control.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlclient.h"
#include "util.h"

#define CTL_TIMEOUT_SEC 30
/* A reply line's bound; a list comes in lines of a bounded number of
 * entries (control.c), at most CTL_MAX_LINES of them. */
#define CTL_MAX_REPLY (16 * 1024 * 1024)
#define CTL_MAX_LINES 65536

static const char *
default_runtime_dir(void)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");

	return rd && *rd ? rd : "/run/wasp";
}

static int
ctl_connect(const char *runtime_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_SEC };
	int fd, n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s/control.sock",
		     (int)strcspn(runtime_dir, ":"), runtime_dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		fprintf(stderr, "waspctl: runtime directory path too long: %s\n", runtime_dir);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		if (r == -ENOENT || r == -ECONNREFUSED)
			fprintf(stderr,
				"waspctl: no waspd answers on %s (is waspd running? "
				"waspctl -r RUNTIME_DIR names another runtime directory)\n",
				sa.sun_path);
		else if (r == -EACCES || r == -EPERM)
			fprintf(stderr,
				"waspctl: permission denied on %s (run as root or as waspd's "
				"user)\n",
				sa.sun_path);
		else
			fprintf(stderr, "waspctl: connect %s: %s\n", sa.sun_path, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

/* One line of a reply into *buf (grown up to CTL_MAX_REPLY; what was read
 * past it stays there for the next line): its length, 0 at the end, -1
 * after printing why. */
static ssize_t
read_line(int fd, char **buf, size_t *len, size_t *size)
{
	for (;;) {
		char *nl = *len ? memchr(*buf, '\n', *len) : NULL;
		ssize_t r;

		if (nl)
			return nl - *buf + 1;
		if (*len + 4096 > *size) {
			size_t want = *size ? *size * 2 : 65536;
			char *nb = want <= CTL_MAX_REPLY ? realloc(*buf, want) : NULL;

			if (!nb) {
				fprintf(stderr, "waspctl: reply line too large (over %d bytes)\n",
					CTL_MAX_REPLY);
				return -1;
			}
			*buf = nb;
			*size = want;
		}
		r = read(fd, *buf + *len, *size - *len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "waspctl: no reply from waspd: %s\n",
				errno == EAGAIN ? "timed out" : strerror(errno));
			return -1;
		}
		if (r == 0)
			return (ssize_t)*len; /* a last line without its newline */
		*len += (size_t)r;
	}
}

/* A list's entries come in several lines, each but the last with "more":
 * the arrays of the lines after the first are appended to the first's. */
static int
reply_merge(json_t *reply, json_t *part)
{
	const char *key;
	json_t *v;

	json_object_foreach(part, key, v) {
		json_t *into = json_object_get(reply, key);

		if (json_is_array(v) && json_is_array(into) && json_array_extend(into, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The reply to a request (NULL after printing why). */
static json_t *
read_reply(int fd, int send_errno)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = 0, lines = 0;
	json_t *reply = NULL;

	for (;;) {
		ssize_t n = read_line(fd, &buf, &len, &size);
		json_error_t jerr;
		json_t *part;
		bool more;

		if (n < 0)
			break;
		if (n == 0 && !reply && send_errno) {
			fprintf(stderr, "waspctl: send to waspd: %s\n", strerror(send_errno));
			break;
		}
		if (n == 0) {
			fprintf(stderr, reply ? "waspctl: waspd closed the connection mid-reply\n"
					      : "waspctl: waspd closed the connection without a reply\n");
			break;
		}
		part = json_loadb(buf, (size_t)n, JSON_DISABLE_EOF_CHECK, &jerr);
		memmove(buf, buf + n, len - (size_t)n);
		len -= (size_t)n;
		if (!part || !json_is_object(part) || ++lines > CTL_MAX_LINES) {
			fprintf(stderr, "waspctl: malformed reply from waspd: %s\n",
				part ? "not an object, or too many lines" : jerr.text);
			json_decref(part);
			break;
		}
		more = json_is_true(json_object_get(part, "more"));
		(void)json_object_del(part, "more");
		if (!reply || !json_is_true(json_object_get(part, "ok"))) {
			json_decref(reply); /* an error ends it: only the error is said */
			reply = part;
		} else {
			int r = reply_merge(reply, part);

			json_decref(part);
			if (r < 0) {
				fprintf(stderr, "waspctl: out of memory\n");
				break;
			}
		}
		if (!more)
			return reply;
	}
	json_decref(reply);
	return NULL;
}

/* Send one request, return the parsed reply (NULL after printing why). */
static json_t *
ctl_call(const char *runtime_dir, json_t *req)
{
	_cleanup_free_ char *line = json_dumps(req, JSON_COMPACT);
	json_t *reply;
	int fd, send_errno = 0;

	if (!line)
		return NULL;
	fd = ctl_connect(runtime_dir);
	if (fd < 0)
		return NULL;
	size_t n = strlen(line);
	line[n] = '\n'; /* json_dumps' NUL becomes the line end */
	for (size_t off = 0; off < n + 1;) {
		ssize_t w = send(fd, line + off, n + 1 - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* waspd may have answered (a refusal) and closed already:
			 * its answer says more than the broken pipe. */
			send_errno = errno;
			break;
		}
		off += (size_t)w;
	}
	line[n] = 0;
	reply = read_reply(fd, send_errno);
	close(fd);
	return reply;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* appcmd's objects as waspd lists them: the tag of appcmd's output lines, the
 * reply's array, the attribute that names an object, the attributes shown in
 * parentheses ({ label, key }), and appcmd's attribute names for keys of the
 * reply (/apppool.name:X lists an application pool's applications). */
struct ctl_attr {
	const char *label, *key;
};

struct ctl_object {
	const char *object, *tag, *list_key, *name_key;
	struct ctl_attr shown[4];
	const char *shown_if_set; /* wasp's own: shown after them when not empty */
	struct ctl_attr aliases[4];
};

static const struct ctl_object objects[] = {
	{ "site", "SITE", "sites", "name",
	  { { "id", "id" }, { "bindings", "bindings" }, { "state", "state" } },
	  NULL,
	  { { "site.name", "name" } } },
	{ "app", "APP", "apps", "name",
	  { { "applicationPool", "applicationPool" } },
	  NULL,
	  { { "app.name", "name" }, { "apppool.name", "applicationPool" },
	    { "site.name", "site" } } },
	{ "vdir", "VDIR", "vdirs", "name",
	  { { "physicalPath", "physicalPath" } },
	  NULL,
	  { { "vdir.name", "name" }, { "app.name", "app" }, { "site.name", "site" } } },
	{ "apppool", "APPPOOL", "apppools", "name",
	  { { "MgdVersion", "managedRuntimeVersion" },
	    { "MgdMode", "managedPipelineMode" },
	    { "state", "state" } },
	  "stopReason",
	  { { "apppool.name", "name" }, { "MgdVersion", "managedRuntimeVersion" },
	    { "MgdMode", "managedPipelineMode" } } },
	{ "wp", "WP", "workers", "pid",
	  { { "applicationPool", "pool" } },
	  NULL,
	  { { "wp.name", "pid" }, { "apppool.name", "pool" }, { "applicationPool", "pool" } } },
	/* the requests executing now; /elapsed:MS keeps those running that long */
	{ "request", "REQUEST", "requests", "id",
	  { { "url", "url" }, { "time", "time" }, { "client", "client" }, { "stage", "stage" } },
	  NULL,
	  { { "apppool.name", "pool" }, { "wp.name", "pid" }, { "site.name", "site" } } },
};

#define CTL_MAX_FILTERS 16

/* A command's words after verb and object: a name (positional, /name:X or
 * /OBJECT.name:X), /text:ATTR, and /ATTR:VALUE filters. */
struct ctl_args {
	const char *name;
	const char *text;
	struct ctl_attr filters[CTL_MAX_FILTERS];
	size_t n_filters;
};

static const struct ctl_object *
object_find(const char *name)
{
	if (name && streq(name, "requests")) /* appcmd's alias */
		name = "request";
	for (size_t i = 0; name && i < ELEMENTSOF(objects); i++)
		if (streq(objects[i].object, name))
			return &objects[i];
	return NULL;
}

/* The reply's key for appcmd's attribute name (case as appcmd: none), or
 * NULL when an object of this kind has no such attribute. */
static const char *
attr_key(const struct ctl_object *ob, json_t *o, const char *attr)
{
	const char *k;
	json_t *v;

	for (size_t i = 0; i < ELEMENTSOF(ob->aliases) && ob->aliases[i].label; i++)
		if (strcaseeq(ob->aliases[i].label, attr))
			return ob->aliases[i].key;
	json_object_foreach(o, k, v)
		if (strcaseeq(k, attr))
			return k;
	return NULL;
}

/* A scalar as appcmd prints it; false for arrays and objects. */
static bool
value_str(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
	else
		return false;
	return true;
}

static int
args_parse(const struct ctl_object *ob, int argc, char **argv, struct ctl_args *a)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *colon = strchr(arg, ':');

		if (arg[0] != '/' || !colon) {
			if (a->name) {
				fprintf(stderr, "waspctl: unexpected argument '%s'\n", arg);
				return -EINVAL;
			}
			a->name = arg;
			continue;
		}
		size_t klen = (size_t)(colon - arg - 1);
		const char *value = colon + 1;
		char key[64];

		if (klen == 0 || klen >= sizeof(key)) {
			fprintf(stderr, "waspctl: malformed argument '%s' (/ATTRIBUTE:VALUE)\n", arg);
			return -EINVAL;
		}
		memcpy(key, arg + 1, klen);
		key[klen] = 0;
		if (strcaseeq(key, "text")) {
			a->text = value;
			continue;
		}
		if (strcaseeq(key, "name") ||
		    (ob && startswith(key, ob->object) && strcaseeq(key + strlen(ob->object), ".name"))) {
			if (a->name && !streq(a->name, value)) {
				fprintf(stderr, "waspctl: two names given ('%s', '%s')\n", a->name,
					value);
				return -EINVAL;
			}
			a->name = value;
			continue;
		}
		if (a->n_filters >= CTL_MAX_FILTERS) {
			fprintf(stderr, "waspctl: at most %d filters\n", CTL_MAX_FILTERS);
			return -E2BIG;
		}
		a->filters[a->n_filters++] = (struct ctl_attr){ arg + 1, value };
	}
	return 0;
}

/* list request /elapsed:MS: 1 when o has run at least MS, 0 when not,
 * -EINVAL (printed) for a value that is not a number. */
static int
elapsed_matches(json_t *o, const char *value)
{
	uint64_t ms;

	if (wasp_parse_u64(value, UINT32_MAX, &ms) < 0) {
		fprintf(stderr, "waspctl: /elapsed: takes milliseconds, not '%s'\n", value);
		return -EINVAL;
	}
	return json_integer_value(json_object_get(o, "elapsedMs")) >= (json_int_t)ms;
}

/* Does o pass every filter? -EINVAL (printed) for an attribute o lacks. */
static int
object_matches(const struct ctl_object *ob, json_t *o, const struct ctl_args *a)
{
	char buf[4096];

	if (a->name && (!value_str(json_object_get(o, ob->name_key), buf, sizeof(buf)) ||
			!strcaseeq(buf, a->name)))
		return 0;
	for (size_t i = 0; i < a->n_filters; i++) {
		char attr[64];
		const char *label = a->filters[i].label, *key;
		size_t n = strcspn(label, ":");

		snprintf(attr, sizeof(attr), "%.*s", (int)n, label);
		if (streq(ob->object, "request") && strcaseeq(attr, "elapsed")) {
			int r = elapsed_matches(o, a->filters[i].key);
			if (r <= 0)
				return r;
			continue;
		}
		key = attr_key(ob, o, attr);
		if (!key || !value_str(json_object_get(o, key), buf, sizeof(buf))) {
			fprintf(stderr, "waspctl: %s objects have no attribute '%s'\n", ob->tag,
				attr);
			return -EINVAL;
		}
		if (!strcaseeq(buf, a->filters[i].key))
			return 0;
	}
	return 1;
}

static void
print_line(const struct ctl_object *ob, json_t *o)
{
	char buf[4096];

	value_str(json_object_get(o, ob->name_key), buf, sizeof(buf));
	printf("%s \"%s\" (", ob->tag, buf);
	for (size_t i = 0; i < ELEMENTSOF(ob->shown) && ob->shown[i].label; i++) {
		if (!value_str(json_object_get(o, ob->shown[i].key), buf, sizeof(buf)))
			buf[0] = 0;
		printf("%s%s:%s", i ? "," : "", ob->shown[i].label, buf);
	}
	if (ob->shown_if_set && value_str(json_object_get(o, ob->shown_if_set), buf, sizeof(buf)) &&
	    *buf)
		printf(",%s:%s", ob->shown_if_set, buf);
	printf(")\n");
}

/* A worker's application processes, a line each under its WP line. */
static void
print_app_procs(json_t *o)
{
	json_t *arr = json_object_get(o, "applications"), *e;
	size_t i;

	json_array_foreach(arr, i, e)
		printf("  APPPROCESS \"%" JSON_INTEGER_FORMAT
		       "\" (kind:%s,state:%s,requests:%" JSON_INTEGER_FORMAT ",application:%s)\n",
		       json_integer_value(json_object_get(e, "pid")), jstr(e, "kind"),
		       jstr(e, "state"), json_integer_value(json_object_get(e, "requests")),
		       jstr(e, "application"));
}

/* /text:* prints every attribute, /text:ATTR one value a line. */
static int
print_text(const struct ctl_object *ob, json_t *o, const char *text)
{
	char buf[4096];
	const char *k;
	json_t *v;

	if (streq(text, "*")) {
		printf("%s\n", ob->tag);
		json_object_foreach(o, k, v)
			if (value_str(v, buf, sizeof(buf)))
				printf("  %s:\"%s\"\n", k, buf);
		return 0;
	}
	k = attr_key(ob, o, text);
	if (!k || !value_str(json_object_get(o, k), buf, sizeof(buf))) {
		fprintf(stderr, "waspctl: %s objects have no attribute '%s'\n", ob->tag, text);
		return -EINVAL;
	}
	printf("%s\n", buf);
	return 0;
}

/* Filter the reply's list in place and print it (appcmd lines, /text:, or
 * the reply as JSON). Returns the exit status. */
static int
print_list(const struct ctl_object *ob, json_t *reply, const struct ctl_args *a, bool json_out)
{
	json_t *arr = json_object_get(reply, ob->list_key), *o;
	size_t i;
	int r;

	if (!json_is_array(arr)) {
		fprintf(stderr, "waspctl: malformed reply from waspd (no '%s')\n", ob->list_key);
		return EXIT_FAILURE;
	}
	for (i = 0; i < json_array_size(arr);) {
		r = object_matches(ob, json_array_get(arr, i), a);
		if (r < 0)
			return 2;
		if (r == 0)
			json_array_remove(arr, i);
		else
			i++;
	}
	if (a->name && json_array_size(arr) == 0) {
		if (json_out) {
			json_t *err = json_pack("{s:b, s:s+++}", "ok", 0, "error",
						"cannot find ", ob->tag, " object with identifier ",
						a->name);
			if (err)
				json_dumpf(err, stdout, JSON_INDENT(2)), putchar('\n');
			json_decref(err);
		}
		fprintf(stderr, "waspctl: cannot find %s object with identifier \"%s\"\n", ob->tag,
			a->name);
		return EXIT_FAILURE;
	}
	if (json_out) {
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		return EXIT_SUCCESS;
	}
	json_array_foreach(arr, i, o) {
		if (!a->text) {
			print_line(ob, o);
			print_app_procs(o);
		} else if (print_text(ob, o, a->text) < 0)
			return 2;
	}
	return EXIT_SUCCESS;
}

/* list request: the workers that did not answer in time, on stderr (--json
 * has them as "unanswered"). */
static void
warn_unanswered(json_t *reply)
{
	json_t *w;
	size_t i;

	json_array_foreach(json_object_get(reply, "unanswered"), i, w)
		fprintf(stderr,
			"waspctl: worker %" JSON_INTEGER_FORMAT " (pool %s) did not answer in time\n",
			json_integer_value(json_object_get(w, "pid")), jstr(w, "pool"));
}

/* A verb of waspd itself, with no object. */
static bool
ctlclient_verb_bare(const char *verb)
{
	return streq(verb, "reload") || streq(verb, "restart") || streq(verb, "metrics");
}

bool
ctlclient_handles(const char *verb)
{
	return verb && (streq(verb, "list") || streq(verb, "start") || streq(verb, "stop") ||
			streq(verb, "recycle") || ctlclient_verb_bare(verb));
}

bool
ctlclient_handles_object(const char *verb, const char *object)
{
	if (!ctlclient_handles(verb) || !object || ctlclient_verb_bare(verb))
		return false;
	if (streq(verb, "list"))
		return object_find(object);
	return streq(object, "apppool") || (streq(object, "site") && !streq(verb, "recycle"));
}

static void
print_usage_error(void)
{
	fprintf(stderr,
		"waspctl: usage: waspctl [-r RUNTIME_DIR] list site|app|vdir|apppool|wp|request [NAME] "
		"[/ATTR:VALUE...] [/text:ATTR|*] [--json]\n"
		"       waspctl [-r RUNTIME_DIR] start|stop|recycle apppool NAME|/apppool.name:NAME\n"
		"       waspctl [-r RUNTIME_DIR] start|stop site NAME|/site.name:NAME\n"
		"       waspctl [-r RUNTIME_DIR] reload|restart\n"
		"       waspctl [-r RUNTIME_DIR] metrics [--json]\n");
}

int
ctlclient_run(const char *runtime_dir, bool json_out, int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : NULL, *object = argc > 1 ? argv[1] : NULL;
	const struct ctl_object *ob = object_find(object);
	struct ctl_args a = { 0 };
	json_t *req, *reply;
	int status = EXIT_FAILURE;

	if (!runtime_dir)
		runtime_dir = default_runtime_dir();
	if (verb && ctlclient_verb_bare(verb)) {
		if (argc != 1) {
			fprintf(stderr, "waspctl: '%s' takes no arguments\n", verb);
			return 2;
		}
		req = json_pack("{s:s}", "verb", verb);
	} else if (!ctlclient_handles_object(verb, object)) {
		print_usage_error();
		return 2;
	} else if (args_parse(ob, argc - 2, argv + 2, &a) < 0) {
		return 2;
	} else if (streq(verb, "list")) {
		req = json_pack("{s:s, s:s}", "verb", verb, "object", ob->object);
	} else {
		if (!a.name || a.text || a.n_filters) {
			fprintf(stderr, "waspctl: usage: waspctl %s %s NAME\n", verb, object);
			return 2;
		}
		req = json_pack("{s:s, s:s, s:s}", "verb", verb, "object", object, "name", a.name);
	}
	if (!req)
		return EXIT_FAILURE;
	reply = ctl_call(runtime_dir, req);
	json_decref(req);
	if (!reply)
		return EXIT_FAILURE;

	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *err = jstr(reply, "error");
		if (json_out)
			json_dumpf(reply, stdout, JSON_INDENT(2)), putchar('\n');
		fprintf(stderr, "waspctl: %s\n", *err ? err : "waspd refused the request");
		goto out;
	}
	if (streq(verb, "list")) {
		status = print_list(ob, reply, &a, json_out);
		if (!json_out)
			warn_unanswered(reply);
		goto out;
	}
	if (json_out) {
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (streq(verb, "metrics")) {
		fputs(jstr(reply, "text"), stdout);
	} else if (ctlclient_verb_bare(verb)) {
		printf("%s\n", jstr(reply, "message"));
	} else {
		printf("%s %s \"%s\": %s (state %s)\n", verb, object, a.name, jstr(reply, "message"),
		       jstr(reply, "state"));
	}
	status = EXIT_SUCCESS;
out:
	json_decref(reply);
	return status;
}

int
ctlclient_main(int argc, char **argv)
{
	const char *runtime_dir = NULL;
	bool json_out = false;
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	int n = 0, r;

	if (!args)
		return EXIT_FAILURE;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (streq(a, "--json")) {
			json_out = true;
		} else if ((streq(a, "-r") || streq(a, "--runtime-dir")) && i + 1 < argc) {
			runtime_dir = argv[++i];
		} else if (startswith(a, "--runtime-dir=")) {
			runtime_dir = a + strlen("--runtime-dir=");
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "waspctl: unknown option '%s'\n", a);
			free(args);
			return 2;
		} else {
			args[n++] = argv[i];
		}
	}
	r = ctlclient_run(runtime_dir, json_out, n, args);
	free(args);
	return r;
}
