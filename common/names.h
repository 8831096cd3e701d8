/* (name, index) pairs sorted by name, case-insensitive as IIS compares
 * names, then index (names.c): looking names up among thousands (pools
 * and sites by name). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct name_ref {
	const char *name;
	uint32_t index;
};

void name_refs_sort(struct name_ref *v, size_t n);
/* The first entry of name, or NULL. */
const struct name_ref *name_refs_find(const struct name_ref *v, size_t n, const char *name);

/* The same pairs in a hash table (open addressing, sized once for at most
 * n entries): made in one pass where a sort of thousands of names by
 * strcasecmp() was most of a reload's look-ups. Entries of one name come
 * back in the order they were added. */
struct name_table {
	struct name_ref *slots; /* name NULL: empty */
	size_t mask;
};

int name_table_init(struct name_table *t, size_t n); /* 0 or -ENOMEM */
void name_table_done(struct name_table *t);
/* At most the n entries name_table_init() was given. */
void name_table_add(struct name_table *t, const char *name, uint32_t index);
/* The next entry of name after *pos (0 to start; updated), or NULL. */
const struct name_ref *name_table_next(const struct name_table *t, const char *name, size_t *pos);
/* The first entry of name, or NULL. */
const struct name_ref *name_table_find(const struct name_table *t, const char *name);
