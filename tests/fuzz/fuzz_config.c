/* libFuzzer target for the configuration loader (config/): the input is an
 * applicationHost.config, loaded from a buffer (an exact-size copy, not
 * NUL-terminated, so reading past it is an ASan report). Then everything a
 * daemon does with a generation: every known section with its defaults
 * applied, walked through the element getters, the JSON and XML views, the
 * typed applicationHost view, and the serialization a worker receives,
 * which must load back and serialize to the same bytes.
 *
 * web.config files are not read here (no effective sections): their paths
 * come from the fuzzed physicalPath values, which would make the target read
 * whatever the machine has. fuzz_webconfig covers them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "apphost.h"
#include "arena.h"
#include "config.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static const char *const sections[] = {
	"system.applicationHost/applicationPools",
	"system.applicationHost/sites",
	"system.webServer/defaultDocument",
	"system.webServer/directoryBrowse",
	"system.webServer/globalModules",
	"system.webServer/handlers",
	"system.webServer/httpErrors",
	"system.webServer/httpLogging",
	"system.webServer/httpProtocol",
	"system.webServer/httpRedirect",
	"system.webServer/modules",
	"system.webServer/staticContent",
	"system.webServer/security/requestFiltering",
	"system.webServer/nosuchsection",
	"",
};

/* Every getter on every attribute, child and item, bounded in depth. */
static void
walk(const struct wasp_element *e, int depth)
{
	CHECK(e->name);
	CHECK(e->n_attrs == 0 || e->attrs);
	for (size_t i = 0; i < e->n_attrs; i++) {
		const struct wasp_attr *a = &e->attrs[i];
		const struct wasp_attr *b = wasp_element_attr(e, a->name);

		CHECK(a->name && a->value.text);
		CHECK(b && strcasecmp(b->name, a->name) == 0);
		CHECK(a->value.type >= WASP_ATTR_STRING && a->value.type < WASP_ATTR_TYPE__COUNT);
		CHECK(!a->is_set || a->file);
		CHECK(wasp_element_value(e, a->name));
		(void)wasp_element_get_str(e, a->name, NULL);
		(void)wasp_element_get_bool(e, a->name, false);
		(void)wasp_element_get_uint(e, a->name, 0);
		(void)wasp_element_get_int(e, a->name, 0);
		if (e->has_collection)
			(void)wasp_element_find_item(e, a->value.text);
	}
	CHECK(!wasp_element_attr(e, "no-such-attribute"));
	for (size_t i = 0; i < e->n_children; i++) {
		CHECK(e->children[i]);
		CHECK(wasp_element_child(e, e->children[i]->name));
		if (depth < 16)
			walk(e->children[i], depth + 1);
	}
	for (size_t i = 0; i < e->n_items; i++) {
		CHECK(e->items[i]);
		if (depth < 16)
			walk(e->items[i], depth + 1);
	}
}

static void
use_element(const struct wasp_element *e)
{
	json_t *j;
	char *s;

	walk(e, 0);
	j = wasp_element_to_json(e);
	CHECK(j);
	s = json_dumps(j, JSON_COMPACT);
	CHECK(s);
	free(s);
	json_decref(j);
	wasp_element_print_xml(e, devnull, 0);
}

static void
use_apphost(struct wasp_config *cfg)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_apphost *ah = NULL;
	int r;

	r = wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &diags);
	CHECK(r == 0 || r == -EINVAL);
	if (ah) {
		for (size_t i = 0; i < ah->n_pools; i++)
			CHECK(wasp_apphost_find_pool(ah, ah->pools[i].name));
		for (size_t i = 0; i < ah->n_sites; i++) {
			const struct wasp_site *s = &ah->sites[i];

			CHECK(s->name);
			(void)wasp_apphost_find_site(ah, s->name);
			(void)wasp_apphost_find_site_id(ah, s->id);
			(void)wasp_site_match_app(s, "/");
			(void)wasp_site_match_app(s, "/app/x/y");
		}
	}
	wasp_diag_list_print(&diags, devnull, WASP_DIAG_WARNING);
	wasp_diag_list_done(&diags);
}

/* serialize -> deserialize -> serialize gives the same bytes. */
static void
use_serialization(const struct wasp_config *cfg)
{
	struct wasp_config_opts opts = { .no_env_expansion = true };
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg2 = NULL;
	char *buf = NULL, *buf2 = NULL, *copy;
	size_t len = 0, len2 = 0;
	int r;

	CHECK(wasp_config_serialize(cfg, &buf, &len) == 0);
	copy = malloc(len ? len : 1);
	CHECK(copy);
	memcpy(copy, buf, len);
	r = wasp_config_deserialize(copy, len, &opts, &cfg2, &diags);
	if (r != 0) {
		fprintf(stderr, "deserialize of a serialized generation failed: %d\n", r);
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_WARNING);
		abort();
	}
	CHECK(wasp_config_serialize(cfg2, &buf2, &len2) == 0);
	if (len != len2 || memcmp(buf, buf2, len) != 0) {
		fprintf(stderr, "serialization does not round-trip (%zu vs %zu bytes)\n", len,
			len2);
		abort();
	}
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct wasp_element *e = wasp_config_section(cfg2, sections[i]);

		if (e)
			walk(e, 0);
	}
	wasp_config_free(cfg2);
	wasp_diag_list_done(&diags);
	free(buf);
	free(buf2);
	free(copy);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	devnull = fopen("/dev/null", "we");
	CHECK(devnull);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wasp_config_opts opts = { .no_env_expansion = true };
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	char *buf;
	int r;

	buf = malloc(size ? size : 1);
	CHECK(buf);
	memcpy(buf, data, size);
	r = wasp_config_load_buffer(buf, size, "fuzz/applicationHost.config", &opts, &cfg,
				    &diags);
	CHECK(r == 0 || r == -EINVAL || r == -EFBIG);
	/* 0 exactly when no error was recorded. */
	CHECK((r == 0) == (diags.n_errors == 0));
	CHECK(r == 0 || diags.n > 0);
	for (size_t i = 0; i < diags.n; i++) {
		CHECK(diags.items[i].file && diags.items[i].message);
		CHECK(diags.items[i].line >= 0);
	}
	wasp_diag_list_print(&diags, devnull, WASP_DIAG_WARNING);
	if (cfg) {
		CHECK(wasp_config_file(cfg) && wasp_config_dir(cfg));
		for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
			const struct wasp_element *e = wasp_config_section(cfg, sections[i]);

			if (e)
				use_element(e);
		}
		use_apphost(cfg);
		if (r == 0)
			use_serialization(cfg);
		cfg = wasp_config_free(cfg);
	}
	wasp_diag_list_done(&diags);
	free(buf);
	return 0;
}
