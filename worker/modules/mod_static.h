/* What StaticFileModule shares with DefaultDocumentModule and
 * DirectoryListingModule (all three are built in and serve files of the
 * "StaticFile" handler): the staticContent settings for a request, the open
 * that honours them, and serving one file. Internal to worker/modules. */
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

struct fcache;
struct fcache_entry;
struct wvdir;

struct mime_map;

/* staticContent as a request needs it, derived once per distinct effective
 * section (wasp_request_config_state) */
struct static_conf {
	const struct mime_map *mime; /* the configured mimeMap, or the built-in one */
	struct mime_map *own_mime;   /* what to free: mime unless built in */
	char *cache_control;         /* Cache-Control value, NULL for none */
	char *expires;               /* Expires value (UseExpires), NULL for none */
	bool set_etag;               /* clientCache/@setEtag */
	/* allowSymbolicLinksOutsideRoot, honoured only when applicationHost.config
	 * set it (a web.config in the content cannot widen what is served) */
	bool links_outside_root;
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

/* ---- mime.c ---- */

/* A case-insensitive extension -> Content-Type map. From the mimeMap
 * collection of a staticContent element (fileExtension ".html", "." for a
 * name without one, ".*" for any other); NULL on OOM. */
struct mime_pair {
	const char *ext; /* ".html" (kept as a pointer: it must outlive the map) */
	const char *type;
};
struct mime_map *mime_map_new(const struct mime_pair *pairs, size_t n);
void mime_map_free(struct mime_map *m);
/* The built-in map (IIS's shipped defaults), used when no mimeMap entry is
 * configured at all. Never NULL once built; NULL only on OOM. */
const struct mime_map *mime_map_builtin(void);
/* The Content-Type for the file name (its last segment's extension), or
 * NULL when the map has none (IIS: 404.3). */
const char *mime_map_lookup(const struct mime_map *m, const char *name);
size_t mime_map_size(const struct mime_map *m);

/* ---- vdir.c and fcache.c: the open that lets links leave the root ---- */

/* vdir_open(), but with links_outside_root symbolic links may resolve
 * outside v's root (no ".." is still accepted, magic links still refused). */
int vdir_open_ex(struct wvdir *v, const char *rel, int flags, bool links_outside_root,
		 uint64_t now_usec);
#define FCACHE_LINKS_OUTSIDE_ROOT 0x1u
/* fcache_open() with FCACHE_* flags (part of the cache key). */
int fcache_open_ex(struct fcache *fc, struct wvdir *v, const char *rel, unsigned flags,
		   uint64_t now_usec, struct fcache_entry **ret);

/* ---- mod_static.c ---- */

extern const struct wasp_module mod_static;
extern const struct wasp_module mod_defaultdoc;
extern const struct wasp_module mod_dirlist;

/* The request's staticContent settings. NULL only on OOM. */
const struct static_conf *static_conf_get(struct wasp_request *req);
/* wasp_request_open(req, sub, O_RDONLY, ...), or, where staticContent's
 * allowSymbolicLinksOutsideRoot is on, the same open letting symbolic links
 * leave the virtual directory root. */
int static_open(struct wasp_request *req, const char *sub, int *ret_fd, struct stat *ret_st);
/* Serve the regular file fd (stat st) named name (for its Content-Type):
 * conditional requests, ranges, clientCache. Returns WASP_DONE or WASP_ERROR. */
enum wasp_status static_serve_file(struct wasp_request *req, const char *name, int fd,
				   const struct stat *st);
/* The URL path of the request, percent-encoded for a Location or an href,
 * plus suffix (may be NULL). In the request's arena; NULL on OOM. */
char *static_url_encode(struct wasp_request *req, const char *path, const char *suffix);
/* 301 to the request's path with a '/' appended (the query kept). */
enum wasp_status static_redirect_slash(struct wasp_request *req);
/* Is the decoded path a directory URL (ends in '/')? */
bool static_path_has_slash(const struct wasp_request *req);
/* Is the segment name[0..n) one of IIS's default hiddenSegments? */
bool static_is_hidden_name(const char *name, size_t n);

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
