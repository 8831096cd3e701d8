/* The HTTPERR log's settings from the environment (httperr.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httperr.h"
#include "util.h"
#include "wasp-build.h"

static int
setting_u64(const char *name, uint64_t min, uint64_t max, uint64_t *val, const char **bad)
{
	const char *s = getenv(name);
	uint64_t v;

	if (!s)
		return 0;
	if (wasp_parse_u64(s, max, &v) < 0 || v < min) {
		*bad = name;
		return -EINVAL;
	}
	*val = v;
	return 0;
}

int
wasp_httperr_settings(struct wasp_httperr_settings *ret, const char **bad)
{
	const char *dir = getenv("WASP_HTTP_ERROR_LOGGING_DIR");
	uint64_t enabled = 1, files = WASP_HTTPERR_MAX_FILES_DEFAULT;
	int r;

	*ret = (struct wasp_httperr_settings){ .truncate_size = WASP_HTTPERR_TRUNCATE_MIN };
	*bad = NULL;
	r = setting_u64("WASP_HTTP_ENABLE_ERROR_LOGGING", 0, 1, &enabled, bad);
	if (r >= 0)
		r = setting_u64("WASP_HTTP_ERROR_LOG_FILE_TRUNCATE_SIZE", WASP_HTTPERR_TRUNCATE_MIN,
				WASP_HTTPERR_TRUNCATE_MAX, &ret->truncate_size, bad);
	if (r >= 0)
		r = setting_u64("WASP_HTTP_ERROR_LOG_MAX_FILES", 1, WASP_HTTPERR_MAX_FILES_MAX,
				&files, bad);
	if (r < 0)
		return r;
	if (dir && dir[0] != '/') {
		*bad = "WASP_HTTP_ERROR_LOGGING_DIR";
		return -EINVAL;
	}
	if (!dir) {
		dir = getenv("WASP_LOG_DIR");
		if (!dir || dir[0] != '/')
			dir = WASP_LOGDIR;
	}
	if ((size_t)snprintf(ret->dir, sizeof(ret->dir), "%s%sHTTPERR", dir,
			     dir[strlen(dir) - 1] == '/' ? "" : "/") >= sizeof(ret->dir)) {
		*bad = "WASP_HTTP_ERROR_LOGGING_DIR";
		return -ENAMETOOLONG;
	}
	ret->max_files = (uint32_t)files;
	ret->enabled = enabled == 1;
	return 0;
}
