/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "pattern.h"
#include "tests.h"

TEST(windows_are_contiguous_slices_of_one_stream) {
	struct pattern p;
	ASSERT_EQ(pattern_init(&p, 100000), 0);
	for (uint64_t off = 0; off < 3 * PATTERN_PERIOD; off += 9973) {
		const uint8_t *w = pattern_at(&p, 12345, off);
		for (size_t i = 0; i < 100000; i += 997)
			ASSERT_EQ(w[i], pattern_at(&p, 12345, off + i)[0]);
	}
	pattern_done(&p);
}

TEST(connections_get_different_streams) {
	struct pattern p;
	ASSERT_EQ(pattern_init(&p, 64), 0);
	for (uint64_t a = 0; a < 200; a++)
		for (uint64_t b = a + 1; b < 200; b++)
			if (memcmp(pattern_at(&p, pattern_phase(a), 0),
				   pattern_at(&p, pattern_phase(b), 0), 16) == 0)
				ASSERT_FAIL_("connections %llu and %llu start alike",
					     (unsigned long long)a, (unsigned long long)b);
	pattern_done(&p);
}

TEST(check_finds_the_first_differing_byte) {
	struct pattern p;
	uint8_t buf[4096];
	ASSERT_EQ(pattern_init(&p, sizeof(buf)), 0);
	memcpy(buf, pattern_at(&p, 7, 1000), sizeof(buf));
	ASSERT_EQ(pattern_check(&p, 7, 1000, buf, sizeof(buf)), -1);
	buf[1234] ^= 0x01;
	buf[3000] ^= 0xff;
	ASSERT_EQ(pattern_check(&p, 7, 1000, buf, sizeof(buf)), 1234);
	/* The same bytes at another offset or phase are wrong too. */
	buf[1234] ^= 0x01;
	buf[3000] ^= 0xff;
	ASSERT_TRUE(pattern_check(&p, 7, 1001, buf, sizeof(buf)) >= 0);
	ASSERT_TRUE(pattern_check(&p, 8, 1000, buf, sizeof(buf)) >= 0);
	pattern_done(&p);
}

TEST(all_byte_values_occur) {
	struct pattern p;
	unsigned seen[256] = { 0 };
	ASSERT_EQ(pattern_init(&p, 1), 0);
	for (size_t i = 0; i < PATTERN_PERIOD; i++)
		seen[p.bytes[i]]++;
	for (int v = 0; v < 256; v++)
		ASSERT_TRUE(seen[v] > 100); /* NULs and all: nothing is special to an echo */
	pattern_done(&p);
}
