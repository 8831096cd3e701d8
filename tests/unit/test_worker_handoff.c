/* worker/handoff.c with conn.c: a fake adapter on the other end of a handoff
 * channel hands the worker real TCP connections (loopback). The worker
 * acknowledges them, serves its own pool's requests, hands a connection back
 * (with the unread bytes) when a request belongs to another pool, and when
 * draining returns new connections unacknowledged with their conn id. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"
#include "route.h"
#include "testutil.h"
#include "util.h"
#include "worker.h"

static char *top;
static struct event_base *base;
static struct worker_env env;
static struct wvdir vdirs[1];
static struct wapp app;
static int lsock = -1, adapter = -1;
static uint16_t port;
static uint8_t rbuf[WASP_IPC_MAX_MSG];
/* WORKER_ROOMs adapter_recv() passed over: how many, and their sums */
static unsigned rooms;
static uint32_t room_released, room_capacity;

static void
setup(void)
{
	char p[PATH_MAX], json[2048], err[256];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fds[2];

	(void)signal(SIGPIPE, SIG_IGN);
	testutil_fd_setup();
	top = testutil_mkdtemp();
	snprintf(p, sizeof(p), "%s/index.html", top);
	testutil_write_file(p, "pool A\n");

	lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lsock, 0);
	ck_assert_int_eq(bind(lsock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lsock, 16), 0);
	ck_assert_int_eq(getsockname(lsock, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);

	base = event_base_new();
	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(env_init(&env, base), 0);
	ck_assert_int_eq(env_load_modules(&env, WASP_WORKER_F_TEST_HEADERS), 0);
	env.pool_name = strdup("A");
	vdirs[0] = (struct wvdir){ .url = "/", .url_len = 1, .physical_path = top, .root_fd = -1 };
	app = (struct wapp){ .site_id = 1,
			     .path = "/",
			     .path_len = 1,
			     .vdirs = vdirs,
			     .n_vdirs = 1,
			     .connection_timeout_usec = 120ULL * 1000000 };
	env.apps = &app;
	env.n_apps = 1;
	snprintf(json, sizeof(json),
		 "{ \"generation\": 1,"
		 "  \"sockets\": [ { \"id\": 0, \"protocol\": \"http\", \"address\": \"127.0.0.1\","
		 "                   \"port\": %u } ],"
		 "  \"pools\": [ { \"id\": 0, \"name\": \"A\" }, { \"id\": 1, \"name\": \"B\" } ],"
		 "  \"sites\": [ { \"id\": 1, \"name\": \"S\","
		 "    \"bindings\": [ { \"protocol\": \"http\", \"address\": \"*\", \"port\": %u,"
		 "                      \"host\": \"\" } ],"
		 "    \"apps\": [ { \"path\": \"/\", \"pool\": 0 }, { \"path\": \"/b\", \"pool\": "
		 "1 } ] } ] }",
		 port, port);
	ck_assert_int_eq(
		wasp_route_table_parse(json, strlen(json), NULL, &env.routes, err, sizeof(err)), 0);
	env.route_pool = wasp_route_pool_by_name(env.routes, "A");
	ck_assert_ptr_nonnull(env.route_pool);
	env.routes_gen++;
	env.ready = true;

	ck_assert_int_eq(wasp_ipc_socketpair(fds), 0);
	ck_assert_int_eq(wchan_add(&env, fds[0], 7), 0);
	adapter = fds[1];
}

static void
teardown(void)
{
	env_done(&env);
	event_base_free(base);
	adapter = safe_close(adapter);
	lsock = safe_close(lsock);
	testutil_rmtree(top);
	free(top);
	testutil_fd_teardown();
}

/* The next message for the adapter, running the worker's loop meanwhile.
 * WORKER_ROOMs are counted (rooms, room_released) and passed over. */
static int
adapter_recv(struct wasp_ipc_msg *m)
{
	for (int i = 0; i < 500; i++) {
		struct pollfd pfd = { .fd = adapter, .events = POLLIN };
		int r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		r = wasp_ipc_recv(adapter, rbuf, sizeof(rbuf), m);
		if (r == 1 && m->hdr.type == WASP_MSG_WORKER_ROOM) {
			struct wasp_msg_worker_room room;

			ck_assert_uint_eq(m->len, sizeof(room));
			memcpy(&room, m->payload, sizeof(room));
			rooms++;
			room_released += room.released;
			room_capacity = room.capacity;
			i--;
			continue;
		}
		if (r != -EAGAIN)
			return r;
		(void)poll(&pfd, 1, 10);
	}
	return -ETIMEDOUT;
}

