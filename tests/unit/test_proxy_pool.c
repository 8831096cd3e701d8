/* The proxy engine's pools (worker/proxy/proxy_pool.c): any IPv4 or IPv6
 * address, a pool without one refusing, and PROXY_BUSY_MAX connections in
 * use per worker. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "proxy/proxy_int.h"
#include "testutil.h"

START_TEST(test_addresses)
{
	struct event_base *base = event_base_new();
	struct proxy_pool *p = proxy_pool_new(base);
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(8080),
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(81) };
	struct pconn *c;
	bool reused;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(proxy_conn_get(p, false, &c, &reused), -ECONNREFUSED);
	ck_assert_int_eq(proxy_pool_set_addr(p, (struct sockaddr *)&in6, sizeof(in6)), 0);
	ck_assert_str_eq(p->name, "[::1]:8080");
	ck_assert_uint_eq(proxy_pool_port(p), 8080);
	ck_assert_int_eq(inet_pton(AF_INET, "10.1.2.3", &in.sin_addr), 1);
	ck_assert_int_eq(proxy_pool_set_addr(p, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_str_eq(p->name, "10.1.2.3:81");
	proxy_pool_set_port(p, 5000);
	ck_assert_str_eq(p->name, "127.0.0.1:5000");
	proxy_pool_set_port(p, 0);
	ck_assert_int_eq(proxy_conn_get(p, false, &c, &reused), -ECONNREFUSED);
	in.sin_family = AF_UNIX;
	ck_assert_int_eq(proxy_pool_set_addr(p, (struct sockaddr *)&in, sizeof(in)),
			 -EAFNOSUPPORT);
	proxy_pool_free(p);
	event_base_free(base);
}
END_TEST

START_TEST(test_busy_max)
{
	struct event_base *base = event_base_new();
	struct proxy_pool *p = proxy_pool_new(base);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct pconn **c = calloc(PROXY_BUSY_MAX + 1, sizeof(*c));
	struct rlimit rl;
	bool reused;
	int lfd;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < PROXY_BUSY_MAX + 64) {
		free(c);
		proxy_pool_free(p);
		event_base_free(base);
		return; /* not enough descriptors to reach the limit here */
	}
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	ck_assert_int_eq(proxy_pool_set_addr(p, (struct sockaddr *)&sa, len), 0);
	for (size_t i = 0; i < PROXY_BUSY_MAX; i++)
		ck_assert_int_eq(proxy_conn_get(p, false, &c[i], &reused), 0);
	ck_assert_uint_eq(proxy_pool_busy(p), PROXY_BUSY_MAX);
	ck_assert_int_eq(proxy_conn_get(p, false, &c[PROXY_BUSY_MAX], &reused), -EUSERS);
	proxy_conn_release(c[0], false);
	ck_assert_int_eq(proxy_conn_get(p, false, &c[0], &reused), 0);
	for (size_t i = 0; i < PROXY_BUSY_MAX; i++)
		proxy_conn_release(c[i], false);
	ck_assert_uint_eq(proxy_pool_busy(p), 0);
	proxy_pool_free(p);
	close(lfd);
	free(c);
	event_base_free(base);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite *s = suite_create("proxy_pool");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_busy_max);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(pool_suite());
}
