/* Loading applicationHost.config: diagnostics, defaults, every type's
 * parsing and range errors, %VAR% expansion, Windows paths, error
 * positions, real IIS files, the apphost view and serialization. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

#include "apphost.h"
#include "arena.h"
#include "config.h"
#include "test_config_util.h"
#include "testutil.h"
#include "wasp-build.h"
#include "timespan.h"
#include "cfgtest.h"

#define MIN_USEC (60 * WASP_USEC_PER_SEC)

/* ---- diagnostics ------------------------------------------------------------ */

START_TEST(test_diag_format)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(wasp_diag_add(&d, WASP_DIAG_ERROR, "a.config", 12, "idleTimeout",
				       "'x' is not a timeSpan"),
			 0);
	ck_assert_int_eq(wasp_diag_add(&d, WASP_DIAG_WARNING, "b.config", 0, NULL, "%s %d", "n", 1),
			 0);
	ck_assert_uint_eq(d.n_errors, 1);
	ck_assert_uint_eq(d.n_warnings, 1);
	f = open_memstream(&buf, &len);
	wasp_diag_list_print(&d, f, WASP_DIAG_WARNING);
	fclose(f);
	ck_assert_str_eq(buf, "a.config:12: error: attribute 'idleTimeout': 'x' is not a timeSpan\n"
			      "b.config: warning: n 1\n");
	free(buf);
	f = open_memstream(&buf, &len);
	wasp_diag_list_print(&d, f, WASP_DIAG_ERROR);
	fclose(f);
	ck_assert_ptr_null(strstr(buf, "warning"));
	free(buf);
	wasp_diag_list_done(&d);
	ck_assert_uint_eq(d.n, 0);
}
END_TEST

/* waspd keeps of the sites and pools only the typed view: releasing the two
 * sections leaves it whole (its strings are not in them; the ASan build
 * would see a use after free), the next wasp_config_section() makes them
 * again, and any other section stays where it was. */
START_TEST(test_section_release)
{
	const char *pools_name = "system.applicationHost/applicationPools";
	const char *sites_name = "system.applicationHost/sites";
	const struct wasp_element *pools, *db, *e;
	struct wasp_apphost *ah = NULL;
	struct tc t;

	tc_setup(&t, TC_APPHOST_MIN);
	ck_assert_int_eq(t.load_result, 0);
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	db = wasp_config_section(t.cfg, "system.webServer/directoryBrowse");
	ck_assert_ptr_nonnull(db);
	wasp_config_section_release(t.cfg, sites_name);
	wasp_config_section_release(t.cfg, pools_name);
	wasp_config_section_release(t.cfg, "system.webServer/directoryBrowse");
	ck_assert_uint_eq(ah->n_pools, 1);
	ck_assert_str_eq(ah->pools[0].name, "P");
	ck_assert_uint_ge(ah->n_sites, 1);
	ck_assert_str_eq(ah->sites[0].name, wasp_element_get_str(wasp_config_section(
		t.cfg, sites_name)->items[0], "name", ""));
	ck_assert_str_eq(ah->sites[0].apps[0].application_pool, "P");
	pools = wasp_config_section(t.cfg, pools_name);
	ck_assert_ptr_nonnull(pools);
	ck_assert_uint_eq(pools->n_items, 1);
	ck_assert_str_eq(pools->items[0]->key, "P");
	e = wasp_config_section(t.cfg, "system.webServer/directoryBrowse");
	ck_assert_ptr_eq(e, db);
	wasp_config_section_release(t.cfg, pools_name); /* twice: nothing to do */
	wasp_config_section_release(t.cfg, pools_name);
	tc_done(&t);
}
END_TEST

/* A site is found by its name, case aside, among many written in no order
 * (an index made at the first look-up), and again once the sites section
 * was released and made anew. */
START_TEST(test_find_site_many)
{
	const char *sites_name = "system.applicationHost/sites";
	const struct wasp_element *e;
	char *body = NULL, name[32];
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	struct tc t;

	ck_assert_ptr_nonnull(f);
	fputs("<system.applicationHost><applicationPools><add name=\"P\" /></applicationPools>"
	      "<sites>\n", f);
	for (unsigned i = 0; i < 300; i++) {
		unsigned k = (i * 7919) % 300; /* every k once, shuffled */

		fprintf(f, "<site name=\"%s%u\" id=\"%u\"><application path=\"/\" "
			   "applicationPool=\"P\"><virtualDirectory path=\"/\" physicalPath=\"www\" />"
			   "</application></site>\n", k % 2 ? "Site" : "site", k, k + 1);
	}
	fputs("</sites></system.applicationHost>\n", f);
	ck_assert_int_eq(fclose(f), 0);
	tc_setup(&t, body);
	free(body);
	ck_assert_int_eq(t.load_result, 0);
	for (int round = 0; round < 2; round++) {
		for (unsigned k = 0; k < 300; k++) {
			snprintf(name, sizeof(name), "%s%u/", k % 3 ? "SITE" : "sItE", k);
			ck_assert_int_eq(wasp_config_effective_section(
						 t.cfg, name, "system.webServer/directoryBrowse", &e,
						 &t.diags),
					 0);
		}
		ck_assert_int_eq(wasp_config_effective_section(t.cfg, "site300/",
							       "system.webServer/directoryBrowse",
							       &e, &t.diags),
				 -ENOENT);
		ck_assert_int_eq(wasp_config_effective_section(t.cfg, "site/",
							       "system.webServer/directoryBrowse",
							       &e, &t.diags),
				 -ENOENT);
		wasp_config_section_release(t.cfg, sites_name);
	}
	tc_done(&t);
}
END_TEST

/* ---- defaults ----------------------------------------------------------------- */

