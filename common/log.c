#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Where stderr goes, which decides each line's prefix. */
enum log_target {
	LOG_TARGET_TTY,     /* a terminal: "ident[pid]: " */
	LOG_TARGET_JOURNAL, /* journald: "<priority>" */
	LOG_TARGET_FILE,    /* anything else: a timestamp, then "ident[pid]: " */
};

/* Process-wide logging settings: set once at startup, read-only after. */
static const char *log_ident = "wasp";
static int log_max = LOG_INFO;
static int log_target = -1;

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

int
wasp_log_internalv(int priority, int err, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0;
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
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s[%d]: ", log_ident,
				      (int)getpid());
	}
	if (n < sizeof(line)) {
		int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (w > 0)
			n += (size_t)w;
	}
	if (err && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
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
