#include <stdio.h>

#include "arena.h"

struct wasp_arena_block {
	struct wasp_arena_block *next;
	size_t size; /* usable bytes in data[] */
	size_t used;
	_Alignas(WASP_ARENA_ALIGN) unsigned char data[];
};

struct wasp_arena_big {
	struct wasp_arena_big *next;
	size_t size; /* usable bytes in data[] */
	_Alignas(WASP_ARENA_ALIGN) unsigned char data[];
};

/* Big allocations freed with their arena, kept for the next ones of about
 * their size: a proxied request's two 64 KiB buffers went through malloc
 * and free (and glibc's consolidation of the heap's top) on every request.
 * At most ARENA_SPARE_MAX blocks of at most ARENA_SPARE_SIZE bytes; a
 * process gives them back with wasp_arena_spare_drop() (the worker does
 * when it is idle). Processes are single-threaded. */
#define ARENA_SPARE_MAX 4
#define ARENA_SPARE_SIZE (256 * 1024)
static struct wasp_arena_big *spare[ARENA_SPARE_MAX];
static size_t n_spare;

/* A spare block for size bytes: one of at least size, at most twice that. */
static struct wasp_arena_big *
spare_take(size_t size)
{
	for (size_t i = 0; i < n_spare; i++)
		if (spare[i]->size >= size && spare[i]->size / 2 <= size) {
			struct wasp_arena_big *b = spare[i];

			spare[i] = spare[--n_spare];
			return b;
		}
	return NULL;
}

struct wasp_arena_cleanup {
	struct wasp_arena_cleanup *next;
	wasp_arena_cleanup_fn fn;
	void *data;
};

/* Blocks after an arena's first one, given back by a reset or a free,
 * kept for the next arena that outgrows its first block (a proxied
 * request's arena does, every request): at most ARENA_SPARE_BLOCKS. */
#define ARENA_SPARE_BLOCKS 8
static struct wasp_arena_block *spare_blocks;
static size_t n_spare_blocks;

static void
block_release(struct wasp_arena_block *b)
{
	if (n_spare_blocks < ARENA_SPARE_BLOCKS) {
		b->next = spare_blocks;
		spare_blocks = b;
		n_spare_blocks++;
	} else
		free(b);
}