START_TEST(test_defaults_pool)
{
	struct tc t;
	const struct wasp_element *pools, *p, *pm;
	struct wasp_apphost *ah = NULL;
	const struct wasp_apppool *ap;

	tc_setup(&t, TC_APPHOST_MIN);
	ck_assert_int_eq(t.load_result, 0);
	tc_expect_clean(&t.diags);
	pools = wasp_config_section(t.cfg, "system.applicationHost/applicationPools");
	ck_assert_ptr_nonnull(pools);
	ck_assert_uint_eq(pools->n_items, 1);
	p = pools->items[0];
	ck_assert_str_eq(p->key, "P");
	ck_assert_uint_eq(wasp_element_get_uint(p, "queueLength", 0), 1000);
	ck_assert(wasp_element_get_bool(p, "autoStart", false));
	ck_assert_str_eq(wasp_element_get_str(p, "startMode", ""), "OnDemand");
	ck_assert_str_eq(wasp_element_get_str(p, "managedPipelineMode", ""), "Integrated");
	pm = wasp_element_child(p, "processModel");
	ck_assert_uint_eq(wasp_element_get_uint(pm, "idleTimeout", 0), 20 * MIN_USEC);
	ck_assert_uint_eq(wasp_element_get_uint(pm, "maxProcesses", 0), 1);
	ck_assert(wasp_element_get_bool(pm, "pingingEnabled", false));
	ck_assert(!wasp_element_attr(pm, "idleTimeout")->is_set);
	ck_assert_uint_eq(wasp_element_get_uint(wasp_element_child(p, "recycling/periodicRestart"),
						 "time", 0),
			  29 * 60 * MIN_USEC);

	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	ap = wasp_apphost_find_pool(ah, "p");
	ck_assert_ptr_nonnull(ap);
	ck_assert_int_eq(ap->start_mode, WASP_START_ON_DEMAND);
	ck_assert_int_eq(ap->process_model.identity_type, WASP_IDENTITY_APPLICATION_POOL_IDENTITY);
	ck_assert_uint_eq(ap->process_model.idle_timeout, 20 * MIN_USEC);
	ck_assert_uint_eq(ap->process_model.startup_time_limit, 90 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(ap->process_model.shutdown_time_limit, 90 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(ap->process_model.ping_interval, 30 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(ap->process_model.ping_response_time, 90 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(ap->recycling.time, 29 * 60 * MIN_USEC);
	ck_assert(ap->failure.rapid_fail_protection);
	ck_assert_uint_eq(ap->failure.rapid_fail_protection_interval, 5 * MIN_USEC);
	ck_assert_uint_eq(ap->failure.rapid_fail_protection_max_crashes, 5);
	ck_assert_int_eq(ap->failure.load_balancer_capabilities, WASP_LB_HTTP_LEVEL);
	ck_assert_uint_eq(ap->queue_length, 1000);
	tc_done(&t);
}
END_TEST

START_TEST(test_defaults_elements)
{
	struct tc t;
	struct wasp_apphost *ah = NULL;
	const struct wasp_site *s;
	const struct wasp_apppool *a, *b;

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools>\n"
		     "  <add name=\"A\" />\n"
		     "  <add name=\"B\" queueLength=\"50\"><processModel idleTimeout=\"00:00:30\" /></add>\n"
		     "  <applicationPoolDefaults queueLength=\"4000\" startMode=\"AlwaysRunning\">\n"
		     "   <processModel idleTimeout=\"00:05:00\" maxProcesses=\"2\" />\n"
		     "  </applicationPoolDefaults>\n"
		     " </applicationPools>\n"
		     " <sites>\n"
		     "  <site name=\"S\" id=\"7\">\n"
		     "   <applicationDefaults applicationPool=\"B\" />\n"
		     "   <application path=\"/\"><virtualDirectory path=\"/\" physicalPath=\"www\" /></application>\n"
		     "   <application path=\"/x\" applicationPool=\"A\"><virtualDirectory path=\"/\" /></application>\n"
		     "   <bindings><binding protocol=\"http\" bindingInformation=\"*:80:\" /></bindings>\n"
		     "  </site>\n"
		     "  <site name=\"T\" id=\"8\" serverAutoStart=\"false\">\n"
		     "   <application path=\"/\"><virtualDirectory path=\"/\" /></application>\n"
		     "   <limits connectionTimeout=\"00:00:10\" />\n"
		     "  </site>\n"
		     "  <siteDefaults><limits connectionTimeout=\"00:00:42\" maxConnections=\"9\" />"
		     "<logFile directory=\"logs\" period=\"Hourly\" /></siteDefaults>\n"
		     "  <applicationDefaults applicationPool=\"A\" />\n"
		     "  <virtualDirectoryDefaults physicalPath=\"www-app\" />\n"
		     " </sites>\n"
		     "</system.applicationHost>\n");
	tc_expect_clean(&t.diags);
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	a = wasp_apphost_find_pool(ah, "A");
	b = wasp_apphost_find_pool(ah, "B");
	ck_assert_uint_eq(a->queue_length, 4000);
	ck_assert_uint_eq(b->queue_length, 50);
	ck_assert_int_eq(a->start_mode, WASP_START_ALWAYS_RUNNING);
	ck_assert_uint_eq(a->process_model.idle_timeout, 5 * MIN_USEC);
	ck_assert_uint_eq(b->process_model.idle_timeout, 30 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(b->process_model.max_processes, 2);

	s = wasp_apphost_find_site(ah, "S");
	ck_assert_uint_eq(s->id, 7);
	/* The site's own applicationDefaults wins over the sites level. */
	ck_assert_str_eq(s->apps[0].application_pool, "B");
	ck_assert_str_eq(s->apps[1].application_pool, "A");
	ck_assert_uint_eq(s->apps[1].pool_id, a->id);
	/* virtualDirectoryDefaults fills physicalPath where unset. */
	ck_assert_ptr_nonnull(strstr(s->apps[1].vdirs[0].physical_path, "/www-app"));
	ck_assert(wasp_virtual_directory_exists(&s->apps[1].vdirs[0]));
	ck_assert_ptr_nonnull(strstr(s->apps[0].vdirs[0].physical_path, "/www"));
	ck_assert_uint_eq(s->limits.connection_timeout, 42 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(s->limits.max_connections, 9);
	ck_assert_str_eq(s->log_file.period, "Hourly");
	ck_assert_ptr_nonnull(strstr(s->log_file.directory, "/logs"));
	ck_assert(s->server_auto_start);
	s = wasp_apphost_find_site_id(ah, 8);
	ck_assert(!s->server_auto_start);
	ck_assert_uint_eq(s->limits.connection_timeout, 10 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(s->limits.max_connections, 9);
	tc_done(&t);
}
END_TEST

/* IIS's default log directory, %SystemDrive%\inetpub\logs\LogFiles, is
 * wasp's (WASP_LOGDIR/LogFiles) where SystemDrive is not set, whether it is
 * the schema's default or written in the file; any other stays. */
START_TEST(test_log_directory_default)
{
	struct tc t;
	struct wasp_apphost *ah = NULL;
	char buf[256];

	unsetenv("SystemDrive");
	unsetenv("WASP_LOG_DIR");
	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"A\" /></applicationPools>\n"
		     " <sites>\n"
		     "  <site name=\"S\" id=\"1\"><application path=\"/\" applicationPool=\"A\">"
		     "<virtualDirectory path=\"/\" physicalPath=\"/\" /></application></site>\n"
		     "  <site name=\"T\" id=\"2\"><application path=\"/\" applicationPool=\"A\">"
		     "<virtualDirectory path=\"/\" physicalPath=\"/\" /></application>"
		     "<logFile directory=\"%SystemDrive%\\inetpub\\logs\\LogFiles\" /></site>\n"
		     "  <site name=\"U\" id=\"3\"><application path=\"/\" applicationPool=\"A\">"
		     "<virtualDirectory path=\"/\" physicalPath=\"/\" /></application>"
		     "<logFile directory=\"/srv/logs\" /></site>\n"
		     " </sites>\n"
		     "</system.applicationHost>\n");
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	ck_assert_str_eq(wasp_apphost_find_site(ah, "S")->log_file.directory,
			 WASP_LOGDIR "/LogFiles");
	ck_assert_str_eq(wasp_apphost_find_site(ah, "T")->log_file.directory,
			 WASP_LOGDIR "/LogFiles");
	ck_assert_str_eq(wasp_apphost_find_site(ah, "U")->log_file.directory, "/srv/logs");
	ck_assert_str_eq(wasp_config_log_directory("%SYSTEMDRIVE%/InetPub/Logs/FailedReqLogFiles",
						   buf, sizeof(buf)),
			 WASP_LOGDIR "/FailedReqLogFiles");
	ck_assert_str_eq(wasp_config_log_directory("%SystemDrive%\\inetpub\\wwwroot", buf,
						   sizeof(buf)),
			 "%SystemDrive%\\inetpub\\wwwroot");
	setenv("WASP_LOG_DIR", "/srv/wasp-logs", 1);
	ck_assert_str_eq(wasp_config_log_directory("%SystemDrive%\\inetpub\\logs\\LogFiles", buf,
						   sizeof(buf)),
			 "/srv/wasp-logs/LogFiles");
	unsetenv("WASP_LOG_DIR");
	tc_done(&t);
}
END_TEST

START_TEST(test_defaults_webserver)
{
	struct tc t;
	const struct wasp_element *e;

	tc_setup(&t, TC_APPHOST_MIN);
	e = tc_eff(&t, "S/", "system.webServer/security/requestFiltering", NULL);
	ck_assert_uint_eq(wasp_element_get_uint(wasp_element_child(e, "requestLimits"),
						 "maxAllowedContentLength", 0),
			  30000000);
	ck_assert_uint_eq(wasp_element_get_uint(wasp_element_child(e, "requestLimits"), "maxUrl", 0),
			  4096);
	ck_assert(wasp_element_get_bool(wasp_element_child(e, "fileExtensions"), "allowUnlisted",
					false));
	e = tc_eff(&t, "S/", "system.webServer/directoryBrowse", NULL);
	ck_assert(!wasp_element_get_bool(e, "enabled", true));
	ck_assert_str_eq(wasp_element_get_str(e, "showFlags", ""), "Date,Time,Size,Extension");
	e = tc_eff(&t, "S/", "system.webServer/httpErrors", NULL);
	ck_assert_str_eq(wasp_element_get_str(e, "errorMode", ""), "DetailedLocalOnly");
	e = tc_eff(&t, "S/", "system.webServer/handlers", NULL);
	/* the schema's default is Read; the built-in defaults set IIS's
	 * shipped "Read, Script" */
	ck_assert_str_eq(wasp_element_get_str(e, "accessPolicy", ""), "Read,Script");
	ck_assert_uint_eq(wasp_element_get_uint(e, "accessPolicy", 0), 1 | 512);
	tc_done(&t);
}
END_TEST

/* ---- types -------------------------------------------------------------------- */

static void
pool_attr_case(const char *attrs, const char *pm_attrs, const char *want_attr, const char *want_msg)
{
	struct tc t;
	char *body;
	const struct wasp_diag *d;

	ck_assert_int_gt(asprintf(&body,
				  "<system.applicationHost><applicationPools>\n"
				  "<add name=\"P\" %s><processModel %s /></add>\n"
				  "</applicationPools></system.applicationHost>\n",
				  attrs, pm_attrs),
			 0);
	tc_setup(&t, body);
	free(body);
	if (!want_msg) {
		tc_expect_clean(&t.diags);
		ck_assert_int_eq(t.load_result, 0);
	} else {
		ck_assert_int_eq(t.load_result, -EINVAL);
		d = tc_expect(&t.diags, WASP_DIAG_ERROR, want_msg);
		ck_assert_str_eq(d->attribute, want_attr);
		ck_assert_int_eq(d->line, tc_line_of(t.apphost, "<add name=\"P\""));
		ck_assert_str_eq(d->file, t.apphost);
	}
	tc_done(&t);
}

START_TEST(test_type_bool)
{
	pool_attr_case("autoStart=\"False\"", "pingingEnabled=\"TRUE\"", NULL, NULL);
	pool_attr_case("autoStart=\"yes\"", "", "autoStart", "is not a bool");
	pool_attr_case("", "pingingEnabled=\"1\"", "pingingEnabled", "is not a bool");
}
END_TEST

START_TEST(test_type_uint)
{
	pool_attr_case("queueLength=\"65535\"", "maxProcesses=\"0\"", NULL, NULL);
	pool_attr_case("queueLength=\"9\"", "", "queueLength", "out of range (10-65535)");
	pool_attr_case("queueLength=\"70000\"", "", "queueLength", "out of range");
	pool_attr_case("queueLength=\"-1\"", "", "queueLength", "not an unsigned integer");
	pool_attr_case("queueLength=\"12abc\"", "", "queueLength", "not an unsigned integer");
	pool_attr_case("", "maxProcesses=\"99999999999\"", "maxProcesses", "out of range");
}
END_TEST

START_TEST(test_type_int)
{
	struct tc t;
	const struct wasp_diag *d;

	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer><httpErrors>\n"
		 "<error statusCode=\"404\" subStatusCode=\"-1\" path=\"a.htm\" />\n"
		 "<error statusCode=\"404\" subStatusCode=\"2\" path=\"b.htm\" />\n"
		 "<error statusCode=\"500\" subStatusCode=\"-2\" path=\"c.htm\" />\n"
		 "<error statusCode=\"500\" subStatusCode=\"x\" path=\"c.htm\" />\n"
		 "<error statusCode=\"399\" path=\"c.htm\" />\n"
		 "</httpErrors></system.webServer>\n");
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "-2 is out of range (-1 to 999)");
	ck_assert_str_eq(d->attribute, "subStatusCode");
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "'x' is not an integer");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "subStatusCode=\"x\""));
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "399 is out of range (400-999)");
	ck_assert_str_eq(d->attribute, "statusCode");
	{
		const struct wasp_element *e = wasp_config_section(t.cfg, "system.webServer/httpErrors");

		/* Combined key: 404/-1 and 404/2 are two entries. */
		ck_assert_uint_eq(e->n_items, 2);
		ck_assert_int_eq(wasp_element_get_int(e->items[1], "subStatusCode", 0), 2);
		ck_assert_str_eq(e->items[1]->key, "404|2");
	}
	tc_done(&t);
}
END_TEST