/* Run the worker's loop until it sent n_rooms WORKER_ROOMs in all (since
 * adapter_hello) saying that released connections were closed; nothing
 * else may come meanwhile. */
static void
adapter_wait_rooms(unsigned n_rooms, uint32_t released)
{
	for (int i = 0; i < 200 && (rooms < n_rooms || room_released < released); i++) {
		struct pollfd pfd = { .fd = adapter, .events = POLLIN };
		struct wasp_msg_worker_room room;
		struct wasp_ipc_msg m;
		int r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		r = wasp_ipc_recv(adapter, rbuf, sizeof(rbuf), &m);
		if (r == -EAGAIN) {
			(void)poll(&pfd, 1, 10);
			continue;
		}
		ck_assert_int_eq(r, 1);
		ck_assert_uint_eq(m.hdr.type, WASP_MSG_WORKER_ROOM);
		memcpy(&room, m.payload, sizeof(room));
		rooms++;
		room_released += room.released;
		room_capacity = room.capacity;
	}
	ck_assert_uint_eq(rooms, n_rooms);
	ck_assert_uint_eq(room_released, released);
}

static void
adapter_hello(void)
{
	struct wasp_msg_hello h = { .version = WASP_IPC_VERSION,
				    .role = WASP_ROLE_ADAPTER,
				    .pid = (uint32_t)getpid() };
	struct wasp_ipc_msg m;

	ck_assert_int_eq(wasp_ipc_send(adapter, WASP_MSG_HELLO, 0, 0, &h, sizeof(h), -1), 0);
	rooms = 0;
	room_released = 0;
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HELLO);
	/* then the worker's connection limit */
	adapter_wait_rooms(1, 0);
	ck_assert_uint_eq(room_capacity, env.conn_max);
}

/* A fresh loopback connection: returns the client end; *ret_server the end
 * the "adapter" accepted. */
static int
tcp_pair(int *ret_server)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*ret_server = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(*ret_server, 0);
	return c;
}

static void
send_handoff_flags(uint32_t conn_id, int fd, const char *app_path, const char *data,
		   uint32_t flags)
{
	static uint8_t buf[WASP_IPC_MAX_PAYLOAD];
	struct wasp_msg_handoff ho = { .conn_id = conn_id,
				       .site_id = 1,
				       .app_path_len = (uint32_t)strlen(app_path),
				       .data_len = (uint32_t)strlen(data),
				       .flags = flags };
	size_t n = 0;

	memcpy(buf, &ho, sizeof(ho));
	n += sizeof(ho);
	memcpy(buf + n, app_path, ho.app_path_len);
	n += ho.app_path_len;
	memcpy(buf + n, data, ho.data_len);
	n += ho.data_len;
	ck_assert_int_eq(wasp_ipc_send(adapter, WASP_MSG_HANDOFF, 9, WASP_IPC_F_HAS_FD, buf, n, fd),
			 0);
	close(fd);
}

static void
send_handoff(uint32_t conn_id, int fd, const char *app_path, const char *data)
{
	send_handoff_flags(conn_id, fd, app_path, data, 0);
}

static size_t
client_read(int c, char *buf, size_t size, const char *until)
{
	size_t len = 0;

	/* the worker's loop runs between short waits: an answer may come from
	 * one of its timers; 2 s in all */
	for (int waits = 0;; waits++) {
		struct pollfd pfd = { .fd = c, .events = POLLIN };
		ssize_t n;

		buf[len] = '\0';
		if (strstr(buf, until))
			return len;
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 10) != 1) {
			ck_assert_int_lt(waits, 200);
			continue;
		}
		n = recv(c, buf + len, size - 1 - len, MSG_DONTWAIT);
		ck_assert_int_gt(n, 0);
		len += (size_t)n;
	}
}

/* A new connection handed to the worker as conn_id and acknowledged: the
 * client end. */
static int
handoff_acked(uint32_t conn_id, const char *app_path, const char *data)
{
	struct wasp_msg_conn_ref ack;
	struct wasp_ipc_msg m;
	int srv, c = tcp_pair(&srv);

	send_handoff(conn_id, srv, app_path, data);
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF_ACK);
	memcpy(&ack, m.payload, sizeof(ack));
	ck_assert_uint_eq(ack.conn_id, conn_id);
	return c;
}

