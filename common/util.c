#include <ctype.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

#include "util.h"

int
wasp_nodump_from_env(void)
{
	const char *v = getenv("WASP_NODUMP");

	if (!v || !streq(v, "1"))
		return 0;
	(void)unsetenv("WASP_NODUMP");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 1;
}

int
wasp_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static uint64_t
clock_usec(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
wasp_now_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

uint64_t
wasp_realtime_usec(void)
{
	return clock_usec(CLOCK_REALTIME);
}

int
wasp_u32_cmp(const void *a, const void *b)
{
	uint32_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return (x > y) - (x < y);
}

int
wasp_u64_cmp(const void *a, const void *b)
{
	uint64_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return (x > y) - (x < y);
}

int
wasp_u32_pair_cmp(const void *a, const void *b)
{
	int r = wasp_u32_cmp(a, b);

	return r ? r : wasp_u32_cmp((const uint32_t *)a + 1, (const uint32_t *)b + 1);
}
