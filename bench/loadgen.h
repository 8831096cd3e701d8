/* Where an HTTP response ends, for bench's HTTP load generators (latprobe,
 * tlsload). Benchmark tools, not part of the server. */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A response's next n bytes, read into buf (size bytes) at the head's end
 * (*got) while the head is incomplete (*need < 0), anywhere after it (the
 * body is only counted). 1 the response is complete, 0 more to come, -1
 * error (no head in size bytes, no Content-Length). *not_ok: the status was
 * not 200. */
static inline int
response_take(char *buf, size_t size, size_t *got, long *need, size_t n, bool *not_ok)
{
	*got += n;
	if (*need < 0) {
		char *end, *cl;

		buf[*got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			return *got + 1 < size ? 0 : -1;
		*not_ok = strncmp(buf, "HTTP/1.1 200", 12) != 0;
		cl = strcasestr(buf, "\r\ncontent-length:");
		if (!cl)
			return -1;
		*need = (long)(end + 4 - buf) + strtol(cl + 17, NULL, 10);
	}
	return (long)*got >= *need ? 1 : 0;
}

/* Where the next read goes, and how much it may take (see response_take). */
static inline char *
response_room(char *buf, size_t size, size_t got, long need, size_t *ret_len)
{
	*ret_len = need < 0 ? size - got - 1 : size;
	return buf + (need < 0 ? got : 0);
}
