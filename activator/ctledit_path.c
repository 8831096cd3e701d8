/* appcmd's element paths in edit arguments: "files.[value='a.html']",
 * "[name='S'].bindings.[protocol='http',bindingInformation='*:80:']",
 * "processModel.identityType", walked over the document. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctledit_int.h"
#include "util.h"

static int
bad_path(const char *arg, const char *why)
{
	fprintf(stderr, "waspctl: cannot read '%s': %s\n", arg, why);
	return -EINVAL;
}

/* One [k='v',k2="v2"] selector at *s, which is overwritten in place. */
static int
parse_selector(char **s, struct edit_seg *seg, const char *arg)
{
	char *p = *s + 1;

	seg->name = NULL;
	seg->n_kv = 0;
	for (;;) {
		char *eq = p + strcspn(p, "=]"), quote;

		if (*eq != '=' || eq == p)
			return bad_path(arg, "a selector is [attribute='value',...]");
		if (seg->n_kv >= EDIT_MAX_KV)
			return bad_path(arg, "too many attributes in a selector");
		*eq = 0;
		seg->kv[seg->n_kv].k = p;
		p = eq + 1;
		quote = *p == '\'' || *p == '"' ? *p : 0;
		if (quote) {
			char *end = strchr(++p, quote);

			if (!end)
				return bad_path(arg, "unterminated quoted value");
			seg->kv[seg->n_kv++].v = p;
			*end = 0;
			p = end + 1;
		} else {
			seg->kv[seg->n_kv++].v = p;
			p += strcspn(p, ",]");
			if (*p == ',') {
				*p++ = 0;
				continue;
			}
			if (*p != ']')
				return bad_path(arg, "missing ']'");
			*p++ = 0;
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p != ']')
			return bad_path(arg, "missing ']'");
		p++;
		break;
	}
	*s = p;
	return 0;
}

int
edit_path_parse(char *s, struct edit_path *path, const char *arg)
{
	path->n = 0;
	while (*s) {
		struct edit_seg *seg;
		int r;

		if (path->n >= EDIT_MAX_SEGS)
			return bad_path(arg, "too many steps");
		seg = &path->segs[path->n++];
		if (*s == '[') {
			if ((r = parse_selector(&s, seg, arg)) < 0)
				return r;
		} else {
			size_t len = strcspn(s, ".[");

			if (!len)
				return bad_path(arg, "empty element name");
			seg->name = s;
			s += len;
			if (*s == '[')
				return bad_path(arg, "a selector follows a '.'");
		}
		if (*s == '.')
			*s++ = 0;
		else if (*s)
			return bad_path(arg, "expected '.' between steps");
	}
	if (!path->n)
		return bad_path(arg, "empty path");
	return 0;
}

/* The first ':' outside brackets and quotes: between path and value. */
char *
edit_value_sep(char *s)
{
	char quote = 0;
	int depth = 0;

	for (; *s; s++) {
		if (quote) {
			if (*s == quote)
				quote = 0;
		} else if (*s == '\'' || *s == '"') {
			quote = *s;
		} else if (*s == '[') {
			depth++;
		} else if (*s == ']') {
			depth--;
		} else if (*s == ':' && depth == 0) {
			return s;
		}
	}
	return NULL;
}

static bool
item_matches(xmlNode *n, const char *add, const struct edit_seg *seg)
{
	if (n->type != XML_ELEMENT_NODE || !strcaseeq((const char *)n->name, add))
		return false;
	for (size_t i = 0; i < seg->n_kv; i++) {
		_cleanup_free_ char *v = edit_prop(n, seg->kv[i].k);

		if (!v || !strcaseeq(v, seg->kv[i].v))
			return false;
	}
	return true;
}

xmlNode *
edit_find_item(xmlNode *parent, const char *add, const struct edit_seg *seg)
{
	for (xmlNode *c = parent->children; c; c = c->next)
		if (item_matches(c, add, seg))
			return c;
	return NULL;
}

/* What a selector step is, for messages: [name='x',id='2']. */
void
edit_seg_print(FILE *f, const struct edit_seg *seg)
{
	fputc('[', f);
	for (size_t i = 0; i < seg->n_kv; i++)
		fprintf(f, "%s%s='%s'", i ? "," : "", seg->kv[i].k, seg->kv[i].v);
	fputc(']', f);
}

static int
spath_add(char *spath, size_t size, const char *step)
{
	size_t l = strlen(spath);
	int n = snprintf(spath + l, size - l, "%s%s", l ? "/" : "", step);

	return n < 0 || (size_t)n >= size - l ? -ENAMETOOLONG : 0;
}

int
edit_walk(struct edit_ctx *c, xmlNode **node, char *spath, size_t size,
	  const struct edit_seg *segs, size_t n, bool create)
{
	for (size_t i = 0; i < n; i++) {
		const struct edit_seg *seg = &segs[i];
		struct wasp_config_collection names;
		xmlNode *next;

		if (seg->name) {
			next = edit_child(*node, seg->name, create);
			if (!next) {
				fprintf(stderr, "waspctl: no element '%s' in %s\n", seg->name,
					c->section);
				return -ENOENT;
			}
			if (spath_add(spath, size, seg->name) < 0)
				return -ENAMETOOLONG;
			*node = next;
			continue;
		}
		if (wasp_config_collection_names(c->cfg, c->section, spath, &names) < 0) {
			fprintf(stderr, "waspctl: %s%s%s has no collection\n", c->section,
				*spath ? "/" : "", spath);
			return -EINVAL;
		}
		next = edit_find_item(*node, names.add, seg);
		if (!next) {
			fprintf(stderr, "waspctl: cannot find ");
			edit_seg_print(stderr, seg);
			fprintf(stderr, " in %s%s%s of %s\n", c->section, *spath ? "/" : "", spath,
				c->file);
			return -ENOENT;
		}
		if (spath_add(spath, size, names.add) < 0)
			return -ENAMETOOLONG;
		*node = next;
	}
	return 0;
}
