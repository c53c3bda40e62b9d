/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "parse.h"
#include "tests.h"

TEST(uint64_accepts_digits_only) {
	uint64_t v = 7;
	ASSERT_EQ(parse_uint64("0", &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(parse_uint64("18446744073709551615", &v), 0);
	ASSERT_TRUE(v == UINT64_MAX);
	ASSERT_EQ(parse_uint64("18446744073709551616", &v), -ERANGE);
	ASSERT_TRUE(v == UINT64_MAX); /* untouched on failure */
	ASSERT_EQ(parse_uint64("", &v), -EINVAL);
	ASSERT_EQ(parse_uint64("-1", &v), -EINVAL);
	ASSERT_EQ(parse_uint64("+1", &v), -EINVAL);
	ASSERT_EQ(parse_uint64(" 1", &v), -EINVAL);
	ASSERT_EQ(parse_uint64("1 ", &v), -EINVAL);
	ASSERT_EQ(parse_uint64("12a", &v), -EINVAL);
	ASSERT_EQ(parse_uint64("99999999999999999999x", &v), -EINVAL); /* junk before range */
	ASSERT_EQ(parse_size("99999999999999999999Q", &v), -EINVAL);
	ASSERT_EQ(parse_size("99999999999999999999K", &v), -ERANGE);
	ASSERT_EQ(parse_uint64(NULL, &v), -EINVAL);
}

TEST(size_units) {
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 },
		{ "512", 512 },
		{ "64K", 65536 },
		{ "64k", 65536 },
		{ "64KiB", 65536 },
		{ "64kib", 65536 },
		{ "16M", 16 << 20 },
		{ "1MiB", 1 << 20 },
		{ "1.5K", 1536 },
		{ "0.5M", 512 * 1024 },
		{ "2G", UINT64_C(2) << 30 },
		{ "1T", UINT64_C(1) << 40 },
		{ "1P", UINT64_C(1) << 50 },
		{ "64PiB", UINT64_C(1) << 56 },
		{ "0.5E", UINT64_C(1) << 59 },
		{ "15EiB", UINT64_C(15) << 60 },
		{ "12B", 12 },
	};
	uint64_t v;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ASSERT_EQ(parse_size(ok[i].s, &v), 0);
		ASSERT_EQ(v, ok[i].v);
	}
}

/* The message that lists the units names each one parse_size() takes, and only those. */
TEST(size_units_help_is_complete) {
	static const char *const all[] = { "B",   "K",   "M",   "G",   "T",   "P",  "E",
					   "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	char help[] = SIZE_UNITS_HELP, *save = NULL;
	unsigned named = 0;

	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		ASSERT_TRUE(size_unit_known(all[i]) && strstr(SIZE_UNITS_HELP, all[i]));
	ASSERT_TRUE(!size_unit_known("Q") && !size_unit_known("Z"));
	/* Every word of the help that looks like a unit is one. */
	for (char *w = strtok_r(help, " ,().", &save); w; w = strtok_r(NULL, " ,().", &save))
		if (w[0] >= 'A' && w[0] <= 'Z') {
			ASSERT_TRUE(size_unit_known(w));
			named++;
		}
	ASSERT_EQ(named, ARRAY_SIZE(all));
}

TEST(size_rejects_junk_overflow_and_inexact_fractions) {
	static const char *const bad[] = { "",    "K",    "1KK", "1 K", " 1K", "1K ", "-1K", "1.K",
					   ".5K", "0.1K", "1.5", "1e3", "1kb", "1Kb", "0x10" };
	uint64_t v = 99;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_size(bad[i], &v) != -EINVAL)
			ASSERT_FAIL_("parse_size(\"%s\") accepted: %llu", bad[i],
				     (unsigned long long)v);
	}
	ASSERT_EQ(v, 99);
	ASSERT_EQ(parse_size("16E", &v), -ERANGE);
	ASSERT_EQ(parse_size("16777216T", &v), -ERANGE);
	ASSERT_EQ(parse_size("16777215T", &v), 0);
	ASSERT_EQ(parse_size("99999999999999999999", &v), -ERANGE);
	ASSERT_EQ(parse_size("18446744073709551615", &v), 0);
	ASSERT_TRUE(v == UINT64_MAX);
}

