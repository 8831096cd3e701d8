/* The HTTPERR log: what the listener answers itself or drops (400, 408,
 * 431, 503..., idle and unfinished connections, clients gone while queued),
 * in HTTP.sys's format and file naming: httperr<N>.log in the HTTPERR
 * directory (common/httperr.h), a new N when a line would take the file
 * past ErrorLogFileTruncateSize, at most max_files kept (the oldest
 * removed). One write(2) per line, times in UTC as HTTP.sys logs them.
 * waspd creates the directory and gives it to the listener's user; when it
 * cannot be opened or written the listener warns once and drops the lines.
 * See docs/design.md "The HTTPERR log". */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "httperr.h"
#include "log.h"
#include "lsn.h"
#include "util.h"
#include "wasp-build.h"

#define HTTPERR_FIELDS                                                                   \
	"#Fields: date time c-ip c-port s-ip s-port cs-version cs-method cs-uri sc-status " \
	"s-siteid s-reason s-queuename\n"
#define HTTPERR_URI_MAX 4096 /* cs-uri is cut here, like the other fields */
#define HTTPERR_METHOD_MAX 64
#define HTTPERR_POOL_MAX 256
/* every field at its longest, each byte as %XX, with the fixed ones */
#define HTTPERR_LINE_MAX ((HTTPERR_URI_MAX + HTTPERR_METHOD_MAX + HTTPERR_POOL_MAX + 16) * 3 + 512)

/* The N of "httperr<N>.log", 0 for any other name. */
static uint32_t
file_seq(const char *name)
{
	uint64_t n;
	char num[16];
	size_t len;

	if (!startswith(name, "httperr") || strlen(name) <= strlen("httperr.log") ||
	    !streq(name + strlen(name) - strlen(".log"), ".log"))
		return 0;
	len = strlen(name) - strlen("httperr") - strlen(".log");
	if ( len >= sizeof(num) || name[strlen("httperr")] == '0')
		return 0;
	memcpy(num, name + strlen("httperr"), len);
	num[len] = '\0';
	if (wasp_parse_u64(num, UINT32_MAX - 1, &n) < 0)
		return 0;
	return (uint32_t)n;
}

/* Remove the files older than the max_files newest (first is the newest's N). */
static void
remove_old(struct lsn_httperr *h, uint32_t newest)
{
	char name[32];

	if (newest <= h->max_files)
		return;
	for (uint32_t n = newest - h->max_files; n > 0; n--) {
		(void)snprintf(name, sizeof(name), "httperr%u.log", n);
		if (unlinkat(h->dfd, name, 0) < 0 && errno == ENOENT)
			break; /* the older ones went before */
	}
}

int
lsn_httperr_open(struct lsn_httperr *h, const char *dir, uint64_t max_size, uint32_t max_files)
{
	_cleanup_close_ int dfd = -1;
	struct dirent *de;
	uint32_t newest = 0;
	DIR *d;
	int fd;

	*h = (struct lsn_httperr){ .dfd = -1, .fd = -1, .max_size = max_size,
				   .max_files = max_files ? max_files : 1 };
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		newest = MAX(newest, file_seq(de->d_name));
	(void)closedir(d);
	h->dfd = TAKE_FD(dfd);
	h->seq = newest ? newest : 1;
	remove_old(h, h->seq);
	return 0;
}

void
lsn_httperr_close(struct lsn_httperr *h)
{
	h->fd = safe_close(h->fd);
	h->dfd = safe_close(h->dfd);
}

/* httperr<seq>.log for appending (truncated when a roll reuses a name),
 * with the header when it is empty. */
