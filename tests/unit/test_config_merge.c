/* Effective sections: collections merged with add/remove/clear, <location>
 * paths, web.config files along the URL path, every lock kind,
 * overrideMode, allowDefinition, and the cache. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "test_config_util.h"
#include "testutil.h"

#define DD "system.webServer/defaultDocument"
#define SC "system.webServer/staticContent"
#define HP "system.webServer/httpProtocol"
#define RF "system.webServer/security/requestFiltering"
#define MOD "system.webServer/modules"

#define WEBCFG(body) "<configuration><system.webServer>" body "</system.webServer></configuration>\n"

/* ---- collections ------------------------------------------------------------- */

START_TEST(test_collection_add_remove_clear)
{
	struct tc t;
	const struct wasp_element *e;
	int r;

	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer>\n"
		 " <httpProtocol><customHeaders>\n"
		 "  <add name=\"A\" value=\"1\" /><add name=\"B\" value=\"2\" /><add name=\"C\" value=\"3\" />\n"
		 " </customHeaders></httpProtocol>\n"
		 " <defaultDocument><files><add value=\"a.html\" /><add value=\"b.html\" /></files></defaultDocument>\n"
		 "</system.webServer>\n");
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/web.config",
		 WEBCFG("<httpProtocol><customHeaders><remove name=\"b\" /><add name=\"D\" value=\"4\" />"
			"<remove name=\"nothere\" /></customHeaders></httpProtocol>"
			"<defaultDocument><files><add value=\"c.html\" /><add value=\"d.html\" /></files></defaultDocument>"));
	tc_write(&t, "www/sub/web.config",
		 WEBCFG("<httpProtocol><customHeaders><clear /><add name=\"E\" value=\"5\" /></customHeaders></httpProtocol>"
			"<defaultDocument><files><remove value=\"a.html\" /><add value=\"e.html\" /></files></defaultDocument>"));

	e = tc_eff(&t, "S", HP, &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(wasp_element_child(e, "customHeaders"), "name", "A,C,D");
	e = tc_eff(&t, "S/sub/x.html", HP, &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(wasp_element_child(e, "customHeaders"), "name", "E");
	ck_assert_ptr_nonnull(wasp_element_find_item(wasp_element_child(e, "customHeaders"), "e"));
	ck_assert_ptr_null(wasp_element_find_item(wasp_element_child(e, "customHeaders"), "A"));

	/* defaultDocument's files are mergeAppend="false": a deeper level's
	 * entries come first. */
	e = tc_eff(&t, "S/", DD, &r);
	tc_assert_items(wasp_element_child(e, "files"), "value", "c.html,d.html,a.html,b.html");
	e = tc_eff(&t, "S/sub/", DD, &r);
	tc_assert_items(wasp_element_child(e, "files"), "value", "e.html,c.html,d.html,b.html");
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

START_TEST(test_collection_duplicate)
{
	struct tc t;
	const struct wasp_element *e;
	const struct wasp_diag *d;
	char *wc;
	int r;

	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer><staticContent>\n"
		 " <mimeMap fileExtension=\".txt\" mimeType=\"text/plain\" />\n"
		 " <mimeMap fileExtension=\".TXT\" mimeType=\"text/other\" />\n"
		 "</staticContent></system.webServer>\n");
	/* At load: the same key twice in one file. */
	ck_assert_int_eq(t.load_result, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR,
		      "cannot add duplicate collection entry of type 'mimeMap' with unique key "
		      "attribute 'fileExtension' set to '.TXT'");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "text/other"));
	ck_assert_ptr_nonnull(strstr(d->message, t.apphost));
	tc_done(&t);

	/* Across files: named both. */
	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer><staticContent>\n"
		 " <mimeMap fileExtension=\".txt\" mimeType=\"text/plain\" />\n"
		 "</staticContent></system.webServer>\n");
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/web.config",
		 WEBCFG("<staticContent><mimeMap fileExtension=\".txt\" mimeType=\"x/y\" /></staticContent>"));
	e = tc_eff(&t, "S/", SC, &r);
	ck_assert_int_eq(r, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "cannot add duplicate collection entry");
	wc = tc_path(&t, "www/web.config");
	ck_assert_str_eq(d->file, wc);
	ck_assert_ptr_nonnull(strstr(d->message, t.apphost));
	free(wc);
	tc_assert_items(e, "mimeType", "text/plain");
	/* The cached answer keeps the result. */
	ck_assert_int_eq(wasp_config_effective_section(t.cfg, "S/", SC, &e, NULL), -EINVAL);
	tc_done(&t);
}
END_TEST

/* A long collection (the merge then finds duplicates by a key index):
 * same answers as a short one, case-insensitive keys, <remove> and <clear>
 * forgetting keys, a re-added key still caught. */
START_TEST(test_collection_duplicate_many)
{
	char apphost[8192] = TC_APPHOST_MIN "<system.webServer><staticContent>\n", want[4096] = "";
	struct tc t;
	const struct wasp_element *e;
	const struct wasp_diag *d;
	int r;

	for (int i = 0; i < 40; i++) {
		char line[128];

		snprintf(line, sizeof(line), " <mimeMap fileExtension=\".e%d\" mimeType=\"x/%d\" />\n",
			 i, i);
		strcat(apphost, line);
	}
	strcat(apphost, "</staticContent></system.webServer>\n");
	tc_setup(&t, apphost);
	tc_expect_clean(&t.diags);
	/* .E5 removed then added again: fine; .E30 added twice: the error */
	tc_write(&t, "www/web.config",
		 WEBCFG("<staticContent><remove fileExtension=\".E5\" />"
			"<mimeMap fileExtension=\".e5\" mimeType=\"y/5\" />"
			"<mimeMap fileExtension=\".new\" mimeType=\"y/new\" />"
			"<mimeMap fileExtension=\".E30\" mimeType=\"y/30\" />"
			"<mimeMap fileExtension=\".NEW\" mimeType=\"y/new2\" /></staticContent>"));
	e = tc_eff(&t, "S/", SC, &r);
	ck_assert_int_eq(r, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR,
		      "cannot add duplicate collection entry of type 'mimeMap' with unique key "
		      "attribute 'fileExtension' set to '.E30'");
	ck_assert_ptr_nonnull(d);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR,
		      "cannot add duplicate collection entry of type 'mimeMap' with unique key "
		      "attribute 'fileExtension' set to '.NEW'");
	ck_assert_ptr_nonnull(d);
	for (int i = 0; i < 40; i++)
		if (i != 5)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%sx/%d",
				 *want ? "," : "", i);
	strcat(want, ",y/5,y/new");
	tc_assert_items(e, "mimeType", want);
	tc_done(&t);

	/* <clear/> forgets every key: all of them can come again */
	tc_setup(&t, apphost);
	tc_write(&t, "www/web.config",
		 WEBCFG("<staticContent><clear /><mimeMap fileExtension=\".E1\" mimeType=\"z/1\" />"
			"<mimeMap fileExtension=\".e2\" mimeType=\"z/2\" /></staticContent>"));
	e = tc_eff(&t, "S/", SC, &r);
	ck_assert_int_eq(r, 0);
	tc_expect_clean(&t.diags);
	tc_assert_items(e, "mimeType", "z/1,z/2");
	tc_done(&t);
}
END_TEST

/* ---- locations and web.config files along the path ------------------------------ */

START_TEST(test_location_paths)
{
	struct tc t;
	const struct wasp_element *e;

	/* Written most specific first: the order of the file must not matter. */
	tc_setup(&t, TC_APPHOST_MIN
		 "<location path=\"S/app/deep\"><system.webServer><directoryBrowse showFlags=\"Date\" />"
		 "<httpRedirect destination=\"/deep\" /></system.webServer></location>\n"
		 "<location path=\"S/app\"><system.webServer><directoryBrowse enabled=\"true\" showFlags=\"Time\" />"
		 "<httpRedirect destination=\"/app\" /></system.webServer></location>\n"
		 "<location path=\"S\"><system.webServer><httpRedirect enabled=\"true\" destination=\"/s\" />"
		 "</system.webServer></location>\n"
		 "<location path=\"Other\"><system.webServer><directoryBrowse enabled=\"true\" /></system.webServer></location>\n"
		 "<location path=\"S/apple\"><system.webServer><directoryBrowse enabled=\"true\" /></system.webServer></location>\n"
		 "<location path=\"\"><system.webServer><httpRedirect childOnly=\"true\" /></system.webServer></location>\n"
		 "<system.webServer><httpRedirect exactDestination=\"true\" /></system.webServer>\n");
	tc_expect_clean(&t.diags);
	e = tc_eff(&t, "S/app/deep/x", "system.webServer/directoryBrowse", NULL);
	ck_assert(wasp_element_get_bool(e, "enabled", false));
	ck_assert_str_eq(wasp_element_get_str(e, "showFlags", ""), "Date");
	e = tc_eff(&t, "S/app/deeper", "system.webServer/directoryBrowse", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "showFlags", ""), "Time");
	e = tc_eff(&t, "S/APP", "system.webServer/directoryBrowse", NULL);
	ck_assert(wasp_element_get_bool(e, "enabled", false));
	e = tc_eff(&t, "S/ap", "system.webServer/directoryBrowse", NULL);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	e = tc_eff(&t, "S/app/deep", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "/deep");
	ck_assert(wasp_element_get_bool(e, "enabled", false));
	ck_assert(wasp_element_get_bool(e, "childOnly", false));
	ck_assert(wasp_element_get_bool(e, "exactDestination", false));
	e = wasp_config_section(t.cfg, "system.webServer/httpRedirect");
	ck_assert_str_eq(wasp_element_get_str(e, "destination", "x"), "");
	ck_assert(wasp_element_get_bool(e, "childOnly", false));
	/* The (site, path) form is the same thing. */
	{
		const struct wasp_element *a = NULL;

		ck_assert_int_eq(wasp_config_effective_section_at(t.cfg, "S", "/app/deep",
								  "system.webServer/httpRedirect", &a,
								  NULL),
				 0);
		ck_assert_str_eq(wasp_element_get_str(a, "destination", ""), "/deep");
	}
	ck_assert_int_eq(wasp_config_effective_section(t.cfg, "Nope/x", DD, &e, NULL), -ENOENT);
	ck_assert_int_eq(wasp_config_effective_section(t.cfg, "S/a/../../x", DD, &e, NULL), -EINVAL);
	ck_assert_int_eq(wasp_config_effective_section(t.cfg, "S/..", DD, &e, NULL), -EINVAL);
	ck_assert_int_eq(wasp_config_effective_section(t.cfg, "S/a/..b/./c", DD, &e, NULL), 0);
	ck_assert_int_eq(wasp_config_effective_section(t.cfg, "S/x", "system.web/compilation", &e,
						       NULL),
			 -ENOENT);
	tc_done(&t);
}
END_TEST

