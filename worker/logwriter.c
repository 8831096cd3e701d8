/* The W3C extended log format (IIS's fields, order and escaping) and a
 * batching, append-only writer for one site's log directory. See
 * logwriter.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "logwriter.h"
#include "util.h"
#include "wasp-build.h"

#define LOGWRITER_BUF_SIZE (64 * 1024) /* flushed when full */
#define LOGWRITER_TAIL_SCAN (64 * 1024) /* where a reopened file's last #Fields is looked for */
#define LOGWRITER_HEADER_MAX 1024 /* a header block is shorter (open_log's buffer) */

/* ---- format ------------------------------------------------------------ */

/* The fields in IIS's order. */
static const struct {
	uint32_t flag;
	const char *name;
} fields[] = {
	{ W3C_F_DATE, "date" },
	{ W3C_F_TIME, "time" },
	{ W3C_F_SITE_NAME, "s-sitename" },
	{ W3C_F_COMPUTER_NAME, "s-computername" },
	{ W3C_F_SERVER_IP, "s-ip" },
	{ W3C_F_METHOD, "cs-method" },
	{ W3C_F_URI_STEM, "cs-uri-stem" },
	{ W3C_F_URI_QUERY, "cs-uri-query" },
	{ W3C_F_SERVER_PORT, "s-port" },
	{ W3C_F_USER_NAME, "cs-username" },
	{ W3C_F_CLIENT_IP, "c-ip" },
	{ W3C_F_PROTOCOL_VERSION, "cs-version" },
	{ W3C_F_USER_AGENT, "cs(User-Agent)" },
	{ W3C_F_COOKIE, "cs(Cookie)" },
	{ W3C_F_REFERER, "cs(Referer)" },
	{ W3C_F_HOST, "cs-host" },
	{ W3C_F_HTTP_STATUS, "sc-status" },
	{ W3C_F_HTTP_SUB_STATUS, "sc-substatus" },
	{ W3C_F_WIN32_STATUS, "sc-win32-status" },
	{ W3C_F_BYTES_SENT, "sc-bytes" },
	{ W3C_F_BYTES_RECV, "cs-bytes" },
	{ W3C_F_TIME_TAKEN, "time-taken" },
};

size_t
w3c_fields(uint32_t flags, char *buf, size_t size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
		int n;

		if (!(flags & fields[i].flag))
			continue;
		n = snprintf(buf + MIN(len, size), size - MIN(len, size), "%s%s", len ? " " : "",
			     fields[i].name);
		len += (size_t)n;
	}
	return len;
}

int
w3c_format_header(uint32_t flags, time_t now, char *buf, size_t size)
{
	char f[512];
	struct tm tm;
	int n;

	if (!gmtime_r(&now, &tm))
		return -EINVAL;
	if (w3c_fields(flags, f, sizeof(f)) >= sizeof(f))
		return -ENOBUFS;
	n = snprintf(buf, size,
		     "#Software: wasp " WASP_VERSION "\n"
		     "#Version: 1.0\n"
		     "#Date: %04d-%02d-%02d %02d:%02d:%02d\n"
		     "#Fields: %s\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return n;
}

/* Append one value: '-' when empty; ' ' -> '+' (as IIS), other control
 * bytes and DEL -> %XX, so a value never breaks the line or the columns.
 * A '#' that would start the line becomes %23 (it would read as a
 * directive). */
static char *
put_str(char *p, const char *s, bool first)
{
	static const char hex[] = "0123456789ABCDEF";

	if (!s || !*s) {
		*p++ = '-';
		return p;
	}
	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		if (*u == ' ') {
			*p++ = '+';
		} else if (*u < 0x20 || *u == 0x7f || (first && u == (const unsigned char *)s && *u == '#')) {
			*p++ = '%';
			*p++ = hex[*u >> 4];
			*p++ = hex[*u & 15];
		} else {
			*p++ = (char)*u;
		}
	}
	return p;
}

static size_t
str_size(const char *s)
{
	return s ? 3 * strlen(s) + 1 : 1;
}

