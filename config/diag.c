/* Diagnostics: the list of errors and warnings a load produces, each with
 * file, line and attribute, and their one-line format. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "internal.h"
#include "log.h"
#include "util.h"

void
wasp_diag_list_done(struct wasp_diag_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].file);
		free(l->items[i].attribute);
		free(l->items[i].message);
	}
	free(l->items);
	*l = (struct wasp_diag_list)WASP_DIAG_LIST_INIT;
}

int
wasp_diag_add(struct wasp_diag_list *l, enum wasp_diag_severity sev, const char *file, int line,
	      const char *attribute, const char *fmt, ...)
{
	struct wasp_diag d = { .severity = sev, .line = line };
	va_list ap;
	int r;

	if (!l)
		return 0;
	if (l->n == l->n_alloc) {
		size_t n = l->n_alloc ? l->n_alloc * 2 : 16;
		struct wasp_diag *p = realloc(l->items, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->items = p;
		l->n_alloc = n;
	}
	va_start(ap, fmt);
	r = vasprintf(&d.message, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	d.file = strdup(file ? file : "<buffer>");
	d.attribute = attribute ? strdup(attribute) : NULL;
	if (!d.file || (attribute && !d.attribute)) {
		free(d.message);
		free(d.file);
		free(d.attribute);
		return -ENOMEM;
	}
	l->items[l->n++] = d;
	if (sev == WASP_DIAG_ERROR)
		l->n_errors++;
	else
		l->n_warnings++;
	return 0;
}

char *
cfg_diag_addv(struct wasp_diag_list *l, enum wasp_diag_severity sev, const char *file, int line,
	      const char *attr, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	(void)wasp_diag_add(l, sev, file, line, attr, "%s", msg ? msg : "(OOM)");
	return msg;
}

int
wasp_diag_print(const struct wasp_diag *d, FILE *f)
{
	char line[32] = "";

	if (d->line > 0)
		(void)snprintf(line, sizeof(line), ":%d", d->line);
	if (d->attribute)
		return fprintf(f, "%s%s: %s: attribute '%s': %s\n", d->file, line,
			       d->severity == WASP_DIAG_ERROR ? "error" : "warning", d->attribute,
			       d->message);
	return fprintf(f, "%s%s: %s: %s\n", d->file, line,
		       d->severity == WASP_DIAG_ERROR ? "error" : "warning", d->message);
}

/* One diagnostic as a log line at its priority (error or warning). */
static void
diag_log(const struct wasp_diag *d)
{
	int prio = d->severity == WASP_DIAG_ERROR ? LOG_ERR : LOG_WARNING;
	char line[32] = "";

	if (d->line > 0)
		(void)snprintf(line, sizeof(line), ":%d", d->line);
	if (d->attribute)
		(void)wasp_log_internal(prio, 0, "%s%s: attribute '%s': %s", d->file, line,
					d->attribute, d->message);
	else
		(void)wasp_log_internal(prio, 0, "%s%s: %s", d->file, line, d->message);
}

/* In a daemon stderr is its log: there each diagnostic is a log line with
 * its priority (journald files errors as errors). */
void
wasp_diag_list_print(const struct wasp_diag_list *l, FILE *f, enum wasp_diag_severity min_severity)
{
	bool logged = f == stderr && wasp_log_initialized();

	for (size_t i = 0; l && i < l->n; i++) {
		if (l->items[i].severity > min_severity)
			continue;
		if (logged)
			diag_log(&l->items[i]);
		else
			(void)wasp_diag_print(&l->items[i], f);
	}
}

/* IIS's error code for a configuration error, from what the message says
 * (the messages are this library's own, see load.c, merge.c and check.c). */
static uint32_t
error_hresult(const char *msg)
{
	if (strstr(msg, "is locked") || strstr(msg, "may only be set"))
		return 0x80070021; /* ERROR_LOCK_VIOLATION */
	if (strstr(msg, "duplicate collection entry"))
		return 0x800700b7; /* ERROR_ALREADY_EXISTS */
	if (strstr(msg, "does not exist"))
		return 0x80070003; /* ERROR_PATH_NOT_FOUND */
	if (strstr(msg, "cannot read: Permission denied"))
		return 0x80070005; /* ERROR_ACCESS_DENIED */
	return 0x8007000d; /* ERROR_INVALID_DATA: malformed, unrecognized, bad value */
}

const struct wasp_config_error *
cfg_error_new(struct wasp_arena *arena, const char *file, int line, const char *attr,
	      const char *message)
{
	struct wasp_config_error *e = wasp_arena_zalloc(arena, sizeof(*e));

	if (!e)
		return NULL;
	e->file = wasp_arena_strdup(arena, file ? file : "");
	e->line = line;
	e->message = attr ? wasp_arena_printf(arena, "attribute '%s': %s", attr, message)
			  : wasp_arena_strdup(arena, message);
	e->hresult = error_hresult(message);
	if (!e->file || !e->message)
		return NULL;
	return e;
}
