/* The open file cache: static content is served from fds kept open across
 * requests, with their fstat, so a keep-alive request for a popular file
 * costs no open, fstat or close. An entry is trusted for a second, then
 * revalidated by opening the path again (the same safe open under the
 * virtual directory root) and comparing device, inode, size and mtime: a
 * replaced or rewritten file is seen within a second, as with nginx's
 * open_file_cache_valid 1s. Requests hold a reference on the entry they
 * use, so an entry evicted or replaced while a response is being sent stays
 * open until that response is done. Bounded (FCACHE_MAX entries, least
 * recently used evicted). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"
#include "worker.h"

#define FCACHE_BUCKETS 1024 /* power of two */
#define FCACHE_VALID_USEC 1000000

struct fcache_entry {
	struct fcache_entry *hnext;       /* hash chain */
	struct fcache_entry *prev, *next; /* LRU list, most recent first */
	const struct wvdir *vdir;
	char *rel;
	uint32_t hash;
	unsigned flags; /* FCACHE_*: part of the key */
	int fd;
	struct stat st;
	uint64_t checked_usec;
	unsigned refs;
	bool detached; /* out of the cache; freed with its last reference */
};

struct fcache {
	struct fcache_entry *buckets[FCACHE_BUCKETS];
	struct fcache_entry *lru_head, *lru_tail;
	size_t n, max;
};

struct fcache *
fcache_new(size_t max)
{
	struct fcache *fc = calloc(1, sizeof(*fc));

	if (fc)
		fc->max = max ? max : FCACHE_MAX;
	return fc;
}

static uint32_t
fcache_hash(const struct wvdir *v, const char *rel, unsigned flags)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)v ^ ((uint64_t)flags << 56);

	for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

static void
entry_free(struct fcache_entry *e)
{
	safe_close(e->fd);
	free(e->rel);
	free(e);
}

static void
lru_unlink(struct fcache *fc, struct fcache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		fc->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		fc->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct fcache *fc, struct fcache_entry *e)
{
	e->prev = NULL;
	e->next = fc->lru_head;
	if (fc->lru_head)
		fc->lru_head->prev = e;
	fc->lru_head = e;
	if (!fc->lru_tail)
		fc->lru_tail = e;
}

static void
entry_detach(struct fcache *fc, struct fcache_entry *e)
{
	struct fcache_entry **pp = &fc->buckets[e->hash & (FCACHE_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(fc, e);
	fc->n--;
	e->detached = true;
	if (e->refs == 0)
		entry_free(e);
}

void
fcache_unref(struct fcache_entry *e)
{
	if (--e->refs == 0 && e->detached)
		entry_free(e);
}

int
fcache_entry_fd(const struct fcache_entry *e)
{
	return e->fd;
}

const struct stat *
fcache_entry_stat(const struct fcache_entry *e)
{
	return &e->st;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_mode == b->st_mode;
}

/* Open and fstat rel safely. Returns the fd or -errno. */
static int
open_stat(struct wvdir *v, const char *rel, unsigned flags, uint64_t now_usec,
	  struct stat *ret_st)
{
	int fd = vdir_open_ex(v, rel, O_RDONLY, flags & FCACHE_LINKS_OUTSIDE_ROOT, now_usec);

	if (fd < 0)
		return fd;
	if (fstat(fd, ret_st) < 0) {
		int r = -errno;
		safe_close(fd);
		return r;
	}
	return fd;
}

int
fcache_open(struct fcache *fc, struct wvdir *v, const char *rel, uint64_t now_usec,
	    struct fcache_entry **ret)
{
	return fcache_open_ex(fc, v, rel, 0, now_usec, ret);
}

int
fcache_open_ex(struct fcache *fc, struct wvdir *v, const char *rel, unsigned flags,
	       uint64_t now_usec, struct fcache_entry **ret)
{
	uint32_t h = fcache_hash(v, rel, flags);
	struct fcache_entry *e;
	struct stat st;
	int fd;

	for (e = fc->buckets[h & (FCACHE_BUCKETS - 1)]; e; e = e->hnext)
		if (e->hash == h && e->vdir == v && e->flags == flags && streq(e->rel, rel))
			break;
	if (e && now_usec - e->checked_usec < FCACHE_VALID_USEC) {
		lru_unlink(fc, e);
		lru_push(fc, e);
		e->refs++;
		*ret = e;
		return 0;
	}

	fd = open_stat(v, rel, flags, now_usec, &st);
	if (e) {
		if (fd >= 0 && same_file(&st, &e->st)) {
			safe_close(fd);
			e->checked_usec = now_usec;
			lru_unlink(fc, e);
			lru_push(fc, e);
			e->refs++;
			*ret = e;
			return 0;
		}
		entry_detach(fc, e); /* gone or changed */
	}
	if (fd < 0)
		return fd;

	e = calloc(1, sizeof(*e));
	if (e)
		e->rel = strdup(rel);
	if (!e || !e->rel) {
		free(e);
		safe_close(fd);
		return -ENOMEM;
	}
	e->vdir = v;
	e->hash = h;
	e->flags = flags;
	e->fd = fd;
	e->st = st;
	e->checked_usec = now_usec;
	e->refs = 1;
	e->hnext = fc->buckets[h & (FCACHE_BUCKETS - 1)];
	fc->buckets[h & (FCACHE_BUCKETS - 1)] = e;
	lru_push(fc, e);
	fc->n++;
	while (fc->n > fc->max && fc->lru_tail != e)
		entry_detach(fc, fc->lru_tail);
	*ret = e;
	return 0;
}

size_t
fcache_size(const struct fcache *fc)
{
	return fc->n;
}

struct fcache *
fcache_free(struct fcache *fc)
{
	if (!fc)
		return NULL;
	while (fc->lru_head)
		entry_detach(fc, fc->lru_head);
	free(fc);
	return NULL;
}
