/* The IPC channel every wasp process uses to talk to the others: AF_UNIX
 * SOCK_SEQPACKET socketpairs carrying messages with a fixed 16-byte header,
 * at most one fd per message (SCM_RIGHTS), a HELLO with the protocol version
 * first on every channel, and every message checked against its row of the
 * message table (msg.h: length and fd) before it is dispatched to the
 * receiver's handler. ipc.c is the only code in wasp that calls
 * sendmsg/recvmsg on these channels; the typed senders below are generated
 * from the table. docs/adapter-protocol.md says what the messages mean, what
 * a handler may rely on, and in which order messages come. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "msg.h"

struct event_base;
struct ucred;

#define WASP_IPC_HDR_SIZE 16
#define WASP_IPC_MAX_MSG 65536 /* header included; bigger payloads go as a sealed memfd */
#define WASP_IPC_MAX_PAYLOAD (WASP_IPC_MAX_MSG - WASP_IPC_HDR_SIZE)
#define WASP_IPC_MAX_QUEUE 4096 /* messages queued on one channel before it is cut off */

/* Header flags. */
#define WASP_IPC_F_HAS_FD 0x01 /* an fd travels with this message */
#define WASP_IPC_F_LAST 0x02   /* last message of a multi-part reply */

/* Wire header, host byte order (both ends are on the same host). */
struct wasp_ipc_hdr {
	uint32_t len; /* whole message, header included */
	uint16_t type;
	uint8_t version;
	uint8_t flags;
	uint32_t seq; /* correlates a request and its reply */
	uint32_t pid; /* sender's pid */
};

/* A received message. payload points into the receive buffer (valid until
 * the next receive); fd is -1 or an fd the handler now owns (it must close
 * it or hand it on). fd_lost: the sender attached an fd that the kernel
 * could not give us (no free descriptor: MSG_CTRUNC with none received);
 * fd is -1 then. */
struct wasp_ipc_msg {
	struct wasp_ipc_hdr hdr;
	const uint8_t *payload;
	size_t len;
	int fd;
	bool fd_lost;
};

/* SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC pair. 0 or -errno. */
int wasp_ipc_socketpair(int ret_fds[2]);
/* Same, blocking (for synchronous tools such as waspctl or tests). */
int wasp_ipc_socketpair_blocking(int ret_fds[2]);

/* Send one message (fd < 0: none). Does not close fd. Returns 0, -EAGAIN
 * when the socket is full (nothing sent), -EMSGSIZE, or another -errno. */
int wasp_ipc_send(int sock, uint16_t type, uint32_t seq, uint8_t flags, const void *payload,
		  size_t len, int fd);

/* Receive and validate one message into buf (size >= WASP_IPC_MAX_MSG).
 * Returns 1 with *ret filled, 0 on EOF, -EAGAIN, or -EBADMSG for a protocol
 * error: short or oversized message, length field not matching the bytes
 * read, wrong version, MSG_CTRUNC, more than one fd, an fd without HAS_FD or
 * HAS_FD without an fd. On error any fd that arrived is closed. */
int wasp_ipc_recv(int sock, void *buf, size_t size, struct wasp_ipc_msg *ret);

/* Checked payload reader and writer, for the VAR messages (a payload struct
 * followed by bytes whose lengths it gives: HANDOFF, HANDBACK). Every get
 * and put checks bounds; after the first failure error is set and sticks,
 * and gets return NULL. */
struct wasp_ipc_reader {
	const uint8_t *p;
	size_t left;
	bool error;
};

void wasp_ipc_reader_init(struct wasp_ipc_reader *r, const void *data, size_t len);
/* Points into the payload; NULL (and error) when fewer than n bytes are left. */
const void *wasp_ipc_get_bytes(struct wasp_ipc_reader *r, size_t n);
/* True when no error occurred and every byte was consumed. */
bool wasp_ipc_reader_done(const struct wasp_ipc_reader *r);

struct wasp_ipc_writer {
	uint8_t *buf;
	size_t size;
	size_t len;
	bool error;
};