START_TEST(test_ack_serve_handback)
{
	static const char first[] = "GET /index.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	static const char second[] = "GET /b/x.html HTTP/1.1\r\nHost: s.test\r\n\r\nGET /";
	struct sockaddr_in a1, a2;
	socklen_t l1 = sizeof(a1), l2 = sizeof(a2);
	struct wasp_msg_conn_ref ack;
	struct wasp_msg_handback hb;
	struct wasp_ipc_msg m;
	char buf[4096];
	int srv, c;

	adapter_hello();
	c = tcp_pair(&srv);
	ck_assert_int_eq(getsockname(c, (struct sockaddr *)&a1, &l1), 0);
	send_handoff(5, srv, "/", first);

	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF_ACK);
	ck_assert_uint_eq(m.hdr.seq, 9);
	memcpy(&ack, m.payload, sizeof(ack));
	ck_assert_uint_eq(ack.conn_id, 5);

	client_read(c, buf, sizeof(buf), "pool A\n");
	ck_assert_msg(startswith(buf, "HTTP/1.1 200 OK\r\n"), "%s", buf);
	ck_assert_uint_eq(env.n_conns, 1);

	/* the next request belongs to pool B: back to the adapter, unread bytes and all */
	ck_assert_int_eq(write(c, second, strlen(second)), (ssize_t)strlen(second));
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDBACK);
	ck_assert_int_ge(m.fd, 0);
	memcpy(&hb, m.payload, sizeof(hb));
	ck_assert_uint_eq(hb.conn_id, 0);
	ck_assert_uint_eq(hb.data_len, strlen(second));
	ck_assert_int_eq(memcmp(m.payload + sizeof(hb), second, strlen(second)), 0);
	/* the same connection came back */
	ck_assert_int_eq(getpeername(m.fd, (struct sockaddr *)&a2, &l2), 0);
	ck_assert_uint_eq(a1.sin_port, a2.sin_port);
	close(m.fd);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(env.n_conns, 0);
	close(c);
}
END_TEST

START_TEST(test_big_pipelined_handback)
{
	static const char first[] = "GET /index.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	static const char other[] = "GET /b/x.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	size_t cap = WASP_IPC_MAX_PAYLOAD - sizeof(struct wasp_msg_handoff) - 1, len = 0;
	char *data = malloc(cap + 1), buf[4096];
	struct wasp_msg_handback hb;
	struct wasp_ipc_msg m;
	int c;

	/* as much as one HANDOFF can carry: the first request, then another
	 * pool's requests; all of them come back in one HANDBACK */
	memcpy(data, first, sizeof(first) - 1);
	len = sizeof(first) - 1;
	while (len + sizeof(other) - 1 <= cap) {
		memcpy(data + len, other, sizeof(other) - 1);
		len += sizeof(other) - 1;
	}
	data[len] = '\0';
	adapter_hello();
	c = handoff_acked(11, "/", data);
	client_read(c, buf, sizeof(buf), "pool A\n");
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDBACK);
	memcpy(&hb, m.payload, sizeof(hb));
	ck_assert_uint_eq(hb.data_len, len - (sizeof(first) - 1));
	ck_assert_int_eq(memcmp(m.payload + sizeof(hb), data + sizeof(first) - 1, hb.data_len), 0);
	close(m.fd);
	close(c);
	free(data);
}
END_TEST

START_TEST(test_first_request_elsewhere)
{
	/* the adapter routed by an older table: the worker still checks */
	static const char req[] = "GET /b/ HTTP/1.1\r\nHost: s.test\r\n\r\n";
	struct wasp_msg_handback hb;
	struct wasp_ipc_msg m;
	int c;

	adapter_hello();
	c = handoff_acked(6, "/b", req);
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDBACK);
	memcpy(&hb, m.payload, sizeof(hb));
	ck_assert_uint_eq(hb.data_len, strlen(req));
	close(m.fd);
	close(c);
}
END_TEST

