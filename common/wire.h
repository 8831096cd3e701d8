/* The framing's system calls, libc only: one message (a header, a payload,
 * at most one descriptor) sent or received on a SOCK_SEQPACKET socket.
 * Shared by wasp's channels (ipc.c) and the installed libwasp-adapter
 * (adapter/), which compiles this file in: both write and read one
 * format, with no other code of wasp in the library. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Room for exactly one SCM_RIGHTS fd. */
union wasp_wire_control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* sendmsg() of hdr then payload (len may be 0), with fd when >= 0 (not
 * closed), EINTR retried. 0, -EAGAIN (nothing sent), -EIO (sent short),
 * -errno. */
int wasp_wire_send(int sock, const void *hdr, size_t hdr_len, const void *payload, size_t len,
		   int fd);
/* recvmsg() with MSG_CMSG_CLOEXEC, EINTR retried, and one ECONNRESET read
 * past (a peer that closed with our messages unread leaves it in front of
 * what it sent before it went; EOF follows them). n, or -errno (-EAGAIN). */
ssize_t wasp_wire_recvmsg(int sock, struct msghdr *mh);
/* The descriptors of a received mh: the first into *fd (-1 before), any
 * other closed. True when the control data was not exactly one SCM_RIGHTS
 * descriptor's worth (another kind, a second descriptor). */
bool wasp_wire_take_fds(struct msghdr *mh, int *fd);
