#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "route.h"
#include "siphash.h"
#include "testutil.h"

/* Socket 0: *:8080; socket 1: 127.0.0.2:9090; socket 2: another protocol.
 * Sites: 1 "any" (*:8080:, apps / and /app), 2 "named" (*:8080:example.com,
 * apps / /app /app/deep), 3 "ip" (127.0.0.1:8080:), 4 "ip+host"
 * (127.0.0.1:8080:example.com), 5 "other" (127.0.0.2:9090:only.test). */
static const char table_json[] =
	"{ \"generation\": 7, \"headerWaitTimeoutMs\": 2500, \"maxConnectionsPerClient\": 9,"
	"  \"sockets\": [ { \"id\": 0, \"protocol\": \"http\", \"address\": \"*\", \"port\": 8080 },"
	"                 { \"id\": 1, \"protocol\": \"http\", \"address\": \"127.0.0.2\", \"port\": 9090 },"
	"                 { \"id\": 2, \"protocol\": \"net.tcp\", \"address\": \"*\", \"port\": 808 } ],"
	"  \"pools\": [ { \"id\": 0, \"name\": \"p0\", \"state\": \"Started\", \"queueLength\": 5 },"
	"               { \"id\": 1, \"name\": \"p1\", \"state\": \"Stopped\","
	"                 \"loadBalancerCapabilities\": \"TcpLevel\" },"
	"               { \"id\": 2, \"name\": \"p2\" } ],"
	"  \"sites\": ["
	"    { \"id\": 1, \"name\": \"any\","
	"      \"bindings\": [ { \"protocol\": \"http\", \"address\": \"*\", \"port\": 8080, \"host\": \"\" } ],"
	"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 }, { \"path\": \"/app/\", \"pool\": 1 } ] },"
	"    { \"id\": 2, \"name\": \"named\","
	"      \"bindings\": [ { \"protocol\": \"http\", \"address\": \"*\", \"port\": 8080, \"host\": \"Example.COM\" } ],"
	"      \"apps\": [ { \"path\": \"/\", \"pool\": 2 }, { \"path\": \"/app\", \"pool\": 1 },"
	"                  { \"path\": \"/app/deep\", \"pool\": 0 } ] },"
	"    { \"id\": 3, \"name\": \"ip\","
	"      \"bindings\": [ { \"protocol\": \"http\", \"address\": \"127.0.0.1\", \"port\": 8080, \"host\": \"\" } ],"
	"      \"apps\": [ { \"path\": \"/\", \"pool\": 2 } ] },"
	"    { \"id\": 4, \"name\": \"ip+host\","
	"      \"bindings\": [ { \"protocol\": \"http\", \"address\": \"127.0.0.1\", \"port\": 8080, \"host\": \"example.com\" },"
	"                      { \"protocol\": \"net.tcp\", \"address\": \"*\", \"port\": 808, \"host\": \"\" } ],"
	"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] },"
	"    { \"id\": 5, \"name\": \"other\","
	"      \"bindings\": [ { \"protocol\": \"http\", \"address\": \"127.0.0.2\", \"port\": 9090, \"host\": \"only.test\" } ],"
	"      \"apps\": [ { \"path\": \"/x\", \"pool\": 0 } ] }"
	"  ] }";

static struct wasp_route_table *table;

static void
table_setup(void)
{
	char err[256];
	int r = wasp_route_table_parse(table_json, strlen(table_json), "http", &table, err,
				       sizeof(err));

	ck_assert_msg(r == 0, "parse: %d %s", r, err);
}

static void
table_teardown(void)
{
	table = wasp_route_table_free(table);
}

