/* Looking names up among thousands (pools by name at a reload, sites by
 * name in a generation): a sorted array of (name, index), case-insensitive
 * as IIS compares names. */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "names.h"

static int
name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int r = strcasecmp(x->name, y->name);

	return r ? r : (x->index > y->index) - (x->index < y->index);
}

void
name_refs_sort(struct name_ref *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), name_ref_cmp);
}

const struct name_ref *
name_refs_find(const struct name_ref *v, size_t n, const char *name)
{
	size_t a = 0, b = n;

	while (a < b) { /* the first entry not below name */
		size_t m = a + (b - a) / 2;

		if (strcasecmp(v[m].name, name) < 0)
			a = m + 1;
		else
			b = m;
	}
	return a < n && strcasecmp(v[a].name, name) == 0 ? &v[a] : NULL;
}

/* FNV-1a of the ASCII-lowercased bytes (strcasecmp's equality in the C
 * locale), folded so that the low bits, which pick the slot, see them all. */
static uint64_t
name_hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *s; s++)
		h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s)) *
		    UINT64_C(0x100000001b3);
	return h ^ (h >> 29);
}

int
name_table_init(struct name_table *t, size_t n)
{
	size_t mask = 15;

	while (mask + 1 < 2 * n)
		mask = mask * 2 + 1;
	t->slots = calloc(mask + 1, sizeof(*t->slots));
	t->mask = mask;
	return t->slots ? 0 : -ENOMEM;
}

void
name_table_done(struct name_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

void
name_table_add(struct name_table *t, const char *name, uint32_t index)
{
	size_t i = name_hash(name) & t->mask;

	while (t->slots[i].name)
		i = (i + 1) & t->mask;
	t->slots[i] = (struct name_ref){ name, index };
}

const struct name_ref *
name_table_next(const struct name_table *t, const char *name, size_t *pos)
{
	/* *pos: 0, or the slot after the last entry returned, + 1 */
	size_t i = *pos ? *pos - 1 : name_hash(name) & t->mask;

	for (; t->slots[i].name; i = (i + 1) & t->mask)
		if (strcasecmp(t->slots[i].name, name) == 0) {
			*pos = ((i + 1) & t->mask) + 1;
			return &t->slots[i];
		}
	return NULL;
}

const struct name_ref *
name_table_find(const struct name_table *t, const char *name)
{
	size_t pos = 0;

	return name_table_next(t, name, &pos);
}
