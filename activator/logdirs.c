/* Log directories: before the listener starts, waspd prepares the
 * HTTPERR directory (common/httperr.h) for the listener's user (root's or
 * the listener's own is given to it; anyone else's is left alone); before any
 * worker starts, it prepares
 * <logFile directory>/W3SVC<id> for every site that logs, so that the
 * workers of every pool serving the site (which run as the pools'
 * identities, identity.c) can create and append its W3C files
 * (worker/logwriter.c). Once per site at configuration load.
 *
 *  - <directory> (and missing parents): created 0755 when missing, never
 *    changed when it exists (it is the operator's);
 *  - W3SVC<id>: created when missing, and as root given to its pools each
 *    time: one identity (all the site's applications in one pool, or pools
 *    sharing a uid): owned by it, 0750; several: owned by root, 0770, with
 *    a POSIX ACL (access and default) granting each pool's uid rwx, so the
 *    files any of them creates (0660, the mask) are appendable by all the
 *    others; only root identities (LocalSystem): root's, 0750.
 *  - W3SVC<id> is opened with O_NOFOLLOW and changed through that fd only:
 *    a symbolic link (or anything not a directory) is refused, and an
 *    existing directory owned by a uid that is neither root nor a pool
 *    identity is left alone, both with a warning.
 * As an ordinary user the directories are only created. Anything that
 * fails is a warning naming the path: the site's workers then warn and drop
 * their lines as before, and requests are served. See docs/design.md. */
#include <fcntl.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <endian.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "apphost.h"
#include "fs.h"
#include "httperr.h"
#include "log.h"
#include "waspd.h"

#define ACL_XATTR_ACCESS "system.posix_acl_access"
#define ACL_XATTR_DEFAULT "system.posix_acl_default"

/* The identities that write one site's log: distinct non-root uids. */
#define WRITERS_INLINE 4

struct writers {
	uid_t *uids;
	gid_t *gids;
	const char **pools; /* the first pool seen with each uid */
	size_t n;
	size_t n_root; /* pools running as root (need nothing) */
	/* a site of a few applications (most): no allocation per site */
	uid_t uid_buf[WRITERS_INLINE];
	gid_t gid_buf[WRITERS_INLINE];
	const char *pool_buf[WRITERS_INLINE];
};

/* Does the worker's HttpLoggingModule write this site's log? (The same
 * conditions as worker/modules/mod_httplog.c.) */
static bool
site_logs(const struct wasp_site *s)
{
	const char *dir = s->log_file.directory;

	return s->log_file.enabled && s->log_file.log_format &&
	       strcaseeq(s->log_file.log_format, "W3C") && (s->log_file.log_target_w3c & 1) &&
	       s->log_file.log_ext_file_flags != 0 && dir && dir[0] == '/' && !strchr(dir, '%');
}

static int
writers_collect(struct wasp_env *env, const struct wasp_site *s, struct writers *w)
{
	size_t cap = s->n_apps ? s->n_apps : 1;

	if (cap <= WRITERS_INLINE) {
		w->uids = w->uid_buf;
		w->gids = w->gid_buf;
		w->pools = w->pool_buf;
	} else {
		w->uids = calloc(cap, sizeof(*w->uids));
		w->gids = calloc(cap, sizeof(*w->gids));
		w->pools = calloc(cap, sizeof(*w->pools));
		if (!w->uids || !w->gids || !w->pools)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_apps; i++) {
		const struct pool *p;
		bool seen = false;

		if (s->apps[i].pool_id >= env->n_pools)
			continue;
		p = &env->pools[s->apps[i].pool_id];
		if (p->ident_error < 0)
			continue; /* it never starts */
		if (!p->ident.change || p->ident.uid == 0) {
			w->n_root++;
			continue;
		}
		for (size_t k = 0; k < w->n && !seen; k++)
			seen = w->uids[k] == p->ident.uid;
		if (seen)
			continue;
		/* sorted by uid: the order the kernel wants ACL_USER entries in */
		size_t k = w->n;
		while (k > 0 && w->uids[k - 1] > p->ident.uid) {
			w->uids[k] = w->uids[k - 1];
			w->gids[k] = w->gids[k - 1];
			w->pools[k] = w->pools[k - 1];
			k--;
		}
		w->uids[k] = p->ident.uid;
		w->gids[k] = p->ident.gid;
		w->pools[k] = p->name;
		w->n++;
	}
	return 0;
}