static struct sockaddr_in
sin_of(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

/* Route and return the site id (0 when not routed), the app path and pool name. */
static int
route(const char *ip, int port, const char *host, const char *path, const char **ret_app,
      const char **ret_pool)
{
	struct sockaddr_in a = sin_of(ip, port);
	struct wasp_route_result res;
	int r = wasp_route_lookup_conn(table, (struct sockaddr *)&a, sizeof(a), host,
				       host ? strlen(host) : 0, path, strlen(path), &res);

	if (r < 0)
		return r;
	if (ret_app)
		*ret_app = res.app->path;
	if (ret_pool)
		*ret_pool = res.pool->name;
	return (int)res.site->id;
}

START_TEST(test_parse_fields)
{
	ck_assert_uint_eq(table->generation, 7);
	ck_assert_uint_eq(table->header_wait_ms, 2500);
	ck_assert_uint_eq(table->max_per_client, 9);
	ck_assert_uint_eq(table->n_pools, 3);
	ck_assert_uint_eq(table->n_sites, 5);
	ck_assert_uint_eq(table->n_sockets, 3);
	ck_assert_uint_eq(table->pools[0].queue_length, 5);
	ck_assert_uint_eq(table->pools[0].state, WASP_ROUTE_POOL_STARTED);
	ck_assert_uint_eq(table->pools[1].state, WASP_ROUTE_POOL_STOPPED);
	ck_assert_int_eq(table->pools[1].lb, WASP_ROUTE_LB_TCP);
	ck_assert_uint_eq(table->pools[2].queue_length, 1000);
	ck_assert_uint_eq(table->pools[2].startup_time_limit_ms, 90000);
	ck_assert_str_eq(wasp_route_pool_by_name(table, "p2")->name, "p2");
	ck_assert_ptr_null(wasp_route_pool_by_name(table, "nope"));
	ck_assert_str_eq(wasp_route_site_by_id(table, 4)->name, "ip+host");
	ck_assert_uint_eq(wasp_route_site_by_id(table, 1)->connection_timeout_ms, 120000);
	/* socket 0 is "*" with a binding naming 127.0.0.1: needs getsockname */
	ck_assert(table->sockets[0].needs_local_addr);
	ck_assert(!table->sockets[1].needs_local_addr);
}
END_TEST

START_TEST(test_wildcards_and_hosts)
{
	/* Any address, no Host match: the "*:8080:" site. */
	ck_assert_int_eq(route("10.1.2.3", 8080, "nothing.test", "/", NULL, NULL), 1);
	ck_assert_int_eq(route("10.1.2.3", 8080, NULL, "/", NULL, NULL), 1);
	/* Host match is case-insensitive and ignores the port and a trailing dot. */
	ck_assert_int_eq(route("10.1.2.3", 8080, "example.com", "/", NULL, NULL), 2);
	ck_assert_int_eq(route("10.1.2.3", 8080, "EXAMPLE.com:8080", "/", NULL, NULL), 2);
	ck_assert_int_eq(route("10.1.2.3", 8080, "example.com.", "/", NULL, NULL), 2);
	ck_assert_int_eq(route("10.1.2.3", 8080, "example.comx", "/", NULL, NULL), 1);
	/* The specific address beats "*": for the same host and for the empty host. */
	ck_assert_int_eq(route("127.0.0.1", 8080, "example.com", "/", NULL, NULL), 4);
	ck_assert_int_eq(route("127.0.0.1", 8080, "Example.Com:80", "/", NULL, NULL), 4);
	ck_assert_int_eq(route("127.0.0.1", 8080, "other.test", "/", NULL, NULL), 3);
	ck_assert_int_eq(route("127.0.0.1", 8080, "", "/", NULL, NULL), 3);
	/* IPv4-mapped IPv6 local address counts as IPv4. */
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(8080) };
	struct wasp_route_result res;
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr), 1);
	ck_assert_int_eq(wasp_route_lookup_conn(table, (struct sockaddr *)&a6, sizeof(a6), "x", 1,
						"/", 1, &res),
			 0);
	ck_assert_uint_eq(res.site->id, 3);
}
END_TEST

START_TEST(test_no_binding)
{
	/* Socket 1 has only a binding for only.test. */
	ck_assert_int_eq(route("127.0.0.2", 9090, "only.test", "/x", NULL, NULL), 5);
	ck_assert_int_eq(route("127.0.0.2", 9090, "ONLY.TEST:9090", "/x/y", NULL, NULL), 5);
	ck_assert_int_eq(route("127.0.0.2", 9090, "example.com", "/x", NULL, NULL), -ENOENT);
	ck_assert_int_eq(route("127.0.0.2", 9090, NULL, "/x", NULL, NULL), -ENOENT);
	/* No socket on that port at all. */
	ck_assert_int_eq(route("127.0.0.2", 1234, "only.test", "/x", NULL, NULL), -ENOENT);
	/* A host longer than any binding can be. */
	char longhost[400];
	memset(longhost, 'a', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = 0;
	ck_assert_int_eq(route("127.0.0.2", 9090, longhost, "/x", NULL, NULL), -ENOENT);
	/* Binding found, no application for the path. */
	ck_assert_int_eq(route("127.0.0.2", 9090, "only.test", "/", NULL, NULL), -ENXIO);
	ck_assert_int_eq(route("127.0.0.2", 9090, "only.test", "/xy", NULL, NULL), -ENXIO);
	/* Another protocol's bindings are not this adapter's. */
	ck_assert_int_eq(route("10.0.0.1", 808, NULL, "/", NULL, NULL), -ENOENT);
}
END_TEST

START_TEST(test_longest_app_path)
{
	const char *app, *pool;

	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/", &app, &pool), 2);
	ck_assert_str_eq(app, "/");
	ck_assert_str_eq(pool, "p2");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app", &app, &pool), 2);
	ck_assert_str_eq(app, "/app");
	ck_assert_str_eq(pool, "p1");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app/deep/x?q=1", &app, &pool), 2);
	ck_assert_str_eq(app, "/app/deep");
	ck_assert_str_eq(pool, "p0");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app/deeper", &app, &pool), 2);
	ck_assert_str_eq(app, "/app");
	/* Case-insensitive, %XX decoded, query and fragment ignored. */
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/APP/Deep", &app, NULL), 2);
	ck_assert_str_eq(app, "/app/deep");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/%61pp/deep", &app, NULL), 2);
	ck_assert_str_eq(app, "/app/deep");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app?x=/app/deep", &app, NULL), 2);
	ck_assert_str_eq(app, "/app");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app#deep", &app, NULL), 2);
	ck_assert_str_eq(app, "/app");
	/* Absolute form. */
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "http://example.com/app/deep/",
			       &app, NULL),
			 2);
	ck_assert_str_eq(app, "/app/deep");
	/* A trailing slash in the configured path ("/app/") is normalised. */
	ck_assert_int_eq(route("10.0.0.1", 8080, NULL, "/app/x", &app, &pool), 1);
	ck_assert_str_eq(app, "/app");
	ck_assert_str_eq(pool, "p1");
}
END_TEST

