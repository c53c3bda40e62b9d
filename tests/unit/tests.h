/* SPDX-License-Identifier: MIT */
/*
 * A minimal test harness: TEST(name) { … } registers a test; ASSERT_* print file:line, the
 * expression and both values, then end that test. main() runs them all and ends with the
 * line "N passed, N failed", which CI reads.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TESTS_MAX 256

struct test_case {
	const char *name;
	void (*fn)(bool *failed);
};

static struct test_case tests_all[TESTS_MAX];
static size_t tests_n;

#define TEST(name)                                                                                 \
	static void test_##name(bool *test_failed_);                                               \
	__attribute__((constructor)) static void test_register_##name(void) {                      \
		if (tests_n < TESTS_MAX)                                                           \
			tests_all[tests_n++] = (struct test_case){ #name, test_##name };           \
	}                                                                                          \
	static void test_##name(bool *test_failed_)

#define ASSERT_FAIL_(...)                                                                          \
	do {                                                                                       \
		printf("%s:%d: ", __FILE__, __LINE__);                                             \
		printf(__VA_ARGS__);                                                               \
		putchar('\n');                                                                     \
		*test_failed_ = true;                                                              \
		return;                                                                            \
	} while (0)

#define ASSERT_TRUE(x)                                                                             \
	do {                                                                                       \
		if (!(x))                                                                          \
			ASSERT_FAIL_("assertion failed: %s", #x);                                  \
	} while (0)

#define ASSERT_EQ(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			ASSERT_FAIL_("%s == %s: %lld (%llu) != %lld (%llu)", #a, #b, a_,           \
				     (unsigned long long)a_, b_, (unsigned long long)b_);          \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                         \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                             \
			ASSERT_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",     \
				     b_ ? b_ : "(null)");                                          \
	} while (0)

#define ASSERT_CONTAINS(haystack, needle)                                                          \
	do {                                                                                       \
		const char *h_ = (haystack), *n_ = (needle);                                       \
		if (!h_ || !strstr(h_, n_))                                                        \
			ASSERT_FAIL_("%s contains %s: \"%s\" lacks \"%s\"", #haystack, #needle,    \
				     h_ ? h_ : "(null)", n_);                                      \
	} while (0)

int main(void) {
	unsigned passed = 0, failed = 0;

	for (size_t i = 0; i < tests_n; i++) {
		bool f = false;
		tests_all[i].fn(&f);
		printf("%s %s\n", f ? "FAIL" : "ok  ", tests_all[i].name);
		if (f)
			failed++;
		else
			passed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
