/* A protocol adapter written only against <wasp/adapter.h> and
 * libwasp-adapter (and jansson for the routing table), as an adapter author
 * outside wasp would write one: it registers PROTOCOL over adapter.sock in
 * RUNTIME_DIR, takes the listening sockets and routing table waspd sends,
 * and hands every connection, unread, to a worker of the pool of the root
 * application of the site whose binding it came in on (asking for a
 * worker when the pool has none). RUNTIME_DIR "-": started by waspd
 * (listenerAdapters' executable), on the channel WASP_CHANNEL_FD names.
 * What happens is printed on stdout, one
 * line each: "registered generation=N sockets=K [ADDRESS:PORT ...]",
 * "refused reason=N MESSAGE", "handoff conn=N", "worker pool=N pid=N".
 * Exit status: 0 when waspd closed the channel, 2 connect failed, 3
 * refused. Used by tests/integration/test_adapter_sock.py. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wasp/adapter.h>

#define MAX_SOCKS 16
#define MAX_WORKERS 16
#define MAX_CONNS 256

struct lsock {
	int fd;
	uint32_t id;
	int pool; /* -1: no route */
	uint32_t site_id;
};

struct wchan {
	int fd;
	uint32_t pool_id, worker_id, pid;
	int gone;
};

struct conn {
	int fd;
	uint32_t id;
	int pool;
	uint32_t site_id;
	int handed; /* to a worker, waiting for its ACK */
};

static const char *protocol;
static int act = -1;
static struct lsock socks[MAX_SOCKS], next_socks[MAX_SOCKS];
static size_t n_socks, n_next_socks;
static struct wchan workers[MAX_WORKERS];
static size_t n_workers;
static struct conn conns[MAX_CONNS];
static uint32_t generation, next_conn_id = 1;
static json_t *table;
static char buf[WASP_ADAPTER_MAX_MSG];

static void
route_socket(struct lsock *s)
{
	json_t *sk = NULL, *site, *v;
	size_t i, j;

	s->pool = -1;
	json_array_foreach(json_object_get(table, "sockets"), i, v)
		if (json_integer_value(json_object_get(v, "id")) == s->id)
			sk = v;
	if (!sk)
		return;
	json_array_foreach(json_object_get(table, "sites"), i, site) {
		json_t *b, *app;
		int match = 0;

		json_array_foreach(json_object_get(site, "bindings"), j, b)
			match |= !strcasecmp(json_string_value(json_object_get(b, "protocol")), protocol) &&
				 json_integer_value(json_object_get(b, "port")) ==
					 json_integer_value(json_object_get(sk, "port"));
		if (!match)
			continue;
		json_array_foreach(json_object_get(site, "apps"), j, app)
			if (!strcmp(json_string_value(json_object_get(app, "path")), "/")) {
				s->pool = (int)json_integer_value(json_object_get(app, "pool"));
				s->site_id = (uint32_t)json_integer_value(json_object_get(site, "id"));
			}
	}
}

static void
on_table(const struct wasp_adapter_msg *m)
{
	char *text;
	size_t len;

	memcpy(&generation, m->payload, sizeof(generation));
	if (wasp_adapter_read_table(m->fd, &text, &len) < 0)
		exit(4);
	json_decref(table);
	table = json_loadb(text, len, 0, NULL);
	free(text);
	if (!table)
		exit(4);
	if (n_next_socks > 0) {
		for (size_t i = 0; i < n_socks; i++)
			close(socks[i].fd);
		memcpy(socks, next_socks, sizeof(socks));
		n_socks = n_next_socks;
		n_next_socks = 0;
	}
	printf("registered generation=%u sockets=%zu", generation, n_socks);
	for (size_t i = 0; i < n_socks; i++) {
		json_t *v;
		size_t k;

		route_socket(&socks[i]);
		json_array_foreach(json_object_get(table, "sockets"), k, v)
			if (json_integer_value(json_object_get(v, "id")) == socks[i].id)
				printf(" %s:%lld", json_string_value(json_object_get(v, "address")),
				       (long long)json_integer_value(json_object_get(v, "port")));
	}
	printf("\n");
	fflush(stdout);
}

static struct wchan *
worker_for(int pool)
{
	for (size_t i = 0; i < n_workers; i++)
		if (!workers[i].gone && (int)workers[i].pool_id == pool)
			return &workers[i];
	return NULL;
}

/* Hand c to a worker of its pool, or ask for one. */
static void
dispatch(struct conn *c)
{
	struct wchan *w = worker_for(c->pool);
	struct wasp_adapter_handoff h = { .conn_id = c->id, .site_id = c->site_id,
					  .generation = generation };

	if (!w) {
		(void)wasp_adapter_pool_demand(act, (uint32_t)c->pool, generation);
		return;
	}
	if (wasp_adapter_send_handoff(w->fd, &h, "/", protocol, NULL, 0, c->fd) == 0) {
		c->handed = 1;
		printf("handoff conn=%u\n", c->id);
		fflush(stdout);
	}
}

static void
conn_done(uint32_t id)
{
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0 && conns[i].id == id) {
			close(conns[i].fd);
			conns[i].fd = -1;
		}
}