START_TEST(test_segment_boundary)
{
	const char *app;

	ck_assert_int_eq(route("10.0.0.1", 8080, NULL, "/application", &app, NULL), 1);
	ck_assert_str_eq(app, "/");
	ck_assert_int_eq(route("10.0.0.1", 8080, NULL, "/app", &app, NULL), 1);
	ck_assert_str_eq(app, "/app");
	ck_assert_int_eq(route("10.0.0.1", 8080, NULL, "/app/", &app, NULL), 1);
	ck_assert_str_eq(app, "/app");
	ck_assert_int_eq(route("10.0.0.1", 8080, NULL, "/ap", &app, NULL), 1);
	ck_assert_str_eq(app, "/");
	ck_assert_int_eq(route("10.0.0.1", 8080, NULL, "/app.html", &app, NULL), 1);
	ck_assert_str_eq(app, "/");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app/deepx", &app, NULL), 2);
	ck_assert_str_eq(app, "/app");
	/* Routed as IIS does after canonicalisation: dot segments, "//", %2e. */
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/x/../app/deep/f", &app, NULL), 2);
	ck_assert_str_eq(app, "/app/deep");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app/deep/../f", &app, NULL), 2);
	ck_assert_str_eq(app, "/app");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app/%2e%2e/f", &app, NULL), 2);
	ck_assert_str_eq(app, "/");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "//app//./deep", &app, NULL), 2);
	ck_assert_str_eq(app, "/app/deep");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/../../app", &app, NULL), 2);
	ck_assert_str_eq(app, "/app");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app/.", &app, NULL), 2);
	ck_assert_str_eq(app, "/app");
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", "/app..", &app, NULL), 2);
	ck_assert_str_eq(app, "/");
	/* Too long to route. */
	size_t n = WASP_ROUTE_PATH_MAX + 10;
	char *longpath = malloc(n + 1);
	memset(longpath, 'a', n);
	longpath[0] = '/';
	longpath[n] = 0;
	ck_assert_int_eq(route("10.0.0.1", 8080, "example.com", longpath, &app, NULL),
			 -ENAMETOOLONG);
	free(longpath);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{ \"pools\": [], \"sites\": [] }",
		"{ \"sockets\": [], \"pools\": [ { \"id\": 1, \"name\": \"x\" } ], \"sites\": [] }",
		"{ \"sockets\": [], \"pools\": [ { \"id\": 0, \"name\": \"x\", \"state\": \"Odd\" } ],"
		" \"sites\": [] }",
		"{ \"sockets\": [], \"pools\": [], \"sites\": [ { \"id\": 1, \"bindings\": [],"
		" \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] } ] }",
		"{ \"sockets\": [], \"pools\": [ { \"id\": 0, \"name\": \"x\" } ], \"sites\": ["
		" { \"id\": 1, \"bindings\": [ { \"address\": \"nope\", \"port\": 1 } ],"
		" \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] } ] }",
		"{ \"sockets\": [], \"pools\": [ { \"id\": 0, \"name\": \"x\" } ], \"sites\": ["
		" { \"id\": 1, \"bindings\": [], \"apps\": [ { \"path\": \"x\", \"pool\": 0 } ] } ] }",
		"{ \"sockets\": [ { \"id\": 0, \"port\": 70000 } ], \"pools\": [], \"sites\": [] }",
		"{ \"headerWaitTimeoutMs\": -1, \"sockets\": [], \"pools\": [], \"sites\": [] }",
		"{ \"headerWaitTimeoutMs\": \"30\", \"sockets\": [], \"pools\": [], \"sites\": [] }",
		"{ \"headerWaitTimeoutMs\": 86400001, \"sockets\": [], \"pools\": [], \"sites\": [] }",
		"{ \"maxConnectionsPerClient\": -1, \"sockets\": [], \"pools\": [], \"sites\": [] }",
		/* hostHash without the table's hostKey */
		"{ \"sockets\": [], \"pools\": [ { \"id\": 0, \"name\": \"x\" } ], \"sites\": ["
		" { \"id\": 1, \"bindings\": [ { \"port\": 1, \"hostHash\": \"0011223344556677\" } ],"
		" \"apps\": [] } ] }",
		"{ \"hostKey\": \"00\", \"sockets\": [], \"pools\": [], \"sites\": [] }",
		"{ \"hostKey\": \"000102030405060708090a0b0c0d0e0g\", \"sockets\": [], \"pools\": [],"
		" \"sites\": [] }",
		"{ \"hostKey\": \"000102030405060708090a0b0c0d0e0f\", \"sockets\": [],"
		" \"pools\": [ { \"id\": 0, \"name\": \"x\" } ], \"sites\": ["
		" { \"id\": 1, \"bindings\": [ { \"port\": 1, \"hostHash\": \"00112233\" } ],"
		" \"apps\": [] } ] }",
		"{ \"hostKey\": \"000102030405060708090a0b0c0d0e0f\", \"sockets\": [],"
		" \"pools\": [ { \"id\": 0, \"name\": \"x\" } ], \"sites\": ["
		" { \"id\": 1, \"bindings\": [ { \"port\": 1, \"hostHash\": \"0011223344556677\","
		" \"wildcard\": 1 } ], \"apps\": [] } ] }",
		/* one site id twice, not next to each other */
		"{ \"sockets\": [], \"pools\": [ { \"id\": 0, \"name\": \"x\" } ], \"sites\": ["
		" { \"id\": 7, \"bindings\": [], \"apps\": [] },"
		" { \"id\": 3, \"bindings\": [], \"apps\": [] },"
		" { \"id\": 7, \"bindings\": [], \"apps\": [] } ] }",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wasp_route_table *t = NULL;
		char err[256];
		int r = wasp_route_table_parse(bad[i], strlen(bad[i]), NULL, &t, err, sizeof(err));
		ck_assert_msg(r == -EINVAL, "case %zu: %d", i, r);
		ck_assert_ptr_null(t);
		ck_assert_msg(err[0] != 0, "case %zu: no message", i);
		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			ck_assert_str_eq(err, "site id 7 appears twice");
	}

	/* optional: 0 (the adapter's default) when absent */
	static const char minimal[] = "{ \"sockets\": [], \"pools\": [], \"sites\": [] }";
	struct wasp_route_table *t = NULL;
	ck_assert_int_eq(wasp_route_table_parse(minimal, strlen(minimal), NULL, &t, NULL, 0), 0);
	ck_assert_uint_eq(t->header_wait_ms, 0);
	ck_assert_uint_eq(t->max_per_client, 0);
	wasp_route_table_free(t);
}
END_TEST

