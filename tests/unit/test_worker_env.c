/* worker/env.c: the routing table is kept as its memfd when ROUTE_TABLE
 * arrives and parsed only when env_routes() is first asked for it (a
 * start does not wait on the parse); a newer one replaces it then, and one
 * that cannot be parsed leaves the previous table in place. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memfd.h"
#include "route.h"
#include "testutil.h"
#include "util.h"
#include "worker.h"

static struct event_base *base;
static struct worker_env env;

static void
setup(void)
{
	testutil_fd_setup();
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(env_init(&env, base), 0);
	env.pool_name = strdup("B");
}

static void
teardown(void)
{
	env_done(&env);
	event_base_free(base);
	testutil_fd_teardown();
}

/* A sealed memfd with a routing table of generation gen, pools A and B. */
static int
table_fd(unsigned gen)
{
	char json[1024];
	int fd;

	snprintf(json, sizeof(json),
		 "{ \"generation\": %u,"
		 "  \"sockets\": [ { \"id\": 0, \"protocol\": \"http\", \"address\": \"127.0.0.1\","
		 "                   \"port\": 8080 } ],"
		 "  \"pools\": [ { \"id\": 0, \"name\": \"A\" }, { \"id\": 1, \"name\": \"B\" } ],"
		 "  \"sites\": [ { \"id\": 1, \"name\": \"S\","
		 "    \"bindings\": [ { \"protocol\": \"http\", \"address\": \"*\", \"port\": 8080,"
		 "                      \"host\": \"\" } ],"
		 "    \"apps\": [ { \"path\": \"/\", \"pool\": 0 }, { \"path\": \"/b\", \"pool\": 1 } ] } ] }",
		 gen);
	fd = wasp_memfd_create_sealed("test-routes", json, strlen(json));
	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(test_routes_parsed_on_demand)
{
	struct wasp_route_table *t;
	int fd;

	ck_assert_ptr_null(env_routes(&env)); /* none yet */
	env_set_routes_fd(&env, table_fd(1));
	/* kept, not parsed */
	ck_assert_ptr_null(env.routes);
	ck_assert_ptr_null(env.route_pool);
	ck_assert_uint_eq(env.routes_gen, 0);

	t = env_routes(&env);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->generation, 1);
	ck_assert_ptr_eq(env.routes, t);
	ck_assert_ptr_nonnull(env.route_pool);
	ck_assert_str_eq(env.route_pool->name, "B");
	ck_assert_uint_eq(env.route_pool->id, 1);
	ck_assert_uint_eq(env.routes_gen, 1);
	ck_assert_int_lt(env.routes_fd, 0);
	ck_assert_ptr_eq(env_routes(&env), t); /* parsed once */
	ck_assert_uint_eq(env.routes_gen, 1);

	/* a newer one: the old table serves until the next need */
	env_set_routes_fd(&env, table_fd(2));
	ck_assert_ptr_eq(env.routes, t);
	t = env_routes(&env);
	ck_assert_uint_eq(t->generation, 2);
	ck_assert_uint_eq(env.routes_gen, 2);

	/* two arrive before a need: the last one counts, the other is closed */
	env_set_routes_fd(&env, table_fd(3));
	env_set_routes_fd(&env, table_fd(4));
	ck_assert_uint_eq(env_routes(&env)->generation, 4);
	ck_assert_uint_eq(env.routes_gen, 3);

	/* one that cannot be parsed: the previous one stays */
	fd = wasp_memfd_create_sealed("test-routes", "{ nope", 6);
	ck_assert_int_ge(fd, 0);
	env_set_routes_fd(&env, fd);
	t = env_routes(&env);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->generation, 4);
	ck_assert_uint_eq(env.routes_gen, 3);
	ck_assert_int_lt(env.routes_fd, 0);
}
END_TEST

START_TEST(test_routes_unparsed_closed_at_exit)
{
	/* env_done() closes a table never asked for (the fixture checks fds) */
	env_set_routes_fd(&env, table_fd(1));
	ck_assert_int_ge(env.routes_fd, 0);
}
END_TEST

static Suite *
worker_env_suite(void)
{
	Suite *s = suite_create("worker_env");
	TCase *tc = tcase_create("routes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_routes_parsed_on_demand);
	tcase_add_test(tc, test_routes_unparsed_closed_at_exit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_env_suite());
}
