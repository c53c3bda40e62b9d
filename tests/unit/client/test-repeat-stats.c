/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>

#include "repeat-stats.h"
#include "tests.h"

/* Equal to within the last few bits: every figure here is exact in binary or nearly so. */
#define ASSERT_NEAR(a, b)                                                                          \
	do {                                                                                       \
		double x_ = (a), y_ = (b);                                                         \
		if (!(fabs(x_ - y_) <= 1e-9 * fmax(1, fabs(y_))))                                  \
			ASSERT_FAIL_("%s == %s: %.12g != %.12g", #a, #b, x_, y_);                  \
	} while (0)

TEST(odd_count_median_is_the_middle_value) {
	double v[] = { 30, 10, 20 };
	struct repeat_stats s;

	ASSERT_EQ(repeat_stats_compute(v, 3, &s), 0);
	ASSERT_NEAR(s.median, 20);
	ASSERT_NEAR(s.min, 10);
	ASSERT_NEAR(s.max, 30);
	ASSERT_NEAR(s.spread_percent, 100);
	ASSERT_TRUE(repeat_stats_flagged(&s));
}

TEST(even_count_median_is_the_mean_of_the_two_middle_values) {
	double v[] = { 104, 100, 98, 101 };
	struct repeat_stats s;

	ASSERT_EQ(repeat_stats_compute(v, 4, &s), 0);
	ASSERT_NEAR(s.median, 100.5);
	ASSERT_NEAR(s.min, 98);
	ASSERT_NEAR(s.max, 104);
	ASSERT_NEAR(s.spread_percent, 6 / 100.5 * 100);
	ASSERT_TRUE(!repeat_stats_flagged(&s));
	/* Sorted in place, as the header says. */
	ASSERT_NEAR(v[0], 98);
	ASSERT_NEAR(v[3], 104);
}

TEST(one_value_has_no_spread) {
	double v[] = { 42.5 };
	struct repeat_stats s;

	ASSERT_EQ(repeat_stats_compute(v, 1, &s), 0);
	ASSERT_NEAR(s.median, 42.5);
	ASSERT_NEAR(s.min, 42.5);
	ASSERT_NEAR(s.max, 42.5);
	ASSERT_NEAR(s.spread_percent, 0);
	ASSERT_TRUE(!repeat_stats_flagged(&s));
}

TEST(the_threshold_itself_is_not_flagged_just_above_it_is) {
	double at[] = { 95, 100, 105 }, above[] = { 95, 100, 105.01 };
	struct repeat_stats s;

	ASSERT_EQ(repeat_stats_compute(at, 3, &s), 0);
	ASSERT_NEAR(s.spread_percent, REPEAT_SPREAD_MAX_PERCENT);
	ASSERT_TRUE(!repeat_stats_flagged(&s));
	ASSERT_EQ(repeat_stats_compute(above, 3, &s), 0);
	ASSERT_TRUE(s.spread_percent > REPEAT_SPREAD_MAX_PERCENT);
	ASSERT_TRUE(repeat_stats_flagged(&s));
}

TEST(zero_median_spread_is_infinite_unless_all_are_zero) {
	double zeros[] = { 0, 0, 0 }, mostly[] = { 0, 0, 7 };
	struct repeat_stats s;

	ASSERT_EQ(repeat_stats_compute(zeros, 3, &s), 0);
	ASSERT_NEAR(s.spread_percent, 0);
	ASSERT_TRUE(!repeat_stats_flagged(&s));
	ASSERT_EQ(repeat_stats_compute(mostly, 3, &s), 0);
	ASSERT_TRUE(isinf(s.spread_percent));
	ASSERT_TRUE(repeat_stats_flagged(&s));
}

TEST(no_values_is_refused_and_leaves_the_result_alone) {
	struct repeat_stats s = { .median = 7 };

	ASSERT_EQ(repeat_stats_compute(NULL, 0, &s), -EINVAL);
	ASSERT_NEAR(s.median, 7);
}
