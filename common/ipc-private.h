/* Shared by ipc.c (the framing) and ipc-channel.c (the channel); not
 * part of ipc.h's API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc.h"

/* util.h's TAKE_FD is a statement expression, which -Wpedantic rejects. */
static inline int
take_fd(int *fd)
{
	int r = *fd;

	*fd = -1;
	return r;
}

/* wasp_ipc_send() with the sender pid given (a channel caches its own). */
int ipc_send(int sock, pid_t pid, uint16_t type, uint32_t seq, uint8_t flags, const void *payload,
	     size_t len, int fd);

/* wasp_ipc_recv(); *ret_bad_version tells a channel that the peer speaks
 * another protocol version (reported as -EPROTONOSUPPORT before HELLO). */
int ipc_recv(int sock, void *buf, size_t size, struct wasp_ipc_msg *ret, bool *ret_bad_version);
