/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The bytes each connection sends, so that every echoed byte can be checked without keeping a
 * copy. Connection i's stream is a pseudo-random sequence with period PATTERN_PERIOD, entered
 * at a per-connection phase: two connections' streams differ, a byte that moved within a
 * stream is caught, and any window of up to max_chunk bytes is one contiguous slice.
 */
#define PATTERN_PERIOD 65521u /* prime: a phase shift never lines the stream up with itself */

struct pattern {
	uint8_t *bytes; /* PATTERN_PERIOD + max_chunk */
	size_t max_chunk;
};

int pattern_init(struct pattern *p, size_t max_chunk);
void pattern_done(struct pattern *p);

/* Connection index → its phase. */
uint32_t pattern_phase(uint64_t conn_index);

/* The bytes at stream offset [offset, offset + len) for phase; len <= max_chunk. */
static inline const uint8_t *pattern_at(const struct pattern *p, uint32_t phase, uint64_t offset) {
	return p->bytes + (phase + offset) % PATTERN_PERIOD;
}

/* -1 if data is the stream at offset, else the index of the first byte that differs. */
ssize_t pattern_check(const struct pattern *p, uint32_t phase, uint64_t offset, const void *data,
		      size_t len);