static void
writers_done(struct writers *w)
{
	if (w->uids == w->uid_buf)
		return;
	free(w->uids);
	free(w->gids);
	free(w->pools);
}

/* May waspd take over an existing W3SVC<id> owned by uid? Root's, and the
 * identities wasp gives pools (this configuration's, or any in the
 * ApplicationPoolIdentity range: a pool renamed since), yes; anyone else's
 * is somebody's decision, left alone. */
static bool
owner_is_ours(const struct wasp_env *env, uid_t uid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	if (uid >= env->uid_first && uid <= env->uid_last)
		return true;
	for (size_t i = 0; i < env->n_pools; i++)
		if (env->pools[i].ident_error == 0 && env->pools[i].ident.change &&
		    env->pools[i].ident.uid == uid)
			return true;
	return false;
}

static void
acl_entry(struct posix_acl_xattr_entry *e, uint16_t tag, uint16_t perm, uint32_t id)
{
	e->e_tag = htole16(tag);
	e->e_perm = htole16(perm);
	e->e_id = htole32(id);
}

/* Owner rwx, each writer rwx, owning group and others nothing, as the
 * access ACL and as the default ACL (which new files inherit, masked by
 * the mode they are created with). */
static int
acl_set(int fd, const struct writers *w)
{
	const uint16_t rwx = ACL_READ | ACL_WRITE | ACL_EXECUTE;
	size_t size = sizeof(struct posix_acl_xattr_header) +
		      (w->n + 4) * sizeof(struct posix_acl_xattr_entry);
	_cleanup_free_ char *buf = calloc(1, size);
	struct posix_acl_xattr_header *h = (struct posix_acl_xattr_header *)(void *)buf;
	struct posix_acl_xattr_entry *e;
	size_t k = 0;

	if (!buf)
		return -ENOMEM;
	h->a_version = htole32(POSIX_ACL_XATTR_VERSION);
	e = (struct posix_acl_xattr_entry *)(void *)(buf + sizeof(*h));
	acl_entry(&e[k++], ACL_USER_OBJ, rwx, (uint32_t)ACL_UNDEFINED_ID);
	for (size_t i = 0; i < w->n; i++)
		acl_entry(&e[k++], ACL_USER, rwx, (uint32_t)w->uids[i]);
	acl_entry(&e[k++], ACL_GROUP_OBJ, 0, (uint32_t)ACL_UNDEFINED_ID);
	acl_entry(&e[k++], ACL_MASK, rwx, (uint32_t)ACL_UNDEFINED_ID);
	acl_entry(&e[k++], ACL_OTHER, 0, (uint32_t)ACL_UNDEFINED_ID);
	if (fsetxattr(fd, ACL_XATTR_ACCESS, buf, size, 0) < 0)
		return -errno;
	if (fsetxattr(fd, ACL_XATTR_DEFAULT, buf, size, 0) < 0)
		return -errno;
	return 0;
}

/* Back to plain permission bits (the site now has one writer). */
static int
acl_drop(int fd)
{
	static const char *const names[] = { ACL_XATTR_DEFAULT, ACL_XATTR_ACCESS };

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (fremovexattr(fd, names[i]) < 0 && errno != ENODATA && errno != EOPNOTSUPP)
			return -errno;
	return 0;
}

/* Owned by uid:gid, 0750, no ACL. */
static int
give_to(int fd, uid_t uid, gid_t gid)
{
	int r;

	r = neg_errno(fchown(fd, uid, gid));
	if (r < 0)
		return r;
	r = acl_drop(fd);
	if (r < 0)
		return r;
	return neg_errno(fchmod(fd, 0750));
}

/* Root's, 0770, the writers in the ACL. */
static int
share(int fd, const struct writers *w)
{
	int r;

	r = neg_errno(fchown(fd, 0, 0));
	if (r < 0)
		return r;
	r = neg_errno(fchmod(fd, 0770)); /* clears set-id and sticky bits */
	if (r < 0)
		return r;
	return acl_set(fd, w);
}

/* Give site s's log directory (fd, at path) to the identities of its pools:
 * one owner, or a POSIX ACL when they are several. Problems are warnings. */
