/* ARR's server choice (worker/proxy/farm.c): smooth weighted round robin,
 * least requests with its ties in turn, servers out of rotation (disabled,
 * unhealthy, weight 0, already tried), statusCodeMatch lists. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/farm.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"
#include "testutil.h"
#include "util.h"

static struct farm_server servers[3];

static struct farm
farm_of(enum farm_algorithm a, unsigned w0, unsigned w1, unsigned w2)
{
	struct farm f = { .name = (char *)"f", .enabled = true, .started = true, .algorithm = a,
			  .s = servers, .n = 3 };
	unsigned w[3] = { w0, w1, w2 };

	for (size_t i = 0; i < 3; i++) {
		proxy_pool_free(servers[i].pool);
		servers[i] = (struct farm_server){ .weight = w[i], .enabled = true, .healthy = true,
						   .resolved = true, .pool = proxy_pool_new(NULL) };
		ck_assert_ptr_nonnull(servers[i].pool);
	}
	return f;
}

/* The servers the next n picks choose, as "0120..." */
static void
picks(struct farm *f, uint64_t tried, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		struct farm_server *s = farm_pick(f, tried);
		out[i] = s ? (char)('0' + (s - f->s)) : '-';
	}
	out[n] = '\0';
}

START_TEST(test_weighted_round_robin)
{
	struct farm f = farm_of(FARM_WRR, 200, 100, 100);
	char got[16];

	picks(&f, 0, 8, got);
	ck_assert_str_eq(got, "01200120"); /* 2:1:1, interleaved */
	servers[1].healthy = false;
	picks(&f, 0, 6, got);
	ck_assert_uint_eq(strspn(got, "02"), 6);
	servers[1].healthy = true;
	servers[2].enabled = false;
	servers[0].weight = 0;
	picks(&f, 0, 3, got);
	ck_assert_str_eq(got, "111");
	picks(&f, (uint64_t)1 << 1, 2, got); /* the only one left was tried */
	ck_assert_str_eq(got, "--");
}
END_TEST

START_TEST(test_least_requests)
{
	struct farm f = farm_of(FARM_LEAST_REQUESTS, 100, 100, 100);
	struct farm_server *s;
	char got[16];

	picks(&f, 0, 6, got);
	ck_assert_str_eq(got, "012012"); /* ties in turn */
	/* a request in progress on server 1 (its pool busy): passed over */
	servers[1].pool->n_busy = 1;
	picks(&f, 0, 6, got);
	ck_assert_uint_eq(strspn(got, "02"), 6);
	servers[0].pool->n_busy = 2;
	servers[2].pool->n_busy = 2;
	s = farm_pick(&f, 0);
	ck_assert_ptr_eq(s, &servers[1]);
	s = farm_pick(&f, (uint64_t)1 << 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_ne(s, &servers[1]);
	for (size_t i = 0; i < 3; i++)
		servers[i].pool->n_busy = 0;
	f.algorithm = FARM_UNSUPPORTED;
	ck_assert_ptr_null(farm_pick(&f, 0));
}
END_TEST

START_TEST(test_status_match)
{
	ck_assert(farm_status_matches("200-399", 200));
	ck_assert(farm_status_matches("200-399", 399));
	ck_assert(!farm_status_matches("200-399", 404));
	ck_assert(farm_status_matches("200,301-302", 302));
	ck_assert(!farm_status_matches("200,301-302", 300));
	ck_assert(farm_status_matches("200, 204", 204));
	ck_assert(!farm_status_matches("", 200));
	ck_assert(!farm_status_matches("abc", 200));
}
END_TEST

static Suite *
farm_suite(void)
{
	Suite *s = suite_create("farm_pick");
	TCase *tc = tcase_create("pick");

	tcase_add_test(tc, test_weighted_round_robin);
	tcase_add_test(tc, test_least_requests);
	tcase_add_test(tc, test_status_match);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(farm_suite());
}