START_TEST(test_draining_returns_unacked)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	struct wasp_msg_handback hb;
	struct wasp_ipc_msg m;
	int srv, c;

	adapter_hello();
	env.draining = true;
	c = tcp_pair(&srv);
	send_handoff(42, srv, "/", req);
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDBACK); /* no ACK before it */
	memcpy(&hb, m.payload, sizeof(hb));
	ck_assert_uint_eq(hb.conn_id, 42);
	ck_assert_uint_eq(hb.data_len, strlen(req));
	ck_assert_int_eq(memcmp(m.payload + sizeof(hb), req, strlen(req)), 0);
	ck_assert_int_ge(m.fd, 0);
	close(m.fd);
	ck_assert_uint_eq(env.n_conns, 0);
	close(c);
}
END_TEST

START_TEST(test_drain_hands_back_idle)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	struct wasp_msg_handback hb;
	struct wasp_ipc_msg m;
	char buf[4096];
	int c;

	adapter_hello();
	c = handoff_acked(8, "/", req);
	client_read(c, buf, sizeof(buf), "pool A\n");
	ck_assert_uint_eq(env.n_conns, 1);

	/* between requests when DRAIN comes: back to the adapter, not closed */
	env.draining = true;
	conn_drain_all(&env);
	ck_assert_uint_eq(env.n_conns, 0);
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDBACK);
	memcpy(&hb, m.payload, sizeof(hb));
	ck_assert_uint_eq(hb.conn_id, 0);
	ck_assert_uint_eq(hb.data_len, 0);
	ck_assert_int_ge(m.fd, 0);
	close(m.fd);
	close(c);
}
END_TEST

/* A request in progress when DRAIN comes: answered keep-alive, then the
 * connection goes back like an idle one; with the adapter's channel gone,
 * answered with Connection: close instead. */
static void
drain_in_flight(bool adapter_gone)
{
	static const char req[] = "GET /__wasp_test/sleep?ms=100 HTTP/1.1\r\nHost: s.test\r\n\r\n";
	struct wasp_msg_handback hb;
	struct wasp_ipc_msg m;
	char buf[4096];
	int c;

	adapter_hello();
	c = handoff_acked(12, "/", req);
	if (adapter_gone) {
		adapter = safe_close(adapter);
		/* the worker reads EOF on its channel and drops it */
		for (int i = 0; i < 100 && env.chans; i++)
			event_base_loop(base, EVLOOP_ONCE);
		ck_assert_ptr_null(env.chans);
	}
	env.draining = true;
	conn_drain_all(&env);
	ck_assert_uint_eq(env.n_conns, 1); /* busy: not handed back */

	client_read(c, buf, sizeof(buf), "slept 100 ms");
	ck_assert_msg(startswith(buf, "HTTP/1.1 200 OK\r\n"), "%s", buf);
	if (adapter_gone) {
		ck_assert_msg(strstr(buf, "\r\nConnection: close\r\n"), "%s", buf);
	} else {
		ck_assert_msg(!strstr(buf, "\r\nConnection: close\r\n"), "%s", buf);
		ck_assert_int_eq(adapter_recv(&m), 1);
		ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDBACK);
		memcpy(&hb, m.payload, sizeof(hb));
		ck_assert_uint_eq(hb.conn_id, 0);
		ck_assert_int_ge(m.fd, 0);
		close(m.fd);
		ck_assert_uint_eq(env.n_conns, 0);
	}
	close(c);
}

START_TEST(test_drain_in_flight_keep_alive)
{
	drain_in_flight(false);
}
END_TEST

START_TEST(test_drain_in_flight_no_adapter)
{
	drain_in_flight(true);
}
END_TEST

START_TEST(test_batch_one_ack)
{
	static const char req[] =
		"GET /index.html HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n";
	struct wasp_msg_conn_ref acks[3];
	struct wasp_ipc_msg m;
	char buf[4096];
	int srv, c[3];

	/* three HANDOFFs read on one wakeup, from an adapter that takes
	 * several refs per ACK: one ACK names them all, and it comes before
	 * any of them is served */
	adapter_hello();
	for (int i = 0; i < 3; i++) {
		c[i] = tcp_pair(&srv);
		send_handoff_flags(20 + (uint32_t)i, srv, "/", req, WASP_HANDOFF_F_ACK_MANY);
	}
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF_ACK);
	ck_assert_uint_eq(m.hdr.seq, 9);
	ck_assert_uint_eq(m.len, sizeof(acks));
	memcpy(acks, m.payload, sizeof(acks));
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(acks[i].conn_id, 20 + (uint32_t)i);
		client_read(c[i], buf, sizeof(buf), "pool A\n");
		ck_assert_msg(startswith(buf, "HTTP/1.1 200 OK\r\n"), "%s", buf);
		close(c[i]);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(env.n_conns, 0);

	/* without the flag, one ACK per HANDOFF even when they came together */
	for (int i = 0; i < 2; i++) {
		c[i] = tcp_pair(&srv);
		send_handoff(30 + (uint32_t)i, srv, "/", req);
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(adapter_recv(&m), 1);
		ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF_ACK);
		ck_assert_uint_eq(m.len, sizeof(acks[0]));
		memcpy(acks, m.payload, sizeof(acks[0]));
		ck_assert_uint_eq(acks[0].conn_id, 30 + (uint32_t)i);
	}
	for (int i = 0; i < 2; i++) {
		client_read(c[i], buf, sizeof(buf), "pool A\n");
		close(c[i]);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(env.n_conns, 0);
}
END_TEST

