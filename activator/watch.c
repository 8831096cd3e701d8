/* applicationHost.config picked up when it changes, as IIS does: inotify on
 * the file's directory (editors and waspctl replace it by rename(2), which a
 * watch on the file itself would lose), then, once the file has been quiet
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

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void
on_quiet(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;
	_cleanup_free_ char *msg = NULL;

	log_notice("%s changed: reloading", env->config_path);
	(void)daemon_reload(env, &msg); /* it logs what it did, or why not */
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct wasp_env *env = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *name = base_name(env->config_path);
	bool changed = false, gone = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				gone = true;
			else if (ev->mask & IN_Q_OVERFLOW)
				changed = true; /* events lost: the file may be among them */
			else if (ev->len && streq(ev->name, name))
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		log_warning_errno(-errno, "inotify on %s", env->config_path);
	if (changed) {
		struct timeval tv = wasp_timeval_from_usec(WATCH_QUIET_USEC);

		(void)event_add(env->watch_timer, &tv); /* from now: debounced */
	}
	if (gone) {
		log_warning("the directory of %s went away: no longer watched (SIGHUP or "
			    "waspctl reload still reload)",
			    env->config_path);
		watch_close(env);
	}
}

void
watch_open(struct wasp_env *env)
{
	_cleanup_free_ char *dir = NULL;
	const char *slash = strrchr(env->config_path, '/');

	env->watch_fd = -1;
	if (env->no_watch)
		return;
	dir = slash ? strndup(env->config_path, (size_t)(slash - env->config_path) + 1)
		    : strdup(".");
	if (!dir)
		return;
	env->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (env->watch_fd < 0 || inotify_add_watch(env->watch_fd, dir, WATCH_MASK) < 0) {
		log_warning_errno(-errno, "cannot watch %s for changes (SIGHUP or waspctl reload "
					  "reload it)", dir);
		watch_close(env);
		return;
	}
	env->watch_ev = event_new(env->base, env->watch_fd, EV_READ | EV_PERSIST, on_inotify, env);
	env->watch_timer = evtimer_new(env->base, on_quiet, env);
	if (!env->watch_ev || !env->watch_timer || event_add(env->watch_ev, NULL) < 0) {
		log_warning("cannot watch %s for changes: out of memory", dir);
		watch_close(env);
		return;
	}
	log_info("watching %s for changes to %s", dir, base_name(env->config_path));
}

void
watch_close(struct wasp_env *env)
{
	env->watch_ev = wasp_event_free(env->watch_ev);
	env->watch_timer = wasp_event_free(env->watch_timer);
	env->watch_fd = safe_close(env->watch_fd);
}
