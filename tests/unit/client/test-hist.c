/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>

#include "hist.h"
#include "macro.h"
#include "tests.h"

#define N 200000

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_random(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static double uniform01(void) {
	return (double)(next_random() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values: the definition the histogram approximates. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p) {
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);
	return sorted[MAX(rank, 1) - 1];
}

/* Every reported percentile within 1% of the exact one. */
static bool check_distribution(uint64_t *values, size_t n, const char *name) {
	static const double ps[] = { 1, 10, 50, 90, 99, 99.9, 99.99, 100 };
	struct hist *h = malloc(sizeof(*h));
	bool ok = true;

	hist_init(h);
	for (size_t i = 0; i < n; i++)
		hist_record(h, values[i]);
	qsort(values, n, sizeof(*values), cmp_u64);
	for (size_t i = 0; i < ARRAY_SIZE(ps); i++) {
		uint64_t want = exact_percentile(values, n, ps[i]),
			 got = hist_percentile(h, ps[i], NULL);
		double err = fabs((double)got - (double)want) / (double)MAX(want, 1);
		if (err > 0.01) {
			printf("%s p%g: histogram %llu, exact %llu (%.2f%% off)\n", name, ps[i],
			       (unsigned long long)got, (unsigned long long)want, err * 100);
			ok = false;
		}
	}
	if (h->n != n || h->min != values[0] || h->max != values[n - 1])
		ok = false;
	free(h);
	return ok;
}

TEST(bucket_bounds_hold_every_value_within_1_in_128) {
	for (int i = 0; i < 100000; i++) {
		uint64_t v = next_random() >> (next_random() % 64), lo, hi;
		if (v >= HIST_TOP_NSEC)
			continue;
		hist_bucket_bounds(hist_bucket(v), &lo, &hi);
		if (!(lo <= v && v < hi) || (hi - lo) * 128 > MAX(lo, 128))
			ASSERT_FAIL_("value %llu in bucket [%llu, %llu)", (unsigned long long)v,
				     (unsigned long long)lo, (unsigned long long)hi);
	}
	ASSERT_EQ(hist_bucket(HIST_TOP_NSEC - 1), HIST_BUCKETS - 1);
}

TEST(uniform) {
	uint64_t *v = malloc(N * sizeof(*v));
	for (size_t i = 0; i < N; i++)
		v[i] = 1000 + next_random() % 1000000;
	ASSERT_TRUE(check_distribution(v, N, "uniform"));
	free(v);
}

TEST(bimodal) {
	uint64_t *v = malloc(N * sizeof(*v));
	for (size_t i = 0; i < N; i++)
		v[i] = i % 10 ? 10000 + next_random() % 2000 : 5000000 + next_random() % 500000;
	ASSERT_TRUE(check_distribution(v, N, "bimodal"));
	free(v);
}

TEST(heavy_tail) {
	uint64_t *v = malloc(N * sizeof(*v));
	/* Pareto, alpha 1.1: most values small, a few enormous. */
	for (size_t i = 0; i < N; i++)
		v[i] = (uint64_t)(20000.0 / pow(1.0 - uniform01(), 1.0 / 1.1));
	ASSERT_TRUE(check_distribution(v, N, "heavy tail"));
	free(v);
}

TEST(small_exact_values) {
	uint64_t *v = malloc(1000 * sizeof(*v));
	for (size_t i = 0; i < 1000; i++)
		v[i] = i % 100;
	ASSERT_TRUE(check_distribution(v, 1000, "small"));
	free(v);
}

TEST(overflow_is_counted_not_dropped_or_clamped) {
	struct hist *h = malloc(sizeof(*h));
	bool overflow;

	hist_init(h);
	for (int i = 0; i < 98; i++)
		hist_record(h, 1000);
	hist_record(h, HIST_TOP_NSEC);
	hist_record(h, UINT64_MAX / 2);
	ASSERT_EQ(h->n, 100);
	ASSERT_EQ(h->overflow, 2);
	ASSERT_TRUE(h->max == UINT64_MAX / 2);
	ASSERT_TRUE(hist_percentile(h, 98, &overflow) - 1000 <= 10); /* within 1% */
	ASSERT_TRUE(!overflow);
	ASSERT_TRUE(hist_percentile(h, 99, &overflow) == HIST_TOP_NSEC);
	ASSERT_TRUE(overflow);
	free(h);
}

TEST(merge_equals_one_histogram) {
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));
	hist_init(a);
	hist_init(b);
	hist_init(all);
	for (int i = 0; i < 10000; i++) {
		uint64_t v = next_random() % 10000000;
		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	ASSERT_EQ(a->n, all->n);
	ASSERT_EQ(a->min, all->min);
	ASSERT_EQ(a->max, all->max);
	ASSERT_TRUE(memcmp(a->counts, all->counts, sizeof(a->counts)) == 0);
	ASSERT_EQ(hist_percentile(a, 99.9, NULL), hist_percentile(all, 99.9, NULL));
	free(a);
	free(b);
	free(all);
}

TEST(mean_and_stddev_are_exact) {
	struct hist *h = malloc(sizeof(*h));
	hist_init(h);
	ASSERT_EQ(hist_percentile(h, 50, NULL), 0); /* empty */
	hist_record(h, 2);
	hist_record(h, 4);
	hist_record(h, 4);
	hist_record(h, 4);
	hist_record(h, 5);
	hist_record(h, 5);
	hist_record(h, 7);
	hist_record(h, 9);
	ASSERT_TRUE(fabs(hist_mean(h) - 5.0) < 1e-9);
	ASSERT_TRUE(fabs(hist_stddev(h) - 2.0) < 1e-9);
	free(h);
}
