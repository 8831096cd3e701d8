/* wasp's built-in defaults: the collections IIS's shipped
 * applicationHost.config fills (default documents, the MIME map, request
 * filtering's file extensions and hidden segments, the StaticFile handler
 * with accessPolicy "Read, Script") and the lock it sets on what it
 * delegates (httpErrors' defaultPath), as IIS writes them; and the
 * <modules> list, which in IIS names every module installed: wasp's
 * built-in modules, then each module applicationHost.config's globalModules
 * loads (so that none is silently left out). That one is built once
 * applicationHost.config is read (cfg_load_builtin_modules()). Where nobody
 * changed <modules>, a worker runs every module it loaded (test modules
 * included); where a web.config or a <location> did, the merged list.
 *
 * They are merged as if applicationHost.config held them, below its own top
 * level (merge.c): a web.config's <add>, <remove> and <clear/> change them
 * entry by entry. Where applicationHost.config's own top level (no
 * <location>, or path="") adds to or clears one of these collections, it
 * writes the whole list, as a real IIS file does, and replaces them: wasp
 * never serves more than IIS would with that file. A lock here binds
 * web.config files and <location> paths, not applicationHost.config's own
 * top level: the two are one level.
 *
 * They are built from the tables below as parsed sections (cfg_node
 * trees), by waspd at load and by a worker when it reads its generation:
 * no XML to parse, nothing to carry in the serialized generation. */
#include <string.h>
#include <strings.h>

#include "builtin_modules.h"
#include "internal.h"

static const char *const default_documents[] = {
	"Default.htm", "Default.asp", "index.htm", "index.html", "iisstart.htm", "default.aspx",
	NULL,
};

/* extension, type */
static const char *const mime_map[] = {
	".7z", "application/x-7z-compressed",
	".aac", "audio/aac",
	".apk", "application/vnd.android.package-archive",
	".appcache", "text/cache-manifest",
	".avi", "video/x-msvideo",
	".avif", "image/avif",
	".bin", "application/octet-stream",
	".bmp", "image/bmp",
	".bz2", "application/x-bzip2",
	".cab", "application/vnd.ms-cab-compressed",
	".css", "text/css",
	".csv", "text/csv",
	".doc", "application/msword",
	".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".dtd", "application/xml-dtd",
	".eot", "application/vnd.ms-fontobject",
	".epub", "application/epub+zip",
	".exe", "application/octet-stream",
	".flac", "audio/flac",
	".flv", "video/x-flv",
	".gif", "image/gif",
	".gz", "application/gzip",
	".htc", "text/x-component",
	".htm", "text/html",
	".html", "text/html",
	".ico", "image/x-icon",
	".ics", "text/calendar",
	".iso", "application/octet-stream",
	".jar", "application/java-archive",
	".jpe", "image/jpeg",
	".jpeg", "image/jpeg",
	".jpg", "image/jpeg",
	".js", "application/javascript",
	".json", "application/json",
	".jsonld", "application/ld+json",
	".m4a", "audio/mp4",
	".m4v", "video/mp4",
	".manifest", "text/cache-manifest",
	".map", "application/json",
	".md", "text/markdown",
	".mid", "audio/mid",
	".midi", "audio/mid",
	".mjs", "text/javascript",
	".mov", "video/quicktime",
	".mp3", "audio/mpeg",
	".mp4", "video/mp4",
	".mpeg", "video/mpeg",
	".mpg", "video/mpeg",
	".msi", "application/octet-stream",
	".oga", "audio/ogg",
	".ogg", "audio/ogg",
	".ogv", "video/ogg",
	".otf", "font/otf",
	".pdf", "application/pdf",
	".png", "image/png",
	".ppt", "application/vnd.ms-powerpoint",
	".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".ps", "application/postscript",
	".rar", "application/x-rar-compressed",
	".rss", "application/rss+xml",
	".rtf", "application/rtf",
	".svg", "image/svg+xml",
	".svgz", "image/svg+xml",
	".swf", "application/x-shockwave-flash",
	".tar", "application/x-tar",
	".tgz", "application/x-compressed",
	".tif", "image/tiff",
	".tiff", "image/tiff",
	".ttf", "font/ttf",
	".txt", "text/plain",
	".vtt", "text/vtt",
	".wasm", "application/wasm",
	".wav", "audio/wav",
	".weba", "audio/webm",
	".webm", "video/webm",
	".webmanifest", "application/manifest+json",
	".webp", "image/webp",
	".wmv", "video/x-ms-wmv",
	".woff", "font/woff",
	".woff2", "font/woff2",
	".xhtml", "application/xhtml+xml",
	".xls", "application/vnd.ms-excel",
	".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".xml", "text/xml",
	".xsd", "text/xml",
	".xsl", "text/xml",
	".xslt", "text/xml",
	".zip", "application/x-zip-compressed",
	NULL,
};

