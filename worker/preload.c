/* preloadEnabled (worker.h): an application warmed up when its worker
 * starts, so that the first request finds its processes running and the
 * worker's own path to it ready.
 *
 * As IIS's preload ("a user request to the default page"), the worker sends
 * itself a GET of the application's root on a connection of its own,
 * through the whole pipeline as a client's request would go (the
 * configuration of the path read, the default document found, the handler
 * run: an httpPlatform or aspNetCore backend started, its port probed and
 * the request proxied; a FastCGI application's page run), whose response is
 * read and dropped. Before it, every FastCGI application a FastCgiModule
 * handler of the root maps to (scriptProcessor) gets a process with a
 * warm-up request of its own that runs no script (fcgi_app_preload), so it
 * is ready, and stays so, even when the root's page is not one of its. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apphost.h"
#include "config.h"
#include "fastcgi/procs.h"
#include "libevent-util.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define WARMUP_USEC (120ULL * 1000000) /* a warm-up request's response, at most */
#define WARMUP_HEAD 64                 /* of its response kept for the log */

struct warmup {
	struct warmup *next, *prev;
	int fd;
	struct event *ev;
	char head[WARMUP_HEAD];
	size_t n;
	char *label;
};

/* Is name one of the comma-separated modules of list? */
static bool
has_module(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == len && strncasecmp(p, name, n) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* Warm-up requests whose response has not come yet. */
static struct warmup *warmups;

static void
warmup_free(struct warmup *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (warmups == w)
		warmups = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->ev = wasp_event_free(w->ev);
	safe_close(w->fd);
	free(w->label);
	free(w);
}

static void
on_warmup(evutil_socket_t fd, short what, void *arg)
{
	struct warmup *w = arg;
	char buf[16384];
	ssize_t n = 0;

	if (what & EV_READ) {
		n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0) {
			size_t k = MIN((size_t)n, sizeof(w->head) - 1 - w->n);

			memcpy(w->head + w->n, buf, k);
			w->n += k;
			return;
		}
	}
	w->head[w->n] = 0;
	w->head[strcspn(w->head, "\r\n")] = 0;
	if (what & EV_TIMEOUT)
		log_warning("preload of %s: no response within %llu s", w->label,
			    (unsigned long long)(WARMUP_USEC / 1000000));
	else
		log_info("preload of %s: %s", w->label, *w->head ? w->head : "no response");
	warmup_free(w);
}

/* A GET of app's root on a socketpair whose other end the worker serves
 * as a connection of site's. */
static int
warmup_send(struct worker_env *env, const struct wapp *app)
{
	struct timeval tv = wasp_timeval_from_usec(WARMUP_USEC);
	_cleanup_free_ char *req = NULL;
	struct warmup *w;
	int sv[2], r;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = conn_new(env, sv[0], NULL, app->site_id, app->path, NULL, 0);
	if (r < 0) {
		safe_close(sv[1]);
		return r;
	}
	w = calloc(1, sizeof(*w));
	if (!w || asprintf(&req, "GET %s%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			   "User-Agent: wasp-preload\r\n\r\n",
			   app->path, streq(app->path, "/") ? "" : "/") < 0 ||
	    asprintf(&w->label, "site '%s' application '%s'", app->site_name, app->path) < 0) {
		free(w);
		safe_close(sv[1]);
		return -ENOMEM;
	}
	w->fd = sv[1];
	w->next = warmups;
	if (warmups)
		warmups->prev = w;
	warmups = w;
	n = write(w->fd, req, strlen(req)); /* a few bytes into an empty socket */
	w->ev = event_new(env->base, w->fd, EV_READ | EV_PERSIST, on_warmup, w);
	if (n != (ssize_t)strlen(req) || !w->ev || event_add(w->ev, &tv) < 0) {
		r = n < 0 ? -errno : n != (ssize_t)strlen(req) ? -EIO : -ENOMEM;
		warmup_free(w);
		return r;
	}
	return 0;
}

/* The application's root handlers: its FastCGI applications started. */
static void
preload_handlers(struct worker_env *env, const struct wapp *app,
		 const struct wasp_element *handlers)
{
	const struct wasp_apppool *pool =
		env->apphost ? wasp_apphost_find_pool(env->apphost, env->pool_name) : NULL;
	for (size_t k = 0; handlers && k < handlers->n_items; k++) {
		const struct wasp_element *it = handlers->items[k];
		const char *modules = wasp_element_get_str(it, "modules", "");
		const char *sp = wasp_element_get_str(it, "scriptProcessor", "");
		struct fcgi_app *a;
		int r;

		if (!handler_precondition_holds(pool, it))
			continue;
		if (!has_module(modules, "FastCgiModule") || !*sp)
			continue;
		a = fcgi_app_get(env->base,
				 wasp_config_section(env->config, "system.webServer/fastCgi"), sp,
				 &r);
		if (a)
			r = fcgi_app_preload(a);
		if (r < 0)
			log_warning_errno(r, "preload of site '%s' application '%s': FastCGI "
					  "application '%s'",
					  app->site_name, app->path, sp);
	}
}

void
worker_preload(struct worker_env *env)
{
	for (size_t i = 0; i < env->n_apps; i++) {
		const struct wapp *app = &env->apps[i];
		struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
		const struct wasp_element *handlers = NULL;
		int r;

		if (!app->preload || env->draining)
			continue;
		r = wasp_config_effective_section_at(env->config, app->site_name, app->path,
						     "system.webServer/handlers", &handlers,
						     &diags);
		wasp_diag_list_done(&diags);
		if (r < 0 && r != -EINVAL && r != -ENOENT) {
			log_warning_errno(r, "preload of site '%s' application '%s': its handlers",
					  app->site_name, app->path);
			continue;
		}
		log_info("preload of site '%s' application '%s'", app->site_name, app->path);
		preload_handlers(env, app, handlers);
		r = warmup_send(env, app);
		if (r < 0)
			log_warning_errno(r, "preload of site '%s' application '%s': the warm-up "
					  "request",
					  app->site_name, app->path);
	}
}

void
worker_preload_free(void)
{
	while (warmups)
		warmup_free(warmups);
}