START_TEST(test_web_config_hierarchy)
{
	struct tc t;
	const struct wasp_element *e;

	tc_setup(&t, TC_APPHOST_MIN
		 "<location path=\"S/a\"><system.webServer><httpRedirect destination=\"apphost-a\" />"
		 "</system.webServer></location>\n");
	/* Site root web.config, with a location of its own. */
	tc_write(&t, "www/web.config",
		 "<configuration>"
		 "<system.webServer><httpRedirect destination=\"root\" httpResponseStatus=\"Permanent\" /></system.webServer>"
		 "<location path=\"a/b\"><system.webServer><httpRedirect destination=\"root-loc-ab\" /></system.webServer></location>"
		 "</configuration>");
	tc_write(&t, "www/a/b/web.config", WEBCFG("<httpRedirect childOnly=\"true\" />"));
	/* The application /app has its own directory. */
	tc_write(&t, "www-app/web.config", WEBCFG("<httpRedirect destination=\"app\" />"));
	tc_write(&t, "www/app/web.config", WEBCFG("<httpRedirect destination=\"not-mapped\" />"));

	e = tc_eff(&t, "S/", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "root");
	ck_assert_int_eq(wasp_element_get_uint(e, "httpResponseStatus", 0), 301);
	/* apphost's location S/a comes after the site root's web.config. */
	e = tc_eff(&t, "S/a", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "apphost-a");
	e = tc_eff(&t, "S/a/b/c.html", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "root-loc-ab");
	ck_assert(wasp_element_get_bool(e, "childOnly", false));
	ck_assert_str_eq(wasp_element_get_str(e, "httpResponseStatus", ""), "Permanent");
	{
		char *wc = tc_path(&t, "www/a/b/web.config");

		ck_assert_str_eq(wasp_element_attr(e, "childOnly")->file, wc);
		free(wc);
	}
	e = tc_eff(&t, "S/app/x", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "app");
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

START_TEST(test_child_apps_and_subdirs)
{
	struct tc t;
	const struct wasp_element *e;

	/* inheritInChildApplications="false", as ASP.NET Core's web.config
	 * writes it; allowSubDirConfig="false" on a virtual directory. */
	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\" /></applicationPools>\n"
		     " <sites><site name=\"S\" id=\"1\">\n"
		     "  <application path=\"/\" applicationPool=\"P\">\n"
		     "   <virtualDirectory path=\"/\" physicalPath=\"www\" />\n"
		     "   <virtualDirectory path=\"/locked\" physicalPath=\"www-app\" allowSubDirConfig=\"false\" />\n"
		     "  </application>\n"
		     "  <application path=\"/child\" applicationPool=\"P\">\n"
		     "   <virtualDirectory path=\"/\" physicalPath=\"www/child\" />\n"
		     "  </application>\n"
		     " </site></sites>\n"
		     "</system.applicationHost>\n"
		     "<location path=\"S\" inheritInChildApplications=\"false\"><system.webServer>"
		     "<httpRedirect destination=\"apphost\" /></system.webServer></location>\n");
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/web.config",
		 "<configuration><location path=\".\" inheritInChildApplications=\"false\">"
		 "<system.webServer><directoryBrowse enabled=\"true\" /></system.webServer></location>"
		 "</configuration>");
	tc_write(&t, "www/child/web.config", WEBCFG("<httpProtocol allowKeepAlive=\"false\" />"));
	tc_write(&t, "www-app/web.config", WEBCFG("<httpRedirect childOnly=\"true\" />"));
	tc_write(&t, "www-app/deeper/web.config", WEBCFG("<httpRedirect exactDestination=\"true\" />"));

	e = tc_eff(&t, "S/x", "system.webServer/directoryBrowse", NULL);
	ck_assert(wasp_element_get_bool(e, "enabled", false));
	e = tc_eff(&t, "S/child/x", "system.webServer/directoryBrowse", NULL);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	e = tc_eff(&t, "S/x", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "apphost");
	e = tc_eff(&t, "S/child", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", "x"), "");
	e = tc_eff(&t, "S/child/y", "system.webServer/httpProtocol", NULL);
	ck_assert(!wasp_element_get_bool(e, "allowKeepAlive", true));

	/* The virtual directory's own web.config counts, deeper ones do not. */
	e = tc_eff(&t, "S/locked/deeper/z", "system.webServer/httpRedirect", NULL);
	ck_assert(wasp_element_get_bool(e, "childOnly", false));
	ck_assert(!wasp_element_get_bool(e, "exactDestination", true));
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

/* ---- locks --------------------------------------------------------------------- */

static void
lock_case(const char *apphost_extra, const char *webcfg, const char *section, const char *want,
	  const char *want_attr)
{
	struct tc t;
	const struct wasp_element *e;
	const struct wasp_diag *d;
	char *body, *wc;
	int r;

	ck_assert_int_gt(asprintf(&body, "%s%s", TC_APPHOST_MIN, apphost_extra), 0);
	tc_setup(&t, body);
	free(body);
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/web.config", webcfg);
	e = tc_eff(&t, "S/page", section, &r);
	(void)e;
	if (!want) {
		tc_expect_clean(&t.diags);
		ck_assert_int_eq(r, 0);
		tc_done(&t);
		return;
	}
	ck_assert_int_eq(r, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, want);
	/* Named both: violated here, locked there. */
	wc = tc_path(&t, "www/web.config");
	ck_assert_str_eq(d->file, wc);
	ck_assert_ptr_nonnull(strstr(d->message, t.apphost));
	if (want_attr)
		ck_assert_str_eq(d->attribute, want_attr);
	free(wc);
	tc_done(&t);
}

START_TEST(test_lock_attributes)
{
	const char *ah = "<system.webServer><directoryBrowse lockAttributes=\"enabled\" /></system.webServer>\n";

	lock_case(ah, WEBCFG("<directoryBrowse enabled=\"true\" />"), "system.webServer/directoryBrowse",
		  "is locked (lockAttributes in", "enabled");
	lock_case(ah, WEBCFG("<directoryBrowse showFlags=\"Date\" />"), "system.webServer/directoryBrowse",
		  NULL, NULL);
}
END_TEST

START_TEST(test_lock_all_attributes_except)
{
	const char *ah = "<system.webServer><directoryBrowse lockAllAttributesExcept=\"showFlags\" /></system.webServer>\n";

	lock_case(ah, WEBCFG("<directoryBrowse enabled=\"true\" />"), "system.webServer/directoryBrowse",
		  "is locked (lockAllAttributesExcept in", "enabled");
	lock_case(ah, WEBCFG("<directoryBrowse showFlags=\"Date\" />"), "system.webServer/directoryBrowse",
		  NULL, NULL);
}
END_TEST

START_TEST(test_lock_elements)
{
	const char *ah = "<system.webServer><security><requestFiltering lockElements=\"hiddenSegments\">"
			 "<hiddenSegments><add segment=\"bin\" /></hiddenSegments>"
			 "</requestFiltering></security></system.webServer>\n";

	lock_case(ah, WEBCFG("<security><requestFiltering><hiddenSegments><remove segment=\"bin\" />"
			     "</hiddenSegments></requestFiltering></security>"),
		  RF, "<hiddenSegments> in <requestFiltering> is locked (lockElements in", NULL);
	lock_case(ah, WEBCFG("<security><requestFiltering><verbs allowUnlisted=\"false\" />"
			     "</requestFiltering></security>"),
		  RF, NULL, NULL);
	/* lockElements naming a collection directive. */
	lock_case("<system.webServer><defaultDocument><files lockElements=\"clear,remove\">"
		  "<add value=\"a.html\" /></files></defaultDocument></system.webServer>\n",
		  WEBCFG("<defaultDocument><files><clear /></files></defaultDocument>"), DD,
		  "<clear> in <files> is locked", NULL);
}
END_TEST

START_TEST(test_lock_all_elements_except)
{
	const char *ah = "<system.webServer><security><requestFiltering lockAllElementsExcept=\"verbs\" />"
			 "</security></system.webServer>\n";

	lock_case(ah, WEBCFG("<security><requestFiltering><hiddenSegments><add segment=\"x\" />"
			     "</hiddenSegments></requestFiltering></security>"),
		  RF, "is locked (lockAllElementsExcept in", NULL);
	lock_case(ah, WEBCFG("<security><requestFiltering><verbs><add verb=\"TRACE\" allowed=\"false\" />"
			     "</verbs></requestFiltering></security>"),
		  RF, NULL, NULL);
}
END_TEST

START_TEST(test_lock_item)
{
	const char *ah = "<system.webServer><httpProtocol><customHeaders>"
			 "<add name=\"X-Locked\" value=\"1\" lockItem=\"true\" /><add name=\"X-Free\" value=\"2\" />"
			 "</customHeaders></httpProtocol></system.webServer>\n";

	lock_case(ah, WEBCFG("<httpProtocol><customHeaders><remove name=\"x-locked\" /></customHeaders></httpProtocol>"),
		  HP, "cannot remove the entry with 'name' set to 'x-locked': it is locked (lockItem in", NULL);
	lock_case(ah, WEBCFG("<httpProtocol><customHeaders><clear /></customHeaders></httpProtocol>"),
		  HP, "cannot <clear> the collection: an entry is locked (lockItem in", NULL);
	lock_case(ah, WEBCFG("<httpProtocol><customHeaders><remove name=\"X-Free\" /></customHeaders></httpProtocol>"),
		  HP, NULL, NULL);
	/* lockItem on an element (here the section) locks all of it. */
	lock_case("<system.webServer><directoryBrowse lockItem=\"true\" /></system.webServer>\n",
		  WEBCFG("<directoryBrowse showFlags=\"Date\" />"), "system.webServer/directoryBrowse",
		  "is locked (lockItem in", "showFlags");
	lock_case("<system.webServer><httpProtocol><customHeaders lockItem=\"true\" /></httpProtocol></system.webServer>\n",
		  WEBCFG("<httpProtocol allowKeepAlive=\"false\"><customHeaders><add name=\"A\" /></customHeaders></httpProtocol>"),
		  HP, "<add> in <customHeaders> is locked (lockItem in", NULL);
}
END_TEST

START_TEST(test_lock_same_file_level)
{
	struct tc t;
	const struct wasp_element *e;

	/* Locks bind later levels, not the element that sets them. */
	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer><directoryBrowse enabled=\"true\" lockAttributes=\"enabled\" /></system.webServer>\n"
		 "<location path=\"S/app\"><system.webServer><directoryBrowse enabled=\"false\" /></system.webServer></location>\n");
	/* A location at a deeper path in the same file is a later level. */
	ck_assert_int_eq(t.load_result, -EINVAL);
	tc_expect(&t.diags, WASP_DIAG_ERROR, "is locked (lockAttributes in");
	e = wasp_config_section(t.cfg, "system.webServer/directoryBrowse");
	ck_assert(wasp_element_get_bool(e, "enabled", false));
	tc_done(&t);
}
END_TEST