static const char *const denied_extensions[] = {
	".asax", ".ascx", ".master", ".skin", ".browser", ".sitemap", ".config", ".cs", ".csproj",
	".vb", ".vbproj", ".webinfo", ".licx", ".resx", ".resources", ".mdb", ".vjsproj", ".java",
	".jsl", ".ldb", ".dsdgm", ".ssdgm", ".lsad", ".ssmap", ".cd", ".dsprototype",
	".lsaprototype", ".sdm", ".sdmDocument", ".mdf", ".ldf", ".ad", ".dd", ".ldd", ".sd",
	".adprototype", ".lddprototype", ".exclude", ".refresh", ".compiled", ".msgx", ".vsdisco",
	".rules",
	NULL,
};

static const char *const hidden_segments[] = {
	"web.config", "bin", "App_code", "App_GlobalResources", "App_LocalResources",
	"App_WebReferences", "App_Data", "App_Browsers",
	NULL,
};

/* One built-in collection: entries of the collection of element (a child of
 * the section's root, "" for the root itself) whose key attribute takes the
 * values (with a second attribute from every other value when attr2 is
 * set, or the constant fixed_value). */
static const struct builtin_list {
	const char *section;
	const char *element;
	const char *key;
	const char *attr2;
	const char *fixed_value; /* attr2's value for every entry, or NULL */
	const char *const *values;
} builtin_lists[] = {
	{ "system.webServer/defaultDocument", "files", "value", NULL, NULL, default_documents },
	{ "system.webServer/staticContent", "", "fileExtension", "mimeType", NULL, mime_map },
	{ "system.webServer/security/requestFiltering", "fileExtensions", "fileExtension",
	  "allowed", "false", denied_extensions },
	{ "system.webServer/security/requestFiltering", "hiddenSegments", "segment", NULL, NULL,
	  hidden_segments },
};

/* Entries with several attributes: name, value pairs, NULL-terminated. */
static const struct {
	const char *section;
	const char *const *attrs;
} builtin_entries[] = {
	/* IIS's StaticFile entry, but resourceType Unspecified: the modules
	 * find out themselves whether the file or directory is there (with
	 * staticContent's symbolic link rule), as they do without any
	 * <handlers>; a missing one is 404 either way */
	{ "system.webServer/handlers",
	  (const char *const[]){ "name", "StaticFile", "path", "*", "verb", "*", "modules",
				 "StaticFileModule,DefaultDocumentModule,DirectoryListingModule",
				 "resourceType", "Unspecified", "requireAccess", "Read", NULL } },
};

/* Attributes on a section's root: name, value pairs. */
static const struct {
	const char *section;
	const char *const *attrs;
} builtin_root_attrs[] = {
	{ "system.webServer/handlers", (const char *const[]){ "accessPolicy", "Read, Script", NULL } },
};

