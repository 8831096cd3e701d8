/* Files and directories (fs.h). */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "fs.h"
#include "util.h"

/* One directory of wasp_mkdir_p(): created with mode, or already there. */
static int
mkdir_one(const char *path, mode_t mode, unsigned flags)
{
	_cleanup_close_ int fd = -1;

	if (mkdir(path, mode) < 0)
		return errno == EEXIST ? 0 : -errno;
	if (!(flags & WASP_MKDIR_CHMOD))
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, mode) < 0)
		return -errno;
	return 0;
}

int
wasp_mkdir_p(const char *path, mode_t parent_mode, mode_t mode, unsigned flags)
{
	_cleanup_free_ char *p = NULL;
	size_t n = strlen(path);
	int r;

	if (n == 0)
		return -EINVAL;
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		r = mkdir_one(p, parent_mode, flags);
		if (r < 0)
			return r;
		*s = '/';
	}
	return mkdir_one(p, mode, flags);
}

int
wasp_read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t k;

		if (len + 1 >= cap) {
			char *p;

			cap = cap ? cap * 2 : 16384;
			/* room for max + 1 bytes and the NUL, no more */
			if (cap > max + 2)
				cap = max + 2;
			p = realloc(buf, cap);
			if (!p)
				return -ENOMEM;
			buf = p;
		}
		k = read(fd, buf + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int
wasp_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	return wasp_read_fd(fd, max, ret, ret_len);
}