START_TEST(test_batch_cut_by_malformed)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	struct wasp_msg_handoff ho = {
		.conn_id = 2, .site_id = 1, .app_path_len = 50, .data_len = 0
	};
	struct wasp_ipc_msg m;
	char b;
	int srv, srv2, c, c2;

	/* a good HANDOFF, then a malformed one in the same batch: the channel
	 * closes and the first is neither acknowledged nor served (the adapter
	 * still holds it and routes it again) */
	adapter_hello();
	c = tcp_pair(&srv);
	send_handoff_flags(1, srv, "/", req, WASP_HANDOFF_F_ACK_MANY);
	c2 = tcp_pair(&srv2);
	ck_assert_int_eq(wasp_ipc_send(adapter, WASP_MSG_HANDOFF, 2, WASP_IPC_F_HAS_FD, &ho,
				       sizeof(ho), srv2),
			 0);
	close(srv2);
	ck_assert_int_eq(adapter_recv(&m), 0); /* EOF, no ACK before it */
	ck_assert_ptr_null(env.chans);
	ck_assert_uint_eq(env.n_conns, 0);
	ck_assert_int_eq(read(c, &b, 1), 0); /* closed unanswered */
	close(c);
	close(c2);
}
END_TEST

/* A HANDOFF of payload (with a connection) makes the worker drop the channel. */
static void
handoff_closes_channel(const void *payload, size_t len)
{
	struct wasp_ipc_msg m;
	int srv, c;

	adapter_hello();
	c = tcp_pair(&srv);
	ck_assert_int_eq(wasp_ipc_send(adapter, WASP_MSG_HANDOFF, 1, WASP_IPC_F_HAS_FD, payload,
				       len, srv),
			 0);
	close(srv);
	ck_assert_int_eq(adapter_recv(&m), 0); /* EOF: the worker dropped the channel */
	ck_assert_ptr_null(env.chans);
	close(c);
}

START_TEST(test_malformed_handoff_closes_channel)
{
	struct wasp_msg_handoff ho = {
		.conn_id = 1, .site_id = 1, .app_path_len = 50, .data_len = 0
	};

	handoff_closes_channel(&ho, sizeof(ho));
}
END_TEST

/* TLS facts (conn_tls_parse): whose string lengths do not add up to
 * tls_len, or with a NUL in a string, are refused; in a HANDOFF they close
 * the channel (the adapter routes what it holds again). */
START_TEST(test_malformed_tls_facts_close_channel)
{
	struct {
		struct wasp_msg_handoff ho;
		char path[1];
		struct wasp_msg_tls_info info;
		char strs[8];
	} __attribute__((packed)) m1 = {
		.ho = { .conn_id = 1, .site_id = 1, .app_path_len = 1,
			.tls_len = sizeof(struct wasp_msg_tls_info) + 8 },
		.path = { '/' },
		.info = { .version = 0x0304, .cipher_len = 4, .sni_len = 3 }, /* 7, not 8 */
		.strs = { 'A', 'E', 'S', '1', 'a', 'b', 'c', 'd' },
	};
	struct conn_tls *tls;
	int err;

	tls = conn_tls_parse(&m1.info, sizeof(m1.info) + 7, 0, &err);
	ck_assert_ptr_nonnull(tls); /* 7 bytes of strings: what the lengths say */
	ck_assert_str_eq(tls->cipher, "AES1");
	ck_assert_str_eq(tls->sni, "abc");
	free(tls);
	m1.strs[1] = '\0';
	ck_assert_ptr_null(conn_tls_parse(&m1.info, sizeof(m1.info) + 7, 0, &err)); /* a NUL */
	ck_assert_int_eq(err, -EBADMSG);
	ck_assert_ptr_null(conn_tls_parse(&m1.info, 4, 0, &err)); /* shorter than the struct */
	handoff_closes_channel(&m1, sizeof(m1));
}
END_TEST

