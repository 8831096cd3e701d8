/* IIS timeSpan values: "[-][d.]hh:mm:ss[.fffffff]" (days optional, fraction
 * up to 7 digits, i.e. 100 ns ticks). wasp keeps them as microseconds. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define WASP_USEC_PER_SEC UINT64_C(1000000)

/* Parse s into microseconds. Negative values are rejected (no IIS setting
 * wasp supports takes one). Returns 0, or -EINVAL for a malformed value,
 * -ERANGE when it overflows. */
int wasp_timespan_parse(const char *s, uint64_t *ret_usec);

/* Format usec the way IIS writes it ("00:20:00", "1.05:00:00",
 * "00:00:00.5000000"). Returns buf. buf must hold WASP_TIMESPAN_MAX bytes. */
#define WASP_TIMESPAN_MAX 40
char *wasp_timespan_format(uint64_t usec, char *buf, size_t size);