START_TEST(test_override_mode)
{
	/* overrideModeDefault="Deny" from configSections. */
	lock_case("", WEBCFG("<handlers><clear /></handlers>"), "system.webServer/handlers",
		  "section 'system.webServer/handlers' is locked: overrideModeDefault=\"Deny\" in", NULL);
	/* ... unlocked for one site by a location. */
	lock_case("<location path=\"S\" overrideMode=\"Allow\"><system.webServer><handlers /></system.webServer></location>\n",
		  WEBCFG("<handlers><clear /></handlers>"), "system.webServer/handlers", NULL, NULL);
	/* overrideMode="Deny" on a location locks an Allow section. */
	lock_case("<location path=\"S\" overrideMode=\"Deny\"><system.webServer><defaultDocument /></system.webServer></location>\n",
		  WEBCFG("<defaultDocument enabled=\"false\" />"), DD,
		  "section 'system.webServer/defaultDocument' is locked: overrideMode=\"Deny\" in", NULL);
	/* The legacy allowOverride="false". */
	lock_case("<location path=\"\" allowOverride=\"false\"><system.webServer><defaultDocument /></system.webServer></location>\n",
		  WEBCFG("<defaultDocument enabled=\"false\" />"), DD, "is locked: overrideMode=\"Deny\"", NULL);
	/* A location for another path does not lock this one. */
	lock_case("<location path=\"S/other\" overrideMode=\"Deny\"><system.webServer><defaultDocument /></system.webServer></location>\n",
		  WEBCFG("<defaultDocument enabled=\"false\" />"), DD, NULL, NULL);
}
END_TEST

