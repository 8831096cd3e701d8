#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "timespan.h"
#include "util.h"

static int
read_uint(const char **p, uint64_t max, uint64_t *ret, int *ret_digits)
{
	uint64_t v = 0;
	int n = 0;

	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (uint64_t)(**p - '0');
		if (v > max)
			return -ERANGE;
		(*p)++;
		n++;
	}
	if (n == 0)
		return -EINVAL;
	*ret = v;
	*ret_digits = n;
	return 0;
}

int
wasp_timespan_parse(const char *s, uint64_t *ret_usec)
{
	const char *p = s;
	uint64_t days = 0, h, m, sec, frac = 0, usec;
	uint64_t first;
	int digits, r;

	if (!s)
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	r = read_uint(&p, UINT64_C(10675199), &first, &digits);
	if (r < 0)
		return r;
	if (*p == '.') {
		/* "d.hh:mm:ss" */
		days = first;
		p++;
		r = read_uint(&p, 23, &h, &digits);
		if (r < 0)
			return r;
	} else if (*p == ':') {
		if (first > 23)
			return -ERANGE;
		h = first;
	} else if (*p == '\0') {
		/* A bare number is a count of days, as .NET's TimeSpan.Parse does. */
		days = first;
		h = m = sec = 0;
		goto done;
	} else
		return -EINVAL;
	if (*p++ != ':')
		return -EINVAL;
	r = read_uint(&p, 59, &m, &digits);
	if (r < 0)
		return r;
	if (digits > 2)
		return -EINVAL;
	if (*p != ':')
		return -EINVAL;
	p++;
	r = read_uint(&p, 59, &sec, &digits);
	if (r < 0)
		return r;
	if (digits > 2)
		return -EINVAL;
	if (*p == '.') {
		p++;
		r = read_uint(&p, UINT64_C(9999999), &frac, &digits);
		if (r < 0)
			return r;
		if (digits > 7)
			return -EINVAL;
		for (int i = digits; i < 7; i++)
			frac *= 10;
		frac /= 10; /* 100 ns ticks -> usec */
	}
done:
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return -EINVAL;
	usec = ((days * 24 + h) * 60 + m) * 60 + sec;
	if (usec > UINT64_MAX / WASP_USEC_PER_SEC)
		return -ERANGE;
	usec = usec * WASP_USEC_PER_SEC + frac;
	*ret_usec = usec;
	return 0;
}

char *
wasp_timespan_format(uint64_t usec, char *buf, size_t size)
{
	uint64_t sec = usec / WASP_USEC_PER_SEC, frac = usec % WASP_USEC_PER_SEC;
	uint64_t days = sec / 86400, h = sec / 3600 % 24, m = sec / 60 % 60, s = sec % 60;
	int n;

	if (days)
		n = snprintf(buf, size, "%" PRIu64 ".%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			     days, h, m, s);
	else
		n = snprintf(buf, size, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, h, m, s);
	if (frac && n > 0 && (size_t)n < size)
		(void)snprintf(buf + n, size - (size_t)n, ".%07" PRIu64, frac * 10);
	return buf;
}
