/* waspctl's daemon verbs: talk JSON to waspd's control socket and print a
 * table (or the JSON reply with --json).
 *
 *   waspctl [-r RUNTIME_DIR] list apppool|wp [--json]
 *   waspctl [-r RUNTIME_DIR] start|stop|recycle apppool NAME [--json]
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
#define CTL_MAX_REPLY (16 * 1024 * 1024)

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

/* Send one request, return the parsed reply (NULL after printing why). */
static json_t *
ctl_call(const char *runtime_dir, json_t *req)
{
	_cleanup_free_ char *line = json_dumps(req, JSON_COMPACT);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = 0;
	json_error_t jerr;
	json_t *reply;
	int fd;

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
			fprintf(stderr, "waspctl: send to waspd: %s\n", strerror(errno));
			close(fd);
			return NULL;
		}
		off += (size_t)w;
	}
	line[n] = 0;
	for (;;) {
		if (len + 4096 > size) {
			size = size ? size * 2 : 65536;
			char *nb = realloc(buf, size);
			if (!nb || size > CTL_MAX_REPLY) {
				free(nb);
				buf = NULL;
				fprintf(stderr, "waspctl: reply too large\n");
				close(fd);
				return NULL;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + len, size - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "waspctl: no reply from waspd: %s\n",
				errno == EAGAIN ? "timed out" : strerror(errno));
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (memchr(buf + len - (size_t)r, '\n', (size_t)r))
			break;
	}
	close(fd);
	if (len == 0) {
		fprintf(stderr, "waspctl: waspd closed the connection without a reply\n");
		return NULL;
	}
	reply = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!reply || !json_is_object(reply)) {
		fprintf(stderr, "waspctl: malformed reply from waspd: %s\n", jerr.text);
		json_decref(reply);
		return NULL;
	}
	return reply;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long
jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void
print_apppools(json_t *reply)
{
	json_t *arr = json_object_get(reply, "apppools"), *p;
	size_t i, w = 4;

	json_array_foreach(arr, i, p) w = MAX(w, strlen(jstr(p, "name")));
	printf("%-*s  %-30s  %-13s  %7s  %8s  %8s  %s\n", (int)w, "NAME", "STATE", "START MODE",
	       "WORKERS", "FAILURES", "RECYCLES", "IDENTITY");
	json_array_foreach(arr, i, p) {
		char state[64];
		const char *why = jstr(p, "stopReason");
		if (*why)
			snprintf(state, sizeof(state), "%s (%s)", jstr(p, "state"), why);
		else
			snprintf(state, sizeof(state), "%s", jstr(p, "state"));
		printf("%-*s  %-30s  %-13s  %7lld  %8lld  %8lld  %s\n", (int)w, jstr(p, "name"),
		       state, jstr(p, "startMode"), jint(p, "workers"), jint(p, "failures"),
		       jint(p, "recycles"), jstr(p, "identityType"));
	}
}

static void
print_workers(json_t *reply)
{
	json_t *arr = json_object_get(reply, "workers"), *p;
	size_t i, w = 4;

	json_array_foreach(arr, i, p) w = MAX(w, strlen(jstr(p, "pool")));
	printf("%-8s  %-*s  %-9s  %9s  %9s  %s\n", "PID", (int)w, "POOL", "STATE", "REQUESTS",
	       "RSS (KB)", "STARTED");
	json_array_foreach(arr, i, p) {
		printf("%-8lld  %-*s  %-9s  %9lld  %9lld  %s\n", jint(p, "pid"), (int)w,
		       jstr(p, "pool"), jstr(p, "state"), jint(p, "requests"), jint(p, "rssKB"),
		       jstr(p, "started"));
	}
}

bool
ctlclient_handles(const char *verb)
{
	return verb && (streq(verb, "list") || streq(verb, "start") || streq(verb, "stop") ||
			streq(verb, "recycle") || streq(verb, "reload"));
}

bool
ctlclient_handles_object(const char *verb, const char *object)
{
	if (!ctlclient_handles(verb) || !object || streq(verb, "reload"))
		return false;
	if (streq(verb, "list"))
		return streq(object, "apppool") || streq(object, "wp");
	return streq(object, "apppool");
}

int
ctlclient_run(const char *runtime_dir, bool json_out, int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : NULL, *object = argc > 1 ? argv[1] : NULL;
	json_t *req, *reply;
	int status = EXIT_FAILURE;

	if (!runtime_dir)
		runtime_dir = default_runtime_dir();
	if (verb && streq(verb, "reload")) {
		if (argc != 1) {
			fprintf(stderr, "waspctl: 'reload' takes no arguments\n");
			return 2;
		}
		req = json_pack("{s:s}", "verb", verb);
	} else if (!ctlclient_handles_object(verb, object)) {
		fprintf(stderr,
			"waspctl: usage: waspctl [-r RUNTIME_DIR] list apppool|wp [--json]\n"
			"       waspctl [-r RUNTIME_DIR] start|stop|recycle apppool NAME\n"
			"       waspctl [-r RUNTIME_DIR] reload\n");
		return 2;
	} else if (streq(verb, "list")) {
		if (argc != 2) {
			fprintf(stderr, "waspctl: 'list %s' takes no further arguments\n", object);
			return 2;
		}
		req = json_pack("{s:s, s:s}", "verb", verb, "object", object);
	} else {
		if (argc != 3) {
			fprintf(stderr, "waspctl: usage: waspctl %s apppool NAME\n", verb);
			return 2;
		}
		req = json_pack("{s:s, s:s, s:s}", "verb", verb, "object", object, "name",
				argv[2]);
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
	if (json_out) {
		json_object_del(reply, "ok");
		json_dumpf(reply, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (streq(verb, "list") && streq(object, "apppool")) {
		print_apppools(reply);
	} else if (streq(verb, "list")) {
		print_workers(reply);
	} else if (streq(verb, "reload")) {
		printf("%s\n", jstr(reply, "message"));
	} else {
		printf("%s apppool \"%s\": %s (state %s)\n", verb, argv[2], jstr(reply, "message"),
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
