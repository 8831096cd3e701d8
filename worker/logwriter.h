/* The W3C extended log format as IIS writes it, and a batching writer for
 * one site's log directory (the HttpLoggingModule's back end).
 *
 * Formatting is pure (a buffer in, a length out) so it is unit-tested on
 * its own. The writer keeps whole lines in a per-process buffer and writes
 * them with one write(2) on an O_APPEND fd when asked (a timer, a full
 * buffer, the end of the process), so a request never waits for the disk.
 * Several processes (a web garden) may append to the same file: each write
 * carries whole lines only, and a new file appears with its header block
 * already in it (written to a temporary name, then link(2)ed in place). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* logExtFileFlags bits (IIS values). */
enum {
	W3C_F_DATE = 1,
	W3C_F_TIME = 2,
	W3C_F_CLIENT_IP = 4,
	W3C_F_USER_NAME = 8,
	W3C_F_SITE_NAME = 16,
	W3C_F_COMPUTER_NAME = 32,
	W3C_F_SERVER_IP = 64,
	W3C_F_METHOD = 128,
	W3C_F_URI_STEM = 256,
	W3C_F_URI_QUERY = 512,
	W3C_F_HTTP_STATUS = 1024,
	W3C_F_WIN32_STATUS = 2048,
	W3C_F_BYTES_SENT = 4096,
	W3C_F_BYTES_RECV = 8192,
	W3C_F_TIME_TAKEN = 16384,
	W3C_F_SERVER_PORT = 32768,
	W3C_F_USER_AGENT = 65536,
	W3C_F_COOKIE = 131072,
	W3C_F_REFERER = 262144,
	W3C_F_PROTOCOL_VERSION = 524288,
	W3C_F_HOST = 1048576,
	W3C_F_HTTP_SUB_STATUS = 2097152,
};

#define W3C_F_ALL 0x3fffffU

/* IIS's default logExtFileFlags. */
#define W3C_F_DEFAULT                                                                    \
	(W3C_F_DATE | W3C_F_TIME | W3C_F_CLIENT_IP | W3C_F_USER_NAME | W3C_F_SERVER_IP |     \
	 W3C_F_METHOD | W3C_F_URI_STEM | W3C_F_URI_QUERY | W3C_F_HTTP_STATUS |               \
	 W3C_F_WIN32_STATUS | W3C_F_TIME_TAKEN | W3C_F_SERVER_PORT | W3C_F_USER_AGENT |      \
	 W3C_F_REFERER | W3C_F_HTTP_SUB_STATUS)

/* logFile period (IIS enum values). MaxSize names files by a counter, not a
 * time (logwriter_set_max_size()). */
enum w3c_period {
	W3C_PERIOD_MAX_SIZE = 0,
	W3C_PERIOD_DAILY = 1,
	W3C_PERIOD_WEEKLY = 2,
	W3C_PERIOD_MONTHLY = 3,
	W3C_PERIOD_HOURLY = 4,
	/* OR'd in: name files and roll over by local time (localTimeRollover);
	 * the date and time fields stay UTC, as in IIS */
	W3C_PERIOD_LOCAL_TIME = 0x100,
};

/* One request as the log sees it. NULL or "" strings are logged as '-'. */
struct w3c_entry {
	time_t time; /* UTC seconds: the date and time fields */
	const char *site_name; /* "W3SVC1" */
	const char *computer_name;
	const char *server_ip;
	const char *method;
	const char *uri_stem;
	const char *uri_query;
	unsigned server_port;
	const char *user_name;
	const char *client_ip;
	const char *version; /* "HTTP/1.1" */
	const char *user_agent;
	const char *cookie;
	const char *referer;
	const char *host;
	unsigned status, substatus, win32_status;
	uint64_t bytes_sent, bytes_received;
	uint64_t time_taken_ms;
};

/* The field names for flags, in IIS's order, separated by spaces (no
 * "#Fields: ", no newline). Returns the length (snprintf-like: may be >=
 * size, then truncated). */
size_t w3c_fields(uint32_t flags, char *buf, size_t size);
/* The header block IIS starts a file with: #Software, #Version: 1.0, #Date
 * (now, UTC), #Fields. Returns its length, or -ENOBUFS. */
int w3c_format_header(uint32_t flags, time_t now, char *buf, size_t size);
/* One entry as a log line ending in "\n". Values: ' ' becomes '+', other
 * control bytes %XX, empty '-'. NUL-terminated; returns its length (without
 * the NUL), or -ENOBUFS when size is below w3c_line_size(). */
int w3c_format_line(uint32_t flags, const struct w3c_entry *e, char *buf, size_t size);
/* An upper bound of w3c_format_line()'s length for e. */
size_t w3c_line_size(uint32_t flags, const struct w3c_entry *e);
/* The file name of the period t falls in: u_exYYMMDD.log (Daily),
 * u_exYYMMDDHH.log (Hourly), u_exYYMMWW.log (Weekly: week of the month,
 * weeks start on Sunday), u_exYYMM.log (Monthly); UTC unless period has
 * W3C_PERIOD_LOCAL_TIME. Returns the start of that period and of the next
 * one in *ret_start and *ret_end. */
void w3c_file_name(enum w3c_period period, time_t t, char buf[32], time_t *ret_start,
		   time_t *ret_end);

struct logwriter;

/* A writer for files in dir (created, with its parents, on the first
 * flush: mode 0750, files 0660 less the umask: 0640, or the group bits as
 * the mask in a directory with a default ACL). The flags select the fields
 * of the header it writes. NULL on OOM. */
struct logwriter *logwriter_new(const char *dir, enum w3c_period period, uint32_t flags);
/* period MaxSize (logFile truncateSize): write files u_extend1.log,
 * u_extend2.log, ... of at most max_size bytes each (> 0; IIS's minimum is
 * 1 MiB, well above a flush), going on from the highest one in the
 * directory; the period given to logwriter_new() is then not used. */
void logwriter_set_max_size(struct logwriter *w, uint64_t max_size);
/* Flushes, closes, frees. NULL-safe; returns NULL. */
struct logwriter *logwriter_free(struct logwriter *w);
/* Buffer one complete line (ending in '\n') that belongs to time t (the
 * file is chosen by t). Writes out first when t starts another file or the
 * buffer is full. 0, or -errno when an implied flush failed (the lines in
 * question are dropped, once logged). */
int logwriter_append(struct logwriter *w, time_t t, const char *line, size_t len);
/* Write out everything buffered. 0 or -errno (the buffer is dropped then). */
int logwriter_flush(struct logwriter *w);
/* Is anything buffered? */
bool logwriter_pending(const struct logwriter *w);
/* The directory given to logwriter_new(). */
const char *logwriter_dir(const struct logwriter *w);