START_TEST(test_override_mode_result)
{
	struct tc t;
	const struct wasp_element *e;
	int r;

	/* The locked web.config's part is left out; the rest still merges. */
	tc_setup(&t, TC_APPHOST_MIN
		 "<location path=\"S/a\" overrideMode=\"Deny\"><system.webServer><defaultDocument enabled=\"false\" />"
		 "</system.webServer></location>\n");
	tc_write(&t, "www/web.config", WEBCFG("<defaultDocument><files><add value=\"root.html\" /></files></defaultDocument>"));
	tc_write(&t, "www/a/web.config", WEBCFG("<defaultDocument enabled=\"true\" />"));
	e = tc_eff(&t, "S/a/", DD, &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	tc_assert_items(wasp_element_child(e, "files"), "value",
			"root.html,Default.htm,Default.asp,index.htm,index.html,iisstart.htm,"
			"default.aspx");
	e = tc_eff(&t, "S/", DD, &r);
	ck_assert_int_eq(r, 0);
	tc_done(&t);
}
END_TEST

/* ---- built-in defaults ------------------------------------------------------------ */

#define BUILTIN_HIDDEN                                                                     \
	"web.config,bin,App_code,App_GlobalResources,App_LocalResources,App_WebReferences,"  \
	"App_Data,App_Browsers"

/* the built-in modules, as worker/module.c names them */
#define BUILTIN_MODULES                                                                    \
	"StaticFileModule,DefaultDocumentModule,DirectoryListingModule,HttpLoggingModule,"   \
	"CustomErrorModule,RequestFilteringModule,ProtocolSupportModule,"                    \
	"HttpRedirectionModule,FastCgiModule,RewriteModule,httpPlatformHandler,"           \
	"AspNetCoreModuleV2,CgiModule,ApplicationRequestRouting,StreamEchoModule,StreamExecModule"

static bool
has_item(const struct wasp_element *e, const char *key)
{
	return wasp_element_find_item(e, key) != NULL;
}

/* wasp's built-in lists behave as if applicationHost.config held them: a
 * web.config's <remove> takes one entry out, an <add> adds one, <clear/>
 * empties the list. */
START_TEST(test_builtin_defaults_merge)
{
	struct tc t;
	const struct wasp_element *e;
	int r;

	tc_setup(&t, TC_APPHOST_MIN);
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/rm/web.config",
		 WEBCFG("<security><requestFiltering>"
			"<hiddenSegments><remove segment=\"bin\" /></hiddenSegments>"
			"<fileExtensions><remove fileExtension=\".config\" /></fileExtensions>"
			"</requestFiltering></security>"
			"<defaultDocument><files><remove value=\"index.htm\" /></files></defaultDocument>"));
	tc_write(&t, "www/add/web.config",
		 WEBCFG("<staticContent><mimeMap fileExtension=\".foo\" mimeType=\"text/x-foo\" />"
			"</staticContent>"
			"<security><requestFiltering>"
			"<hiddenSegments><add segment=\"private\" /></hiddenSegments>"
			"<fileExtensions><add fileExtension=\".secret\" allowed=\"false\" /></fileExtensions>"
			"</requestFiltering></security>"
			"<defaultDocument><files><add value=\"home.html\" /></files></defaultDocument>"));
	tc_write(&t, "www/clr/web.config",
		 WEBCFG("<staticContent><clear /><mimeMap fileExtension=\".txt\" mimeType=\"text/plain\" />"
			"</staticContent>"
			"<security><requestFiltering>"
			"<hiddenSegments><clear /></hiddenSegments>"
			"<fileExtensions><clear /></fileExtensions>"
			"</requestFiltering></security>"
			"<defaultDocument><files><clear /><add value=\"only.html\" /></files></defaultDocument>"));

	/* nothing written anywhere: the built-in lists */
	e = tc_eff(&t, "S/x", RF, &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(wasp_element_child(e, "hiddenSegments"), "segment", BUILTIN_HIDDEN);
	ck_assert(has_item(wasp_element_child(e, "fileExtensions"), ".config"));
	ck_assert(has_item(wasp_element_child(e, "fileExtensions"), ".mdb"));
	ck_assert(wasp_element_get_bool(wasp_element_child(e, "fileExtensions"), "allowUnlisted",
					false));
	e = tc_eff(&t, "S/x", SC, &r);
	ck_assert(has_item(e, ".html"));
	ck_assert_str_eq(wasp_element_get_str(wasp_element_find_item(e, ".html"), "mimeType", ""),
			 "text/html");
	e = tc_eff(&t, "S/x", DD, &r);
	tc_assert_items(wasp_element_child(e, "files"), "value",
			"Default.htm,Default.asp,index.htm,index.html,iisstart.htm,default.aspx");

	/* <remove>: one entry goes, the others stay */
	e = tc_eff(&t, "S/rm/x", RF, &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(wasp_element_child(e, "hiddenSegments"), "segment",
			"web.config,App_code,App_GlobalResources,App_LocalResources,"
			"App_WebReferences,App_Data,App_Browsers");
	ck_assert(!has_item(wasp_element_child(e, "fileExtensions"), ".config"));
	ck_assert(has_item(wasp_element_child(e, "fileExtensions"), ".mdb"));
	e = tc_eff(&t, "S/rm/x", DD, &r);
	tc_assert_items(wasp_element_child(e, "files"), "value",
			"Default.htm,Default.asp,index.html,iisstart.htm,default.aspx");

	/* <add>: added to the built-in entries (defaultDocument's files are
	 * mergeAppend="false": the web.config's first) */
	e = tc_eff(&t, "S/add/x", SC, &r);
	ck_assert_int_eq(r, 0);
	ck_assert(has_item(e, ".foo"));
	ck_assert(has_item(e, ".html"));
	e = tc_eff(&t, "S/add/x", RF, &r);
	tc_assert_items(wasp_element_child(e, "hiddenSegments"), "segment",
			BUILTIN_HIDDEN ",private");
	ck_assert(has_item(wasp_element_child(e, "fileExtensions"), ".secret"));
	ck_assert(has_item(wasp_element_child(e, "fileExtensions"), ".config"));
	e = tc_eff(&t, "S/add/x", DD, &r);
	tc_assert_items(wasp_element_child(e, "files"), "value",
			"home.html,Default.htm,Default.asp,index.htm,index.html,iisstart.htm,"
			"default.aspx");

	/* <clear/>: nothing left of them */
	e = tc_eff(&t, "S/clr/x", SC, &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(e, "fileExtension", ".txt");
	e = tc_eff(&t, "S/clr/x", RF, &r);
	tc_assert_items(wasp_element_child(e, "hiddenSegments"), "segment", "");
	tc_assert_items(wasp_element_child(e, "fileExtensions"), "fileExtension", "");
	e = tc_eff(&t, "S/clr/x", DD, &r);
	tc_assert_items(wasp_element_child(e, "files"), "value", "only.html");
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

/* The built-in <handlers> (IIS's StaticFile entry) and accessPolicy: a
 * web.config where handlers are unlocked adds before it (mergeAppend
 * false), removes it, or clears the list. */
START_TEST(test_builtin_defaults_handlers)
{
	struct tc t;
	const struct wasp_element *e;
	int r;

	tc_setup(&t, TC_APPHOST_MIN
		 "<location path=\"S\" overrideMode=\"Allow\"><system.webServer><handlers />"
		 "</system.webServer></location>\n");
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/add/web.config",
		 WEBCFG("<handlers><add name=\"Txt\" path=\"*.txt\" verb=\"GET\" "
			"modules=\"StaticFileModule\" /></handlers>"));
	tc_write(&t, "www/rm/web.config",
		 WEBCFG("<handlers><remove name=\"StaticFile\" /></handlers>"));
	tc_write(&t, "www/clr/web.config",
		 WEBCFG("<handlers><clear /><add name=\"Txt\" path=\"*.txt\" verb=\"GET\" "
			"modules=\"StaticFileModule\" /></handlers>"));
	e = tc_eff(&t, "S/x", "system.webServer/handlers", &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(e, "name", "StaticFile");
	ck_assert_str_eq(wasp_element_get_str(e, "accessPolicy", ""), "Read,Script");
	ck_assert_str_eq(wasp_element_get_str(e->items[0], "modules", ""),
			 "StaticFileModule,DefaultDocumentModule,DirectoryListingModule");
	e = tc_eff(&t, "S/add/x", "system.webServer/handlers", &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(e, "name", "Txt,StaticFile");
	e = tc_eff(&t, "S/rm/x", "system.webServer/handlers", &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(e, "name", "");
	e = tc_eff(&t, "S/clr/x", "system.webServer/handlers", &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(e, "name", "Txt");
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

/* applicationHost.config's own top level is where IIS keeps these lists:
 * one it adds to or clears is the whole list (as a real IIS file writes
 * it; no duplicate errors), a <remove> there takes one built-in entry out,
 * and a <location> path adds as a web.config does. */
START_TEST(test_builtin_defaults_apphost)
{
	struct tc t;
	const struct wasp_element *e;
	int r;

	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer>\n"
		 " <staticContent>\n"
		 "  <mimeMap fileExtension=\".html\" mimeType=\"text/html\" />\n"
		 "  <mimeMap fileExtension=\".css\" mimeType=\"text/css\" />\n"
		 " </staticContent>\n"
		 " <security><requestFiltering>\n"
		 "  <hiddenSegments><remove segment=\"bin\" /></hiddenSegments>\n"
		 " </requestFiltering></security>\n"
		 "</system.webServer>\n"
		 "<location path=\"S/loc\"><system.webServer><defaultDocument><files>"
		 "<add value=\"loc.html\" /></files></defaultDocument></system.webServer></location>\n");
	tc_expect_clean(&t.diags);
	ck_assert_int_eq(t.load_result, 0);
	e = tc_eff(&t, "S/x", SC, &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(e, "fileExtension", ".html,.css");
	e = tc_eff(&t, "S/x", RF, &r);
	tc_assert_items(wasp_element_child(e, "hiddenSegments"), "segment",
			"web.config,App_code,App_GlobalResources,App_LocalResources,"
			"App_WebReferences,App_Data,App_Browsers");
	e = tc_eff(&t, "S/loc/", DD, &r);
	tc_assert_items(wasp_element_child(e, "files"), "value",
			"loc.html,Default.htm,Default.asp,index.htm,index.html,iisstart.htm,"
			"default.aspx");
	/* applicationHost.config's own level as wasp_config_section() has it */
	e = wasp_config_section(t.cfg, SC);
	tc_assert_items(e, "fileExtension", ".html,.css");
	tc_done(&t);
}
END_TEST

/* globalModules as a real file writes it: a built-in by its IIS .dll, a
 * Windows module (never loaded), a .so, another removed again */
#define MODULES_APPHOST                                                                    \
	TC_APPHOST_MIN                                                                     \
	"<system.webServer><globalModules>\n"                                              \
	" <add name=\"StaticFileModule\" image=\"%windir%\\System32\\inetsrv\\static.dll\" />\n" \
	" <add name=\"WebDAVModule\" image=\"%windir%\\System32\\inetsrv\\webdav.dll\" />\n" \
	" <add name=\"ExtMod\" image=\"/usr/lib/ext.so\" />\n"                              \
	" <add name=\"GoneMod\" image=\"/usr/lib/gone.so\" />\n"                            \
	" <remove name=\"GoneMod\" />\n"                                                    \
	"</globalModules></system.webServer>\n"                                           \
	"<location path=\"S\" overrideMode=\"Allow\"><system.webServer><modules />"          \
	"</system.webServer></location>\n"

/* The root web.config's <modules> of site S, with MODULES_APPHOST (and
 * extra in applicationHost.config): the names in order. */
static void
modules_case(const char *extra, const char *webconfig, const char *names)
{
	char *apphost;
	struct tc t;
	const struct wasp_element *e;
	int r;

	ck_assert_int_gt(asprintf(&apphost, "%s%s", MODULES_APPHOST, extra), 0);
	tc_setup(&t, apphost);
	free(apphost);
	ck_assert_int_eq(t.load_result, 0);
	if (webconfig) {
		char *xml;

		ck_assert_int_gt(asprintf(&xml, WEBCFG("%s"), webconfig), 0);
		tc_write(&t, "www/web.config", xml);
		free(xml);
	}
	e = tc_eff(&t, "S/x", MOD, &r);
	ck_assert_int_eq(r, 0);
	tc_expect_clean(&t.diags);
	ck_assert_uint_eq(t.diags.n, 0); /* a <remove> of no entry is silent */
	tc_assert_items(e, "name", names);
	tc_done(&t);
}

/* The built-in <modules> list: every built-in module, then those
 * globalModules loads; a web.config's <remove> takes one out (a name not
 * listed: nothing, silently), an <add> adds one, <clear/> empties it; an
 * applicationHost.config top level that writes the list replaces it. */
START_TEST(test_builtin_defaults_modules)
{
	struct tc t;
	const struct wasp_element *e;
	int r;

	/* nothing changed: the built-in list, as it is */
	tc_setup(&t, TC_APPHOST_MIN);
	e = tc_eff(&t, "S/x", MOD, &r);
	ck_assert_int_eq(r, 0);
	tc_assert_items(e, "name", BUILTIN_MODULES);
	ck_assert(wasp_element_is_builtin(e));
	tc_done(&t);

	modules_case("", NULL, BUILTIN_MODULES ",ExtMod");
	modules_case("", "<modules><remove name=\"WebDAVModule\" /></modules>",
		     BUILTIN_MODULES ",ExtMod");
	modules_case("", "<modules><remove name=\"DefaultDocumentModule\" /></modules>",
		     "StaticFileModule,DirectoryListingModule,HttpLoggingModule,"
		     "CustomErrorModule,RequestFilteringModule,ProtocolSupportModule,"
		     "HttpRedirectionModule,FastCgiModule,RewriteModule,httpPlatformHandler,"
		     "AspNetCoreModuleV2,CgiModule,ApplicationRequestRouting,StreamEchoModule,StreamExecModule,ExtMod");
	modules_case("", "<modules><add name=\"Mine\" /></modules>",
		     BUILTIN_MODULES ",ExtMod,Mine");
	modules_case("", "<modules><clear /></modules>", "");
	modules_case("", "<modules><clear /><add name=\"StaticFileModule\" /></modules>",
		     "StaticFileModule");
	/* applicationHost.config's own list replaces the built-in one (a
	 * <location path=""> is that level too) */
	modules_case("<system.webServer><modules><add name=\"StaticFileModule\" />"
		     "<add name=\"ExtMod\" /></modules></system.webServer>\n",
		     "<modules><remove name=\"ExtMod\" /></modules>", "StaticFileModule");
	modules_case("<location path=\"\"><system.webServer><modules><clear />"
		     "<add name=\"RequestFilteringModule\" /></modules></system.webServer>"
		     "</location>\n",
		     NULL, "RequestFilteringModule");
	/* a <remove> there takes one built-in entry out */
	modules_case("<system.webServer><modules><remove name=\"HttpLoggingModule\" />"
		     "</modules></system.webServer>\n",
		     NULL,
		     "StaticFileModule,DefaultDocumentModule,DirectoryListingModule,"
		     "CustomErrorModule,RequestFilteringModule,ProtocolSupportModule,"
		     "HttpRedirectionModule,FastCgiModule,RewriteModule,httpPlatformHandler,"
		     "AspNetCoreModuleV2,CgiModule,ApplicationRequestRouting,StreamEchoModule,StreamExecModule,ExtMod");

	/* a worker's generation, read back: the same list, from the
	 * globalModules it carries */
	{
		struct wasp_config *w = NULL;
		struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
		char *buf = NULL;
		size_t len = 0;

		tc_setup(&t, MODULES_APPHOST);
		tc_write(&t, "www/web.config",
			 WEBCFG("<modules><remove name=\"ProtocolSupportModule\" /></modules>"));
		ck_assert_int_eq(wasp_config_serialize(t.cfg, &buf, &len), 0);
		ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &w, &diags), 0);
		ck_assert_int_eq(wasp_config_effective_section(w, "S/x", MOD, &e, &diags), 0);
		tc_assert_items(e, "name",
				"StaticFileModule,DefaultDocumentModule,DirectoryListingModule,"
				"HttpLoggingModule,CustomErrorModule,RequestFilteringModule,"
				"HttpRedirectionModule,FastCgiModule,RewriteModule,httpPlatformHandler,"
				"AspNetCoreModuleV2,CgiModule,ApplicationRequestRouting,StreamEchoModule,StreamExecModule,ExtMod");
		ck_assert_uint_eq(diags.n_errors, 0);
		wasp_config_free(w);
		wasp_diag_list_done(&diags);
		free(buf);
		tc_done(&t);
	}
}
END_TEST

/* The built-in lock on httpErrors' defaultPath (IIS's shipped file sets
 * it): a web.config may not set it, applicationHost.config's top level
 * may; httpErrors itself is overrideModeDefault="Allow" (IIS 7.5 on). */
START_TEST(test_builtin_defaults_locks)
{
	struct tc t;
	int r;

	lock_case("", WEBCFG("<httpErrors errorMode=\"Custom\" />"), "system.webServer/httpErrors",
		  NULL, NULL);
	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer><httpErrors defaultPath=\"err.html\" /></system.webServer>\n");
	tc_expect_clean(&t.diags);
	ck_assert_int_eq(t.load_result, 0);
	tc_write(&t, "www/web.config", WEBCFG("<httpErrors defaultPath=\"mine.html\" />"));
	(void)tc_eff(&t, "S/x", "system.webServer/httpErrors", &r);
	ck_assert_int_eq(r, -EINVAL);
	tc_expect(&t.diags, WASP_DIAG_ERROR, "is locked (lockAttributes in <wasp built-in defaults>");
	tc_done(&t);
}
END_TEST

/* A section no configSections declares: the lock error says where its
 * overrideModeDefault came from, not a schema file at line 0. */
START_TEST(test_lock_undeclared_section)
{
	struct tc t;
	const struct wasp_diag *d;
	char *xml;
	int r;

	memset(&t, 0, sizeof(t));
	t.dir = testutil_mkdtemp();
	tc_mkdir(&t, "www");
	tc_mkdir(&t, "www-app");
	t.apphost = tc_path(&t, "applicationHost.config");
	ck_assert_int_gt(asprintf(&xml, "<configuration>\n%s</configuration>\n", TC_APPHOST_MIN), 0);
	testutil_write_file(t.apphost, xml);
	free(xml);
	t.load_result = wasp_config_load_file(t.apphost, NULL, &t.cfg, &t.diags);
	ck_assert_int_eq(t.load_result, 0);
	tc_write(&t, "www/web.config", WEBCFG("<handlers><clear /></handlers>"));
	(void)tc_eff(&t, "S/x", "system.webServer/handlers", &r);
	ck_assert_int_eq(r, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR,
		      "overrideModeDefault=\"Deny\" in wasp's schema of 'system.webServer/handlers' "
		      "(the configSections of");
	ck_assert_ptr_nonnull(strstr(d->message, t.apphost));
	ck_assert_ptr_null(strstr(d->message, ".xml"));
	tc_done(&t);
}
END_TEST

/* A worker's generation (serialized and read back) has the same built-in
 * defaults. */
START_TEST(test_builtin_defaults_serialized)
{
	struct tc t;
	struct wasp_config *w = NULL;
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	const struct wasp_element *e = NULL;
	char *buf = NULL;
	size_t len = 0;

	tc_setup(&t, TC_APPHOST_MIN);
	tc_write(&t, "www/web.config",
		 WEBCFG("<security><requestFiltering><hiddenSegments><remove segment=\"bin\" />"
			"</hiddenSegments></requestFiltering></security>"));
	ck_assert_int_eq(wasp_config_serialize(t.cfg, &buf, &len), 0);
	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &w, &diags), 0);
	ck_assert_int_eq(wasp_config_effective_section(w, "S/x", RF, &e, &diags), 0);
	tc_assert_items(wasp_element_child(e, "hiddenSegments"), "segment",
			"web.config,App_code,App_GlobalResources,App_LocalResources,"
			"App_WebReferences,App_Data,App_Browsers");
	ck_assert_int_eq(wasp_config_effective_section(w, "S/x", SC, &e, &diags), 0);
	ck_assert(has_item(e, ".html"));
	wasp_config_free(w);
	wasp_diag_list_done(&diags);
	free(buf);
	tc_done(&t);
}
END_TEST

/* ---- hostile web.config files ------------------------------------------------------- */

/* A web.config with entities (billion laughs, thousands of references in
 * attributes) is an error naming the file and the DOCTYPE's line, found at
 * once: nothing is expanded. */
START_TEST(test_web_config_doctype)
{
	struct tc t;
	const struct wasp_diag *d;
	struct timespec t0, t1;
	char *wc, *xml = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	tc_setup(&t, TC_APPHOST_MIN);
	f = open_memstream(&xml, &len);
	ck_assert_ptr_nonnull(f);
	fprintf(f, "<?xml version=\"1.0\"?>\n<!DOCTYPE configuration [\n <!ENTITY a0 \"lol\">\n");
	for (int i = 1; i < 10; i++)
		fprintf(f, " <!ENTITY a%d \"&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;\">\n", i,
			i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	fprintf(f, "]>\n<configuration><system.webServer><httpProtocol><customHeaders>\n");
	for (int i = 0; i < 3000; i++)
		fprintf(f, "<add name=\"h%d\" value=\"&a9;\" />\n", i);
	fprintf(f, "</customHeaders></httpProtocol></system.webServer></configuration>\n");
	ck_assert_int_eq(fclose(f), 0);
	tc_write(&t, "www/web.config", xml);
	free(xml);
	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	(void)tc_eff(&t, "S/x", HP, &r);
	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	ck_assert_int_eq(r, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "(<!DOCTYPE>) is not allowed");
	wc = tc_path(&t, "www/web.config");
	ck_assert_str_eq(d->file, wc);
	ck_assert_int_eq(d->line, 2);
	free(wc);
	/* well under a second (it took tens of seconds expanded) */
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 1000);
	tc_done(&t);
}
END_TEST

/* A web.config over IIS's default limit (250 KB) is an error. */
START_TEST(test_web_config_too_big)
{
	struct tc t;
	size_t n = 250 * 1024 + 1;
	char *xml = malloc(n + 1);
	int r;

	ck_assert_ptr_nonnull(xml);
	tc_setup(&t, TC_APPHOST_MIN);
	memset(xml, ' ', n);
	memcpy(xml, "<configuration>", 15);
	memcpy(xml + n - 16, "</configuration>", 16);
	xml[n] = '\0';
	tc_write(&t, "www/web.config", xml);
	(void)tc_eff(&t, "S/x", HP, &r);
	ck_assert_int_eq(r, -EINVAL);
	tc_expect(&t.diags, WASP_DIAG_ERROR, "file too big");
	/* at the limit it is read */
	xml[n - 17] = '\0';
	memcpy(xml + n - 17 - 16, "</configuration>", 16);
	tc_write(&t, "www/web.config", xml);
	wasp_diag_list_done(&t.diags);
	memset(&t.diags, 0, sizeof(t.diags));
	(void)tc_eff(&t, "S/y", HP, &r);
	ck_assert_int_eq(r, 0);
	free(xml);
	tc_done(&t);
}
END_TEST

/* ---- allowDefinition ------------------------------------------------------------ */

START_TEST(test_allow_definition)
{
	struct tc t;
	const struct wasp_diag *d;
	int r;

	/* AppHostOnly in a web.config. */
	tc_setup(&t, TC_APPHOST_MIN);
	tc_write(&t, "www/web.config",
		 WEBCFG("<globalModules><add name=\"M\" image=\"m.so\" /></globalModules>"));
	(void)tc_eff(&t, "S/", "system.webServer/globalModules", &r);
	ck_assert_int_eq(r, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR,
		      "section 'system.webServer/globalModules' may only be set in applicationHost.config "
		      "(allowDefinition=\"AppHostOnly\" in");
	ck_assert_ptr_nonnull(strstr(d->message, t.apphost));
	tc_done(&t);

	/* AppHostOnly in a location path of applicationHost.config. */
	tc_setup(&t, TC_APPHOST_MIN
		 "<location path=\"S\"><system.applicationHost><sites /></system.applicationHost></location>\n");
	ck_assert_int_eq(t.load_result, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "may only be set in applicationHost.config outside a <location> path");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "<location path=\"S\">"));
	tc_done(&t);

	/* MachineToApplication: an application root yes, a subdirectory no. */
	tc_setup(&t, TC_APPHOST_MIN
		 "<location path=\"\" overrideMode=\"Allow\"><system.webServer><modules /></system.webServer></location>\n");
	tc_write(&t, "www-app/web.config", WEBCFG("<modules><add name=\"AppMod\" /></modules>"));
	tc_write(&t, "www-app/sub/web.config", WEBCFG("<modules><add name=\"SubMod\" /></modules>"));
	tc_write(&t, "www/web.config", WEBCFG("<modules><add name=\"RootMod\" /></modules>"));
	(void)tc_eff(&t, "S/app/", "system.webServer/modules", &r);
	ck_assert_int_eq(r, 0);
	tc_expect_clean(&t.diags);
	{
		const struct wasp_element *e = tc_eff(&t, "S/app/sub/x", "system.webServer/modules", &r);

		ck_assert_int_eq(r, -EINVAL);
		tc_assert_items(e, "name", BUILTIN_MODULES ",RootMod,AppMod");
	}
	tc_expect(&t.diags, WASP_DIAG_ERROR,
		  "may only be set at an application root (allowDefinition=\"MachineToApplication\"");
	tc_done(&t);
}
END_TEST

/* ---- the cache ------------------------------------------------------------------- */

static void
touch_later(const char *path)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += 5;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

START_TEST(test_cache_invalidation)
{
	struct tc t;
	const struct wasp_element *e, *e2;
	char *wc;

	tc_setup(&t, TC_APPHOST_MIN);
	tc_mkdir(&t, "www/sub");
	wc = tc_path(&t, "www/sub/web.config");

	e = tc_eff(&t, "S/sub/x", "system.webServer/directoryBrowse", NULL);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	e2 = tc_eff(&t, "S/sub/x", "system.webServer/directoryBrowse", NULL);
	ck_assert_ptr_eq(e, e2); /* cached */

	/* Appears. */
	testutil_write_file(wc, WEBCFG("<directoryBrowse enabled=\"true\" />"));
	e = tc_eff(&t, "S/sub/x", "system.webServer/directoryBrowse", NULL);
	ck_assert(wasp_element_get_bool(e, "enabled", false));

	/* Changes (same size: only the mtime tells). */
	testutil_write_file(wc, WEBCFG("<directoryBrowse enabled=\"false\"/>"));
	touch_later(wc);
	e = tc_eff(&t, "S/sub/x", "system.webServer/directoryBrowse", NULL);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	/* An old answer stays valid memory until the generation goes. */
	ck_assert(wasp_element_get_bool(e2, "enabled", true) == false);

	/* Disappears. */
	ck_assert_int_eq(unlink(wc), 0);
	testutil_write_file(wc, WEBCFG("<directoryBrowse enabled=\"true\" showFlags=\"Date\" />"));
	touch_later(wc);
	e = tc_eff(&t, "S/sub/x", "system.webServer/directoryBrowse", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "showFlags", ""), "Date");
	ck_assert_int_eq(unlink(wc), 0);
	e = tc_eff(&t, "S/sub/x", "system.webServer/directoryBrowse", NULL);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	tc_expect_clean(&t.diags);
	free(wc);
	tc_done(&t);
}
END_TEST

