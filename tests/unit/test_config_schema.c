/* config/schema.c's packed form (cfg_schema_pack/cfg_schema_unpack), how a
 * serialized generation carries it, and config/xml.c's lazy loading of
 * libxml2: a process that only deserializes never loads it. */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "arena.h"
#include "config.h"
#include "internal.h"
#include "test_config_util.h"
#include "testutil.h"
#include "cfgtest.h"

/* The real schema, parsed from its XML files. */
static struct cfg_schema *
load_schema(struct wasp_arena *arena)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct cfg_schema *s = NULL;

	ck_assert_int_eq(cfg_schema_load_dir(cfg_schema_default_dir(), arena, &s, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_gt(s->n_sections, 10);
	wasp_diag_list_done(&d);
	return s;
}

static void
str_eq(const char *a, const char *b)
{
	if (!a || !b)
		ck_assert_ptr_eq(a, b);
	else
		ck_assert_str_eq(a, b);
}

static void
attr_eq(const struct schema_attr *a, const struct schema_attr *b)
{
	str_eq(a->name, b->name);
	ck_assert_int_eq(a->type, b->type);
	str_eq(a->type_name, b->type_name);
	ck_assert_int_eq(a->def.type, b->def.type);
	str_eq(a->def.text, b->def.text);
	if (a->type == WASP_ATTR_BOOL)
		ck_assert_int_eq(a->def.b, b->def.b);
	else if (a->type == WASP_ATTR_INT)
		ck_assert_int_eq(a->def.i, b->def.i);
	else if (a->type != WASP_ATTR_STRING)
		ck_assert_uint_eq(a->def.u, b->def.u);
	ck_assert_int_eq(a->required, b->required);
	ck_assert_int_eq(a->key, b->key);
	ck_assert_int_eq(a->non_empty, b->non_empty);
	ck_assert_int_eq(a->has_min, b->has_min);
	ck_assert_int_eq(a->has_max, b->has_max);
	ck_assert_uint_eq(a->umin, b->umin);
	ck_assert_uint_eq(a->umax, b->umax);
	ck_assert_int_eq(a->imin, b->imin);
	ck_assert_int_eq(a->imax, b->imax);
	ck_assert_int_eq(a->path, b->path);
	ck_assert_uint_eq(a->n_enums, b->n_enums);
	for (size_t i = 0; i < a->n_enums; i++) {
		str_eq(a->enums[i].name, b->enums[i].name);
		ck_assert_uint_eq(a->enums[i].value, b->enums[i].value);
	}
}

static void
elem_eq(const struct schema_elem *a, const struct schema_elem *b, int depth)
{
	ck_assert_int_lt(depth, 32);
	str_eq(a->name, b->name);
	str_eq(a->defaults_for, b->defaults_for);
	ck_assert_int_eq(a->allow_unknown_attrs, b->allow_unknown_attrs);
	ck_assert_int_eq(a->defaults_inherited, b->defaults_inherited);
	ck_assert_uint_eq(a->n_attrs, b->n_attrs);
	for (size_t i = 0; i < a->n_attrs; i++)
		attr_eq(&a->attrs[i], &b->attrs[i]);
	ck_assert_uint_eq(a->n_children, b->n_children);
	for (size_t i = 0; i < a->n_children; i++)
		elem_eq(a->children[i], b->children[i], depth + 1);
	ck_assert_int_eq(!a->coll, !b->coll);
	if (a->coll) {
		str_eq(a->coll->add_name, b->coll->add_name);
		str_eq(a->coll->remove_name, b->coll->remove_name);
		str_eq(a->coll->clear_name, b->coll->clear_name);
		str_eq(a->coll->default_element, b->coll->default_element);
		ck_assert_int_eq(a->coll->merge_append, b->coll->merge_append);
		ck_assert_ptr_eq(a->coll->item->name, a->coll->add_name);
		ck_assert_ptr_eq(b->coll->item->name, b->coll->add_name);
		elem_eq(a->coll->item, b->coll->item, depth + 1);
	}
}

/* How many elements of the schema took their attributes from a collection
 * item (defaultsFor): the case the packed form leaves to resolve again. */
static size_t
count_inherited(const struct schema_elem *e)
{
	size_t n = e->defaults_inherited;

	for (size_t i = 0; i < e->n_children; i++)
		n += count_inherited(e->children[i]);
	if (e->coll)
		n += count_inherited(e->coll->item);
	return n;
}

START_TEST(test_pack_roundtrip)
{
	struct wasp_arena *arena = wasp_arena_new();
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct cfg_schema *s, *u = NULL;
	const char *p1, *p2, *again;
	size_t l1, l2, l3, inherited = 0;

	ck_assert_ptr_nonnull(arena);
	s = load_schema(arena);
	ck_assert_int_eq(cfg_schema_pack(s, &p1, &l1), 0);
	/* Made once: the same bytes again. */
	ck_assert_int_eq(cfg_schema_pack(s, &again, &l3), 0);
	ck_assert_ptr_eq(again, p1);
	ck_assert_uint_eq(l3, l1);

	ck_assert_int_eq(cfg_schema_unpack(p1, l1, arena, &u, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(u->n_sections, s->n_sections);
	for (size_t i = 0; i < s->n_sections; i++) {
		const struct schema_section *a = s->sections[i], *b = u->sections[i];

		str_eq(a->name, b->name);
		str_eq(a->source, b->source);
		ck_assert_int_eq(a->allow_definition, b->allow_definition);
		ck_assert_int_eq(a->override_default, b->override_default);
		elem_eq(a->root, b->root, 0);
		inherited += count_inherited(a->root);
		ck_assert_ptr_eq(cfg_schema_find(u, a->name), b);
	}
	ck_assert_uint_gt(inherited, 0);
	ck_assert(cfg_schema_has_group(u, "system.webServer"));

	/* Packing what was unpacked gives the same bytes. */
	u->packed = NULL;
	ck_assert_int_eq(cfg_schema_pack(u, &p2, &l2), 0);
	ck_assert_uint_eq(l2, l1);
	ck_assert_int_eq(memcmp(p1, p2, l1), 0);
	/* Smaller than the XML it was parsed from. */
	ck_assert_uint_lt(l1, 30000);

	wasp_diag_list_done(&d);
	wasp_arena_free(arena);
}
END_TEST

/* A generation of the example configuration, serialized and deserialized
 * (the schema packed and unpacked): every section of the schema is the same
 * at the top level and at each site's root, and the copy serializes to the
 * same bytes. */
START_TEST(test_serialize_sections)
{
	struct wasp_config_opts opts = { .no_env_expansion = true };
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL, *copy = NULL;
	char *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	static const char *const paths[] = { NULL, "Default Web Site/", "Default Web Site/a/b" };

	ck_assert_int_eq(wasp_config_load_file(WASP_EXAMPLES_DIR "/applicationHost.config", &opts,
					       &cfg, &d),
			 0);
	ck_assert_int_eq(wasp_config_serialize(cfg, &buf, &len), 0);
	ck_assert_ptr_null(memmem(buf, len, "<sectionSchema", strlen("<sectionSchema")));
	ck_assert_int_eq(wasp_config_deserialize(buf, len, &opts, &copy, &d), 0);
	for (size_t i = 0; i < cfg->schema->n_sections; i++)
		for (size_t k = 0; k < ELEMENTSOF(paths); k++) {
			const char *name = cfg->schema->sections[i]->name;
			char *a = cfgtest_section_json(cfg, paths[k], name, false);
			char *b = cfgtest_section_json(copy, paths[k], name, false);

			if (!strstr(name, "applicationPools") && !strstr(name, "sites"))
				ck_assert_str_eq(a, b); /* those two lose passwords */
			free(a);
			free(b);
		}
	ck_assert_int_eq(wasp_config_serialize(copy, &buf2, &len2), 0);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(buf, buf2, len), 0);
	free(buf);
	free(buf2);
	wasp_config_free(cfg);
	wasp_config_free(copy);
	wasp_diag_list_done(&d);
}
END_TEST

/* Unpack buf; the result (0 or -EBADMSG with a diagnostic). */
static int
try_unpack(const char *buf, size_t len)
{
	struct wasp_arena *arena = wasp_arena_new();
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct cfg_schema *s = NULL;
	int r;

	ck_assert_ptr_nonnull(arena);
	r = cfg_schema_unpack(buf, len, arena, &s, &d);
	if (r == -EBADMSG)
		ck_assert_uint_gt(d.n, 0);
	else
		ck_assert_int_eq(r, 0);
	wasp_diag_list_done(&d);
	wasp_arena_free(arena);
	return r;
}

START_TEST(test_unpack_malformed)
{
	struct wasp_arena *arena = wasp_arena_new();
	struct cfg_schema *s;
	const char *p;
	char *bad;
	size_t l;

	s = load_schema(arena);
	ck_assert_int_eq(cfg_schema_pack(s, &p, &l), 0);
	ck_assert_int_eq(try_unpack(p, l), 0);
	/* Cut anywhere: refused. */
	for (size_t n = 0; n < l; n += n < 64 ? 1 : 97)
		ck_assert_int_eq(try_unpack(p, n), -EBADMSG);
	ck_assert_int_eq(try_unpack(p, l - 1), -EBADMSG);
	bad = malloc(l + 1);
	ck_assert_ptr_nonnull(bad);
	/* Trailing bytes. */
	memcpy(bad, p, l);
	bad[l] = 0;
	ck_assert_int_eq(try_unpack(bad, l + 1), -EBADMSG);
	/* Another magic. */
	memcpy(bad, p, l);
	bad[3] = '9';
	ck_assert_int_eq(try_unpack(bad, l), -EBADMSG);
	/* A huge count of sources (the byte after the magic). */
	memcpy(bad, p, l);
	bad[4] = (char)0xff;
	ck_assert_int_eq(try_unpack(bad, l), -EBADMSG);
	/* Any byte changed: refused or accepted, never a crash. */
	for (size_t i = 0; i < l; i += 7) {
		memcpy(bad, p, l);
		bad[i] = (char)(bad[i] ^ 0x5a);
		(void)try_unpack(bad, l);
	}
	free(bad);
	ck_assert_int_eq(try_unpack("", 0), -EBADMSG);
	ck_assert_int_eq(try_unpack("wsc1", 4), -EBADMSG);
	/* No sources, no sections: an empty schema is well-formed. */
	ck_assert_int_eq(try_unpack("wsc1\0\0", 6), 0);
	/* A section naming a source that is not there. */
	ck_assert_int_eq(try_unpack("wsc1\0\1\4a/b\0\0\0\0\0\0\0\0\0", 18), -EBADMSG);
	wasp_arena_free(arena);
}
END_TEST

/* A serialized generation whose schema part is damaged: -EBADMSG from
 * wasp_config_deserialize, not a crash. */
START_TEST(test_deserialize_bad_schema)
{
	struct tc t;
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *copy = NULL;
	char *buf = NULL, *s;
	size_t len = 0;

	tc_setup(&t, TC_APPHOST_MIN);
	tc_expect_clean(&t.diags);
	ck_assert_int_eq(wasp_config_serialize(t.cfg, &buf, &len), 0);
	s = memmem(buf, len, "wsc1", 4);
	ck_assert_ptr_nonnull(s);
	s[0] = 'x';
	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &copy, &d), -EBADMSG);
	ck_assert_ptr_null(copy);
	tc_expect(&d, WASP_DIAG_ERROR, "malformed schema");
	wasp_diag_list_done(&d);
	/* The schema part's length past the end. */
	s[0] = 'w';
	s = memmem(buf, len, "schema ", 7);
	ck_assert_ptr_nonnull(s);
	s[7] = s[7] == '9' ? '1' : '9';
	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &copy, &d), -EBADMSG);
	ck_assert_ptr_null(copy);
	wasp_diag_list_done(&d);
	free(buf);
	tc_done(&t);
}
END_TEST

