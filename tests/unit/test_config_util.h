/* Helpers shared by the configuration tests (test_config*.c): write an
 * applicationHost.config and content directories into a temporary tree,
 * load it, look for diagnostics. Header only (static functions). */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "testutil.h"

/* configSections for every section wasp implements, as IIS declares them. */
#define TC_SECTIONS                                                                        \
	"<configSections>\n"                                                               \
	" <sectionGroup name=\"system.applicationHost\">\n"                              \
	"  <section name=\"applicationPools\" allowDefinition=\"AppHostOnly\" "          \
	"overrideModeDefault=\"Deny\" />\n"                                              \
	"  <section name=\"sites\" allowDefinition=\"AppHostOnly\" "                     \
	"overrideModeDefault=\"Deny\" />\n"                                              \
	" </sectionGroup>\n"                                                              \
	" <sectionGroup name=\"system.webServer\">\n"                                    \
	"  <section name=\"defaultDocument\" overrideModeDefault=\"Allow\" />\n"         \
	"  <section name=\"directoryBrowse\" overrideModeDefault=\"Allow\" />\n"         \
	"  <section name=\"globalModules\" allowDefinition=\"AppHostOnly\" "             \
	"overrideModeDefault=\"Deny\" />\n"                                              \
	"  <section name=\"handlers\" overrideModeDefault=\"Deny\" />\n"                 \
	"  <section name=\"httpErrors\" overrideModeDefault=\"Allow\" />\n"              \
	"  <section name=\"httpLogging\" overrideModeDefault=\"Deny\" />\n"              \
	"  <section name=\"httpProtocol\" overrideModeDefault=\"Allow\" />\n"            \
	"  <section name=\"httpRedirect\" overrideModeDefault=\"Allow\" />\n"            \
	"  <section name=\"modules\" allowDefinition=\"MachineToApplication\" "          \
	"overrideModeDefault=\"Deny\" />\n"                                              \
	"  <section name=\"staticContent\" overrideModeDefault=\"Allow\" />\n"           \
	"  <sectionGroup name=\"security\">\n"                                           \
	"   <section name=\"requestFiltering\" overrideModeDefault=\"Allow\" />\n"       \
	"  </sectionGroup>\n"                                                             \
	" </sectionGroup>\n"                                                              \
	"</configSections>\n"


/* A site "S" (id 1) with root app in pool "P" on the tree's www/, and an
 * application /app with its own directory www-app/. */
#define TC_APPHOST_MIN                                                                     \
	"<system.applicationHost>\n"                                                      \
	" <applicationPools><add name=\"P\" /></applicationPools>\n"                      \
	" <sites>\n"                                                                      \
	"  <site name=\"S\" id=\"1\">\n"                                                 \
	"   <application path=\"/\" applicationPool=\"P\">\n"                            \
	"    <virtualDirectory path=\"/\" physicalPath=\"www\" />\n"                      \
	"   </application>\n"                                                             \
	"   <application path=\"/app\" applicationPool=\"P\">\n"                         \
	"    <virtualDirectory path=\"/\" physicalPath=\"www-app\" />\n"                  \
	"   </application>\n"                                                             \
	"   <bindings><binding protocol=\"http\" bindingInformation=\"*:8080:\" /></bindings>\n" \
	"  </site>\n"                                                                     \
	" </sites>\n"                                                                     \
	"</system.applicationHost>\n"

struct tc {
	char *dir;
	char *apphost;
	struct wasp_config *cfg;
	struct wasp_diag_list diags;
	int load_result;
};

static inline char *
tc_path(const struct tc *t, const char *rel)
{
	char *p;

	ck_assert_int_gt(asprintf(&p, "%s/%s", t->dir, rel), 0);
	return p;
}

/* Write rel (creating its directories) with contents. */
static inline void
tc_write(const struct tc *t, const char *rel, const char *contents)
{
	char *p = tc_path(t, rel);

	for (char *s = p + strlen(t->dir) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		(void)mkdir(p, 0755);
		*s = '/';
	}
	testutil_write_file(p, contents);
	free(p);
}

