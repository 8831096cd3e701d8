/* The libevent-driven IPC channel: HELLO and the peer's credentials, the
 * output queue, the central checks of every received message against the
 * message table and the receiver's { type, fn } list (channel_dispatch()),
 * and closing on error. The framing below it: ipc.c. */
#include <assert.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "ipc-private.h"
#include "libevent-util.h"
#include "log.h"
#include "util.h"

/* Messages read per wakeup: enough to amortise the wakeup, few enough that
 * one chatty peer cannot starve the others on the same event base. */
#define IPC_READ_BATCH 64

struct ipc_qmsg {
	struct ipc_qmsg *next;
	int fd; /* owned by the queue, or -1 */
	uint16_t type;
	uint8_t flags;
	uint32_t seq;
	size_t len;
	uint8_t data[];
};

struct wasp_ipc_channel {
	struct event_base *base;
	int fd;
	pid_t pid; /* ours, cached for the header */
	struct wasp_ipc_channel_ops ops;
	void *userdata;

	struct event *ev_read;  /* persistent while open */
	struct event *ev_write; /* added only while the queue is non-empty */
	struct event *ev_close; /* made active to close from the loop */

	struct ipc_qmsg *q_head, *q_tail;
	size_t q_len;

	uint8_t *rbuf; /* WASP_IPC_MAX_MSG bytes; messages point into it */

	pid_t peer_pid; /* from HELLO, 0 before */
	struct ucred cred;
	bool have_cred;
	bool peer_verified;
	bool hello_received;

	uint32_t next_seq;
	int close_err;

	/* Life cycle. A channel may be freed by its owner from inside its own
	 * callbacks (on_close, on_hello, a handler): free then only tears
	 * down (events off, socket and queued fds closed) and the memory is
	 * released when the outermost callback unwinds (busy drops to 0). */
	unsigned busy;      /* callbacks of this channel on the stack */
	bool peer_gone;     /* EPIPE seen: send nothing more, EOF will follow */
	bool failed;        /* no more I/O; on_close called or scheduled */
	bool closed;        /* on_close called (or must never be: freed) */
	bool freed;         /* wasp_ipc_channel_free() was called */
};

static void
queue_drop(struct wasp_ipc_channel *ch)
{
	while (ch->q_head) {
		struct ipc_qmsg *q = ch->q_head;

		ch->q_head = q->next;
		(void)safe_close(q->fd);
		free(q);
	}
	ch->q_tail = NULL;
	ch->q_len = 0;
}

static void
channel_events_off(struct wasp_ipc_channel *ch)
{
	if (ch->ev_read)
		(void)event_del(ch->ev_read);
	if (ch->ev_write)
		(void)event_del(ch->ev_write);
}

static void
channel_release(struct wasp_ipc_channel *ch)
{
	ch->ev_read = wasp_event_free(ch->ev_read);
	ch->ev_write = wasp_event_free(ch->ev_write);
	ch->ev_close = wasp_event_free(ch->ev_close);
	queue_drop(ch);
	(void)safe_close(ch->fd);
	free(ch->rbuf);
	free(ch);
}

/* Enter and leave one of the channel's callbacks; leave releases the
 * memory of a channel freed meanwhile. */
static void
channel_enter(struct wasp_ipc_channel *ch)
{
	ch->busy++;
}

static void
channel_leave(struct wasp_ipc_channel *ch)
{
	assert(ch->busy > 0);
	if (--ch->busy == 0 && ch->freed)
		channel_release(ch);
}

/* Close from inside a callback: stop all I/O and report once. */
static void
channel_close_now(struct wasp_ipc_channel *ch, int err)
{
	if (ch->closed)
		return;
	ch->failed = ch->closed = true;
	channel_events_off(ch);
	(void)event_del(ch->ev_close);
	queue_drop(ch);
	log_debug_errno(err, "ipc channel %d closed", ch->fd);
	ch->ops.on_close(ch, err, ch->userdata);
}

/* Close from outside the channel's callbacks (a send): stop I/O now and
 * report from the event loop, so on_close never runs inside the caller's
 * wasp_ipc_channel_send(). */
static void
channel_fail_async(struct wasp_ipc_channel *ch, int err)
{
	if (ch->failed)
		return;
	ch->failed = true;
	ch->close_err = err;
	channel_events_off(ch);
	queue_drop(ch);
	event_active(ch->ev_close, EV_TIMEOUT, 0);
}

static void
channel_on_close_event(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_ipc_channel *ch = arg;

	channel_enter(ch);
	channel_close_now(ch, ch->close_err);
	channel_leave(ch);
}

