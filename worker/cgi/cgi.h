/* What CgiModule and FastCgiModule share: the CGI/1.1 meta-variables of a
 * request (RFC 3875 section 4.1, and what IIS adds; the table is in
 * docs/fastcgi.md), the CGI response head made into the response's status
 * and headers (RFC 3875 section 6), and a CGI request's argv. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wasp/module.h"

struct fcgi_head;
struct wasp_request;

/* ---- meta-variables (vars.c) ---- */

/* Called for each variable; a negative return stops and is returned. */
typedef int (*cgi_var_fn)(void *userdata, const char *name, const char *value);

/* Every meta-variable of req, in the table's order, then HTTP_<NAME> for
 * each request field (lines of one name joined with ", "). SCRIPT_NAME and
 * PATH_INFO follow allowPathInfo (req->path_info_allowed). 0, or what fn
 * returned, or -ENOMEM. */
int cgi_vars(struct wasp_request *req, cgi_var_fn fn, void *userdata);

/* ---- the response head (head.c) ---- */

/* Make a complete head the response's: Status (else 200, or 302 with an
 * absolute Location), Content-Length into *ret_length (-1 when none), the
 * fields the worker writes itself dropped, every other one a response
 * header. *ret_redirect: a local redirect's URL (a Location path without
 * a Status, RFC 3875 6.2.2: the caller serves that URL instead, no status
 * is set), else NULL (ret_redirect NULL: a client redirect, 302). -EBADMSG for a malformed head (a line that is no
 * field, a bad Status or Content-Length, a value the worker refuses),
 * -ENOMEM. */
int cgi_head_apply(struct wasp_request *req, const struct fcgi_head *head, int64_t *ret_length,
		   const char **ret_redirect);

/* ---- a CGI request's argv (spawn.c) ---- */

/* Split s in place at blanks ("double quotes" group, and are dropped) into
 * at most max words in argv; returns how many. */
size_t cgi_split_args(char *s, char **argv, size_t max);

/* The argv of a CGI request: without a scriptProcessor (NULL or empty)
 * the script itself; else the scriptProcessor's words (split in place)
 * with the script in place of the first "%s" (after them when there is
 * none; a second "%s", IIS's query arguments, is dropped). At most max
 * entries and a NULL after them (argv has max + 1 places); returns how
 * many. */
size_t cgi_script_argv(char *script_processor, char *script, char **argv, size_t max);

/* ---- the handler's side of a request (request.c) ---- */

/* The chosen <handlers> entry's scriptProcessor ("" when it has none), or
 * NULL when the entry is not found; sets req->path_info_allowed from its
 * allowPathInfo. */
const char *cgi_handler(struct wasp_request *req);

/* A failure after ExecuteRequestHandler returned: before the response head
 * is out the response becomes status.substatus (its body and headers
 * dropped, why on the detailed error page) and true is returned (the
 * caller resumes the request if it did not yet: worker_later_resume); after, the stream is
 * aborted (the connection cut, never a complete-looking response): false. */
bool cgi_fail_response(struct wasp_request *req, unsigned status, unsigned substatus,
		       const char *why);

/* Answer status.substatus from ExecuteRequestHandler, logged with who
 * ("FastCGI", "CGI") and why (also on the detailed error page). */
enum wasp_status cgi_early_error(struct wasp_request *req, const char *who, unsigned status,
				 unsigned substatus, const char *why);

/* Give *data (*len bytes) to the response stream as far as it takes them,
 * advancing both: 0 when all went, -EAGAIN when it took no more (the
 * client is slower: the stream's on_writable follows), -EMSGSIZE past its
 * Content-Length, -EPIPE when the response is not wanted any more (the
 * client went away, or a module replaced the body). */
int cgi_stream_give(struct wasp_request *req, const uint8_t **data, size_t *len);

/* Serve a CGI local redirect's URL (cgi_head_apply's *ret_redirect) once
 * the program's answer ended: MapRequestHandler again for it when the
 * caller resumes the request. One that cannot be followed (another
 * application, not a path) is 500, logged with who and pid; too many
 * redirects or a configuration error keep the status the core set. */
void cgi_local_redirect(struct wasp_request *req, const char *who, pid_t pid, const char *url);
