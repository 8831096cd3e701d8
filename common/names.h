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
