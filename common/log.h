/* Logging to stderr. When stderr is the stream JOURNAL_STREAM names (it is
 * connected to journald) each line starts with the syslog priority as "<N>"
 * so journald files it at the right level; on a terminal with
 * "ident[pid]: "; anywhere else (a file, a pipe) with a local timestamp
 * (2026-12-07T11:22:39.123+0000) and "ident[pid]: ". Where stderr goes is
 * looked at once, by wasp_log_init(). Daemons log; common/ code logs at
 * most at debug level. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "util.h"

/* Set the program name and the most verbose priority printed. */
void wasp_log_init(const char *ident, int max_priority);
void wasp_log_set_max_priority(int max_priority);
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
