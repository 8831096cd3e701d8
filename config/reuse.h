/* reuse.c and reuse_load.c: a reload that reuses the previous generation's
 * site and pool entries. Internal to config/. */
#pragma once

#include "scan.h"

/* Reloads in a row that reuse entries before one loads the whole file. */
#define CFG_REUSE_MAX_DEPTH 16

/* Where a generation's entries were in its file (cfg->items): for each, a
 * key of its text and line (cfg_item_key(): 8 bytes, kept for every site
 * and pool of an idle generation). */
struct cfg_items {
	uint64_t *v[CFG_SCAN__COLLS];
	size_t n[CFG_SCAN__COLLS];
	uint64_t skeleton;
	const struct wasp_apphost *ah; /* the typed view they match, once bound */
};

/* The collection's element at applicationHost.config's own level (NULL:
 * none; *ret_ok false when the section is there more than once or in a
 * <location>). */
struct cfg_node *cfg_reuse_coll_root(const struct wasp_config *cfg, int coll, bool *ret_ok);
/* An entry's key: its text's hash (cfg_hash_bytes(), which counts the
 * length) with its line. Equal keys: the same text on the same line. */
uint64_t cfg_item_key(const struct cfg_scan_item *it);
/* A scan's entries, to keep; NULL on OOM. */
struct cfg_items *cfg_items_from_scan(const struct cfg_scan *sc);
