/* SPDX-License-Identifier: MIT */
/* One connection under traffic: the pump that sends what it may and waits for what it needs;
 * stream echoes checked byte by byte, messages one per chunk with those never echoed counted
 * lost; its round trips and mismatches recorded; its end, by finishing or by failure. */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include "driver-internal.h"
#include "macro.h"
#include "pattern.h"
#include "poller.h"

#define MESSAGES_PER_WAKE 64 /* seqpacket and datagram receives per wake-up */
#define MESSAGES_LATE 64     /* messages counted lost whose echo may still turn up */

static bool conn_finished(const struct cconn *c) {
	bool no_more = c->t->stopped || c->sent >= c->target;
	return no_more && c->completed == c->started && c->received + c->lost_bytes == c->sent &&
	       (c->started == 0 || c->sent == conn_chunk_end(c, c->started - 1));
}

static void conn_end(struct cconn *c) {
	struct dthread *t = c->t;

	if (c->events) {
		poller_remove(t->poller, c->fd);
		c->events = 0;
	}
	if (!t->d->p.hold_open)
		c->fd = safe_close(c->fd); /* else thread_free() closes it, after the drive */
	if (c->state == CS_OPEN && t->active-- == 1)
		(void)sd_event_exit(t->event, 0); /* only fails if the loop is already ending */
	c->state = CS_DONE;
}

void conn_fail(struct cconn *c, enum failure why) {
	struct drive_errors *e = &c->t->errors;

	if (!c->got_echo && (why == FAIL_EOF || why == FAIL_RESET))
		e->closed_by_server++; /* accepted, then turned away: a limit, say */
	else {
		if (why == FAIL_EOF)
			e->eof_early++;
		else if (why == FAIL_RESET)
			e->reset++;
		else if (why == FAIL_TIMEOUT)
			e->timed_out++;
		else
			e->verify_failures++;
		e->short_connections++;
	}
	thread_live_add(&c->t->live_errors, 1);
	conn_end(c);
}

static void conn_record_mismatch(struct cconn *c, uint64_t offset) {
	struct dthread *t = c->t;
	if (t->n_mismatches < DRIVE_MISMATCHES_MAX)
		t->mismatches[t->n_mismatches] = (struct drive_mismatch){ c->index, offset };
	t->n_mismatches++;
}

/* The probe connection has its first echo, so the server has accepted it: does the process its
 * credentials named hold the other end? The time this takes (a walk of the server's open
 * files) is left out of the client's CPU time. */
static void conn_check_server(struct cconn *c) {
	struct dthread *t = c->t;
	uint64_t before = cpu_thread_nsec();

	c->probe = false;
	t->d->server_held = cpu_peer_held_by(c->fd, t->d->server_pid);
	t->d->server_checked = true;
	if (t->cpu_started)
		t->cpu_excluded_nsec += cpu_thread_nsec() - before;
}

static void conn_round_trip_done(struct cconn *c, uint64_t k, uint64_t now) {
	struct dthread *t = c->t;
	uint64_t len = conn_chunk_end(c, k) - k * t->d->p.chunk,
		 start = schedule_chunk_start_nsec(c, k);

	if (now >= t->d->measure_from_nsec) {
		hist_record(t->hist, now > start ? now - start : 0);
		t->round_trips++;
		t->bytes_measured += len;
	}
	if (t->interval_hist) {
		pthread_mutex_lock(&t->interval_lock);
		hist_record(t->interval_hist, now > start ? now - start : 0);
		pthread_mutex_unlock(&t->interval_lock);
	}
	if (c->probe)
		conn_check_server(c);
	t->total_round_trips++;
	t->total_bytes += len;
	thread_live_add(&t->live_round_trips, 1);
	thread_live_add(&t->live_bytes, len);
}

/* Stream sockets: chunks go out as a byte stream, and the echo is checked byte by byte
 * against the pattern as it comes back. */

/* 1: the socket is full, wait for EPOLLOUT; 0: nothing more may be sent now; <0: error. */
static int stream_send(struct cconn *c, uint64_t now) {
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
static int stream_receive(struct cconn *c, uint64_t now) {
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

/* Seqpacket and datagram sockets: one chunk per message; each echo is identified as the
 * message it answers, and messages never echoed are counted lost. */

/* Seqpacket and datagram: each chunk is one message, sent whole or not at all. */
static int message_send(struct cconn *c, uint64_t now) {
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
static int message_receive(struct cconn *c, uint64_t now) {
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

static void conn_fail_errno(struct cconn *c, int r) {
	conn_fail(c, r == -ENODATA ? FAIL_EOF : r == -EBADMSG ? FAIL_VERIFY : FAIL_RESET);
}

/* Sends what may be sent, then either finishes the connection or waits for what it needs. */
void conn_pump(struct cconn *c, uint64_t now) {
	int r = c->t->d->p.type == SOCK_STREAM ? stream_send(c, now) : message_send(c, now);
	uint32_t want;

	if (r < 0) {
		conn_fail_errno(c, r);
		return;
	}
	if (conn_finished(c)) {
		conn_end(c);
		return;
	}
	want = EPOLLIN | (r > 0 ? EPOLLOUT : 0);
	if (want != c->events) {
		if (poller_modify(c->t->poller, c->fd, want, &c->entry) < 0) {
			conn_fail(c, FAIL_RESET);
			return;
		}
		c->events = want;
	}
}

void conn_on_io(struct poller_entry *e, uint32_t revents) {
	struct cconn *c = container_of(e, struct cconn, entry);
	uint64_t now = now_nsec();

	if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		int r = c->t->d->p.type == SOCK_STREAM ? stream_receive(c, now)
						       : message_receive(c, now);
		if (r < 0) {
			conn_fail_errno(c, r);
			return;
		}
	}
	conn_pump(c, now);
}
