/* The staticContent mimeMap as a hash table (extension -> Content-Type),
 * built once per distinct effective section. As in IIS, a file whose
 * extension is not in it is not served (404.3); "." maps names without an
 * extension and ".*" every extension not listed. The configuration's
 * built-in defaults (config/defaults.c) hold the same common types as the
 * table here, which serves only without any configuration and for the
 * types of custom error files (mime_lookup). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "worker.h"

struct mime_slot {
	const char *ext; /* ".html"; NULL: empty slot */
	const char *type;
	uint32_t hash;
};

struct mime_map {
	struct mime_slot *slots;
	size_t mask; /* slots - 1, a power of two minus one */
	size_t n;
};

static const struct mime_pair builtin[] = {
	{ ".7z", "application/x-7z-compressed" },
	{ ".aac", "audio/aac" },
	{ ".apk", "application/vnd.android.package-archive" },
	{ ".appcache", "text/cache-manifest" },
	{ ".avi", "video/x-msvideo" },
	{ ".avif", "image/avif" },
	{ ".bin", "application/octet-stream" },
	{ ".bmp", "image/bmp" },
	{ ".bz2", "application/x-bzip2" },
	{ ".cab", "application/vnd.ms-cab-compressed" },
	{ ".css", "text/css" },
	{ ".csv", "text/csv" },
	{ ".doc", "application/msword" },
	{ ".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
	{ ".dtd", "application/xml-dtd" },
	{ ".eot", "application/vnd.ms-fontobject" },
	{ ".epub", "application/epub+zip" },
	{ ".exe", "application/octet-stream" },
	{ ".flac", "audio/flac" },
	{ ".flv", "video/x-flv" },
	{ ".gif", "image/gif" },
	{ ".gz", "application/gzip" },
	{ ".htc", "text/x-component" },
	{ ".htm", "text/html" },
	{ ".html", "text/html" },
	{ ".ico", "image/x-icon" },
	{ ".ics", "text/calendar" },
	{ ".iso", "application/octet-stream" },
	{ ".jar", "application/java-archive" },
	{ ".jpe", "image/jpeg" },
	{ ".jpeg", "image/jpeg" },
	{ ".jpg", "image/jpeg" },
	{ ".js", "application/javascript" },
	{ ".json", "application/json" },
	{ ".jsonld", "application/ld+json" },
	{ ".m4a", "audio/mp4" },
	{ ".m4v", "video/mp4" },
	{ ".manifest", "text/cache-manifest" },
	{ ".map", "application/json" },
	{ ".md", "text/markdown" },
	{ ".mid", "audio/mid" },
	{ ".midi", "audio/mid" },
	{ ".mjs", "text/javascript" },
	{ ".mov", "video/quicktime" },
	{ ".mp3", "audio/mpeg" },
	{ ".mp4", "video/mp4" },
	{ ".mpeg", "video/mpeg" },
	{ ".mpg", "video/mpeg" },
	{ ".msi", "application/octet-stream" },
	{ ".oga", "audio/ogg" },
	{ ".ogg", "audio/ogg" },
	{ ".ogv", "video/ogg" },
	{ ".otf", "font/otf" },
	{ ".pdf", "application/pdf" },
	{ ".png", "image/png" },
	{ ".ppt", "application/vnd.ms-powerpoint" },
	{ ".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
	{ ".ps", "application/postscript" },
	{ ".rar", "application/x-rar-compressed" },
	{ ".rss", "application/rss+xml" },
	{ ".rtf", "application/rtf" },
	{ ".svg", "image/svg+xml" },
	{ ".svgz", "image/svg+xml" },
	{ ".swf", "application/x-shockwave-flash" },
	{ ".tar", "application/x-tar" },
	{ ".tgz", "application/x-compressed" },
	{ ".tif", "image/tiff" },
	{ ".tiff", "image/tiff" },
	{ ".ttf", "font/ttf" },
	{ ".txt", "text/plain" },
	{ ".vtt", "text/vtt" },
	{ ".wasm", "application/wasm" },
	{ ".wav", "audio/wav" },
	{ ".weba", "audio/webm" },
	{ ".webm", "video/webm" },
	{ ".webmanifest", "application/manifest+json" },
	{ ".webp", "image/webp" },
	{ ".wmv", "video/x-ms-wmv" },
	{ ".woff", "font/woff" },
	{ ".woff2", "font/woff2" },
	{ ".xhtml", "application/xhtml+xml" },
	{ ".xls", "application/vnd.ms-excel" },
	{ ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	{ ".xml", "text/xml" },
	{ ".xsd", "text/xml" },
	{ ".xsl", "text/xml" },
	{ ".xslt", "text/xml" },
	{ ".zip", "application/x-zip-compressed" },
};

static uint32_t
ext_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + ('a' - 'A'));
		h = (h ^ c) * 16777619u;
	}
	return h;
}

struct mime_map *
mime_map_new(const struct mime_pair *pairs, size_t n)
{
	struct mime_map *m = calloc(1, sizeof(*m));
	size_t size = 16;

	if (!m)
		return NULL;
	while (size < n * 2)
		size *= 2;
	m->slots = calloc(size, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	m->mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t h = ext_hash(pairs[i].ext, strlen(pairs[i].ext));
		size_t j = h & m->mask;

		while (m->slots[j].ext && !strcaseeq(m->slots[j].ext, pairs[i].ext))
			j = (j + 1) & m->mask;
		if (!m->slots[j].ext)
			m->n++;
		m->slots[j] = (struct mime_slot){ .ext = pairs[i].ext, .type = pairs[i].type, .hash = h };
	}
	return m;
}

void
mime_map_free(struct mime_map *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

size_t
mime_map_size(const struct mime_map *m)
{
	return m->n;
}

const struct mime_map *
mime_map_builtin(void)
{
	/* built on first use and kept for the life of the process: it is
	 * constant data, only laid out as a hash table */
	static struct mime_map *map;

	if (!map)
		map = mime_map_new(builtin, ELEMENTSOF(builtin));
	return map;
}

static const char *
find(const struct mime_map *m, const char *ext, size_t n)
{
	uint32_t h = ext_hash(ext, n);

	for (size_t j = h & m->mask; m->slots[j].ext; j = (j + 1) & m->mask)
		if (m->slots[j].hash == h && strncasecmp(m->slots[j].ext, ext, n) == 0 &&
		    m->slots[j].ext[n] == '\0')
			return m->slots[j].type;
	return NULL;
}

const char *
mime_map_lookup(const struct mime_map *m, const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	const char *dot = strrchr(base, '.');
	const char *t;

	if (!m)
		return NULL;
	t = dot ? find(m, dot, strlen(dot)) : find(m, ".", 1);
	return t ? t : find(m, ".*", 2);
}

const char *
mime_lookup(const char *name)
{
	const char *t = mime_map_lookup(mime_map_builtin(), name);

	return t ? t : "application/octet-stream";
}