static struct wasp_arena_block *
block_new(size_t size)
{
	struct wasp_arena_block *b;

	if (spare_blocks) { /* every block has the one size */
		b = spare_blocks;
		spare_blocks = b->next;
		n_spare_blocks--;
	} else
		b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

size_t
wasp_arena_spare_drop(void)
{
	size_t n = 0;

	while (n_spare > 0) {
		n += spare[--n_spare]->size;
		free(spare[n_spare]);
	}
	while (spare_blocks) {
		struct wasp_arena_block *b = spare_blocks;

		spare_blocks = b->next;
		n += b->size;
		free(b);
	}
	n_spare_blocks = 0;
	return n;
}

struct wasp_arena *
wasp_arena_new(void)
{
	struct wasp_arena *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->blocks = block_new(WASP_ARENA_BLOCK_SIZE - sizeof(struct wasp_arena_block));
	if (!a->blocks) {
		free(a);
		return NULL;
	}
	return a;
}

static void
run_cleanups(struct wasp_arena *a)
{
	while (a->cleanups) {
		struct wasp_arena_cleanup *c = a->cleanups;
		a->cleanups = c->next;
		c->fn(c->data);
	}
}

static void
free_big(struct wasp_arena *a)
{
	while (a->big) {
		struct wasp_arena_big *b = a->big;
		a->big = b->next;
		if (b->size <= ARENA_SPARE_SIZE && n_spare < ARENA_SPARE_MAX)
			spare[n_spare++] = b;
		else
			free(b);
	}
}

void
wasp_arena_reset(struct wasp_arena *a)
{
	struct wasp_arena_block *keep;

	run_cleanups(a);
	free_big(a);
	/* Keep the last block in the chain: it is the original, standard one. */
	keep = a->blocks;
	while (keep->next) {
		struct wasp_arena_block *n = keep->next;
		block_release(keep);
		keep = n;
	}
	keep->used = 0;
	a->blocks = keep;
	a->total = 0;
}

struct wasp_arena *
wasp_arena_free(struct wasp_arena *a)
{
	if (!a)
		return NULL;
	run_cleanups(a);
	free_big(a);
	while (a->blocks) {
		struct wasp_arena_block *b = a->blocks;
		a->blocks = b->next;
		free(b);
	}
	free(a);
	return NULL;
}

static void *
arena_alloc(struct wasp_arena *a, size_t size, size_t align)
{
	struct wasp_arena_block *b = a->blocks;
	size_t off;

	if (size == 0)
		size = 1;
	if (size > (WASP_ARENA_BLOCK_SIZE / 4)) {
		struct wasp_arena_big *big;
		if (size > SIZE_MAX - sizeof(*big))
			return NULL;
		big = spare_take(size);
		if (!big) {
			big = malloc(sizeof(*big) + size);
			if (!big)
				return NULL;
			big->size = size;
		}
		big->next = a->big;
		a->big = big;
		a->total += size;
		return big->data;
	}
	off = (b->used + align - 1) & ~(align - 1);
	if (off + size > b->size) {
		struct wasp_arena_block *nb =
			block_new(WASP_ARENA_BLOCK_SIZE - sizeof(struct wasp_arena_block));
		if (!nb)
			return NULL;
		nb->next = b;
		a->blocks = nb;
		b = nb;
		off = 0;
	}
	b->used = off + size;
	a->total += size;
	return b->data + off;
}

void *
wasp_arena_alloc(struct wasp_arena *a, size_t size)
{
	return arena_alloc(a, size, WASP_ARENA_ALIGN);
}

void *
wasp_arena_zalloc(struct wasp_arena *a, size_t size)
{
	void *p = wasp_arena_alloc(a, size);

	if (p)
		memset(p, 0, size);
	return p;
}

void *
wasp_arena_memdup(struct wasp_arena *a, const void *src, size_t n)
{
	void *p = wasp_arena_alloc(a, n);

	if (p && n)
		memcpy(p, src, n);
	return p;
}

/* Text needs no alignment: a configuration's strings (several per site)
 * are packed, not each rounded up to WASP_ARENA_ALIGN. */
char *
wasp_arena_strndup(struct wasp_arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1, 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
wasp_arena_strdup(struct wasp_arena *a, const char *s)
{
	return wasp_arena_strndup(a, s, strlen(s));
}

char *
wasp_arena_printf(struct wasp_arena *a, const char *fmt, ...)
{
	va_list ap, ap2;
	char *p;
	int n;

	struct wasp_arena_block *b = a->blocks;
	size_t room = b->size - b->used;

	/* into the current block's room at once: one vsnprintf when the text
	 * fits (the proxies format some on every request), two when not */
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf((char *)b->data + b->used, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		return NULL;
	}
	if ((size_t)n < room) {
		va_end(ap2);
		p = (char *)b->data + b->used;
		b->used += (size_t)n + 1;
		a->total += (size_t)n + 1;
		return p;
	}
	p = arena_alloc(a, (size_t)n + 1, 1);
	if (p)
		(void)vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

int
wasp_arena_add_cleanup(struct wasp_arena *a, wasp_arena_cleanup_fn fn, void *data)
{
	struct wasp_arena_cleanup *c = wasp_arena_alloc(a, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->data = data;
	c->next = a->cleanups;
	a->cleanups = c;
	return 0;
}

static void
close_fd_cleanup(void *data)
{
	(void)close((int)(intptr_t)data);
}

int
wasp_arena_add_fd(struct wasp_arena *a, int fd)
{
	return wasp_arena_add_cleanup(a, close_fd_cleanup, (void *)(intptr_t)fd);
}