static int
file_open(struct lsn_httperr *h, bool truncate, time_t now)
{
	char name[32], head[256];
	struct stat st;
	struct tm tm;
	int n;

	(void)snprintf(name, sizeof(name), "httperr%u.log", h->seq);
	h->fd = openat(h->dfd, name,
		       O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
			       (truncate ? O_TRUNC : 0),
		       0640);
	if (h->fd < 0)
		return -errno;
	if (fstat(h->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		h->fd = safe_close(h->fd);
		return -EBADF;
	}
	h->size = (uint64_t)st.st_size;
	if (h->size > 0)
		return 0;
	(void)gmtime_r(&now, &tm);
	n = snprintf(head, sizeof(head),
		     "#Software: wasp " WASP_VERSION "\n#Version: 1.0\n"
		     "#Date: %04d-%02d-%02d %02d:%02d:%02d\n" HTTPERR_FIELDS,
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec);
	if (write(h->fd, head, (size_t)n) != n) {
		h->fd = safe_close(h->fd);
		return -EIO;
	}
	h->size = (uint64_t)n;
	return 0;
}

int
lsn_httperr_write(struct lsn_httperr *h, const char *line, size_t len, time_t now)
{
	ssize_t w;
	int r;

	if (h->dfd < 0)
		return -EBADF;
	if (h->fd >= 0 && h->size > 0 && h->size + len > h->max_size) {
		h->fd = safe_close(h->fd);
		h->seq++;
		remove_old(h, h->seq);
		r = file_open(h, true, now);
		if (r < 0)
			return r;
	} else if (h->fd < 0) {
		r = file_open(h, false, now);
		if (r < 0)
			return r;
		if (h->size > 0 && h->size + len > h->max_size)
			return lsn_httperr_write(h, line, len, now); /* full: roll */
	}
	w = write(h->fd, line, len);
	if (w < 0)
		return -errno;
	h->size += (uint64_t)w;
	return (size_t)w == len ? 0 : -EIO;
}

/* A field's bytes with anything but printable ASCII, and '%', as %XX, so a
 * line stays one line of space-separated fields; "-" when empty. */
static size_t
put_field(char *out, size_t size, const char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (len == 0)
		return (size_t)snprintf(out, size, "- ");
	for (size_t i = 0; i < len && i < max && n + 4 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '%') {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		} else
			out[n++] = (char)ch;
	}
	out[n++] = ' ';
	out[n] = '\0';
	return n;
}

/* Add what an snprintf into line + *n reported, never past the buffer. */
static void
advance(size_t *n, int w, size_t size)
{
	if (w > 0)
		*n = MIN(*n + (size_t)w, size - 1);
}

/* "ADDR PORT " of a socket address (an IPv4-mapped address as IPv4). */
static size_t
put_addr(char *out, size_t size, const struct sockaddr_storage *ss, bool ok)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	if (ok && ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ss;

		(void)inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (ok && ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			(void)inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof(ip));
		else
			(void)inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	} else
		return (size_t)snprintf(out, size, "- - ");
	return (size_t)snprintf(out, size, "%s %u ", ip, port);
}

/* "ADDR PORT " of an address as the connection keeps it (IPv6, IPv4
 * mapped): a TLS connection's socket is the relay's socketpair, so its
 * addresses are these. */
static size_t
put_addr_bytes(char *out, size_t size, const uint8_t addr[16], uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;

	in6->sin6_family = AF_INET6;
	memcpy(&in6->sin6_addr, addr, 16);
	in6->sin6_port = htons(port);
	return put_addr(out, size, &ss, true);
}

/* HTTP.sys's reason phrase for what the listener answered (status, and the
 * reason the listener's code gave) or dropped (status 0). */
static const char *
reason_phrase(unsigned status, const char *reason)
{
	static const struct {
		const char *reason, *phrase;
	} by_reason[] = {
		{ "Invalid Hostname", "Hostname" },
		{ "site maxConnections reached", "ConnLimit" },
		{ "application pool stopped", "Disabled" },
		{ "application pool stopped (rapid-fail protection)", "AppOffline" },
		{ "application pool removed", "Disabled" },
		{ "application pool queue full", "QueueFull" },
		{ "application pool at its connection limit", "AppPoolTimer" },
		{ "startupTimeLimit passed waiting for a worker", "Timer_AppPool" },
		{ "no routing table yet", "N/A" },
	};

	for (size_t i = 0; reason && i < ELEMENTSOF(by_reason); i++)
		if (streq(reason, by_reason[i].reason))
			return by_reason[i].phrase;
	if (status == 0)
		return reason ? reason : "Connection_Dropped";
	switch (status) {
	case 404:
		return "NotFound";
	case 408:
		return "Timer_HeaderWait";
	case 411:
		return "LengthRequired";
	case 413:
		return "EntityTooLarge";
	case 414:
		return "URL_Length";
	case 431:
		return "RequestLength";
	case 501:
		return "N/I";
	case 503:
		return "N/A";
	case 505:
		return "Version_N/S";
	default:
		return status >= 500 ? "Internal" : "BadRequest";
	}
}