START_TEST(test_many_hosts)
{
	/* 2000 name-based sites on one socket: the hash finds each. */
	size_t cap = 2000 * 160 + 512, n = 0;
	char *json = malloc(cap);
	struct wasp_route_table *t;
	char err[256];

	ck_assert_ptr_nonnull(json);
	n += (size_t)snprintf(json + n, cap - n,
			      "{ \"sockets\": [ { \"id\": 0, \"address\": \"*\", \"port\": 80 } ],"
			      " \"pools\": [ { \"id\": 0, \"name\": \"p\" } ], \"sites\": [");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(json + n, cap - n,
				      "%s{ \"id\": %d, \"bindings\": [ { \"port\": 80, \"host\": "
				      "\"site%d.test\" } ], \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] }",
				      i ? "," : "", i + 1, i);
	n += (size_t)snprintf(json + n, cap - n, "] }");
	ck_assert_int_eq(wasp_route_table_parse(json, n, "http", &t, err, sizeof(err)), 0);
	for (int i = 0; i < 2000; i++) {
		char host[64];
		struct wasp_route_result res;
		int hl = snprintf(host, sizeof(host), "SITE%d.test:80", i);
		ck_assert_int_eq(wasp_route_lookup(&t->sockets[0], NULL, host, (size_t)hl, "/", 1,
						   &res),
				 0);
		ck_assert_uint_eq(res.site->id, (unsigned)i + 1);
	}
	struct wasp_route_result res;
	ck_assert_int_eq(wasp_route_lookup(&t->sockets[0], NULL, "site2000.test", 13, "/", 1, &res),
			 -ENOENT);
	wasp_route_table_free(t);
	free(json);
}
END_TEST

