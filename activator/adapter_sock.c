/* adapter.sock in the runtime directory: where a protocol adapter started
 * from outside waspd (by systemd, by an operator) connects, says HELLO and
 * ADAPTER_REGISTER, and is checked against its listenerAdapters entry
 * (SO_PEERCRED: registerUser, registerGroup). An accepted one then gets what
 * a waspd-started adapter gets (adapter.c). Every peer is bounded: at most
 * ADAPTER_SOCK_PENDING_MAX connections that have not registered, each cut
 * off ADAPTER_REGISTER_USEC after it connected, and every message checked
 * against the message table by the channel (at most WASP_IPC_MAX_MSG). */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "libevent-util.h"
#include "log.h"
#include "waspd.h"

#define ADAPTER_SOCK_NAME "adapter.sock"
#define ADAPTER_SOCK_BACKLOG 16
#define ADAPTER_SOCK_PENDING_MAX 16
#define ADAPTER_SOCK_MAX_GROUPS 256
#define ADAPTER_REGISTER_USEC (5 * 1000000ULL)

struct adapter_sock {
	struct wasp_env *env;
	int fd;
	struct event *ev;
	char *path;
	unsigned pending; /* connected, not registered */
};

static void
refusal(struct wasp_msg_adapter_refused *ret, uint32_t reason, const char *fmt, ...)
	_printf_(3, 4);

static void
refusal(struct wasp_msg_adapter_refused *ret, uint32_t reason, const char *fmt, ...)
{
	va_list ap;

	*ret = (struct wasp_msg_adapter_refused){ .reason = reason };
	va_start(ap, fmt);
	(void)vsnprintf(ret->message, sizeof(ret->message), fmt, ap);
	va_end(ap);
}

/* Whether the peer of fd (cred) is in group gid: its primary group, or one
 * of its supplementary groups when it connected (SO_PEERGROUPS). */
static bool
peer_in_group(int fd, const struct ucred *cred, gid_t gid)
{
	_cleanup_free_ gid_t *groups = NULL;
	socklen_t len = ADAPTER_SOCK_MAX_GROUPS * sizeof(gid_t);

	if (cred->gid == gid)
		return true;
	groups = malloc(len);
	if (!groups || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static bool
peer_allowed(const struct adapter *a, const struct adapter_decl *d, const struct ucred *cred)
{
	if (d->has_uid && cred->uid == d->register_uid)
		return true;
	return d->has_gid && peer_in_group(wasp_ipc_channel_fd(a->ch), cred, d->register_gid);
}

int
adapter_sock_check(struct adapter *a, const char *protocol, struct wasp_msg_adapter_refused *ret)
{
	struct wasp_env *env = a->env;
	const struct adapter_decl *d = adapter_decl_find(&env->adapter_decls, protocol);
	struct ucred cred = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct adapter *other;

	(void)wasp_ipc_channel_peer_cred(a->ch, &cred);
	if (!d && !adapter_decl_known(&env->adapter_decls, protocol))
		refusal(ret, WASP_REGISTER_REFUSED_UNDECLARED,
			"protocol '%s' is not declared in listenerAdapters", protocol);
	else if (!d || !d->external)
		refusal(ret, WASP_REGISTER_REFUSED_STARTED,
			"waspd starts protocol '%s''s adapter itself (its listenerAdapters entry "
			"has no registerUser or registerGroup)",
			protocol);
	else if (!peer_allowed(a, d, &cred))
		refusal(ret, WASP_REGISTER_REFUSED_PERMISSION,
			"uid %u may not register protocol '%s' (listenerAdapters: registerUser, "
			"registerGroup)",
			(unsigned)cred.uid, protocol);
	else if ((other = adapter_of_protocol(env, protocol)))
		refusal(ret, WASP_REGISTER_REFUSED_TAKEN,
			"protocol '%s' has an adapter already (pid %d)", protocol, (int)other->pid);
	else
		return 0;
	log_warning("adapter.sock: refused pid %d (uid %u): %s", (int)cred.pid,
		    (unsigned)cred.uid, ret->message);
	return -EPERM;
}

void
adapter_sock_settled(struct adapter *a)
{
	struct adapter_sock *s = a->env->adapter_sock;

	timer_stop(a->register_timer);
	if (a->external && !a->registered && a->register_timer && s && s->pending > 0) {
		s->pending--;
		/* counted once: the timer is what marks a pending peer */
		timer_free(&a->register_timer);
	}
}

static void
adapter_on_register_timeout(void *arg)
{
	struct adapter *a = arg;

	log_warning("adapter.sock: peer pid %d did not register within %llu s, cutting it off",
		    (int)a->pid, (unsigned long long)(ADAPTER_REGISTER_USEC / 1000000));
	adapter_forget(a);
}

static void
adapter_sock_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct adapter_sock *s = arg;
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	struct adapter *a;
	int fd;

	fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning_errno(-errno, "adapter.sock: accept, ignoring");
		return;
	}
	(void)getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	if (s->pending >= ADAPTER_SOCK_PENDING_MAX || s->env->stopping) {
		log_warning("adapter.sock: %u connections have not registered yet; closing pid "
			    "%d's",
			    s->pending, (int)cred.pid);
		safe_close(fd);
		return;
	}
	a = adapter_new_external(s->env, fd, cred.pid);
	if (!a) {
		log_errno(-ENOMEM, "adapter.sock: pid %d's connection", (int)cred.pid);
		return;
	}
	if (timer_arm(s->env->clock, &a->register_timer, adapter_on_register_timeout, a,
		      ADAPTER_REGISTER_USEC) < 0) {
		log_warning("adapter.sock: no timer for pid %d's registration, closing it",
			    (int)cred.pid);
		timer_free(&a->register_timer); /* not counted as pending */
		adapter_forget(a);
		return;
	}
	s->pending++;
	log_debug("adapter.sock: connection from pid %d (uid %u)", (int)cred.pid,
		  (unsigned)cred.uid);
}

