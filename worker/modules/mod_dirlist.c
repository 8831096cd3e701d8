/* DirectoryListingModule: a GET or HEAD of a directory URL that no default
 * document answered. With system.webServer/directoryBrowse enabled, an HTML
 * listing in IIS's layout ("[To Parent Directory]", then one line per entry
 * with the columns showFlags selects: Date or LongDate, Time, Size (or
 * <dir>), and the name, without its extension unless Extension is set);
 * disabled: 403.14, as IIS ("the Web server is configured to not list the
 * contents of this directory"). A directory URL without its trailing slash
 * is redirected (301) to the slash form when listing is enabled.
 *
 * Names are HTML-escaped in the text and percent-encoded in the hrefs.
 * Not listed: names starting with '.', IIS's default hiddenSegments and the
 * configured requestFiltering hiddenSegments, entries that are neither
 * files nor directories, and symbolic links that lead outside the virtual
 * directory (unless staticContent allows that). Times are the worker's
 * local time, as IIS shows them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "http.h"
#include "util.h"
#include "worker.h"

#define DIRLIST_SECTION "system.webServer/directoryBrowse"
#define FILTERING_SECTION "system.webServer/security/requestFiltering"
#define DIRLIST_MAX_ENTRIES 10000 /* a bigger directory is listed in part */

enum {
	SHOW_DATE = 2,
	SHOW_TIME = 4,
	SHOW_SIZE = 8,
	SHOW_EXTENSION = 16,
	SHOW_LONG_DATE = 32,
};

struct entry {
	char *name;
	struct stat st;
};

/* s HTML-escaped, in the request's arena. */
static char *
html_escape(struct wasp_request *req, const char *s)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += wasp_html_entity(*p) ? WASP_HTML_ENTITY_MAX : 1;
	out = o = wasp_request_alloc(req, n + 1);
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *e = wasp_html_entity(*p);

		if (e)
			o = stpcpy(o, e);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int r = strcasecmp(x->name, y->name);

	return r ? r : strcmp(x->name, y->name);
}

/* IIS's default hiddenSegments, never listed even where requestFiltering
 * configures none (RequestFilteringModule answers 404.8 for them). */
static const struct {
	const char *name;
	size_t len;
} hidden_segments[] = {
	{ "web.config", 10 },
	{ "bin", 3 },
	{ "App_code", 8 },
	{ "App_GlobalResources", 19 },
	{ "App_LocalResources", 18 },
	{ "App_WebReferences", 17 },
	{ "App_Data", 8 },
	{ "App_Browsers", 12 },
};

static bool
is_hidden_name(const char *name, size_t n)
{
	for (size_t i = 0; n && i < ELEMENTSOF(hidden_segments); i++)
		if (n == hidden_segments[i].len && strncasecmp(name, hidden_segments[i].name, n) == 0)
			return true;
	return false;
}


/* The module's sections, built once per effective section (names point
 * into the configuration, which outlives them): directoryBrowse, and the
 * hiddenSegments of requestFiltering, which are not listed either. */
enum { DL_SECTION_BROWSE, DL_SECTION_FILTERING };

struct dl_conf {
	bool enabled;
	uint64_t flags; /* showFlags */
};

struct dl_hidden {
	size_t n;
	const char *segments[];
};

static void *
dl_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	struct dl_conf *c = malloc(sizeof(*c));

	/* the schema's defaults are in the element */
	if (c)
		*c = (struct dl_conf){ .enabled = wasp_element_get_bool(sec, "enabled", false),
				       .flags = wasp_element_get_uint(sec, "showFlags", 0) };
	return c;
}

static void *
dl_hidden_build(const struct wasp_element *sec, struct wasp_server *srv)
{
	const struct wasp_element *segs = wasp_element_child(sec, "hiddenSegments");
	size_t n = segs ? segs->n_items : 0;
	struct dl_hidden *h = calloc(1, sizeof(*h) + n * sizeof(h->segments[0]));

	if (!h)
		return NULL;
	for (size_t i = 0; i < n; i++)
		h->segments[h->n++] = wasp_element_get_str(segs->items[i], "segment", "");
	return h;
}