START_TEST(test_ipv6)
{
	static const char json[] =
		"{ \"sockets\": [ { \"id\": 0, \"address\": \"::\", \"port\": 80 },"
		"                 { \"id\": 1, \"address\": \"[::1]\", \"port\": 81 } ],"
		"  \"pools\": [ { \"id\": 0, \"name\": \"p\" } ],"
		"  \"sites\": ["
		"    { \"id\": 1, \"bindings\": [ { \"address\": \"[::1]\", \"port\": 80 } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] },"
		"    { \"id\": 2, \"bindings\": [ { \"address\": \"*\", \"port\": 80 },"
		"                                  { \"address\": \"::1\", \"port\": 81,"
		"                                    \"host\": \"[::1]\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] } ] }";
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
	struct wasp_route_result res;
	struct wasp_route_table *t;
	char err[256];

	ck_assert_int_eq(wasp_route_table_parse(json, strlen(json), "http", &t, err, sizeof(err)),
			 0);
	ck_assert(t->sockets[0].needs_local_addr);
	ck_assert(!t->sockets[1].needs_local_addr);
	ck_assert_int_eq(inet_pton(AF_INET6, "::1", &a6.sin6_addr), 1);
	ck_assert_int_eq(wasp_route_lookup_conn(t, (struct sockaddr *)&a6, sizeof(a6), "x", 1, "/", 1,
						&res),
			 0);
	ck_assert_uint_eq(res.site->id, 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr), 1);
	ck_assert_int_eq(wasp_route_lookup_conn(t, (struct sockaddr *)&a6, sizeof(a6), "x", 1, "/", 1,
						&res),
			 0);
	ck_assert_uint_eq(res.site->id, 2);
	/* An IPv6 literal Host with a port. */
	a6.sin6_port = htons(81);
	ck_assert_int_eq(inet_pton(AF_INET6, "::1", &a6.sin6_addr), 1);
	ck_assert_int_eq(wasp_route_lookup_conn(t, (struct sockaddr *)&a6, sizeof(a6), "[::1]:81", 8,
						"/", 1, &res),
			 0);
	ck_assert_uint_eq(res.site->id, 2);
	ck_assert_int_eq(wasp_route_lookup_conn(t, (struct sockaddr *)&a6, sizeof(a6), "[::2]:81", 8,
						"/", 1, &res),
			 -ENOENT);
	wasp_route_table_free(t);
}
END_TEST

/* Wildcard host bindings (IIS 10, "*.example.com"): any name under the
 * domain, after the exact host bindings and before the empty host; the
 * longest suffix first; the address rules as for exact hosts. */
START_TEST(test_wildcard_host)
{
	static const char json[] =
		"{ \"sockets\": [ { \"id\": 0, \"address\": \"*\", \"port\": 80 } ],"
		"  \"pools\": [ { \"id\": 0, \"name\": \"p\" } ],"
		"  \"sites\": ["
		"    { \"id\": 1, \"bindings\": [ { \"port\": 80, \"host\": \"*.Example.com\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] },"
		"    { \"id\": 2, \"bindings\": [ { \"port\": 80, \"host\": \"www.example.com\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] },"
		"    { \"id\": 3, \"bindings\": [ { \"port\": 80, \"host\": \"*.deep.example.com\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] },"
		"    { \"id\": 4, \"bindings\": [ { \"port\": 80, \"host\": \"\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] },"
		"    { \"id\": 5, \"bindings\": [ { \"port\": 80, \"host\": \"a*.other.test\" },"
		"                                  { \"address\": \"10.0.0.1\", \"port\": 80,"
		"                                    \"host\": \"*.ip.test\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] } ] }";
	static const struct {
		const char *local, *host;
		int site;
	} cases[] = {
		{ "10.0.0.9", "a.example.com", 1 },
		{ "10.0.0.9", "A.B.EXAMPLE.COM:80", 1 },
		{ "10.0.0.9", "x.example.com.", 1 },
		{ "10.0.0.9", "www.example.com", 2 },   /* the exact host first */
		{ "10.0.0.9", "WWW.example.com:80", 2 },
		{ "10.0.0.9", "x.deep.example.com", 3 }, /* the longest suffix */
		{ "10.0.0.9", "deep.example.com", 1 },
		{ "10.0.0.9", "example.com", 4 },        /* not under the domain */
		{ "10.0.0.9", "xexample.com", 4 },
		{ "10.0.0.9", ".example.com", 4 },
		{ "10.0.0.9", "", 4 },
		{ "10.0.0.9", "ab.other.test", 4 },      /* '*' only as the first label */
		{ "10.0.0.9", "a*.other.test", 5 },      /* ...else taken literally */
		{ "10.0.0.1", "x.ip.test", 5 },          /* the binding's address */
		{ "10.0.0.9", "x.ip.test", 4 },
	};
	struct wasp_route_table *t;
	char err[256];

	ck_assert_int_eq(wasp_route_table_parse(json, strlen(json), "http", &t, err, sizeof(err)),
			 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_in a = sin_of(cases[i].local, 80);
		struct wasp_route_result res;
		int r = wasp_route_lookup_conn(t, (struct sockaddr *)&a, sizeof(a), cases[i].host,
					       strlen(cases[i].host), "/", 1, &res);
		ck_assert_msg(r == 0 && (int)res.site->id == cases[i].site,
			      "%s Host '%s': %d site %d, want site %d", cases[i].local,
			      cases[i].host, r, r == 0 ? (int)res.site->id : 0, cases[i].site);
	}
	wasp_route_table_free(t);
}
END_TEST

