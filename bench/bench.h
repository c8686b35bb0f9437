/* ISC license: see LICENSE. */
/* What the C programs of bench/ share: a clock, and qsort's comparison. */
#ifndef BENCH_H
#define BENCH_H

#include <time.h>

static long long
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

#endif
