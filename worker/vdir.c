/* Virtual directory mapping and the one safe way to open content: every file
 * the worker serves is opened relative to its virtual directory's root
 * directory fd, with the kernel refusing any resolution that leaves it
 * (openat2 RESOLVE_BENEATH), or, on kernels without openat2, by walking the
 * path one component at a time with O_NOFOLLOW (every symbolic link refused).
 * vdir_open_ex() can let symbolic links resolve outside the root, for the
 * places where applicationHost.config sets staticContent's
 * allowSymbolicLinksOutsideRoot; a path with ".." is refused even then. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"
#include "worker.h"

#define ROOT_REVALIDATE_USEC 1000000

struct wvdir *
vdir_match(const struct wapp *app, const char *path, const char **ret_rel)
{
	for (size_t i = 0; i < app->n_vdirs; i++) {
		struct wvdir *v = &app->vdirs[i];
		const char *rest;

		if (v->url_len == 1) { /* "/" covers everything */
			rest = path;
		} else {
			if (strncasecmp(path, v->url, v->url_len) != 0)
				continue;
			rest = path + v->url_len;
			if (*rest != '\0' && *rest != '/')
				continue;
		}
		while (*rest == '/')
			rest++;
		*ret_rel = rest;
		return v;
	}
	return NULL;
}

void
vdir_close(struct wvdir *v)
{
	v->root_fd = safe_close(v->root_fd);
}

/* The root directory fd, opened on first use and re-opened when the path
 * now names another directory (a deployment swapped it), checked at most
 * once a second. */
static int
root_get(struct wvdir *v, uint64_t now_usec)
{
	struct stat st;
	int fd;

	if (v->root_fd >= 0) {
		if (now_usec - v->root_checked_usec < ROOT_REVALIDATE_USEC)
			return v->root_fd;
		if (stat(v->physical_path, &st) == 0 && st.st_dev == v->root_dev &&
		    st.st_ino == v->root_ino) {
			v->root_checked_usec = now_usec;
			return v->root_fd;
		}
		vdir_close(v);
	}
	fd = open(v->physical_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		safe_close(fd);
		return r;
	}
	v->root_fd = fd;
	v->root_dev = st.st_dev;
	v->root_ino = st.st_ino;
	v->root_checked_usec = now_usec;
	return fd;
}

/* Without openat2: one component at a time, no symbolic links at all. */
static int
open_walk(int root, const char *rel, int flags)
{
	_cleanup_close_ int dir = -1;
	int cur = root;
	const char *p = rel;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char comp[256];
		int fd;

		if (n >= sizeof(comp))
			return -ENAMETOOLONG;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (!slash || slash[1] == '\0') {
			fd = openat(cur, n ? comp : ".", flags | O_NOFOLLOW);
			if (fd < 0)
				return errno == ELOOP ? -ENOENT : -errno;
			return fd;
		}
		if (n == 0) {
			p = slash + 1;
			continue;
		}
		fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return (errno == ELOOP || errno == ENOTDIR) ? -ENOENT : -errno;
		safe_close(dir);
		dir = cur = fd;
		p = slash + 1;
	}
}

/* A ".." component, which normalisation has already removed: refused here
 * too, so that this function is safe on its own. */
static bool
has_dotdot(const char *rel)
{
	for (const char *p = rel; (p = strstr(p, "..")); p += 2)
		if ((p == rel || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

/* The path the kernel has for fd, into buf (size bytes). 0 or -errno. */
static int
fd_path(int fd, char *buf, size_t size)
{
	char proc[64];
	ssize_t n;

	(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size || buf[0] != '/')
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

/* RESOLVE_BENEATH refuses every absolute symbolic link, also one that
 * points inside the root again (a deployment tool's "/srv/www/site/v2/x"):
 * resolve with links followed anywhere, but only as an O_PATH fd (no open
 * of whatever lies outside), see where that is, and when it is under the
 * root, open that canonical path, which has no links left, beneath the root
 * again (a link swapped in meanwhile is refused, not followed). Only on
 * this rare path, after RESOLVE_BENEATH said EXDEV. -ENOENT when the
 * target is outside. */
static int
open_via_absolute_link(int root, const char *rel, const struct open_how *beneath)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int pfd = -1;
	char root_path[PATH_MAX], target[PATH_MAX];
	size_t rl;
	const char *sub;
	int fd;

	pfd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	if (pfd < 0)
		return errno == ELOOP || errno == ENOTDIR ? -ENOENT : -errno;
	if (fd_path(root, root_path, sizeof(root_path)) < 0 ||
	    fd_path(pfd, target, sizeof(target)) < 0)
		return -ENOENT;
	rl = strlen(root_path);
	if (rl == 1) /* the root is "/" */
		rl = 0;
	if (strncmp(target, root_path, rl) != 0 || (target[rl] != '/' && target[rl] != '\0'))
		return -ENOENT;
	sub = target + rl;
	while (*sub == '/')
		sub++;
	fd = (int)syscall(SYS_openat2, root, *sub ? sub : ".", beneath, sizeof(*beneath));
	if (fd < 0)
		return errno == EXDEV || errno == ELOOP || errno == ENOTDIR ? -ENOENT : -errno;
	return fd;
}

int
vdir_open(struct wvdir *v, const char *rel, int flags, uint64_t now_usec)
{
	return vdir_open_ex(v, rel, flags, false, now_usec);
}

int
vdir_open_ex(struct wvdir *v, const char *rel, int flags, bool links_outside_root,
	     uint64_t now_usec)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int root, fd;

	if (rel[0] == '/' || has_dotdot(rel) || strchr(rel, '\\'))
		return -ENOENT;
	root = root_get(v, now_usec);
	if (root < 0)
		return root;
	/* The configuration may allow symbolic links to leave the root
	 * (rel itself still has no ".." and no leading '/'). */
	if (links_outside_root)
		how.resolve = RESOLVE_NO_MAGICLINKS;
	if (!v->no_openat2) {
		fd = (int)syscall(SYS_openat2, root, rel[0] ? rel : ".", &how, sizeof(how));
		if (fd >= 0)
			return fd;
		switch (errno) {
		case ENOSYS:
		case E2BIG:
			v->no_openat2 = true;
			break;
		case EXDEV: /* resolution would leave the root, or an absolute link */
			return open_via_absolute_link(root, rel[0] ? rel : ".", &how);
		case ELOOP:
		case ENOTDIR:
			return -ENOENT;
		default:
			return -errno;
		}
	}
	if (links_outside_root) {
		fd = openat(root, rel[0] ? rel : ".", (int)how.flags);
		if (fd < 0)
			return (errno == ELOOP || errno == ENOTDIR) ? -ENOENT : -errno;
		return fd;
	}
	return open_walk(root, rel, (int)how.flags);
}
