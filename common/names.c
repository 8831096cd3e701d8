/* Looking names up among thousands (pools by name at a reload, sites by
 * name in a generation): a sorted array of (name, index), case-insensitive
 * as IIS compares names. */
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
