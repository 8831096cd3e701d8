/* URL Rewrite's outbound body filter: a streaming scanner of HTML that
 * finds the URL attributes of chosen tags (<a href>, <img src>, a
 * customTags entry) and lets its caller rewrite their values. Bounded: it
 * holds at most one tag (HF_MAX_TAG bytes) between calls, so a body of any
 * size goes through in pieces, and a tag split across pieces is seen
 * whole. Pure: no request, no configuration. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HF_MAX_TAG 8192   /* bytes of one tag held to be looked at; a longer one passes as it is */
#define HF_MAX_VALUE 4096 /* an attribute value longer than this is not offered for rewriting */
#define HF_MAX_OUT 32768  /* what one rewritten tag may become; more: the tag passes as it is */
#define HF_MIN_ROOM HF_MAX_OUT /* output room hf_feed needs to always make progress */

/* IIS's filterByTags flags (the schema's values). */
enum {
	HF_A = 1,
	HF_AREA = 2,
	HF_BASE = 4,
	HF_FORM = 8,
	HF_FRAME = 16,
	HF_HEAD = 32,
	HF_IFRAME = 64,
	HF_IMG = 128,
	HF_INPUT = 256,
	HF_LINK = 512,
	HF_SCRIPT = 1024,
	HF_CUSTOM = 32768,
};

/* The filterByTags flag of a well-known tag's URL attribute (<a href>:
 * HF_A, <img src>: HF_IMG), 0 when attr is not one of tag's URL attributes
 * (case-insensitive, lengths given). */
unsigned hf_url_attr(const char *tag, size_t tag_len, const char *attr, size_t attr_len);

/* Offered every attribute value (as written, without its quotes) of every
 * start tag: 1 with *ret a malloc'd new value, 0 to leave it, <0 an error
 * (the tag passes as it is). */
typedef int (*hf_rewrite_fn)(void *userdata, const char *tag, size_t tag_len, const char *attr,
			     size_t attr_len, const char *value, size_t len, char **ret);

struct hf {
	unsigned state;
	char quote;          /* the quote of the value being read, or 0 */
	char prev;           /* the last byte of the tag that was not white space */
	size_t match;        /* how much of "-->" or the raw end tag has been seen */
	const char *raw_end; /* "</script" or "</style": the end of raw text */
	size_t tag_len;
	hf_rewrite_fn fn;
	void *userdata;
	char tag[HF_MAX_TAG];
};

void hf_init(struct hf *h, hf_rewrite_fn fn, void *userdata);
/* Filter in[0..len) into out (room bytes). Returns the input bytes taken
 * (*ret_out: the bytes written); it takes at least one whenever len > 0
 * and room >= HF_MIN_ROOM. end: the body is over; whatever it held (a tag
 * cut short) is written as it is (needs room >= HF_MIN_ROOM). */
size_t hf_feed(struct hf *h, const char *in, size_t len, bool end, char *out, size_t room,
	       size_t *ret_out);