/* A kTLS socket's facts and their MAC (tls_mac_len) are kept as they came,
 * for the HANDBACK to echo; a MAC of another length, or without
 * WASP_TLS_F_KTLS, is refused; a relayed connection's facts keep nothing. */
START_TEST(test_ktls_facts_kept_for_handback)
{
	struct {
		struct wasp_msg_tls_info info;
		char strs[4];
		uint8_t mac[WASP_TLS_MAC_LEN];
	} __attribute__((packed)) m = {
		.info = { .version = 0x0303, .flags = WASP_TLS_F_KTLS, .cipher_len = 4 },
		.strs = { 'A', 'E', 'S', '1' },
	};
	size_t len = sizeof(m.info) + sizeof(m.strs);
	struct conn_tls *tls;
	int err;

	memset(m.mac, 0xa5, sizeof(m.mac));
	tls = conn_tls_parse(&m, len, WASP_TLS_MAC_LEN, &err);
	ck_assert_ptr_nonnull(tls);
	ck_assert_str_eq(tls->cipher, "AES1");
	ck_assert_uint_eq(tls->echo_len, sizeof(m));
	ck_assert_mem_eq(tls->echo, &m, sizeof(m));
	free(tls);
	ck_assert_ptr_null(conn_tls_parse(&m, len, 16, &err));
	ck_assert_int_eq(err, -EBADMSG);
	m.info.flags = 0;
	ck_assert_ptr_null(conn_tls_parse(&m, len, WASP_TLS_MAC_LEN, &err));
	tls = conn_tls_parse(&m, len, 0, &err);
	ck_assert_ptr_nonnull(tls);
	ck_assert_ptr_null(tls->echo);
	ck_assert_uint_eq(tls->echo_len, 0);
	free(tls);
}
END_TEST

static void
act_on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
}

START_TEST(test_broken_channel_reported)
{
	static const struct wasp_ipc_channel_ops act_ops = {
		.role = WASP_ROLE_WORKER,
		.peer_role = WASP_ROLE_ACTIVATOR,
		.on_close = act_on_close,
	};
	struct wasp_msg_handoff ho = {
		.conn_id = 1, .site_id = 1, .app_path_len = 50, .data_len = 0
	};
	struct wasp_msg_handoff_channel hc;
	struct wasp_ipc_msg m;
	int fds[2], srv, c;

	/* a handoff channel that breaks (not its EOF) is reported to waspd,
	 * which pairs worker and adapter again: the worker's pings would
	 * otherwise keep it looking healthy while no connection reaches it */
	ck_assert_int_eq(wasp_ipc_socketpair(fds), 0);
	env.activator = wasp_ipc_channel_new(base, fds[0], &act_ops, NULL);
	ck_assert_ptr_nonnull(env.activator);
	adapter_hello();
	c = tcp_pair(&srv);
	ck_assert_int_eq(wasp_ipc_send(adapter, WASP_MSG_HANDOFF, 1, WASP_IPC_F_HAS_FD, &ho,
				       sizeof(ho), srv),
			 0);
	close(srv);
	ck_assert_int_eq(adapter_recv(&m), 0);
	ck_assert_ptr_null(env.chans);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HELLO);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF_CHANNEL_LOST);
	ck_assert_uint_eq(m.len, sizeof(hc));
	memcpy(&hc, m.payload, sizeof(hc));
	ck_assert_uint_eq(hc.adapter_id, 7);

	close(c);

	/* the adapter merely going away (EOF) is not reported: its successor
	 * gets a new channel anyway */
	{
		int hfds[2];

		ck_assert_int_eq(wasp_ipc_socketpair(hfds), 0);
		ck_assert_int_eq(wchan_add(&env, hfds[0], 8), 0);
		close(hfds[1]);
		for (int i = 0; i < 20 && env.chans; i++) {
			struct pollfd pfd = { .fd = fds[1], .events = POLLIN };

			event_base_loop(base, EVLOOP_NONBLOCK);
			(void)poll(&pfd, 1, 10);
		}
		ck_assert_ptr_null(env.chans);
		ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), -EAGAIN);
	}
	env.activator = wasp_ipc_channel_free(env.activator);
	safe_close(fds[1]);
}
END_TEST