extern const struct wasp_module mod_dirlist;

static const struct wasp_module_section dl_sections[] = {
	[DL_SECTION_BROWSE] = { .name = DIRLIST_SECTION, .build = dl_build, .free_conf = free },
	[DL_SECTION_FILTERING] = { .name = FILTERING_SECTION,
				   .build = dl_hidden_build,
				   .free_conf = free },
};

static bool
hidden(const struct dl_hidden *h, const char *name)
{
	if (name[0] == '.' || is_hidden_name(name, strlen(name)))
		return true;
	for (size_t i = 0; h && i < h->n; i++)
		if (strcaseeq(h->segments[i], name))
			return true;
	return false;
}

static const char *const wdays[] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
				     "Thursday", "Friday", "Saturday" };
static const char *const months[] = { "January", "February", "March",     "April",
				      "May",     "June",     "July",      "August",
				      "September", "October", "November", "December" };

/* One listing line's columns before the link, as IIS lays them out. */
static void
format_columns(char *out, size_t size, const struct stat *st, uint64_t flags)
{
	struct tm tm;
	size_t o = 0;
	time_t t = st->st_mtim.tv_sec;

	out[0] = '\0';
	if (!localtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	if (flags & SHOW_LONG_DATE) {
		char d[64];
		snprintf(d, sizeof(d), "%s, %s %d, %d", wdays[tm.tm_wday % 7],
			 months[tm.tm_mon % 12], tm.tm_mday, tm.tm_year + 1900);
		o += (size_t)snprintf(out + o, size - o, "%30s ", d);
	} else if (flags & SHOW_DATE) {
		char d[32];
		snprintf(d, sizeof(d), "%d/%d/%d", tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900);
		o += (size_t)snprintf(out + o, size - o, "%10s ", d);
	}
	if (flags & SHOW_TIME) {
		char d[16];
		snprintf(d, sizeof(d), "%d:%02d %s", tm.tm_hour % 12 ? tm.tm_hour % 12 : 12,
			 tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
		o += (size_t)snprintf(out + o, size - o, "%8s ", d);
	}
	if (flags & SHOW_SIZE) {
		if (S_ISDIR(st->st_mode))
			o += (size_t)snprintf(out + o, size - o, "       &lt;dir&gt; ");
		else
			o += (size_t)snprintf(out + o, size - o, "%12" PRIu64 " ",
					      (uint64_t)st->st_size);
	}
	(void)o;
}

/* Read the directory's entries (fd: the directory, shared with the open
 * file cache: read through a new open file description). */
static int
read_entries(struct wasp_request *req, int fd, const struct dl_hidden *segments,
	     struct entry **ret, size_t *ret_n)
{
	struct entry *v = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		return r;
	}
	while (n < DIRLIST_MAX_ENTRIES && (de = readdir(d))) {
		struct stat st;

		if (hidden(segments, de->d_name))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			int lfd;

			/* listed only when it may be followed: the same open a
			 * request for it would do */
			if (wasp_request_open_content(req, de->d_name, &lfd, &st) < 0)
				continue;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 64;
			struct entry *nv = wasp_request_alloc(req, na * sizeof(*nv));
			if (!nv) {
				closedir(d);
				return -ENOMEM;
			}
			if (n)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
			alloc = na;
		}
		v[n].name = wasp_request_strdup(req, de->d_name);
		if (!v[n].name) {
			closedir(d);
			return -ENOMEM;
		}
		v[n].st = st;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int
write_str(struct wasp_request *req, const char *s)
{
	return s ? wasp_response_write(req, s, strlen(s)) : -ENOMEM;
}

static enum wasp_status
list_directory(struct wasp_request *req, int fd, uint64_t flags)
{
	const struct dl_hidden *segments =
		wasp_request_module_conf(req, &mod_dirlist, DL_SECTION_FILTERING);
	const char *path = wasp_request_path(req);
	const char *host = wasp_request_header(req, "Host");
	char *title;
	struct entry *v = NULL;
	size_t n = 0;
	int r;

	if (!segments && wasp_request_config(req, FILTERING_SECTION))
		return WASP_ERROR; /* out of memory: hidden names could show */
	r = read_entries(req, fd, segments, &v, &n);
	if (r == -EACCES) {
		wasp_response_set_status(req, 403, 0);
		return WASP_DONE;
	}
	if (r < 0)
		return WASP_ERROR;
	if (!host || !*host)
		host = wasp_request_site_name(req);
	title = wasp_arena_printf(req->arena, "%s - %s", host, path);
	title = title ? html_escape(req, title) : NULL;
	if (!title)
		return WASP_ERROR;

	wasp_response_set_status(req, 200, 0);
	if (wasp_response_add_header(req, "Content-Type", "text/html; charset=utf-8") < 0)
		return WASP_ERROR;
	r = write_str(req, wasp_arena_printf(req->arena,
					     "<html><head><title>%s</title></head><body><H1>%s</H1>"
					     "<hr>\n\n<pre>",
					     title, title));
	if (r >= 0 && !streq(path, "/")) {
		/* the parent: path without its last segment (path ends in '/') */
		char *parent = wasp_request_strdup(req, path), *slash, *enc;

		if (!parent)
			return WASP_ERROR;
		parent[strlen(parent) - 1] = '\0';
		slash = strrchr(parent, '/');
		if (slash)
			slash[1] = '\0';
		enc = wasp_request_url_encode(req, parent, NULL);
		if (!enc)
			return WASP_ERROR;
		r = write_str(req,
			      wasp_arena_printf(req->arena,
						"<A HREF=\"%s\">[To Parent Directory]</A><br><br>",
						enc));
	} else if (r >= 0) {
		r = write_str(req, "<br>");
	}
	for (size_t i = 0; r >= 0 && i < n; i++) {
		bool dir = S_ISDIR(v[i].st.st_mode);
		char cols[96], *shown = wasp_request_strdup(req, v[i].name);
		char *href;

		if (!shown)
			return WASP_ERROR;
		if (!dir && !(flags & SHOW_EXTENSION)) {
			char *dot = strrchr(shown, '.');
			if (dot && dot != shown)
				*dot = '\0';
		}
		format_columns(cols, sizeof(cols), &v[i].st, flags);
		href = wasp_arena_printf(req->arena, "%s%s", path, v[i].name);
		href = href ? wasp_request_url_encode(req, href, dir ? "/" : NULL) : NULL;
		shown = html_escape(req, shown);
		if (!href || !shown)
			return WASP_ERROR;
		r = write_str(req, wasp_arena_printf(req->arena, "%s<A HREF=\"%s\">%s</A><br>",
						     cols, href, shown));
	}
	if (r >= 0)
		r = write_str(req, "</pre><hr></body></html>\n");
	return r < 0 ? WASP_ERROR : WASP_DONE;
}

static enum wasp_status
dirlist_on_execute(struct wasp_request *req, void *userdata)
{
	const struct dl_conf *c;
	struct stat st;
	int fd;

	(void)userdata;
	if (!wasp_http_method_is_get_or_head(wasp_request_method(req)))
		return WASP_DECLINED;
	if (wasp_request_open_content(req, NULL, &fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return WASP_DECLINED;
	c = wasp_request_module_conf(req, &mod_dirlist, DL_SECTION_BROWSE);
	if (!c || !c->enabled) { /* no configuration (or no memory): no listing */
		wasp_response_set_status(req, 403, 14);
		return WASP_DONE;
	}
	if (!wasp_request_path_has_slash(req))
		return wasp_response_redirect_slash(req);
	return list_directory(req, fd, c->flags);
}

static int
dirlist_register_hooks(struct wasp_hooks *hooks)
{
	/* the last word on a directory: after StaticFileModule and
	 * DefaultDocumentModule */
	return wasp_hooks_add(hooks, WASP_STAGE_EXECUTE_REQUEST_HANDLER, WASP_PRIORITY_LAST,
			      dirlist_on_execute, NULL);
}

const struct wasp_module mod_dirlist = {
	.abi = WASP_MODULE_ABI,
	.name = "DirectoryListingModule",
	.sections = dl_sections,
	.n_sections = ELEMENTSOF(dl_sections),
	.register_hooks = dirlist_register_hooks,
};
