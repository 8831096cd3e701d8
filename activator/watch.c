/* applicationHost.config picked up when it changes, as IIS does: inotify on
 * the file's directory (editors and waspctl replace it by rename(2), which a
 * watch on the file itself would lose), and on the directory of the file it
 * points to when it is a symbolic link; then, once the file has been quiet
 * for WATCH_QUIET_USEC, the reload SIGHUP and `waspctl reload` do. A file
 * with an error keeps the running configuration (daemon_reload logs why). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "libevent-util.h"
#include "log.h"
#include "util.h"
#include "waspd.h"

#define WATCH_MASK                                                                          \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |  \
	 IN_DELETE_SELF | IN_MOVE_SELF)

/* A watched directory and the name in it that is the file. */
struct watch_dir {
	int wd;
	char *name;
};

struct config_watch {
	int fd;
	struct event *ev, *timer;
	struct watch_dir dirs[2]; /* the path as given; where its link points */
	size_t n_dirs;
};

static void
on_quiet(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;
	_cleanup_free_ char *msg = NULL;

	log_notice("%s changed: reloading", env->config_path);
	(void)daemon_reload(env, &msg); /* it logs what it did, or why not */
}

/* What one event says: 1 the file changed, -1 a directory went away. */
static int
event_kind(const struct config_watch *w, const struct inotify_event *ev)
{
	int kind = 0;

	if (ev->mask & IN_Q_OVERFLOW)
		return 1; /* events lost: the file may be among them */
	/* the link and its file may be in one directory: one wd, two names */
	for (size_t i = 0; i < w->n_dirs; i++) {
		if (ev->wd != w->dirs[i].wd)
			continue;
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
			return -1;
		if (ev->len && streq(ev->name, w->dirs[i].name))
			kind = 1;
	}
	return kind;
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false, gone = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			int k = event_kind(env->watch, ev);

			changed |= k > 0;
			gone |= k < 0;
			p += sizeof(*ev) + ev->len;
		}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		log_warning_errno(-errno, "inotify on %s", env->config_path);
	if (changed) {
		struct timeval tv = wasp_timeval_from_usec(WATCH_QUIET_USEC);

		(void)event_add(env->watch->timer, &tv); /* from now: debounced */
	}
	if (gone) {
		log_warning("a directory of %s went away: no longer watched (SIGHUP or "
			    "waspctl reload still reload)",
			    env->config_path);
		watch_close(env);
	}
}

/* Watch path's directory for path's name. */
static int
watch_add(struct config_watch *w, const char *path)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path) + 1)
					 : strdup(".");
	struct watch_dir *d = &w->dirs[w->n_dirs];

	if (!dir || !(d->name = strdup(slash ? slash + 1 : path)))
		return -ENOMEM;
	d->wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
	if (d->wd < 0) {
		int r = -errno;

		free(d->name);
		return log_warning_errno(r, "cannot watch %s for changes (SIGHUP or waspctl "
					    "reload reload it)", dir);
	}
	w->n_dirs++;
	log_info("watching %s for changes to %s", dir, d->name);
	return 0;
}

void
watch_open(struct wasp_env *env)
{
	_cleanup_free_ char *real = NULL;
	struct config_watch *w;

	if (env->no_watch || !(w = calloc(1, sizeof(*w))))
		return;
	env->watch = w;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		log_warning_errno(-errno, "inotify: %s is not watched for changes",
				  env->config_path);
		watch_close(env);
		return;
	}
	real = realpath(env->config_path, NULL);
	if (watch_add(w, env->config_path) < 0 ||
	    (real && !streq(real, env->config_path) && watch_add(w, real) < 0)) {
		watch_close(env);
		return;
	}
	w->ev = event_new(env->base, w->fd, EV_READ | EV_PERSIST, on_inotify, env);
	w->timer = evtimer_new(env->base, on_quiet, env);
	if (!w->ev || !w->timer || event_add(w->ev, NULL) < 0) {
		log_warning("cannot watch %s for changes: out of memory", env->config_path);
		watch_close(env);
	}
}

void
watch_close(struct wasp_env *env)
{
	struct config_watch *w = env->watch;

	if (!w)
		return;
	w->ev = wasp_event_free(w->ev);
	w->timer = wasp_event_free(w->timer);
	w->fd = safe_close(w->fd);
	for (size_t i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].name);
	free(w);
	env->watch = NULL;
}