static inline void
tc_mkdir(const struct tc *t, const char *rel)
{
	char *p = tc_path(t, rel);

	(void)mkdir(p, 0755);
	free(p);
}

/* A temp tree with www/ and www-app/, and applicationHost.config holding
 * body after the standard configSections. Loads it. */
static inline void
tc_setup(struct tc *t, const char *body)
{
	char *xml;

	memset(t, 0, sizeof(*t));
	t->dir = testutil_mkdtemp();
	tc_mkdir(t, "www");
	tc_mkdir(t, "www-app");
	t->apphost = tc_path(t, "applicationHost.config");
	ck_assert_int_gt(asprintf(&xml, "<configuration>\n" TC_SECTIONS "%s</configuration>\n", body), 0);
	testutil_write_file(t->apphost, xml);
	free(xml);
	t->load_result = wasp_config_load_file(t->apphost, NULL, &t->cfg, &t->diags);
}

static inline void
tc_done(struct tc *t)
{
	t->cfg = wasp_config_free(t->cfg);
	wasp_diag_list_done(&t->diags);
	testutil_rmtree(t->dir);
	free(t->dir);
	free(t->apphost);
}

/* Print diagnostics (for a failing test's log). */
static inline void
tc_dump(const struct wasp_diag_list *d)
{
	wasp_diag_list_print(d, stderr, WASP_DIAG_WARNING);
}

/* The first diagnostic of severity sev whose message contains substr (and,
 * when given, at line / about attr / in a file ending with file_suffix). */
static inline const struct wasp_diag *
tc_find(const struct wasp_diag_list *d, enum wasp_diag_severity sev, const char *substr)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->items[i].severity == sev && strstr(d->items[i].message, substr))
			return &d->items[i];
	return NULL;
}

static inline const struct wasp_diag *
tc_expect(const struct wasp_diag_list *d, enum wasp_diag_severity sev, const char *substr)
{
	const struct wasp_diag *x = tc_find(d, sev, substr);

	if (!x)
		tc_dump(d);
	ck_assert_msg(x, "no %s containing '%s'", sev == WASP_DIAG_ERROR ? "error" : "warning",
		      substr);
	return x;
}

static inline void
tc_expect_clean(const struct wasp_diag_list *d)
{
	if (d->n_errors)
		tc_dump(d);
	ck_assert_uint_eq(d->n_errors, 0);
}

/* Effective section; asserts on -ENOENT/-ENOMEM. */
static inline const struct wasp_element *
tc_eff(struct tc *t, const char *site_path, const char *section, int *ret_r)
{
	const struct wasp_element *e = NULL;
	int r = wasp_config_effective_section(t->cfg, site_path, section, &e, &t->diags);

	ck_assert_msg(r == 0 || r == -EINVAL, "effective_section(%s, %s) = %d", site_path, section,
		      r);
	ck_assert_ptr_nonnull(e);
	if (ret_r)
		*ret_r = r;
	return e;
}

/* Values of the collection items' attribute attr, joined with ','. */
static inline char *
tc_items(const struct wasp_element *e, const char *attr)
{
	size_t cap = 1;
	char *s;

	for (size_t i = 0; i < e->n_items; i++)
		cap += strlen(wasp_element_get_str(e->items[i], attr, "")) + 1;
	s = calloc(1, cap);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < e->n_items; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, wasp_element_get_str(e->items[i], attr, ""));
	}
	return s;
}

#define tc_assert_items(e, attr, want)                                                    \
	do {                                                                               \
		char *_got_ = tc_items((e), (attr));                                       \
		ck_assert_str_eq(_got_, (want));                                           \
		free(_got_);                                                               \
	} while (0)

/* Line (1-based) of the first occurrence of needle in file, 0 if none. */
static inline int
tc_line_of(const char *file, const char *needle)
{
	FILE *f = fopen(file, "re");
	char buf[4096];
	int line = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (strstr(buf, needle)) {
			fclose(f);
			return line;
		}
	}
	fclose(f);
	return 0;
}
