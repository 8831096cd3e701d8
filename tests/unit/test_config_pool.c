/* A generation serialized for one pool's workers
 * (wasp_config_serialize_pool): only that pool's sites and the pools they
 * name, and a kept site's effective sections the same as with the whole
 * generation. */
#include <jansson.h>
#include <unistd.h>

#include "apphost.h"
#include "config.h"
#include "memfd.h"
#include "test_config_util.h"
#include "testutil.h"
#include "timespan.h"
#include "util.h"
#include "cfgtest.h"

/* Pools A, B, C, D. S1: "/" in A, "/b" in B (two pools). S2: "/" in C
 * (through applicationDefaults). S3: "/" in C, "/a" in A. S4: "/" in D.
 * Locations for the whole server, S1 and S1's path, S2, S3 and S4. */
#define POOL_APPHOST                                                                        \
	"<system.applicationHost>\n"                                                      \
	" <applicationPools>\n"                                                           \
	"  <add name=\"A\" queueLength=\"11\" />\n"                                       \
	"  <add name=\"B\" />\n"                                                          \
	"  <add name=\"C\" />\n"                                                          \
	"  <add name=\"D\" />\n"                                                          \
	"  <applicationPoolDefaults queueLength=\"77\" />\n"                              \
	" </applicationPools>\n"                                                          \
	" <sites>\n"                                                                      \
	"  <site name=\"S1\" id=\"1\">\n"                                                \
	"   <application path=\"/\" applicationPool=\"A\">\n"                            \
	"    <virtualDirectory path=\"/\" physicalPath=\"www\" />\n"                      \
	"   </application>\n"                                                             \
	"   <application path=\"/b\" applicationPool=\"B\">\n"                           \
	"    <virtualDirectory path=\"/\" physicalPath=\"www-app\" />\n"                  \
	"   </application>\n"                                                             \
	"   <bindings><binding protocol=\"http\" bindingInformation=\"*:8081:\" /></bindings>\n" \
	"  </site>\n"                                                                     \
	"  <site name=\"S2\" id=\"2\">\n"                                                \
	"   <application path=\"/\"><virtualDirectory path=\"/\" physicalPath=\"www\" />" \
	"</application>\n"                                                                \
	"   <bindings><binding protocol=\"http\" bindingInformation=\"*:8082:\" /></bindings>\n" \
	"  </site>\n"                                                                     \
	"  <site name=\"S3\" id=\"3\">\n"                                                \
	"   <application path=\"/\" applicationPool=\"C\">\n"                            \
	"    <virtualDirectory path=\"/\" physicalPath=\"www\" />\n"                      \
	"   </application>\n"                                                             \
	"   <application path=\"/a\" applicationPool=\"A\">\n"                           \
	"    <virtualDirectory path=\"/\" physicalPath=\"www-app\" />\n"                  \
	"   </application>\n"                                                             \
	"   <bindings><binding protocol=\"http\" bindingInformation=\"*:8083:\" /></bindings>\n" \
	"  </site>\n"                                                                     \
	"  <site name=\"S4\" id=\"4\">\n"                                                \
	"   <application path=\"/\" applicationPool=\"D\">\n"                            \
	"    <virtualDirectory path=\"/\" physicalPath=\"www\" />\n"                      \
	"   </application>\n"                                                             \
	"   <bindings><binding protocol=\"http\" bindingInformation=\"*:8084:\" /></bindings>\n" \
	"  </site>\n"                                                                     \
	"  <siteDefaults><limits connectionTimeout=\"00:00:42\" /></siteDefaults>\n"      \
	"  <applicationDefaults applicationPool=\"C\" />\n"                               \
	" </sites>\n"                                                                     \
	"</system.applicationHost>\n"                                                     \
	"<system.webServer>\n"                                                            \
	" <defaultDocument><files><add value=\"top.html\" /></files></defaultDocument>\n" \
	" <staticContent><mimeMap fileExtension=\".x\" mimeType=\"text/x\" /></staticContent>\n" \
	"</system.webServer>\n"                                                           \
	"<location path=\"\"><system.webServer><directoryBrowse enabled=\"true\" />"      \
	"</system.webServer></location>\n"                                                \
	"<location path=\"S1\"><system.webServer><defaultDocument><files>"                \
	"<add value=\"s1.html\" /></files></defaultDocument></system.webServer></location>\n" \
	"<location path=\"S1/sub\"><system.webServer><defaultDocument><files>"            \
	"<add value=\"sub.html\" /></files></defaultDocument></system.webServer></location>\n" \
	"<location path=\"S1/b\"><system.webServer><httpErrors errorMode=\"Detailed\" />" \
	"</system.webServer></location>\n"                                                \
	"<location path=\"S2\"><system.webServer><defaultDocument><files>"                \
	"<add value=\"s2.html\" /></files></defaultDocument></system.webServer></location>\n" \
	"<location path=\"S3/a\"><system.webServer><directoryBrowse enabled=\"false\" />" \
	"</system.webServer></location>\n"                                                \
	"<location path=\"S4\"><system.webServer><defaultDocument><files>"                \
	"<add value=\"s4.html\" /></files></defaultDocument></system.webServer></location>\n"

