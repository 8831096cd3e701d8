/* system.applicationHost/listenerAdapters: IIS's list of listener
 * adapters, with wasp's attributes for the program waspd starts for a
 * protocol (executable, arguments, userName) and for who may register an
 * adapter started from outside over adapter.sock (registerUser,
 * registerGroup; adapter_sock.c checks them against SO_PEERCRED). */
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_conf.h"
#include "config.h"
#include "util.h"

/* A user or group: a name, or a number. 0, -ENOENT. */
static int
resolve_id(const char *s, bool group, unsigned *ret)
{
	uint64_t v;

	if (wasp_parse_u64(s, UINT32_MAX - 1, &v) == 0) {
		*ret = (unsigned)v;
		return 0;
	}
	if (group) {
		const struct group *g = getgrnam(s);
		if (!g)
			return -ENOENT;
		*ret = g->gr_gid;
	} else {
		const struct passwd *pw = getpwnam(s);
		if (!pw)
			return -ENOENT;
		*ret = pw->pw_uid;
	}
	return 0;
}

static char *
opt_strdup(const char *s, bool *oom)
{
	char *p;

	if (!s || !*s)
		return NULL;
	p = strdup(s);
	if (!p)
		*oom = true;
	return p;
}

static void
decl_done(struct adapter_decl *d)
{
	free(d->name);
	free(d->executable);
	free(d->arguments);
	free(d->user);
	free(d->file);
}

static int
decl_error(struct wasp_diag_list *diags, const struct wasp_element *e, const char *attr,
	   const char *what, const char *name, const char *value)
{
	(void)wasp_diag_add(diags, WASP_DIAG_ERROR, e->file ? e->file : "", e->line, attr,
			    "listener adapter '%s': '%s' %s (" LISTENER_ADAPTERS_SECTION ")", name,
			    value, what);
	return -EINVAL;
}

/* The registerUser and registerGroup of e into d. 0 or -EINVAL (logged in diags). */
static int
decl_register(const struct wasp_element *e, struct adapter_decl *d, struct wasp_diag_list *diags)
{
	const char *u = wasp_element_get_str(e, "registerUser", "");
	const char *g = wasp_element_get_str(e, "registerGroup", "");
	unsigned id;
	int r = 0;

	if (*u) {
		if (resolve_id(u, false, &id) < 0) {
			r = decl_error(diags, e, "registerUser", "is not a user", d->name, u);
		} else {
			d->register_uid = (uid_t)id;
			d->has_uid = true;
		}
	}
	if (*g) {
		if (resolve_id(g, true, &id) < 0) {
			r = decl_error(diags, e, "registerGroup", "is not a group", d->name, g);
		} else {
			d->register_gid = (gid_t)id;
			d->has_gid = true;
		}
	}
	d->external = *u || *g;
	if (d->external && strcaseeq(d->name, "http"))
		r = decl_error(diags, e, *u ? "registerUser" : "registerGroup",
			       "is not allowed: http's adapter is wasp-http, started by waspd",
			       d->name, *u ? u : g);
	if (d->external && d->executable)
		r = decl_error(diags, e, "executable",
			       "beside registerUser or registerGroup: an adapter is either started "
			       "by waspd or registers from outside",
			       d->name, d->executable);
	return r;
}

static int
decl_read(const struct wasp_element *e, struct adapter_decl *d, struct wasp_diag_list *diags)
{
	bool oom = false;

	d->name = opt_strdup(wasp_element_get_str(e, "name", ""), &oom);
	d->executable = opt_strdup(wasp_element_get_str(e, "executable", ""), &oom);
	d->arguments = opt_strdup(wasp_element_get_str(e, "arguments", ""), &oom);
	d->user = opt_strdup(wasp_element_get_str(e, "userName", ""), &oom);
	d->file = opt_strdup(e->file, &oom);
	d->line = e->line;
	if (oom || !d->name)
		return -ENOMEM;
	if (strlen(d->name) >= 32)
		return decl_error(diags, e, "name", "is longer than 31 bytes", d->name, d->name);
	return decl_register(e, d, diags);
}

int
adapter_decls_read(struct wasp_config *cfg, struct adapter_decls *ret,
		   struct wasp_diag_list *diags)
{
	const struct wasp_element *e = cfg ? wasp_config_section(cfg, LISTENER_ADAPTERS_SECTION)
					   : NULL;
	struct adapter_decls d = { 0 };
	int r = 0;

	if (ret)
		*ret = d;
	if (!e || e->n_items == 0)
		return 0;
	d.items = calloc(e->n_items, sizeof(*d.items));
	if (!d.items)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_items; i++) {
		int k = decl_read(e->items[i], &d.items[d.n++], diags);
		if (k == -ENOMEM) {
			r = k;
			break;
		}
		if (k < 0)
			r = k;
	}
	if (r < 0 || !ret)
		adapter_decls_done(&d);
	else
		*ret = d;
	return r;
}

void
adapter_decls_done(struct adapter_decls *d)
{
	for (size_t i = 0; i < d->n; i++)
		decl_done(&d->items[i]);
	free(d->items);
	*d = (struct adapter_decls){ 0 };
}

const struct adapter_decl *
adapter_decl_find(const struct adapter_decls *d, const char *protocol)
{
	for (size_t i = 0; d && i < d->n; i++)
		if (strcaseeq(d->items[i].name, protocol))
			return &d->items[i];
	return NULL;
}

bool
adapter_decl_known(const struct adapter_decls *d, const char *protocol)
{
	/* https: wasp-http's, which terminates TLS */
	return strcaseeq(protocol, "http") || strcaseeq(protocol, "https") ||
	       strcaseeq(protocol, "tcp") || adapter_decl_find(d, protocol) != NULL;
}
