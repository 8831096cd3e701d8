/* Logging. When stderr is the stream JOURNAL_STREAM names (systemd connected
 * it to journald) each line is a journal entry sent over journald's native
 * socket, with PRIORITY, SYSLOG_IDENTIFIER (the process kind: waspd,
 * wasp-http, wasp-worker), SYSLOG_PID, WASP_POOL (a worker's pool, once
 * wasp_log_set_pool() named it) and ERRNO; the socket is
 * /run/systemd/journal/socket, or the one WASP_JOURNAL_SOCKET names. If it
 * cannot be reached the line goes to stderr with the priority as "<N>", so
 * journald still files it at the right level (under the stream's identity).
 * On a terminal each line starts with "ident[pid]: level: " (ident/pool for
 * a worker that knows its pool; level is error, warning, notice, info,
 * debug...); anywhere else (a file, a pipe) with a local timestamp
 * (2026-12-07T11:22:39.123+0000) and the same prefix. Where stderr goes is
 * looked at once, by wasp_log_init(). Daemons log; common/ code logs at most
 * at debug level. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "util.h"

/* Set the program name and the most verbose priority printed. */
void wasp_log_init(const char *ident, int max_priority);
void wasp_log_set_max_priority(int max_priority);
/* A worker's application pool: part of its identity in every line after. */
void wasp_log_set_pool(const char *pool);
/* Whether wasp_log_init() was called (the process is a daemon that logs). */
bool wasp_log_initialized(void);
int wasp_log_get_max_priority(void);

/* Log one line; returns -abs(err) so callers can `return log_errno(r, ...)`.
 * With err != 0, ": <strerror>" is appended. */
int wasp_log_internal(int priority, int err, const char *fmt, ...) _printf_(3, 4);
int wasp_log_internalv(int priority, int err, const char *fmt, va_list ap) _printf_(3, 0);

#define log_full_errno(prio, err, ...) wasp_log_internal((prio), (err), __VA_ARGS__)
#define log_debug(...) wasp_log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) wasp_log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) wasp_log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) wasp_log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) wasp_log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_errno(err, ...) wasp_log_internal(LOG_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) wasp_log_internal(LOG_WARNING, (err), __VA_ARGS__)
#define log_debug_errno(err, ...) wasp_log_internal(LOG_DEBUG, (err), __VA_ARGS__)

/* Startup failures and broken invariants only. */
_Noreturn void wasp_fatal(const char *fmt, ...) _printf_(1, 2);