START_TEST(test_type_enum)
{
	pool_attr_case("startMode=\"alwaysrunning\" managedPipelineMode=\"1\"", "", NULL, NULL);
	pool_attr_case("startMode=\"Sometimes\"", "", "startMode",
		       "'Sometimes' is not one of: OnDemand, AlwaysRunning");
	pool_attr_case("", "identityType=\"Root\"", "identityType", "is not one of");
}
END_TEST

START_TEST(test_type_flags)
{
	struct tc t;
	const struct wasp_element *e;
	const struct wasp_diag *d;

	tc_setup(&t, TC_APPHOST_MIN "<system.webServer>\n"
				    "<directoryBrowse showFlags=\" size ,Date,LongDate\" />\n"
				    "<handlers accessPolicy=\"Read, Bogus\" />\n"
				    "</system.webServer>\n");
	e = wasp_config_section(t.cfg, "system.webServer/directoryBrowse");
	ck_assert_uint_eq(wasp_element_get_uint(e, "showFlags", 0), 2 | 8 | 32);
	ck_assert_str_eq(wasp_element_get_str(e, "showFlags", ""), "Date,Size,LongDate");
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "'Bogus' is not one of: None, Read");
	ck_assert_str_eq(d->attribute, "accessPolicy");
	tc_done(&t);
}
END_TEST

START_TEST(test_type_timespan)
{
	struct tc t;
	const struct wasp_element *pm;

	/* Seconds where IIS wants whole minutes, and days. */
	pool_attr_case("", "idleTimeout=\"00:00:05\" shutdownTimeLimit=\"00:00:01\"", NULL, NULL);
	pool_attr_case("", "idleTimeout=\"1.00:00:00\"", NULL, NULL);
	pool_attr_case("", "idleTimeout=\"31.00:00:00\"", "idleTimeout",
		       "out of range (00:00:00 to 30.00:00:00)");
	pool_attr_case("", "idleTimeout=\"20 minutes\"", "idleTimeout", "is not a timeSpan");
	pool_attr_case("", "pingInterval=\"00:61:00\"", "pingInterval", "out of range");
	pool_attr_case("", "startupTimeLimit=\"00:00:00\"", "startupTimeLimit", "out of range");

	tc_setup(&t, "<system.applicationHost><applicationPools>\n"
		     "<add name=\"P\"><processModel idleTimeout=\"00:00:05\" />"
		     "<recycling><periodicRestart time=\"00:00:30\" /></recycling></add>\n"
		     "</applicationPools></system.applicationHost>\n");
	pm = wasp_element_child(
		wasp_config_section(t.cfg, "system.applicationHost/applicationPools")->items[0],
		"processModel");
	ck_assert_uint_eq(wasp_element_get_uint(pm, "idleTimeout", 0), 5 * WASP_USEC_PER_SEC);
	ck_assert_str_eq(wasp_element_get_str(pm, "idleTimeout", ""), "00:00:05");
	tc_done(&t);
}
END_TEST

START_TEST(test_type_string_required)
{
	struct tc t;
	const struct wasp_diag *d;

	tc_setup(&t, "<system.applicationHost><applicationPools>\n"
		     "<add queueLength=\"100\" />\n"
		     "<add name=\"\" />\n"
		     "</applicationPools></system.applicationHost>\n");
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "required attribute missing on <add>");
	ck_assert_str_eq(d->attribute, "name");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "queueLength=\"100\""));
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "must not be empty");
	ck_assert_str_eq(d->attribute, "name");
	tc_done(&t);
}
END_TEST

/* ---- unknown things, declarations ------------------------------------------------ */

