#include <errno.h>
#include <stdint.h>

#include "testutil.h"
#include "timespan.h"

static uint64_t
parse_ok(const char *s)
{
	uint64_t v = 0;
	int r = wasp_timespan_parse(s, &v);

	ck_assert_msg(r == 0, "'%s' did not parse: %d", s, r);
	return v;
}

START_TEST(test_parse_valid)
{
	ck_assert_uint_eq(parse_ok("00:20:00"), UINT64_C(1200) * 1000000);
	ck_assert_uint_eq(parse_ok("29:00:00" + 1) /* "9:00:00" */, UINT64_C(9) * 3600 * 1000000);
	ck_assert_uint_eq(parse_ok("1.05:00:00"), UINT64_C(29) * 3600 * 1000000);
	ck_assert_uint_eq(parse_ok("00:00:00.5"), 500000);
	ck_assert_uint_eq(parse_ok("00:00:01.0000001"), 1000000);
	ck_assert_uint_eq(parse_ok("00:00:00.1234567"), 123456);
	ck_assert_uint_eq(parse_ok("0:0:5"), 5000000);
	ck_assert_uint_eq(parse_ok("3"), UINT64_C(3) * 86400 * 1000000);
	ck_assert_uint_eq(parse_ok(" 00:01:30 "), 90000000);
}
END_TEST

START_TEST(test_parse_invalid)
{
	static const char *const bad[] = {
		"",        "abc",       "00:60:00",  "00:00:60",   "24:00:00",
		"1.24:00:00", "00:00",  "00::00",    "00:00:00.",  "00:00:00.12345678",
		"-00:00:01", "00:00:00x", "1.2.3",   ":00:00",     "00:000:00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		int r = wasp_timespan_parse(bad[i], &v);
		ck_assert_msg(r < 0, "'%s' parsed", bad[i]);
		ck_assert_uint_eq(v, 42);
	}
	uint64_t v;
	ck_assert_int_eq(wasp_timespan_parse("99999999999.00:00:00", &v), -ERANGE);
}
END_TEST

START_TEST(test_format)
{
	char buf[WASP_TIMESPAN_MAX];

	ck_assert_str_eq(wasp_timespan_format(UINT64_C(1200) * 1000000, buf, sizeof(buf)), "00:20:00");
	ck_assert_str_eq(wasp_timespan_format(UINT64_C(29) * 3600 * 1000000, buf, sizeof(buf)),
			 "1.05:00:00");
	ck_assert_str_eq(wasp_timespan_format(500000, buf, sizeof(buf)), "00:00:00.5000000");
	ck_assert_str_eq(wasp_timespan_format(0, buf, sizeof(buf)), "00:00:00");
}
END_TEST

START_TEST(test_roundtrip)
{
	static const char *const vals[] = { "00:00:00", "00:01:30", "23:59:59", "1.00:00:00",
					     "10675198.02:48:05.4775800", "00:00:00.0000010" };
	char buf[WASP_TIMESPAN_MAX];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint64_t v = parse_ok(vals[i]);
		ck_assert_str_eq(wasp_timespan_format(v, buf, sizeof(buf)), vals[i]);
	}
}
END_TEST

static Suite *
timespan_suite(void)
{
	Suite *s = suite_create("timespan");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_parse_valid);
	tcase_add_test(tc, test_parse_invalid);
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(timespan_suite());
}
