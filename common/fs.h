/* Files and directories: what several programs of wasp need the same way
 * (fs.c). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* With WASP_MKDIR_CHMOD, what wasp_mkdir_p() creates gets exactly the modes
 * asked for, whatever the umask. */
#define WASP_MKDIR_CHMOD 1u

/* mkdir -p: the missing parents of path with parent_mode, path itself with
 * mode (under the umask unless flags has WASP_MKDIR_CHMOD). What exists is
 * left as it is; trailing slashes are ignored. 0 or -errno. */
int wasp_mkdir_p(const char *path, mode_t parent_mode, mode_t mode, unsigned flags);

/* Read what is left of fd into a malloc'd buffer, NUL-terminated (*ret_len
 * without the NUL). -EFBIG when there are more than max bytes (no more than
 * max + 1 are read); -errno. */
int wasp_read_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* The same for the file at path. */
int wasp_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
