/* A CGI response head made into the response (cgi.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "cgi.h"
#include "fastcgi/record.h"
#include "util.h"
#include "worker.h"

/* A field the worker writes itself: an application's is dropped. */
static bool
worker_field(const char *name, size_t len)
{
	static const char *const own[] = { "Transfer-Encoding", "Connection", "Keep-Alive",
					   "Upgrade", "Date", "Server" };

	for (size_t i = 0; i < ELEMENTSOF(own); i++)
		if (strlen(own[i]) == len && strncasecmp(own[i], name, len) == 0)
			return true;
	return false;
}

static bool
named(const char *name, size_t len, const char *what)
{
	return strlen(what) == len && strncasecmp(name, what, len) == 0;
}

int
cgi_head_apply(struct wasp_request *req, const struct fcgi_head *head, int64_t *ret_length,
	       const char **ret_redirect)
{
	const char *name, *value, *redirect = NULL;
	size_t pos = 0, nl, vl;
	bool have_status = false, have_location = false;
	int64_t length = -1;
	int r;

	while ((r = fcgi_head_next(head, &pos, &name, &nl, &value, &vl)) > 0) {
		char *n, *v;

		if (named(name, nl, "Status")) {
			int st = fcgi_parse_status(value, vl);
			if (st < 0)
				return -EBADMSG;
			wasp_response_set_status(req, (unsigned)st, 0);
			have_status = true;
			continue;
		}
		if (named(name, nl, "Content-Length")) {
			char *end;
			long long x;

			v = wasp_arena_strndup(req->arena, value, vl);
			if (!v)
				return -ENOMEM;
			errno = 0;
			x = strtoll(v, &end, 10);
			if (errno || *end || end == v || x < 0)
				return -EBADMSG;
			length = x;
			continue;
		}
		/* the worker frames the response and writes these itself */
		if (worker_field(name, nl))
			continue;
		if (named(name, nl, "Location")) {
			have_location = true;
			if (vl > 0 && value[0] == '/' && (vl == 1 || value[1] != '/'))
				redirect = wasp_arena_strndup(req->arena, value, vl);
		}
		n = wasp_arena_strndup(req->arena, name, nl);
		v = wasp_arena_strndup(req->arena, value, vl);
		if (!n || !v)
			return -ENOMEM;
		r = wasp_response_add_header(req, n, v);
		if (r < 0)
			return r == -ENOMEM ? r : -EBADMSG;
	}
	if (r < 0)
		return r;
	/* a Location path without a Status is a local redirect (RFC 3875
	 * 6.2.2: served as a request for that URL, once the application's
	 * answer ended); an absolute URL without one a client redirect */
	if (have_status || !have_location || !ret_redirect)
		redirect = NULL;
	if (!have_status && !redirect)
		wasp_response_set_status(req, have_location ? 302 : 200, 0);
	*ret_length = length;
	if (ret_redirect)
		*ret_redirect = redirect;
	return 0;
}
