/* appcmd's backup object: copies of applicationHost.config in
 * <config dir>/backup/NAME/applicationHost.config.
 *
 *   waspctl add backup [NAME]      (default name: the time, 20261207T170534)
 *   waspctl list backup [NAME] [--json]
 *   waspctl restore backup NAME
 *   waspctl delete backup NAME
 *
 * Every edit first keeps the file as it was as CFGHISTORY_NNNNNNNNNN (IIS's
 * configuration history); the oldest go past configHistory's maxHistories. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "ctlbackup.h"
#include "ctledit.h"
#include "fs.h"
#include "util.h"

#define HISTORY_PREFIX "CFGHISTORY_"
#define SEC_HISTORY "system.applicationHost/configHistory"
#define BACKUP_NAME_MAX 100

static void
closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static char *
backup_dir(const char *config, const char *name)
{
	const char *slash = strrchr(config, '/');
	char *s = NULL;
	int n;

	if (!slash)
		n = asprintf(&s, "backup%s%s", name ? "/" : "", name ? name : "");
	else
		n = asprintf(&s, "%.*s/backup%s%s", (int)(slash - config), config, name ? "/" : "",
			     name ? name : "");
	return n < 0 ? NULL : s;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int
backup_file(const char *config, const char *name, char **ret)
{
	_cleanup_free_ char *dir = backup_dir(config, name);

	if (!dir || asprintf(ret, "%s/%s", dir, base_name(config)) < 0)
		return -ENOMEM;
	return 0;
}

static bool
name_ok(const char *name)
{
	size_t l = strlen(name);

	if (!l || l > BACKUP_NAME_MAX || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return false;
	return true;
}

/* A copy of config as backup name (which must not exist yet). */
static int
backup_make(const char *config, const char *name)
{
	_cleanup_free_ char *dir = backup_dir(config, name), *file = NULL, *buf = NULL;
	size_t len = 0;
	struct stat st;
	int r;

	if (!dir || backup_file(config, name, &file) < 0)
		return -ENOMEM;
	if ((r = wasp_read_file(config, EDIT_FILE_MAX, &buf, &len)) < 0 ||
	    stat(config, &st) < 0) {
		r = r < 0 ? r : -errno;
		fprintf(stderr, "waspctl: cannot read %s: %s\n", config, strerror(-r));
		return r;
	}
	if ((r = wasp_mkdir_p(dir, 0755, 0700, 0)) < 0 && r != -EEXIST)
		goto fail;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	if (access(file, F_OK) == 0) {
		fprintf(stderr, "waspctl: backup \"%s\" exists\n", name);
		return -EEXIST;
	}
	if ((r = edit_write_atomic(file, buf, len, &st)) >= 0)
		return 0;
fail:
	fprintf(stderr, "waspctl: cannot make backup %s: %s\n", dir, strerror(-r));
	return r;
}