START_TEST(test_unknown_warnings)
{
	struct tc t;
	const struct wasp_diag *d;

	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer>\n"
		 " <defaultDocument enabled=\"true\" color=\"blue\">\n"
		 "  <files><add value=\"a.html\" /></files>\n"
		 "  <extra />\n"
		 " </defaultDocument>\n"
		 " <frobnicate><rules /></frobnicate>\n"
		 "</system.webServer>\n"
		 "<system.web><compilation debug=\"true\" /></system.web>\n");
	ck_assert_int_eq(t.load_result, 0);
	tc_expect_clean(&t.diags);
	d = tc_expect(&t.diags, WASP_DIAG_WARNING, "unknown attribute on <defaultDocument>");
	ck_assert_str_eq(d->attribute, "color");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "color="));
	d = tc_expect(&t.diags, WASP_DIAG_WARNING, "unknown element <extra>");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "<extra"));
	tc_expect(&t.diags, WASP_DIAG_WARNING, "unknown section 'system.webServer/frobnicate'");
	tc_expect(&t.diags, WASP_DIAG_WARNING, "<system.web> is not implemented by wasp");
	tc_done(&t);
}
END_TEST

START_TEST(test_config_sections)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	const char *xml =
		"<configuration>\n"
		"<configSections>\n"
		" <sectionGroup name=\"system.webServer\">\n"
		"  <section name=\"defaultDocument\" overrideModeDefault=\"Sometimes\" />\n"
		"  <section name=\"vendorThing\" overrideModeDefault=\"Deny\" />\n"
		" </sectionGroup>\n"
		"</configSections>\n"
		"<system.webServer>\n"
		" <vendorThing scriptErrorSentToBrowser=\"true\" />\n"
		" <vendorThing />\n"
		" <directoryBrowse enabled=\"true\" />\n"
		"</system.webServer>\n"
		"</configuration>\n";
	const struct wasp_diag *x;
	int n = 0;

	ck_assert_int_eq(wasp_config_load_buffer(xml, strlen(xml), "/nonexistent/a.config", NULL,
						 &cfg, &d),
			 -EINVAL);
	x = tc_expect(&d, WASP_DIAG_ERROR, "'Sometimes' is not Allow or Deny");
	ck_assert_int_eq(x->line, 4);
	ck_assert_str_eq(x->attribute, "overrideModeDefault");
	/* Declared but not implemented: one warning, at the declaration. */
	for (size_t i = 0; i < d.n; i++)
		n += strstr(d.items[i].message, "system.webServer/vendorThing") != NULL;
	ck_assert_int_eq(n, 1);
	x = tc_expect(&d, WASP_DIAG_WARNING,
		      "section 'system.webServer/vendorThing' is not implemented");
	ck_assert_int_eq(x->line, 5);
	/* Used but never declared. */
	x = tc_expect(&d, WASP_DIAG_WARNING,
		      "section 'system.webServer/directoryBrowse' is not declared in configSections");
	ck_assert_int_eq(x->line, 11);
	ck_assert(wasp_element_get_bool(wasp_config_section(cfg, "system.webServer/directoryBrowse"),
					"enabled", false));
	wasp_config_free(cfg);
	wasp_diag_list_done(&d);
}
END_TEST

START_TEST(test_not_xml)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	const char *bad = "<configuration>\n<system.webServer>\n</configuration>\n";
	const char *notcfg = "<?xml version=\"1.0\"?>\n<foo/>\n";
	const struct wasp_diag *x;

	ck_assert_int_eq(wasp_config_load_buffer(bad, strlen(bad), "x.config", NULL, &cfg, &d),
			 -EINVAL);
	ck_assert_ptr_null(cfg);
	x = tc_expect(&d, WASP_DIAG_ERROR, "not well-formed XML");
	ck_assert_int_ge(x->line, 3); /* where libxml2 noticed */
	ck_assert_ptr_null(strchr(x->message, '\n'));
	wasp_diag_list_done(&d);
	ck_assert_int_eq(wasp_config_load_buffer(notcfg, strlen(notcfg), "y.config", NULL, &cfg, &d),
			 -EINVAL);
	x = tc_expect(&d, WASP_DIAG_ERROR, "root element must be <configuration>");
	ck_assert_int_eq(x->line, 2);
	wasp_config_free(cfg);
	wasp_diag_list_done(&d);
	ck_assert_int_eq(wasp_config_load_buffer("", 0, "z.config", NULL, &cfg, &d), -EINVAL);
	wasp_diag_list_done(&d);
	ck_assert_int_eq(wasp_config_load_file("/nonexistent/applicationHost.config", NULL, &cfg, &d),
			 -ENOENT);
	tc_expect(&d, WASP_DIAG_ERROR, "cannot open");
	wasp_diag_list_done(&d);
}
END_TEST

/* ---- hostile files ------------------------------------------------------------ */

/* A DOCTYPE (and with it any entity declaration) is refused in every
 * configuration file, with the file and its line, before libxml2 could
 * expand anything: billion laughs, an external entity, a plain DTD, in
 * UTF-8 and UTF-16. */
START_TEST(test_doctype_refused)
{
	static const char *const docs[] = {
		/* billion laughs */
		"<?xml version=\"1.0\"?>\n<!-- x -->\n<!DOCTYPE configuration [\n"
		" <!ENTITY a \"aaaaaaaaaa\">\n <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
		" <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
		" <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n]>\n"
		"<configuration><system.webServer><defaultDocument><files>"
		"<add value=\"&d;&d;&d;&d;\" /></files></defaultDocument></system.webServer>"
		"</configuration>\n",
		/* an external entity */
		"<?xml version=\"1.0\"?>\n\n\n<!DOCTYPE configuration [ <!ENTITY x SYSTEM "
		"\"file:///etc/passwd\"> ]>\n<configuration><system.webServer><httpRedirect "
		"destination=\"&x;\" /></system.webServer></configuration>\n",
		/* an external DTD */
		"<?xml version=\"1.0\"?>\n\n\n<!DOCTYPE configuration SYSTEM \"http://x.test/d.dtd\">\n"
		"<configuration />\n",
	};
	static const int lines[] = { 3, 4, 4 };

	for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
		struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
		struct wasp_config *cfg = NULL;
		const struct wasp_diag *x;

		ck_assert_int_eq(wasp_config_load_buffer(docs[i], strlen(docs[i]), "/x/ah.config",
							 NULL, &cfg, &d),
				 -EINVAL);
		x = tc_expect(&d, WASP_DIAG_ERROR, "(<!DOCTYPE>) is not allowed");
		ck_assert_str_eq(x->file, "/x/ah.config");
		ck_assert_int_eq(x->line, lines[i]);
		ck_assert_uint_eq(d.n_errors, 1);
		wasp_config_free(cfg);
		wasp_diag_list_done(&d);
	}
	/* UTF-16, with its byte order mark */
	{
		const char *doc = "<!DOCTYPE configuration [ <!ENTITY a \"x\"> ]>\n<configuration />\n";
		size_t n = strlen(doc);
		char *u = calloc(2 * n + 2, 1);
		struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
		struct wasp_config *cfg = NULL;

		ck_assert_ptr_nonnull(u);
		u[0] = (char)0xff;
		u[1] = (char)0xfe;
		for (size_t i = 0; i < n; i++)
			u[2 + 2 * i] = doc[i];
		ck_assert_int_eq(wasp_config_load_buffer(u, 2 * n + 2, "u16.config", NULL, &cfg, &d),
				 -EINVAL);
		ck_assert_int_eq(tc_expect(&d, WASP_DIAG_ERROR, "(<!DOCTYPE>) is not allowed")->line, 1);
		wasp_config_free(cfg);
		wasp_diag_list_done(&d);
		free(u);
	}
}
END_TEST

/* Two pools A and B, sites SA (in A) and SB (in B); n_shared headers of
 * %WASP_TEST_BIG% (1 MiB) for every site, n_a in <location path="SA">,
 * n_b in <location path="SB">. */