static const char *const sections[] = {
	"system.webServer/defaultDocument",
	"system.webServer/directoryBrowse",
	"system.webServer/staticContent",
	"system.webServer/httpErrors",
	"system.webServer/security/requestFiltering",
};

static char *
elem_json(const struct wasp_element *e)
{
	json_t *j = wasp_element_to_json(e);
	char *s;

	ck_assert_ptr_nonnull(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void
assert_same(struct wasp_config *a, struct wasp_config *b, const char *site_path)
{
	for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
		char *x = cfgtest_section_json(a, site_path, sections[i], true);
		char *y = cfgtest_section_json(b, site_path, sections[i], true);

		ck_assert_msg(strcmp(x, y) == 0, "%s %s: %s != %s", site_path, sections[i], x, y);
		free(x);
		free(y);
	}
}

static void
assert_no_site(struct wasp_config *cfg, const char *site_path)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	const struct wasp_element *e = NULL;

	ck_assert_int_eq(
		wasp_config_effective_section(cfg, site_path, "system.webServer/defaultDocument",
					      &e, &d),
		-ENOENT);
	wasp_diag_list_done(&d);
}

/* Serialize t's generation for pool, read it back; the typed view too. */
static struct wasp_config *
for_pool(struct tc *t, const char *pool, const struct wasp_apphost **ret_ah)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *copy = NULL;
	struct wasp_apphost *ah = NULL, *cah = NULL;
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(wasp_apphost_build(t->cfg, wasp_config_arena(t->cfg), &ah, &d), 0);
	ck_assert_int_eq(wasp_config_serialize_pool(t->cfg, ah, pool, &buf, &len), 0);
	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &copy, &d), 0);
	free(buf);
	if (wasp_apphost_build(copy, wasp_config_arena(copy), &cah, &d) < 0)
		tc_dump(&d);
	ck_assert_ptr_nonnull(cah);
	tc_expect_clean(&d);
	wasp_diag_list_done(&d);
	*ret_ah = cah;
	return copy;
}

static void
setup_tree(struct tc *t)
{
	tc_setup(t, POOL_APPHOST);
	tc_expect_clean(&t->diags);
	tc_write(t, "www/web.config",
		 "<configuration><system.webServer><defaultDocument><files>"
		 "<add value=\"web.html\" /></files></defaultDocument></system.webServer>"
		 "</configuration>");
	tc_write(t, "www-app/web.config",
		 "<configuration><system.webServer><staticContent>"
		 "<mimeMap fileExtension=\".y\" mimeType=\"text/y\" /></staticContent>"
		 "</system.webServer></configuration>");
}

