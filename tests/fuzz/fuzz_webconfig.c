/* libFuzzer target for web.config files and the merge into effective
 * sections (config/merge.h). config.h has no way to load a web.config from
 * a buffer: web.config files are found through a site's physical
 * directories. So a fixed applicationHost.config (locations, locks,
 * overrideModeDefault Deny and Allow sections, an application and a virtual
 * directory) points into a temporary directory ($TMPDIR), and each input is
 * written there as up to four web.config files, split at NUL bytes (which
 * XML cannot contain):
 *   part 0: www/web.config          (site root "/")
 *   part 1: www/sub/web.config      ("/sub")
 *   part 2: www-app/web.config      (application "/app")
 *   part 3: v/web.config            (virtual directory "/v")
 * A missing or empty part means no file.
 *
 * Every section is asked for at several URL paths; then every part moves on
 * to the next directory (so files change, appear and disappear) and the
 * same generation, which cached the first answers, must agree with a new one
 * (same status, same JSON), or its cache served something stale. Files are
 * replaced by rename and given a strictly increasing mtime, so every change
 * is one config.h promises to notice. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_PARTS 4
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const part_dirs[N_PARTS] = { "www", "www/sub", "www-app", "v" };

static const char *const urls[] = {
	"/", "/sub/deeper/x.html", "/app/y", "/v/z/", "/nothing",
};

static const char *const sections[] = {
	"system.webServer/defaultDocument",
	"system.webServer/directoryBrowse",
	"system.webServer/staticContent",
	"system.webServer/httpErrors",
	"system.webServer/handlers",
	"system.webServer/modules",
	"system.webServer/httpProtocol",
	"system.webServer/security/requestFiltering",
};

static char root[4096];
static char *apphost;
static size_t apphost_len;
static time_t fake_mtime = 1000000000;

static const char apphost_fmt[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<configuration>\n"
	"<configSections>\n"
	" <sectionGroup name=\"system.applicationHost\">\n"
	"  <section name=\"applicationPools\" allowDefinition=\"AppHostOnly\" "
	"overrideModeDefault=\"Deny\" />\n"
	"  <section name=\"sites\" allowDefinition=\"AppHostOnly\" "
	"overrideModeDefault=\"Deny\" />\n"
	" </sectionGroup>\n"
	" <sectionGroup name=\"system.webServer\">\n"
	"  <section name=\"defaultDocument\" overrideModeDefault=\"Allow\" />\n"
	"  <section name=\"directoryBrowse\" overrideModeDefault=\"Allow\" />\n"
	"  <section name=\"globalModules\" allowDefinition=\"AppHostOnly\" "
	"overrideModeDefault=\"Deny\" />\n"
	"  <section name=\"handlers\" overrideModeDefault=\"Deny\" />\n"
	"  <section name=\"httpErrors\" overrideModeDefault=\"Deny\" />\n"
	"  <section name=\"httpProtocol\" overrideModeDefault=\"Allow\" />\n"
	"  <section name=\"httpRedirect\" overrideModeDefault=\"Allow\" />\n"
	"  <section name=\"modules\" allowDefinition=\"MachineToApplication\" "
	"overrideModeDefault=\"Deny\" />\n"
	"  <section name=\"staticContent\" overrideModeDefault=\"Allow\" />\n"
	"  <sectionGroup name=\"security\">\n"
	"   <section name=\"requestFiltering\" overrideModeDefault=\"Allow\" />\n"
	"  </sectionGroup>\n"
	" </sectionGroup>\n"
	"</configSections>\n"
	"<system.applicationHost>\n"
	" <applicationPools><add name=\"P\" /></applicationPools>\n"
	" <sites>\n"
	"  <site name=\"S\" id=\"1\">\n"
	"   <application path=\"/\" applicationPool=\"P\">\n"
	"    <virtualDirectory path=\"/\" physicalPath=\"%s/www\" />\n"
	"    <virtualDirectory path=\"/v\" physicalPath=\"%s/v\" />\n"
	"   </application>\n"
	"   <application path=\"/app\" applicationPool=\"P\">\n"
	"    <virtualDirectory path=\"/\" physicalPath=\"%s/www-app\" />\n"
	"   </application>\n"
	"   <bindings><binding protocol=\"http\" bindingInformation=\"*:8080:\" /></bindings>\n"
	"  </site>\n"
	" </sites>\n"
	"</system.applicationHost>\n"
	"<system.webServer>\n"
	" <defaultDocument enabled=\"true\" lockAttributes=\"enabled\">\n"
	"  <files><add value=\"index.html\" />"
	"<add value=\"default.htm\" lockItem=\"true\" /></files>\n"
	" </defaultDocument>\n"
	" <staticContent><mimeMap fileExtension=\".txt\" mimeType=\"text/plain\" />"
	"</staticContent>\n"
	" <handlers><add name=\"StaticFile\" path=\"*\" verb=\"*\" "
	"modules=\"StaticFileModule\" /></handlers>\n"
	" <security><requestFiltering><requestLimits maxUrl=\"4096\" />"
	"</requestFiltering></security>\n"
	"</system.webServer>\n"
	"<location path=\"S/app\" overrideMode=\"Allow\">\n"
	" <system.webServer><handlers /><httpErrors errorMode=\"Detailed\" /></system.webServer>\n"
	"</location>\n"
	"<location path=\"S/sub\" overrideMode=\"Deny\">\n"
	" <system.webServer><directoryBrowse enabled=\"true\" /></system.webServer>\n"
	"</location>\n"
	"</configuration>\n";

static void
cleanup(void)
{
	char p[4200];

	for (size_t i = N_PARTS; i-- > 0;) {
		(void)snprintf(p, sizeof(p), "%s/%s/web.config", root, part_dirs[i]);
		(void)unlink(p);
		(void)snprintf(p, sizeof(p), "%s/%s/web.config.new", root, part_dirs[i]);
		(void)unlink(p);
		(void)snprintf(p, sizeof(p), "%s/%s", root, part_dirs[i]);
		(void)rmdir(p);
	}
	(void)rmdir(root);
	free(apphost);
}

static struct wasp_config *
load(void)
{
	struct wasp_config_opts opts = { .no_env_expansion = true, .revalidate_usec = 0 };
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config *cfg = NULL;
	int r;

	r = wasp_config_load_buffer(apphost, apphost_len, "fuzz/applicationHost.config", &opts,
				    &cfg, &diags);
	if (r != 0) {
		wasp_diag_list_print(&diags, stderr, WASP_DIAG_WARNING);
		CHECK(r == 0);
	}
	wasp_diag_list_done(&diags);
	return cfg;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char p[4200];
	int n;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	(void)snprintf(root, sizeof(root), "%s/wasp-fuzz-webconfig-XXXXXX", tmp);
	CHECK(mkdtemp(root));
	for (size_t i = 0; i < N_PARTS; i++) {
		(void)snprintf(p, sizeof(p), "%s/%s", root, part_dirs[i]);
		CHECK(mkdir(p, 0755) == 0);
	}
	n = asprintf(&apphost, apphost_fmt, root, root, root);
	CHECK(n > 0);
	apphost_len = (size_t)n;
	CHECK(atexit(cleanup) == 0);
	return 0;
}

/* Replace (or remove) one web.config: a new inode and a new mtime. */
static void
put_file(size_t i, const uint8_t *p, size_t n)
{
	char path[4200], tmp[4300];
	struct timespec ts[2];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s/web.config", root, part_dirs[i]);
	if (n == 0) {
		CHECK(unlink(path) == 0 || errno == ENOENT);
		return;
	}
	(void)snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, p, n) == (ssize_t)n);
	ts[0] = ts[1] = (struct timespec){ .tv_sec = ++fake_mtime };
	CHECK(futimens(fd, ts) == 0);
	CHECK(close(fd) == 0);
	CHECK(rename(tmp, path) == 0);
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