START_TEST(test_refuse_at_limit)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	struct wasp_msg_conn_ref ref;
	struct wasp_ipc_msg m;
	char buf[4096];
	int srv, c1, c2, c3;

	/* at its limit the worker refuses a connection and keeps the channel;
	 * closing one it held makes room, and says so */
	adapter_hello();
	env.conn_max = 1;
	c1 = handoff_acked(1, "/", req);
	client_read(c1, buf, sizeof(buf), "pool A\n");
	c2 = tcp_pair(&srv);
	send_handoff(2, srv, "/", req);
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF_REFUSED);
	ck_assert_uint_eq(m.len, sizeof(ref));
	memcpy(&ref, m.payload, sizeof(ref));
	ck_assert_uint_eq(ref.conn_id, 2);
	ck_assert_ptr_nonnull(env.chans);
	ck_assert_uint_eq(env.n_conns, 1);
	close(c2); /* the adapter would route it again */

	close(c1);
	adapter_wait_rooms(2, 1);
	ck_assert_uint_eq(env.n_conns, 0);
	c3 = handoff_acked(3, "/", req);
	client_read(c3, buf, sizeof(buf), "pool A\n");
	close(c3);
	adapter_wait_rooms(3, 2);
}
END_TEST

START_TEST(test_refuse_fd_lost)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\nHost: s.test\r\n\r\n";
	struct wasp_msg_conn_ref ref;
	struct wasp_ipc_msg m;
	struct rlimit rl, low;
	char buf[4096];
	int srv, c1, c2, fill[64], n_fill = 0;

	/* out of descriptors, a HANDOFF's fd is dropped by the kernel
	 * (MSG_CTRUNC): the worker refuses that connection and keeps its
	 * channel (it used to take it as a protocol error and close it) */
	adapter_hello();
	c1 = tcp_pair(&srv);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)srv + 8;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (;;) {
		int fd = dup(0);
		if (fd < 0)
			break;
		ck_assert_int_lt(n_fill, 64);
		fill[n_fill++] = fd;
	}
	send_handoff(1, srv, "/", req);
	fill[n_fill] = dup(0); /* the slot send_handoff's close freed */
	ck_assert_int_ge(fill[n_fill], 0);
	n_fill++;
	ck_assert_int_eq(adapter_recv(&m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF_REFUSED);
	memcpy(&ref, m.payload, sizeof(ref));
	ck_assert_uint_eq(ref.conn_id, 1);
	ck_assert_ptr_nonnull(env.chans);
	ck_assert_uint_eq(env.n_conns, 0);

	/* with descriptors again, the same channel takes connections; the
	 * adapter, which holds the worker for full since the refusal, hears so
	 * from a WORKER_ROOM that comes although no connection closed */
	while (n_fill > 0)
		close(fill[--n_fill]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	adapter_wait_rooms(2, 0);
	close(c1);
	c2 = handoff_acked(2, "/", req);
	client_read(c2, buf, sizeof(buf), "pool A\n");
	close(c2);
}
END_TEST

static Suite *
worker_handoff_suite(void)
{
	Suite *s = suite_create("worker_handoff");
	TCase *tc = tcase_create("handoff");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ack_serve_handback);
	tcase_add_test(tc, test_first_request_elsewhere);
	tcase_add_test(tc, test_big_pipelined_handback);
	tcase_add_test(tc, test_draining_returns_unacked);
	tcase_add_test(tc, test_drain_hands_back_idle);
	tcase_add_test(tc, test_malformed_handoff_closes_channel);
	tcase_add_test(tc, test_malformed_tls_facts_close_channel);
	tcase_add_test(tc, test_ktls_facts_kept_for_handback);
	tcase_add_test(tc, test_broken_channel_reported);
	tcase_add_test(tc, test_refuse_at_limit);
	tcase_add_test(tc, test_refuse_fd_lost);
	tcase_add_test(tc, test_drain_in_flight_keep_alive);
	tcase_add_test(tc, test_drain_in_flight_no_adapter);
	tcase_add_test(tc, test_batch_one_ack);
	tcase_add_test(tc, test_batch_cut_by_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_handoff_suite());
}
