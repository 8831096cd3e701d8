/* Application Request Routing (mod_arr.c) as URL Rewrite reaches it. */
#pragma once

struct wasp_request;

/* A Rewrite action to url (http:// or https://, with its query): ARR
 * proxies the request there once its MapRequestHandler comes. 1 taken, 0
 * system.webServer/proxy is not enabled (no ARR: the caller answers as
 * without it), -ENOMEM. */
int arr_take(struct wasp_request *req, const char *url);
