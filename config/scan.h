/* scan.c: the site and pool entries of applicationHost.config's text, by
 * byte range and hash, and a hash of everything else. Internal to config/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

enum { CFG_SCAN_SITES, CFG_SCAN_POOLS, CFG_SCAN__COLLS };
#define CFG_SCAN_MAX_OTHERS 4

struct cfg_scan_item {
	size_t off, len; /* the element's text, '<' to its end */
	int line;        /* of its '<' */
	uint64_t hash;   /* cfg_hash_bytes() of the text */
};

struct cfg_scan_coll {
	struct cfg_scan_item *items; /* document order */
	size_t n_items, n_alloc;
	/* the collection's other elements (its *Defaults): how many entries
	 * come before each, in document order */
	size_t others_before[CFG_SCAN_MAX_OTHERS];
	size_t n_others;
};

struct cfg_scan {
	bool ok; /* false: a layout the scan does not follow (see scan.c) */
	uint64_t skeleton;
	struct cfg_scan_coll colls[CFG_SCAN__COLLS];
};

/* 0 (ret->ok says whether the layout was followed) or -ENOMEM. */
int cfg_scan_text(const char *buf, size_t len, struct cfg_scan *ret);
void cfg_scan_done(struct cfg_scan *sc);
