/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * The spread of one figure over the runs of --repeat. The spread is the range over the median,
 * (max - min) / median, in percent: with the handful of runs a series has, the range is the
 * disagreement a person comparing any two of them would see. A zero median with a non-zero
 * range has an infinite spread; all values equal, a spread of 0.
 */

/* Above this a figure is flagged: its runs disagree too much to stand for one figure. */
#define REPEAT_SPREAD_MAX_PERCENT 10.0

struct repeat_stats {
	double median; /* of an even count: the mean of the two middle values */
	double min, max;
	double spread_percent; /* (max - min) / median * 100; INFINITY for a zero median */
};

/* Sorts v (n values, none NaN) and describes it: 0, or -EINVAL for n == 0 (ret untouched). */
int repeat_stats_compute(double *v, size_t n, struct repeat_stats *ret);

/* The spread is above REPEAT_SPREAD_MAX_PERCENT. */
bool repeat_stats_flagged(const struct repeat_stats *s);
