#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Process-wide logging settings: set once at startup, read-only after. */
static const char *log_ident = "wasp";
static int log_max = LOG_INFO;
static int log_journal = -1;

void
wasp_log_init(const char *ident, int max_priority)
{
	const char *lvl = getenv("WASP_LOG_LEVEL");

	log_ident = ident;
	log_max = max_priority;
	if (lvl && streq(lvl, "debug"))
		log_max = LOG_DEBUG;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
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
	if (log_journal < 0)
		log_journal = getenv("JOURNAL_STREAM") != NULL;
	if (log_journal)
		n = (size_t)snprintf(line, sizeof(line), "<%d>", priority);
	else
		n = (size_t)snprintf(line, sizeof(line), "%s[%d]: ", log_ident, (int)getpid());
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
