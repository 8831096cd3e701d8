/* The configuration document as waspctl edits it: parsed by libxml2 with
 * every whitespace node kept, changed element by element, and written back
 * with what surrounds the root element (declaration, comments) byte for byte
 * and the root serialized as IIS writes it (attributes in their order,
 * "<add ... />" for an empty element). */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "ctledit.h"
#include "fs.h"
#include "util.h"

#define EMPTY_CONFIG "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n</configuration>\n"

int
edit_doc_open(struct edit_doc *d, const char *path, bool create)
{
	int r;

	*d = (struct edit_doc){ 0 };
	if (!(d->path = strdup(path)))
		return -ENOMEM;
	r = wasp_read_file(path, EDIT_FILE_MAX, &d->old, &d->old_len);
	if (r == -ENOENT && create) {
		d->old = NULL;
		r = 0;
	} else if (r >= 0 && stat(path, &d->st) < 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "waspctl: cannot read %s: %s\n", path, strerror(-r));
		return r;
	}
	d->doc = d->old ? xmlReadMemory(d->old, (int)d->old_len, path, NULL,
					XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR)
			: xmlReadMemory(EMPTY_CONFIG, (int)strlen(EMPTY_CONFIG), path, NULL, 0);
	if (d->doc && d->doc->encoding && !strcaseeq((const char *)d->doc->encoding, "UTF-8")) {
		fprintf(stderr, "%s: error: waspctl edits UTF-8 files only, not %s\n", path,
			(const char *)d->doc->encoding);
		return -EINVAL;
	}
	if (!d->doc || !xmlDocGetRootElement(d->doc)) {
		const xmlError *e = xmlGetLastError();

		fprintf(stderr, "%s:%d: error: not well-formed XML: %s", path, e ? e->line : 0,
			e && e->message ? e->message : "unknown error\n");
		return -EINVAL;
	}
	return 0;
}

void
edit_doc_done(struct edit_doc *d)
{
	if (d->doc)
		xmlFreeDoc(d->doc);
	free(d->path);
	free(d->old);
	*d = (struct edit_doc){ 0 };
}

/* ---- serializing ------------------------------------------------------------ */

/* The file's line breaks were CRLF: libxml2 gives them as LF. */
static bool crlf;

static void
put_escaped(FILE *f, const char *s, bool attr)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs(attr ? "&quot;" : "\"", f);
			break;
		case '\n':
			fputs(attr ? "&#xA;" : crlf ? "\r\n" : "\n", f);
			break;
		case '\r':
			fputs("&#xD;", f);
			break;
		case '\t':
			fputs(attr ? "&#x9;" : "\t", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static void
put_name(FILE *f, const xmlNs *ns, const xmlChar *name)
{
	if (ns && ns->prefix)
		fprintf(f, "%s:", (const char *)ns->prefix);
	fputs((const char *)name, f);
}

static void put_node(FILE *f, xmlNode *n);

static void
put_element(FILE *f, xmlNode *n)
{
	fputc('<', f);
	put_name(f, n->ns, n->name);
	for (xmlNs *ns = n->nsDef; ns; ns = ns->next) {
		fprintf(f, " xmlns%s%s=\"", ns->prefix ? ":" : "",
			ns->prefix ? (const char *)ns->prefix : "");
		put_escaped(f, (const char *)ns->href, true);
		fputc('"', f);
	}
	for (xmlAttr *a = n->properties; a; a = a->next) {
		xmlChar *v = xmlNodeGetContent((xmlNode *)a);

		fputc(' ', f);
		put_name(f, a->ns, a->name);
		fputs("=\"", f);
		put_escaped(f, (const char *)v, true);
		fputc('"', f);
		xmlFree(v);
	}
	if (!n->children) {
		fputs(" />", f);
		return;
	}
	fputc('>', f);
	for (xmlNode *c = n->children; c; c = c->next)
		put_node(f, c);
	fputs("</", f);
	put_name(f, n->ns, n->name);
	fputc('>', f);
}

static void
put_node(FILE *f, xmlNode *n)
{
	switch (n->type) {
	case XML_ELEMENT_NODE:
		put_element(f, n);
		break;
	case XML_TEXT_NODE:
		put_escaped(f, (const char *)n->content, false);
		break;
	case XML_COMMENT_NODE:
		fprintf(f, "<!--%s-->", (const char *)n->content);
		break;
	case XML_CDATA_SECTION_NODE:
		fprintf(f, "<![CDATA[%s]]>", (const char *)n->content);
		break;
	case XML_PI_NODE:
		fprintf(f, "<?%s%s%s?>", (const char *)n->name, n->content ? " " : "",
			n->content ? (const char *)n->content : "");
		break;
	case XML_ENTITY_REF_NODE:
		fprintf(f, "&%s;", (const char *)n->name);
		break;
	default:
		break;
	}
}

/* Where the root element starts in the original text: past a BOM, the
 * declaration, comments, processing instructions, a DOCTYPE and space. */
static size_t
root_start(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *end = NULL;

		if (s[i] != '<') {
			i++;
			continue;
		}
		if (startswith(s + i, "<?"))
			end = strstr(s + i, "?>");
		else if (startswith(s + i, "<!--"))
			end = strstr(s + i, "-->");
		else if (startswith(s + i, "<!"))
			end = strchr(s + i, '>');
		else
			return i;
		if (!end)
			return len;
		i = (size_t)(end - s) + 1;
	}
	return len;
}