static bool
libxml2_loaded(void)
{
	void *h = dlopen("libxml2.so.2", RTLD_NOW | RTLD_NOLOAD);

	if (h)
		dlclose(h);
	return h != NULL;
}

/* What a worker does: a process that deserializes a generation, looks
 * sections up and merges effective sections without web.config files never
 * loads libxml2; the first web.config loads it. The generation is made in
 * a child process, which parses XML. */
START_TEST(test_lazy_libxml2)
{
	struct tc t = { 0 };
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	const struct wasp_element *e;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fds[2], status;
	pid_t pid;

	ck_assert_msg(!libxml2_loaded(), "libxml2 is loaded already (run the test with CK_FORK)");
	t.dir = testutil_mkdtemp();
	tc_mkdir(&t, "www");
	tc_mkdir(&t, "www-app");
	tc_write(&t, "applicationHost.config",
		 "<configuration>\n" TC_SECTIONS TC_APPHOST_MIN "</configuration>\n");
	t.apphost = tc_path(&t, "applicationHost.config");
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct wasp_config *c = NULL;

		close(fds[0]);
		if (wasp_config_load_file(t.apphost, NULL, &c, NULL) == 0 && libxml2_loaded() &&
		    wasp_config_serialize(c, &buf, &len) == 0) {
			for (size_t off = 0; off < len;) {
				ssize_t k = write(fds[1], buf + off, len - off);

				if (k <= 0)
					_exit(2);
				off += (size_t)k;
			}
			_exit(0);
		}
		_exit(1);
	}
	close(fds[1]);
	for (;;) {
		ssize_t k;

		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		k = read(fds[0], buf + len, cap - len);
		ck_assert_int_ge(k, 0);
		if (k == 0)
			break;
		len += (size_t)k;
	}
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &cfg, &d), 0);
	free(buf);
	ck_assert_ptr_nonnull(wasp_config_section(cfg, "system.applicationHost/sites"));
	ck_assert_int_eq(wasp_config_effective_section_at(cfg, "S", "/",
							  "system.webServer/defaultDocument", &e, &d),
			 0);
	ck_assert(wasp_element_get_bool(e, "enabled", false));
	ck_assert(!libxml2_loaded());
	ck_assert(!cfg_xml_loaded());

	/* A web.config: now it is needed, and loaded. */
	tc_write(&t, "www-app/web.config",
		 "<configuration><system.webServer><defaultDocument enabled=\"false\" />"
		 "</system.webServer></configuration>");
	ck_assert_int_eq(wasp_config_effective_section_at(cfg, "S", "/app/",
							  "system.webServer/defaultDocument", &e, &d),
			 0);
	ck_assert(libxml2_loaded());
	ck_assert(cfg_xml_loaded());
	ck_assert(!wasp_element_get_bool(e, "enabled", true));

	wasp_config_free(cfg);
	wasp_diag_list_done(&d);
	testutil_rmtree(t.dir);
	free(t.dir);
	free(t.apphost);
}
END_TEST

static Suite *
config_schema_suite(void)
{
	Suite *s = suite_create("config_schema");
	TCase *tc;

	tc = tcase_create("pack");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_pack_roundtrip);
	tcase_add_test(tc, test_serialize_sections);
	tcase_add_test(tc, test_unpack_malformed);
	tcase_add_test(tc, test_deserialize_bad_schema);
	suite_add_tcase(s, tc);

	tc = tcase_create("xml");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_lazy_libxml2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(config_schema_suite());
}