/* One effective section as comparable text: "<status>" or "<status> <json>". */
static char *
query(struct wasp_config *cfg, const char *url, const char *section)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	const struct wasp_element *e = NULL;
	char *out = NULL, *js = NULL;
	json_t *j;
	int r;

	r = wasp_config_effective_section_at(cfg, "S", url, section, &e, &diags);
	CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
	/* Not checked: -EINVAL comes with diagnostics only when the faulty
	 * file is parsed, not for later sections or cache hits. */
	if (r == 0 || (r == -EINVAL && e)) {
		CHECK(e);
		walk(e, 0);
		j = wasp_element_to_json(e);
		CHECK(j);
		js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		CHECK(js);
		json_decref(j);
	}
	CHECK(asprintf(&out, "%d %s", r, js ? js : "") > 0);
	free(js);
	wasp_diag_list_done(&diags);
	return out;
}

/* Write the input's parts, each to dir (i + shift) % N_PARTS. */
static void
put_files(const uint8_t *data, size_t size, size_t shift)
{
	bool written[N_PARTS] = { false };
	size_t start = 0, part = 0;

	for (size_t i = 0; i <= size && part < N_PARTS; i++) {
		if (i == size || data[i] == 0) {
			put_file((part + shift) % N_PARTS, data + start, i - start);
			written[(part + shift) % N_PARTS] = true;
			part++;
			start = i + 1;
		}
	}
	for (size_t i = 0; i < N_PARTS; i++)
		if (!written[i])
			put_file(i, NULL, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wasp_config *cached, *fresh;

	/* A generation that computes (and caches) every section for the
	 * files as given... */
	put_files(data, size, 0);
	cached = load();
	for (size_t u = 0; u < ELEMENTSOF(urls); u++)
		for (size_t s = 0; s < ELEMENTSOF(sections); s++)
			free(query(cached, urls[u], sections[s]));

	/* ...then every file changes, appears or disappears (the parts move
	 * one directory on), and it must agree with a new generation. */
	put_files(data, size, 1);
	fresh = load();
	for (size_t u = 0; u < ELEMENTSOF(urls); u++)
		for (size_t s = 0; s < ELEMENTSOF(sections); s++) {
			char *a = query(fresh, urls[u], sections[s]);
			char *b = query(cached, urls[u], sections[s]);

			if (strcmp(a, b) != 0) {
				fprintf(stderr,
					"%s at %s after the web.config files changed:\n"
					"  a new generation says %s\n"
					"  the one that cached the old files says %s\n",
					sections[s], urls[u], a, b);
				abort();
			}
			/* Asked again, the fresh one answers from its cache. */
			free(b);
			b = query(fresh, urls[u], sections[s]);
			CHECK(strcmp(a, b) == 0);
			free(a);
			free(b);
		}
	wasp_config_free(cached);
	wasp_config_free(fresh);
	return 0;
}
