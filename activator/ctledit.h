/* waspctl's editing of the configuration files (add, set, delete; backups):
 * the document kept as libxml2 parsed it (comments, order and the
 * whitespace between elements), written back atomically. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include <libxml/tree.h>

struct wasp_config;

/* The largest configuration file waspctl edits. */
#define EDIT_FILE_MAX (64 * 1024 * 1024)

struct edit_doc {
	char *path;
	char *old; /* the file's bytes (NULL: it did not exist) */
	size_t old_len;
	struct stat st; /* the file's, when it existed */
	xmlDoc *doc;
};

/* Parse path; with create, a missing file is an empty <configuration>.
 * Errors are printed. 0 or -errno. */
int edit_doc_open(struct edit_doc *d, const char *path, bool create);
void edit_doc_done(struct edit_doc *d);
/* The document as text: what came before and after the root as it was, the
 * root serialized node by node. malloc'd into *ret. */
int edit_doc_text(const struct edit_doc *d, char **ret, size_t *ret_len);
/* buf into path through a temporary file in its directory and rename(2),
 * with the mode and owner of st (when not NULL). 0 or -errno. */
int edit_write_atomic(const char *path, const char *buf, size_t len, const struct stat *st);

/* The first element child of parent named name (ASCII case-insensitive);
 * with create, a new one appended when there is none. */
xmlNode *edit_child(xmlNode *parent, const char *name, bool create);
/* A new element appended to parent, on a line of its own indented as its
 * siblings are (or one step further than parent). */
xmlNode *edit_append(xmlNode *parent, const char *name);
/* n unlinked and freed with the whitespace that put it on its line. */
void edit_remove(xmlNode *n);
/* An attribute's value (malloc'd; NULL when unset), ASCII case-insensitive
 * name. */
char *edit_prop(xmlNode *n, const char *name);
/* Set an attribute, keeping the case of the name already written. */
int edit_set_prop(xmlNode *n, const char *name, const char *value);

/* Would waspd take text as applicationHost.config (named filename)? Load it
 * and build its typed view as a reload does; errors printed with file and
 * line. 0 or -errno. */
int edit_validate(const char *text, size_t len, const char *filename);

/* How long an edit waits for another one to finish. */
#define EDIT_LOCK_WAIT_MS 30000
/* Take the edit lock of config (.NAME.lock beside it), waiting for another
 * edit to finish: an edit reads the file only once it holds it, so two
 * edits at once both land. The descriptor (close it to unlock) or -errno
 * (printed). */
int edit_lock(const char *config);

/* Backups (ctlbackup.c): <config dir>/backup/NAME/applicationHost.config.
 * The file as it is now kept as the next CFGHISTORY_N, as cfg's (the file
 * as it is) configHistory says: nothing when not enabled, at most
 * maxHistories of them. 0 or -errno (printed). */
int backup_history(const char *config, struct wasp_config *cfg);
