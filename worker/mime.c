/* A small built-in extension -> Content-Type table, used until the
 * staticContent mimeMap module reads the configured one. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "worker.h"

struct mime {
	const char *ext; /* without '.', lower case; the table is sorted by it */
	const char *type;
};

static const struct mime mime_table[] = {
	{ "7z", "application/x-7z-compressed" },
	{ "avif", "image/avif" },
	{ "bmp", "image/bmp" },
	{ "css", "text/css" },
	{ "csv", "text/csv" },
	{ "gif", "image/gif" },
	{ "gz", "application/gzip" },
	{ "htm", "text/html" },
	{ "html", "text/html" },
	{ "ico", "image/x-icon" },
	{ "jpeg", "image/jpeg" },
	{ "jpg", "image/jpeg" },
	{ "js", "application/javascript" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "md", "text/markdown" },
	{ "mjs", "application/javascript" },
	{ "mp3", "audio/mpeg" },
	{ "mp4", "video/mp4" },
	{ "ogg", "audio/ogg" },
	{ "otf", "font/otf" },
	{ "pdf", "application/pdf" },
	{ "png", "image/png" },
	{ "svg", "image/svg+xml" },
	{ "tar", "application/x-tar" },
	{ "ttf", "font/ttf" },
	{ "txt", "text/plain" },
	{ "wasm", "application/wasm" },
	{ "webm", "video/webm" },
	{ "webp", "image/webp" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "xml", "text/xml" },
	{ "zip", "application/zip" },
};

static int
mime_cmp(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct mime *)elem)->ext);
}

const char *
mime_lookup(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *dot = strrchr(slash ? slash : name, '.');
	const struct mime *m;

	if (!dot || dot[1] == '\0')
		return "application/octet-stream";
	m = bsearch(dot + 1, mime_table, ELEMENTSOF(mime_table), sizeof(mime_table[0]), mime_cmp);
	return m ? m->type : "application/octet-stream";
}
