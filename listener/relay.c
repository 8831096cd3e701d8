/* The TLS relay: a connection accepted on an https socket becomes, for the
 * listener core and the workers, one end of an AF_UNIX socketpair carrying
 * plaintext; the relay holds the TLS session, the TCP socket and the other
 * end, and copies between them through one buffer per direction. A side
 * is read only while the buffer towards the other side is empty, so a slow
 * reader stops the writer (backpressure both ways) and the listener holds
 * at most 2 x LSN_RELAY_BUF of plaintext per connection. The plaintext end
 * travels like a TCP socket: HANDOFF to a worker, HANDBACK for another
 * pool (recognised by its inode), while the session stays here. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ipc.h"
#include "log.h"
#include "lsn.h"
#include "tls.h"
#include "util.h"

static void relay_pump(struct lsn_relay *r);

/* What a step reads goes here first (one event loop per process). */
static char scratch_in[LSN_RELAY_BUF], scratch_out[LSN_RELAY_BUF];

/* After a step: bytes still in the shared buffer move to the relay's own
 * (made on the first need). -ENOMEM when it cannot be had. */
static int
relay_stash(char **buf, char **own, uint32_t *off, uint32_t *len, const char *scratch)
{
	if (*off >= *len) {
		*off = *len = 0;
		return 0;
	}
	if (*buf != scratch)
		return 0;
	if (!*own && !(*own = malloc(LSN_RELAY_BUF)))
		return -ENOMEM;
	memcpy(*own, scratch + *off, *len - *off);
	*len -= *off;
	*off = 0;
	*buf = *own;
	return 0;
}

static void
relay_unlink(struct lsn_relay *r)
{
	struct lsn_relay **p = lsn_tls_bucket(r->env, r->ino);

	for (; *p; p = &(*p)->hnext)
		if (*p == r) {
			*p = r->hnext;
			return;
		}
}

static void
relay_free(struct lsn_relay *r)
{
	if (r->want_tcp)
		(void)event_del(&r->ev_tcp);
	if (r->want_pfd)
		(void)event_del(&r->ev_pfd);
	if (r->timer_set)
		(void)event_del(&r->ev_timer);
	relay_unlink(r);
	if (r->conn)
		r->conn->relay = NULL;
	SSL_free(r->ssl);
	ERR_clear_error();
	lsn_table_unref(r->table);
	(void)safe_close(r->tcp);
	(void)safe_close(r->pfd);
	free(r->info_strs);
	free(r->in_own);
	free(r->out_own);
	free(r);
}

static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_relay *r = arg;

	/* readiness: read that side again (level-triggered, so a side read
	 * short is only read again when it says so) */
	if (fd == r->tcp)
		r->tcp_idle = false;
	else
		r->pfd_idle = false;
	relay_pump(r);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lsn_relay *r = arg;

	r->timer_set = false;
	relay_free(r);
}

/* Watch fd for want (0: not at all), changing the event only when it
 * changed. */
static int
relay_watch(struct lsn_relay *r, struct event *ev, int fd, short *cur, short want)
{
	if (*cur == want)
		return 0;
	if (*cur)
		(void)event_del(ev);
	*cur = 0;
	if (!want)
		return 0;
	event_assign(ev, r->env->base, fd, want | EV_PERSIST, on_ready, r);
	if (event_add(ev, NULL) < 0)
		return -ENOMEM;
	*cur = want;
	return 0;
}

static short
ssl_want(struct lsn_relay *r, int n, bool *failed)
{
	int e = SSL_get_error(r->ssl, n);

	if (e == SSL_ERROR_WANT_READ)
		return EV_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return EV_WRITE;
	*failed = true;
	ERR_clear_error();
	return 0;
}

/* What the core wrote to the plaintext end before the handshake ended
 * (kept for after it): 0, 1 when the core gave up on the connection, -1
 * without memory. */
static int
relay_read_early(struct lsn_relay *r, short *wp)
{
	ssize_t m;

	if (!r->out_own && !(r->out_own = malloc(LSN_RELAY_BUF)))
		return -1;
	r->out = r->out_own;
	m = read(r->pfd, r->out, LSN_RELAY_BUF);
	if (m == 0 || (m < 0 && errno != EAGAIN && errno != EINTR))
		return 1;
	if (m > 0)
		r->out_len = (uint32_t)m;
	else
		*wp = EV_READ;
	r->pfd_idle = m <= 0;
	return 0;
}

/* The handshake: true once done (r->hs_done); false while it waits (wt set)
 * or when it failed (r freed, *gone). The core's header timeout bounds it:
 * it closes the plaintext end, and we see that end's EOF. */
