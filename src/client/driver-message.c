/* SPDX-License-Identifier: MIT */
/* Seqpacket and datagram sockets: one chunk per message; each echo is identified as the
 * message it answers, and messages never echoed are counted lost. */
#include <errno.h>
#include <sys/socket.h>

#include "driver-internal.h"
#include "macro.h"
#include "pattern.h"

#define MESSAGES_PER_WAKE 64 /* seqpacket and datagram receives per wake-up */
#define MESSAGES_LATE 64     /* messages counted lost whose echo may still turn up */

/* Seqpacket and datagram: each chunk is one message, sent whole or not at all. */
int message_send(struct cconn *c, uint64_t now) {
	const struct drive *d = c->t->d;

	while (c->started < schedule_chunks_allowed(c)) {
		uint64_t off = c->started * d->p.chunk, len = conn_chunk_end(c, c->started) - off;
		if (send(c->fd, pattern_at(&d->pattern, c->phase, off), len,
			 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			return errno == EAGAIN || errno == EINTR || errno == ENOBUFS
				       ? 1
				       : negative_errno();
		if (d->p.mode == DRIVE_CLOSED)
			c->t->send_times[c->local * d->p.depth + c->started % d->p.depth] = now;
		c->started++;
		c->sent += len;
		c->last_progress_nsec = now;
	}
	return 0;
}

/* Which message of [from, to) an echo of n bytes is: the first whose length, and with
 * --verify bytes, match it. UINT64_MAX: none. Without --verify only lengths tell them apart. */
static uint64_t message_identify(const struct cconn *c, const uint8_t *buf, uint64_t n,
				 uint64_t from, uint64_t to) {
	const struct drive *d = c->t->d;

	for (uint64_t k = from; k < to; k++) {
		uint64_t off = k * d->p.chunk;
		if (n == conn_chunk_end(c, k) - off &&
		    (!d->p.verify || pattern_check(&d->pattern, c->phase, off, buf, (size_t)n) < 0))
			return k;
	}
	return UINT64_MAX;
}

/* Messages [completed, upto) will never be echoed: a datagram server may drop them. */
void messages_lost(struct cconn *c, uint64_t upto) {
	for (; c->completed < upto; c->completed++) {
		c->lost_bytes += conn_chunk_end(c, c->completed) - c->completed * c->t->d->p.chunk;
		c->t->errors.lost++;
		thread_live_add(&c->t->live_errors, 1);
	}
}

/* An echo that matches no message in flight: one counted lost that came late after all, or
 * a corrupted one, reported at its first byte that differs from the oldest in flight. */
static int message_unexpected(struct cconn *c, const uint8_t *buf, uint64_t n) {
	uint64_t chunk = c->t->d->p.chunk, off = c->completed * chunk, want, i;
	uint64_t late_from = c->completed - MIN(c->completed, (uint64_t)MESSAGES_LATE);

	if (c->t->d->p.verify && message_identify(c, buf, n, late_from, c->completed) != UINT64_MAX)
		return 0;
	if (c->completed >= c->started) {
		conn_record_mismatch(c, c->sent); /* a message that was never sent */
		return -EBADMSG;
	}
	want = conn_chunk_end(c, c->completed) - off;
	i = MIN(n, want);
	if (c->t->d->p.verify) {
		ssize_t j = pattern_check(&c->t->d->pattern, c->phase, off, buf, (size_t)i);
		if (j >= 0)
			i = (uint64_t)j;
	}
	conn_record_mismatch(c, off + i);
	return -EBADMSG;
}

/* Messages come back whole and in order, or not at all: an echo of a later message than the
 * oldest in flight means those before it were lost, not that a byte changed. */
int message_receive(struct cconn *c, uint64_t now) {
	struct dthread *t = c->t;

	for (unsigned i = 0; i < MESSAGES_PER_WAKE; i++) {
		ssize_t n = recv(c->fd, t->buf, t->buf_len, MSG_DONTWAIT | MSG_TRUNC);
		uint64_t k;
		int r;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
		if (n == 0 && t->d->p.type == SOCK_SEQPACKET)
			return -ENODATA;
		k = message_identify(c, t->buf, (uint64_t)n, c->completed, c->started);
		if (k == UINT64_MAX) {
			r = message_unexpected(c, t->buf, (uint64_t)n);
			if (r < 0)
				return r;
			continue;
		}
		messages_lost(c, k);
		c->received += (uint64_t)n;
		c->got_echo = true;
		c->last_progress_nsec = now;
		conn_round_trip_done(c, k, now);
		c->completed++;
	}
	return 0;
}