/* Reference implementations of route.h's rules, written the slow way. */
static size_t
ref_decode(const char *p, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n && p[i] != '?' && p[i] != '#'; i++) {
		const char *hex = "0123456789abcdef", *h1, *h2;
		if (p[i] == '%' && i + 2 < n && p[i + 1] && p[i + 2] &&
		    (h1 = strchr(hex, p[i + 1] | 0x20)) && (h2 = strchr(hex, p[i + 2] | 0x20))) {
			int hi = (int)(h1 - hex), lo = (int)(h2 - hex);
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = p[i];
		}
	}
	return o;
}

/* Split on '/', drop "" and ".", ".." pops; join as "/a/b" ("" = root). */
static size_t
ref_resolve(const char *d, size_t dl, char *out)
{
	char segs[64][64];
	size_t n = 0, o = 0, i = 0;

	if (dl == 0 || d[0] != '/')
		return 0;
	while (i < dl) {
		size_t j = i + 1, sl;
		while (j < dl && d[j] != '/')
			j++;
		sl = j - i - 1;
		if (sl == 2 && d[i + 1] == '.' && d[i + 2] == '.') {
			if (n > 0)
				n--;
		} else if (sl > 0 && !(sl == 1 && d[i + 1] == '.')) {
			memcpy(segs[n], d + i + 1, sl);
			segs[n++][sl] = 0;
		}
		i = j;
	}
	for (size_t k = 0; k < n; k++) {
		out[o++] = '/';
		memcpy(out + o, segs[k], strlen(segs[k]));
		o += strlen(segs[k]);
	}
	return o;
}

static const char *
ref_app(const char *const *apps, size_t n_apps, const char *path, size_t len)
{
	char dd[64], d[64];
	/* Only a raw '/' starts a path (origin form); else the root. */
	size_t dl = len > 0 && path[0] == '/' ? ref_resolve(dd, ref_decode(path, len, dd), d) : 0;
	const char *best = NULL;

	for (size_t i = 0; i < n_apps; i++) {
		size_t al = strlen(apps[i]);
		bool ok = al == 1 || (dl >= al && strncasecmp(d, apps[i], al) == 0 &&
				      (dl == al || d[al] == '/'));
		if (ok && (!best || al > strlen(best)))
			best = apps[i];
	}
	return best;
}