START_TEST(test_pool_keeps_its_sites)
{
	struct tc t;
	const struct wasp_apphost *ah;
	struct wasp_config *copy;
	const struct wasp_element *e;
	char *x, *y;

	setup_tree(&t);
	copy = for_pool(&t, "A", &ah);
	ck_assert_str_eq(wasp_config_pool(copy), "A");

	/* S1 and S3 have applications in A; the pools they name stay. */
	ck_assert_uint_eq(ah->n_sites, 2);
	ck_assert_str_eq(ah->sites[0].name, "S1");
	ck_assert_str_eq(ah->sites[1].name, "S3");
	ck_assert_uint_eq(ah->sites[0].n_apps, 2);
	ck_assert_uint_eq(ah->sites[1].n_apps, 2);
	ck_assert_uint_eq(ah->sites[0].limits.connection_timeout, 42 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(ah->n_pools, 3);
	ck_assert_str_eq(ah->pools[0].name, "A");
	ck_assert_uint_eq(ah->pools[0].queue_length, 11);
	ck_assert_str_eq(ah->pools[1].name, "B");
	ck_assert_uint_eq(ah->pools[1].queue_length, 77); /* applicationPoolDefaults */
	ck_assert_str_eq(ah->pools[2].name, "C");
	e = wasp_config_section(copy, "system.applicationHost/applicationPools");
	tc_assert_items(e, "name", "A,B,C");
	x = elem_json(wasp_element_child(
		wasp_config_section(t.cfg, "system.applicationHost/applicationPools"),
		"applicationPoolDefaults"));
	y = elem_json(wasp_element_child(e, "applicationPoolDefaults"));
	ck_assert_str_eq(x, y);
	free(x);
	free(y);
	e = wasp_config_section(copy, "system.applicationHost/sites");
	tc_assert_items(e, "name", "S1,S3");

	/* the same effective sections along the kept sites' paths, web.config
	 * files and <location> paths included */
	assert_same(t.cfg, copy, "S1/");
	assert_same(t.cfg, copy, "S1/sub/x");
	assert_same(t.cfg, copy, "S1/b/y");
	assert_same(t.cfg, copy, "S3/");
	assert_same(t.cfg, copy, "S3/a/z");
	x = cfgtest_section_json(copy, "S1/sub/x", "system.webServer/defaultDocument", true);
	ck_assert_ptr_nonnull(strstr(x, "sub.html"));
	ck_assert_ptr_nonnull(strstr(x, "web.html"));
	ck_assert_ptr_null(strstr(x, "s2.html"));
	free(x);

	/* the other sites are not there */
	assert_no_site(copy, "S2/");
	assert_no_site(copy, "S4/");
	wasp_config_free(copy);
	tc_done(&t);
}
END_TEST

START_TEST(test_pool_of_a_second_application)
{
	struct tc t;
	const struct wasp_apphost *ah;
	struct wasp_config *copy;

	/* B serves only S1's /b: S1 whole, and A (S1's "/") */
	setup_tree(&t);
	copy = for_pool(&t, "b", &ah);
	ck_assert_str_eq(wasp_config_pool(copy), "b");
	ck_assert_uint_eq(ah->n_sites, 1);
	ck_assert_str_eq(ah->sites[0].name, "S1");
	ck_assert_uint_eq(ah->sites[0].n_apps, 2);
	ck_assert_uint_eq(ah->n_pools, 2);
	ck_assert_str_eq(ah->pools[0].name, "A");
	ck_assert_str_eq(ah->pools[1].name, "B");
	assert_same(t.cfg, copy, "S1/b/y");
	assert_same(t.cfg, copy, "S1/");
	assert_no_site(copy, "S3/");
	wasp_config_free(copy);

	/* C through applicationDefaults (S2) and by name (S3) */
	copy = for_pool(&t, "C", &ah);
	ck_assert_uint_eq(ah->n_sites, 2);
	ck_assert_str_eq(ah->sites[0].name, "S2");
	ck_assert_str_eq(ah->sites[1].name, "S3");
	ck_assert_uint_eq(ah->n_pools, 2);
	ck_assert_str_eq(ah->pools[0].name, "A");
	ck_assert_str_eq(ah->pools[1].name, "C");
	assert_same(t.cfg, copy, "S2/");
	assert_same(t.cfg, copy, "S3/a/z");
	assert_no_site(copy, "S1/");
	assert_no_site(copy, "S4/");
	wasp_config_free(copy);
	tc_done(&t);
}
END_TEST

START_TEST(test_pool_unknown_and_whole)
{
	struct tc t;
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_apphost *ah = NULL;
	struct wasp_config *copy = NULL;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	setup_tree(&t);
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &d), 0);
	ck_assert_int_eq(wasp_config_serialize_pool(t.cfg, ah, "nope", &buf, &len), -ENOENT);
	ck_assert_int_eq(wasp_config_serialize_pool_memfd(t.cfg, ah, "nope", NULL, 0), -ENOENT);
	fd = wasp_config_serialize_pool_memfd(t.cfg, ah, "D", NULL, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(write(fd, "x", 1), 0); /* sealed */
	/* given the pool's sites (as waspd keeps them), the same bytes */
	{
		const struct wasp_apppool *dp = wasp_apphost_find_pool(ah, "D");
		uint32_t sites[16];
		size_t n = 0, la = 0, lb = 0;
		char *a = NULL, *b = NULL;
		int fd2;

		ck_assert_ptr_nonnull(dp);
		for (size_t i = 0; i < ah->n_sites && n < 16; i++)
			for (size_t j = 0; j < ah->sites[i].n_apps; j++)
				if (ah->sites[i].apps[j].pool_id == dp->id) {
					sites[n++] = (uint32_t)i;
					break;
				}
		ck_assert_uint_gt(n, 0);
		fd2 = wasp_config_serialize_pool_memfd(t.cfg, ah, "D", sites, n);
		ck_assert_int_ge(fd2, 0);
		ck_assert_int_ge(wasp_memfd_read(fd, 1 << 24, &a, &la), 0);
		ck_assert_int_ge(wasp_memfd_read(fd2, 1 << 24, &b, &lb), 0);
		ck_assert_uint_eq(la, lb);
		ck_assert(memcmp(a, b, la) == 0);
		free(a);
		free(b);
		close(fd2);
	}
	close(fd);

	/* a whole generation names no pool */
	ck_assert_int_eq(wasp_config_serialize(t.cfg, &buf, &len), 0);
	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &copy, &d), 0);
	free(buf);
	ck_assert_ptr_null(wasp_config_pool(copy));
	ck_assert_ptr_null(wasp_config_pool(t.cfg));
	wasp_config_free(copy);
	wasp_diag_list_done(&d);
	tc_done(&t);
}
END_TEST

