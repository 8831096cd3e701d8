/* The listening sockets: one per distinct address:port among the bindings of
 * the protocols waspd has an adapter for. waspd binds them once and keeps
 * them open for its whole life, so an adapter that dies and is restarted
 * never closes a listening socket (connections wait in the backlog).
 *
 * "*" binds the wildcard: 0.0.0.0 and, when the host has IPv6, [::] with
 * IPV6_V6ONLY. Linux does not let a wildcard and a specific address listen
 * on the same port, so a port with a "*" binding gets only the wildcard
 * sockets; the adapter routes by the accepted connection's local address. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "apphost.h"
#include "log.h"
#include "waspd.h"

#define LISTEN_BACKLOG 4096

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

/* Protocols with an adapter, started by waspd (process.c) or declared in
 * listenerAdapters (one may register later), and so sockets to bind. */
static bool
protocol_has_adapter(const struct wasp_env *env, const char *proto)
{
	return adapter_decl_known(&env->adapter_decls, proto);
}

static int
sock_add(struct wasp_env *env, const char *proto, const char *address, uint16_t port,
	 int family)
{
	struct listen_sock *s;

	for (size_t i = 0; i < env->n_socks; i++) {
		s = &env->socks[i];
		if (s->port == port && streq(s->address, address) && s->family == family)
			return 0;
	}
	s = realloc(env->socks, sizeof(*s) * (env->n_socks + 1));
	if (!s)
		return -ENOMEM;
	env->socks = s;
	s = &env->socks[env->n_socks];
	*s = (struct listen_sock){
		.id = (uint32_t)env->n_socks,
		.protocol = strdup(proto),
		.address = strdup(address),
		.port = port,
		.family = family,
		.fd = -1,
	};
	if (!s->protocol || !s->address) {
		free(s->protocol);
		free(s->address);
		return -ENOMEM;
	}
	env->n_socks++;
	return 0;
}

/* The ports with a "*" binding of a protocol with an adapter, one bit
 * each (one pass over the sites, not one per binding). */
static void
wildcard_ports(const struct wasp_env *env, const struct wasp_apphost *ah,
	       uint64_t ret[65536 / 64])
{
	memset(ret, 0, 65536 / 8);
	for (size_t i = 0; i < ah->n_sites; i++)
		for (size_t j = 0; j < ah->sites[i].n_bindings; j++) {
			const struct wasp_binding *b = &ah->sites[i].bindings[j];
			if (protocol_has_adapter(env, b->protocol) && streq(b->ip, "*"))
				ret[b->port / 64] |= UINT64_C(1) << (b->port % 64);
		}
}