START_TEST(test_cache_revalidate_interval)
{
	struct tc t;
	struct wasp_config_opts o = { .revalidate_usec = 3600 * 1000000ULL };
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	const struct wasp_element *e;

	tc_setup(&t, TC_APPHOST_MIN);
	ck_assert_int_eq(wasp_config_load_file(t.apphost, &o, &cfg, &d), 0);
	ck_assert_int_eq(wasp_config_effective_section(cfg, "S/", "system.webServer/directoryBrowse", &e, &d), 0);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	tc_write(&t, "www/web.config", WEBCFG("<directoryBrowse enabled=\"true\" />"));
	/* Within the interval the cached answer stands. */
	ck_assert_int_eq(wasp_config_effective_section(cfg, "S/", "system.webServer/directoryBrowse", &e, &d), 0);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	wasp_config_free(cfg);
	wasp_diag_list_done(&d);
	tc_done(&t);
}
END_TEST

START_TEST(test_web_config_errors)
{
	struct tc t;
	const struct wasp_diag *d;
	int r;

	tc_setup(&t, TC_APPHOST_MIN);
	tc_write(&t, "www/web.config", "<configuration><system.webServer>\n"
				       "<directoryBrowse enabled=\"maybe\" />\n"
				       "</system.webServer></configuration>\n");
	tc_write(&t, "www/bad/web.config", "<configuration><oops></configuration>");
	(void)tc_eff(&t, "S/x", "system.webServer/directoryBrowse", &r);
	ck_assert_int_eq(r, -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "'maybe' is not a bool");
	ck_assert_int_eq(d->line, 2);
	ck_assert_str_eq(d->attribute, "enabled");
	wasp_diag_list_done(&t.diags);
	(void)tc_eff(&t, "S/bad/x", "system.webServer/directoryBrowse", &r);
	ck_assert_int_eq(r, -EINVAL);
	tc_expect(&t.diags, WASP_DIAG_ERROR, "not well-formed XML");
	tc_done(&t);
}
END_TEST