START_TEST(test_pool_long_names)
{
	/* names longer than the filter's stack buffer, differing in case */
	char pool[301], site[301], *body;
	struct tc t;
	const struct wasp_apphost *ah;
	struct wasp_config *copy;

	memset(pool, 'p', 300);
	memset(site, 's', 300);
	pool[300] = site[300] = '\0';
	ck_assert_int_gt(
		asprintf(&body,
			 "<system.applicationHost>\n"
			 " <applicationPools><add name=\"%s\" /><add name=\"Q\" /></applicationPools>\n"
			 " <sites>\n"
			 "  <site name=\"%s\" id=\"1\"><application path=\"/\" applicationPool=\"%s\">"
			 "<virtualDirectory path=\"/\" physicalPath=\"www\" /></application></site>\n"
			 "  <site name=\"%sX\" id=\"2\"><application path=\"/\" applicationPool=\"Q\">"
			 "<virtualDirectory path=\"/\" physicalPath=\"www\" /></application></site>\n"
			 " </sites>\n"
			 "</system.applicationHost>\n"
			 "<location path=\"%s/sub\"><system.webServer><defaultDocument><files>"
			 "<add value=\"long.html\" /></files></defaultDocument></system.webServer>"
			 "</location>\n",
			 pool, site, pool, site, site),
		0);
	tc_setup(&t, body);
	free(body);
	tc_expect_clean(&t.diags);
	pool[0] = 'P'; /* names are compared case-insensitively */
	copy = for_pool(&t, pool, &ah);
	ck_assert_uint_eq(ah->n_pools, 1);
	ck_assert_uint_eq(ah->n_sites, 1);
	ck_assert_str_eq(ah->sites[0].name, site);
	{
		char *path, *x;

		ck_assert_int_gt(asprintf(&path, "%s/sub/x", site), 0);
		assert_same(t.cfg, copy, path);
		x = cfgtest_section_json(copy, path, "system.webServer/defaultDocument", true);
		ck_assert_ptr_nonnull(strstr(x, "long.html"));
		free(x);
		free(path);
	}
	wasp_config_free(copy);
	tc_done(&t);
}
END_TEST