static int
site_give(const struct wasp_site *s, int fd, const char *path, const struct writers *w)
{
	int r;

	if (w->n == 0) {
		r = give_to(fd, 0, 0);
		if (r >= 0)
			log_info("site %u: log directory '%s' is root's (its pools run as root)",
				 s->id, path);
	} else if (w->n == 1) {
		r = give_to(fd, w->uids[0], w->gids[0]);
		if (r >= 0)
			log_info("site %u: log directory '%s' belongs to pool '%s' (uid %u)", s->id,
				 path, w->pools[0], (unsigned)w->uids[0]);
	} else {
		r = share(fd, w);
		if (r >= 0)
			log_info("site %u: log directory '%s' is shared by %zu pool identities "
				 "(POSIX ACL)",
				 s->id, path, w->n);
		else if (r == -EOPNOTSUPP || r == -E2BIG || r == -ENOSPC) {
			/* No ACLs here: one pool at least can log. */
			log_warning_errno(r, "site %u: cannot share log directory '%s' between "
					     "%zu pools with a POSIX ACL; only pool '%s' can write "
					     "in it, the other pools' lines are dropped",
					  s->id, path, w->n, w->pools[0]);
			r = give_to(fd, w->uids[0], w->gids[0]);
		}
	}
	if (r < 0)
		log_warning_errno(r, "site %u: cannot give log directory '%s' to its pools, "
				     "ignoring",
				  s->id, path);
	return r < 0 ? -1 : 0;
}

/* 0 when the directory is as it should be (or as an ordinary user,
 * created), -1 after a warning. */
static int
site_prepare(struct wasp_env *env, const struct wasp_site *s, const struct writers *w)
{
	const char *dir = s->log_file.directory;
	_cleanup_close_ int dfd = -1, fd = -1;
	_cleanup_free_ char *path = NULL;
	char name[24];
	bool created = false;
	struct stat st;
	int r;

	(void)snprintf(name, sizeof(name), "W3SVC%u", s->id);
	if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0) {
		(void)log_errno(-ENOMEM, "site %u: log directory", s->id);
		return -1;
	}
	r = wasp_mkdir_p(dir, 0755, 0755, WASP_MKDIR_CHMOD);
	if (r < 0) {
		log_warning_errno(r, "site %u: cannot create log directory '%s', ignoring", s->id,
				  dir);
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		log_warning_errno(-errno, "site %u: cannot open log directory '%s', ignoring",
				  s->id, dir);
		return -1;
	}
	if (mkdirat(dfd, name, 0750) == 0)
		created = true;
	else if (errno != EEXIST) {
		log_warning_errno(-errno, "site %u: cannot create log directory '%s', ignoring",
				  s->id, path);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP || r == -ENOTDIR)
			log_warning("site %u: log directory '%s' is a symbolic link or not a "
				    "directory; leaving it alone",
				    s->id, path);
		else
			log_warning_errno(r, "site %u: cannot open log directory '%s', ignoring",
					  s->id, path);
		return -1;
	}
	if (!env->is_root) {
		if (created)
			(void)fchmod(fd, 0750); /* whatever the umask */
		log_debug("site %u: log directory '%s' ready", s->id, path);
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		log_warning_errno(-errno, "site %u: cannot stat log directory '%s', ignoring",
				  s->id, path);
		return -1;
	}
	if (!created && !owner_is_ours(env, st.st_uid)) {
		log_warning("site %u: log directory '%s' belongs to uid %u, which is neither "
			    "root nor an application pool's; leaving it as it is",
			    s->id, path, (unsigned)st.st_uid);
		return -1;
	}
	return site_give(s, fd, path, w);
}

/* The HTTPERR directory (common/httperr.h), written by the listener: created
 * 0750 when missing (with parents 0755) and, as root, given to the
 * listener's identity each time; anything but a directory is left alone. */