int
adapter_sock_open(struct wasp_env *env)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct adapter_sock *s;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" ADAPTER_SOCK_NAME,
			     env->runtime_dir) >= sizeof(sa.sun_path))
		return log_errno(-ENAMETOOLONG, "adapter socket in %s", env->runtime_dir);
	(void)unlink(sa.sun_path);
	/* Anyone may connect: what an adapter may register is decided by its
	 * credentials against listenerAdapters. */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0666) < 0 || listen(fd, ADAPTER_SOCK_BACKLOG) < 0)
		return log_errno(-errno, "adapter socket %s", sa.sun_path);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(sa.sun_path))) {
		free(s);
		return log_errno(-ENOMEM, "adapter socket");
	}
	s->env = env;
	s->ev = event_new(env->base, fd, EV_READ | EV_PERSIST, adapter_sock_on_accept, s);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		s->ev = wasp_event_free(s->ev);
		free(s->path);
		free(s);
		return log_errno(-ENOMEM, "adapter socket");
	}
	s->fd = TAKE_FD(fd);
	env->adapter_sock = s;
	log_info("adapter socket %s", s->path);
	return 0;
}

void
adapter_sock_close(struct wasp_env *env)
{
	struct adapter_sock *s = env->adapter_sock;

	if (!s)
		return;
	s->ev = wasp_event_free(s->ev);
	safe_close(s->fd);
	if (!env->retiring)
		(void)unlink(s->path);
	free(s->path);
	free(s);
	env->adapter_sock = NULL;
}

int
adapter_decls_apply(struct wasp_env *env, struct wasp_config *cfg)
{
	struct adapter_decls d;
	struct wasp_diag_list diags = { 0 };
	int r = adapter_decls_read(cfg, &d, &diags);

	wasp_diag_list_done(&diags);
	if (r < 0)
		return log_errno(r, LISTENER_ADAPTERS_SECTION);
	adapter_decls_done(&env->adapter_decls);
	env->adapter_decls = d;
	for (size_t i = 0; i < d.n; i++)
		if (d.items[i].external && !adapter_of_protocol(env, d.items[i].name))
			log_notice("protocol '%s': waiting for its adapter to register on %s",
				   d.items[i].name, ADAPTER_SOCK_NAME);
	return 0;
}