/* Many pools and sites (found through the children's name hashes, not a
 * pass over them): a pool's copy has its own site and pool alone, with the
 * index made ahead (wasp_config_prepare_pools()) or by the serialization
 * (the same length: the two generations differ in their directory's name
 * alone); names that differ in case are the same name. */
START_TEST(test_pool_among_many)
{
	enum { N = 300 };
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_apphost *ah = NULL;
	const struct wasp_apphost *cah;
	struct wasp_config *copy;
	char *body = NULL, *a = NULL, *b = NULL;
	size_t size = 0, la = 0, lb = 0;
	FILE *f = open_memstream(&body, &size);
	struct tc t, u;

	ck_assert_ptr_nonnull(f);
	fputs("<system.applicationHost>\n <applicationPools>\n", f);
	for (int i = 0; i < N; i++)
		fprintf(f, "  <add name=\"P%d\" />\n", i);
	fputs(" </applicationPools>\n <sites>\n", f);
	for (int i = 0; i < N; i++)
		fprintf(f,
			"  <site name=\"S%d\" id=\"%d\"><application path=\"/\" "
			"applicationPool=\"p%d\"><virtualDirectory path=\"/\" physicalPath=\"www\" />"
			"</application></site>\n",
			i, i + 1, i);
	fputs(" </sites>\n</system.applicationHost>\n", f);
	ck_assert_int_eq(fclose(f), 0);
	tc_setup(&t, body);
	tc_expect_clean(&t.diags);
	tc_setup(&u, body);
	free(body);

	copy = for_pool(&t, "P137", &cah);
	ck_assert_uint_eq(cah->n_pools, 1);
	ck_assert_str_eq(cah->pools[0].name, "P137");
	ck_assert_uint_eq(cah->n_sites, 1);
	ck_assert_str_eq(cah->sites[0].name, "S137");
	wasp_config_free(copy);

	ck_assert_int_eq(wasp_config_prepare_pools(u.cfg), 0);
	ck_assert_int_eq(wasp_apphost_build(u.cfg, wasp_config_arena(u.cfg), &ah, &d), 0);
	ck_assert_int_eq(wasp_config_serialize_pool(u.cfg, ah, "P299", &a, &la), 0);
	ah = NULL;
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &d), 0);
	ck_assert_int_eq(wasp_config_serialize_pool(t.cfg, ah, "P299", &b, &lb), 0);
	ck_assert_uint_eq(la, lb);
	/* the buffer starts with the packed schema, which holds NULs */
	ck_assert_ptr_null(memmem(a, la, "\"S298\"", 6));
	ck_assert_ptr_null(memmem(a, la, "\"P0\"", 4));
	ck_assert_ptr_nonnull(memmem(a, la, "\"S299\"", 6));
	free(a);
	free(b);
	wasp_diag_list_done(&d);
	tc_done(&u);
	tc_done(&t);
}
END_TEST

static Suite *
config_pool_suite(void)
{
	Suite *s = suite_create("config_pool");
	TCase *tc = tcase_create("serialize_pool");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_pool_keeps_its_sites);
	tcase_add_test(tc, test_pool_of_a_second_application);
	tcase_add_test(tc, test_pool_unknown_and_whole);
	tcase_add_test(tc, test_pool_long_names);
	tcase_add_test(tc, test_pool_among_many);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(config_pool_suite());
}