/* A send failed with something other than -EAGAIN. */
static void
channel_send_failed(struct wasp_ipc_channel *ch, int r)
{
	if (wasp_errno_is_disconnect(r)) {
		/* The peer is gone. Do not close yet: what it sent before it
		 * went (a handback with a connection, say) is still to be
		 * read, and the read side then sees EOF and closes. */
		ch->peer_gone = true;
		(void)event_del(ch->ev_write);
		queue_drop(ch);
		return;
	}
	channel_fail_async(ch, r);
}

/* Write queued messages until the queue is empty or the socket is full. */
static int
channel_flush(struct wasp_ipc_channel *ch)
{
	while (ch->q_head) {
		struct ipc_qmsg *q = ch->q_head;
		int r;

		r = ipc_send(ch->fd, ch->pid, q->type, q->seq, q->flags, q->data, q->len, q->fd);
		if (r < 0)
			return r;
		ch->q_head = q->next;
		if (!ch->q_head)
			ch->q_tail = NULL;
		ch->q_len--;
		/* On the wire: the peer has its own reference now. */
		(void)safe_close(q->fd);
		free(q);
	}
	(void)event_del(ch->ev_write);
	return 0;
}

static void
channel_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_ipc_channel *ch = arg;
	int r;

	channel_enter(ch);
	r = channel_flush(ch);
	if (r < 0 && r != -EAGAIN) {
		if (wasp_errno_is_disconnect(r))
			channel_send_failed(ch, r);
		else
			channel_close_now(ch, r);
	}
	channel_leave(ch);
}

static int
channel_on_hello(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg)
{
	struct wasp_msg_hello hello;

	if (msg->hdr.type != WASP_MSG_HELLO ||
	    wasp_msg_check(wasp_msg_contract(WASP_MSG_HELLO), msg->len, false) < 0)
		return -EBADMSG;
	memcpy(&hello, msg->payload, sizeof(hello));
	if (hello.version != WASP_IPC_VERSION || hello.role != (uint32_t)ch->ops.peer_role)
		return -EPROTONOSUPPORT;
	if (hello.pid == 0 || hello.pid > INT32_MAX)
		return -EBADMSG;

	ch->hello_received = true;
	ch->peer_pid = (pid_t)hello.pid;
	/* SO_PEERCRED names the process that created a socketpair, and
	 * handoff channels are pairs made by the activator for two other
	 * processes, so a mismatch is not an error; when the kernel's pid
	 * agrees with the HELLO, the owner may rely on it. */
	ch->peer_verified = ch->have_cred && ch->cred.pid == ch->peer_pid;
	if (!ch->peer_verified)
		log_debug("ipc channel %d: peer says pid %u, SO_PEERCRED says %d", ch->fd,
			  hello.pid, ch->have_cred ? (int)ch->cred.pid : -1);
	if (ch->ops.on_hello)
		ch->ops.on_hello(ch, &hello, ch->userdata);
	return 0;
}

static const struct wasp_ipc_handler *
channel_find_handler(const struct wasp_ipc_channel *ch, uint16_t type)
{
	for (size_t i = 0; i < ch->ops.n_handlers; i++)
		if (ch->ops.handlers[i].type == type)
			return &ch->ops.handlers[i];
	return NULL;
}

/* Check one message against the HELLO rule, its row of the message table
 * and the handler table, and pass it on: the one place where a message's
 * contract is enforced, so a handler may rely on its row. Consumes msg->fd. */
static int
channel_dispatch(struct wasp_ipc_channel *ch, struct wasp_ipc_msg *msg)
{
	_cleanup_close_ int fd = take_fd(&msg->fd);
	const struct wasp_msg_contract *c;
	const struct wasp_ipc_handler *h;

	if (!ch->hello_received) {
		if (fd >= 0 || msg->fd_lost)
			return -EBADMSG;
		return channel_on_hello(ch, msg);
	}
	if (msg->hdr.type == WASP_MSG_HELLO)
		return -EBADMSG;
	c = wasp_msg_contract(msg->hdr.type);
	h = channel_find_handler(ch, msg->hdr.type);
	if (!c || !h) {
		log_debug("ipc channel %d: unexpected message type %u", ch->fd, msg->hdr.type);
		return -EBADMSG;
	}
	/* An fd the kernel dropped (we are out of descriptors) counts as
	 * sent where the channel copes with that, and is an error elsewhere. */
	if ((msg->fd_lost && !ch->ops.fd_may_be_lost) ||
	    wasp_msg_check(c, msg->len, fd >= 0 || msg->fd_lost) < 0) {
		log_debug("ipc channel %d: %s breaks its contract (%zu bytes, fd %s)", ch->fd,
			  c->name, msg->len, fd >= 0 ? "yes" : msg->fd_lost ? "lost" : "no");
		return -EBADMSG;
	}
	msg->fd = take_fd(&fd);
	return h->fn(ch, msg, ch->userdata);
}

