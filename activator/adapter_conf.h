/* system.applicationHost/listenerAdapters (adapter_conf.c): the protocols
 * waspd takes adapters for, which of them it starts itself and who may
 * register the others over adapter.sock. docs/configuration.md says what
 * each attribute means. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LISTENER_ADAPTERS_SECTION "system.applicationHost/listenerAdapters"

struct wasp_config;
struct wasp_diag_list;

/* One <add>. Strings are malloc'd with the entry. */
struct adapter_decl {
	char *name;       /* the protocol */
	char *executable; /* NULL: waspd starts no program of its own for it */
	char *arguments;  /* NULL or words separated by blanks */
	char *user;       /* userName, NULL: the listener's identity */
	bool external;    /* registerUser or registerGroup: registers from outside */
	bool has_uid, has_gid;
	uid_t register_uid;
	gid_t register_gid;
	char *file;
	int line;
};

struct adapter_decls {
	struct adapter_decl *items;
	size_t n;
};

/* Read the section of cfg (missing: none declared). Entries that do not
 * hold (a registerUser that names no user, http declared to register from
 * outside, executable beside registerUser) are errors in diags naming
 * file, line and attribute, and -EINVAL; -ENOMEM. ret may be NULL (a check
 * only). */
int adapter_decls_read(struct wasp_config *cfg, struct adapter_decls *ret,
		       struct wasp_diag_list *diags);
void adapter_decls_done(struct adapter_decls *d);
/* The entry of protocol (case-insensitive), or NULL. */
const struct adapter_decl *adapter_decl_find(const struct adapter_decls *d, const char *protocol);
/* Whether waspd has an adapter for protocol, started or registered: the
 * built-in http and tcp, or a declared entry. */
bool adapter_decl_known(const struct adapter_decls *d, const char *protocol);
