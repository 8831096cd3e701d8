/* The listener core: what every protocol adapter (wasp-http, wasp-tcp)
 * shares. It speaks the adapter protocol with waspd
 * (docs/adapter-protocol.md) over the channel on fd 3, accepts on the
 * listening sockets it is given, reads the first bytes of each connection,
 * asks the adapter's peek() callback what they mean, routes the connection
 * with the routing table (route/route.h), queues it per application pool,
 * and hands it to a worker of that pool.
 *
 * An adapter fills a struct wasp_listener_ops and calls wasp_listener_main()
 * from main(). The protocol-specific parts are peek() and write_error(); the
 * status numbers the core uses are HTTP's, as a vocabulary (an adapter for
 * another protocol maps them to whatever it can say, or just closes). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults for the limits (IIS: MaxRequestBytes 16 KiB, HeaderWaitTimeout). */
#define WASP_LISTENER_MAX_HEAD 16384
#define WASP_LISTENER_HEADER_TIMEOUT_MS 30000
#define WASP_LISTENER_MAX_CONNECTIONS 10000 /* held by the listener at once */
#define WASP_LISTENER_ACCEPT_PAUSE_MS 100   /* after EMFILE/ENFILE */
#define WASP_LISTENER_STATS_INTERVAL_MS 1000
#define WASP_LISTENER_RETRY_AFTER_S 5 /* Retry-After of a 503 */

/* What peek() found in the bytes read so far. */
enum wasp_peek_result {
	WASP_PEEK_NEED_MORE = 0, /* incomplete: read more (within the limits) */
	WASP_PEEK_ROUTE = 1,     /* key is filled: route it */
	WASP_PEEK_ERROR = 2,     /* key->status is the error to answer */
};

/* An error response must not carry a body (HTTP: a HEAD request). */
#define WASP_PEEK_F_NO_BODY 0x1

/* The route key: slices of the buffer given to peek() (valid until the next
 * peek() call). host may be NULL (no Host: only bindings with an empty host
 * match); path is the raw request path (see wasp_route_lookup()). */
struct wasp_peek_key {
	const char *host;
	size_t host_len;
	const char *path;
	size_t path_len;
	unsigned flags;     /* WASP_PEEK_F_*: kept with the connection for write_error() */
	unsigned status;    /* WASP_PEEK_ERROR: 400, 414, 431, 501, 505 ... */
	const char *reason; /* WASP_PEEK_ERROR: a short static text for the log */
	/* The request line as far as it was read, for the HTTPERR log (left
	 * NULL when not known): method and target point into the buffer
	 * peeked at; version is a static string ("HTTP/1.1"). */
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	const char *version;
};

struct wasp_listener_ops {
	const char *name; /* the protocol, as in bindings: "http" */
	/* Decide on buf[0..len). full is true when no more bytes will be read
	 * (the head limit is reached): NEED_MORE then counts as an error 431. */
	enum wasp_peek_result (*peek)(void *userdata, const char *buf, size_t len, bool full,
				      struct wasp_peek_key *ret);
	/* Answer an error on a connection the core closes afterwards: one
	 * non-blocking write, best effort. status: 400 (malformed, or reason
	 * "Invalid Hostname" when no binding matched), 404 (no application),
	 * 408 (the head did not arrive within the header timeout), 431, 503 (retry_after_s > 0: say so), or what peek() returned.
	 * peek_flags: what the last peek() on this connection set. */
	void (*write_error)(void *userdata, int fd, unsigned status, const char *reason,
			    unsigned retry_after_s, unsigned peek_flags);
	/* The client speaks first (HTTP): accept only once data arrived
	 * (TCP_DEFER_ACCEPT on the listening sockets). */
	bool client_speaks_first;
	/* The protocol has no error to write (raw TCP): a 503 (a stopped pool,
	 * a full queue, no worker in time) is a reset, whatever the pool's
	 * loadBalancerCapabilities; a FIN would look like a session the server
	 * ended. */
	bool reset_503;
	size_t max_head;             /* 0: WASP_LISTENER_MAX_HEAD */
	uint32_t header_timeout_ms; /* 0: WASP_LISTENER_HEADER_TIMEOUT_MS; the routing
				     * table's headerWaitTimeoutMs overrides it */
};

/* Run the adapter: parse the command line (--max-connections N,
 * --header-timeout MS (used while the routing table sets no headerWaitTimeoutMs),
 * --channel-fd FD; the channel fd defaults to
 * $WASP_CHANNEL_FD, else 3), serve until the activator channel closes or
 * SIGTERM. Returns the process exit status. */
int wasp_listener_main(const struct wasp_listener_ops *ops, void *userdata, int argc,
		       char **argv);