START_TEST(test_random_against_reference)
{
	static const char *const apps[] = { "/", "/app", "/a", "/app/x", "/B/c" };
	static const char palpha[] = "/aApPxXbBc%6123fF?#..";
	static const char halpha[] = "aAbB.:1[]";
	static const char json[] =
		"{ \"sockets\": [ { \"id\": 0, \"address\": \"*\", \"port\": 80 } ],"
		"  \"pools\": [ { \"id\": 0, \"name\": \"p\" } ],"
		"  \"sites\": ["
		"    { \"id\": 1, \"bindings\": [ { \"port\": 80, \"host\": \"ab\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 }, { \"path\": \"/app\", \"pool\": 0 },"
		"                { \"path\": \"/a\", \"pool\": 0 }, { \"path\": \"/app/x\", \"pool\": 0 },"
		"                { \"path\": \"/B/c\", \"pool\": 0 } ] },"
		"    { \"id\": 2, \"bindings\": [ { \"port\": 80, \"host\": \"a.b\" } ],"
		"      \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] } ] }";
	struct wasp_route_table *t;
	unsigned seed = 12345;
	char err[256];

	ck_assert_int_eq(wasp_route_table_parse(json, strlen(json), "http", &t, err, sizeof(err)),
			 0);
	for (int iter = 0; iter < 400000; iter++) {
		char path[24], host[12], hl_buf[12];
		size_t pl = (size_t)(rand_r(&seed) % 20), hl = (size_t)(rand_r(&seed) % 8), k = 0;
		struct wasp_route_result res;
		int r, want_site = 0;

		for (size_t i = 0; i < pl; i++)
			path[i] = palpha[rand_r(&seed) % (sizeof(palpha) - 1)];
		if (pl > 0 && rand_r(&seed) % 2)
			path[0] = '/';
		if (rand_r(&seed) % 2) {
			/* Start with an application path, maybe in another case. */
			const char *a = apps[rand_r(&seed) % 5];
			size_t al = strlen(a);
			memcpy(path, a, al);
			if (rand_r(&seed) % 2)
				path[al - 1] = (char)(path[al - 1] ^ 0x20);
			if (pl < al)
				pl = al;
		}
		for (size_t i = 0; i < hl; i++)
			host[i] = halpha[rand_r(&seed) % (sizeof(halpha) - 1)];
		if (rand_r(&seed) % 2) {
			memcpy(host, "aB", 2); /* exercise the paths of site 1 often */
			hl = 2;
		}
		/* Exact-size heap copies: ASan sees any read past the end. */
		char *ph = malloc(pl ? pl : 1), *hh = malloc(hl ? hl : 1);
		memcpy(ph, path, pl);
		memcpy(hh, host, hl);
		r = wasp_route_lookup(&t->sockets[0], NULL, hh, hl, ph, pl, &res);
		/* Reference host: strip ":port" (after "]" when it starts with
		 * "["), one trailing dot, compare case-insensitively. */
		size_t n = hl;
		if (hl > 0 && host[0] == '[') {
			char *e = memchr(host, ']', hl);
			n = e ? (size_t)(e - host) + 1 : hl;
		} else {
			char *e = memchr(host, ':', hl);
			if (e)
				n = (size_t)(e - host);
		}
		if (n > 0 && host[n - 1] == '.')
			n--;
		for (k = 0; k < n; k++)
			hl_buf[k] = (char)(host[k] | 0x20);
		if (n == 2 && memcmp(hl_buf, "ab", 2) == 0)
			want_site = 1;
		else if (n == 3 && memcmp(hl_buf, "a.b", 3) == 0)
			want_site = 2;
		if (want_site == 0) {
			ck_assert_int_eq(r, -ENOENT);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(res.site->id, (unsigned)want_site);
			if (want_site == 1) {
				const char *want = ref_app(apps, 5, path, pl);
				ck_assert_msg(strcasecmp(res.app->path, want) == 0,
					      "path '%.*s': got %s, want %s", (int)pl, path,
					      res.app->path, want);
			}
		}
		free(ph);
		free(hh);
	}
	wasp_route_table_free(t);
}
END_TEST

/* A worker's table gives other pools' hosts as keyed hashes
 * (adapter-protocol.md): the same sites with every host but site 1's own
 * replaced by its "hostHash" must route every request to the same site.
 * Random hosts (labels, case, a trailing dot, a port) and local addresses
 * against both tables. */
struct hb {
	unsigned site;
	const char *addr, *host;
};

static const struct hb hashed_bindings[] = {
	{ 1, "*", "*.x.y" },       { 1, "127.0.0.1", "" }, { 2, "*", "a.x.y" },
	{ 3, "*", "*.b.x.y" },     { 4, "*", "Q" },        { 5, "*", "*.y" },
	{ 6, "*", "" },            { 7, "127.0.0.1", "a.x.y" },
	{ 8, "127.0.0.2", "*.x.y" }, { 9, "127.0.0.3", "b.x.y." },
};

static void
hashed_table_json(char *out, size_t size, bool hashed, const uint8_t *key)
{
	size_t o = 0;

	o += (size_t)snprintf(out + o, size - o,
			      "{ %s%s%s\"sockets\": [ { \"id\": 0, \"address\": \"*\", \"port\": 80 } ],"
			      " \"pools\": [ { \"id\": 0, \"name\": \"p\" } ], \"sites\": [",
			      hashed ? "\"hostKey\": \"" : "",
			      hashed ? "000102030405060708090a0b0c0d0e0f" : "", hashed ? "\", " : "");
	for (unsigned s = 1; s <= 9; s++) {
		bool first = true;

		o += (size_t)snprintf(out + o, size - o, "%s{ \"id\": %u, \"bindings\": [",
				      s > 1 ? ", " : "", s);
		for (size_t i = 0; i < sizeof(hashed_bindings) / sizeof(hashed_bindings[0]); i++) {
			const struct hb *b = &hashed_bindings[i];
			size_t l = strlen(b->host);
			bool own = false;
			char lc[32];

			if (b->site != s)
				continue;
			if (l && b->host[l - 1] == '.')
				l--;
			for (size_t j = 0; j < sizeof(hashed_bindings) / sizeof(hashed_bindings[0]); j++)
				own = own || (hashed_bindings[j].site == 1 &&
					      strlen(hashed_bindings[j].host) == l &&
					      strncasecmp(hashed_bindings[j].host, b->host, l) == 0);
			o += (size_t)snprintf(out + o, size - o,
					      "%s{ \"address\": \"%s\", \"port\": 80, ", first ? "" : ", ",
					      b->addr);
			first = false;
			if (!hashed || s == 1 || own || l == 0) {
				o += (size_t)snprintf(out + o, size - o, "\"host\": \"%s\" }", b->host);
				continue;
			}
			{
				size_t off = b->host[0] == '*' ? 1 : 0;

				for (size_t k = off; k < l; k++)
					lc[k - off] = (char)tolower((unsigned char)b->host[k]);
				o += (size_t)snprintf(out + o, size - o,
						      "\"hostHash\": \"%016llx\", \"wildcard\": %s }",
						      (unsigned long long)wasp_siphash24(key, lc, l - off),
						      off ? "true" : "false");
			}
		}
		o += (size_t)snprintf(out + o, size - o,
				      "], \"apps\": [ { \"path\": \"/\", \"pool\": 0 } ] }");
	}
	(void)snprintf(out + o, size - o, "] }");
}

