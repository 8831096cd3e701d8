/* Sealed memfds (memfd.c). */
#pragma once

#include <stddef.h>

/* Sealed memfds for payloads over WASP_IPC_MAX_PAYLOAD (config generations).
 * create: returns an fd (F_SEAL_SHRINK|GROW|WRITE|SEAL applied) or -errno.
 * read: checks the seals and size <= max, returns 0 with a malloc'd copy
 * (NUL-terminated for convenience; *ret_len excludes the NUL) or -errno. */
int wasp_memfd_create_sealed(const char *name, const void *data, size_t len);
int wasp_memfd_read(int fd, size_t max, char **ret, size_t *ret_len);
