/* Unit tests for the adapters' routing table as waspd writes it
 * (activator/routes.c, routes_json()): written as text, it must read back
 * as the JSON docs/adapter-protocol.md describes, whatever the names hold
 * (quotes, backslashes, control characters, UTF-8), with an application
 * of an unknown pool left out. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "apphost.h"
#include "pool_internal.h"
#include "testutil.h"
#include "util.h"

#define ODD "a\"b\\c\td\x01\n\xc3\xa9/"

START_TEST(table_reads_back)
{
	struct wasp_apppool cfgs[2] = {
		{ .name = "P" ODD, .queue_length = 1000,
		  .process_model = { .max_processes = 2, .startup_time_limit = 90000000 } },
		{ .name = "Q", .queue_length = 5,
		  .failure = { .load_balancer_capabilities = WASP_LB_TCP_LEVEL } },
	};
	struct wasp_binding bindings[2] = {
		{ .protocol = "http", .ip = "127.0.0.1", .port = 8080, .host = "h" ODD },
		{ .protocol = "http", .ip = "::1", .port = 8081, .host = "" },
	};
	struct wasp_application apps[3] = {
		{ .path = "/", .pool_id = 1 },
		{ .path = "/x" ODD, .pool_id = 0 },
		{ .path = "/gone", .pool_id = UINT32_MAX },
	};
	struct wasp_site sites[1] = {
		{ .name = "S" ODD, .id = 7, .bindings = bindings, .n_bindings = 2, .apps = apps,
		  .n_apps = 3, .limits = { .connection_timeout = 120000000, .max_connections = 9 } },
	};
	struct wasp_apphost ah = { .pools = cfgs, .n_pools = 2, .sites = sites, .n_sites = 1 };
	struct pool pools[2] = {
		{ .cfg = &cfgs[0], .name = cfgs[0].name, .id = 0, .state = WASP_POOL_STARTED },
		{ .cfg = &cfgs[1], .name = cfgs[1].name, .id = 1, .state = WASP_POOL_STOPPED },
	};
	struct listen_sock socks[1] = {
		{ .id = 0, .protocol = (char *)(uintptr_t)"http", .address = (char *)(uintptr_t)"*",
		  .port = 8080 },
	};
	struct wasp_env env = { .ah = &ah, .pools = pools, .n_pools = 2, .socks = socks,
				.n_socks = 1, .generation = 3, .routes_fd = -1 };
	_cleanup_free_ char *text = routes_json(&env);
	json_error_t err;
	json_t *j, *site, *b, *a;

	ck_assert_ptr_nonnull(text);
	j = json_loads(text, 0, &err);
	ck_assert_msg(j != NULL, "%s: %s", err.text, text);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "generation")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "headerWaitTimeoutMs")), 0);
	ck_assert_int_eq(json_array_size(json_object_get(j, "sockets")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "sockets"), 0), "address")),
			 "*");
	b = json_array_get(json_object_get(j, "pools"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(b, "name")), "P" ODD);
	ck_assert_str_eq(json_string_value(json_object_get(b, "state")), "Started");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "queueLength")), 1000);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "startupTimeLimitMs")), 90000);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "maxProcesses")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(b, "loadBalancerCapabilities")),
			 "HttpLevel");
	b = json_array_get(json_object_get(j, "pools"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(b, "loadBalancerCapabilities")),
			 "TcpLevel");
	site = json_array_get(json_object_get(j, "sites"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(site, "name")), "S" ODD);
	ck_assert_int_eq(json_integer_value(json_object_get(site, "id")), 7);
	ck_assert_int_eq(json_integer_value(json_object_get(site, "connectionTimeoutMs")), 120000);
	ck_assert_int_eq(json_integer_value(json_object_get(site, "maxConnections")), 9);
	b = json_object_get(site, "bindings");
	ck_assert_int_eq(json_array_size(b), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(b, 0), "host")),
			 "h" ODD);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(b, 1), "address")),
			 "::1");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(b, 1), "port")), 8081);
	a = json_object_get(site, "apps");
	ck_assert_int_eq(json_array_size(a), 2); /* the unknown pool's left out */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "path")),
			 "/x" ODD);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 0), "pool")), 1);
	json_decref(j);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("activator_routes");
	TCase *tc = tcase_create("routes");

	tcase_add_test(tc, table_reads_back);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
