/* The framing's system calls (wire.h); libc only. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wire.h"

int
wasp_wire_send(int sock, const void *hdr, size_t hdr_len, const void *payload, size_t len, int fd)
{
	union wasp_wire_control control;
	/* sendmsg does not write through iov_base; the casts only drop const. */
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)hdr, .iov_len = hdr_len },
		{ .iov_base = (void *)(uintptr_t)payload, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = &control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* SOCK_SEQPACKET sends a record whole or not at all. */
	return (size_t)n == hdr_len + len ? 0 : -EIO;
}

ssize_t
wasp_wire_recvmsg(int sock, struct msghdr *mh)
{
	for (bool reset_seen = false;;) {
		ssize_t n = recvmsg(sock, mh, MSG_CMSG_CLOEXEC);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET && !reset_seen) {
			reset_seen = true;
			continue;
		}
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

bool
wasp_wire_take_fds(struct msghdr *mh, int *fd)
{
	bool bad = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			bad = true;
			continue;
		}
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int x;

			memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0) {
				*fd = x;
			} else {
				(void)close(x);
				bad = true; /* more than one fd */
			}
		}
	}
	return bad;
}
