/* Accepting connections: accept4 in batches on every listening socket,
 * pausing all of them on EMFILE/ENFILE (a short timer, never a sleep) and
 * while the listener holds its maximum number of connections. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "libevent-util.h"
#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "util.h"

#define ACCEPT_BATCH 64

static void
accept_set_all(struct lsn_env *env, bool on)
{
	if (on && env->quitting)
		return;
	for (size_t i = 0; i < env->n_sockets; i++) {
		struct lsn_socket *s = &env->sockets[i];
		if (!s->ev)
			continue;
		if (on)
			(void)event_add(s->ev, NULL);
		else
			(void)event_del(s->ev);
	}
}

static void
accept_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_env *env = arg;

	env->accept_paused = false;
	if (!env->accept_full)
		accept_set_all(env, true);
}

/* Out of fds: stop accepting for a moment; the pending connections wait in
 * the kernel's backlog meanwhile. */
static void
accept_pause(struct lsn_env *env)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = WASP_LISTENER_ACCEPT_PAUSE_MS * 1000 };

	if (env->accept_paused)
		return;
	env->accept_paused = true;
	accept_set_all(env, false);
	(void)event_add(env->ev_accept_resume, &tv);
}

void
lsn_accept_check(struct lsn_env *env)
{
	if (env->shedding && lsn_accept_held(env) + 1 < env->max_conns)
		env->shedding = false;
	if (env->accept_full && lsn_accept_held(env) < env->max_conns) {
		env->accept_full = false;
		if (!env->accept_paused)
			accept_set_all(env, true);
	}
}

/* At the connection limit with a new connection accepted: close the oldest
 * connection still reading its head, so that clients that never finish one
 * cannot lock the others out (they would hold the limit for the whole
 * header timeout). */
static void
accept_shed(struct lsn_env *env)
{
	struct lsn_conn *c = TAILQ_FIRST(&env->reading);

	if (!c)
		return;
	if (!env->shedding)
		log_warning("%u connections held: closing the oldest unfinished request heads "
			    "to take new connections",
			    env->n_conns);
	env->shedding = true;
	log_debug("connection %u: closed unfinished (%u bytes of its head) to make room",
		  c->id, c->len);
	lsn_conn_drop(env, c, "Connection_Dropped");
}

/* The routing table's entry of the listening socket s (NULL when the
 * table has none: the connection is closed). */
static const struct wasp_route_socket *
accept_route_socket(struct lsn_env *env, struct lsn_socket *s)
{
	if (!env->table || s->id >= env->table->rt->n_sockets)
		return NULL;
	return &env->table->rt->sockets[s->id];
}

static void
accept_on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_socket *s = arg;
	struct lsn_env *env = s->env;
	struct sockaddr_storage ss;
	socklen_t sl;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		bool full = lsn_accept_held(env) >= env->max_conns;
		struct lsn_conn *c;
		int cfd;

		if (full && TAILQ_EMPTY(&env->reading)) {
			if (!env->accept_full)
				log_warning("%llu connections held (%u here, the rest by workers): "
					    "not accepting until one is closed",
					    (unsigned long long)lsn_accept_held(env), env->n_conns);
			env->accept_full = true;
			accept_set_all(env, false);
			return;
		}
		sl = sizeof(ss);
		cfd = accept4(s->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			int r = -errno;
			if (r == -EAGAIN || r == -EWOULDBLOCK)
				return;
			if (r == -EINTR || r == -ECONNABORTED || r == -EPROTO || r == -EPERM)
				continue;
			if (r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM) {
				log_warning_errno(r, "accept: pausing for %d ms",
						  WASP_LISTENER_ACCEPT_PAUSE_MS);
				accept_pause(env);
				return;
			}
			log_warning_errno(r, "accept on socket %u, ignoring", s->id);
			return;
		}
		/* at the limit, a new connection takes the place of the oldest
		 * unfinished head (one descriptor over the limit for a moment:
		 * the descriptor limit has a reserve) */
		if (full)
			accept_shed(env);
		c = lsn_conn_new(env, cfd);
		if (!c) {
			log_warning("no memory for a connection, closed it");
			continue;
		}
		env->stats.accepted++;
		(void)lsn_conn_set_addrs(c, (struct sockaddr *)&ss, sl);
		if (!lsn_client_add(env, c, (struct sockaddr *)&ss, sl)) {
			/* as dynamicIpSecurity's AbortRequest: no answer */
			log_debug("connection %u: its address holds maxConnectionsPerClient (%u) "
				  "connections already, closed",
				  c->id, env->max_per_client);
			lsn_conn_drop(env, c, "Connections_Refused");
			continue;
		}
		c->sock_id = s->id;
		c->sock_gen = env->table ? env->table->rt->generation : 0;
		if (s->tls) {
			/* c->fd becomes the plaintext end; the handshake goes on
			 * in the relay while the core waits for the head */
			const struct wasp_route_socket *rs = accept_route_socket(env, s);
			if (!rs) {
				lsn_conn_free(env, c);
				continue;
			}
			if (lsn_relay_start(env, c, rs) < 0)
				continue; /* c was freed */
		}
		/* The client usually sent its head with the handshake's ACK
		 * (and with TCP_DEFER_ACCEPT it certainly did): read now. A
		 * protocol where the server may speak first (raw TCP) reads
		 * nothing: it routes by the socket alone. */
		if (env->ops->client_speaks_first)
			lsn_conn_read(env, c);
		else
			lsn_conn_route(env, c);
	}
}

int
lsn_accept_start(struct lsn_env *env, struct lsn_socket *s)
{
	int fl;

	s->env = env;
	/* accept4 must never block the loop, whatever the socket we were given. */
	fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return log_errno(-errno, "listening socket %u", s->id);
	if (env->ops->client_speaks_first) {
		/* Wake us only when the request is there: saves a wakeup and a
		 * read per connection. Seconds; the kernel accepts after it
		 * anyway. */
		int secs = (int)(env->header_timeout.tv_sec > 0 ? env->header_timeout.tv_sec : 1);
		(void)setsockopt(s->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
	}
	s->ev = event_new(env->base, s->fd, EV_READ | EV_PERSIST, accept_on_ready, s);
	if (!s->ev)
		return -ENOMEM;
	if (!env->accept_paused && !env->accept_full && !env->quitting &&
	    event_add(s->ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void
lsn_accept_stop(struct lsn_socket *s)
{
	s->ev = wasp_event_free(s->ev);
	s->ev = NULL;
	s->fd = safe_close(s->fd);
}

void
lsn_accept_quit(struct lsn_env *env)
{
	if (env->quitting)
		return;
	accept_set_all(env, false);
	env->quitting = true;
	log_info("SIGQUIT: accepting no more; exiting once the %u connection(s) held are handed "
		 "off or closed",
		 env->n_conns);
	if (env->n_conns == 0)
		(void)event_base_loopexit(env->base, NULL);
}

int
lsn_accept_init(struct lsn_env *env)
{
	env->ev_accept_resume = evtimer_new(env->base, accept_on_resume, env);
	return env->ev_accept_resume ? 0 : -ENOMEM;
}
