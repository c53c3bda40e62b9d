/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
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

/* ipcd's table: option codes above 255 are no letters, and must never be printed as one. */
static const struct option ipcd_like[] = {
	{ "config", required_argument, NULL, 'c' }, { "check-config", no_argument, NULL, 0x100 },
	{ "verbose", no_argument, NULL, 'v' },      { "version", no_argument, NULL, 0x101 },
	{ "help", no_argument, NULL, 'h' },         {},
};

static const char *getopt_message(const char *a1, const char *a2, char *buf, size_t len) {
	char w1[64], w2[64];
	char *argv[] = { "ipcd", w1, w2, NULL };
	int argc = a2 ? 3 : 2, c;

	snprintf(w1, sizeof(w1), "%s", a1);
	snprintf(w2, sizeof(w2), "%s", a2 ? a2 : "");
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:vh", ipcd_like, NULL)) >= 0)
		if (c == '?' || c == ':') {
			if (parse_getopt_error(c, argv, ipcd_like, buf, len) != -EINVAL)
				return "(not -EINVAL)";
			return buf;
		}
	return "(no failure)";
}

TEST(getopt_error_names_the_option_as_typed) {
	static const struct {
		const char *a1, *a2, *message;
	} cases[] = {
		{ "--check-config=1", NULL, "option '--check-config' takes no argument" },
		{ "--check=", NULL, "option '--check' takes no argument" },
		{ "--help=x", NULL, "option '--help' takes no argument" },
		{ "-v", "--version=1", "option '--version' takes no argument" },
		{ "--bogus=1", NULL, "unknown option '--bogus'" },
		{ "--bogus", NULL, "unknown option '--bogus'" },
		{ "--=1", NULL, "unknown option '--=1'" },
		{ "--ver", NULL, "option '--ver' is ambiguous (--verbose, --version)" },
		{ "-c", NULL, "option '-c' needs an argument" },
		{ "-vc", NULL, "option '-c' needs an argument" },
		{ "--config", NULL, "option '--config' needs an argument" },
		{ "-v", "--conf", "option '--conf' needs an argument" },
		{ "-Z", NULL, "unknown option '-Z'" },
		{ "-vZv", NULL, "unknown option '-Z'" },
		{ "--verbose", "-Zv", "unknown option '-Z'" },
		{ "-\xc3\xa9", NULL, "unknown option '-\\xc3'" },
	};
	char buf[128];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *m = getopt_message(cases[i].a1, cases[i].a2, buf, sizeof(buf));
		if (strcmp(m, cases[i].message) != 0)
			ASSERT_FAIL_("'%s %s': \"%s\", wanted \"%s\"", cases[i].a1,
				     cases[i].a2 ? cases[i].a2 : "", m, cases[i].message);
	}
	/* Cut short, never overrun. */
	ASSERT_STREQ(getopt_message("--ver", NULL, buf, 20), "option '--ver' is a");
	ASSERT_STREQ(getopt_message("--check-config=1", NULL, buf, 8), "option ");
}
