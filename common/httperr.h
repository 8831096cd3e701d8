/* The HTTPERR log's settings, shared by waspd (which prepares its
 * directory) and the listener (which writes it, listener/httperr.c). HTTP.sys
 * reads them from the registry (HKLM\System\CurrentControlSet\Services\HTTP\
 * Parameters); wasp from waspd's environment under the same names, which
 * the listener inherits (docs/design.md "The HTTPERR log"):
 *
 *  - WASP_HTTP_ENABLE_ERROR_LOGGING: 1 (default) or 0 (EnableErrorLogging);
 *  - WASP_HTTP_ERROR_LOGGING_DIR: an absolute directory holding HTTPERR/
 *    (ErrorLoggingDir); default $WASP_LOG_DIR, else $localstatedir/log/wasp;
 *  - WASP_HTTP_ERROR_LOG_FILE_TRUNCATE_SIZE: bytes per file before the next
 *    (ErrorLogFileTruncateSize), 1 MiB (the default, and HTTP.sys's
 *    minimum) to 4 GiB;
 *  - WASP_HTTP_ERROR_LOG_MAX_FILES: files kept (wasp's own bound: HTTP.sys
 *    keeps every file), 1 to 1000, default 10. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define WASP_HTTPERR_TRUNCATE_MIN (1024 * 1024)
#define WASP_HTTPERR_TRUNCATE_MAX (4ull * 1024 * 1024 * 1024)
#define WASP_HTTPERR_MAX_FILES_DEFAULT 10
#define WASP_HTTPERR_MAX_FILES_MAX 1000

struct wasp_httperr_settings {
	bool enabled;
	char dir[PATH_MAX]; /* .../HTTPERR */
	uint64_t truncate_size;
	uint32_t max_files;
};

/* The settings from the environment; -EINVAL (-ENAMETOOLONG) with *bad the
 * variable's name when one is malformed or out of range: the callers then
 * leave HTTPERR logging off (enabled false) rather than write somewhere
 * nobody asked for, and say so. */
int wasp_httperr_settings(struct wasp_httperr_settings *ret, const char **bad);
