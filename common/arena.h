/* Bump allocator for per-request, per-connection and per-config-generation
 * memory. Objects are never freed one by one: the whole arena goes at once,
 * after its cleanup callbacks ran (last registered runs first). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "util.h"

#define WASP_ARENA_BLOCK_SIZE 16384
/* What every type wasp keeps in an arena needs (pointers, 64-bit
 * integers; none of long double's or SIMD's 16): 8, not 16, wastes half as
 * much on the small allocations a configuration is made of. */
#define WASP_ARENA_ALIGN 8

struct wasp_arena_block;
struct wasp_arena_big;
struct wasp_arena_cleanup;

struct wasp_arena {
	struct wasp_arena_block *blocks; /* current block first */
	struct wasp_arena_big *big;      /* allocations over a quarter block */
	struct wasp_arena_cleanup *cleanups;
	size_t total; /* bytes handed out, for accounting */
};

typedef void (*wasp_arena_cleanup_fn)(void *data);

/* Returns a new arena or NULL on OOM. */
struct wasp_arena *wasp_arena_new(void);
/* Runs cleanups, frees every block. NULL-safe; returns NULL. */
struct wasp_arena *wasp_arena_free(struct wasp_arena *a);
/* Frees everything but keeps the first block for reuse (keep-alive). */
void wasp_arena_reset(struct wasp_arena *a);

/* Free the blocks that arenas gave back and that are kept for reuse: big
 * ones (over a quarter block, at most 1 MiB in all) and standard ones (at
 * most 8). Returns the bytes freed. */
size_t wasp_arena_spare_drop(void);

/* Allocation, aligned to WASP_ARENA_ALIGN. NULL only on OOM. */
void *wasp_arena_alloc(struct wasp_arena *a, size_t size);
void *wasp_arena_zalloc(struct wasp_arena *a, size_t size);
void *wasp_arena_memdup(struct wasp_arena *a, const void *p, size_t n);
/* Strings, not aligned (packed one after the other). */
char *wasp_arena_strdup(struct wasp_arena *a, const char *s);
char *wasp_arena_strndup(struct wasp_arena *a, const char *s, size_t n);
char *wasp_arena_printf(struct wasp_arena *a, const char *fmt, ...) _printf_(2, 3);

/* Register fn(data) to run when the arena is freed or reset. -ENOMEM on OOM. */
int wasp_arena_add_cleanup(struct wasp_arena *a, wasp_arena_cleanup_fn fn, void *data);
/* Close fd when the arena goes. */
int wasp_arena_add_fd(struct wasp_arena *a, int fd);
