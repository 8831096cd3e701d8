/* libFuzzer target for the outbound rules' HTML scanner
 * (worker/modules/html_filter.c).
 *
 * Input: one byte choosing the piece size the body is cut into (1-256),
 * one choosing what the rewrite function does (bit 0: rewrite every
 * offered value, bit 1: make it long), then the body. Checked: the scanner
 * always makes progress with HF_MIN_ROOM of output; the output is the same
 * however the body is cut; when nothing is rewritten the output is the
 * input byte for byte; offered values lie inside the tag and are at most
 * HF_MAX_VALUE long; everything is freed (LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "html_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned mode;

static int
rewrite(void *userdata, const char *tag, size_t tag_len, const char *attr, size_t attr_len,
	const char *value, size_t len, char **ret)
{
	size_t n;

	(void)userdata;
	CHECK(tag_len > 0 && attr_len > 0 && len <= HF_MAX_VALUE);
	CHECK(tag_len < HF_MAX_TAG && attr_len < HF_MAX_TAG);
	if (!(mode & 1))
		return 0;
	n = (mode & 2) ? len * 8 + 3 : len + 1;
	*ret = malloc(n + 1);
	if (!*ret)
		return -1;
	for (size_t i = 0; i < n; i++)
		(*ret)[i] = i < len ? value[i] : "'\" x"[i % 4];
	(*ret)[n] = '\0';
	return 1;
}

/* Filter body in pieces of `piece` bytes; the output (malloc'd, *ret_len). */
static char *
run(const char *body, size_t len, size_t piece, size_t *ret_len)
{
	static struct hf h;
	static char buf[HF_MIN_ROOM];
	size_t cap = len * 40 + HF_MAX_OUT * 2, olen = 0, at = 0;
	char *out = malloc(cap);

	CHECK(out);
	hf_init(&h, rewrite, NULL);
	for (;;) {
		size_t n = len - at < piece ? len - at : piece, w = 0, took;
		bool end = at + n == len;

		took = hf_feed(&h, body + at, n, end, buf, sizeof(buf), &w);
		CHECK(took <= n && w <= sizeof(buf));
		CHECK(took > 0 || w > 0 || n == 0);
		CHECK(olen + w <= cap);
		memcpy(out + olen, buf, w);
		olen += w;
		at += took;
		if (end && took == n)
			break;
	}
	*ret_len = olen;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	char *a, *b;
	size_t piece, len, alen, blen;

	if (size < 2)
		return 0;
	piece = (size_t)data[0] + 1;
	mode = data[1];
	body = (const char *)data + 2;
	len = size - 2;
	a = run(body, len, len ? len : 1, &alen);
	b = run(body, len, piece, &blen);
	CHECK(alen == blen && memcmp(a, b, alen) == 0);
	if (!(mode & 1))
		CHECK(alen == len && memcmp(a, body, len) == 0);
	free(a);
	free(b);
	return 0;
}
