/* SPDX-License-Identifier: MIT */
/*
 * Counters: names for close reasons, sums over workers, and the STATUS= text.
 * Pure: no I/O, no logging.
 */
#include <stdio.h>

#include "macro.h"
#include "parse.h"
#include "stats.h"

static const char *const close_reason_names[_CLOSE_MAX] = {
	[CLOSE_EOF] = "eof",
	[CLOSE_ERROR] = "error",
	[CLOSE_IDLE] = "idle-timeout",
	[CLOSE_BYTES] = "max-connection-bytes",
	[CLOSE_TIME] = "max-connection-time",
	[CLOSE_MESSAGE_SIZE] = "max-message-size",
	[CLOSE_NO_MEMORY] = "out-of-memory",
	[CLOSE_SHUTDOWN] = "shutdown",
	[CLOSE_PRESERVED] = "preserved",
};

const char *close_reason_to_string(enum close_reason r) {
	return r < _CLOSE_MAX ? close_reason_names[r] : NULL;
}

bool close_reason_is_limit(enum close_reason r) {
	return r != CLOSE_EOF && r != CLOSE_ERROR && r != CLOSE_SHUTDOWN && r != CLOSE_PRESERVED;
}

void stats_sum(const struct server_stats *s, const struct worker_stats *const *workers,
	       size_t n_workers, uint64_t active, struct stats_totals *ret) {
	struct stats_totals t = { .active = active, .accepted = s->accepted };

	for (size_t i = 0; i < _ADMIT_MAX; i++)
		if (i == ADMIT_DENIED)
			t.denied += s->refused[i];
		else
			t.refused += s->refused[i];
	for (size_t i = 0; i < n_workers; i++) {
		const struct worker_stats *w = workers[i];
		t.bytes += stats_get(&w->bytes);
		t.moved += stats_get(&w->moved);
		t.messages += stats_get(&w->messages);
		t.datagrams += stats_get(&w->datagrams);
		t.dgram_unanswerable += stats_get(&w->dgram_unanswerable);
		t.dgram_dropped += stats_get(&w->dgram_dropped);
		t.dgram_oversize += stats_get(&w->dgram_oversize);
		t.dgram_unread += stats_get(&w->dgram_unread);
		t.dgram_denied += stats_get(&w->dgram_denied);
		t.denied += stats_get(&w->dgram_denied);
		for (size_t r = 0; r < _CLOSE_MAX; r++) {
			t.closed_by[r] += stats_get(&w->closed[r]);
			t.closed += stats_get(&w->closed[r]);
		}
	}
	*ret = t;
}

void stats_status_text(const struct stats_totals *t, char *buf, size_t len) {
	char size[FORMAT_SIZE_MAX];
	uint64_t turned_away = t->refused + t->denied;

	snprintf(buf, len, "%llu connection%s, %s echoed, %llu refused",
		 (unsigned long long)t->active, t->active == 1 ? "" : "s",
		 format_size(size, sizeof(size), t->bytes), (unsigned long long)turned_away);
}
