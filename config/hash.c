/* A small string-keyed hash table (chained, power-of-two buckets) for the
 * configuration caches. Keys are copied; values are not owned. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cfg_cache_entry {
	struct cfg_cache_entry *next;
	uint64_t hash;
	void *value;
	char key[];
};

struct cfg_cache {
	struct cfg_cache_entry **buckets;
	size_t n_buckets;
	size_t n;
};

/* Eight bytes at a time (keys are "site\npath\nsection", looked up several
 * times per request: FNV-1a's multiply per byte was most of a lookup), then
 * splitmix64's finalizer so that the low bits, which pick the bucket, depend
 * on every byte. */
uint64_t
cfg_hash_bytes(const char *s, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
		h ^= h >> 31;
	}
	w = 0;
	memcpy(&w, s, n);
	h ^= w;
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return h;
}

static uint64_t
hash_str(const char *s)
{
	return cfg_hash_bytes(s, strlen(s));
}

struct cfg_cache *
cfg_cache_new(void)
{
	struct cfg_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->n_buckets = 64;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	return c;
}

struct cfg_cache *
cfg_cache_free(struct cfg_cache *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_buckets; i++)
		for (struct cfg_cache_entry *e = c->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(c->buckets);
	free(c);
	return NULL;
}

static struct cfg_cache_entry *
find(struct cfg_cache *c, const char *key, uint64_t h)
{
	for (struct cfg_cache_entry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->next)
		if (e->hash == h && streq(e->key, key))
			return e;
	return NULL;
}

void *
cfg_cache_get(struct cfg_cache *c, const char *key)
{
	struct cfg_cache_entry *e = find(c, key, hash_str(key));

	return e ? e->value : NULL;
}

static int
grow(struct cfg_cache *c)
{
	size_t n = c->n_buckets * 2;
	struct cfg_cache_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_buckets; i++)
		for (struct cfg_cache_entry *e = c->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(c->buckets);
	c->buckets = b;
	c->n_buckets = n;
	return 0;
}

int
cfg_cache_put(struct cfg_cache *c, const char *key, void *value)
{
	uint64_t h = hash_str(key);
	struct cfg_cache_entry *e = find(c, key, h);
	size_t len;

	if (e) {
		e->value = value;
		return 0;
	}
	if (c->n >= c->n_buckets && grow(c) < 0)
		return -ENOMEM;
	len = strlen(key);
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = c->buckets[h & (c->n_buckets - 1)];
	c->buckets[h & (c->n_buckets - 1)] = e;
	c->n++;
	return 0;
}

void *
cfg_grow(struct wasp_arena *a, void *v, size_t n, size_t *n_alloc, size_t size)
{
	size_t na;
	void *p;

	if (n < *n_alloc)
		return v;
	na = *n_alloc ? *n_alloc * 2 : 4;
	p = wasp_arena_alloc(a, na * size);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, v, n * size);
	*n_alloc = na;
	return p;
}

size_t
cfg_cache_count(const struct cfg_cache *c)
{
	return c->n;
}

void
cfg_cache_clear(struct cfg_cache *c, void (*free_value)(void *))
{
	for (size_t i = 0; i < c->n_buckets; i++) {
		for (struct cfg_cache_entry *e = c->buckets[i], *next; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
		c->buckets[i] = NULL;
	}
	c->n = 0;
}
