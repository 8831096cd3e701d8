/* The handler's side of a CGI or FastCGI request (cgi.h). */
#include <errno.h>
#include <string.h>

#include "cgi.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

const char *
cgi_handler(struct wasp_request *req)
{
	const char *name = wasp_request_handler_name(req);
	const struct wasp_element *h = wasp_request_config(req, "system.webServer/handlers");

	for (size_t i = 0; name && h && i < h->n_items; i++)
		if (strcaseeq(wasp_element_get_str(h->items[i], "name", ""), name)) {
			req->path_info_allowed =
				wasp_element_get_bool(h->items[i], "allowPathInfo", false);
			return wasp_element_get_str(h->items[i], "scriptProcessor", "");
		}
	return NULL;
}

bool
cgi_fail_response(struct wasp_request *req, unsigned status, unsigned substatus,
		  const char *why)
{
	if (req->stream && req->stream->head_sent) {
		wasp_response_stream_abort(req);
		return false;
	}
	/* nothing is out yet (a stream is dropped with the body) */
	wasp_response_clear_body(req);
	req->n_headers = 0;
	wasp_response_set_status(req, status, substatus);
	wasp_request_set_error_detail(req, why);
	return true;
}

enum wasp_status
cgi_early_error(struct wasp_request *req, const char *who, unsigned status, unsigned substatus,
		const char *why)
{
	wasp_log(status >= 500 && status != 503 ? WASP_LOG_ERR : WASP_LOG_WARNING,
		 "%s: %s (%s %s)", who, why, wasp_request_method(req), wasp_request_path(req));
	wasp_response_set_status(req, status, substatus);
	wasp_request_set_error_detail(req, why);
	return WASP_DONE;
}

int
cgi_stream_give(struct wasp_request *req, const uint8_t **data, size_t *len)
{
	while (*len > 0) {
		ssize_t n = wasp_response_stream_write(req, *data, *len);

		if (n == -EAGAIN || n == -EMSGSIZE)
			return (int)n;
		if (n < 0)
			return -EPIPE;
		*data += n;
		*len -= (size_t)n;
	}
	return 0;
}

void
cgi_local_redirect(struct wasp_request *req, const char *who, pid_t pid, const char *url)
{
	int r = wasp_request_internal_redirect(req, url);

	if (r < 0 && wasp_response_status(req) < 400) {
		wasp_log(WASP_LOG_ERR, "%s process %d: local redirect to '%s' refused: %s", who,
			 (int)pid, url, strerror(-r));
		wasp_response_set_status(req, 500, 0);
		wasp_request_set_error_detail(req, "a local redirect that cannot be followed");
	}
}