/* Where what follows the root element starts: after its end tag. */
static size_t
root_end(const char *s, size_t len, const char *name)
{
	_cleanup_free_ char *tag = NULL;
	const char *p = NULL, *q;

	if (asprintf(&tag, "</%s", name) < 0)
		return len;
	for (q = s; (q = strstr(q, tag)); q++)
		p = q;
	if (!p || !(q = strchr(p, '>')))
		return len;
	return (size_t)(q + 1 - s);
}

int
edit_doc_text(const struct edit_doc *d, char **ret, size_t *ret_len)
{
	const char *orig = d->old ? d->old : EMPTY_CONFIG;
	size_t olen = d->old ? d->old_len : strlen(EMPTY_CONFIG);
	_cleanup_free_ char *z = strndup(orig, olen); /* strstr needs the NUL */
	xmlNode *root = xmlDocGetRootElement(d->doc);
	size_t start, end;
	FILE *f;

	if (!z)
		return -ENOMEM;
	crlf = memmem(z, olen, "\r\n", 2) != NULL;
	start = root_start(z, olen);
	end = root_end(z + start, olen - start, (const char *)root->name) + start;
	f = open_memstream(ret, ret_len);
	if (!f)
		return -ENOMEM;
	fwrite(z, 1, start, f);
	put_element(f, root);
	fwrite(z + end, 1, olen - end, f);
	if (fclose(f) != 0)
		return -ENOMEM;
	return 0;
}

/* ---- writing ------------------------------------------------------------------ */

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
edit_write_atomic(const char *path, const char *buf, size_t len, const struct stat *st)
{
	_cleanup_free_ char *tmp = NULL, *dir = NULL;
	const char *slash = strrchr(path, '/');
	_cleanup_close_ int dfd = -1;
	int fd, r;

	dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (!dir || asprintf(&tmp, "%s/.%s.XXXXXX", dir, slash ? slash + 1 : path) < 0)
		return -ENOMEM;
	if (!*dir) {
		free(dir);
		dir = strdup("/");
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r >= 0 && fchmod(fd, st ? st->st_mode & 07777 : 0644) < 0)
		r = -errno;
	if (r >= 0 && st && geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) < 0)
		r = -errno;
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	dfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

/* ---- the edit lock ---------------------------------------------------------- */

int
edit_lock(const char *config)
{
	_cleanup_free_ char *path = NULL;
	const char *slash = strrchr(config, '/');
	int fd;

	if (asprintf(&path, "%.*s%s.%s.lock", slash ? (int)(slash - config) : 0, config,
		     slash ? "/" : "", slash ? slash + 1 : config) < 0)
		return -ENOMEM;
	/* in the file's directory, mode 0600: only who may edit can hold it */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fd = -errno;
		fprintf(stderr, "waspctl: cannot lock %s: %s\n", path, strerror(-fd));
		return fd;
	}
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
		if (errno != EWOULDBLOCK || i >= EDIT_LOCK_WAIT_MS / 10) {
			fprintf(stderr, "waspctl: %s: another edit holds the lock\n", path);
			close(fd);
			return -EBUSY;
		}
		(void)usleep(10 * 1000);
	}
	return fd;
}

