/* web.config files: read and parsed when first looked at, kept by path in
 * the generation and re-read when their stat (device, inode, size, mtime)
 * changes; the stat of what a result depended on, to tell when it is
 * stale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "merge.h"

static void
stat_dep(const char *path, struct dep *d)
{
	struct stat st;

	d->path = path;
	d->is_dir = false;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		d->exists = false;
		d->dev = 0;
		d->ino = 0;
		d->size = 0;
		d->mtime_nsec = 0;
		return;
	}
	d->exists = true;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->size = st.st_size;
	d->mtime_nsec = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

/* (Its times change with every entry once it is one.) */
void
cfg_stat_dep_dir(const char *path, struct dep *d)
{
	struct stat st;

	*d = (struct dep){ .path = path, .is_dir = true };
	d->exists = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool
cfg_dep_changed(const struct dep *d)
{
	struct dep now;

	if (d->is_dir)
		cfg_stat_dep_dir(d->path, &now);
	else
		stat_dep(d->path, &now);
	return now.exists != d->exists || now.is_dir != d->is_dir || now.dev != d->dev ||
	       now.ino != d->ino || now.size != d->size || now.mtime_nsec != d->mtime_nsec;
}

int
cfg_get_web_config(struct mctx *m, const char *path, struct dep *dep, struct cfg_file **ret)
{
	struct wasp_config *cfg = m->cfg;
	struct cfg_file *f = cfg_cache_get(cfg->files, path);
	_cleanup_(wasp_diag_list_done) struct wasp_diag_list local = WASP_DIAG_LIST_INIT;
	const struct wasp_config_error *first = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	stat_dep(path, dep);
	/* Absent files leave no record: a client asking for random paths
	 * must not grow the generation. */
	if (!dep->exists) {
		*ret = NULL;
		return 0;
	}
	if (f && f->exists && f->dev == dep->dev && f->ino == dep->ino &&
	    f->size == dep->size && f->mtime_nsec == dep->mtime_nsec) {
		*ret = f;
		return 0;
	}
	r = wasp_read_file(path, CFG_MAX_WEBCONFIG_SIZE, &buf, &len);
	if (r == -ENOMEM)
		return r;
	f = NULL;
	if (r == -EFBIG)
		(void)wasp_diag_add(&local, WASP_DIAG_ERROR, path, 0, NULL,
				    "file too big: over the limit of %d bytes for a web.config "
				    "(IIS's default maxWebConfigFileSizeInKB, 250)",
				    CFG_MAX_WEBCONFIG_SIZE);
	else if (r < 0)
		(void)wasp_diag_add(&local, WASP_DIAG_ERROR, path, 0, NULL, "cannot read: %s",
				    strerror(-r));
	else
		r = cfg_parse_file(cfg, buf, len, path, false, NULL, &f, &local);
	if (r == -ENOMEM)
		return r;
	/* the caller's list gets them all; the file keeps its first error */
	for (size_t i = 0; i < local.n; i++) {
		const struct wasp_diag *d = &local.items[i];

		(void)wasp_diag_add(m->diags, d->severity, d->file, d->line, d->attribute, "%s",
				    d->message);
		if (d->severity == WASP_DIAG_ERROR && !first)
			first = cfg_error_new(cfg->arena, d->file, d->line, d->attribute,
					      d->message);
	}
	{
		if (!f) {
			/* Not XML: remembered as a file with an error, so it
			 * is not parsed again until it changes. */
			f = wasp_arena_zalloc(cfg->arena, sizeof(*f));
			if (!f || !(f->path = wasp_arena_strdup(cfg->arena, path)))
				return -ENOMEM;
			r = r < 0 ? r : -EINVAL;
		}
		f->parse_result = r;
		f->first_err = r < 0 ? first : NULL;
		if (r < 0 && !f->first_err)
			f->first_err = cfg_error_new(cfg->arena, path, 0, NULL, "cannot be read");
	}
	f->exists = dep->exists;
	f->dev = dep->dev;
	f->ino = dep->ino;
	f->size = dep->size;
	f->mtime_nsec = dep->mtime_nsec;
	r = cfg_cache_put(cfg->files, path, f);
	if (r < 0)
		return r;
	*ret = f;
	return 0;
}