void
lsn_httperr_log(struct lsn_env *env, struct lsn_conn *c, unsigned status, const char *reason)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	bool peer_ok, local_ok;
	char line[HTTPERR_LINE_MAX];
	const char *pool = c->pool ? c->pool->name : "";
	time_t now = time(NULL);
	struct tm tm;
	size_t n;
	int r;

	if (env->httperr.dfd < 0)
		return;
	(void)gmtime_r(&now, &tm);
	n = 0;
	advance(&n,
		snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec),
		sizeof(line));
	if (c->have_addrs) {
		n += put_addr_bytes(line + n, sizeof(line) - n, c->peer, c->peer_port);
		n += put_addr_bytes(line + n, sizeof(line) - n, c->local, c->local_port);
	} else {
		peer_ok = getpeername(c->fd, (struct sockaddr *)&peer, &pl) == 0;
		local_ok = getsockname(c->fd, (struct sockaddr *)&local, &ll) == 0;
		n += put_addr(line + n, sizeof(line) - n, &peer, peer_ok);
		n += put_addr(line + n, sizeof(line) - n, &local, local_ok);
	}
	n += put_field(line + n, sizeof(line) - n, strempty(c->req_version),
		       strlen(strempty(c->req_version)), 16);
	n += put_field(line + n, sizeof(line) - n, c->buf + c->req_method_off, c->req_method_len,
		       HTTPERR_METHOD_MAX);
	n += put_field(line + n, sizeof(line) - n, c->buf + c->req_uri_off, c->req_uri_len,
		       HTTPERR_URI_MAX);
	if (status)
		advance(&n, snprintf(line + n, sizeof(line) - n, "%u ", status), sizeof(line));
	else
		advance(&n, snprintf(line + n, sizeof(line) - n, "- "), sizeof(line));
	if (c->site)
		advance(&n, snprintf(line + n, sizeof(line) - n, "%u ", c->site->id), sizeof(line));
	else
		advance(&n, snprintf(line + n, sizeof(line) - n, "- "), sizeof(line));
	advance(&n, snprintf(line + n, sizeof(line) - n, "%s ", reason_phrase(status, reason)),
		sizeof(line));
	n += put_field(line + n, sizeof(line) - n, pool, strlen(pool), HTTPERR_POOL_MAX);
	line[n - 1] = '\n'; /* the last field's separator */
	r = lsn_httperr_write(&env->httperr, line, n, now);
	if (r < 0 && !env->httperr.warned) {
		env->httperr.warned = true;
		log_warning_errno(r, "HTTPERR log: cannot write httperr%u.log; dropping its lines",
				  env->httperr.seq);
	}
}

void
lsn_httperr_start(struct lsn_env *env)
{
	struct wasp_httperr_settings s;
	const char *bad = NULL;
	int r;

	env->httperr = (struct lsn_httperr){ .dfd = -1, .fd = -1 };
	r = wasp_httperr_settings(&s, &bad);
	if (r < 0) {
		(void)log_errno(r, "%s: invalid (see docs/design.md \"The HTTPERR log\"); HTTPERR "
				   "logging is off",
				bad);
		return;
	}
	if (!s.enabled)
		return;
	r = lsn_httperr_open(&env->httperr, s.dir, s.truncate_size, s.max_files);
	if (r < 0)
		log_warning_errno(r, "HTTPERR log: cannot open '%s'; not logging", s.dir);
	else
		log_debug("HTTPERR log in '%s' (%llu bytes a file, %u files)", s.dir,
			  (unsigned long long)s.truncate_size, s.max_files);
}