void wasp_ipc_writer_init(struct wasp_ipc_writer *w, void *buf, size_t size);
void wasp_ipc_put_bytes(struct wasp_ipc_writer *w, const void *p, size_t n);

/* --- Channel: a libevent-driven endpoint with an output queue --- */

struct wasp_ipc_channel;

/* Handler for one message type. The fd in msg (if any) belongs to the handler.
 * Return 0, or < 0 to cut the peer off (the channel then reports
 * closed with that error). */
typedef int (*wasp_ipc_handler_fn)(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg,
				   void *userdata);
/* Called once when the channel closes: peer EOF (err 0), protocol error
 * (-EBADMSG/-EPROTO), version or role mismatch (-EPROTONOSUPPORT), queue
 * overflow (-ENOBUFS) or a handler's error. The owner frees the channel
 * (it may do so inside this callback). */
typedef void (*wasp_ipc_close_fn)(struct wasp_ipc_channel *ch, int err, void *userdata);

/* A receiver lists the types it takes and nothing else: the channel checks
 * each message against its row of WASP_MSG_TABLE (msg.h) before the handler
 * runs, so a handler sees a length its row allows (FIXED: exactly the
 * payload struct; VAR: at least it; ARRAY: a whole number of them, at least
 * one; EMPTY: none) and an fd exactly where its row requires one (fd -1 with
 * fd_lost set where the channel's fd_may_be_lost lets a dropped fd through).
 * Whatever breaks its row, or has no handler, cuts the peer off. */
struct wasp_ipc_handler {
	uint16_t type;
	wasp_ipc_handler_fn fn;
};

struct wasp_ipc_channel_ops {
	enum wasp_ipc_role role;      /* ours, sent in HELLO */
	enum wasp_ipc_role peer_role; /* the one we accept in the peer's HELLO */
	const struct wasp_ipc_handler *handlers;
	size_t n_handlers;
	wasp_ipc_close_fn on_close;
	/* Optional: called after the peer's HELLO was accepted. */
	void (*on_hello)(struct wasp_ipc_channel *ch, const struct wasp_msg_hello *hello,
			 void *userdata);
	/* Optional: called once the messages read on one wakeup were dispatched
	 * (the socket was empty, or a batch limit was reached), so that a
	 * handler can defer work and do it once per batch (one reply for many
	 * requests). Not called when the channel closed meanwhile. */
	void (*on_read_done)(struct wasp_ipc_channel *ch, void *userdata);
	/* A message whose fd could not be received (fd_lost: we are out of
	 * descriptors) goes to its handler (its row requires an fd) with fd -1
	 * instead of closing the channel as a protocol error. */
	bool fd_may_be_lost;
};

/* Take ownership of sock (non-blocking SEQPACKET), send our HELLO, and start
 * reading. Messages other than HELLO before the peer's HELLO are a protocol
 * error; so are a type without a handler in ops and a message that breaks
 * its row of the table. NULL on OOM (sock is closed). */
struct wasp_ipc_channel *wasp_ipc_channel_new(struct event_base *base, int sock,
					      const struct wasp_ipc_channel_ops *ops,
					      void *userdata);
/* Stop events, close the socket and any queued fds. NULL-safe; returns NULL. */
struct wasp_ipc_channel *wasp_ipc_channel_free(struct wasp_ipc_channel *ch);

/* Flag for wasp_ipc_channel_send: the channel owns fd and closes it once the
 * message is on the wire (or when the channel is freed). Without it the fd
 * is dup'ed when the message must be queued. With it, the channel takes the
 * fd even when the send fails (it is closed then), so the caller never
 * closes it. */
#define WASP_IPC_SEND_CLOSE_FD 0x100

/* Send now, or queue when the socket is full (write interest re-armed only
 * while the queue is non-empty). Returns 0 or -errno: -EINVAL (logged, the
 * channel stays open) for a message that breaks its row of the table; on
 * -ENOBUFS (queue full) the channel is closed asynchronously; -ENOTCONN once
 * the channel is closing; -EPIPE/-ECONNRESET when the peer is gone (what it
 * sent before is still dispatched, then on_close(0)). */