static bool
relay_handshake(struct lsn_relay *r, short *wt, short *wp, bool *gone)
{
	bool failed = false, gave_up = false;
	int n = SSL_do_handshake(r->ssl);
	enum wasp_tls_failure kind = WASP_TLS_FAIL__COUNT;

	if (n == 1) {
		r->hs_done = true;
		lsn_table_unref(r->table);
		r->table = NULL;
		r->rs = NULL;
		(void)lsn_tls_make_info(r);
		if (lsn_ktls_take(r)) {
			*gone = true; /* the connection has its TCP socket */
			relay_free(r);
			return false;
		}
		return true;
	}
	kind = lsn_tls_failure_kind(r->ssl, n); /* before ssl_want() clears the errors */
	*wt = ssl_want(r, n, &failed);
	if (!failed && r->out_len == 0 && r->pfd_idle) {
		*wp = EV_READ; /* the core has written nothing: wait for its word */
	} else if (!failed && r->out_len == 0) {
		int e = relay_read_early(r, wp);
		failed = e != 0;
		gave_up = e > 0; /* (the core logged why) */
	}
	if (failed) {
		if (!gave_up)
			lsn_tls_handshake_failed(r, kind);
		*gone = true;
		relay_free(r);
	}
	return false;
}

/* client -> worker: one step; true when something moved. */
static bool
relay_inbound(struct lsn_relay *r, short *wt, short *wp)
{
	bool moved = false, failed = false;

	if (!r->tcp_eof && r->in_len == 0 && r->tcp_idle) {
		*wt |= EV_READ; /* read short last time: wait for the kernel's word */
	} else if (!r->tcp_eof && r->in_len == 0) {
		int n = SSL_read(r->ssl, scratch_in, LSN_RELAY_BUF);
		if (n > 0) {
			r->in = scratch_in;
			r->in_off = 0;
			r->in_len = (uint32_t)n;
			r->tcp_idle = n < LSN_RELAY_BUF && !SSL_has_pending(r->ssl);
			moved = true;
		} else {
			*wt |= ssl_want(r, n, &failed);
			if (failed) {
				r->tcp_eof = true; /* close_notify, FIN or an error */
				moved = true;
			}
		}
	}
	if (r->in_off < r->in_len) {
		ssize_t n = send(r->pfd, r->in + r->in_off, r->in_len - r->in_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			r->in_off += (uint32_t)n;
			if (r->in_off == r->in_len)
				r->in_off = r->in_len = 0;
			moved = true;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			*wp |= EV_WRITE;
		} else {
			r->pfd_gone = true; /* nobody holds the other end */
			r->in_off = r->in_len = 0;
			moved = true;
		}
	}
	if (relay_stash(&r->in, &r->in_own, &r->in_off, &r->in_len, scratch_in) < 0) {
		r->in_off = r->in_len = 0; /* no memory: this connection goes */
		r->tcp_dead = r->tcp_eof = r->pfd_gone = true;
		moved = true;
	}
	if (r->tcp_eof && r->in_len == 0 && !r->pfd_shut) {
		(void)shutdown(r->pfd, SHUT_WR); /* the worker sees the client's EOF */
		r->pfd_shut = true;
	}
	return moved;
}

/* worker -> client: one step; true when something moved. */
static bool
relay_outbound(struct lsn_relay *r, short *wt, short *wp)
{
	bool moved = false, failed = false;

	if (!r->pfd_eof && r->out_len == 0 && r->pfd_idle) {
		*wp |= EV_READ;
	} else if (!r->pfd_eof && r->out_len == 0) {
		ssize_t n = read(r->pfd, scratch_out, LSN_RELAY_BUF);
		if (n > 0) {
			r->out = scratch_out;
			r->out_off = 0;
			r->out_len = (uint32_t)n;
			r->pfd_idle = n < LSN_RELAY_BUF;
			moved = true;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			*wp |= EV_READ;
		} else {
			r->pfd_eof = true;
			moved = true;
		}
	}
	if (r->out_off < r->out_len) {
		int n = r->tcp_dead ? -1 : SSL_write(r->ssl, r->out + r->out_off,
						     (int)(r->out_len - r->out_off));
		if (n > 0) {
			r->out_off += (uint32_t)n;
			if (r->out_off == r->out_len)
				r->out_off = r->out_len = 0;
			moved = true;
		} else {
			short w = r->tcp_dead ? 0 : ssl_want(r, n, &failed);
			if (r->tcp_dead || failed) {
				r->tcp_dead = r->tcp_eof = true; /* the client is gone */
				r->out_off = r->out_len = 0;
				moved = true;
			}
			*wt |= w;
		}
	}
	if (relay_stash(&r->out, &r->out_own, &r->out_off, &r->out_len, scratch_out) < 0) {
		r->out_off = r->out_len = 0; /* no memory: this connection goes */
		r->tcp_dead = r->tcp_eof = r->pfd_gone = true;
		moved = true;
	}
	return moved;
}

/* The worker's side is closed and everything sent: close_notify and FIN,
 * then a moment for the client to close (LSN_LINGER_USEC). */