size_t
w3c_line_size(uint32_t flags, const struct w3c_entry *e)
{
	(void)flags;
	/* numbers, date and time: at most 20 characters each, 22 fields */
	return 22 * 21 + 2 + str_size(e->site_name) + str_size(e->computer_name) +
	       str_size(e->server_ip) + str_size(e->method) + str_size(e->uri_stem) +
	       str_size(e->uri_query) + str_size(e->user_name) + str_size(e->client_ip) +
	       str_size(e->version) + str_size(e->user_agent) + str_size(e->cookie) +
	       str_size(e->referer) + str_size(e->host);
}

/* "YYYY-MM-DD" and "HH:MM:SS" of t, formatted once a second (the lines of
 * one second share them). false when t cannot be represented. */
static bool
utc_date_time(time_t t, const char **ret_date, const char **ret_time)
{
	static time_t cached_t = (time_t)-1;
	static char date[32], tod[32];
	struct tm tm;

	if (t != cached_t) {
		if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
			return false;
		snprintf(date, sizeof(date), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
		snprintf(tod, sizeof(tod), "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_t = t;
	}
	*ret_date = date;
	*ret_time = tod;
	return true;
}

/* Append v in decimal. */
static char *
put_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *
put_raw(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* Longer than most functions here: one flat case per W3C field, in the
 * table's (IIS's) order, reads better than the same split in pieces. */
int
w3c_format_line(uint32_t flags, const struct w3c_entry *e, char *buf, size_t size)
{
	const char *date = NULL, *tod = NULL;
	char *p = buf;
	bool first = true;

	if (size < w3c_line_size(flags, e))
		return -ENOBUFS;
	if ((flags & (W3C_F_DATE | W3C_F_TIME)) && !utc_date_time(e->time, &date, &tod))
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
		uint32_t f = fields[i].flag;

		if (!(flags & f))
			continue;
		if (!first)
			*p++ = ' ';
		switch (f) {
		case W3C_F_DATE:
			p = put_raw(p, date);
			break;
		case W3C_F_TIME:
			p = put_raw(p, tod);
			break;
		case W3C_F_SITE_NAME:
			p = put_str(p, e->site_name, first);
			break;
		case W3C_F_COMPUTER_NAME:
			p = put_str(p, e->computer_name, first);
			break;
		case W3C_F_SERVER_IP:
			p = put_str(p, e->server_ip, first);
			break;
		case W3C_F_METHOD:
			p = put_str(p, e->method, first);
			break;
		case W3C_F_URI_STEM:
			p = put_str(p, e->uri_stem, first);
			break;
		case W3C_F_URI_QUERY:
			p = put_str(p, e->uri_query, first);
			break;
		case W3C_F_SERVER_PORT:
			p = put_u64(p, e->server_port);
			break;
		case W3C_F_USER_NAME:
			p = put_str(p, e->user_name, first);
			break;
		case W3C_F_CLIENT_IP:
			p = put_str(p, e->client_ip, first);
			break;
		case W3C_F_PROTOCOL_VERSION:
			p = put_str(p, e->version, first);
			break;
		case W3C_F_USER_AGENT:
			p = put_str(p, e->user_agent, first);
			break;
		case W3C_F_COOKIE:
			p = put_str(p, e->cookie, first);
			break;
		case W3C_F_REFERER:
			p = put_str(p, e->referer, first);
			break;
		case W3C_F_HOST:
			p = put_str(p, e->host, first);
			break;
		case W3C_F_HTTP_STATUS:
			p = put_u64(p, e->status);
			break;
		case W3C_F_HTTP_SUB_STATUS:
			p = put_u64(p, e->substatus);
			break;
		case W3C_F_WIN32_STATUS:
			p = put_u64(p, e->win32_status);
			break;
		case W3C_F_BYTES_SENT:
			p = put_u64(p, e->bytes_sent);
			break;
		case W3C_F_BYTES_RECV:
			p = put_u64(p, e->bytes_received);
			break;
		case W3C_F_TIME_TAKEN:
			p = put_u64(p, e->time_taken_ms);
			break;
		}
		first = false;
	}
	*p++ = '\n';
	*p = '\0';
	return (int)(p - buf);
}

/* Two digits (years as IIS names them: 26 for 2026). */
#define D2(v) ((unsigned)(v) % 100u)

/* Midnight (or hour:00) of a broken-down date, in UTC or local time. */
static time_t
mk(int year, int mon, int mday, int hour, bool local)
{
	struct tm s = { .tm_year = year, .tm_mon = mon, .tm_mday = mday, .tm_hour = hour };

	if (!local)
		return timegm(&s);
	s.tm_isdst = -1;
	return mktime(&s);
}

void
w3c_file_name(enum w3c_period period, time_t t, char buf[32], time_t *ret_start, time_t *ret_end)
{
	bool local = period & W3C_PERIOD_LOCAL_TIME;
	struct tm tm;
	time_t start, end;
	int y, m, d;

	if (!(local ? localtime_r(&t, &tm) : gmtime_r(&t, &tm)))
		tm = (struct tm){ .tm_year = 70, .tm_mday = 1 };
	y = tm.tm_year, m = tm.tm_mon, d = tm.tm_mday;
	switch ((enum w3c_period)(period & ~W3C_PERIOD_LOCAL_TIME)) {
	case W3C_PERIOD_HOURLY:
		start = mk(y, m, d, tm.tm_hour, local);
		end = mk(y, m, d, tm.tm_hour + 1, local);
		snprintf(buf, 32, "u_ex%02u%02u%02u%02u.log", D2(y), D2(m + 1), D2(d),
			 D2(tm.tm_hour));
		break;
	case W3C_PERIOD_MONTHLY:
		start = mk(y, m, 1, 0, local);
		end = mk(y, m + 1, 1, 0, local);
		snprintf(buf, 32, "u_ex%02u%02u.log", D2(y), D2(m + 1));
		break;
	case W3C_PERIOD_WEEKLY: {
		/* weeks of the month, starting on Sunday; the 1st is in week 1 */
		int first_wday = ((tm.tm_wday - (d - 1)) % 7 + 7) % 7;
		int week = (d - 1 + first_wday) / 7 + 1;
		int sunday = d - tm.tm_wday, next_sunday = sunday + 7;

		start = mk(y, m, MAX(sunday, 1), 0, local);
		end = MIN(mk(y, m, next_sunday, 0, local), mk(y, m + 1, 1, 0, local));
		snprintf(buf, 32, "u_ex%02u%02u%02u.log", D2(y), D2(m + 1), D2(week));
		break;
	}
	case W3C_PERIOD_MAX_SIZE:
	case W3C_PERIOD_DAILY:
	default:
		start = mk(y, m, d, 0, local);
		end = mk(y, m, d + 1, 0, local);
		snprintf(buf, 32, "u_ex%02u%02u%02u.log", D2(y), D2(m + 1), D2(d));
		break;
	}
	if (ret_start)
		*ret_start = start;
	if (ret_end)
		*ret_end = end;
}

/* ---- the writer --------------------------------------------------------- */

struct logwriter {
	char *dir;
	enum w3c_period period;
	uint32_t flags;
	char *buf;
	size_t len;
	/* the file the buffered lines belong to */
	char name[32];
	time_t start, end;
	/* the open file */
	int fd;
	char fd_name[32];
	int last_err; /* the last open/write error logged, so it is logged once */
	/* period MaxSize: files u_extend<seq>.log of at most max_size bytes */
	uint64_t max_size;
	unsigned seq; /* 0 until the directory was looked at */
};

struct logwriter *
logwriter_new(const char *dir, enum w3c_period period, uint32_t flags)
{
	struct logwriter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->dir = strdup(dir);
	w->buf = malloc(LOGWRITER_BUF_SIZE);
	if (!w->dir || !w->buf) {
		free(w->dir);
		free(w->buf);
		free(w);
		return NULL;
	}
	w->period = period;
	w->flags = flags;
	w->fd = -1;
	return w;
}

struct logwriter *
logwriter_free(struct logwriter *w)
{
	if (!w)
		return NULL;
	(void)logwriter_flush(w);
	safe_close(w->fd);
	free(w->dir);
	free(w->buf);
	free(w);
	return NULL;
}

const char *
logwriter_dir(const struct logwriter *w)
{
	return w->dir;
}

bool
logwriter_pending(const struct logwriter *w)
{
	return w->len > 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Is the last "#Fields:" line within the file's last LOGWRITER_TAIL_SCAN
 * bytes the same as ours? (Then the lines we append read right without a
 * header block of our own.) */
static bool
tail_has_fields(int fd, const char *fields_line)
{
	struct stat st;
	char *buf;
	off_t off;
	ssize_t n;
	bool same = false;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return false;
	buf = malloc(LOGWRITER_TAIL_SCAN + 1);
	if (!buf)
		return false;
	off = st.st_size > LOGWRITER_TAIL_SCAN ? st.st_size - LOGWRITER_TAIL_SCAN : 0;
	n = pread(fd, buf, LOGWRITER_TAIL_SCAN, off);
	if (n > 0) {
		char *last = NULL;

		buf[n] = '\0';
		for (char *p = buf; (p = strstr(p, "#Fields:")) != NULL; p++)
			if (p == buf ? off == 0 : p[-1] == '\n')
				last = p;
		if (last) {
			size_t l = strcspn(last, "\n");
			same = l == strlen(fields_line) - 1 && memcmp(last, fields_line, l) == 0 &&
			       last[l] == '\n';
		}
	}
	free(buf);
	return same;
}

/* Open w->name in w->dir for appending. A new file appears with its header
 * already in it; an existing one gets a header block unless its last one
 * has our fields. Returns the fd or -errno. */
static int
open_log(struct logwriter *w)
{
	char path[PATH_MAX], tmp[PATH_MAX], hdr[LOGWRITER_HEADER_MAX];
	int fd, r, h;

	if (snprintf(path, sizeof(path), "%s/%s", w->dir, w->name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	h = w3c_format_header(w->flags, time(NULL), hdr, sizeof(hdr));
	if (h < 0)
		return h;
	for (int attempt = 0; attempt < 2; attempt++) {
		/* read-write: its tail tells whether it needs our header */
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno == EACCES)
			fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			const char *fl = strstr(hdr, "#Fields:");
			if (!tail_has_fields(fd, fl) && (r = write_all(fd, hdr, (size_t)h)) < 0) {
				safe_close(fd);
				return r;
			}
			return fd;
		}
		if (errno != ENOENT)
			return -errno;
		r = wasp_mkdir_p(w->dir, 0755, 0750, 0);
		if (r < 0)
			return r;
		/* a new file: header first, under a temporary name, then
		 * linked in place (never a moment without its header) */
		if (snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", w->dir, w->name, (int)getpid()) >=
		    (int)sizeof(tmp))
			return -ENAMETOOLONG;
		/* 0660: the umask (022) makes it 0640; where waspd shared the
		 * directory between pools with a default ACL, the umask does
		 * not apply and the group bits become the mask, so every pool
		 * of the site can append (activator/logdirs.c) */
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0660);
		if (fd < 0)
			return -errno;
		r = write_all(fd, hdr, (size_t)h);
		if (r == 0 && link(tmp, path) < 0)
			r = -errno;
		(void)unlink(tmp);
		if (r == -EEXIST) { /* another process made it first: append to theirs */
			safe_close(fd);
			continue;
		}
		if (r < 0) {
			safe_close(fd);
			return r;
		}
		if (fcntl(fd, F_SETFL, O_APPEND) < 0) {
			r = -errno;
			safe_close(fd);
			return r;
		}
		return fd;
	}
	return -EEXIST;
}

void
logwriter_set_max_size(struct logwriter *w, uint64_t max_size)
{
	w->max_size = max_size;
	w->seq = 0;
	w->name[0] = '\0';
}

/* MaxSize: the highest N of the u_extendN.log files in the directory (the
 * one to go on with, as IIS does after a restart), 1 when there are none. */
static unsigned
maxsize_last_seq(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned best = 1;
	struct dirent *de;

	if (!d)
		return best;
	while ((de = readdir(d))) {
		unsigned long n;
		char *end;

		if (strncmp(de->d_name, "u_extend", 8) != 0 || !isdigit((unsigned char)de->d_name[8]))
			continue;
		n = strtoul(de->d_name + 8, &end, 10);
		if (streq(end, ".log") && n > best && n < UINT_MAX)
			best = (unsigned)n;
	}
	closedir(d);
	return best;
}

/* MaxSize: make w->fd a file of the sequence with room for len more bytes:
 * the current one, or the next ones (a web garden's other workers may have
 * started them already). A file holding no more than its header block is
 * used whatever len is. 0 or -errno. */
static int
maxsize_open(struct logwriter *w, size_t len)
{
	if (w->seq == 0)
		w->seq = maxsize_last_seq(w->dir);
	for (unsigned tries = 0;; tries++) {
		struct stat st;
		int r;

		(void)snprintf(w->name, sizeof(w->name), "u_extend%u.log", w->seq);
		if (w->fd < 0 || !streq(w->fd_name, w->name)) {
			w->fd = safe_close(w->fd);
			r = open_log(w);
			if (r < 0)
				return r;
			w->fd = r;
			memcpy(w->fd_name, w->name, sizeof(w->name));
		}
		if (fstat(w->fd, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size + len <= w->max_size ||
		    st.st_size <= LOGWRITER_HEADER_MAX || tries >= 64 || w->seq == UINT_MAX)
			return 0;
		w->seq++;
	}
}

int
logwriter_flush(struct logwriter *w)
{
	int r;

	if (w->len == 0)
		return 0;
	if (w->fd >= 0) {
		struct stat st;

		/* deleted or moved away (an operator, logrotate): start it again */
		if (fstat(w->fd, &st) < 0 || st.st_nlink == 0)
			w->fd = safe_close(w->fd);
	}
	if (w->max_size > 0) {
		r = maxsize_open(w, w->len);
		if (r < 0)
			goto fail;
	} else if (w->fd < 0 || !streq(w->fd_name, w->name)) {
		w->fd = safe_close(w->fd);
		r = open_log(w);
		if (r < 0)
			goto fail;
		w->fd = r;
		memcpy(w->fd_name, w->name, sizeof(w->name));
	}
	r = write_all(w->fd, w->buf, w->len);
	if (r < 0) {
		w->fd = safe_close(w->fd);
		goto fail;
	}
	w->len = 0;
	w->last_err = 0;
	return 0;
fail:
	if (r != w->last_err)
		log_warning_errno(r, "log file %s/%s (as uid %u; the directory must be writable "
				     "by the pool's identity): %zu bytes of log lines dropped",
				  w->dir, w->name, (unsigned)geteuid(), w->len);
	w->last_err = r;
	w->len = 0;
	return r;
}

int
logwriter_append(struct logwriter *w, time_t t, const char *line, size_t len)
{
	int r = 0;

	/* MaxSize: the file is chosen by size, when the lines are written */
	if (w->max_size == 0 && (t < w->start || t >= w->end || !w->name[0])) {
		char name[32];
		time_t start, end;

		w3c_file_name(w->period, t, name, &start, &end);
		if (!streq(name, w->name)) {
			r = logwriter_flush(w); /* the old file's lines go to the old file */
			memcpy(w->name, name, sizeof(name));
		}
		w->start = start;
		w->end = end;
	}
	if (w->len + len > LOGWRITER_BUF_SIZE) {
		int q = logwriter_flush(w);
		if (q < 0)
			r = q;
	}
	if (len > LOGWRITER_BUF_SIZE) { /* cannot happen with maxLogLineLength; be safe */
		len = LOGWRITER_BUF_SIZE;
		memcpy(w->buf, line, len - 1);
		w->buf[len - 1] = '\n';
		w->len = len;
		return r;
	}
	memcpy(w->buf + w->len, line, len);
	w->len += len;
	return r;
}
