/* Unit tests for the adapters' routing table as waspd writes it
 * (activator/routes.c, routes_json()): written as text, it must read back
 * as the JSON docs/adapter-protocol.md describes, whatever the names hold
 * (quotes, backslashes, control characters, UTF-8), with an application
 * of an unknown pool left out; and a pool's own table (pool_routes_json()):
 * its sites, and in the generation's order of sites an entry for each other
 * site with bindings that could take one of its requests, each such binding
 * once. */
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


#define B(h, p) { .protocol = "http", .ip = "127.0.0.1", .port = p, .host = h }

START_TEST(pool_table_own_and_shadowing)
{
	struct wasp_apppool cfgs[2] = { { .name = "P" }, { .name = "Q" } };
	struct wasp_binding b0[] = { B("a", 80) }, b1[] = { B("b", 80) },
			    b2[] = { B("A.", 80), B("a", 81) },
			    b3[] = { B("c", 80), B("*.w.test", 80), B("a", 80) },
			    b4[] = { B("x.w.test", 80) }, b5[] = { B("a", 80) },
			    b6[] = { B("y.other", 80) };
	struct wasp_application app_p = { .path = "/", .pool_id = 0 };
	struct wasp_application app_q = { .path = "/", .pool_id = 1 };
#define SITE(i, b, app) { .name = "s" #i, .id = i, .bindings = b, \
			   .n_bindings = ELEMENTSOF(b), .apps = &app, .n_apps = 1 }
	struct wasp_site sites[] = {
		SITE(1, b0, app_p), SITE(2, b1, app_q), SITE(3, b2, app_q), SITE(4, b3, app_p),
		SITE(5, b4, app_q), SITE(6, b5, app_q), SITE(7, b6, app_q),
	};
#undef SITE
	struct wasp_apphost ah = { .pools = cfgs, .n_pools = 2, .sites = sites,
				   .n_sites = ELEMENTSOF(sites) };
	struct pool pools[2] = {
		{ .cfg = &cfgs[0], .name = cfgs[0].name, .id = 0, .state = WASP_POOL_STARTED },
		{ .cfg = &cfgs[1], .name = cfgs[1].name, .id = 1, .state = WASP_POOL_STARTED },
	};
	struct listen_sock socks[1] = {
		{ .id = 0, .protocol = (char *)(uintptr_t)"http", .address = (char *)(uintptr_t)"*",
		  .port = 80 },
	};
	struct wasp_env env = { .ah = &ah, .pools = pools, .n_pools = 2, .socks = socks,
				.n_socks = 1, .generation = 3, .routes_fd = -1 };
	const int ids[] = { 1, 3, 4, 5, 6 };
	const size_t n_bindings[] = { 1, 1, 3, 1, 1 };
	_cleanup_free_ char *text = pool_routes_json(&env, &pools[0]);
	json_error_t err;
	json_t *j, *list;

	ck_assert_ptr_nonnull(text);
	j = json_loads(text, 0, &err);
	ck_assert_msg(j != NULL, "%s: %s", err.text, text);
	list = json_object_get(j, "sites");
	ck_assert_int_eq(json_array_size(list), ELEMENTSOF(ids));
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		json_t *site = json_array_get(list, i);
		bool own = ids[i] == 1 || ids[i] == 4;

		ck_assert_int_eq(json_integer_value(json_object_get(site, "id")), ids[i]);
		/* another pool's site: no name, its application as pool 1 */
		ck_assert_int_eq(json_object_get(site, "name") != NULL, own);
		ck_assert_int_eq(json_array_size(json_object_get(site, "bindings")), n_bindings[i]);
	}
	/* site 3's binding on port 81 cannot take P's requests; its "A." is
	 * P's own host, written as it is */
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(json_array_get(list, 1), "bindings"), 0),
				 "host")),
			 "A.");
	/* x.w.test is not P's: only its keyed hash */
	ck_assert_ptr_null(json_object_get(
		json_array_get(json_object_get(json_array_get(list, 3), "bindings"), 0), "host"));
	json_decref(j);
	route_index_free(&env);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("activator_routes");
	TCase *tc = tcase_create("routes");

	tcase_add_test(tc, table_reads_back);
	tcase_add_test(tc, pool_table_own_and_shadowing);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