TEST(duration_units) {
	uint64_t v;
	ASSERT_EQ(parse_duration("500ms", USEC_PER_SEC, &v), 0);
	ASSERT_EQ(v, 500000);
	ASSERT_EQ(parse_duration("250us", USEC_PER_SEC, &v), 0);
	ASSERT_EQ(v, 250);
	ASSERT_EQ(parse_duration("1.5s", USEC_PER_SEC, &v), 0);
	ASSERT_EQ(v, 1500000);
	ASSERT_EQ(parse_duration("2min", USEC_PER_SEC, &v), 0);
	ASSERT_EQ(v, 120 * USEC_PER_SEC);
	ASSERT_EQ(parse_duration("1h", USEC_PER_SEC, &v), 0);
	ASSERT_EQ(v, 3600 * USEC_PER_SEC);
	ASSERT_EQ(parse_duration("7", USEC_PER_SEC, &v), 0); /* the default unit */
	ASSERT_EQ(v, 7 * USEC_PER_SEC);
	ASSERT_EQ(parse_duration("7", USEC_PER_MSEC, &v), 0);
	ASSERT_EQ(v, 7000);
	ASSERT_EQ(parse_duration("0.0005ms", USEC_PER_SEC, &v), -EINVAL); /* below 1 us */
	ASSERT_EQ(parse_duration("1S", USEC_PER_SEC, &v), -EINVAL);       /* units are exact */
	ASSERT_EQ(parse_duration("1m", USEC_PER_SEC, &v), -EINVAL);       /* min, not m */
	ASSERT_EQ(parse_duration("s", USEC_PER_SEC, &v), -EINVAL);
	ASSERT_EQ(parse_duration("-1s", USEC_PER_SEC, &v), -EINVAL);
	ASSERT_EQ(parse_duration("99999999999999h", USEC_PER_SEC, &v), -ERANGE);
}

TEST(format_duration_round_trips) {
	static const uint64_t values[] = { 1,          999,        1000,      1500,
					   1000000,    1500000,    60000000,  90000000,
					   3600000000, 7200000001, UINT64_MAX };
	char buf[FORMAT_DURATION_MAX];
	uint64_t v;

	ASSERT_STREQ(format_duration(buf, sizeof(buf), 0), "0");
	ASSERT_STREQ(format_duration(buf, sizeof(buf), 1500000), "1500ms");
	ASSERT_STREQ(format_duration(buf, sizeof(buf), 300 * USEC_PER_SEC), "5min");
	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		format_duration(buf, sizeof(buf), values[i]);
		ASSERT_EQ(parse_duration(buf, USEC_PER_SEC, &v), 0);
		ASSERT_TRUE(v == values[i]);
	}
}

TEST(format_size_for_people) {
	char buf[FORMAT_SIZE_MAX];
	ASSERT_STREQ(format_size(buf, sizeof(buf), 0), "0 B");
	ASSERT_STREQ(format_size(buf, sizeof(buf), 1023), "1023 B");
	ASSERT_STREQ(format_size(buf, sizeof(buf), 1024), "1.0 KiB");
	ASSERT_STREQ(format_size(buf, sizeof(buf), 1395864371), "1.3 GiB");
	ASSERT_STREQ(format_size(buf, sizeof(buf), UINT64_C(3) << 50), "3.0 PiB");
	ASSERT_STREQ(format_size(buf, sizeof(buf), UINT64_MAX), "16.0 EiB");
}

TEST(format_timespan_for_people) {
	char buf[FORMAT_DURATION_MAX];
	ASSERT_STREQ(format_timespan(buf, sizeof(buf), 0), "0.0ms");
	ASSERT_STREQ(format_timespan(buf, sizeof(buf), 450), "0.5ms");
	ASSERT_STREQ(format_timespan(buf, sizeof(buf), 12345), "12ms");
	ASSERT_STREQ(format_timespan(buf, sizeof(buf), 1500000), "1.5s");
	ASSERT_STREQ(format_timespan(buf, sizeof(buf), 125 * USEC_PER_SEC), "2min 5s");
	ASSERT_STREQ(format_timespan(buf, sizeof(buf), 12000 * USEC_PER_SEC), "3h 20min");
}