static void
httperr_prepare(struct wasp_env *env)
{
	struct wasp_httperr_settings hs;
	_cleanup_close_ int fd = -1;
	const char *bad = NULL;
	struct stat st;
	int r;

	if (wasp_httperr_settings(&hs, &bad) < 0 || !hs.enabled)
		return; /* the listener says why */
	r = wasp_mkdir_p(hs.dir, 0755, 0750, WASP_MKDIR_CHMOD);
	if (r < 0) {
		log_warning_errno(r, "cannot create the HTTPERR log directory '%s', ignoring",
				  hs.dir);
		return;
	}
	fd = open(hs.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_warning_errno(-errno, "HTTPERR log directory '%s': leaving it alone", hs.dir);
		return;
	}
	if (!env->is_root || !env->listener_ident.change)
		return;
	if (fstat(fd, &st) < 0)
		return;
	if (st.st_uid == env->listener_ident.uid && st.st_gid == env->listener_ident.gid)
		return;
	if (st.st_uid != 0 && st.st_uid != env->listener_ident.uid) {
		log_warning("HTTPERR log directory '%s' belongs to uid %u, neither root nor the "
			    "listener's; leaving it as it is",
			    hs.dir, (unsigned)st.st_uid);
		return;
	}
	r = neg_errno(fchown(fd, env->listener_ident.uid, env->listener_ident.gid));
	if (r >= 0)
		r = neg_errno(fchmod(fd, 0750));
	if (r < 0)
		log_warning_errno(r, "cannot give the HTTPERR log directory '%s' to %s, ignoring",
				  hs.dir, env->listener_ident.name);
	else
		log_info("HTTPERR log directory '%s' belongs to %s", hs.dir,
			 env->listener_ident.name);
}

/* ---- what was prepared ------------------------------------------------- */

/* What a site's directory was made from: its path and who writes it. */
static uint64_t
site_print(const struct wasp_env *env, const struct wasp_site *s, const struct writers *w)
{
	uint64_t h = UINT64_C(14695981039346656037);
	const char *dir = s->log_file.directory;

#define MIX(v) (h = (h ^ (uint64_t)(v)) * UINT64_C(1099511628211))
	for (const char *c = dir; *c; c++)
		MIX((unsigned char)*c);
	MIX(env->is_root);
	MIX(w->n_root > 0);
	for (size_t i = 0; i < w->n; i++) {
		MIX(w->uids[i]);
		MIX(w->gids[i]);
	}
#undef MIX
	return h;
}

/* A site's id and print in one key (what is kept per site). */
static uint64_t
site_key(uint32_t id, uint64_t print)
{
	uint64_t h = (print ^ id) * UINT64_C(0x9e3779b97f4a7c15);

	return h ^ (h >> 32);
}

/* Whether the generation before prepared site id from the same print. */
static bool
prepared_before(const struct wasp_env *env, uint32_t id, uint64_t print)
{
	uint64_t key = site_key(id, print);

	if (!env->n_logdir_prints)
		return false; /* the first generation (bsearch takes no NULL) */
	return bsearch(&key, env->logdir_prints, env->n_logdir_prints, sizeof(key), wasp_u64_cmp);
}

void
logdirs_prepare(struct wasp_env *env)
{
	const struct wasp_apphost *ah = env->ah;
	uint64_t *prints = calloc(ah->n_sites + 1, sizeof(*prints));
	size_t n = 0, skipped = 0;

	httperr_prepare(env);
	for (size_t i = 0; i < ah->n_sites; i++) {
		const struct wasp_site *s = &ah->sites[i];
		struct writers w = { 0 };
		uint64_t print;

		if (!site_logs(s))
			continue;
		if (writers_collect(env, s, &w) < 0) {
			(void)log_errno(-ENOMEM, "site %u: log directory", s->id);
			writers_done(&w);
			continue;
		}
		print = site_print(env, s, &w);
		if (prepared_before(env, s->id, print))
			skipped++;
		else if (site_prepare(env, s, &w) < 0)
			print = 0;
		writers_done(&w);
		if (prints && print)
			prints[n++] = site_key(s->id, print);
	}
	if (skipped)
		log_debug("%zu site log directories unchanged since the last configuration", skipped);
	free(env->logdir_prints);
	env->logdir_prints = prints;
	env->n_logdir_prints = prints ? n : 0;
	if (prints)
		qsort(prints, n, sizeof(*prints), wasp_u64_cmp);
}

void
logdirs_forget(struct wasp_env *env)
{
	free(env->logdir_prints);
	env->logdir_prints = NULL;
	env->n_logdir_prints = 0;
}
