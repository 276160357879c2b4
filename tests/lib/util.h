/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers of the test and benchmark programs: clocks, a bounded
 * number from the environment, what the kernel charges for a BPF map.
 * Header only, so that every test stays one .c file.
 */
#ifndef _MAQUIS_TESTS_UTIL_H
#define _MAQUIS_TESTS_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC: durations and deadlines. */
static inline double maq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds of CPU the calling thread has used. */
static inline double maq_cputime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Environment variable @name as a number in 1..@max; @def when unset or
 * empty.  A bad value is not fatal (a knob for a longer run), but says so
 * as a KTAP diagnostic line and falls back to @def, or to @max.
 */
static inline long maq_env_long(const char *name, long def, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	if (*end || v <= 0) {
		printf("# %s=%s: not a positive number, using %ld\n", name, s,
		       def);
		return def;
	}
	if (v > max) {
		printf("# %s=%s: more than %ld, using %ld\n", name, s, max,
		       max);
		return max;
	}
	return v;
}

/* The "memlock:" the kernel charges for BPF map @fd (fdinfo), or -1. */
static inline long long maq_map_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

#endif /* _MAQUIS_TESTS_UTIL_H */