static char *
big_config(size_t n_shared, size_t n_a, size_t n_b, size_t *ret_len)
{
	static const char *const where[] = { "", "SA", "SB" };
	size_t n[] = { n_shared, n_a, n_b };
	char *xml = NULL;
	FILE *f = open_memstream(&xml, ret_len);

	ck_assert_ptr_nonnull(f);
	fprintf(f, "<configuration>\n" TC_SECTIONS
		   "<system.applicationHost>\n"
		   " <applicationPools><add name=\"A\" /><add name=\"B\" /></applicationPools>\n"
		   " <sites>\n");
	for (size_t k = 1; k < 3; k++)
		fprintf(f, "  <site name=\"%s\" id=\"%zu\"><application path=\"/\" "
			   "applicationPool=\"%c\"><virtualDirectory path=\"/\" physicalPath=\"w\" />"
			   "</application><bindings><binding protocol=\"http\" "
			   "bindingInformation=\"*:80:%s\" /></bindings></site>\n",
			where[k], k, where[k][1], where[k]);
	fprintf(f, " </sites>\n</system.applicationHost>\n");
	for (size_t k = 0; k < 3; k++) {
		if (!n[k])
			continue;
		fprintf(f, "<location path=\"%s\"><system.webServer><httpProtocol><customHeaders>\n",
			where[k]);
		for (size_t i = 0; i < n[k]; i++)
			fprintf(f, "<add name=\"h%zu\" value=\"%%WASP_TEST_BIG%%\" />\n", i);
		fprintf(f, "</customHeaders></httpProtocol></system.webServer></location>\n");
	}
	fprintf(f, "</configuration>\n");
	ck_assert_int_eq(fclose(f), 0);
	return xml;
}

/* The line of big_config()'s pools. */
static int
line_of_pools(void)
{
	const char *head = "<configuration>\n" TC_SECTIONS "<system.applicationHost>\n";
	int line = 1;

	for (const char *p = head; *p; p++)
		line += *p == '\n';
	return line;
}

/* Loads big_config(), builds the typed view: its result. */
static int
big_load(size_t n_shared, size_t n_a, size_t n_b, struct wasp_config **cfg,
	 struct wasp_apphost **ah, struct wasp_diag_list *d)
{
	size_t xlen = 0;
	_cleanup_free_ char *xml = big_config(n_shared, n_a, n_b, &xlen);

	*cfg = NULL;
	ck_assert_int_eq(wasp_config_load_buffer(xml, xlen, "/x/big.config", NULL, cfg, d), 0);
	return wasp_apphost_build(*cfg, wasp_config_arena(*cfg), ah, d);
}

/* Whatever loads, a worker can read, and the bound is each pool's: a
 * configuration in which one pool's copy (every section but the pools'
 * and sites', and its own sites' <location>s) would pass
 * WASP_CONFIG_SERIAL_MAX is refused naming that pool (here by %VAR%
 * expansion); two pools whose copies stay under it load although the
 * whole generation is over it, and each copy has only its own site's. */
START_TEST(test_serialized_limit)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	struct wasp_apphost *ah = NULL;
	const struct wasp_diag *e;
	size_t vlen = 1024 * 1024, over = WASP_CONFIG_SERIAL_MAX / vlen + 1, len = 0;
	char *val = malloc(vlen + 1), *buf = NULL;

	ck_assert_ptr_nonnull(val);
	memset(val, 'v', vlen);
	val[vlen] = '\0';
	ck_assert_int_eq(setenv("WASP_TEST_BIG", val, 1), 0);
	free(val);

	/* in every copy: both pools refused */
	ck_assert_int_eq(big_load(over, 0, 0, &cfg, &ah, &d), -EINVAL);
	e = tc_expect(&d, WASP_DIAG_ERROR, "application pool 'A': the configuration is too large");
	ck_assert_str_eq(e->file, "/x/big.config");
	ck_assert_int_eq(e->line, line_of_pools());
	tc_expect(&d, WASP_DIAG_ERROR, "application pool 'B': the configuration is too large");
	cfg = wasp_config_free(cfg);
	wasp_diag_list_done(&d);

	/* in SA's <location> only: A refused, B not */
	ck_assert_int_eq(big_load(0, over, 0, &cfg, &ah, &d), -EINVAL);
	tc_expect(&d, WASP_DIAG_ERROR, "application pool 'A': the configuration is too large");
	ck_assert_uint_eq(d.n_errors, 1);
	cfg = wasp_config_free(cfg);
	wasp_diag_list_done(&d);

	/* 40 MiB each: 80 for the whole, under 64 for each pool */
	ck_assert_int_eq(big_load(0, 40, 40, &cfg, &ah, &d), 0);
	ck_assert_uint_eq(d.n_errors, 0);
	ck_assert_int_eq(wasp_config_serialize_pool(cfg, ah, "A", &buf, &len), 0);
	ck_assert_uint_gt(len, 40 * vlen);
	ck_assert_uint_lt(len, 41 * vlen);
	ck_assert_ptr_null(strstr(buf, "\"SB\""));
	free(buf);
	cfg = wasp_config_free(cfg);
	wasp_diag_list_done(&d);
	ck_assert_int_eq(unsetenv("WASP_TEST_BIG"), 0);

	/* the example configuration: loads, and serializes within the bound */
	ck_assert_int_eq(wasp_config_load_file(WASP_EXAMPLES_DIR "/applicationHost.config", NULL,
					       &cfg, &d),
			 0);
	ck_assert_int_eq(wasp_config_serialize(cfg, &buf, &len), 0);
	ck_assert_uint_gt(len, 0);
	wasp_config_free(cfg);
	wasp_diag_list_done(&d);
	free(buf);
}
END_TEST

/* ---- %VAR% and paths ------------------------------------------------------------ */

START_TEST(test_env_expansion)
{
	struct tc t;
	struct wasp_apphost *ah = NULL;
	const struct wasp_site *s;
	const struct wasp_element *e;

	setenv("WASP_TEST_ROOT", "/srv/wasp-test", 1);
	setenv("WASP_TEST_PORT", "8123", 1);
	unsetenv("WASP_TEST_UNSET");
	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\" queueLength=\"%WASP_TEST_PORT%\" /></applicationPools>\n"
		     " <sites><site name=\"S\" id=\"1\">\n"
		     "  <application path=\"/\" applicationPool=\"P\">\n"
		     "   <virtualDirectory path=\"/\" physicalPath=\"%WASP_TEST_ROOT%\\www\" />\n"
		     "   <virtualDirectory path=\"/u\" physicalPath=\"%WASP_TEST_UNSET%\\x\" />\n"
		     "  </application>\n"
		     "  <bindings><binding protocol=\"http\" bindingInformation=\"*:%WASP_TEST_PORT%:\" /></bindings>\n"
		     " </site></sites>\n"
		     "</system.applicationHost>\n"
		     "<system.webServer><httpProtocol><customHeaders>\n"
		     " <add name=\"X\" value=\"100%% %WASP_TEST_UNSET% %WASP_TEST_PORT%%WASP_TEST_PORT%\" />\n"
		     "</customHeaders></httpProtocol></system.webServer>\n");
	tc_expect_clean(&t.diags);
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	s = wasp_apphost_find_site(ah, "S");
	ck_assert_str_eq(s->apps[0].vdirs[0].physical_path, "/srv/wasp-test/www");
	ck_assert_str_eq(s->apps[0].vdirs[1].physical_path, "%WASP_TEST_UNSET%/x");
	ck_assert_uint_eq(s->bindings[0].port, 8123);
	ck_assert_uint_eq(ah->pools[0].queue_length, 8123);
	e = wasp_config_section(t.cfg, "system.webServer/httpProtocol");
	ck_assert_str_eq(wasp_element_get_str(wasp_element_child(e, "customHeaders")->items[0],
					      "value", ""),
			 "100%% %WASP_TEST_UNSET% 81238123");
	tc_expect(&t.diags, WASP_DIAG_WARNING, "'/srv/wasp-test/www' does not exist");
	tc_done(&t);

	/* no_env_expansion leaves the text alone. */
	{
		struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
		struct wasp_config_opts o = { .no_env_expansion = true };
		struct wasp_config *cfg = NULL;
		const char *xml = "<configuration><system.webServer><httpProtocol><customHeaders>"
				  "<add name=\"X\" value=\"%WASP_TEST_PORT%\" /></customHeaders>"
				  "</httpProtocol></system.webServer></configuration>";

		wasp_config_load_buffer(xml, strlen(xml), "/tmp/x.config", &o, &cfg, &d);
		ck_assert_str_eq(
			wasp_element_get_str(wasp_element_child(wasp_config_section(cfg, "system.webServer/httpProtocol"),
								"customHeaders")
						     ->items[0],
					     "value", ""),
			"%WASP_TEST_PORT%");
		wasp_config_free(cfg);
		wasp_diag_list_done(&d);
	}
}
END_TEST

