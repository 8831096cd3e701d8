/* Connections of protocols other than HTTP (a HANDOFF that names one, from
 * wasp-tcp): no pipeline, no parser. The application the adapter routed the
 * connection to selects a stream handler by name for the protocol
 * (system.webServer/streamHandlers); the module that registered it owns the
 * connection until it calls wasp_stream_close(). What is not selected or not
 * registered is closed: a worker never serves a protocol nobody configured.
 * Such a connection counts in env->n_conns like an HTTP one (the pool's idle
 * timeout, drain and recycle wait for it; WORKER_ROOM releases it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define STREAM_SECTION "system.webServer/streamHandlers"

struct wasp_stream {
	struct wasp_stream *next, *prev; /* env->streams */
	struct worker_env *env;
	struct wchan *chan;
	int fd;
	uint32_t site_id;
	char *app_path;
	char protocol[WASP_PROTOCOL_NAME_MAX + 1];
	void *data;
	size_t len;
	void *ctx;
	void (*free_ctx)(void *ctx);
	struct wapp *app; /* once selected */
};

static bool
name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == 0x7f || s[i] == ',')
			return false;
	return true;
}

static const struct wstream_handler *
handler_find(const struct wasp_hooks *h, const char *protocol, const char *name)
{
	for (size_t i = 0; i < h->n_streams; i++)
		if (strcaseeq(h->streams[i].protocol, protocol) &&
		    strcaseeq(h->streams[i].name, name))
			return &h->streams[i];
	return NULL;
}

int
wasp_hooks_add_stream(struct wasp_hooks *h, const char *protocol, const char *name,
		      wasp_stream_fn fn, void *userdata)
{
	struct wstream_handler *a;

	if (!h || !fn || !name_ok(protocol, WASP_PROTOCOL_NAME_MAX) || !name_ok(name, 256) ||
	    strcaseeq(protocol, "http") || handler_find(h, protocol, name))
		return -EINVAL;
	a = reallocarray(h->streams, h->n_streams + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	h->streams = a;
	a = &h->streams[h->n_streams];
	*a = (struct wstream_handler){ .protocol = strdup(protocol), .name = strdup(name),
				       .fn = fn, .userdata = userdata,
				       .module = h->cur_module };
	if (!a->protocol || !a->name) {
		free(a->protocol);
		free(a->name);
		return -ENOMEM;
	}
	h->n_streams++;
	return 0;
}

void
stream_handlers_free(struct wasp_hooks *h)
{
	for (size_t i = 0; i < h->n_streams; i++) {
		free(h->streams[i].protocol);
		free(h->streams[i].name);
	}
	free(h->streams);
	h->streams = NULL;
	h->n_streams = 0;
}

int
streamconn_take(struct worker_env *env, int fd, struct wchan *chan, uint32_t site_id,
		const char *app_path, const char *protocol, const void *data, size_t len,
		struct wasp_stream **ret)
{
	struct wasp_stream *s;
	int r;

	r = conn_fd_nonblock(fd);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s) {
		safe_close(fd);
		return -ENOMEM;
	}
	s->env = env;
	s->fd = fd;
	s->site_id = site_id;
	(void)snprintf(s->protocol, sizeof(s->protocol), "%s", protocol);
	s->app_path = strdup(app_path);
	s->data = len ? malloc(len) : NULL;
	s->next = env->streams;
	if (env->streams)
		env->streams->prev = s;
	env->streams = s;
	env->n_conns++;
	if (chan) {
		wchan_ref(chan);
		s->chan = chan;
	}
	if (!s->app_path || (len && !s->data)) {
		streamconn_discard(s);
		return -ENOMEM;
	}
	if (len)
		memcpy(s->data, data, len);
	s->len = len;
	*ret = s;
	return 0;
}

