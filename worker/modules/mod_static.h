/* StaticFileModule's internals that its unit tests reach: the
 * staticContent settings for a request, serving one file, ranges and
 * validators. No other module includes this: DefaultDocumentModule and
 * DirectoryListingModule reach files through the core (wasp/module.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "wasp/module.h"

#define STATIC_SECTION "system.webServer/staticContent"
#define STATIC_MAX_RANGES 16            /* more ranges in one Range field: 200 */
#define STATIC_MAX_MULTIPART (1u << 20) /* multipart/byteranges bodies over it: 200 */

struct mime_map;

/* staticContent as a request needs it, derived once per distinct effective
 * section (a declared section, wasp_request_module_conf) */
struct static_conf {
	const struct mime_map *mime; /* the configured mimeMap, or the built-in one */
	struct mime_map *own_mime;   /* what to free: mime unless built in */
	char *cache_control;         /* Cache-Control value, NULL for none */
	char *expires;               /* Expires value (UseExpires), NULL for none */
	bool set_etag;               /* clientCache/@setEtag */
	/* the last Last-Modified formatted for this section (gmtime_r is a
	 * good part of a small file's cost; files of a site share mtimes) */
	time_t lm_sec;
	char lm_text[30];
	/* the last ETag formatted for this section, and what it was made of */
	struct timespec etag_mtim;
	off_t etag_size;
	ino_t etag_ino;
	size_t etag_len; /* 0: none yet */
	char etag_text[64];
};

/* ---- mod_static.c ---- */

/* A byte range, both ends included. */
struct static_range {
	uint64_t first, last;
};
/* Parse a Range field value for a representation of size bytes into at
 * most max ranges (clamped to the size, in the order given). Returns 1 and
 * *ret_n when at least one range is satisfiable, -ERANGE when none is (416),
 * 0 when the field is to be ignored (not "bytes=", invalid syntax, more
 * than max ranges): then the whole representation is sent. */
int static_parse_ranges(const char *s, uint64_t size, struct static_range *out, size_t max,
			size_t *ret_n);
/* The quoted strong ETag of a file (54 bytes are enough); its length. */
size_t static_etag(const struct stat *st, char *out);
/* Does the If-Match / If-None-Match list v[0..len) ("*", or entity-tags)
 * match etag? weak: the weak comparison (W/ ignored), else the strong one. */
bool static_etag_list_match(const char *v, size_t len, const char *etag, size_t etag_len,
			    bool weak);
