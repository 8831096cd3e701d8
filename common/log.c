#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Where stderr goes, which decides each line's prefix. */
enum log_target {
	LOG_TARGET_TTY,     /* a terminal: "ident[pid]: " */
	LOG_TARGET_JOURNAL, /* journald: its native protocol, else "<priority>" */
	LOG_TARGET_FILE,    /* anything else: a timestamp, then "ident[pid]: " */
};

/* Process-wide logging settings: set once at startup, read-only after. */
static const char *log_ident = "wasp";
static int log_max = LOG_INFO;
static int log_target = -1;
static bool log_inited;
static char log_pool[128]; /* a worker's application pool, once known */
static int journal_fd = -1; /* the native socket; -2: not reachable */

#define JOURNAL_SOCKET_DEFAULT "/run/systemd/journal/socket"

static const char *const level_words[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	[LOG_CRIT] = "crit",
	[LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected to
 * journald; stderr is the journal only while it is that stream (a child
 * whose stderr was redirected inherits the variable). */
static bool
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	int n = 0;

	if (!js || sscanf(js, "%ju:%ju%n", &dev, &ino, &n) != 2 || js[n] != '\0')
		return false;
	return fstat(STDERR_FILENO, &st) == 0 && (uintmax_t)st.st_dev == dev &&
	       (uintmax_t)st.st_ino == ino;
}

static int
log_target_detect(void)
{
	if (stderr_is_journal())
		return LOG_TARGET_JOURNAL;
	if (isatty(STDERR_FILENO))
		return LOG_TARGET_TTY;
	return LOG_TARGET_FILE;
}

void
wasp_log_init(const char *ident, int max_priority)
{
	const char *lvl = getenv("WASP_LOG_LEVEL");

	log_ident = ident;
	log_max = max_priority;
	if (lvl && streq(lvl, "debug"))
		log_max = LOG_DEBUG;
	log_target = log_target_detect();
	log_inited = true;
	journal_fd = safe_close(journal_fd);
	log_pool[0] = '\0';
}

bool
wasp_log_initialized(void)
{
	return log_inited;
}

void
wasp_log_set_pool(const char *pool)
{
	(void)snprintf(log_pool, sizeof(log_pool), "%s", strempty(pool));
}

/* The journal's native socket (WASP_JOURNAL_SOCKET names another one, for
 * tests), connected once; -1 when it cannot be reached. */
static int
journal_socket(void)
{
	const char *path = getenv("WASP_JOURNAL_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (journal_fd != -1)
		return journal_fd < 0 ? -1 : journal_fd;
	journal_fd = -2;
	if (!path || !*path)
		path = JOURNAL_SOCKET_DEFAULT;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)close(fd);
		return -1;
	}
	journal_fd = fd;
	return fd;
}

/* One "NAME=value\n" field of the native protocol into buf at *n; a value
 * holding a newline takes the binary form (NAME\n, le64 length, value, \n). */
static void
journal_field(char *buf, size_t size, size_t *n, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	bool binary = memchr(value, '\n', vl) != NULL;

	if (*n + nl + vl + 10 > size)
		return;
	memcpy(buf + *n, name, nl);
	*n += nl;
	if (binary) {
		uint64_t le = htole64((uint64_t)vl);

		buf[(*n)++] = '\n';
		memcpy(buf + *n, &le, sizeof(le));
		*n += sizeof(le);
	} else
		buf[(*n)++] = '=';
	memcpy(buf + *n, value, vl);
	*n += vl;
	buf[(*n)++] = '\n';
}

/* The line as a journal entry with the process's identity; false when the
 * journal could not take it (the caller writes it to stderr instead). */
static bool
journal_send(int priority, int err, const char *msg)
{
	char buf[4096], num[32];
	size_t n = 0;
	int fd = journal_socket();

	if (fd < 0)
		return false;
	(void)snprintf(num, sizeof(num), "%d", priority);
	journal_field(buf, sizeof(buf), &n, "PRIORITY", num);
	journal_field(buf, sizeof(buf), &n, "SYSLOG_FACILITY", "3");
	journal_field(buf, sizeof(buf), &n, "SYSLOG_IDENTIFIER", log_ident);
	(void)snprintf(num, sizeof(num), "%d", (int)getpid());
	journal_field(buf, sizeof(buf), &n, "SYSLOG_PID", num);
	if (log_pool[0])
		journal_field(buf, sizeof(buf), &n, "WASP_POOL", log_pool);
	if (err) {
		(void)snprintf(num, sizeof(num), "%d", err);
		journal_field(buf, sizeof(buf), &n, "ERRNO", num);
	}
	journal_field(buf, sizeof(buf), &n, "MESSAGE", msg);
	return send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n;
}

/* "2026-12-07T11:22:39.123+0000 " into buf; its length. */
static size_t
log_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !localtime_r(&ts.tv_sec, &tm))
		return 0;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	n += (size_t)snprintf(buf + n, size - n, ".%03ld", ts.tv_nsec / 1000000);
	if (n < size)
		n += strftime(buf + n, size - n, "%z ", &tm);
	return MIN(n, size - 1);
}

void
wasp_log_set_max_priority(int max_priority)
{
	log_max = max_priority;
}

int
wasp_log_get_max_priority(void)
{
	return log_max;
}

/* "ident[pid]: level: " or, for a worker that knows its pool,
 * "ident/pool[pid]: level: ". */
static size_t
log_prefix(char *buf, size_t size, int priority)
{
	return (size_t)snprintf(buf, size, "%s%s%s[%d]: %s: ", log_ident, log_pool[0] ? "/" : "",
				log_pool, (int)getpid(), level_words[priority & LOG_PRIMASK]);
}

int
wasp_log_internalv(int priority, int err, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0, body;
	int saved = errno;

	if (err < 0)
		err = -err;
	if (priority > log_max)
		goto out;
	if (log_target < 0)
		log_target = log_target_detect();
	if (log_target == LOG_TARGET_JOURNAL) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>", priority);
	} else {
		if (log_target == LOG_TARGET_FILE)
			n = log_timestamp(line, sizeof(line));
		n += log_prefix(line + n, sizeof(line) - n, priority);
	}
	body = MIN(n, sizeof(line) - 1);
	if (n < sizeof(line)) {
		int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (w > 0)
			n += (size_t)w;
	}
	if (err && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n] = '\0';
	if (log_target == LOG_TARGET_JOURNAL && journal_send(priority, err, line + body))
		goto out;
	line[n++] = '\n';
	(void)fwrite(line, 1, n, stderr);
out:
	errno = saved;
	return -err;
}

int
wasp_log_internal(int priority, int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = wasp_log_internalv(priority, err, fmt, ap);
	va_end(ap);
	return r;
}

_Noreturn void
wasp_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)wasp_log_internalv(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}