static void
stream_free(struct wasp_stream *s, bool acked)
{
	struct worker_env *env = s->env;

	if (s->free_ctx)
		s->free_ctx(s->ctx);
	safe_close(s->fd);
	if (s->chan) {
		if (acked)
			wchan_release(s->chan);
		wchan_unref(s->chan);
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		env->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	env->n_conns--;
	free(s->app_path);
	free(s->data);
	free(s);
	env_check_drained(env);
}

void
streamconn_discard(struct wasp_stream *s)
{
	stream_free(s, false);
}

/* The handler the application selects for the stream's protocol: NULL
 * (logged) when it selects none or one nobody registered. */
static const struct wstream_handler *
stream_select(struct wasp_stream *s)
{
	struct worker_env *env = s->env;
	const struct wasp_element *sec, *item;
	const struct wstream_handler *h;
	struct wapp *app;
	const char *name;

	app = env_find_app(env, s->site_id, s->app_path);
	if (!app || !env->config) {
		log_warning("%s connection: no application '%s' of site %u in pool '%s'",
			    s->protocol, s->app_path, s->site_id, strempty(env->pool_name));
		return NULL;
	}
	s->app = app;
	sec = wasp_stream_config(s, STREAM_SECTION);
	item = sec ? wasp_element_find_item(sec, s->protocol) : NULL;
	name = item ? wasp_element_get_str(item, "handler", NULL) : NULL;
	if (!name || !*name) {
		log_warning("%s connection to '%s%s': no stream handler selected for it (%s)",
			    s->protocol, app->site_name, app->path, STREAM_SECTION);
		return NULL;
	}
	h = handler_find(env->hooks, s->protocol, name);
	if (!h)
		log_warning("%s connection to '%s%s': no module registered the stream "
			    "handler '%s'",
			    s->protocol, app->site_name, app->path, name);
	return h;
}

void
streamconn_start(struct wasp_stream *s)
{
	const struct wstream_handler *h = stream_select(s);
	int r;

	if (!h) {
		stream_free(s, true);
		return;
	}
	r = h->fn(s, h->userdata);
	if (r < 0) {
		log_warning_errno(r, "stream handler '%s' (%s)", h->name, s->protocol);
		stream_free(s, true);
	}
}

void
streamconn_free_all(struct worker_env *env)
{
	while (env->streams)
		stream_free(env->streams, false);
}

int
wasp_stream_fd(const struct wasp_stream *s)
{
	return s->fd;
}

const void *
wasp_stream_data(const struct wasp_stream *s, size_t *ret_len)
{
	*ret_len = s->len;
	return s->data;
}

const char *
wasp_stream_protocol(const struct wasp_stream *s)
{
	return s->protocol;
}

uint32_t
wasp_stream_site_id(const struct wasp_stream *s)
{
	return s->site_id;
}

const char *
wasp_stream_app_path(const struct wasp_stream *s)
{
	return s->app_path;
}

struct wasp_server *
wasp_stream_server(struct wasp_stream *s)
{
	return &s->env->server;
}

const struct wasp_element *
wasp_stream_config(struct wasp_stream *s, const char *section)
{
	struct wasp_diag_list diags = WASP_DIAG_LIST_INIT;
	const struct wasp_element *sec = NULL;
	int r;

	if (!s->app || !s->env->config)
		return NULL;
	r = wasp_config_effective_section_at(s->env->config, s->app->site_name, s->app->path,
					     section, &sec, &diags);
	config_log_diags(&diags);
	wasp_diag_list_done(&diags);
	if (r < 0 && r != -EINVAL) {
		if (r != -ENOENT)
			log_warning_errno(r, "configuration section '%s' for '%s%s'", section,
					  s->app->site_name, s->app->path);
		return NULL;
	}
	return sec; /* with -EINVAL: merged without the offending files' parts */
}

void *
wasp_stream_context(const struct wasp_stream *s)
{
	return s->ctx;
}

void
wasp_stream_set_context(struct wasp_stream *s, void *ctx, void (*free_ctx)(void *ctx))
{
	s->ctx = ctx;
	s->free_ctx = free_ctx;
}

void
wasp_stream_close(struct wasp_stream *s)
{
	stream_free(s, true);
}