static void
on_accept(struct lsock *s)
{
	int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd < 0) {
			conns[i] = (struct conn){ .fd = fd, .id = next_conn_id++, .pool = s->pool,
						  .site_id = s->site_id };
			if (s->pool < 0) {
				conn_done(conns[i].id);
				return;
			}
			dispatch(&conns[i]);
			return;
		}
	close(fd);
}

static void
on_worker_channel(const struct wasp_adapter_msg *m)
{
	struct wasp_adapter_worker_ref ref;

	memcpy(&ref, m->payload, sizeof(ref));
	if (n_workers == MAX_WORKERS || wasp_adapter_send_hello(m->fd) < 0) {
		close(m->fd);
		return;
	}
	workers[n_workers++] = (struct wchan){ .fd = m->fd, .pool_id = ref.pool_id,
					       .worker_id = ref.worker_id, .pid = ref.pid };
	printf("worker pool=%u pid=%u\n", ref.pool_id, ref.pid);
	fflush(stdout);
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0 && !conns[i].handed && conns[i].pool == (int)ref.pool_id)
			dispatch(&conns[i]);
}

static void
on_activator(void)
{
	struct wasp_adapter_msg m;
	struct wasp_adapter_refused no;
	struct wasp_adapter_worker_ref ref;
	int r = wasp_adapter_recv(act, buf, sizeof(buf), &m);

	if (r <= 0)
		exit(r == 0 ? 0 : 5);
	switch (m.hdr.type) {
	case WASP_ADAPTER_MSG_ADAPTER_REFUSED:
		memcpy(&no, m.payload, sizeof(no));
		no.message[sizeof(no.message) - 1] = 0;
		printf("refused reason=%u %s\n", no.reason, no.message);
		fflush(stdout);
		exit(3);
	case WASP_ADAPTER_MSG_LISTEN_SOCKET: {
		struct wasp_adapter_listen_socket ls;

		memcpy(&ls, m.payload, sizeof(ls));
		if (n_next_socks == MAX_SOCKS)
			exit(4);
		(void)fcntl(m.fd, F_SETFL, O_NONBLOCK);
		next_socks[n_next_socks++] = (struct lsock){ .fd = m.fd, .id = ls.socket_id };
		return;
	}
	case WASP_ADAPTER_MSG_ROUTE_TABLE:
		on_table(&m);
		break;
	case WASP_ADAPTER_MSG_WORKER_CHANNEL:
		on_worker_channel(&m);
		return;
	case WASP_ADAPTER_MSG_WORKER_GONE:
		memcpy(&ref, m.payload, sizeof(ref));
		for (size_t i = 0; i < n_workers; i++)
			if (workers[i].worker_id == ref.worker_id)
				workers[i].gone = 1;
		break;
	default:
		break;
	}
	if (m.fd >= 0)
		close(m.fd);
}

static void
on_worker(struct wchan *w)
{
	struct wasp_adapter_msg m;
	int r = wasp_adapter_recv(w->fd, buf, sizeof(buf), &m);

	if (r <= 0) {
		if (r == -EAGAIN)
			return;
		close(w->fd);
		*w = workers[--n_workers];
		return;
	}
	if (m.hdr.type == WASP_ADAPTER_MSG_HANDOFF_ACK ||
	    m.hdr.type == WASP_ADAPTER_MSG_HANDOFF_REFUSED)
		for (size_t i = 0; i + sizeof(struct wasp_adapter_conn_ref) <= m.len;
		     i += sizeof(struct wasp_adapter_conn_ref)) {
			struct wasp_adapter_conn_ref ref;

			memcpy(&ref, (const char *)m.payload + i, sizeof(ref));
			conn_done(ref.conn_id);
		}
	if (m.fd >= 0)
		close(m.fd);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s RUNTIME_DIR PROTOCOL\n", argv[0]);
		return 1;
	}
	if (wasp_adapter_api_version() != WASP_ADAPTER_API_VERSION)
		return 1;
	protocol = argv[2];
	for (size_t i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	if (!strcmp(argv[1], "-")) {
		/* started by waspd: the channel it gave us */
		const char *v = getenv("WASP_CHANNEL_FD");
		int fd = v ? atoi(v) : -1, r;

		r = fd >= 0 ? wasp_adapter_register(fd, protocol) : -EBADF;
		act = r < 0 ? r : fd;
	} else {
		act = wasp_adapter_connect(argv[1], protocol);
	}
	if (act < 0) {
		printf("connect failed: %s\n", strerror(-act));
		return 2;
	}
	for (;;) {
		struct pollfd p[1 + MAX_SOCKS + MAX_WORKERS];
		size_t n = 0;

		p[n++] = (struct pollfd){ .fd = act, .events = POLLIN };
		for (size_t i = 0; i < n_socks; i++)
			p[n++] = (struct pollfd){ .fd = socks[i].fd, .events = POLLIN };
		for (size_t i = 0; i < n_workers; i++)
			p[n++] = (struct pollfd){ .fd = workers[i].fd, .events = POLLIN };
		if (poll(p, n, -1) < 0)
			continue;
		if (p[0].revents) {
			on_activator(); /* may change the sockets and workers */
			continue;
		}
		for (size_t i = 0; i < n_socks && i + 1 < n; i++)
			if (p[1 + i].revents)
				on_accept(&socks[i]);
		for (size_t i = n_workers; i-- > 0;)
			if (1 + n_socks + i < n && p[1 + n_socks + i].revents)
				on_worker(&workers[i]);
	}
}