START_TEST(test_windows_paths)
{
	struct tc t;
	struct wasp_apphost *ah = NULL;
	const struct wasp_site *s;
	const struct wasp_diag *d;
	char *want;

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\" /></applicationPools>\n"
		     " <sites><site name=\"S\" id=\"1\">\n"
		     "  <application path=\"/\" applicationPool=\"P\">\n"
		     "   <virtualDirectory path=\"/\" physicalPath=\".\\www-app\" />\n"
		     "   <virtualDirectory path=\"/c\" physicalPath=\"C:\\inetpub\\wwwroot\" />\n"
		     "  </application>\n"
		     " </site></sites>\n"
		     "</system.applicationHost>\n");
	tc_expect_clean(&t.diags);
	d = tc_expect(&t.diags, WASP_DIAG_WARNING,
		      "'C:/inetpub/wwwroot' is a Windows drive path that does not exist here");
	ck_assert_str_eq(d->attribute, "physicalPath");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "C:\\inetpub"));
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	s = wasp_apphost_find_site(ah, "S");
	want = tc_path(&t, "www-app");
	ck_assert_str_eq(s->apps[0].vdirs[0].physical_path, want);
	ck_assert(wasp_virtual_directory_exists(&s->apps[0].vdirs[0]));
	ck_assert_str_eq(s->apps[0].vdirs[1].physical_path, "C:/inetpub/wwwroot");
	ck_assert(!wasp_virtual_directory_exists(&s->apps[0].vdirs[1]));
	free(want);
	tc_done(&t);
}
END_TEST

/* ---- the apphost view -------------------------------------------------------------- */

START_TEST(test_apphost_bindings)
{
	struct tc t;
	struct wasp_apphost *ah = NULL;
	const struct wasp_site *s;
	const struct wasp_diag *d;

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\" /></applicationPools>\n"
		     " <sites>\n"
		     "  <site name=\"S\" id=\"1\">\n"
		     "   <application path=\"/\" applicationPool=\"P\"><virtualDirectory path=\"/\" physicalPath=\"www\" /></application>\n"
		     "   <application path=\"/app\" applicationPool=\"Missing\"><virtualDirectory path=\"/\" physicalPath=\"www\" /></application>\n"
		     "   <application path=\"/app/sub\" applicationPool=\"P\"><virtualDirectory path=\"/\" physicalPath=\"www\" /></application>\n"
		     "   <bindings>\n"
		     "    <binding protocol=\"http\" bindingInformation=\"*:80:example.com\" />\n"
		     "    <binding protocol=\"https\" bindingInformation=\"127.0.0.1:443:\" />\n"
		     "    <binding protocol=\"http\" bindingInformation=\"[::1]:8080:v6\" />\n"
		     "    <binding protocol=\"http\" bindingInformation=\":8081:\" />\n"
		     "    <binding protocol=\"net.tcp\" bindingInformation=\"808:*\" />\n"
		     "    <binding protocol=\"http\" bindingInformation=\"nonsense\" />\n"
		     "   </bindings>\n"
		     "  </site>\n"
		     "  <site name=\"T\" id=\"1\"><bindings><binding protocol=\"http\" bindingInformation=\"*:80:example.com\" /></bindings></site>\n"
		     " </sites>\n"
		     "</system.applicationHost>\n");
	tc_expect_clean(&t.diags);
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "'nonsense' is not IP:port:host");
	ck_assert_str_eq(d->attribute, "bindingInformation");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "nonsense"));
	tc_expect(&t.diags, WASP_DIAG_ERROR, "has the same id 1 as site 'S'");
	tc_expect(&t.diags, WASP_DIAG_WARNING, "no application pool 'Missing'");
	tc_expect(&t.diags, WASP_DIAG_WARNING, "is also a binding of site 'S'");
	tc_done(&t);

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\" /></applicationPools>\n"
		     " <sites>\n"
		     "  <site name=\"S\" id=\"3\">\n"
		     "   <application path=\"/app\" applicationPool=\"P\"><virtualDirectory path=\"/\" physicalPath=\"www\" /></application>\n"
		     "   <application path=\"/\" applicationPool=\"P\"><virtualDirectory path=\"/\" physicalPath=\"www\" /></application>\n"
		     "   <application path=\"/app/sub\" applicationPool=\"P\"><virtualDirectory path=\"/\" physicalPath=\"www\" /></application>\n"
		     "   <bindings>\n"
		     "    <binding protocol=\"http\" bindingInformation=\"*:80:example.com\" />\n"
		     "    <binding protocol=\"https\" bindingInformation=\"127.0.0.1:443:\" />\n"
		     "    <binding protocol=\"http\" bindingInformation=\"[::1]:8080:v6\" />\n"
		     "    <binding protocol=\"http\" bindingInformation=\":8081:\" />\n"
		     "    <binding protocol=\"net.tcp\" bindingInformation=\"808:*\" />\n"
		     "   </bindings>\n"
		     "  </site>\n"
		     " </sites>\n"
		     "</system.applicationHost>\n");
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	s = wasp_apphost_find_site_id(ah, 3);
	ck_assert_uint_eq(s->n_bindings, 5);
	ck_assert_str_eq(s->bindings[0].ip, "*");
	ck_assert_uint_eq(s->bindings[0].port, 80);
	ck_assert_str_eq(s->bindings[0].host, "example.com");
	ck_assert_str_eq(s->bindings[1].protocol, "https");
	ck_assert_str_eq(s->bindings[1].ip, "127.0.0.1");
	ck_assert_str_eq(s->bindings[1].host, "");
	ck_assert_str_eq(s->bindings[2].ip, "::1");
	ck_assert_uint_eq(s->bindings[2].port, 8080);
	ck_assert_str_eq(s->bindings[3].ip, "*");
	ck_assert_uint_eq(s->bindings[4].port, 808);
	ck_assert_str_eq(s->bindings[4].binding_information, "808:*");
	/* Root application first; longest match on segment boundaries. */
	ck_assert_str_eq(s->apps[0].path, "/");
	ck_assert_str_eq(wasp_site_match_app(s, "/app/sub/x.html")->path, "/app/sub");
	ck_assert_str_eq(wasp_site_match_app(s, "/app")->path, "/app");
	ck_assert_str_eq(wasp_site_match_app(s, "/APP/y")->path, "/app");
	ck_assert_str_eq(wasp_site_match_app(s, "/apple")->path, "/");
	ck_assert_str_eq(wasp_site_match_app(s, "/")->path, "/");
	ck_assert_ptr_null(wasp_apphost_find_site(ah, "nope"));
	tc_done(&t);
}
END_TEST

/* A pool's environmentVariables, in order, as "NAME=value"; <remove>
 * applies; a name with '=' is an error naming the attribute. */