/* ---- elements ---------------------------------------------------------------- */

static bool
is_blank(const xmlNode *n)
{
	const char *p;

	if (!n || n->type != XML_TEXT_NODE)
		return false;
	for (p = (const char *)n->content; p && *p; p++)
		if (!strchr(" \t\r\n", *p))
			return false;
	return true;
}

/* The line break and indentation before n ("\n    "), NULL when n does not
 * start a line. */
static const char *
line_indent(const xmlNode *n)
{
	const char *s, *nl;

	if (!is_blank(n->prev))
		return NULL;
	s = (const char *)n->prev->content;
	nl = strrchr(s, '\n');
	return nl;
}

/* One step of indentation: what parent adds to its parent's, else what the
 * document's first indented line uses, else four spaces. */
static const char *
indent_unit(xmlNode *parent, char *buf, size_t size)
{
	const char *p = line_indent(parent), *g = parent->parent &&
						parent->parent->type == XML_ELEMENT_NODE
						? line_indent(parent->parent)
						: "\n";

	if (p && g && strlen(p) > strlen(g) && strncmp(p, g, strlen(g)) == 0) {
		snprintf(buf, size, "%s", p + strlen(g));
		return buf;
	}
	return p && strchr(p, '\t') ? "\t" : "    ";
}

xmlNode *
edit_append(xmlNode *parent, const char *name)
{
	xmlNode *last = NULL, *n, *ws;
	char unit[64], ind[256];
	const char *pind;

	for (xmlNode *c = parent->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE || c->type == XML_COMMENT_NODE)
			last = c;
	n = xmlNewDocNode(parent->doc, NULL, (const xmlChar *)name, NULL);
	if (!n)
		return NULL;
	if (last) {
		const char *li = line_indent(last);

		ws = xmlNewDocText(parent->doc, (const xmlChar *)(li ? li : ""));
		xmlAddNextSibling(last, ws);
		xmlAddNextSibling(ws, n);
		return n;
	}
	pind = line_indent(parent);
	if (!pind)
		pind = "\n";
	/* blank text only: replaced by our own lines */
	while (parent->children && is_blank(parent->children)) {
		xmlNode *c = parent->children;

		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
	snprintf(ind, sizeof(ind), "%s%s", pind, indent_unit(parent, unit, sizeof(unit)));
	xmlAddChild(parent, xmlNewDocText(parent->doc, (const xmlChar *)ind));
	xmlAddChild(parent, n);
	xmlAddChild(parent, xmlNewDocText(parent->doc, (const xmlChar *)pind));
	return n;
}

xmlNode *
edit_child(xmlNode *parent, const char *name, bool create)
{
	for (xmlNode *c = parent->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcaseeq((const char *)c->name, name))
			return c;
	return create ? edit_append(parent, name) : NULL;
}

void
edit_remove(xmlNode *n)
{
	xmlNode *prev = n->prev;

	if (is_blank(prev) && strchr((const char *)prev->content, '\n')) {
		xmlUnlinkNode(prev);
		xmlFreeNode(prev);
	}
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

static xmlAttr *
find_prop(xmlNode *n, const char *name)
{
	for (xmlAttr *a = n->properties; a; a = a->next)
		if (!a->ns && strcaseeq((const char *)a->name, name))
			return a;
	return NULL;
}

char *
edit_prop(xmlNode *n, const char *name)
{
	xmlAttr *a = find_prop(n, name);
	xmlChar *v;
	char *s;

	if (!a || !(v = xmlNodeGetContent((xmlNode *)a)))
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

int
edit_set_prop(xmlNode *n, const char *name, const char *value)
{
	xmlAttr *a = find_prop(n, name);

	if (!xmlSetProp(n, a ? a->name : (const xmlChar *)name, (const xmlChar *)value))
		return -ENOMEM;
	return 0;
}
