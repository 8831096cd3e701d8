/* The fuzz targets' assertion: a failed check aborts with the condition,
 * so libFuzzer keeps the input as a crash. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* The process's open descriptors (a target checks none leaked). */
static inline int
fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	CHECK(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1; /* the DIR's own fd */
}