static void
relay_finish_out(struct lsn_relay *r)
{
	struct timeval tv = { LSN_LINGER_USEC / 1000000, LSN_LINGER_USEC % 1000000 };

	if (r->timer_set || r->tcp_dead)
		return;
	if (SSL_shutdown(r->ssl) < 0)
		ERR_clear_error();
	(void)shutdown(r->tcp, SHUT_WR);
	evtimer_assign(&r->ev_timer, r->env->base, on_timer, r);
	if (evtimer_add(&r->ev_timer, &tv) == 0)
		r->timer_set = true;
}

static void
relay_pump(struct lsn_relay *r)
{
	short wt = 0, wp = 0;
	bool gone = false;

	if (!r->hs_done && !relay_handshake(r, &wt, &wp, &gone)) {
		if (!gone && (relay_watch(r, &r->ev_tcp, r->tcp, &r->want_tcp, wt) < 0 ||
			      relay_watch(r, &r->ev_pfd, r->pfd, &r->want_pfd, wp) < 0))
			relay_free(r);
		return;
	}
	for (;;) {
		bool moved;

		wt = wp = 0;
		moved = relay_inbound(r, &wt, &wp);
		moved |= relay_outbound(r, &wt, &wp);
		if (!moved)
			break;
	}
	if (r->pfd_eof && r->out_len == 0) {
		if (r->tcp_eof || r->pfd_gone || r->tcp_dead) {
			relay_free(r);
			return;
		}
		relay_finish_out(r);
	} else if (r->tcp_dead && r->pfd_gone) {
		relay_free(r);
		return;
	}
	if (relay_watch(r, &r->ev_tcp, r->tcp, &r->want_tcp, wt) < 0 ||
	    relay_watch(r, &r->ev_pfd, r->pfd, &r->want_pfd, wp) < 0) {
		relay_free(r);
		return;
	}
	if (r->reneg)
		lsn_tls_reneg_check(r); /* asked for a client certificate (tlsclient.c) */
}

void
lsn_relay_kick(struct lsn_relay *r)
{
	r->tcp_idle = false;
	relay_pump(r);
}

int
lsn_relay_start(struct lsn_env *env, struct lsn_conn *c, const struct wasp_route_socket *rs)
{
	struct lsn_relay *r = calloc(1, sizeof(*r));
	struct lsn_relay **b;
	struct stat st;
	int sp[2] = { -1, -1 };

	if (!env->tls) { /* TLS could not be set up (logged) */
		free(r);
		lsn_conn_free(env, c);
		return -ENOTSUP;
	}
	if (!r || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0 ||
	    fstat(sp[0], &st) < 0) {
		int e = r ? -errno : -ENOMEM;
		safe_close(sp[0]);
		safe_close(sp[1]);
		free(r);
		lsn_conn_free(env, c);
		return e;
	}
	r->env = env;
	r->tcp = c->fd;
	r->pfd = sp[1];
	/* each SSL_write is a whole record, sent as the worker's bytes come:
	 * Nagle would hold one behind the client's delayed ACK of the one
	 * before (40 ms a response whose head and body came apart) */
	(void)setsockopt(r->tcp, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	r->ino = st.st_ino;
	c->fd = sp[0];
	memcpy(r->local, c->local, 16);
	memcpy(r->peer, c->peer, 16);
	r->local_port = c->local_port;
	r->peer_port = c->peer_port;
	r->table = env->table;
	r->table->refs++;
	r->rs = rs;
	r->pfd_idle = true; /* the core has written nothing: its end is read on its word */
	b = lsn_tls_bucket(env, r->ino);
	r->hnext = *b;
	*b = r;
	r->ssl = lsn_tls_new_ssl(env, r);
	if (!r->ssl) {
		relay_free(r);
		lsn_conn_free(env, c);
		return -ENOMEM;
	}
	lsn_relay_attach(r, c);
	relay_pump(r);
	return 0;
}

struct lsn_relay *
lsn_relay_find(struct lsn_env *env, int fd)
{
	struct stat st;

	if (!env->tls || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return NULL;
	for (struct lsn_relay *r = *lsn_tls_bucket(env, st.st_ino); r; r = r->hnext)
		if (r->ino == st.st_ino)
			return r;
	return NULL;
}

void
lsn_relay_attach(struct lsn_relay *r, struct lsn_conn *c)
{
	if (r->conn && r->conn != c)
		r->conn->relay = NULL;
	r->conn = c;
	if (c)
		c->relay = r;
}

size_t
lsn_relay_info_len(const struct lsn_relay *r)
{
	return r->hs_done ? sizeof(r->info) + r->info_strs_len : 0;
}

void
lsn_relay_put_info(const struct lsn_relay *r, struct wasp_ipc_writer *w)
{
	if (!r->hs_done)
		return;
	wasp_ipc_put_bytes(w, &r->info, sizeof(r->info));
	wasp_ipc_put_bytes(w, r->info_strs, r->info_strs_len);
}

void
lsn_relay_free_all(struct lsn_env *env)
{
	for (size_t i = 0; env->tls && i < 4096; i++) {
		struct lsn_relay **b = lsn_tls_bucket(env, (ino_t)i);
		while (*b)
			relay_free(*b);
	}
}
