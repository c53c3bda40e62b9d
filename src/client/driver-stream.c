/* SPDX-License-Identifier: MIT */
/* Stream sockets: chunks go out as a byte stream, and the echo is checked byte by byte
 * against the pattern as it comes back. */
#include <errno.h>
#include <sys/socket.h>

#include "driver-internal.h"
#include "macro.h"
#include "pattern.h"

/* 1: the socket is full, wait for EPOLLOUT; 0: nothing more may be sent now; <0: error. */
int stream_send(struct cconn *c, uint64_t now) {
	const struct drive *d = c->t->d;

	for (;;) {
		bool first = !(c->started > 0 && c->sent < conn_chunk_end(c, c->started - 1));
		uint64_t end;
		ssize_t w;

		if (first && c->started >= schedule_chunks_allowed(c))
			return 0;
		end = conn_chunk_end(c, first ? c->started : c->started - 1);
		w = send(c->fd, pattern_at(&d->pattern, c->phase, c->sent), end - c->sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 1 : negative_errno();
		if (first) {
			if (d->p.mode == DRIVE_CLOSED)
				c->t->send_times[c->local * d->p.depth + c->started % d->p.depth] =
					now;
			c->started++;
		}
		c->sent += (uint64_t)w;
		c->last_progress_nsec = now;
	}
}

/* -ENODATA: EOF; -EBADMSG: the echo differs (recorded); other negative: socket error. */
int stream_receive(struct cconn *c, uint64_t now) {
	struct dthread *t = c->t;
	ssize_t n = recv(c->fd, t->buf, t->buf_len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		return -ENODATA;
	if (c->received + (uint64_t)n > c->sent) {
		conn_record_mismatch(c, c->sent); /* more came back than was sent */
		return -EBADMSG;
	}
	if (t->d->p.verify) {
		ssize_t i = pattern_check(&t->d->pattern, c->phase, c->received, t->buf, (size_t)n);
		if (i >= 0) {
			conn_record_mismatch(c, c->received + (uint64_t)i);
			return -EBADMSG;
		}
	}
	c->received += (uint64_t)n;
	c->got_echo = true;
	c->last_progress_nsec = now;
	while (c->completed < c->started && c->received >= conn_chunk_end(c, c->completed)) {
		conn_round_trip_done(c, c->completed, now);
		c->completed++;
	}
	return 0;
}
