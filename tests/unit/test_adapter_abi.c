/* <wasp/adapter.h> and libwasp-adapter against wasp's own message table:
 * the same numbers, sizes and layouts (at compile time), and messages that
 * each side's framing reads from the other (at run time). */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "msg.h"
#include "testutil.h"
#include "wasp/adapter.h"

#define SAME(a, b) _Static_assert((long)(a) == (long)(b), #a " is not " #b)
#define SAME_SIZE(pub, priv) _Static_assert(sizeof(pub) == sizeof(priv), #pub " size")
#define SAME_AT(pub, priv, f) \
	_Static_assert(offsetof(pub, f) == offsetof(priv, f), #pub "." #f " offset")

SAME(WASP_ADAPTER_IPC_VERSION, WASP_IPC_VERSION);
SAME(WASP_ADAPTER_HDR_SIZE, WASP_IPC_HDR_SIZE);
SAME(WASP_ADAPTER_MAX_MSG, WASP_IPC_MAX_MSG);
SAME(WASP_ADAPTER_F_HAS_FD, WASP_IPC_F_HAS_FD);
SAME(WASP_ADAPTER_PROTOCOL_MAX, WASP_PROTOCOL_NAME_MAX);
SAME(WASP_ADAPTER_ROLE_ACTIVATOR, WASP_ROLE_ACTIVATOR);
SAME(WASP_ADAPTER_ROLE_ADAPTER, WASP_ROLE_ADAPTER);
SAME(WASP_ADAPTER_ROLE_WORKER, WASP_ROLE_WORKER);
SAME(WASP_ADAPTER_MSG_HELLO, WASP_MSG_HELLO);
SAME(WASP_ADAPTER_MSG_REGISTER, WASP_MSG_ADAPTER_REGISTER);
SAME(WASP_ADAPTER_MSG_ROUTE_TABLE, WASP_MSG_ROUTE_TABLE);
SAME(WASP_ADAPTER_MSG_LISTEN_SOCKET, WASP_MSG_LISTEN_SOCKET);
SAME(WASP_ADAPTER_MSG_POOL_DEMAND, WASP_MSG_POOL_DEMAND);
SAME(WASP_ADAPTER_MSG_WORKER_CHANNEL, WASP_MSG_WORKER_CHANNEL);
SAME(WASP_ADAPTER_MSG_WORKER_GONE, WASP_MSG_WORKER_GONE);
SAME(WASP_ADAPTER_MSG_POOL_STATE, WASP_MSG_POOL_STATE);
SAME(WASP_ADAPTER_MSG_ADAPTER_STATS, WASP_MSG_ADAPTER_STATS);
SAME(WASP_ADAPTER_MSG_ADAPTER_REFUSED, WASP_MSG_ADAPTER_REFUSED);
SAME(WASP_ADAPTER_MSG_HANDOFF, WASP_MSG_HANDOFF);
SAME(WASP_ADAPTER_MSG_HANDOFF_ACK, WASP_MSG_HANDOFF_ACK);
SAME(WASP_ADAPTER_MSG_HANDBACK, WASP_MSG_HANDBACK);
SAME(WASP_ADAPTER_MSG_HANDOFF_REFUSED, WASP_MSG_HANDOFF_REFUSED);
SAME(WASP_ADAPTER_MSG_WORKER_ROOM, WASP_MSG_WORKER_ROOM);
SAME(WASP_ADAPTER_REFUSED_UNDECLARED, WASP_REGISTER_REFUSED_UNDECLARED);
SAME(WASP_ADAPTER_REFUSED_PERMISSION, WASP_REGISTER_REFUSED_PERMISSION);
SAME(WASP_ADAPTER_REFUSED_TAKEN, WASP_REGISTER_REFUSED_TAKEN);
SAME(WASP_ADAPTER_REFUSED_STARTED, WASP_REGISTER_REFUSED_STARTED);
SAME(WASP_ADAPTER_HANDOFF_F_ACK_MANY, WASP_HANDOFF_F_ACK_MANY);
SAME(WASP_ADAPTER_POOL_STOPPED, WASP_POOL_STOPPED);

SAME_SIZE(struct wasp_adapter_hdr, struct wasp_ipc_hdr);
SAME_AT(struct wasp_adapter_hdr, struct wasp_ipc_hdr, type);
SAME_AT(struct wasp_adapter_hdr, struct wasp_ipc_hdr, version);
SAME_AT(struct wasp_adapter_hdr, struct wasp_ipc_hdr, flags);
SAME_AT(struct wasp_adapter_hdr, struct wasp_ipc_hdr, seq);
SAME_AT(struct wasp_adapter_hdr, struct wasp_ipc_hdr, pid);
SAME_SIZE(struct wasp_adapter_hello, struct wasp_msg_hello);
SAME_AT(struct wasp_adapter_hello, struct wasp_msg_hello, role);
SAME_SIZE(struct wasp_adapter_register, struct wasp_msg_adapter_register);
SAME_SIZE(struct wasp_adapter_listen_socket, struct wasp_msg_listen_socket);
SAME_AT(struct wasp_adapter_listen_socket, struct wasp_msg_listen_socket, socket_id);
SAME_SIZE(struct wasp_adapter_pool_ref, struct wasp_msg_pool_ref);
SAME_AT(struct wasp_adapter_pool_ref, struct wasp_msg_pool_ref, generation);
SAME_SIZE(struct wasp_adapter_worker_ref, struct wasp_msg_worker_ref);
SAME_AT(struct wasp_adapter_worker_ref, struct wasp_msg_worker_ref, worker_id);
SAME_AT(struct wasp_adapter_worker_ref, struct wasp_msg_worker_ref, pid);
SAME_AT(struct wasp_adapter_worker_ref, struct wasp_msg_worker_ref, generation);
SAME_SIZE(struct wasp_adapter_pool_state, struct wasp_msg_pool_state);
SAME_AT(struct wasp_adapter_pool_state, struct wasp_msg_pool_state, state);
SAME_AT(struct wasp_adapter_pool_state, struct wasp_msg_pool_state, reason);
SAME_SIZE(struct wasp_adapter_stats, struct wasp_msg_adapter_stats);
SAME_AT(struct wasp_adapter_stats, struct wasp_msg_adapter_stats, queued);
SAME_SIZE(struct wasp_adapter_refused, struct wasp_msg_adapter_refused);
SAME_AT(struct wasp_adapter_refused, struct wasp_msg_adapter_refused, message);
SAME_SIZE(struct wasp_adapter_handoff, struct wasp_msg_handoff);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, site_id);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, app_path_len);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, data_len);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, generation);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, flags);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, protocol_len);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, tls_len);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, local_addr);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, peer_addr);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, local_port);
SAME_AT(struct wasp_adapter_handoff, struct wasp_msg_handoff, peer_port);
SAME_SIZE(struct wasp_adapter_conn_ref, struct wasp_msg_conn_ref);
SAME_SIZE(struct wasp_adapter_worker_room, struct wasp_msg_worker_room);
SAME_AT(struct wasp_adapter_worker_room, struct wasp_msg_worker_room, released);
SAME_SIZE(struct wasp_adapter_handback, struct wasp_msg_handback);
SAME_AT(struct wasp_adapter_handback, struct wasp_msg_handback, data_len);