static int
sock_open(struct listen_sock *s)
{
	union sockaddr_any addr = { 0 };
	socklen_t alen;
	_cleanup_close_ int fd = -1;
	int one = 1;

	if (s->family == AF_INET) {
		addr.in4.sin_family = AF_INET;
		addr.in4.sin_port = htons(s->port);
		if (!streq(s->address, "*") &&
		    inet_pton(AF_INET, s->address, &addr.in4.sin_addr) != 1)
			return -EINVAL;
		alen = sizeof(addr.in4);
	} else {
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(s->port);
		if (!streq(s->address, "*") &&
		    inet_pton(AF_INET6, s->address, &addr.in6.sin6_addr) != 1)
			return -EINVAL;
		alen = sizeof(addr.in6);
	}
	fd = socket(s->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -errno;
	if (s->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return -errno;
	if (bind(fd, &addr.sa, alen) < 0)
		return -errno;
	if (listen(fd, LISTEN_BACKLOG) < 0)
		return -errno;
	s->fd = TAKE_FD(fd);
	return 0;
}

static bool
sock_matches(const struct listen_sock *s, const union sockaddr_any *a)
{
	if (a->sa.sa_family != s->family)
		return false;
	if (s->family == AF_INET) {
		struct in_addr want = { .s_addr = htonl(INADDR_ANY) };
		if (ntohs(a->in4.sin_port) != s->port)
			return false;
		if (!streq(s->address, "*") && inet_pton(AF_INET, s->address, &want) != 1)
			return false;
		return a->in4.sin_addr.s_addr == want.s_addr;
	}
	struct in6_addr want6 = in6addr_any;
	if (ntohs(a->in6.sin6_port) != s->port)
		return false;
	if (!streq(s->address, "*") && inet_pton(AF_INET6, s->address, &want6) != 1)
		return false;
	return memcmp(&a->in6.sin6_addr, &want6, sizeof(want6)) == 0;
}

/* A dual-stack [::] socket s was given covers the port's IPv4 wildcard too. */
static void
sock_cover_v4(struct wasp_env *env, const struct listen_sock *s)
{
	int v6only = 0;
	socklen_t ol = sizeof(v6only);

	if (s->family != AF_INET6 || !streq(s->address, "*") ||
	    getsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) < 0 || v6only)
		return;
	for (size_t k = 0; k < env->n_socks; k++)
		if (env->socks[k].family == AF_INET && env->socks[k].port == s->port &&
		    streq(env->socks[k].address, "*"))
			env->socks[k].covered = true;
}

/* The binding a passed socket serves: the one whose name it carries when
 * it has one of ours (the file descriptor store, a restart), else the first
 * free one listening on its address (socket activation). NULL: none. */
static struct listen_sock *
sock_for_passed(struct wasp_env *env, const char *name, const union sockaddr_any *a)
{
	bool ours = fdstore_is_ours(name);

	for (size_t j = 0; j < env->n_socks; j++) {
		struct listen_sock *s = &env->socks[j];
		char sname[FDSTORE_NAME_MAX];

		if (s->fd >= 0 || !sock_matches(s, a))
			continue;
		if (ours && (fdstore_name(s, sname, sizeof(sname)) < 0 || !streq(sname, name)))
			continue;
		return s;
	}
	return NULL;
}

/* Whether some binding's socket goes by name (then removing the name from
 * the store would remove that socket too). */
static bool
name_in_use(const struct wasp_env *env, const char *name)
{
	char sname[FDSTORE_NAME_MAX];

	for (size_t j = 0; j < env->n_socks; j++)
		if (fdstore_name(&env->socks[j], sname, sizeof(sname)) == 0 && streq(sname, name))
			return true;
	return false;
}

static void
sock_adopt_one(struct wasp_env *env, int fd, const char *name)
{
	union sockaddr_any a = { 0 };
	socklen_t len = sizeof(a);
	struct listen_sock *s;
	int fl;

	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 || getsockname(fd, &a.sa, &len) < 0) {
		log_warning("passed fd %d (%s) is not a listening stream socket, ignoring", fd,
			    strempty(name));
		return;
	}
	s = sock_for_passed(env, name, &a);
	if (!s) {
		log_warning("passed fd %d (%s) matches no binding of the configuration, closing it",
			    fd, strempty(name));
		(void)close(fd);
		if (name && !name_in_use(env, name))
			fdstore_remove_name(name);
		return;
	}
	s->fd = fd;
	/* The service manager keeps it already (in its store, or a socket
	 * unit's): it is not stored again, and it outlives us. */
	s->stored = true;
	log_info("%s: using fd %d for %s:%u",
		 fdstore_is_ours(name) ? "stored socket" : "socket activation", fd, s->address,
		 s->port);
	sock_cover_v4(env, s);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Take the listening sockets passed (LISTEN_FDS): socket activation, the
 * file descriptor store, a restart (fdstore.c). Named ones of ours first,
 * so that an unnamed socket-activation copy of the same socket does not
 * take a binding a stored one names. */
static void
sockets_adopt(struct wasp_env *env)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	for (int pass = 0; pass < 2 && n > 0; pass++)
		for (int i = 0; i < n; i++) {
			const char *name = names ? names[i] : NULL;

			if (fdstore_is_ours(name) == (pass == 0))
				sock_adopt_one(env, SD_LISTEN_FDS_START + i, name);
		}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* Collect into env->socks the sockets ah's bindings need (no fd yet). */
static int
socks_collect(struct wasp_env *env, const struct wasp_apphost *ah)
{
	uint64_t wild[65536 / 64];
	int r;

	wildcard_ports(env, ah, wild);
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *site = &ah->sites[i];
		for (size_t j = 0; j < site->n_bindings; j++) {
			const struct wasp_binding *b = &site->bindings[j];
			if (!protocol_has_adapter(env, b->protocol)) {
				log_warning("%s:%d: site '%s': no adapter for protocol '%s' "
					    "(binding '%s'), ignoring",
					    strempty(b->file), b->line, site->name, b->protocol,
					    strempty(b->binding_information));
				continue;
			}
			if (b->port == 0) {
				log_warning("%s:%d: site '%s': binding '%s' has no port, ignoring",
					    strempty(b->file), b->line, site->name,
					    strempty(b->binding_information));
				continue;
			}
			if (streq(b->ip, "*")) {
				r = sock_add(env, b->protocol, "*", b->port, AF_INET);
				if (r >= 0)
					r = sock_add(env, b->protocol, "*", b->port, AF_INET6);
			} else if (wild[b->port / 64] & (UINT64_C(1) << (b->port % 64))) {
				continue;
			} else {
				r = sock_add(env, b->protocol, b->ip, b->port,
					     strchr(b->ip, ':') ? AF_INET6 : AF_INET);
			}
			if (r < 0)
				return log_errno(r, "listening sockets");
		}
	}
	return 0;
}

/* Open every collected socket that has no descriptor yet. On failure the
 * error is logged and returned; the descriptors opened stay in env->socks. */
