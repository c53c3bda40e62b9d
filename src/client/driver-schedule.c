/* SPDX-License-Identifier: MIT */
/* When chunks may leave: the closed loop keeps depth chunks in flight, the open loop releases
 * messages on a fixed schedule; and so when each round trip's latency starts. */
#include "driver-internal.h"
#include "macro.h"

#define RATE_BATCH 1024 /* open loop: messages released per wake-up when behind */

/* Open loop: message k of connection g leaves at t0 + (k·N + g) / rate. Across connections
 * that is one evenly spaced round-robin sequence. */
static uint64_t schedule_nsec(const struct drive *d, uint64_t k, uint64_t g) {
	unsigned __int128 slot = (unsigned __int128)k * d->p.connections + g;
	return d->t0_nsec + (uint64_t)(slot * NSEC_PER_SEC / d->p.rate);
}

/* Open loop: how many messages of connection g the schedule has due by now. */
uint64_t schedule_due(const struct drive *d, uint64_t g, uint64_t now) {
	unsigned __int128 slots;

	if (now <= d->t0_nsec)
		return 0;
	slots = (unsigned __int128)(now - d->t0_nsec) * d->p.rate / NSEC_PER_SEC;
	return slots > g ? (uint64_t)((slots - g + d->p.connections - 1) / d->p.connections) : 0;
}

uint64_t schedule_chunk_start_nsec(const struct cconn *c, uint64_t k) {
	const struct drive *d = c->t->d;
	if (d->p.mode == DRIVE_OPEN)
		return schedule_nsec(d, k, c->index);
	return c->t->send_times[c->local * d->p.depth + k % d->p.depth];
}

uint64_t schedule_chunks_allowed(const struct cconn *c) {
	const struct drive *d = c->t->d;
	uint64_t n, all;

	if (c->t->stopped)
		return c->started;
	n = d->p.mode == DRIVE_OPEN ? c->due : c->completed + d->p.depth;
	all = c->target == UINT64_MAX ? UINT64_MAX : (c->target + d->p.chunk - 1) / d->p.chunk;
	return MIN(n, all);
}

/* Releases every message whose time has come, in schedule order, then sleeps until the next. */
int schedule_on_rate(sd_event_source *s, uint64_t usec _unused_, void *userdata) {
	struct dthread *t = userdata;
	uint64_t now = now_nsec();

	for (unsigned released = 0; !t->stopped; released++) {
		struct cconn *c = &t->conns[t->next_seq % t->n];
		uint64_t when = schedule_nsec(t->d, t->next_seq / t->n, c->index);
		int r;

		/* Behind the schedule, a batch at a time: the stop timer and the echoes must get
		 * their turn, or a target the client cannot meet would never end the run. */
		if (when > now || released == RATE_BATCH) {
			r = sd_event_source_set_time(s, (MAX(when, now) + NSEC_PER_USEC - 1) /
								NSEC_PER_USEC);
			if (r >= 0)
				r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
			return r;
		}
		t->next_seq++;
		if (c->state != CS_OPEN)
			continue;
		c->due++;
		conn_pump(c, now);
	}
	return 0;
}
