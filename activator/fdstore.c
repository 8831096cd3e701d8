/* Listening sockets that outlive waspd: systemd's file descriptor store
 * (FDSTORE=1 with FDNAME=, FileDescriptorStoreMax= in the unit) and the
 * sockets passed to a waspd started by `waspctl restart` (restart.c). Both
 * hand them back as LISTEN_FDS with LISTEN_FDNAMES; a socket comes back
 * under the name of its binding, so the next waspd takes it for the same
 * binding and its backlog (the connections waiting in it) is never lost.
 *
 * A name is "wasp-PROTOCOL-ADDRESS-PORT", the address "0.0.0.0" or "::" for
 * "*", every byte outside [A-Za-z0-9._-] made '_' (FDNAME's charset has no
 * ':'): "wasp-http-127.0.0.1-8080", "wasp-http-__-80". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "waspd.h"

#define FDNAME_PREFIX "wasp-"

static bool
fdname_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

int
fdstore_name(const struct listen_sock *s, char *buf, size_t size)
{
	const char *addr = s->address;
	int n;

	if (streq(addr, "*"))
		addr = s->family == AF_INET6 ? "::" : "0.0.0.0";
	n = snprintf(buf, size, FDNAME_PREFIX "%s-%s-%u", s->protocol, addr, s->port);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	for (char *p = buf + strlen(FDNAME_PREFIX); *p; p++)
		if (!fdname_char_ok(*p))
			*p = '_';
	return 0;
}

bool
fdstore_is_ours(const char *name)
{
	return name && startswith(name, FDNAME_PREFIX);
}

static bool
fdstore_wanted(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	return e && *e;
}

void
fdstore_store(struct wasp_env *env)
{
	if (!fdstore_wanted())
		return;
	for (size_t i = 0; i < env->n_socks; i++) {
		struct listen_sock *s = &env->socks[i];
		char name[FDSTORE_NAME_MAX], msg[FDSTORE_NAME_MAX + 32];
		int r;

		if (s->stored || s->fd < 0 || fdstore_name(s, name, sizeof(name)) < 0)
			continue;
		(void)snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
		r = sd_pid_notify_with_fds(0, 0, msg, &s->fd, 1);
		if (r <= 0) {
			log_warning_errno(r, "cannot keep %s in the service manager's file "
					  "descriptor store: a restart closes it",
					  name);
			continue;
		}
		s->stored = true;
		log_debug("%s in the service manager's file descriptor store", name);
	}
}

bool
fdstore_holds(const struct wasp_env *env)
{
	if (!fdstore_wanted())
		return false;
	for (size_t i = 0; i < env->n_socks; i++)
		if (env->socks[i].stored)
			return true;
	return false;
}

void
fdstore_remove_name(const char *name)
{
	char msg[FDSTORE_NAME_MAX + 32];

	if (!fdstore_is_ours(name) || !fdstore_wanted() || strlen(name) >= FDSTORE_NAME_MAX)
		return;
	(void)snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	(void)sd_notify(0, msg);
	log_debug("%s out of the service manager's file descriptor store", name);
}

void
fdstore_remove(const struct listen_sock *s)
{
	char name[FDSTORE_NAME_MAX];

	if (s->stored && fdstore_name(s, name, sizeof(name)) == 0)
		fdstore_remove_name(name);
}