static void
channel_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_ipc_channel *ch = arg;

	channel_enter(ch);
	for (unsigned i = 0; i < IPC_READ_BATCH && !ch->failed; i++) {
		struct wasp_ipc_msg msg;
		bool bad_version = false;
		int r;

		r = ipc_recv(ch->fd, ch->rbuf, WASP_IPC_MAX_MSG, &msg, &bad_version);
		if (r == -EAGAIN)
			break;
		if (r == 0) {
			channel_close_now(ch, 0);
			break;
		}
		if (r < 0) {
			if (bad_version && !ch->hello_received)
				r = -EPROTONOSUPPORT;
			channel_close_now(ch, r);
			break;
		}
		r = channel_dispatch(ch, &msg);
		/* A handler may have freed the channel (closed is then set,
		 * no on_close) or failed it asynchronously; its own error
		 * wins over a pending asynchronous one. */
		if (r < 0 && !ch->closed)
			channel_close_now(ch, r);
	}
	if (ch->ops.on_read_done && !ch->failed && !ch->freed)
		ch->ops.on_read_done(ch, ch->userdata);
	channel_leave(ch);
}

static int
channel_queue(struct wasp_ipc_channel *ch, uint16_t type, uint32_t seq, uint8_t flags,
	      const void *payload, size_t len, int *fd, bool owned)
{
	struct ipc_qmsg *q;

	if (ch->q_len >= WASP_IPC_MAX_QUEUE) {
		log_debug("ipc channel %d: output queue full", ch->fd);
		channel_fail_async(ch, -ENOBUFS);
		return -ENOBUFS;
	}
	q = malloc(sizeof(*q) + len);
	if (!q)
		return -ENOMEM;
	*q = (struct ipc_qmsg){ .fd = -1, .type = type, .flags = flags, .seq = seq, .len = len };
	if (len > 0)
		memcpy(q->data, payload, len);
	if (*fd >= 0) {
		if (owned) {
			q->fd = take_fd(fd);
		} else {
			q->fd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
			if (q->fd < 0) {
				int r = -errno;

				free(q);
				return r;
			}
		}
	}
	if (ch->q_tail)
		ch->q_tail->next = q;
	else
		ch->q_head = q;
	ch->q_tail = q;
	if (ch->q_len++ == 0 && event_add(ch->ev_write, NULL) < 0) {
		channel_fail_async(ch, -ENOMEM);
		return -ENOMEM;
	}
	return 0;
}

/* What we send keeps its row too: a message the peer would cut us off for
 * is refused here, where the sender's log says which and why. */
static int
channel_check_send(const struct wasp_ipc_channel *ch, uint16_t type, size_t len, int fd)
{
	const struct wasp_msg_contract *c = wasp_msg_contract(type);

	if (c && wasp_msg_check(c, len, fd >= 0) == 0)
		return 0;
	log_error("ipc channel %d: not sending message %u (%s): it breaks its contract (%zu "
		  "bytes, fd %s)",
		  ch->fd, type, c ? c->name : "unknown", len, fd >= 0 ? "yes" : "no");
	return -EINVAL;
}

