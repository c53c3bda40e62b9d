/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A log-linear latency histogram in nanoseconds. Values below 2^HIST_SUB_BITS land in exact
 * buckets; above, each power of two is split into 2^HIST_SUB_BITS buckets, so a bucket is at
 * most 1/128 of its values wide and a percentile reported at its middle is within 0.4% of the
 * truth. Values at or above HIST_TOP_NSEC (about 4.9 hours) are counted in an overflow bucket:
 * never dropped, never clamped into a bucket they are not in. Count, min, max, mean and stddev
 * are exact over every value.
 */
#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_TOP_BITS 44
#define HIST_TOP_NSEC (UINT64_C(1) << HIST_TOP_BITS)
#define HIST_BUCKETS (HIST_SUB * (HIST_TOP_BITS - HIST_SUB_BITS + 1))

struct hist {
	uint64_t n;
	uint64_t overflow; /* values >= HIST_TOP_NSEC */
	uint64_t min, max;
	long double sum, sum_sq;
	uint64_t counts[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t nsec);
void hist_merge(struct hist *dst, const struct hist *src);

/* Nearest-rank percentile (0 < p <= 100), in nanoseconds; 0 for an empty histogram. When the
 * rank falls among the overflow values, the result is HIST_TOP_NSEC and *ret_overflow (if
 * given) says so. */
uint64_t hist_percentile(const struct hist *h, double p, bool *ret_overflow);
double hist_mean(const struct hist *h);
double hist_stddev(const struct hist *h);

/* Exposed for the tests: the bucket of a value and a bucket's bounds [lo, hi). */
size_t hist_bucket(uint64_t nsec);
void hist_bucket_bounds(size_t bucket, uint64_t *ret_lo, uint64_t *ret_hi);
