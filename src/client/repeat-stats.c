/* SPDX-License-Identifier: MIT */
/*
 * --repeat's statistics over one figure of every run: median, minimum, maximum, spread, and
 * whether the spread is too large. Which figures, and how they are shown, is report-repeat.c's.
 * Pure: no logging, no I/O.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "repeat-stats.h"

static int compare_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int repeat_stats_compute(double *v, size_t n, struct repeat_stats *ret) {
	struct repeat_stats s;
	double range;

	if (n == 0)
		return -EINVAL;
	qsort(v, n, sizeof(*v), compare_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	range = s.max - s.min;
	/* The median of non-negative figures is 0 only when half of them are. */
	if (range == 0)
		s.spread_percent = 0;
	else if (s.median == 0)
		s.spread_percent = INFINITY;
	else
		s.spread_percent = range / fabs(s.median) * 100;
	*ret = s;
	return 0;
}

bool repeat_stats_flagged(const struct repeat_stats *s) {
	return s->spread_percent > REPEAT_SPREAD_MAX_PERCENT;
}
