/* A reload that reuses the previous generation's unchanged site and pool
 * entries (wasp_config_reload_buffer, config/reuse.c) gives what a fresh
 * load of the same file gives: the serialized generation, every pool's
 * copy and digest, the merged sites and pools sections and the typed view
 * are compared, after each of a series of edits. Edits outside the
 * entries (the *Defaults, a <location>) must not reuse anything. */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include "apphost.h"
#include "cfgtest.h"
#include "config.h"
#include "test_config_util.h"
#include "testutil.h"
#include "util.h"
#include "wasp-build.h"

#define N_SITES 40

/* What the generated file has; each test changes some of it. */
struct gen {
	int n_sites;
	bool skip[N_SITES + 8];      /* a site (and its pool) left out */
	const char *phys[N_SITES + 8]; /* a site's physicalPath (NULL: www) */
	int queue[N_SITES + 8];      /* a pool's queueLength (0: none) */
	const char *pool_of[N_SITES + 8]; /* a site's pool (NULL: its own) */
	const char *site_defaults;   /* siteDefaults attributes */
	const char *app_defaults;    /* applicationDefaults attributes */
	const char *pool_defaults;   /* applicationPoolDefaults attributes */
	const char *location_dir;    /* S3's location: directoryBrowse enabled */
	const char *bad_id;          /* an id attribute value for S5 */
	bool dup_name;               /* S7 named S6 */
	bool https;                  /* every third site an https binding too */
	const char *pool_extra[N_SITES + 8]; /* more of a pool's children */
	const char *site_extra[N_SITES + 8]; /* more of a site's children */
};