START_TEST(test_apphost_pool_env)
{
	struct tc t;
	struct wasp_apphost *ah = NULL;
	const struct wasp_apppool *p;
	const struct wasp_diag *d;

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\"><environmentVariables>\n"
		     "  <add name=\"A\" value=\"1=2\" /><add name=\"EMPTY\" />\n"
		     "  <add name=\"GONE\" value=\"x\" /><remove name=\"GONE\" />\n"
		     " </environmentVariables></add><add name=\"Q\" /></applicationPools>\n"
		     "</system.applicationHost>\n");
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), 0);
	p = wasp_apphost_find_pool(ah, "P");
	ck_assert_uint_eq(p->n_env, 2);
	ck_assert_str_eq(p->env[0], "A=1=2");
	ck_assert_str_eq(p->env[1], "EMPTY=");
	ck_assert_uint_eq(wasp_apphost_find_pool(ah, "Q")->n_env, 0);
	tc_done(&t);

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools><add name=\"P\"><environmentVariables>\n"
		     "  <add name=\"A=B\" value=\"1\" />\n"
		     " </environmentVariables></add></applicationPools>\n"
		     "</system.applicationHost>\n");
	ck_assert_int_eq(wasp_apphost_build(t.cfg, wasp_config_arena(t.cfg), &ah, &t.diags), -EINVAL);
	d = tc_expect(&t.diags, WASP_DIAG_ERROR, "environment variable name 'A=B'");
	ck_assert_str_eq(d->attribute, "name");
	ck_assert_int_eq(d->line, tc_line_of(t.apphost, "A=B"));
	tc_done(&t);
}
END_TEST

/* ---- real files -------------------------------------------------------------------- */

START_TEST(test_iisexpress_style)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	struct wasp_apphost *ah = NULL;
	const struct wasp_element *e;
	const char *path = WASP_CONFIG_TEST_DATA "/iisexpress-applicationhost.config";

	ck_assert_int_eq(wasp_config_load_file(path, NULL, &cfg, &d), 0);
	ck_assert_int_eq(wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &d), 0);
	tc_expect_clean(&d);
	ck_assert_uint_gt(d.n_warnings, 20);
	tc_expect(&d, WASP_DIAG_WARNING, "section 'system.webServer/asp' is not implemented");
	ck_assert_uint_eq(ah->n_pools, 5);
	ck_assert_uint_eq(ah->n_sites, 2);
	ck_assert_uint_eq(wasp_apphost_find_pool(ah, "IISExpressAppPool")->process_model.idle_timeout,
			  30 * WASP_USEC_PER_SEC);
	ck_assert_uint_eq(wasp_apphost_find_pool(ah, "IISExpressAppPool")->recycling.n_schedule, 1);
	ck_assert_uint_eq(wasp_apphost_find_pool(ah, "IISExpressAppPool")->recycling.schedule[0],
			  3 * 60 * MIN_USEC);
	ck_assert_str_eq(wasp_apphost_find_site(ah, "MyApp")->apps[1].application_pool,
			 "IISExpressAppPool");
	ck_assert_str_eq(wasp_apphost_find_site(ah, "WebSite1")->apps[0].application_pool,
			 "Clr4IntegratedAppPool");
	/* location path="" is the server level. */
	e = wasp_config_section(cfg, "system.webServer/modules");
	ck_assert_uint_eq(e->n_items, 9);
	e = wasp_config_section(cfg, "system.webServer/handlers");
	ck_assert_str_eq(wasp_element_get_str(e, "accessPolicy", ""), "Read,Script");
	wasp_diag_list_done(&d);
	ck_assert_int_eq(wasp_config_effective_section(cfg, "MyApp/api/v1",
						       "system.webServer/httpProtocol", &e, &d),
			 0);
	tc_assert_items(wasp_element_child(e, "customHeaders"), "name", "X-Api");
	wasp_config_free(cfg);
	wasp_diag_list_done(&d);
}
END_TEST

static bool
has_suffix_ci(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

START_TEST(test_iis_samples)
{
	DIR *dir = opendir(WASP_IIS_SAMPLES_DIR);
	struct dirent *de;
	int n_apphost = 0, n_web = 0;
	static const char *const sections[] = {
		"system.webServer/defaultDocument", "system.webServer/directoryBrowse",
		"system.webServer/staticContent",   "system.webServer/httpErrors",
		"system.webServer/handlers",        "system.webServer/modules",
		"system.webServer/httpProtocol",    "system.webServer/security/requestFiltering",
	};

	if (!dir) {
		fprintf(stderr, "test_iis_samples: %s is absent, skipping\n", WASP_IIS_SAMPLES_DIR);
		return;
	}
	while ((de = readdir(dir))) {
		struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
		struct wasp_config *cfg = NULL;
		struct wasp_apphost *ah = NULL;
		char *path;
		int r;

		if (de->d_name[0] == '.' || !has_suffix_ci(de->d_name, ".config"))
			continue;
		ck_assert_int_gt(asprintf(&path, "%s/%s", WASP_IIS_SAMPLES_DIR, de->d_name), 0);
		if (has_suffix_ci(de->d_name, "web.config")) {
			/* A web.config: put it at the root of a site and
			 * compute every section wasp has for a path under it
			 * (the same file twice would add its entries twice). */
			struct tc t;
			char *content = NULL;
			size_t len = 0;
			FILE *f = fopen(path, "re");

			ck_assert_ptr_nonnull(f);
			ck_assert_int_eq(getdelim(&content, &len, '\0', f) > 0, 1);
			fclose(f);
			/* As in a stock IIS applicationHost.config. */
			tc_setup(&t, TC_APPHOST_MIN
				 "<location path=\"\" overrideMode=\"Allow\"><system.webServer>"
				 "<modules /><handlers /></system.webServer></location>\n");
			tc_write(&t, "www/web.config", content);
			tc_mkdir(&t, "www/sub");
			free(content);
			for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
				(void)tc_eff(&t, "S/sub/page", sections[i], &r);
				if (r != 0 || t.diags.n_errors) {
					fprintf(stderr, "%s:\n", de->d_name);
					tc_dump(&t.diags);
				}
				ck_assert_int_eq(t.diags.n_errors, 0);
			}
			tc_done(&t);
			n_web++;
		} else {
			r = wasp_config_load_file(path, NULL, &cfg, &d);
			if (r == 0)
				r = wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &d);
			if (r != 0 || d.n_errors)
				tc_dump(&d);
			ck_assert_msg(r == 0, "%s: %d", de->d_name, r);
			ck_assert_uint_eq(d.n_errors, 0);
			n_apphost++;
		}
		wasp_config_free(cfg);
		wasp_diag_list_done(&d);
		free(path);
	}
	closedir(dir);
	ck_assert_int_gt(n_apphost + n_web, 0);
}
END_TEST

START_TEST(test_example_config)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	struct wasp_apphost *ah = NULL;
	const struct wasp_element *e;

	ck_assert_int_eq(wasp_config_load_file(WASP_EXAMPLES_DIR "/applicationHost.config", NULL,
					       &cfg, &d),
			 0);
	ck_assert_int_eq(wasp_apphost_build(cfg, wasp_config_arena(cfg), &ah, &d), 0);
	if (d.n)
		tc_dump(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(ah->n_sites, 2);
	ck_assert_uint_eq(ah->n_pools, 2);
	for (size_t i = 0; i < ah->n_sites; i++)
		ck_assert(wasp_virtual_directory_exists(&ah->sites[i].apps[0].vdirs[0]));
	ck_assert_int_eq(wasp_config_effective_section(cfg, "Example Site/docs",
						       "system.webServer/defaultDocument", &e, &d),
			 0);
	tc_assert_items(wasp_element_child(e, "files"), "value", "home.html,index.html,index.htm");
	wasp_config_free(cfg);
	wasp_diag_list_done(&d);
}
END_TEST

/* ---- serialization ------------------------------------------------------------------ */

