/* SPDX-License-Identifier: MIT */
/*
 * The latency histogram: log-linear buckets, exact moments, merge, percentiles.
 * Pure: no I/O, no logging.
 */
#include <math.h>
#include <string.h>

#include "hist.h"
#include "macro.h"

void hist_init(struct hist *h) {
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t hist_bucket(uint64_t v) {
	unsigned e;

	if (v < HIST_SUB)
		return (size_t)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)) */
	return (size_t)(e - HIST_SUB_BITS + 1) * HIST_SUB +
	       ((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

void hist_bucket_bounds(size_t b, uint64_t *ret_lo, uint64_t *ret_hi) {
	size_t group = b / HIST_SUB, sub = b % HIST_SUB;

	if (group == 0) {
		*ret_lo = sub;
		*ret_hi = sub + 1;
		return;
	}
	unsigned shift = (unsigned)group - 1; /* bucket width is 2^shift */
	*ret_lo = ((uint64_t)HIST_SUB + sub) << shift;
	*ret_hi = *ret_lo + (UINT64_C(1) << shift);
}

void hist_record(struct hist *h, uint64_t v) {
	h->n++;
	h->min = MIN(h->min, v);
	h->max = MAX(h->max, v);
	h->sum += (long double)v;
	h->sum_sq += (long double)v * (long double)v;
	if (v >= HIST_TOP_NSEC)
		h->overflow++;
	else
		h->counts[hist_bucket(v)]++;
}

void hist_merge(struct hist *dst, const struct hist *src) {
	if (src->n == 0)
		return;
	dst->n += src->n;
	dst->overflow += src->overflow;
	dst->min = MIN(dst->min, src->min);
	dst->max = MAX(dst->max, src->max);
	dst->sum += src->sum;
	dst->sum_sq += src->sum_sq;
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
}

uint64_t hist_percentile(const struct hist *h, double p, bool *ret_overflow) {
	uint64_t rank, seen = 0;

	if (ret_overflow)
		*ret_overflow = false;
	if (h->n == 0)
		return 0;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->n);
	rank = MAX(rank, 1);
	rank = MIN(rank, h->n);
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		seen += h->counts[b];
		if (seen >= rank) {
			uint64_t lo, hi;
			hist_bucket_bounds(b, &lo, &hi);
			/* The middle of the bucket, but never outside what was seen. */
			uint64_t mid = lo + (hi - lo - 1) / 2;
			return MAX(MIN(mid, h->max), h->min);
		}
	}
	if (ret_overflow)
		*ret_overflow = true;
	return HIST_TOP_NSEC;
}

double hist_mean(const struct hist *h) {
	return h->n ? (double)(h->sum / (long double)h->n) : 0.0;
}

double hist_stddev(const struct hist *h) {
	long double mean, var;

	if (h->n < 2)
		return 0.0;
	mean = h->sum / (long double)h->n;
	var = h->sum_sq / (long double)h->n - mean * mean;
	return var > 0 ? sqrt((double)var) : 0.0;
}