static int
socks_open_missing(struct wasp_env *env)
{
	int r;

	for (size_t i = 0; i < env->n_socks; i++) {
		struct listen_sock *s = &env->socks[i];
		if (s->fd >= 0 || s->covered)
			continue;
		r = sock_open(s);
		if (r < 0 && s->family == AF_INET6 && streq(s->address, "*") &&
		    (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL)) {
			log_debug("no IPv6 on this host: '*:%u' listens on IPv4 only", s->port);
			continue;
		}
		if (r < 0)
			return log_errno(r, "cannot listen on %s%s%s:%u (%s)",
					 s->family == AF_INET6 ? "[" : "", s->address,
					 s->family == AF_INET6 ? "]" : "", s->port, s->protocol);
		log_info("listening on %s%s%s:%u (%s)", s->family == AF_INET6 ? "[" : "",
			 s->address, s->family == AF_INET6 ? "]" : "", s->port, s->protocol);
	}
	return 0;
}

/* Drop what could not be opened: socket ids index the routing table. */
static void
socks_compact(struct wasp_env *env)
{
	size_t k = 0;

	for (size_t i = 0; i < env->n_socks; i++) {
		if (env->socks[i].fd < 0) {
			free(env->socks[i].protocol);
			free(env->socks[i].address);
			continue;
		}
		env->socks[k] = env->socks[i];
		env->socks[k].id = (uint32_t)k;
		k++;
	}
	env->n_socks = k;
}

int
sockets_bind(struct wasp_env *env)
{
	int r;

	r = socks_collect(env, env->ah);
	if (r < 0)
		return r;
	sockets_adopt(env);
	r = socks_open_missing(env);
	if (r < 0)
		return r;
	socks_compact(env);
	fdstore_store(env);
	return 0;
}

static bool
sock_same(const struct listen_sock *a, const struct listen_sock *b)
{
	return a->port == b->port && a->family == b->family && streq(a->address, b->address) &&
	       strcaseeq(a->protocol, b->protocol);
}

int
sockets_reload(struct wasp_env *env, const struct wasp_apphost *ah, bool *ret_changed)
{
	struct listen_sock *old = env->socks;
	size_t n_old = env->n_socks;
	bool *reused = NULL, changed;
	int r;

	env->socks = NULL;
	env->n_socks = 0;
	reused = calloc(n_old ? n_old : 1, sizeof(bool));
	r = reused ? socks_collect(env, ah) : -ENOMEM;
	if (r < 0)
		goto undo;
	/* Keep the descriptors of the sockets that stay: their backlogs and
	 * the adapters' copies stay valid. */
	for (size_t i = 0; i < env->n_socks; i++)
		for (size_t j = 0; j < n_old; j++)
			if (!reused[j] && old[j].fd >= 0 && sock_same(&env->socks[i], &old[j])) {
				env->socks[i].fd = old[j].fd;
				env->socks[i].stored = old[j].stored;
				reused[j] = true;
				break;
			}
	r = socks_open_missing(env);
	if (r < 0)
		goto undo;
	socks_compact(env);
	changed = env->n_socks != n_old;
	for (size_t i = 0; !changed && i < env->n_socks; i++)
		changed = !sock_same(&env->socks[i], &old[i]) || env->socks[i].fd != old[i].fd;
	for (size_t j = 0; j < n_old; j++) {
		if (!reused[j]) {
			if (old[j].fd >= 0)
				log_info("no longer listening on %s%s%s:%u (%s)",
					 old[j].family == AF_INET6 ? "[" : "", old[j].address,
					 old[j].family == AF_INET6 ? "]" : "", old[j].port,
					 old[j].protocol);
			fdstore_remove(&old[j]);
			safe_close(old[j].fd);
		}
		free(old[j].protocol);
		free(old[j].address);
	}
	free(old);
	free(reused);
	fdstore_store(env);
	*ret_changed = changed;
	return 0;

undo:
	/* Close only what this call opened; the old list stays as it was. */
	for (size_t i = 0; i < env->n_socks; i++) {
		bool kept = false;
		for (size_t j = 0; j < n_old && !kept; j++)
			kept = old[j].fd >= 0 && old[j].fd == env->socks[i].fd;
		if (!kept)
			safe_close(env->socks[i].fd);
		free(env->socks[i].protocol);
		free(env->socks[i].address);
	}
	free(env->socks);
	env->socks = old;
	env->n_socks = n_old;
	free(reused);
	return r < 0 ? r : -ENOMEM;
}

void
sockets_close(struct wasp_env *env)
{
	for (size_t i = 0; i < env->n_socks; i++) {
		safe_close(env->socks[i].fd);
		free(env->socks[i].protocol);
		free(env->socks[i].address);
	}
	free(env->socks);
	env->socks = NULL;
	env->n_socks = 0;
}