START_TEST(test_hashed_hosts_agree)
{
	static const char *const labels[] = { "a", "b", "x", "y", "q", "z", "X", "Y" };
	static const char *const locals[] = { "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4" };
	uint8_t key[16];
	char plain_json[8192], hashed_json[8192], err[256];
	struct wasp_route_table *plain, *hashed;
	unsigned seed = 4242;
	int seen_hashed = 0;

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	hashed_table_json(plain_json, sizeof(plain_json), false, key);
	hashed_table_json(hashed_json, sizeof(hashed_json), true, key);
	ck_assert_ptr_nonnull(strstr(hashed_json, "hostHash"));
	ck_assert_ptr_null(strstr(hashed_json, "b.x.y"));
	ck_assert_msg(wasp_route_table_parse(plain_json, strlen(plain_json), "http", &plain, err,
					     sizeof(err)) == 0, "%s", err);
	ck_assert_msg(wasp_route_table_parse(hashed_json, strlen(hashed_json), "http", &hashed,
					     err, sizeof(err)) == 0, "%s", err);
	for (int iter = 0; iter < 200000; iter++) {
		char host[64];
		size_t hl = 0, nl = 1 + (size_t)(rand_r(&seed) % 4);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
		struct wasp_route_result a, b;
		int ra, rb;

		for (size_t i = 0; i < nl; i++)
			hl += (size_t)snprintf(host + hl, sizeof(host) - hl, "%s%s", i ? "." : "",
					       labels[rand_r(&seed) % 8]);
		if (rand_r(&seed) % 8 == 0)
			host[hl++] = '.';
		if (rand_r(&seed) % 8 == 0)
			hl += (size_t)snprintf(host + hl, sizeof(host) - hl, ":80");
		ck_assert_int_eq(inet_pton(AF_INET, locals[rand_r(&seed) % 4], &sin.sin_addr), 1);
		ra = wasp_route_lookup_conn(plain, (struct sockaddr *)&sin, sizeof(sin), host, hl, "/",
					    1, &a);
		rb = wasp_route_lookup_conn(hashed, (struct sockaddr *)&sin, sizeof(sin), host, hl,
					    "/", 1, &b);
		ck_assert_msg(ra == rb, "Host %.*s: %d against %d", (int)hl, host, ra, rb);
		if (ra == 0) {
			ck_assert_msg(a.site->id == b.site->id, "Host %.*s: site %u against %u",
				      (int)hl, host, a.site->id, b.site->id);
			seen_hashed += a.site->id != 1 && a.site->id != 6;
		}
	}
	ck_assert_int_gt(seen_hashed, 1000); /* the hashed bindings did route */
	wasp_route_table_free(plain);
	wasp_route_table_free(hashed);
}
END_TEST


static Suite *
route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("lookup");
	TCase *tp = tcase_create("parse");

	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_checked_fixture(tc, table_setup, table_teardown);
	tcase_add_test(tc, test_parse_fields);
	tcase_add_test(tc, test_wildcards_and_hosts);
	tcase_add_test(tc, test_no_binding);
	tcase_add_test(tc, test_longest_app_path);
	tcase_add_test(tc, test_segment_boundary);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tp, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tp, test_parse_errors);
	tcase_add_test(tp, test_many_hosts);
	tcase_add_test(tp, test_ipv6);
	tcase_add_test(tp, test_wildcard_host);
	tcase_add_test(tp, test_random_against_reference);
	tcase_add_test(tp, test_hashed_hosts_agree);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	return testutil_run(route_suite());
}
