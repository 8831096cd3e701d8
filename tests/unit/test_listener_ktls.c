/* The kTLS hand-back check (listener/ktls.c) on sockets without kernel TLS
 * (this machine's kernel has no tls ULP; tests/vm/test_ktls_vm.py covers
 * the kTLS sockets): a socket handed back without TLS facts is served as
 * before, and one handed back with facts it cannot have (no kernel TLS on
 * it) is refused: -EPERM, and no facts on the connection (fail closed). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lsn.h"
#include "tls.h"
#include "testutil.h"

static void
check_socket(int fd)
{
	struct lsn_conn c = { .fd = fd };
	uint8_t echo[sizeof(struct wasp_msg_tls_info) + WASP_TLS_MAC_LEN] = { 0 };
	struct wasp_msg_tls_info in = { .version = 0x0303, .flags = WASP_TLS_F_KTLS };

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lsn_ktls_handback(&c, NULL, 0), 0);
	ck_assert_ptr_null(c.ktls);
	memcpy(echo, &in, sizeof(in));
	ck_assert_int_eq(lsn_ktls_handback(&c, echo, sizeof(echo)), -EPERM);
	ck_assert_ptr_null(c.ktls);
	ck_assert_int_eq(lsn_ktls_handback(&c, echo, 3), -EPERM);
	ck_assert_ptr_null(c.ktls);
	close(fd);
}

START_TEST(test_handback_without_ktls)
{
	int sp[2];

	(void)lsn_ktls_init();
	check_socket(socket(AF_INET, SOCK_STREAM, 0));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	close(sp[1]);
	check_socket(sp[0]); /* a relay's plaintext end is never a kTLS socket */
	ck_assert_uint_eq(lsn_ktls_facts_len(NULL), 0);
	lsn_ktls_done();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("listener_ktls");
	TCase *tc = tcase_create("handback");

	tcase_add_test(tc, test_handback_without_ktls);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