int wasp_ipc_channel_send(struct wasp_ipc_channel *ch, uint16_t type, uint32_t seq,
			  const void *payload, size_t len, int fd, unsigned flags);

/* Typed senders, one per row of WASP_MSG_TABLE, so that a caller cannot
 * pass a wrong size or forget an fd:
 *   EMPTY            wasp_send_drain(ch, seq)
 *   FIXED, no fd     wasp_send_pool_state(ch, seq, &msg)
 *   FIXED, with fd   wasp_send_worker_config(ch, seq, &msg, fd, flags)
 *   ARRAY            wasp_send_handoff_ack(ch, seq, refs, n)
 * flags as for wasp_ipc_channel_send (WASP_IPC_SEND_CLOSE_FD, header flags).
 * VAR messages are built with wasp_ipc_writer and sent with
 * wasp_ipc_channel_send; HELLO is the channel's own. */
#define WASP_IPC_SENDER_EMPTY_NONE(name, NAME, type) \
	static inline int wasp_send_##name(struct wasp_ipc_channel *ch, uint32_t seq) \
	{ \
		return wasp_ipc_channel_send(ch, WASP_MSG_##NAME, seq, NULL, 0, -1, 0); \
	}
#define WASP_IPC_SENDER_FIXED_NONE(name, NAME, type) \
	static inline int wasp_send_##name(struct wasp_ipc_channel *ch, uint32_t seq, \
					   const type *m) \
	{ \
		return wasp_ipc_channel_send(ch, WASP_MSG_##NAME, seq, m, sizeof(*m), -1, 0); \
	}
#define WASP_IPC_SENDER_FIXED_REQUIRED(name, NAME, type) \
	static inline int wasp_send_##name(struct wasp_ipc_channel *ch, uint32_t seq, \
					   const type *m, int fd, unsigned flags) \
	{ \
		return wasp_ipc_channel_send(ch, WASP_MSG_##NAME, seq, m, sizeof(*m), fd, flags); \
	}
#define WASP_IPC_SENDER_ARRAY_NONE(name, NAME, type) \
	static inline int wasp_send_##name(struct wasp_ipc_channel *ch, uint32_t seq, \
					   const type *m, size_t n) \
	{ \
		if (n == 0 || n > WASP_IPC_MAX_PAYLOAD / sizeof(*m)) \
			return -EMSGSIZE; \
		return wasp_ipc_channel_send(ch, WASP_MSG_##NAME, seq, m, n * sizeof(*m), -1, 0); \
	}
#define WASP_IPC_SENDER_VAR_REQUIRED(name, NAME, type)
#define WASP_IPC_SENDER_VAR_NONE(name, NAME, type)
#define WASP_IPC_SENDER_CHANNEL_NONE(name, NAME, type)
#define WASP_IPC_SENDER_(NAME, name, num, shape, type, size, fd) \
	WASP_IPC_SENDER_##shape##_##fd(name, NAME, type)
WASP_MSG_TABLE(WASP_IPC_SENDER_)

/* The peer's pid from its HELLO (0 before), SO_PEERCRED credentials, and the
 * next sequence number for a request. */
pid_t wasp_ipc_channel_peer_pid(const struct wasp_ipc_channel *ch);
uint32_t wasp_ipc_channel_next_seq(struct wasp_ipc_channel *ch);
int wasp_ipc_channel_fd(const struct wasp_ipc_channel *ch);
size_t wasp_ipc_channel_queued(const struct wasp_ipc_channel *ch);
void wasp_ipc_channel_set_userdata(struct wasp_ipc_channel *ch, void *userdata);
/* SO_PEERCRED of the socket as read at creation: 0, or -ENODATA. For a
 * socketpair these name the process that created the pair (the activator
 * makes the handoff pairs for two other processes), so they need not match
 * the HELLO pid. */
int wasp_ipc_channel_peer_cred(const struct wasp_ipc_channel *ch, struct ucred *ret);
/* True when the peer's HELLO pid equals the SO_PEERCRED pid: the kernel
 * vouches for it (an accept()ed connection, or a pair made by the peer). */
bool wasp_ipc_channel_peer_verified(const struct wasp_ipc_channel *ch);
