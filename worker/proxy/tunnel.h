/* A switched connection (WebSockets through the proxy engine): bytes
 * carried both ways between the client's connection and the backend's
 * until both sides ended, through one bounded buffer per direction (a side
 * is read only when the other took what went before). */
#pragma once

#include <stddef.h>

struct event_base;
struct wasp_tunnel;
struct ptunnel;

#define PTUNNEL_BUF 16384

/* A tunnel to the backend socket fd (taken), with data the backend already
 * sent after its 101 head. NULL on OOM (fd is then closed). */
struct ptunnel *ptunnel_new(struct event_base *base, int fd, const void *data, size_t len);
/* wasp_response_upgrade()'s fn, with the ptunnel as userdata. */
void ptunnel_on_switch(struct wasp_tunnel *t, void *userdata);