static char *
gen_text(const struct gen *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	fprintf(f, "<configuration>\n" TC_SECTIONS "<system.applicationHost>\n <applicationPools>\n");
	for (int i = 0; i < g->n_sites; i++) {
		if (g->skip[i])
			continue;
		fprintf(f, "  <add name=\"P%d\"", i);
		if (g->queue[i])
			fprintf(f, " queueLength=\"%d\"", g->queue[i]);
		fprintf(f, ">\n   <processModel idleTimeout=\"00:0%d:00\" />\n%s  </add>\n", i % 10,
			g->pool_extra[i] ? g->pool_extra[i] : "");
	}
	fprintf(f, "  <applicationPoolDefaults %s />\n </applicationPools>\n <sites>\n",
		g->pool_defaults ? g->pool_defaults : "");
	fprintf(f, "  <siteDefaults %s />\n  <applicationDefaults %s />\n",
		g->site_defaults ? g->site_defaults : "", g->app_defaults ? g->app_defaults : "");
	for (int i = 0; i < g->n_sites; i++) {
		if (g->skip[i])
			continue;
		if (g->bad_id && i == 5)
			fprintf(f, "  <site name=\"S%d\" id=\"%s\">\n", i, g->bad_id);
		else
			fprintf(f, "  <site name=\"S%d\" id=\"%d\">\n", g->dup_name && i == 7 ? 6 : i,
				i + 1);
		fprintf(f, "%s   <application path=\"/\"", g->site_extra[i] ? g->site_extra[i] : "");
		if (g->pool_of[i])
			fprintf(f, " applicationPool=\"%s\"", g->pool_of[i]);
		else
			fprintf(f, " applicationPool=\"P%d\"", i);
		fprintf(f, ">\n    <virtualDirectory path=\"/\" physicalPath=\"%s\" />\n"
			   "   </application>\n   <bindings>\n"
			   "    <binding protocol=\"http\" bindingInformation=\"*:8080:s%d.example\" />\n",
			g->phys[i] ? g->phys[i] : "www", i);
		if (g->https && i % 3 == 0)
			fprintf(f, "    <binding protocol=\"https\" bindingInformation=\"*:8443:s%d.example\" "
				   "sslFlags=\"Sni,DisableTLS13\" certificateHash=\"%08X\" "
				   "certificateStoreName=\"Store-%d\" />\n",
				i, 0xABC000 + i, i);
		fprintf(f, "   </bindings>\n  </site>\n");
	}
	fprintf(f, " </sites>\n</system.applicationHost>\n");
	fprintf(f, "<location path=\"S3\">\n <system.webServer>\n  <directoryBrowse enabled=\"%s\" />\n"
		   " </system.webServer>\n</location>\n</configuration>\n",
		g->location_dir ? g->location_dir : "false");
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* Line (1-based) of needle's first occurrence in text. */
static int
tc_line_of_text(const char *text, const char *needle)
{
	const char *at = strstr(text, needle);
	int line = 1;

	ck_assert_ptr_nonnull(at);
	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

/* Every field of the typed view, as text. */
static char *
view_text(const struct wasp_apphost *ah)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < ah->n_pools; i++) {
		const struct wasp_apppool *p = &ah->pools[i];

		fprintf(f, "pool %s %s id=%u %d q=%u %s:%d %d%d%d pm=%s %lu %lu %lu %lu %lu %d %u %d %d "
			   "rc=%lu %lu %lu %lu %zu %d%d f=%lu %d %u %d%d cpu=%s %u env=%zu\n",
			p->name, p->managed_runtime_version, p->id, p->start_mode, p->queue_length,
			p->file, p->line, p->auto_start, p->managed_classic, p->enable_32bit,
			p->process_model.user_name ? p->process_model.user_name : "-",
			(unsigned long)p->process_model.idle_timeout,
			(unsigned long)p->process_model.startup_time_limit,
			(unsigned long)p->process_model.shutdown_time_limit,
			(unsigned long)p->process_model.ping_interval,
			(unsigned long)p->process_model.ping_response_time,
			p->process_model.identity_type, p->process_model.max_processes,
			p->process_model.idle_timeout_action, p->process_model.pinging_enabled,
			(unsigned long)p->recycling.time, (unsigned long)p->recycling.requests,
			(unsigned long)p->recycling.memory_kb,
			(unsigned long)p->recycling.private_memory_kb, p->recycling.n_schedule,
			p->recycling.disallow_overlapping_rotation,
			p->recycling.disallow_rotation_on_config_change,
			(unsigned long)p->failure.rapid_fail_protection_interval,
			p->failure.load_balancer_capabilities,
			p->failure.rapid_fail_protection_max_crashes, p->failure.orphan_worker_process,
			p->failure.rapid_fail_protection, p->cpu.action ? p->cpu.action : "-",
			p->cpu.limit, p->n_env);
		for (size_t k = 0; k < p->recycling.n_schedule; k++)
			fprintf(f, " at %lu\n", (unsigned long)p->recycling.schedule[k]);
		for (size_t k = 0; k < p->n_env; k++)
			fprintf(f, " env %s\n", p->env[k]);
	}
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *s = &ah->sites[i];

		fprintf(f, "site %s %u %d %s:%d lim=%lu %u %u log=%d %s %s %s %u %u\n", s->name, s->id,
			s->server_auto_start, s->file, s->line,
			(unsigned long)s->limits.connection_timeout, s->limits.max_connections,
			s->limits.max_bandwidth, s->log_file.enabled, s->log_file.directory,
			s->log_file.log_format, s->log_file.period, s->log_file.log_ext_file_flags,
			s->log_file.log_target_w3c);
		for (size_t k = 0; k < s->n_bindings; k++) {
			const struct wasp_binding *b = &s->bindings[k];

			fprintf(f, " binding %s %s %s %u %s %s:%d %u %s %s\n", b->protocol,
				b->binding_information, b->ip, b->port, b->host, b->file, b->line,
				b->ssl_flags, wasp_binding_cert_hash(b), wasp_binding_cert_store(b));
		}
		for (size_t k = 0; k < s->n_apps; k++) {
			const struct wasp_application *a = &s->apps[k];

			fprintf(f, " app %s %s %u %s %d %s:%d\n", a->path, a->application_pool,
				a->pool_id, a->enabled_protocols, a->preload_enabled, a->file, a->line);
			for (size_t v = 0; v < a->n_vdirs; v++)
				fprintf(f, "  vdir %s %s %s:%d\n", a->vdirs[v].path,
					a->vdirs[v].physical_path, a->vdirs[v].file, a->vdirs[v].line);
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

struct fixture {
	char *dir, *path;
};

static void
fixture_setup(struct fixture *x)
{
	x->dir = testutil_mkdtemp();
	ck_assert_int_gt(asprintf(&x->path, "%s/applicationHost.config", x->dir), 0);
	for (const char *const *d = (const char *const[]){ "www", "www2", NULL }; *d; d++) {
		char *p;

		ck_assert_int_gt(asprintf(&p, "%s/%s", x->dir, *d), 0);
		ck_assert_int_eq(mkdir(p, 0755), 0);
		free(p);
	}
}

static void
fixture_done(struct fixture *x)
{
	testutil_rmtree(x->dir);
	free(x->dir);
	free(x->path);
}

/* The whole load, as waspd's: 0 or the load's error. */
static int
full_load(const struct fixture *x, const char *text, struct wasp_config **ret,
	  struct wasp_apphost **ret_ah, struct wasp_diag_list *d)
{
	int r = wasp_config_load_buffer(text, strlen(text), x->path, NULL, ret, d);

	if (r == 0)
		r = wasp_apphost_build(*ret, wasp_config_arena(*ret), ret_ah, d);
	return r;
}

static void
expect_same_json(struct wasp_config *a, struct wasp_config *b, const char *site_path,
		 const char *section)
{
	_cleanup_free_ char *x = cfgtest_section_json(a, site_path, section, true);
	_cleanup_free_ char *y = cfgtest_section_json(b, site_path, section, true);

	ck_assert_str_eq(x, y);
}

/* a (reloaded) configures everything as b (loaded fresh) does. */
static void
expect_same(struct wasp_config *a, const struct wasp_apphost *aah, struct wasp_config *b,
	    const struct wasp_apphost *bah)
{
	_cleanup_free_ char *sa = NULL, *sb = NULL, *va = view_text(aah), *vb = view_text(bah);
	size_t na = 0, nb = 0;

	ck_assert_str_eq(va, vb);
	ck_assert_int_eq(wasp_config_serialize(a, &sa, &na), 0);
	ck_assert_int_eq(wasp_config_serialize(b, &sb, &nb), 0);
	ck_assert_uint_eq(na, nb);
	ck_assert(memcmp(sa, sb, na) == 0);
	for (size_t i = 0; i < bah->n_pools; i++) {
		_cleanup_free_ char *pa = NULL, *pb = NULL, *da = NULL, *db = NULL;
		const char *name = bah->pools[i].name;

		ck_assert_int_eq(wasp_config_serialize_pool(a, aah, name, &pa, &na), 0);
		ck_assert_int_eq(wasp_config_serialize_pool(b, bah, name, &pb, &nb), 0);
		ck_assert_uint_eq(na, nb);
		ck_assert(memcmp(pa, pb, na) == 0);
		ck_assert_int_eq(wasp_config_pool_digest(a, aah, name, &da, &na), 0);
		ck_assert_int_eq(wasp_config_pool_digest(b, bah, name, &db, &nb), 0);
		ck_assert_uint_eq(na, nb);
		ck_assert(memcmp(da, db, na) == 0);
	}
	expect_same_json(a, b, NULL, "system.applicationHost/sites");
	expect_same_json(a, b, NULL, "system.applicationHost/applicationPools");
	expect_same_json(a, b, "S3", "system.webServer/directoryBrowse");
	expect_same_json(a, b, "S3", "system.applicationHost/sites");
}

struct gen_cfg {
	struct wasp_config *cfg;
	struct wasp_apphost *ah;
};

/* Reload g's text on prev (freed once the new generation stands, as
 * waspd's reload_gc() does): reused or not as expected, and the same as a
 * fresh load either way. */
static struct gen_cfg
reload(const struct fixture *x, struct gen_cfg prev, const struct gen *g, int expect_reuse)
{
	_cleanup_free_ char *text = gen_text(g);
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT, e = WASP_DIAG_LIST_INIT;
	struct gen_cfg next = { 0 }, fresh = { 0 };
	int r = wasp_config_reload_buffer(text, strlen(text), x->path, NULL, prev.cfg, &next.cfg,
					  &next.ah, &d);

	ck_assert_int_eq(r, expect_reuse);
	if (r == 0)
		ck_assert_int_eq(full_load(x, text, &next.cfg, &next.ah, &d), 0);
	ck_assert_uint_eq(d.n_errors, 0);
	wasp_config_free(prev.cfg);
	ck_assert_int_eq(full_load(x, text, &fresh.cfg, &fresh.ah, &e), 0);
	expect_same(next.cfg, next.ah, fresh.cfg, fresh.ah);
	wasp_config_free(fresh.cfg);
	wasp_diag_list_done(&d);
	wasp_diag_list_done(&e);
	return next;
}

static struct gen_cfg
first_load(const struct fixture *x, const struct gen *g)
{
	_cleanup_free_ char *text = gen_text(g);
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	struct gen_cfg c = { 0 };

	ck_assert_int_eq(full_load(x, text, &c.cfg, &c.ah, &d), 0);
	wasp_diag_list_done(&d);
	return c;
}

START_TEST(test_reuse_edits)
{
	struct fixture x;
	struct gen g = { .n_sites = N_SITES };
	struct gen_cfg c;

	fixture_setup(&x);
	c = first_load(&x, &g);
	g.phys[10] = "www2"; /* one site changed */
	c = reload(&x, c, &g, 1);
	g.n_sites++; /* one added (and its pool) */
	c = reload(&x, c, &g, 1);
	g.skip[20] = true; /* one removed (and its pool): the pools after it move */
	c = reload(&x, c, &g, 1);
	g.queue[4] = 77; /* a pool changed */
	c = reload(&x, c, &g, 1);
	g.pool_of[12] = "P13"; /* a site moved to another pool */
	c = reload(&x, c, &g, 1);
	g.skip[0] = true; /* the first pool and site removed: every pool moves */
	c = reload(&x, c, &g, 1);
	g.location_dir = "true"; /* a <location> changed: nothing reused */
	c = reload(&x, c, &g, 0);
	g.phys[11] = "www2"; /* and the next reload reuses again */
	c = reload(&x, c, &g, 1);
	g.site_defaults = "serverAutoStart=\"false\"";
	c = reload(&x, c, &g, 0);
	g.app_defaults = "enabledProtocols=\"http,https\"";
	c = reload(&x, c, &g, 0);
	g.pool_defaults = "queueLength=\"500\"";
	c = reload(&x, c, &g, 0);
	g.phys[12] = "www2";
	c = reload(&x, c, &g, 1);
	wasp_config_free(c.cfg);
	fixture_done(&x);
}
END_TEST

/* A physical directory that appears: the view does not hold whether it
 * exists (wasp_virtual_directory_exists() looks), so reuse goes on and
 * gives what a fresh load does. */
START_TEST(test_reuse_directory_appears)
{
	struct fixture x;
	struct gen g = { .n_sites = 8 };
	struct gen_cfg c;
	char *p;

	fixture_setup(&x);
	g.phys[2] = "www3";
	c = first_load(&x, &g);
	ck_assert_int_gt(asprintf(&p, "%s/www3", x.dir), 0);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	g.phys[5] = "www2";
	c = reload(&x, c, &g, 1);
	ck_assert(wasp_virtual_directory_exists(&wasp_apphost_find_site(c.ah, "S2")->apps[0].vdirs[0]));
	wasp_config_free(c.cfg);
	fixture_done(&x);
}
END_TEST

/* g's text, which reuse declines and the whole load refuses (its
 * diagnostics in d). */
static char *
refused(const struct fixture *x, struct gen_cfg prev, const struct gen *g,
	struct wasp_diag_list *d)
{
	char *text = gen_text(g);
	struct gen_cfg bad = { 0 };

	ck_assert_int_eq(wasp_config_reload_buffer(text, strlen(text), x->path, NULL, prev.cfg,
						   &bad.cfg, &bad.ah, d),
			 0);
	ck_assert_int_lt(full_load(x, text, &bad.cfg, &bad.ah, d), 0);
	wasp_config_free(bad.cfg);
	return text;
}

/* A file with an error is never half loaded: reuse declines, and the whole
 * load names the file, the line and the attribute. */
START_TEST(test_reuse_errors)
{
	struct fixture x;
	struct gen g = { .n_sites = 12 };
	struct gen_cfg c;
	_cleanup_free_ char *text = NULL;
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;

	fixture_setup(&x);
	c = first_load(&x, &g);
	g.bad_id = "twelve";
	text = refused(&x, c, &g, &d);
	ck_assert_ptr_nonnull(tc_find(&d, WASP_DIAG_ERROR, "twelve"));
	for (size_t i = 0; i < d.n; i++)
		if (d.items[i].severity == WASP_DIAG_ERROR) {
			ck_assert_str_eq(d.items[i].file, x.path);
			ck_assert_int_eq(d.items[i].line, tc_line_of_text(text, "id=\"twelve\""));
			ck_assert_str_eq(d.items[i].attribute, "id");
			break;
		}
	wasp_diag_list_done(&d);
	free(text);

	g.bad_id = NULL;
	g.dup_name = true; /* two sites named S6 */
	text = refused(&x, c, &g, &d);
	ck_assert_uint_gt(d.n_errors, 0);
	wasp_diag_list_done(&d);

	/* an application whose pool went: the whole load warns of it */
	g.dup_name = false;
	g.pool_of[3] = "Nope";
	c = reload(&x, c, &g, 0);
	wasp_config_free(c.cfg);
	fixture_done(&x);
}
END_TEST

/* Reloads in a row: every CFG_REUSE_MAX_DEPTH-th loads the whole file. */
START_TEST(test_reuse_depth)
{
	struct fixture x;
	struct gen g = { .n_sites = 24 };
	struct gen_cfg c;
	int whole = 0;

	fixture_setup(&x);
	c = first_load(&x, &g);
	for (int i = 0; i < 20; i++) {
		_cleanup_free_ char *text = NULL;
		struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
		struct gen_cfg next = { 0 };
		int r;

		g.phys[i] = "www2";
		text = gen_text(&g);
		r = wasp_config_reload_buffer(text, strlen(text), x.path, NULL, c.cfg, &next.cfg,
					      &next.ah, &d);
		ck_assert_int_ge(r, 0);
		if (r == 0) {
			whole++;
			ck_assert_int_eq(full_load(&x, text, &next.cfg, &next.ah, &d), 0);
		}
		wasp_config_free(c.cfg);
		c = next;
		wasp_diag_list_done(&d);
	}
	ck_assert_int_eq(whole, 1);
	wasp_config_free(c.cfg);
	fixture_done(&x);
}
END_TEST

/* Entries with elements of their own name inside (a pool's environment
 * variables are <add>s too, empty or not), comments and CDATA holding
 * tags, '>' and quotes in values: the scan finds each entry's end, and
 * a reload reusing them gives what a fresh load does. */
START_TEST(test_reuse_nested_markup)
{
	struct fixture x;
	struct gen g = { .n_sites = 8 };
	struct gen_cfg c;

	g.pool_extra[2] = "   <environmentVariables>\n"
			  "    <add name=\"A\" value=\"1 &gt; 0 > -1\" />\n"
			  "    <add name='B' value='say \"hi\" &lt;/add> ok'></add>\n"
			  "    <add name=\"C\" value=\"x\"\n     ></add   >\n"
			  "   </environmentVariables>\n"
			  "   <!-- </add> <add name=\"D\"> -->\n";
	g.pool_extra[3] = "   <!-- <add> -->\n";
	g.site_extra[4] = "   <!-- </site> <site name=\"X\"> -->\n"
			  "   <limits maxConnections=\"7\" />\n";
	fixture_setup(&x);
	c = first_load(&x, &g);
	ck_assert_str_eq(wasp_apphost_find_pool(c.ah, "P2")->env[1], "B=say \"hi\" </add> ok");
	g.phys[1] = "www2";
	c = reload(&x, c, &g, 1);
	g.pool_extra[2] = "   <environmentVariables><add name=\"A\" value=\"2\" /></environmentVariables>\n";
	c = reload(&x, c, &g, 1);
	ck_assert_uint_eq(wasp_apphost_find_pool(c.ah, "P2")->n_env, 1);
	ck_assert_uint_eq(wasp_apphost_find_site(c.ah, "S4")->limits.max_connections, 7);
	g.phys[5] = "www2";
	c = reload(&x, c, &g, 1);
	wasp_config_free(c.cfg);
	fixture_done(&x);
}
END_TEST

/* The schema files copied into dir, applicationHost.xml with from (if
 * any) replaced by to. */
static void
copy_schema(const char *dir, const char *from, const char *to)
{
	DIR *d = opendir(WASP_SCHEMA_BUILD_DIR);
	struct dirent *de;

	ck_assert_ptr_nonnull(d);
	(void)mkdir(dir, 0755);
	while ((de = readdir(d))) {
		_cleanup_free_ char *src = NULL, *dst = NULL, *text = NULL, *out = NULL;
		size_t len = 0;
		FILE *f;

		if (!strstr(de->d_name, ".xml"))
			continue;
		ck_assert_int_gt(asprintf(&src, "%s/%s", WASP_SCHEMA_BUILD_DIR, de->d_name), 0);
		ck_assert_int_gt(asprintf(&dst, "%s/%s", dir, de->d_name), 0);
		f = fopen(src, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_int_ne(getdelim(&text, &len, '\0', f), -1);
		fclose(f);
		if (from && streq(de->d_name, "applicationHost.xml")) {
			char *at = strstr(text, from);

			ck_assert_ptr_nonnull(at);
			*at = '\0';
			ck_assert_int_gt(asprintf(&out, "%s%s%s", text, to, at + strlen(from)), 0);
		}
		testutil_write_file(dst, out ? out : text);
	}
	closedir(d);
}

/* The schema directory is compared at each reload that would reuse: the
 * same bytes (hashed, not parsed again), other bytes with the same
 * content, and a changed schema, which loads the whole file. */
START_TEST(test_reuse_schema_changes)
{
	static const char *const attr = "<attribute name=\"privateKeyPassword\"";
	struct fixture x;
	struct gen g = { .n_sites = 6 };
	struct wasp_config_opts opts = { 0 };
	struct gen_cfg c = { 0 };
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	_cleanup_free_ char *dir = NULL;
	static const int expect[] = { 1, 1, 0 };

	fixture_setup(&x);
	ck_assert_int_gt(asprintf(&dir, "%s/schema", x.dir), 0);
	copy_schema(dir, NULL, NULL);
	opts.schema_dir = dir;
	{
		_cleanup_free_ char *text = gen_text(&g);

		ck_assert_int_eq(wasp_config_load_buffer(text, strlen(text), x.path, &opts, &c.cfg, &d), 0);
		ck_assert_int_eq(wasp_apphost_build(c.cfg, wasp_config_arena(c.cfg), &c.ah, &d), 0);
	}
	for (int step = 0; step < 3; step++) {
		_cleanup_free_ char *text = NULL;
		struct gen_cfg next = { 0 };

		if (step == 1)
			copy_schema(dir, attr, "<!-- the same schema -->\n    <attribute name=\"privateKeyPassword\"");
		if (step == 2)
			copy_schema(dir, attr, "<attribute name=\"zzz\" type=\"string\" />\n    "
					       "<attribute name=\"privateKeyPassword\"");
		g.phys[step] = "www2";
		text = gen_text(&g);
		ck_assert_int_eq(wasp_config_reload_buffer(text, strlen(text), x.path, &opts, c.cfg,
							   &next.cfg, &next.ah, &d),
				 expect[step]);
		if (!expect[step]) {
			ck_assert_int_eq(wasp_config_load_buffer(text, strlen(text), x.path, &opts, &next.cfg, &d), 0);
			ck_assert_int_eq(wasp_apphost_build(next.cfg, wasp_config_arena(next.cfg), &next.ah, &d), 0);
		}
		wasp_config_free(c.cfg);
		c = next;
	}
	ck_assert_uint_eq(d.n_errors, 0);
	wasp_config_free(c.cfg);
	wasp_diag_list_done(&d);
	fixture_done(&x);
}
END_TEST

/* Site i's bindings as gen_text() writes them with https: sslFlags and
 * the certificate's names on the https one, none on the http one. */
static void
expect_https_site(const struct wasp_apphost *ah, int i)
{
	char name[16], host[24], hash[16], store[16];
	const struct wasp_site *s;

	(void)snprintf(name, sizeof(name), "S%d", i);
	(void)snprintf(host, sizeof(host), "s%d.example", i);
	(void)snprintf(hash, sizeof(hash), "%08X", 0xABC000 + i);
	(void)snprintf(store, sizeof(store), "Store-%d", i);
	s = wasp_apphost_find_site(ah, name);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n_bindings, 2);
	ck_assert_str_eq(s->bindings[0].protocol, "http");
	ck_assert_ptr_null(s->bindings[0].cert);
	ck_assert_uint_eq(s->bindings[0].ssl_flags, 0);
	ck_assert_str_eq(wasp_binding_cert_hash(&s->bindings[0]), "");
	ck_assert_str_eq(s->bindings[1].protocol, "https");
	ck_assert_uint_eq(s->bindings[1].port, 8443);
	ck_assert_str_eq(s->bindings[1].host, host);
	ck_assert_uint_eq(s->bindings[1].ssl_flags, WASP_SSL_F_SNI | WASP_SSL_F_DISABLE_TLS13);
	ck_assert_str_eq(wasp_binding_cert_hash(&s->bindings[1]), hash);
	ck_assert_str_eq(wasp_binding_cert_store(&s->bindings[1]), store);
}

/* An https binding's sslFlags and certificate names (packed beside the
 * port and behind one pointer) as loaded, as a reload that reuses the
 * site keeps them once the generation that parsed them is freed, and as
 * a worker of the site's pool builds them from its copy. */
START_TEST(test_reuse_https_bindings)
{
	struct fixture x;
	struct gen g = { .n_sites = 9, .https = true };
	struct gen_cfg c;
	struct wasp_config *w = NULL;
	struct wasp_apphost *wah = NULL;
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	fixture_setup(&x);
	c = first_load(&x, &g);
	expect_https_site(c.ah, 3);
	g.phys[1] = "www2";
	c = reload(&x, c, &g, 1);
	expect_https_site(c.ah, 3);
	expect_https_site(c.ah, 6);
	g.phys[6] = "www2"; /* the https site itself changed */
	c = reload(&x, c, &g, 1);
	expect_https_site(c.ah, 3);
	expect_https_site(c.ah, 6);
	ck_assert_int_eq(wasp_config_serialize_pool(c.cfg, c.ah, "P3", &buf, &len), 0);
	wasp_config_free(c.cfg);
	ck_assert_int_eq(wasp_config_deserialize(buf, len, NULL, &w, &d), 0);
	ck_assert_int_eq(wasp_apphost_build(w, wasp_config_arena(w), &wah, &d), 0);
	expect_https_site(wah, 3);
	wasp_config_free(w);
	wasp_diag_list_done(&d);
	fixture_done(&x);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("config_reuse");
	TCase *tc = tcase_create("reuse");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reuse_edits);
	tcase_add_test(tc, test_reuse_directory_appears);
	tcase_add_test(tc, test_reuse_errors);
	tcase_add_test(tc, test_reuse_depth);
	tcase_add_test(tc, test_reuse_https_bindings);
	tcase_add_test(tc, test_reuse_nested_markup);
	tcase_add_test(tc, test_reuse_schema_changes);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