START_TEST(test_serialize_roundtrip)
{
	struct tc t;
	struct wasp_config *copy = NULL;
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	static const char *const secs[] = {
		"system.applicationHost/applicationPools", "system.applicationHost/sites",
		"system.webServer/defaultDocument",        "system.webServer/staticContent",
		"system.webServer/security/requestFiltering",
	};
	char *buf = NULL;
	size_t len = 0;
	int fd;

	tc_setup(&t, "<system.applicationHost>\n"
		     " <applicationPools>\n"
		     "  <add name=\"P\"><processModel identityType=\"SpecificUser\" userName=\"u\" password=\"secret\" idleTimeout=\"00:00:07\" /></add>\n"
		     "  <applicationPoolDefaults queueLength=\"77\" />\n"
		     " </applicationPools>\n"
		     " <sites><site name=\"S\" id=\"1\">\n"
		     "  <application path=\"/\" applicationPool=\"P\"><virtualDirectory path=\"/\" physicalPath=\"www\" password=\"pw2\" /></application>\n"
		     "  <bindings><binding protocol=\"http\" bindingInformation=\"*:80:\" /></bindings>\n"
		     " </site></sites>\n"
		     "</system.applicationHost>\n"
		     "<system.webServer>\n"
		     " <defaultDocument><files lockElements=\"clear\"><add value=\"a.html\" lockItem=\"true\" /></files></defaultDocument>\n"
		     " <staticContent><mimeMap fileExtension=\".x\" mimeType=\"text/x\" /></staticContent>\n"
		     "</system.webServer>\n"
		     "<location path=\"S/sub\"><system.webServer><defaultDocument><files><add value=\"b.html\" /></files></defaultDocument></system.webServer></location>\n");
	tc_expect_clean(&t.diags);
	tc_write(&t, "www/web.config",
		 "<configuration><system.webServer><defaultDocument><files><clear />"
		 "</files></defaultDocument></system.webServer></configuration>");

	ck_assert_int_eq(wasp_config_serialize(t.cfg, &buf, &len), 0);
	ck_assert_ptr_null(strstr(buf, "secret"));
	ck_assert_ptr_null(strstr(buf, "pw2"));
	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &copy, &d), 0);
	free(buf);
	for (size_t i = 0; i < ELEMENTSOF(secs); i++) {
		char *a = cfgtest_section_json(t.cfg, NULL, secs[i], false);
		char *b = cfgtest_section_json(copy, NULL, secs[i], false);

		if (strstr(secs[i], "applicationPools")) {
			/* Only the password differs. */
			ck_assert_ptr_nonnull(strstr(a, "\"password\":\"secret\""));
			ck_assert_ptr_nonnull(strstr(b, "\"password\":\"\""));
		} else if (strstr(secs[i], "sites")) {
			ck_assert_ptr_nonnull(strstr(b, "\"password\":\"\""));
		} else
			ck_assert_str_eq(a, b);
		free(a);
		free(b);
	}
	{
		char *a = cfgtest_section_json(t.cfg, "S/sub/x", "system.webServer/defaultDocument", false);
		char *b = cfgtest_section_json(copy, "S/sub/x", "system.webServer/defaultDocument", false);

		ck_assert_str_eq(a, b);
		free(a);
		free(b);
	}
	/* Locks travel too: the web.config's <clear/> is refused in both. */
	wasp_diag_list_done(&d);
	{
		const struct wasp_element *e;

		ck_assert_int_eq(wasp_config_effective_section(copy, "S/", "system.webServer/defaultDocument",
							       &e, &d),
				 -EINVAL);
		tc_expect(&d, WASP_DIAG_ERROR, "<clear> in <files> is locked");
	}
	copy = wasp_config_free(copy);
	wasp_diag_list_done(&d);

	fd = wasp_config_serialize_memfd(t.cfg);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(write(fd, "x", 1), 0); /* sealed */
	close(fd);

	ck_assert_int_eq(wasp_config_deserialize("{\"x\":1}", 7, NULL, &copy, &d), -EBADMSG);
	ck_assert_int_eq(wasp_config_deserialize("nope", 4, NULL, &copy, &d), -EBADMSG);
	ck_assert_ptr_null(copy);
	wasp_diag_list_done(&d);
	tc_done(&t);
}
END_TEST

/* ---- views --------------------------------------------------------------------- */

START_TEST(test_json_and_xml_views)
{
	struct tc t;
	const struct wasp_element *e;
	json_t *j, *files, *coll;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	tc_setup(&t, TC_APPHOST_MIN
		 "<system.webServer>\n"
		 " <defaultDocument><files><add value=\"a&amp;b'&lt;c&gt;&quot;.html\" /></files></defaultDocument>\n"
		 " <staticContent><clientCache cacheControlMode=\"UseMaxAge\" cacheControlMaxAge=\"01:00:00\" />"
		 "<mimeMap fileExtension=\".x\" mimeType=\"text/x\" /></staticContent>\n"
		 "</system.webServer>\n");
	tc_expect_clean(&t.diags);
	e = tc_eff(&t, "S/", "system.webServer/defaultDocument", NULL);
	j = wasp_element_to_json(e);
	ck_assert(json_is_true(json_object_get(j, "enabled")));
	files = json_object_get(j, "files");
	ck_assert(json_is_array(files)); /* a child that is only a collection */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files, 0), "value")),
			 "a&b'<c>\".html");
	json_decref(j);

	e = tc_eff(&t, "S/", "system.webServer/staticContent", NULL);
	j = wasp_element_to_json(e);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "clientCache"),
							   "cacheControlMaxAge")),
			 "01:00:00");
	ck_assert(json_is_false(json_object_get(j, "enableDocFooter")));
	coll = json_object_get(j, "collection");
	ck_assert_uint_eq(json_array_size(coll), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(coll, 0), "mimeType")),
			 "text/x");
	json_decref(j);
	j = wasp_element_to_json(wasp_config_section(t.cfg, "system.applicationHost/applicationPools"));
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "collection"), 0),
							    "queueLength")),
			 1000);
	json_decref(j);

	e = tc_eff(&t, "S/", "system.webServer/defaultDocument", NULL);
	f = open_memstream(&buf, &len);
	wasp_element_print_xml(e, f, 0);
	fclose(f);
	ck_assert_str_eq(buf, "<defaultDocument enabled=\"true\">\n"
			      "    <files>\n"
			      "        <add value=\"a&amp;b'&lt;c&gt;&quot;.html\" />\n"
			      "    </files>\n"
			      "</defaultDocument>\n");
	free(buf);
	tc_done(&t);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("diag");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_diag_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("defaults");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_defaults_pool);
	tcase_add_test(tc, test_defaults_elements);
	tcase_add_test(tc, test_log_directory_default);
	tcase_add_test(tc, test_defaults_webserver);
	tcase_add_test(tc, test_section_release);
	suite_add_tcase(s, tc);

	tc = tcase_create("types");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_type_bool);
	tcase_add_test(tc, test_type_uint);
	tcase_add_test(tc, test_type_int);
	tcase_add_test(tc, test_type_enum);
	tcase_add_test(tc, test_type_flags);
	tcase_add_test(tc, test_type_timespan);
	tcase_add_test(tc, test_type_string_required);
	suite_add_tcase(s, tc);

	tc = tcase_create("declarations");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_unknown_warnings);
	tcase_add_test(tc, test_config_sections);
	tcase_add_test(tc, test_not_xml);
	suite_add_tcase(s, tc);

	tc = tcase_create("env_and_paths");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_env_expansion);
	tcase_add_test(tc, test_windows_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("apphost");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_apphost_bindings);
	tcase_add_test(tc, test_apphost_pool_env);
	suite_add_tcase(s, tc);

	tc = tcase_create("real_files");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_iisexpress_style);
	tcase_add_test(tc, test_iis_samples);
	tcase_add_test(tc, test_example_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("views");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_json_and_xml_views);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_test(tc, test_doctype_refused);
	tcase_add_test(tc, test_serialized_limit);
	tcase_add_test(tc, test_find_site_many);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("serialize");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_serialize_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(config_suite());
}