/* A URL of thousands of segments costs what exists on disk: one lookup
 * keeps a few paths, not one per segment; and the cache's bytes are
 * bounded however many long URLs are asked for. */
START_TEST(test_cache_deep_url_bytes)
{
	struct tc t;
	size_t n = 4000, len = 2 * n + 16;
	char *url = malloc(len);
	size_t max = 0;

	ck_assert_ptr_nonnull(url);
	tc_setup(&t, TC_APPHOST_MIN);
	tc_write(&t, "www/web.config", WEBCFG("<directoryBrowse enabled=\"true\" />"));
	strcpy(url, "S");
	for (size_t i = 0; i < n; i++)
		strcat(url, "/a");
	ck_assert(wasp_element_get_bool(tc_eff(&t, url, "system.webServer/directoryBrowse", NULL),
					"enabled", false));
	/* the key (the URL) and a couple of paths; it was one path per
	 * prefix, about n * n bytes */
	ck_assert_uint_lt(wasp_config_cache_bytes(t.cfg), 2 * strlen(url) + 4096);

	for (int i = 0; i < 3000; i++) {
		int k = snprintf(url, len, "S/%d", i);

		for (size_t j = 0; j < 1000; j++)
			k += snprintf(url + k, len - (size_t)k, "/b");
		(void)tc_eff(&t, url, "system.webServer/directoryBrowse", NULL);
		if (wasp_config_cache_bytes(t.cfg) > max)
			max = wasp_config_cache_bytes(t.cfg);
	}
	ck_assert_uint_le(max, 4 * 1024 * 1024);
	ck_assert_uint_gt(max, 1024 * 1024); /* it did cache */
	free(url);
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

/* Below a directory that does not exist nothing is looked at, but its
 * appearing (with a web.config deeper down) is noticed; a virtual directory
 * below a missing directory still has its web.config read. */
START_TEST(test_cache_missing_dir_appears)
{
	struct tc t;
	const struct wasp_element *e;

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\" /></applicationPools>\n"
		     " <sites><site name=\"S\" id=\"1\">\n"
		     "  <application path=\"/\" applicationPool=\"P\">\n"
		     "   <virtualDirectory path=\"/\" physicalPath=\"www\" />\n"
		     "   <virtualDirectory path=\"/m/v\" physicalPath=\"www-v\" />\n"
		     "  </application>\n"
		     "  <bindings><binding protocol=\"http\" bindingInformation=\"*:8080:\" /></bindings>\n"
		     " </site></sites>\n"
		     "</system.applicationHost>\n");
	tc_expect_clean(&t.diags);
	tc_write(&t, "www-v/web.config", WEBCFG("<httpRedirect destination=\"vdir\" />"));
	e = tc_eff(&t, "S/m/v/x/y.html", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "vdir");

	e = tc_eff(&t, "S/d1/d2/d3/x.html", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "");
	tc_mkdir(&t, "www/d1");
	tc_mkdir(&t, "www/d1/d2");
	tc_write(&t, "www/d1/d2/web.config", WEBCFG("<httpRedirect destination=\"d2\" />"));
	e = tc_eff(&t, "S/d1/d2/d3/x.html", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "d2");
	/* the file itself is no directory: fine either way */
	tc_write(&t, "www/d1/d2/x.html", "x\n");
	e = tc_eff(&t, "S/d1/d2/x.html", "system.webServer/httpRedirect", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "destination", ""), "d2");
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

