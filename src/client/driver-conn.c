/* SPDX-License-Identifier: MIT */
/* One connection under traffic: the pump that sends what it may and waits for what it needs,
 * its round trips and mismatches recorded, and its end, by finishing or by failure. */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include "driver-internal.h"
#include "macro.h"
#include "poller.h"

static bool conn_finished(const struct cconn *c) {
	bool no_more = c->t->stopped || c->sent >= c->target;
	return no_more && c->completed == c->started && c->received + c->lost_bytes == c->sent &&
	       (c->started == 0 || c->sent == conn_chunk_end(c, c->started - 1));
}

static void conn_close(struct cconn *c) {
	struct dthread *t = c->t;

	if (c->events) {
		poller_remove(t->poller, c->fd);
		c->events = 0;
	}
	c->fd = safe_close(c->fd);
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
	conn_close(c);
}

void conn_record_mismatch(struct cconn *c, uint64_t offset) {
	struct dthread *t = c->t;
	if (t->n_mismatches < DRIVE_MISMATCHES_MAX)
		t->mismatches[t->n_mismatches] = (struct drive_mismatch){ c->index, offset };
	t->n_mismatches++;
}

void conn_round_trip_done(struct cconn *c, uint64_t k, uint64_t now) {
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
	t->total_round_trips++;
	t->total_bytes += len;
	thread_live_add(&t->live_round_trips, 1);
	thread_live_add(&t->live_bytes, len);
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
		conn_close(c);
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