static int
remove_backup(const char *config, const char *name)
{
	_cleanup_free_ char *dir = backup_dir(config, name), *file = NULL;
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;

	if (!dir || backup_file(config, name, &file) < 0)
		return -ENOMEM;
	/* what appcmd keeps there too: every plain file of the directory */
	if ((d = opendir(dir)))
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				(void)unlinkat(dirfd(d), de->d_name, 0);
	return rmdir(dir) < 0 ? -errno : 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The backup names, sorted; history only or the others only. */
static int
names_list(const char *config, bool history, char ***ret, size_t *n)
{
	_cleanup_free_ char *dir = backup_dir(config, NULL);
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	char **v = NULL;

	*n = 0;
	if (!dir)
		return -ENOMEM;
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char **nv;

		if (!name_ok(de->d_name) || !!startswith(de->d_name, HISTORY_PREFIX) != history)
			continue;
		if (!(nv = realloc(v, (*n + 1) * sizeof(*v))) ||
		    !(nv[*n] = strdup(de->d_name))) {
			free(nv ? nv : v);
			return -ENOMEM;
		}
		v = nv;
		(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	*ret = v;
	return 0;
}

static void
names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
backup_history(const char *config, struct wasp_config *cfg)
{
	const struct wasp_element *h = wasp_config_section(cfg, SEC_HISTORY);
	size_t max = (size_t)wasp_element_get_uint(h, "maxHistories", 10);
	char **v = NULL, name[64];
	unsigned long long last = 0;
	size_t n = 0;
	int r;

	if (!wasp_element_get_bool(h, "enabled", true))
		return 0;
	if ((r = names_list(config, true, &v, &n)) < 0)
		return r;
	if (n)
		last = strtoull(v[n - 1] + strlen(HISTORY_PREFIX), NULL, 10);
	snprintf(name, sizeof(name), HISTORY_PREFIX "%010llu", last + 1);
	r = backup_make(config, name);
	for (size_t i = 0; r >= 0 && n + 1 > max && i < n + 1 - max; i++)
		(void)remove_backup(config, v[i]);
	names_free(v, n);
	return r;
}

static bool
backup_exists(const char *config, const char *name)
{
	_cleanup_free_ char *file = NULL;

	return name_ok(name) && backup_file(config, name, &file) >= 0 && access(file, F_OK) == 0;
}

static int
restore(const char *config, const char *name)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	struct wasp_config_opts opts = { 0 };
	_cleanup_free_ char *file = NULL, *buf = NULL;
	struct wasp_config *cfg = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	if (backup_file(config, name, &file) < 0)
		return -ENOMEM;
	if ((r = wasp_read_file(file, EDIT_FILE_MAX, &buf, &len)) < 0) {
		fprintf(stderr, "waspctl: cannot read %s: %s\n", file, strerror(-r));
		return r;
	}
	if ((r = edit_validate(buf, len, config)) < 0) {
		fprintf(stderr, "waspctl: backup \"%s\" does not load: %s is unchanged\n", name,
			config);
		return r;
	}
	if (stat(config, &st) < 0)
		return -errno;
	/* the history as the file being replaced says (what it understood of
	 * it, if it has errors) */
	(void)wasp_config_load_file(config, &opts, &cfg, &diags);
	wasp_diag_list_done(&diags);
	r = cfg ? backup_history(config, cfg) : 0;
	wasp_config_free(cfg);
	if (r < 0)
		return r;
	return edit_write_atomic(config, buf, len, &st);
}

static int
list(const char *config, const char *only, bool json)
{
	json_t *arr = json ? json_array() : NULL;
	char **v[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 }, shown = 0;
	int r;

	if ((r = names_list(config, false, &v[0], &n[0])) < 0 ||
	    (r = names_list(config, true, &v[1], &n[1])) < 0) {
		fprintf(stderr, "waspctl: cannot list backups: %s\n", strerror(-r));
		goto out;
	}
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < n[k]; i++) {
			if (only && !streq(only, v[k][i]))
				continue;
			shown++;
			if (arr)
				json_array_append_new(arr, json_pack("{s:s, s:b}", "name", v[k][i],
								     "automatic", k == 1));
			else
				printf("BACKUP \"%s\"\n", v[k][i]);
		}
	if (only && !shown) {
		fprintf(stderr, "waspctl: cannot find BACKUP object with identifier \"%s\"\n", only);
		r = -ENOENT;
		goto out;
	}
	if (arr) {
		json_t *j = json_pack("{s:b, s:O}", "ok", 1, "backups", arr);

		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	}
out:
	json_decref(arr);
	names_free(v[0], n[0]);
	names_free(v[1], n[1]);
	return r;
}

int
ctlbackup_run(const char *config, const char *verb, const char *name, bool json, char *msg,
	      size_t size)
{
	char stamp[32];
	int r;

	if (streq(verb, "list"))
		return list(config, name, json) < 0 ? -ENOENT : 1;
	if (!name && streq(verb, "add")) {
		time_t t = time(NULL);
		struct tm tm;

		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime_r(&t, &tm));
		name = stamp;
	}
	if (!name || !name_ok(name)) {
		fprintf(stderr, "waspctl: %s backup needs a NAME of letters, digits, '.', '_' and "
				"'-' (at most %d)\n", verb, BACKUP_NAME_MAX);
		return -EINVAL;
	}
	if (!streq(verb, "add") && !backup_exists(config, name)) {
		fprintf(stderr, "waspctl: cannot find BACKUP object with identifier \"%s\"\n",
			name);
		return -ENOENT;
	}
	_cleanup_close_ int lock = edit_lock(config);

	if (lock < 0)
		return lock;
	if (streq(verb, "add"))
		r = backup_make(config, name);
	else if (streq(verb, "restore"))
		r = restore(config, name);
	else if (streq(verb, "delete"))
		r = remove_backup(config, name);
	else
		r = -EINVAL;
	if (r >= 0 && streq(verb, "restore"))
		snprintf(msg, size, "Restored configuration from backup \"%s\"", name);
	else if (r >= 0)
		snprintf(msg, size, "BACKUP object \"%s\" %s", name,
			 streq(verb, "add") ? "added" : "deleted");
	return r;
}
