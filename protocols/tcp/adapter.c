/* wasp-tcp: the raw TCP listener adapter (protocol "tcp", bindings
 * `IP:port:`). A binding has no host name and a connection no path: it goes
 * to the root application of the site whose binding took it, on that
 * application's pool, with nothing read (the server may speak first). The
 * worker gives it to the stream handler the application selects
 * (docs/modules.md "Stream handlers"). What the listener core cannot place
 * (no worker within the start limit, a stopped pool, a full queue) is
 * reset, whatever the pool's loadBalancerCapabilities: raw TCP has no 503 to
 * write, and a FIN would look like a session the server ended; other
 * refusals (no application, tcp not in its enabledProtocols) are closed. */
#include <stdlib.h>

#include "listener.h"
#include "util.h"

static enum wasp_peek_result
tcp_peek(void *userdata, const char *buf, size_t len, bool full, struct wasp_peek_key *ret)
{
	/* no host, and the root application's path */
	ret->host = "";
	ret->host_len = 0;
	ret->path = "/";
	ret->path_len = 1;
	return WASP_PEEK_ROUTE;
}

static void
tcp_write_error(void *userdata, int fd, unsigned status, const char *reason,
		unsigned retry_after_s, unsigned peek_flags)
{
	/* nothing to say in raw TCP: the core closes the connection */
}

static const struct wasp_listener_ops tcp_ops = {
	.name = "tcp",
	.peek = tcp_peek,
	.write_error = tcp_write_error,
	.client_speaks_first = false,
	.reset_503 = true,
};

int
main(int argc, char **argv)
{
	return wasp_listener_main(&tcp_ops, NULL, argc, argv);
}
