/* The names listening sockets go by in systemd's file descriptor store and
 * a restart's LISTEN_FDNAMES (activator/fdstore.c). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "testutil.h"
#include "waspd.h"

static const char *
name_of(const char *proto, const char *address, uint16_t port, int family)
{
	static char buf[FDSTORE_NAME_MAX];
	char p[64], a[64];
	struct listen_sock s = {
		.protocol = p,
		.address = a,
		.port = port,
		.family = family,
		.fd = -1,
	};

	(void)snprintf(p, sizeof(p), "%s", proto);
	(void)snprintf(a, sizeof(a), "%s", address);
	ck_assert_int_eq(fdstore_name(&s, buf, sizeof(buf)), 0);
	return buf;
}

START_TEST(test_names)
{
	ck_assert_str_eq(name_of("http", "127.0.0.1", 8080, AF_INET), "wasp-http-127.0.0.1-8080");
	ck_assert_str_eq(name_of("http", "*", 80, AF_INET), "wasp-http-0.0.0.0-80");
	/* FDNAME= has no ':' */
	ck_assert_str_eq(name_of("http", "*", 80, AF_INET6), "wasp-http-__-80");
	ck_assert_str_eq(name_of("http", "::1", 443, AF_INET6), "wasp-http-__1-443");
	ck_assert_str_eq(name_of("http", "fe80::1%eth0", 80, AF_INET6), "wasp-http-fe80__1_eth0-80");
	ck_assert_str_eq(name_of("net.tcp", "10.0.0.1", 808, AF_INET), "wasp-net.tcp-10.0.0.1-808");
}
END_TEST

START_TEST(test_ours)
{
	ck_assert(fdstore_is_ours("wasp-http-127.0.0.1-80"));
	ck_assert(!fdstore_is_ours("wasp.socket"));
	ck_assert(!fdstore_is_ours("unknown"));
	ck_assert(!fdstore_is_ours(""));
	ck_assert(!fdstore_is_ours(NULL));
}
END_TEST

START_TEST(test_too_long)
{
	char p[] = "http", a[] = "127.0.0.1";
	struct listen_sock s = {
		.protocol = p,
		.address = a,
		.port = 80,
		.family = AF_INET,
	};
	char buf[16];

	ck_assert_int_eq(fdstore_name(&s, buf, sizeof(buf)), -ENAMETOOLONG);
}
END_TEST

static Suite *
fdstore_suite(void)
{
	Suite *s = suite_create("activator_fdstore");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_ours);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(fdstore_suite());
}