START_TEST(test_cache_bounded)
{
	struct tc t;
	const struct wasp_element *first = NULL;
	size_t before;

	/* Paths a client makes up must not grow the generation: the merged
	 * result is shared by every path the same files apply to. */
	tc_setup(&t, TC_APPHOST_MIN);
	tc_write(&t, "www/web.config", WEBCFG("<staticContent><mimeMap fileExtension=\".q\" mimeType=\"q/q\" /></staticContent>"));
	(void)tc_eff(&t, "S/warmup", SC, NULL);
	before = wasp_config_arena(t.cfg)->total;
	for (int i = 0; i < 20000; i++) {
		char path[64];
		const struct wasp_element *e;

		snprintf(path, sizeof(path), "S/no/such/%d/file%d.html", i, i * 7);
		e = tc_eff(&t, path, SC, NULL);
		if (!first)
			first = e;
		ck_assert_ptr_eq(e, first);
	}
	ck_assert_uint_lt(wasp_config_arena(t.cfg)->total - before, 4096);
	tc_expect_clean(&t.diags);
	tc_done(&t);
}
END_TEST

/* ---- frozen elements --------------------------------------------------------- */

#define AH_POOLS(pools)                                                                    \
	"<system.applicationHost>\n"                                                      \
	" <applicationPools>\n" pools " </applicationPools>\n"                            \
	" <sites><site name=\"S\" id=\"1\"><application path=\"/\" applicationPool=\"A\">" \
	"<virtualDirectory path=\"/\" physicalPath=\"www\" /></application></site></sites>\n" \
	"</system.applicationHost>\n"

START_TEST(test_frozen_sharing)
{
	struct tc t;
	const struct wasp_element *pools, *a, *b, *c, *pma, *pmb, *pmc;
	const struct wasp_attr *at;

	tc_setup(&t, AH_POOLS("  <applicationPoolDefaults><processModel pingInterval=\"00:00:45\" />"
			      "</applicationPoolDefaults>\n"
			      "  <add name=\"A\" />\n"
			      "  <add name=\"B\" />\n"
			      "  <add name=\"C\"><processModel idleTimeout=\"00:05:00\" /></add>\n"));
	tc_expect_clean(&t.diags);
	pools = wasp_config_section(t.cfg, "system.applicationHost/applicationPools");
	ck_assert_ptr_nonnull(pools);
	ck_assert_uint_eq(pools->n_items, 3);
	a = pools->items[0];
	b = pools->items[1];
	c = pools->items[2];
	ck_assert_str_eq(a->key, "A");
	ck_assert_str_eq(b->key, "B");
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_ne(a->attrs, b->attrs);
	ck_assert_str_eq(wasp_element_get_str(b, "name", ""), "B");

	/* A's and B's processModel: written nowhere but in the *Defaults
	 * element, the same values: one element */
	pma = wasp_element_child(a, "processModel");
	pmb = wasp_element_child(b, "processModel");
	pmc = wasp_element_child(c, "processModel");
	ck_assert_ptr_eq(pma, pmb);
	ck_assert_ptr_ne(pma, pmc);
	ck_assert_uint_eq(wasp_element_get_uint(pma, "pingInterval", 0), 45000000);
	ck_assert_uint_eq(wasp_element_get_uint(pmc, "pingInterval", 0), 45000000);
	at = wasp_element_attr(pma, "idleTimeout");
	ck_assert(!at->is_set);
	ck_assert_ptr_null(at->file);
	ck_assert_uint_eq(at->value.u, 20 * 60 * 1000000ULL);
	at = wasp_element_attr(pmc, "idleTimeout");
	ck_assert(at->is_set);
	ck_assert_str_eq(at->file, t.apphost);
	ck_assert_int_eq(at->line, pmc->line);
	ck_assert_int_gt(at->line, 0);
	ck_assert_uint_eq(at->value.u, 5 * 60 * 1000000ULL);
	ck_assert_str_eq(pmc->file, t.apphost);
	ck_assert_ptr_null(pma->file);

	/* elements at their schema defaults share an attribute array: every
	 * pool's failure, and C's recycling with A's */
	ck_assert_ptr_eq(wasp_element_child(a, "failure"), wasp_element_child(c, "failure"));
	ck_assert_ptr_eq(wasp_element_child(a, "recycling")->attrs,
			 wasp_element_child(c, "recycling")->attrs);
	ck_assert(!wasp_element_get_bool(wasp_element_child(c, "failure"), "orphanWorkerProcess",
					 true));
	/* the arrays stay terminated */
	ck_assert_ptr_null(pma->attrs[pma->n_attrs].name);
	ck_assert_ptr_null(c->children[c->n_children]);
	ck_assert_ptr_null(pools->items[pools->n_items]);
	tc_done(&t);
}
END_TEST

/* What a pool adds to the generation: its parsed element and its merged
 * one, whose many default attributes are shared with every other pool's
 * (about 7 KiB a pool when each had its own copy). */
static size_t
pools_arena_total(size_t n)
{
	_cleanup_free_ char *pools = NULL;
	size_t len = 0, total;
	FILE *f = open_memstream(&pools, &len);
	struct tc t;
	char *body;

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  <add name=\"%s%zu\" startMode=\"OnDemand\">\n"
			   "   <processModel maxProcesses=\"1\" />\n  </add>\n",
			i ? "P" : "A", i);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_gt(asprintf(&body, AH_POOLS("%s"), pools), 0);
	tc_setup(&t, body);
	free(body);
	tc_expect_clean(&t.diags);
	ck_assert_ptr_nonnull(wasp_config_section(t.cfg, "system.applicationHost/applicationPools"));
	total = wasp_config_arena(t.cfg)->total;
	tc_done(&t);
	return total;
}

START_TEST(test_frozen_size)
{
	size_t small = pools_arena_total(100), big = pools_arena_total(600);
	size_t per_pool = (big - small) / 500;

	ck_assert_uint_lt(per_pool, 3 * 1024);
}
END_TEST

/* ---- wasp_config_check_path: 500.19 ------------------------------------------- */

static int
tc_check(struct tc *t, const char *url, const struct wasp_config_error **ret_err)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	int r = wasp_config_check_path(t->cfg, "S", url, ret_err, &d);

	wasp_diag_list_done(&d);
	return r;
}

/* Each error class IIS answers 500.19 for, in its own directory: that
 * directory and below only, with the file and IIS's code. */
START_TEST(test_check_path_errors)
{
	static const struct {
		const char *dir, *xml, *text;
		uint32_t hresult;
	} cases[] = {
		{ "malformed", "<configuration><system.webServer>", "not well-formed", 0x8007000d },
		{ "lock", WEBCFG("<directoryBrowse enabled=\"true\" />"), "is locked", 0x80070021 },
		{ "override", WEBCFG("<handlers><clear /></handlers>"), "overrideModeDefault", 0x80070021 },
		{ "allowdef", WEBCFG("<globalModules><clear /></globalModules>"), "may only be set",
		  0x80070021 },
		{ "type", WEBCFG("<directoryBrowse showFlags=\"Often\" />"), "showFlags", 0x8007000d },
		{ "unknown", WEBCFG("<staticContent color=\"blue\" />"), "unknown attribute", 0x8007000d },
		{ "element", WEBCFG("<staticContent><colour /></staticContent>"), "unknown element",
		  0x8007000d },
		{ "undeclared", WEBCFG("<frobnicate />"), "neither declared", 0x8007000d },
		{ "configsource", WEBCFG("<rewrite><rules configSource=\"rw.config\" /></rewrite>"),
		  "configSource is not supported", 0x8007000d },
		{ "duplicate", WEBCFG("<defaultDocument><files><add value=\"x\" /><add value=\"x\" />"
				      "</files></defaultDocument>"), "duplicate", 0x800700b7 },
	};
	const struct wasp_config_error *err;
	struct tc t;
	char rel[64], url[64];

	tc_setup(&t, TC_APPHOST_MIN "<system.webServer>\n"
				    " <directoryBrowse lockAttributes=\"enabled\" />\n"
				    "</system.webServer>\n");
	tc_write(&t, "www/ok/web.config", "<configuration><appSettings /></configuration>\n");
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		snprintf(rel, sizeof(rel), "www/%s/web.config", cases[i].dir);
		tc_write(&t, rel, cases[i].xml);
	}
	ck_assert_int_eq(tc_check(&t, "/", &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(tc_check(&t, "/ok/a.html", &err), 0);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *wc;

		snprintf(url, sizeof(url), "/%s/deeper/a.html", cases[i].dir);
		snprintf(rel, sizeof(rel), "www/%s/web.config", cases[i].dir);
		wc = tc_path(&t, rel);
		ck_assert_msg(tc_check(&t, url, &err) == -EINVAL, "%s", cases[i].dir);
		ck_assert_ptr_nonnull(err);
		ck_assert_str_eq(err->file, wc);
		ck_assert_msg(strstr(err->message, cases[i].text), "%s: %s", cases[i].dir,
			      err->message);
		ck_assert_msg(err->hresult == cases[i].hresult, "%s: %x", cases[i].dir,
			      (unsigned)err->hresult);
		/* a cache hit answers the same */
		ck_assert_int_eq(tc_check(&t, url, &err), -EINVAL);
		ck_assert_str_eq(err->file, wc);
		free(wc);
	}
	tc_done(&t);
}
END_TEST

