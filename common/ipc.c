/* The IPC framing: messages sent and received with at most one fd, the
 * message table's contracts checked at run time, and the checked reader
 * and writer of payloads (the libevent-driven channel: ipc-channel.c;
 * sealed memfds for big payloads: memfd.c). With ipc-channel.c the only
 * code in wasp that calls sendmsg/recvmsg on the internal channels, so the
 * framing, the fd rules and the size checks are enforced in one place. */
#include <assert.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipc.h"
#include "ipc-private.h"
#include "log.h"
#include "util.h"
#include "wire.h"

static int
ipc_socketpair(int type, int ret_fds[2])
{
	int fds[2];

	assert(ret_fds);
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	ret_fds[0] = fds[0];
	ret_fds[1] = fds[1];
	return 0;
}

int
wasp_ipc_socketpair(int ret_fds[2])
{
	return ipc_socketpair(SOCK_SEQPACKET | SOCK_NONBLOCK, ret_fds);
}

int
wasp_ipc_socketpair_blocking(int ret_fds[2])
{
	return ipc_socketpair(SOCK_SEQPACKET, ret_fds);
}

/* wasp_ipc_send with the sender pid given (a channel caches its own). */
int
ipc_send(int sock, pid_t pid, uint16_t type, uint32_t seq, uint8_t flags, const void *payload,
	 size_t len, int fd)
{
	struct wasp_ipc_hdr hdr;

	if (len > WASP_IPC_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (len > 0 && !payload)
		return -EINVAL;

	hdr = (struct wasp_ipc_hdr){
		.len = (uint32_t)(WASP_IPC_HDR_SIZE + len),
		.type = type,
		.version = WASP_IPC_VERSION,
		.flags = (uint8_t)((flags & ~WASP_IPC_F_HAS_FD) | (fd >= 0 ? WASP_IPC_F_HAS_FD : 0)),
		.seq = seq,
		.pid = (uint32_t)pid,
	};
	return wasp_wire_send(sock, &hdr, sizeof(hdr), payload, len, fd);
}

int
wasp_ipc_send(int sock, uint16_t type, uint32_t seq, uint8_t flags, const void *payload,
	      size_t len, int fd)
{
	return ipc_send(sock, getpid(), type, seq, flags, payload, len, fd);
}

/* wasp_ipc_recv; *ret_bad_version tells a channel that the peer speaks
 * another protocol version (reported as -EPROTONOSUPPORT before HELLO). */
int
ipc_recv(int sock, void *buf, size_t size, struct wasp_ipc_msg *ret, bool *ret_bad_version)
{
	union wasp_wire_control control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		/* CMSG_LEN, not CMSG_SPACE: on LP64 the padding of CMSG_SPACE(4)
		 * would leave room for a second fd, which must instead show up
		 * as MSG_CTRUNC. */
		.msg_controllen = CMSG_LEN(sizeof(int)),
	};
	_cleanup_close_ int fd = -1;
	bool bad_cmsg, fd_lost = false;
	struct wasp_ipc_hdr hdr;
	ssize_t n;

	assert(buf);
	assert(ret);
	if (size < WASP_IPC_MAX_MSG)
		return -EINVAL;

	n = wasp_wire_recvmsg(sock, &mh);
	if (n < 0)
		return (int)n;

	/* Take every fd that arrived before judging the message, so that all
	 * of them are closed on any error below. */
	bad_cmsg = wasp_wire_take_fds(&mh, &fd);

	/* MSG_CTRUNC with no fd received: the kernel could not install the
	 * peer's fd (we are at RLIMIT_NOFILE) and dropped it. The message
	 * itself is whole; whether that is acceptable is the channel's call. */
	if ((mh.msg_flags & MSG_CTRUNC) && fd < 0 && !bad_cmsg && !(mh.msg_flags & MSG_TRUNC))
		fd_lost = true;
	else if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
		return -EBADMSG;
	if (bad_cmsg)
		return -EBADMSG;
	if (n == 0)
		return fd >= 0 ? -EBADMSG : 0; /* EOF; an fd cannot come with it */
	if ((size_t)n < WASP_IPC_HDR_SIZE)
		return -EBADMSG;
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.version != WASP_IPC_VERSION) {
		if (ret_bad_version)
			*ret_bad_version = true;
		return -EBADMSG;
	}
	if (hdr.len != (size_t)n || (size_t)n > WASP_IPC_MAX_MSG)
		return -EBADMSG;
	if (!!(hdr.flags & WASP_IPC_F_HAS_FD) != (fd >= 0 || fd_lost))
		return -EBADMSG;

	*ret = (struct wasp_ipc_msg){
		.hdr = hdr,
		.payload = (const uint8_t *)buf + WASP_IPC_HDR_SIZE,
		.len = (size_t)n - WASP_IPC_HDR_SIZE,
		.fd = take_fd(&fd),
		.fd_lost = fd_lost,
	};
	return 1;
}

