/* Small helpers shared by every part of wasp: cleanup attributes, ownership
 * transfer, -errno wrappers. Header only. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

static inline void
freep(void *p)
{
	free(*(void **)p);
}

static inline void
closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership out of a cleanup-managed local. */
#define TAKE_PTR(p)                                                          \
	__extension__({                                                     \
		__typeof__(p) _ptr_ = (p);                                   \
		(p) = NULL;                                                  \
		_ptr_;                                                       \
	})
#define TAKE_FD(fd)                                                          \
	__extension__({                                                     \
		int _fd_ = (fd);                                             \
		(fd) = -1;                                                   \
		_fd_;                                                        \
	})

/* Turn a libc -1/errno result into -errno (0 or the value on success). */
static inline int
neg_errno_int(int r)
{
	return r < 0 ? -errno : r;
}
#define neg_errno(expr) neg_errno_int(expr)

static inline int
safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return -1;
}

/* The first bytes compared inline: against a constant, most names that
 * differ cost no call (a server variable's name goes down a list of them
 * on every lookup) */
static inline bool
streq(const char *a, const char *b)
{
	return *a == *b && strcmp(a, b) == 0;
}

static inline bool
streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static inline bool
strcaseeq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static inline const char *
strempty(const char *s)
{
	return s ? s : "";
}

/* FNV-1a of s lower-cased (ASCII): names IIS compares without case. */
static inline uint32_t
hash_lower_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
		h *= 16777619u;
	}
	return h;
}

static inline const char *
startswith(const char *s, const char *prefix)
{
	size_t l = strlen(prefix);
	return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* The entity for a character that cannot stand as itself in HTML or XML text
 * or a quoted attribute value (& < > " '), NULL for any other. */
#define WASP_HTML_ENTITY_MAX 6 /* strlen("&quot;") */
static inline const char *
wasp_html_entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

/* Parse a decimal unsigned integer that must fill the whole string.
 * Returns 0, -EINVAL (not a number) or -ERANGE (over max). */
int wasp_parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* With WASP_NODUMP=1 in the environment (waspd sets it for a child it
 * starts under another identity), make this process not dumpable: no core
 * file, and no process of its uid can ptrace it, read its memory or take
 * its descriptors (pidfd_getfd); /proc/PID becomes root's. execve resets
 * the flag, so the program sets it itself, first thing. Unsets the
 * variable. 1 done, 0 not asked, -errno. */
int wasp_nodump_from_env(void);

/* Monotonic clock in microseconds. */
uint64_t wasp_now_usec(void);
/* qsort() and bsearch() comparators: uint32_t values; uint64_t values;
 * pairs of uint32_t (a struct of two, in order) by the first, then by the
 * second. */
int wasp_u32_cmp(const void *a, const void *b);
int wasp_u64_cmp(const void *a, const void *b);
int wasp_u32_pair_cmp(const void *a, const void *b);
/* Realtime clock in microseconds. */
uint64_t wasp_realtime_usec(void);

/* usec as a struct timeval (libevent's timers take them). */
static inline struct timeval
wasp_timeval_from_usec(uint64_t usec)
{
	return (struct timeval){ .tv_sec = (time_t)(usec / 1000000),
				 .tv_usec = (suseconds_t)(usec % 1000000) };
}

/* Whether a -errno from a send or a write on a socket means the peer is
 * gone (it closed, or reset the connection), not that something failed. */
static inline bool
wasp_errno_is_disconnect(int r)
{
	return r == -EPIPE || r == -ECONNRESET;
}