static uint8_t buf[WASP_IPC_MAX_MSG];

/* The library's HELLO and HANDOFF, read by wasp's framing and checked
 * against the message table. */
START_TEST(test_library_to_wasp)
{
	struct wasp_adapter_handoff h = { .conn_id = 7, .site_id = 3, .generation = 2 };
	struct wasp_ipc_msg m;
	struct wasp_msg_handoff ho;
	int sv[2];

	ck_assert_int_eq(wasp_ipc_socketpair_blocking(sv), 0);
	ck_assert_int_eq(wasp_adapter_send_hello(sv[0]), 0);
	ck_assert_int_eq(wasp_ipc_recv(sv[1], buf, sizeof(buf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HELLO);
	ck_assert_int_eq(wasp_msg_check(wasp_msg_contract(WASP_MSG_HELLO), m.len, false), 0);

	ck_assert_int_eq(wasp_adapter_send_handoff(sv[0], &h, "/app", "tcp", "xyz", 3, sv[0]), 0);
	ck_assert_int_eq(wasp_ipc_recv(sv[1], buf, sizeof(buf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HANDOFF);
	ck_assert_uint_eq(m.hdr.seq, 7);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_int_eq(wasp_msg_check(wasp_msg_contract(WASP_MSG_HANDOFF), m.len, true), 0);
	memcpy(&ho, m.payload, sizeof(ho));
	ck_assert_uint_eq(ho.app_path_len, 4);
	ck_assert_uint_eq(ho.protocol_len, 3);
	ck_assert_uint_eq(ho.data_len, 3);
	ck_assert_uint_eq(m.len, sizeof(ho) + 10);
	ck_assert(memcmp(m.payload + sizeof(ho), "/apptcpxyz", 10) == 0);
	close(m.fd);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* wasp's LISTEN_SOCKET (with a descriptor) read by the library; a short
 * message and one of another version refused. */
START_TEST(test_wasp_to_library)
{
	struct wasp_msg_listen_socket ls = { .generation = 4, .socket_id = 1 };
	struct wasp_adapter_listen_socket got;
	struct wasp_adapter_msg m;
	struct wasp_ipc_hdr bad = { .len = 16, .type = 1, .version = 1 };
	int sv[2];

	ck_assert_int_eq(wasp_ipc_socketpair_blocking(sv), 0);
	ck_assert_int_eq(wasp_ipc_send(sv[1], WASP_MSG_LISTEN_SOCKET, 9, 0, &ls, sizeof(ls), sv[1]),
			 0);
	ck_assert_int_eq(wasp_adapter_recv(sv[0], buf, sizeof(buf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_ADAPTER_MSG_LISTEN_SOCKET);
	ck_assert_uint_eq(m.hdr.seq, 9);
	ck_assert_uint_eq(m.len, sizeof(got));
	ck_assert_int_ge(m.fd, 0);
	memcpy(&got, m.payload, sizeof(got));
	ck_assert_uint_eq(got.generation, 4);
	ck_assert_uint_eq(got.socket_id, 1);
	close(m.fd);

	ck_assert_int_eq(send(sv[1], "\x10\x00\x00", 3, 0), 3);
	ck_assert_int_eq(wasp_adapter_recv(sv[0], buf, sizeof(buf), &m), -EBADMSG);
	ck_assert_int_eq(send(sv[1], &bad, sizeof(bad), 0), (int)sizeof(bad));
	ck_assert_int_eq(wasp_adapter_recv(sv[0], buf, sizeof(buf), &m), -EBADMSG);
	close(sv[1]);
	ck_assert_int_eq(wasp_adapter_recv(sv[0], buf, sizeof(buf), &m), 0);
	close(sv[0]);
	ck_assert_int_eq(wasp_adapter_api_version(), WASP_ADAPTER_API_VERSION);
}
END_TEST

static Suite *
adapter_abi_suite(void)
{
	Suite *s = suite_create("adapter_abi");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, test_library_to_wasp);
	tcase_add_test(tc, test_wasp_to_library);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(adapter_abi_suite());
}