int
wasp_ipc_channel_send(struct wasp_ipc_channel *ch, uint16_t type, uint32_t seq,
		      const void *payload, size_t len, int fd, unsigned flags)
{
	bool owned = flags & WASP_IPC_SEND_CLOSE_FD;
	_cleanup_close_ int owned_fd = owned ? fd : -1;
	uint8_t hflags = (uint8_t)(flags & 0xff);
	int r;

	assert(ch);
	assert((flags & ~(0xffu | WASP_IPC_SEND_CLOSE_FD)) == 0);
	if (ch->failed || ch->freed)
		return -ENOTCONN;
	if (ch->peer_gone)
		return -EPIPE;
	if (len > WASP_IPC_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (len > 0 && !payload)
		return -EINVAL;
	r = channel_check_send(ch, type, len, fd);
	if (r < 0)
		return r;

	if (!ch->q_head) {
		r = ipc_send(ch->fd, ch->pid, type, seq, hflags, payload, len, fd);
		if (r == 0)
			return 0; /* owned_fd is closed on return */
		if (r != -EAGAIN) {
			channel_send_failed(ch, r);
			return r;
		}
	}
	return channel_queue(ch, type, seq, hflags, payload, len, owned ? &owned_fd : &fd, owned);
}

struct wasp_ipc_channel *
wasp_ipc_channel_new(struct event_base *base, int sock, const struct wasp_ipc_channel_ops *ops,
		     void *userdata)
{
	_cleanup_close_ int fd = sock;
	struct wasp_ipc_channel *ch;
	struct wasp_msg_hello hello;
	socklen_t sl;
	int fl;

	assert(base);
	assert(sock >= 0);
	assert(ops);
	assert(ops->on_close);
	for (size_t i = 0; i < ops->n_handlers; i++) {
		assert(ops->handlers[i].fn);
		assert(ops->handlers[i].type != WASP_MSG_HELLO);
		assert(wasp_msg_contract(ops->handlers[i].type));
	}

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->fd = -1;
	ch->base = base;
	ch->ops = *ops;
	ch->userdata = userdata;
	ch->pid = getpid();
	ch->next_seq = 1;
	ch->rbuf = malloc(WASP_IPC_MAX_MSG);
	ch->ev_read = event_new(base, sock, EV_READ | EV_PERSIST, channel_on_read, ch);
	ch->ev_write = event_new(base, sock, EV_WRITE | EV_PERSIST, channel_on_write, ch);
	ch->ev_close = event_new(base, -1, 0, channel_on_close_event, ch);
	if (!ch->rbuf || !ch->ev_read || !ch->ev_write || !ch->ev_close) {
		channel_release(ch);
		return NULL;
	}
	ch->fd = take_fd(&fd);

	/* The channel never blocks, whatever the socket it was given. */
	fl = fcntl(ch->fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		(void)fcntl(ch->fd, F_SETFL, fl | O_NONBLOCK);

	sl = sizeof(ch->cred);
	ch->have_cred = getsockopt(ch->fd, SOL_SOCKET, SO_PEERCRED, &ch->cred, &sl) == 0 &&
			sl == sizeof(ch->cred) && ch->cred.pid > 0;

	if (event_add(ch->ev_read, NULL) < 0) {
		channel_fail_async(ch, -ENOMEM);
		return ch;
	}
	hello = (struct wasp_msg_hello){
		.version = WASP_IPC_VERSION,
		.role = (uint32_t)ops->role,
		.pid = (uint32_t)ch->pid,
	};
	/* Errors are reported through on_close from the loop. */
	(void)wasp_ipc_channel_send(ch, WASP_MSG_HELLO, 0, &hello, sizeof(hello), -1, 0);
	return ch;
}

struct wasp_ipc_channel *
wasp_ipc_channel_free(struct wasp_ipc_channel *ch)
{
	if (!ch || ch->freed)
		return NULL;
	ch->freed = ch->failed = ch->closed = true;
	if (ch->busy > 0) {
		/* Inside one of our callbacks: tear down now, release the
		 * memory when the callback unwinds. */
		channel_events_off(ch);
		(void)event_del(ch->ev_close);
		queue_drop(ch);
		ch->fd = safe_close(ch->fd);
		return NULL;
	}
	channel_release(ch);
	return NULL;
}

pid_t
wasp_ipc_channel_peer_pid(const struct wasp_ipc_channel *ch)
{
	return ch->peer_pid;
}

int
wasp_ipc_channel_peer_cred(const struct wasp_ipc_channel *ch, struct ucred *ret)
{
	assert(ret);
	if (!ch->have_cred)
		return -ENODATA;
	*ret = ch->cred;
	return 0;
}

bool
wasp_ipc_channel_peer_verified(const struct wasp_ipc_channel *ch)
{
	return ch->peer_verified;
}

uint32_t
wasp_ipc_channel_next_seq(struct wasp_ipc_channel *ch)
{
	uint32_t seq = ch->next_seq++;

	if (ch->next_seq == 0)
		ch->next_seq = 1; /* 0 means "not a reply" */
	return seq;
}

int
wasp_ipc_channel_fd(const struct wasp_ipc_channel *ch)
{
	return ch->fd;
}

size_t
wasp_ipc_channel_queued(const struct wasp_ipc_channel *ch)
{
	return ch->q_len;
}

void
wasp_ipc_channel_set_userdata(struct wasp_ipc_channel *ch, void *userdata)
{
	ch->userdata = userdata;
}
