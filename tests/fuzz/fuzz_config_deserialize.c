/* libFuzzer target for wasp_config_deserialize (config/serialize.c): what a
 * worker does with the sealed memfd the activator sends in WORKER_CONFIG.
 * The buffer carries the schema packed (so this also fuzzes
 * cfg_schema_unpack) and JSON with the declarations and sections. A malformed buffer
 * must be refused, never crash; a generation that loads must give every
 * section, and serialize to bytes that load back and serialize the same.
 * The input is an exact-size copy, not NUL-terminated.
 *
 * Input: one mode byte, then the data. Mode bit 0 clear: the data is the
 * whole buffer. Set: the data is the JSON part only, framed with the real
 * schema and the right lengths (taken from serializing a small generation
 * at start-up), so mutations reach the JSON decoder instead of breaking
 * the framing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const sections[] = {
	"system.applicationHost/applicationPools",
	"system.applicationHost/sites",
	"system.webServer/defaultDocument",
	"system.webServer/directoryBrowse",
	"system.webServer/handlers",
	"system.webServer/httpErrors",
	"system.webServer/modules",
	"system.webServer/staticContent",
	"system.webServer/security/requestFiltering",
};

/* Everything of a real serialized generation before its JSON part. */
static char *framing;
static size_t framing_len;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char xml[] = "<configuration><system.applicationHost><sites>"
				  "<site name=\"S\" id=\"1\" /></sites>"
				  "</system.applicationHost></configuration>";
	struct wasp_config_opts opts = { .no_env_expansion = true };
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	char *buf = NULL;
	size_t len = 0, i;

	CHECK(wasp_config_load_buffer(xml, sizeof(xml) - 1, "fuzz/applicationHost.config", &opts,
				      &cfg, &diags) == 0);
	CHECK(wasp_config_serialize(cfg, &buf, &len) == 0);
	/* ... "\njson <len>\n" <json>: keep up to and including that '\n'. */
	CHECK(len > 6);
	for (i = len - 6; i > 0 && memcmp(buf + i, "\njson ", 6) != 0; i--)
		;
	CHECK(i > 0);
	framing_len = i + 1;
	framing = malloc(framing_len);
	CHECK(framing);
	memcpy(framing, buf, framing_len);
	free(buf);
	wasp_config_free(cfg);
	wasp_diag_list_done(&diags);
	return 0;
}

static void
walk(const struct wasp_element *e, int depth)
{
	CHECK(e->name);
	for (size_t i = 0; i < e->n_attrs; i++) {
		CHECK(e->attrs[i].name && e->attrs[i].value.text);
		CHECK(wasp_element_attr(e, e->attrs[i].name));
	}
	for (size_t i = 0; i < e->n_children && depth < 16; i++)
		walk(e->children[i], depth + 1);
	for (size_t i = 0; i < e->n_items && depth < 16; i++)
		walk(e->items[i], depth + 1);
}

static struct wasp_config *
deserialize(const char *buf, size_t len, int *ret_r)
{
	struct wasp_config_opts opts = { .no_env_expansion = true };
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	char *copy = malloc(len ? len : 1);

	CHECK(copy);
	memcpy(copy, buf, len);
	*ret_r = wasp_config_deserialize(copy, len, &opts, &cfg, &diags);
	CHECK(*ret_r == 0 || *ret_r == -EBADMSG || *ret_r == -EINVAL || *ret_r == -EFBIG);
	CHECK(*ret_r == 0 || diags.n > 0 || *ret_r == -EFBIG);
	wasp_diag_list_done(&diags);
	free(copy);
	if (*ret_r != 0)
		cfg = wasp_config_free(cfg);
	return cfg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wasp_config *cfg, *cfg2;
	char *s1 = NULL, *s2 = NULL, *in;
	size_t l1 = 0, l2 = 0, n;
	int r;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		char head[32];
		int k = snprintf(head, sizeof(head), "json %zu\n", size - 1);

		n = framing_len + (size_t)k + size - 1;
		in = malloc(n);
		CHECK(in);
		memcpy(in, framing, framing_len);
		memcpy(in + framing_len, head, (size_t)k);
		memcpy(in + framing_len + k, data + 1, size - 1);
	} else {
		n = size - 1;
		in = malloc(n ? n : 1);
		CHECK(in);
		memcpy(in, data + 1, n);
	}
	cfg = deserialize(in, n, &r);
	free(in);
	if (!cfg)
		return 0;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct wasp_element *e = wasp_config_section(cfg, sections[i]);

		if (e)
			walk(e, 0);
	}
	CHECK(wasp_config_serialize(cfg, &s1, &l1) == 0);
	cfg2 = deserialize(s1, l1, &r);
	if (!cfg2) {
		fprintf(stderr,
			"a deserialized generation serializes to bytes that do not load: %d\n", r);
		abort();
	}
	CHECK(wasp_config_serialize(cfg2, &s2, &l2) == 0);
	if (l1 != l2 || memcmp(s1, s2, l1) != 0) {
		fprintf(stderr, "serialization does not round-trip (%zu vs %zu bytes)\n", l1, l2);
		abort();
	}
	wasp_config_free(cfg);
	wasp_config_free(cfg2);
	free(s1);
	free(s2);
	return 0;
}
