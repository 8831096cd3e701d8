/* Sealed memfds: how a payload too big for one IPC message (a configuration
 * generation) travels, immutable once sent. No libevent: the configuration
 * library links this without the channel. */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memfd.h"
#include "util.h"

#define MEMFD_SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

int
wasp_memfd_create_sealed(const char *name, const void *data, size_t len)
{
	_cleanup_close_ int fd = -1;
	size_t done = 0;

	assert(name);
	assert(data || len == 0);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)data + done, len - done, (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, MEMFD_SEALS_REQUIRED | F_SEAL_SEAL) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int
wasp_memfd_read(int fd, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t done = 0;
	int seals;

	assert(ret);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	/* Without these seals the sender could change the data under us. */
	if ((seals & MEMFD_SEALS_REQUIRED) != MEMFD_SEALS_REQUIRED)
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if (st.st_size < 0 || (uint64_t)st.st_size > max)
		return -EFBIG;

	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + done, (size_t)st.st_size - done, (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* cannot shrink while sealed */
		done += (size_t)n;
	}
	buf[done] = '\0';
	if (ret_len)
		*ret_len = done;
	*ret = TAKE_PTR(buf);
	return 0;
}
