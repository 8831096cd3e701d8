/* libxml2, loaded when XML must first be parsed. Linked in, it costs every
 * process start about 0.7 ms (it brings ICU and libstdc++, their relocations
 * and constructors), and a worker that meets no web.config never parses XML:
 * the schema and applicationHost.config reach it already parsed. So the
 * library is dlopen()ed by its soname the first time, and the handful of
 * functions config/ uses are resolved once; libxml2's headers still give
 * the types. */
#include <assert.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "internal.h"
#include "util.h"

#define CFG_XML_SONAME "libxml2.so.2"

static struct {
	__typeof__(xmlReadMemory) *read_memory;
	__typeof__(xmlDocGetRootElement) *doc_root;
	__typeof__(xmlGetNoNsProp) *get_prop;
	__typeof__(xmlGetLineNo) *line_no;
	__typeof__(xmlNodeListGetString) *list_string;
	__typeof__(xmlFreeDoc) *free_doc;
	__typeof__(xmlGetLastError) *last_error;
	/* xmlFree is a variable holding the deallocator, not a function. */
	xmlFreeFunc *free;
	char error[256]; /* why loading failed, "" when it did not */
} xml;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void
xml_load(void)
{
	static const struct {
		const char *name;
		size_t offset;
	} syms[] = {
		{ "xmlReadMemory", offsetof(__typeof__(xml), read_memory) },
		{ "xmlDocGetRootElement", offsetof(__typeof__(xml), doc_root) },
		{ "xmlGetNoNsProp", offsetof(__typeof__(xml), get_prop) },
		{ "xmlGetLineNo", offsetof(__typeof__(xml), line_no) },
		{ "xmlNodeListGetString", offsetof(__typeof__(xml), list_string) },
		{ "xmlFreeDoc", offsetof(__typeof__(xml), free_doc) },
		{ "xmlGetLastError", offsetof(__typeof__(xml), last_error) },
		{ "xmlFree", offsetof(__typeof__(xml), free) },
	};
	void *h = dlopen(CFG_XML_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *e;

	if (!h) {
		e = dlerror();
		(void)snprintf(xml.error, sizeof(xml.error), "%s", e ? e : CFG_XML_SONAME);
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
		void *p;

		(void)dlerror();
		p = dlsym(h, syms[i].name);
		if (!p) {
			e = dlerror();
			(void)snprintf(xml.error, sizeof(xml.error), "%s", e ? e : syms[i].name);
			/* Not half usable: every pointer or none. */
			memset(&xml, 0, offsetof(__typeof__(xml), error));
			return;
		}
		memcpy((char *)&xml + syms[i].offset, &p, sizeof(p));
	}
	/* The handle stays open: the pointers are used until exit. */
}

int
cfg_xml_open(const char **ret_msg)
{
	if (pthread_once(&xml_once, xml_load) != 0 || !xml.read_memory) {
		*ret_msg = xml.error[0] ? xml.error : "cannot load " CFG_XML_SONAME;
		return -ELIBACC;
	}
	return 0;
}

bool
cfg_xml_loaded(void)
{
	return xml.read_memory != NULL;
}

struct _xmlDoc *
cfg_xml_read(const char *buf, size_t len, const char *name, int options)
{
	assert(xml.read_memory);
	if (len > INT_MAX)
		return NULL;
	return xml.read_memory(buf, (int)len, name, NULL, options);
}

struct _xmlNode *
cfg_xml_root(struct _xmlDoc *doc)
{
	return xml.doc_root(doc);
}

void
cfg_xml_free_doc(struct _xmlDoc *doc)
{
	if (doc)
		xml.free_doc(doc);
}

const char *
cfg_xml_last_error(int *ret_line)
{
	const xmlError *err = xml.last_error();

	*ret_line = err ? err->line : 0;
	return err && err->message ? err->message : NULL;
}

char *
cfg_xml_prop(struct wasp_arena *a, struct _xmlNode *node, const char *name)
{
	xmlChar *v = xml.get_prop(node, (const xmlChar *)name);
	char *s;

	if (!v)
		return NULL;
	s = wasp_arena_strdup(a, (const char *)v);
	(*xml.free)(v);
	return s;
}

char *
cfg_xml_attr_value(struct wasp_arena *a, struct _xmlAttr *attr)
{
	xmlChar *v = xml.list_string(attr->doc, attr->children, 1);
	char *s = wasp_arena_strdup(a, v ? (const char *)v : "");

	if (v)
		(*xml.free)(v);
	return s;
}

int
cfg_xml_line(const struct _xmlNode *node)
{
	long l = xml.line_no(node);

	return l > 0 && l < INT32_MAX ? (int)l : 0;
}