int
wasp_ipc_recv(int sock, void *buf, size_t size, struct wasp_ipc_msg *ret)
{
	return ipc_recv(sock, buf, size, ret, NULL);
}

/* --- The message table at run time --- */

#define IPC_CONTRACT(NAME, name, num, shape, type, size, fd) \
	{ #NAME, WASP_MSG_##NAME, WASP_MSG_SHAPE_##shape, WASP_MSG_FD_##fd, size },
static const struct wasp_msg_contract ipc_contracts[] = { WASP_MSG_TABLE(IPC_CONTRACT) };

#define IPC_ASSERT_FITS(NAME, name, num, shape, type, size, fd) \
	_Static_assert((size) <= WASP_IPC_MAX_PAYLOAD, "WASP_MSG_" #NAME " does not fit");
WASP_MSG_TABLE(IPC_ASSERT_FITS)

#define IPC_INDEX(NAME, name, num, shape, type, size, fd) IPC_INDEX_##NAME,
enum { WASP_MSG_TABLE(IPC_INDEX) };

/* A switch: no search on every message, and two rows with one number do
 * not compile (duplicate case). */
#define IPC_CASE(NAME, name, num, shape, type, size, fd) \
	case WASP_MSG_##NAME: \
		return &ipc_contracts[IPC_INDEX_##NAME];

const struct wasp_msg_contract *
wasp_msg_contract(uint16_t type)
{
	switch (type) {
		WASP_MSG_TABLE(IPC_CASE)
	default:
		return NULL;
	}
}

int
wasp_msg_check(const struct wasp_msg_contract *c, size_t len, bool has_fd)
{
	bool len_ok = false;

	assert(c);
	switch ((enum wasp_msg_shape)c->shape) {
	case WASP_MSG_SHAPE_EMPTY:
		len_ok = len == 0;
		break;
	case WASP_MSG_SHAPE_FIXED:
	case WASP_MSG_SHAPE_CHANNEL:
		len_ok = len == c->size;
		break;
	case WASP_MSG_SHAPE_VAR:
		len_ok = len >= c->size;
		break;
	case WASP_MSG_SHAPE_ARRAY:
		len_ok = len >= c->size && len % c->size == 0;
		break;
	}
	if (!len_ok || has_fd != (c->fd == WASP_MSG_FD_REQUIRED))
		return -EBADMSG;
	return 0;
}

/* --- Reader --- */

void
wasp_ipc_reader_init(struct wasp_ipc_reader *r, const void *data, size_t len)
{
	assert(r);
	assert(data || len == 0);
	*r = (struct wasp_ipc_reader){ .p = data, .left = len };
}

const void *
wasp_ipc_get_bytes(struct wasp_ipc_reader *r, size_t n)
{
	static const uint8_t empty[1];
	const uint8_t *p;

	if (r->error || n > r->left) {
		r->error = true;
		return NULL;
	}
	p = r->p ? r->p : empty;
	r->p = p + n;
	r->left -= n;
	return p;
}

bool
wasp_ipc_reader_done(const struct wasp_ipc_reader *r)
{
	return !r->error && r->left == 0;
}

/* --- Writer --- */

void
wasp_ipc_writer_init(struct wasp_ipc_writer *w, void *buf, size_t size)
{
	assert(w);
	assert(buf || size == 0);
	*w = (struct wasp_ipc_writer){ .buf = buf, .size = size };
}

void
wasp_ipc_put_bytes(struct wasp_ipc_writer *w, const void *p, size_t n)
{
	if (w->error || n > w->size - w->len) {
		w->error = true;
		return;
	}
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}
