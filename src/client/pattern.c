/* SPDX-License-Identifier: MIT */
/*
 * The verification pattern: generation and comparison.
 * Pure: no I/O, no logging.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

int pattern_init(struct pattern *p, size_t max_chunk) {
	size_t n = PATTERN_PERIOD + max_chunk;
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15); /* any fixed non-zero seed */

	p->bytes = malloc(n);
	if (!p->bytes)
		return -ENOMEM;
	p->max_chunk = max_chunk;
	for (size_t i = 0; i < PATTERN_PERIOD; i++) {
		/* xorshift64*: cheap, and no byte value is favoured */
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p->bytes[i] = (uint8_t)((x * UINT64_C(2685821657736338717)) >> 56);
	}
	/* The tail repeats the start, so any window is contiguous. */
	for (size_t i = PATTERN_PERIOD; i < n; i++)
		p->bytes[i] = p->bytes[i % PATTERN_PERIOD];
	return 0;
}

void pattern_done(struct pattern *p) {
	free(p->bytes);
	p->bytes = NULL;
}

uint32_t pattern_phase(uint64_t conn_index) {
	/* Spread consecutive connections far apart in the period (Fibonacci hashing). */
	return (uint32_t)((conn_index * UINT64_C(40503)) % PATTERN_PERIOD);
}

ssize_t pattern_check(const struct pattern *p, uint32_t phase, uint64_t offset, const void *data,
		      size_t len) {
	const uint8_t *want = pattern_at(p, phase, offset), *got = data;

	if (memcmp(want, got, len) == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (want[i] != got[i])
			return (ssize_t)i;
	return -1; /* unreachable: memcmp saw a difference */
}