/* lockAttributes on a section's root */
static const struct {
	const char *section;
	const char *const *names;
} builtin_locks[] = {
	{ "system.webServer/httpErrors",
	  (const char *const[]){ "allowAbsolutePathsWhenDelegated", "defaultPath", NULL } },
};

struct bctx {
	struct wasp_config *cfg;
	struct cfg_file *f;
	size_t n_insts_alloc;
	int line; /* as if the tables were a file, one element a line */
};

static struct cfg_node *
node_new(struct bctx *b, enum cfg_node_kind kind, const char *name,
	 const struct schema_elem *schema, size_t max_attrs, size_t max_kids)
{
	struct wasp_arena *a = b->cfg->arena;
	struct cfg_node *n = wasp_arena_zalloc(a, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->name = name;
	n->schema = schema;
	n->line = ++b->line;
	n->attrs = wasp_arena_zalloc(a, (max_attrs + 1) * sizeof(*n->attrs));
	n->kids = wasp_arena_zalloc(a, (max_kids + 1) * sizeof(*n->kids));
	return n->attrs && n->kids ? n : NULL;
}

/* The section's root node, made on first use (NULL when the schema does not
 * have the section). -ENOMEM. */
static int
section_root(struct bctx *b, const char *name, struct cfg_node **ret)
{
	const struct schema_section *ss = cfg_schema_find(b->cfg->schema, name);
	struct cfg_inst *inst, **slot;

	*ret = NULL;
	if (!ss)
		return 0;
	for (size_t i = 0; i < b->f->n_insts; i++)
		if (b->f->insts[i]->section == ss) {
			*ret = b->f->insts[i]->root;
			return 0;
		}
	inst = wasp_arena_zalloc(b->cfg->arena, sizeof(*inst));
	slot = CFG_PUSH(b->cfg->arena, b->f->insts, b->f->n_insts, b->n_insts_alloc);
	if (!inst || !slot)
		return -ENOMEM;
	/* room for every element child: a section has a few */
	inst->root = node_new(b, CFG_NODE_ELEMENT, ss->root->name, ss->root, 0,
			      ss->root->n_children);
	if (!inst->root)
		return -ENOMEM;
	inst->section = ss;
	inst->location = "";
	inst->file = b->f;
	inst->index = b->f->n_insts - 1;
	*slot = inst;
	*ret = inst->root;
	return 0;
}

/* attr of node set to text (nothing when the schema lacks it). */
static int
set_attr(struct bctx *b, struct cfg_node *n, const char *attr, const char *text)
{
	const struct schema_attr *sa = schema_elem_attr(n->schema, attr);
	struct cfg_nattr *na = &n->attrs[n->n_attrs];
	const char *msg;
	int r;

	if (!sa)
		return 0;
	r = cfg_value_parse(b->cfg->arena, sa, text, &na->value, &msg);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	na->schema = sa;
	n->n_attrs++;
	return 0;
}

static int
add_list(struct bctx *b, const struct builtin_list *l)
{
	const struct schema_elem *es;
	struct cfg_node *root, *e;
	size_t stride = l->attr2 && !l->fixed_value ? 2 : 1, n = 0;
	int r;

	r = section_root(b, l->section, &root);
	if (r < 0 || !root)
		return r;
	es = *l->element ? schema_elem_child(root->schema, l->element) : root->schema;
	if (!es || !es->coll || !es->coll->item)
		return 0;
	while (l->values[n])
		n += stride;
	e = root;
	if (*l->element) {
		e = node_new(b, CFG_NODE_ELEMENT, es->name, es, 0, n / stride);
		if (!e)
			return -ENOMEM;
		root->kids[root->n_kids++] = e;
	} else {
		struct cfg_node **kids =
			wasp_arena_zalloc(b->cfg->arena,
					  (root->n_kids + n / stride + 1) * sizeof(*kids));

		if (!kids)
			return -ENOMEM;
		memcpy(kids, root->kids, root->n_kids * sizeof(*kids));
		root->kids = kids;
	}
	for (size_t i = 0; i < n; i += stride) {
		struct cfg_node *k = node_new(b, CFG_NODE_ADD, es->coll->add_name, es->coll->item,
					      2, 0);

		if (!k)
			return -ENOMEM;
		r = set_attr(b, k, l->key, l->values[i]);
		if (r >= 0 && l->attr2)
			r = set_attr(b, k, l->attr2, l->fixed_value ? l->fixed_value : l->values[i + 1]);
		if (r < 0)
			return r;
		e->kids[e->n_kids++] = k;
	}
	return 0;
}

static size_t
pairs(const char *const *v)
{
	size_t n = 0;

	while (v[2 * n])
		n++;
	return n;
}

static int
add_root_attrs(struct bctx *b, const char *section, const char *const *attrs)
{
	struct cfg_node *root;
	struct cfg_nattr *v;
	size_t n = pairs(attrs);
	int r;

	r = section_root(b, section, &root);
	if (r < 0 || !root)
		return r;
	v = wasp_arena_zalloc(b->cfg->arena, (root->n_attrs + n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, root->attrs, root->n_attrs * sizeof(*v));
	root->attrs = v;
	for (size_t i = 0; i < n; i++) {
		r = set_attr(b, root, attrs[2 * i], attrs[2 * i + 1]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One entry of the collection of a section's root. */
static int
add_entry(struct bctx *b, const char *section, const char *const *attrs)
{
	struct cfg_node *root, *k, **kids;
	const struct schema_coll *coll;
	size_t n = pairs(attrs);
	int r;

	r = section_root(b, section, &root);
	if (r < 0 || !root)
		return r;
	coll = root->schema->coll;
	if (!coll || !coll->item)
		return 0;
	kids = wasp_arena_zalloc(b->cfg->arena, (root->n_kids + 2) * sizeof(*kids));
	k = node_new(b, CFG_NODE_ADD, coll->add_name, coll->item, n, 0);
	if (!kids || !k)
		return -ENOMEM;
	memcpy(kids, root->kids, root->n_kids * sizeof(*kids));
	root->kids = kids;
	for (size_t i = 0; i < n; i++) {
		r = set_attr(b, k, attrs[2 * i], attrs[2 * i + 1]);
		if (r < 0)
			return r;
	}
	root->kids[root->n_kids++] = k;
	return 0;
}

int
cfg_load_builtin(struct wasp_config *cfg)
{
	struct bctx b = { .cfg = cfg };
	int r;

	b.f = wasp_arena_zalloc(cfg->arena, sizeof(*b.f));
	if (!b.f)
		return -ENOMEM;
	*b.f = (struct cfg_file){ .path = CFG_BUILTIN_FILE, .dir = "/", .url_dir = "",
				  .is_apphost = true, .is_builtin = true, .exists = true };
	for (size_t i = 0; i < ELEMENTSOF(builtin_lists); i++) {
		r = add_list(&b, &builtin_lists[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(builtin_root_attrs); i++) {
		r = add_root_attrs(&b, builtin_root_attrs[i].section, builtin_root_attrs[i].attrs);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(builtin_entries); i++) {
		r = add_entry(&b, builtin_entries[i].section, builtin_entries[i].attrs);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(builtin_locks); i++) {
		struct cfg_node *root;
		size_t n = 0;

		r = section_root(&b, builtin_locks[i].section, &root);
		if (r < 0)
			return r;
		if (!root)
			continue;
		while (builtin_locks[i].names[n])
			n++;
		if (!cfg_node_locks_mut(b.cfg->arena, root))
			return -ENOMEM;
		root->locks->lock_attrs = (struct cfg_names){
			.v = (const char **)(uintptr_t)builtin_locks[i].names, .n = n
		};
	}
	cfg->builtin = b.f;
	cfg->builtin_lines = b.line;
	return 0;
}

#define MODULES_SECTION "system.webServer/modules"
#define GLOBAL_MODULES_SECTION "system.webServer/globalModules"
/* A worker loads a few dozen modules at most and refuses to start with
 * more: names past this many are never run, and the list stays small (it
 * is searched for duplicates one name at a time). */
#define BUILTIN_MAX_GLOBAL_MODULES 128

static const char *const builtin_module_names[] = {
#define X(sym, name) name,
	WASP_BUILTIN_MODULES(X)
#undef X
};

static const char *
node_attr(const struct cfg_node *n, const char *name)
{
	for (size_t i = 0; i < n->n_attrs; i++)
		if (strcaseeq(n->attrs[i].schema->name, name))
			return n->attrs[i].value.text;
	return "";
}

/* Would a worker load the globalModules entry image? Not a Windows .dll
 * (skipped) nor "builtin" (a built-in's name is listed already, another
 * name is no module); module.c decides the same way. */
static bool
loadable_image(const char *image)
{
	size_t n = strlen(image);

	return *image && !streq(image, "builtin") && !(n >= 4 && strcaseeq(image + n - 4, ".dll"));
}

/* names[0.. *n) without the entries of name (any case) from index first. */
static void
names_remove(const char **names, size_t *n, size_t first, const char *name)
{
	for (size_t i = first; i < *n;)
		if (strcaseeq(names[i], name))
			memmove(&names[i], &names[i + 1], (--*n - i) * sizeof(*names));
		else
			i++;
}

int
cfg_load_builtin_modules(struct wasp_config *cfg)
{
	const size_t nb = ELEMENTSOF(builtin_module_names);
	struct bctx b = { .cfg = cfg };
	struct builtin_list l = { .section = MODULES_SECTION, .element = "", .key = "name" };
	const char **names;
	size_t n = nb, n_max = nb;

	if (!cfg->builtin)
		return 0;
	b.f = cfg->builtin;
	b.n_insts_alloc = cfg->builtin->n_insts;
	b.line = cfg->builtin_lines;
	/* applicationHost.config's own globalModules, as written: add, remove
	 * and clear in order (a section allowed there only) */
	for (size_t i = 0; cfg->apphost && i < cfg->apphost->n_insts; i++) {
		const struct cfg_inst *in = cfg->apphost->insts[i];

		if (!*in->location && streq(in->section->name, GLOBAL_MODULES_SECTION))
			n_max += MIN(in->root->n_kids, (size_t)BUILTIN_MAX_GLOBAL_MODULES);
	}
	n_max = MIN(n_max, nb + BUILTIN_MAX_GLOBAL_MODULES);
	names = wasp_arena_zalloc(cfg->arena, (n_max + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	memcpy(names, builtin_module_names, sizeof(builtin_module_names));
	for (size_t i = 0; cfg->apphost && i < cfg->apphost->n_insts; i++) {
		const struct cfg_inst *in = cfg->apphost->insts[i];

		if (*in->location || !streq(in->section->name, GLOBAL_MODULES_SECTION))
			continue;
		for (size_t k = 0; k < in->root->n_kids; k++) {
			const struct cfg_node *e = in->root->kids[k];
			const char *name = node_attr(e, "name");
			bool listed = false;

			switch (e->kind) {
			case CFG_NODE_ADD:
				if (!*name || n == n_max || !loadable_image(node_attr(e, "image")))
					break;
				for (size_t j = 0; j < n && !listed; j++)
					listed = strcaseeq(names[j], name);
				if (!listed)
					names[n++] = name;
				break;
			case CFG_NODE_REMOVE:
				names_remove(names, &n, nb, name);
				break;
			case CFG_NODE_CLEAR:
				n = nb;
				break;
			case CFG_NODE_ELEMENT:
				break;
			}
		}
	}
	names[n] = NULL;
	l.values = names;
	return add_list(&b, &l);
}
