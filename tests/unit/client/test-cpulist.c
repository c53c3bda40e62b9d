/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "cpulist.h"
#include "tests.h"

static const char *round_trip(const char *s, char *buf) {
	cpu_set_t set;
	if (cpulist_parse(s, &set) < 0)
		return "(error)";
	return cpulist_format(buf, CPULIST_MAX, &set);
}

TEST(lists_parse_and_print_as_taskset_writes_them) {
	char buf[CPULIST_MAX];
	ASSERT_STREQ(round_trip("0", buf), "0");
	ASSERT_STREQ(round_trip("0,2", buf), "0,2");
	ASSERT_STREQ(round_trip("0-3", buf), "0-3");
	ASSERT_STREQ(round_trip("3,0-1,2", buf), "0-3");
	ASSERT_STREQ(round_trip("5-5,7", buf), "5,7");
	ASSERT_STREQ(round_trip("1023", buf), "1023");
}

TEST(anything_else_is_refused) {
	static const char *const bad[] = { "",  ",",   "0,", ",0", "1-",   "-1", "3-1",
					   "a", "0x1", "1 ", " 1", "1,,2", "+1", "0-1-2" };
	cpu_set_t set;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(cpulist_parse(bad[i], &set), -EINVAL);
	ASSERT_EQ(cpulist_parse("1024", &set), -ERANGE);
	ASSERT_EQ(cpulist_parse("0-99999999999999999999", &set), -ERANGE);
}

TEST(threads_take_the_cpus_round_robin_in_ascending_order) {
	cpu_set_t set;
	ASSERT_EQ(cpulist_parse("6,2,4", &set), 0);
	ASSERT_EQ(cpulist_nth(&set, 0), 2);
	ASSERT_EQ(cpulist_nth(&set, 1), 4);
	ASSERT_EQ(cpulist_nth(&set, 2), 6);
	ASSERT_EQ(cpulist_nth(&set, 3), 2);
	CPU_ZERO(&set);
	ASSERT_EQ(cpulist_nth(&set, 0), -1);
}
