/* SPDX-License-Identifier: MIT */
/* When chunks may leave: the closed loop keeps depth chunks in flight, the open loop releases
 * messages on a fixed schedule; and so when each round trip's latency starts. Arithmetic only:
 * the timer that releases messages on schedule is driver.c's. */
#include "driver-internal.h"
#include "macro.h"

/* Open loop: message k of connection g leaves at t0 + (k·N + g) / rate. Across connections
 * that is one evenly spaced round-robin sequence. */
uint64_t schedule_nsec(const struct drive *d, uint64_t k, uint64_t g) {
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
