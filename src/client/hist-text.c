/* SPDX-License-Identifier: MIT */
/*
 * A histogram as text for other tools: HdrHistogram's percentile distribution, the rows where
 * its percentile iterator would put them. The histogram and the report's figures are hist.c's.
 * Pure: no logging; its only I/O is the stream or the path the caller names.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "hist-text.h"
#include "macro.h"

/*
 * HdrHistogram describes its layout in its own terms: a first bucket of SubBuckets values one
 * unit apart, then Buckets in all, each covering twice the values of the one before in
 * SubBuckets/2 steps. hist.h's layout is that one with 256 sub-buckets, which HdrHistogram would
 * choose for 2 significant digits.
 */
#define SUB_BUCKETS (2 * HIST_SUB)
#define BUCKETS (HIST_TOP_BITS - HIST_SUB_BITS)

/* The first error of any write is the one to report; later ones only follow from it. */
_printf_(3, 4) static void put(FILE *f, int *r, const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	if (vfprintf(f, fmt, ap) < 0 && *r == 0)
		*r = negative_errno();
	va_end(ap);
}

static double usec(uint64_t nsec) {
	return (double)nsec / (double)NSEC_PER_USEC;
}

/* What a row says of bucket b: every value counted up to it is at most this. HdrHistogram gives
 * the top of the bucket; the largest value seen is as true and nearer, in the last bucket, and
 * the only bound the overflow bucket has. */
static uint64_t bucket_top(const struct hist *h, size_t b) {
	uint64_t lo, hi;

	if (b == HIST_BUCKETS)
		return h->max;
	hist_bucket_bounds(b, &lo, &hi);
	return MIN(hi - 1, h->max);
}

/* The percentile (0..100) to report after p, HdrHistogram's arithmetic: the step halves each
 * time the distance to 100% does, HIST_TEXT_TICKS steps per halving. Once p is so near 100 that
 * a step no longer moves it (only with counts beyond 2^50), no row is due before the last. */
static double next_level(double p) {
	int64_t halvings = (int64_t)(log(100.0 / (100.0 - p)) / log(2)) + 1;
	double next = p + 100.0 / ((double)HIST_TEXT_TICKS * ldexp(1.0, (int)halvings));

	return next > p && next < 100.0 ? next : HUGE_VAL;
}

int hist_text_write(const struct hist *h, FILE *f) {
	uint64_t seen = 0, value = 0;
	double level = 0.0;
	int r = 0;

	put(f, &r, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
	    "1/(1-Percentile)");
	/* The overflow counts as one more bucket, after the last. */
	for (size_t b = 0; b <= HIST_BUCKETS && seen < h->n; b++) {
		uint64_t count = b < HIST_BUCKETS ? h->counts[b] : h->overflow;

		if (count == 0)
			continue;
		seen += count;
		value = bucket_top(h, b);
		/* The bucket that completes the count gives one row here, then the 100% row. */
		while (100.0 * (double)seen / (double)h->n >= level) {
			put(f, &r, "%12.3f %14.12f %10" PRIu64 " %14.2f\n", usec(value),
			    level / 100.0, seen, 1.0 / (1.0 - level / 100.0));
			level = next_level(level);
			if (seen == h->n)
				break;
		}
	}
	/* HdrHistogram leaves 1/(1-Percentile) out where it would be infinite. */
	if (h->n)
		put(f, &r, "%12.3f %14.12f %10" PRIu64 "\n", usec(value), 1.0, h->n);
	put(f, &r, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hist_mean(h) / 1e3,
	    hist_stddev(h) / 1e3);
	put(f, &r, "#[Max     = %12.3f, Total count    = %12" PRIu64 "]\n", usec(h->max), h->n);
	put(f, &r, "#[Buckets = %12d, SubBuckets     = %12d]\n", BUCKETS, SUB_BUCKETS);
	put(f, &r,
	    "# ipc-client: values in microseconds, each the top of its bucket: at most 1/%u "
	    "above the values it stands for\n",
	    HIST_SUB);
	if (r == 0 && ferror(f))
		r = -EIO;
	return r;
}

int hist_text_save(const struct hist *h, const char *path, char *err, size_t errlen) {
	FILE *f = fopen(path, "we");
	int r;

	if (!f)
		r = negative_errno();
	else {
		r = hist_text_write(h, f);
		/* Most write errors (a full disk) only show when the buffer goes out. */
		if (fflush(f) != 0 && r == 0)
			r = negative_errno();
		if (fclose(f) != 0 && r == 0)
			r = negative_errno();
	}
	if (r < 0)
		snprintf(err, errlen, "failed to write the histogram to '%s': %s", path,
			 strerror(-r));
	return r;
}
