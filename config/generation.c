/* A generation: one loaded configuration (schema, built-in defaults,
 * applicationHost.config, the caches of what was merged from it), made
 * from a file or a buffer, and freed whole. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "internal.h"

int
cfg_config_new(const struct wasp_config_opts *opts, struct wasp_config **ret)
{
	struct wasp_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return -ENOMEM;
	cfg->refs = 1;
	cfg->arena = wasp_arena_new();
	cfg->cache = cfg_cache_new();
	cfg->shared = cfg_cache_new();
	cfg->files = cfg_cache_new();
	cfg->apphost_sections = cfg_cache_new();
	if (!cfg->arena || !cfg->cache || !cfg->shared || !cfg->files || !cfg->apphost_sections) {
		wasp_config_free(cfg);
		return -ENOMEM;
	}
	if (opts) {
		cfg->opts = *opts;
		cfg->opts.schema_dir = opts->schema_dir ? wasp_arena_strdup(cfg->arena, opts->schema_dir)
							: NULL;
	}
	*ret = cfg;
	return 0;
}

/* The arena (and the generations it reuses entries of) goes with the last
 * reference. */
static void
config_unref(struct wasp_config *cfg)
{
	while (cfg && --cfg->refs == 0) {
		struct wasp_config *base = cfg->base;

		wasp_arena_free(cfg->arena);
		free(cfg);
		cfg = base;
	}
}

struct wasp_config *
wasp_config_free(struct wasp_config *cfg)
{
	if (!cfg || cfg->freed)
		return NULL;
	cfg->freed = true;
	if (cfg->cache)
		cfg_cache_clear(cfg->cache, free);
	cfg->cache = cfg_cache_free(cfg->cache);
	cfg->shared = cfg_cache_free(cfg->shared);
	cfg->files = cfg_cache_free(cfg->files);
	if (cfg->apphost_sections)
		cfg_cache_clear(cfg->apphost_sections, cfg_apphost_section_free);
	cfg->apphost_sections = cfg_cache_free(cfg->apphost_sections);
	cfg_items_free(cfg->items);
	cfg->items = NULL;
	wasp_arena_free(cfg->view);
	cfg->view = NULL;
	config_unref(cfg);
	return NULL;
}

int
cfg_load_buffer(const char *buf, size_t len, const char *filename,
		const struct wasp_config_opts *opts, struct cfg_schema *schema,
		struct wasp_config **ret, struct wasp_diag_list *diags)
{
	struct wasp_config *cfg = NULL;
	struct cfg_file *f = NULL;
	const char *dir;
	int r;

	r = cfg_config_new(opts, &cfg);
	if (r < 0)
		return r;
	dir = cfg->opts.schema_dir ? cfg->opts.schema_dir : cfg_schema_default_dir();
	cfg->schema = schema;
	r = schema ? 0 : cfg_schema_load_dir(dir, cfg->arena, &cfg->schema, diags);
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	r = cfg_load_builtin(cfg);
	if (r < 0) {
		wasp_config_free(cfg);
		return r;
	}
	r = cfg_parse_file(cfg, buf, len, filename, true, NULL, &f, diags);
	if (!f) {
		wasp_config_free(cfg);
		return r;
	}
	cfg->apphost = f;
	if (r != -ENOMEM && cfg_load_builtin_modules(cfg) < 0)
		r = -ENOMEM;
	if (r != -ENOMEM) {
		int v = cfg_validate_apphost(cfg, diags);

		if (v == -ENOMEM) {
			wasp_config_free(cfg);
			return v;
		}
		if (r == 0)
			r = v;
	}
	if (r == 0 && cfg_items_record(cfg, buf, len) < 0) {
		wasp_config_free(cfg);
		return -ENOMEM;
	}
	*ret = cfg;
	return r;
}

int
wasp_config_load_buffer(const char *buf, size_t len, const char *filename,
			const struct wasp_config_opts *opts, struct wasp_config **ret,
			struct wasp_diag_list *diags)
{
	return cfg_load_buffer(buf, len, filename, opts, NULL, ret, diags);
}

int
wasp_config_load_file(const char *path, const struct wasp_config_opts *opts,
		      struct wasp_config **ret, struct wasp_diag_list *diags)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, path, 0, NULL, "cannot open: %s",
				    strerror(-r));
		return r;
	}
	r = wasp_read_fd(fd, CFG_MAX_FILE_SIZE, &buf, &len);
	if (r == -EFBIG)
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, path, 0, NULL,
				    "file too big (over %d bytes)", CFG_MAX_FILE_SIZE);
	else if (r < 0 && r != -ENOMEM)
		(void)wasp_diag_add(diags, WASP_DIAG_ERROR, path, 0, NULL, "cannot read: %s",
				    strerror(-r));
	if (r < 0)
		return r;
	return wasp_config_load_buffer(buf, len, path, opts, ret, diags);
}

const char *
wasp_config_file(const struct wasp_config *cfg)
{
	return cfg->apphost ? cfg->apphost->path : NULL;
}

const char *
wasp_config_dir(const struct wasp_config *cfg)
{
	return cfg->apphost ? cfg->apphost->dir : NULL;
}

struct wasp_arena *
wasp_config_arena(struct wasp_config *cfg)
{
	return cfg->arena;
}