/* A virtual directory whose physical path does not exist: 500.19 there,
 * until it appears. */
START_TEST(test_check_path_missing_dir)
{
	const struct wasp_config_error *err;
	struct tc t;
	char *app;

	tc_setup(&t, TC_APPHOST_MIN);
	app = tc_path(&t, "www-app");
	testutil_rmtree(app);
	free(app);
	ck_assert_int_eq(tc_check(&t, "/app/x.html", &err), -EINVAL);
	ck_assert_uint_eq(err->hresult, 0x80070003);
	ck_assert_ptr_nonnull(strstr(err->message, "does not exist"));
	ck_assert_int_eq(tc_check(&t, "/x.html", &err), 0);
	tc_mkdir(&t, "www-app");
	ck_assert_int_eq(tc_check(&t, "/app/x.html", &err), 0);
	tc_done(&t);
}
END_TEST

/* notImplemented sections: an error where they apply with anything beyond
 * their defaults, from a web.config or applicationHost.config; at their
 * defaults nothing. */
START_TEST(test_check_path_not_implemented)
{
	const struct wasp_config_error *err;
	struct tc t;

	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer><security>\n"
		 " <authentication><basicAuthentication enabled=\"false\" realm=\"x\" />"
		 "<anonymousAuthentication enabled=\"true\" userName=\"IUSR\" /></authentication>\n"
		 " <authorization><add accessType=\"Allow\" users=\"*\" /></authorization>\n"
		 " <access sslFlags=\"None\" />\n"
		 "</security></system.webServer>\n"
		 "<location path=\"S/ip\"><system.webServer><security>"
		 "<ipSecurity allowUnlisted=\"false\" /></security></system.webServer></location>\n"
		 "<location path=\"S/ssl\"><system.webServer><security>"
		 "<access sslFlags=\"Ssl\" /></security></system.webServer></location>\n"
		 "<location path=\"S/anon\"><system.webServer><security><authentication>"
		 "<anonymousAuthentication enabled=\"false\" /></authentication></security>"
		 "</system.webServer></location>\n");
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/rw/web.config",
		 WEBCFG("<rewrite><outboundRules><rule name=\"r\"><match serverVariable=\"RESPONSE_X\" pattern=\".*\" />"
			"<action type=\"Rewrite\" value=\"y\" /></rule></outboundRules></rewrite>"));
	tc_write(&t, "www/norules/web.config", WEBCFG("<rewrite><outboundRules /></rewrite>"));
	/* IIS: authorization without an allow rule lets nobody in */
	tc_write(&t, "www/none/web.config",
		 WEBCFG("<security><authorization><clear /></authorization></security>"));

	tc_write(&t, "www/deny/web.config",
		 WEBCFG("<security><authorization><remove users=\"*\" roles=\"\" verbs=\"\" />"
			"<add accessType=\"Allow\" users=\"admin\" /></authorization></security>"));
	ck_assert_int_eq(tc_check(&t, "/", &err), 0);
	ck_assert_int_eq(tc_check(&t, "/norules/", &err), 0);
	/* outbound rules are implemented (RewriteModule) */
	ck_assert_int_eq(tc_check(&t, "/rw/x", &err), 0);
	ck_assert_int_eq(tc_check(&t, "/none/x", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->message, "security/authorization"));
	ck_assert_int_eq(tc_check(&t, "/deny/x", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->message, "security/authorization"));
	ck_assert_int_eq(tc_check(&t, "/ip/x", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->message, "security/ipSecurity"));
	ck_assert_str_eq(err->file, t.apphost);
	/* security/access is implemented (worker/sslpolicy.c) */
	ck_assert_int_eq(tc_check(&t, "/ssl", &err), 0);
	ck_assert_int_eq(tc_check(&t, "/anon/", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->message, "anonymousAuthentication"));
	ck_assert_int_eq(tc_check(&t, "/other/", &err), 0);
	tc_done(&t);
}
END_TEST

/* <authorization /> merely empty, as IIS's applicationHost.config has it
 * when URL Authorization is not installed, restricts nothing; its rule
 * removed in a web.config, everything. */
START_TEST(test_check_path_empty_authorization)
{
	const struct wasp_config_error *err;
	struct tc t;

	tc_setup(&t, TC_APPHOST_MIN "<system.webServer><security><authorization />"
				    "</security></system.webServer>\n");
	tc_write(&t, "www/a/web.config", WEBCFG("<security><authorization /></security>"));
	tc_write(&t, "www/b/web.config",
		 WEBCFG("<security><authorization><remove users=\"*\" roles=\"\" verbs=\"\" />"
			"</authorization></security>"));
	ck_assert_int_eq(tc_check(&t, "/", &err), 0);
	ck_assert_int_eq(tc_check(&t, "/a/", &err), 0);
	ck_assert_int_eq(tc_check(&t, "/b/", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->message, "security/authorization"));
	tc_done(&t);
}
END_TEST

/* A web.config fixed (or broken) is seen by the next check. */
START_TEST(test_check_path_revalidate)
{
	const struct wasp_config_error *err;
	struct tc t;

	tc_setup(&t, TC_APPHOST_MIN);
	tc_write(&t, "www/web.config", WEBCFG("<directoryBrowse enabled=\"perhaps\" />"));
	ck_assert_int_eq(tc_check(&t, "/a/b.html", &err), -EINVAL);
	tc_write(&t, "www/web.config", WEBCFG("<directoryBrowse enabled=\"true\" />  "));
	ck_assert_int_eq(tc_check(&t, "/a/b.html", &err), 0);
	tc_write(&t, "www/a/web.config", "<configuration>");
	ck_assert_int_eq(tc_check(&t, "/a/b.html", &err), -EINVAL);
	ck_assert_int_eq(tc_check(&t, "/b.html", &err), 0);
	tc_done(&t);
}
END_TEST

static Suite *
config_merge_suite(void)
{
	Suite *s = suite_create("config_merge");
	TCase *tc;

	tc = tcase_create("collections");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_collection_add_remove_clear);
	tcase_add_test(tc, test_collection_duplicate);
	tcase_add_test(tc, test_collection_duplicate_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("locations");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_location_paths);
	tcase_add_test(tc, test_web_config_hierarchy);
	tcase_add_test(tc, test_web_config_errors);
	tcase_add_test(tc, test_child_apps_and_subdirs);
	suite_add_tcase(s, tc);

	tc = tcase_create("locks");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_lock_attributes);
	tcase_add_test(tc, test_lock_all_attributes_except);
	tcase_add_test(tc, test_lock_elements);
	tcase_add_test(tc, test_lock_all_elements_except);
	tcase_add_test(tc, test_lock_item);
	tcase_add_test(tc, test_lock_same_file_level);
	tcase_add_test(tc, test_override_mode);
	tcase_add_test(tc, test_override_mode_result);
	suite_add_tcase(s, tc);

	tc = tcase_create("builtin_defaults");
	tcase_add_test(tc, test_builtin_defaults_merge);
	tcase_add_test(tc, test_builtin_defaults_handlers);
	tcase_add_test(tc, test_builtin_defaults_apphost);
	tcase_add_test(tc, test_builtin_defaults_locks);
	tcase_add_test(tc, test_builtin_defaults_modules);
	tcase_add_test(tc, test_lock_undeclared_section);
	tcase_add_test(tc, test_builtin_defaults_serialized);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_test(tc, test_web_config_doctype);
	tcase_add_test(tc, test_web_config_too_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("allow_definition");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_allow_definition);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_cache_invalidation);
	tcase_add_test(tc, test_cache_revalidate_interval);
	tcase_add_test(tc, test_cache_bounded);
	tcase_add_test(tc, test_cache_deep_url_bytes);
	tcase_add_test(tc, test_cache_missing_dir_appears);
	suite_add_tcase(s, tc);

	tc = tcase_create("check_path");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_check_path_errors);
	tcase_add_test(tc, test_check_path_missing_dir);
	tcase_add_test(tc, test_check_path_not_implemented);
	tcase_add_test(tc, test_check_path_empty_authorization);
	tcase_add_test(tc, test_check_path_revalidate);
	suite_add_tcase(s, tc);

	tc = tcase_create("frozen");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_frozen_sharing);
	tcase_add_test(tc, test_frozen_size);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(config_merge_suite());
}
