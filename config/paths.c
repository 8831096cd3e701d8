/* Strings and paths in configuration values: %VAR% expansion, Windows
 * paths ('\' separators, drive letters) resolved against a file's
 * directory, and the normalised location/URL paths the merge compares. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"
#include "wasp-build.h"

const char *
cfg_expand_env(struct wasp_arena *arena, const char *s)
{
	const char *p = s, *start;
	size_t cap = strlen(s) + 1, len = 0;
	char *out;

	if (!strchr(s, '%'))
		return s;
	out = malloc(cap);
	if (!out)
		return NULL;
	while (*p) {
		const char *val = NULL, *end;
		size_t add;

		start = p;
		if (*p == '%' && (end = strchr(p + 1, '%')) && end > p + 1) {
			char name[256];
			size_t nl = (size_t)(end - p - 1);

			if (nl < sizeof(name)) {
				memcpy(name, p + 1, nl);
				name[nl] = '\0';
				val = getenv(name);
			}
			if (val) {
				add = strlen(val);
				p = end + 1;
			} else {
				/* Unknown: keep "%NAME" and look again from the
				 * closing '%' (it may open the next variable). */
				val = start;
				add = nl + 1;
				p = end;
			}
		} else {
			val = p;
			add = 1;
			p++;
		}
		if (len + add + 1 > cap) {
			char *n;

			cap = (len + add + 1) * 2;
			n = realloc(out, cap);
			if (!n) {
				free(out);
				return NULL;
			}
			out = n;
		}
		memcpy(out + len, val, add);
		len += add;
	}
	out[len] = '\0';
	start = wasp_arena_strdup(arena, out);
	free(out);
	return start;
}

bool
cfg_is_drive_path(const char *s)
{
	return isalpha((unsigned char)s[0]) && s[1] == ':' &&
	       (s[2] == '\0' || s[2] == '/' || s[2] == '\\');
}

const char *
cfg_resolve_path(struct wasp_arena *arena, const char *dir, const char *s)
{
	char *p;

	/* an absolute path as written is kept as it is (s is the arena's
	 * already): not a second copy of every physicalPath */
	if (!strchr(s, '\\') && (s[0] == '/' || !*s || !dir))
		return s;
	p = wasp_arena_strdup(arena, s);
	if (!p)
		return NULL;
	for (char *q = p; *q; q++)
		if (*q == '\\')
			*q = '/';
	if (!*p || p[0] == '/' || cfg_is_drive_path(p) || p[0] == '%' || !dir)
		return p;
	if (p[0] == '.' && p[1] == '/')
		p += 2;
	else if (p[0] == '.' && p[1] == '\0')
		return wasp_arena_strdup(arena, dir);
	return wasp_arena_printf(arena, "%s/%s", dir, p);
}

char *
cfg_normalize_path(struct wasp_arena *arena, const char *p)
{
	char *out = wasp_arena_alloc(arena, strlen(p) + 1);

	if (!out)
		return NULL;
	cfg_normalize_path_into(out, p);
	return out;
}

void
cfg_normalize_path_into(char *out, const char *p)
{
	char *o = out;

	while (*p) {
		while (*p == '/' || *p == '\\')
			p++;
		if (!*p)
			break;
		if (p[0] == '.' && (p[1] == '/' || p[1] == '\\' || p[1] == '\0')) {
			p++;
			continue;
		}
		if (o != out)
			*o++ = '/';
		while (*p && *p != '/' && *p != '\\')
			*o++ = *p++;
	}
	*o = '\0';
}

bool
cfg_path_is_prefix(const char *prefix, const char *path)
{
	size_t l = strlen(prefix);

	if (l == 0)
		return true;
	if (strncasecmp(prefix, path, l) != 0)
		return false;
	return path[l] == '\0' || path[l] == '/';
}

size_t
cfg_path_depth(const char *p)
{
	size_t n = 0;

	if (!*p)
		return 0;
	for (n = 1; *p; p++)
		if (*p == '/')
			n++;
	return n;
}

const char *
wasp_config_log_directory(const char *dir, char *buf, size_t size)
{
	static const char iis[] = "%SystemDrive%\\inetpub\\logs\\";
	const char *base = getenv("WASP_LOG_DIR");
	size_t n = sizeof(iis) - 1;

	for (size_t i = 0; i < n; i++) {
		char c = dir[i] == '/' ? '\\' : dir[i];

		if (tolower((unsigned char)c) != tolower((unsigned char)iis[i]))
			return dir;
	}
	if (!base || base[0] != '/')
		base = WASP_LOGDIR;
	if (!dir[n] || (size_t)snprintf(buf, size, "%s/%s", base, dir + n) >= size)
		return dir;
	for (char *p = buf; *p; p++)
		if (*p == '\\')
			*p = '/';
	return buf;
}
