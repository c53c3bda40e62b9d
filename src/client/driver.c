/* SPDX-License-Identifier: MIT */
/*
 * The connection driver: threads, connect phase, then closed- or open-loop traffic with every
 * echoed byte checked against the pattern. Each thread owns its connections, histogram and
 * counters outright; the only shared state is the start time (set behind a barrier), the
 * interrupt flag and the live progress counters.
 *
 * Chunk accounting, the same for every socket type: chunk k covers stream offsets
 * [k * chunk, min((k + 1) * chunk, target)). `started` chunks have had their first byte sent,
 * `completed` ones have been echoed in full. A round trip's latency runs from the chunk's start
 * (closed loop: its first byte sent; open loop: its scheduled time) to its last echoed byte.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "driver.h"
#include "macro.h"
#include "pattern.h"
#include "poller.h"

#define CONNECT_BATCH 64                    /* connects in progress per thread */
#define CONNECT_RETRY_NSEC (2 * 1000000ULL) /* backlog full: try again this much later */
#define SWEEP_NSEC (100 * 1000000ULL)       /* io-timeout checks */
#define RECV_MIN (64 * 1024)
#define MESSAGES_PER_WAKE 64 /* seqpacket and datagram receives per wake-up */
#define MESSAGES_LATE 64     /* messages counted lost whose echo may still turn up */
#define RATE_BATCH 1024      /* open loop: messages released per wake-up when behind */

enum cstate {
	CS_NEW,
	CS_CONNECTING, /* the backlog was full: retrying */
	CS_OPEN,
	CS_DONE,
};

enum failure {
	FAIL_EOF,
	FAIL_RESET,
	FAIL_TIMEOUT,
	FAIL_VERIFY,
};

struct dthread;

struct cconn {
	struct dthread *t;
	struct poller_entry entry;
	int fd;
	enum cstate state;
	uint32_t phase;
	uint32_t events; /* registered with the poller; 0: not registered */
	bool got_echo;
	uint64_t index;  /* among all connections */
	uint64_t local;  /* among this thread's */
	uint64_t target; /* bytes to send; UINT64_MAX: until stopped */
	uint64_t sent, received;
	uint64_t lost_bytes;         /* of messages never echoed: sent, and never to be received */
	uint64_t started, completed; /* chunks; a lost message counts as completed */
	uint64_t due;                /* open loop: chunks the schedule has released */
	uint64_t last_progress_nsec;
	uint64_t connect_start_nsec;
};

struct dthread {
	struct drive *d;
	unsigned index;
	pthread_t thread;
	bool thread_started;
	sd_event *event;
	struct poller *poller;
	int wake_fd;
	sd_event_source *wake_source, *connect_timer, *sweep_timer, *rate_timer, *stop_timer;
	struct cconn *conns;
	size_t n;
	uint64_t *send_times; /* closed loop: n × depth start times */
	uint8_t *buf;
	size_t buf_len;
	size_t next_connect, connecting, active;
	bool stopped;      /* no new chunks: time is up or interrupted */
	uint64_t next_seq; /* open loop: this thread's next message in schedule order */
	uint64_t end_nsec;
	struct hist *hist;
	/* With intervals: the latencies since the monitor last took them, which it does under
	 * the lock; uncontended but for that moment, once an interval. */
	struct hist *interval_hist;
	pthread_mutex_t interval_lock;
	struct drive_errors errors;
	uint64_t opened, connected;
	int connect_errno;
	uint64_t stop_nsec;   /* when sending stopped: the schedule's end */
	uint64_t unsent_full; /* open loop: due at the stop, held back by a full socket */
	uint64_t round_trips, bytes_measured, total_round_trips, total_bytes;
	struct drive_mismatch mismatches[DRIVE_MISMATCHES_MAX];
	uint64_t n_mismatches;
	/* live, single writer */
	atomic_uint_fast64_t live_round_trips, live_bytes, live_errors;
} __attribute__((aligned(64)));

struct drive {
	struct drive_params p;
	struct pattern pattern;
	struct dthread *threads;
	unsigned n_threads;
	pthread_barrier_t barrier;
	bool barrier_ready;
	pthread_mutex_t gate; /* held while threads are created; then aborted says whether to run */
	bool aborted;
	atomic_bool interrupted;
	atomic_bool running; /* t0 is set */
	atomic_uint finished;
	int done_fd;
	uint64_t connect_start_nsec, t0_nsec, measure_from_nsec;
	struct timespec t0_realtime;
};

static void live_add(atomic_uint_fast64_t *c, uint64_t n) {
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static void poke(int fd) {
	/* An eventfd write fails only on counter overflow, 2^64 - 1 pokes unread. */
	(void)!write(fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

static uint64_t chunk_end(const struct cconn *c, uint64_t k) {
	uint64_t end = (k + 1) * c->t->d->p.chunk;
	return MIN(end, c->target);
}

/* Open loop: message k of connection g leaves at t0 + (k·N + g) / rate. Across connections
 * that is one evenly spaced round-robin sequence. */
static uint64_t schedule_nsec(const struct drive *d, uint64_t k, uint64_t g) {
	unsigned __int128 slot = (unsigned __int128)k * d->p.connections + g;
	return d->t0_nsec + (uint64_t)(slot * NSEC_PER_SEC / d->p.rate);
}

/* Open loop: how many messages of connection g the schedule has due by now. */
static uint64_t schedule_due(const struct drive *d, uint64_t g, uint64_t now) {
	unsigned __int128 slots;

	if (now <= d->t0_nsec)
		return 0;
	slots = (unsigned __int128)(now - d->t0_nsec) * d->p.rate / NSEC_PER_SEC;
	return slots > g ? (uint64_t)((slots - g + d->p.connections - 1) / d->p.connections) : 0;
}

static uint64_t chunk_start_nsec(const struct cconn *c, uint64_t k) {
	const struct drive *d = c->t->d;
	if (d->p.mode == DRIVE_OPEN)
		return schedule_nsec(d, k, c->index);
	return c->t->send_times[c->local * d->p.depth + k % d->p.depth];
}

static bool conn_finished(const struct cconn *c) {
	bool no_more = c->t->stopped || c->sent >= c->target;
	return no_more && c->completed == c->started && c->received + c->lost_bytes == c->sent &&
	       (c->started == 0 || c->sent == chunk_end(c, c->started - 1));
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

static void conn_fail(struct cconn *c, enum failure why) {
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
	live_add(&c->t->live_errors, 1);
	conn_close(c);
}

static void record_mismatch(struct cconn *c, uint64_t offset) {
	struct dthread *t = c->t;
	if (t->n_mismatches < DRIVE_MISMATCHES_MAX)
		t->mismatches[t->n_mismatches] = (struct drive_mismatch){ c->index, offset };
	t->n_mismatches++;
}

static void round_trip_done(struct cconn *c, uint64_t k, uint64_t now) {
	struct dthread *t = c->t;
	uint64_t len = chunk_end(c, k) - k * t->d->p.chunk, start = chunk_start_nsec(c, k);

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
	live_add(&t->live_round_trips, 1);
	live_add(&t->live_bytes, len);
}

static uint64_t chunks_allowed(const struct cconn *c) {
	const struct drive *d = c->t->d;
	uint64_t n, all;

	if (c->t->stopped)
		return c->started;
	n = d->p.mode == DRIVE_OPEN ? c->due : c->completed + d->p.depth;
	all = c->target == UINT64_MAX ? UINT64_MAX : (c->target + d->p.chunk - 1) / d->p.chunk;
	return MIN(n, all);
}

/* 1: the socket is full, wait for EPOLLOUT; 0: nothing more may be sent now; <0: error. */
static int stream_send(struct cconn *c, uint64_t now) {
	const struct drive *d = c->t->d;

	for (;;) {
		bool first = !(c->started > 0 && c->sent < chunk_end(c, c->started - 1));
		uint64_t end;
		ssize_t w;

		if (first && c->started >= chunks_allowed(c))
			return 0;
		end = chunk_end(c, first ? c->started : c->started - 1);
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

/* Seqpacket and datagram: each chunk is one message, sent whole or not at all. */
static int message_send(struct cconn *c, uint64_t now) {
	const struct drive *d = c->t->d;

	while (c->started < chunks_allowed(c)) {
		uint64_t off = c->started * d->p.chunk, len = chunk_end(c, c->started) - off;
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

/* -ENODATA: EOF; -EBADMSG: the echo differs (recorded); other negative: socket error. */
static int stream_receive(struct cconn *c, uint64_t now) {
	struct dthread *t = c->t;
	ssize_t n = recv(c->fd, t->buf, t->buf_len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		return -ENODATA;
	if (c->received + (uint64_t)n > c->sent) {
		record_mismatch(c, c->sent); /* more came back than was sent */
		return -EBADMSG;
	}
	if (t->d->p.verify) {
		ssize_t i = pattern_check(&t->d->pattern, c->phase, c->received, t->buf, (size_t)n);
		if (i >= 0) {
			record_mismatch(c, c->received + (uint64_t)i);
			return -EBADMSG;
		}
	}
	c->received += (uint64_t)n;
	c->got_echo = true;
	c->last_progress_nsec = now;
	while (c->completed < c->started && c->received >= chunk_end(c, c->completed)) {
		round_trip_done(c, c->completed, now);
		c->completed++;
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
		if (n == chunk_end(c, k) - off &&
		    (!d->p.verify || pattern_check(&d->pattern, c->phase, off, buf, (size_t)n) < 0))
			return k;
	}
	return UINT64_MAX;
}

/* Messages [completed, upto) will never be echoed: a datagram server may drop them. */
static void messages_lost(struct cconn *c, uint64_t upto) {
	for (; c->completed < upto; c->completed++) {
		c->lost_bytes += chunk_end(c, c->completed) - c->completed * c->t->d->p.chunk;
		c->t->errors.lost++;
		live_add(&c->t->live_errors, 1);
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
		record_mismatch(c, c->sent); /* a message that was never sent */
		return -EBADMSG;
	}
	want = chunk_end(c, c->completed) - off;
	i = MIN(n, want);
	if (c->t->d->p.verify) {
		ssize_t j = pattern_check(&c->t->d->pattern, c->phase, off, buf, (size_t)i);
		if (j >= 0)
			i = (uint64_t)j;
	}
	record_mismatch(c, off + i);
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
		round_trip_done(c, k, now);
		c->completed++;
	}
	return 0;
}

static void conn_fail_errno(struct cconn *c, int r) {
	conn_fail(c, r == -ENODATA ? FAIL_EOF : r == -EBADMSG ? FAIL_VERIFY : FAIL_RESET);
}

/* Sends what may be sent, then either finishes the connection or waits for what it needs. */
static void conn_pump(struct cconn *c, uint64_t now) {
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

static void on_io(struct poller_entry *e, uint32_t revents) {
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

static void thread_stop_sending(struct dthread *t) {
	const struct drive *d = t->d;
	uint64_t now = now_nsec(), end = now;

	if (t->stopped)
		return;
	t->stopped = true;
	/* A stop timer that fires late must not put messages due after -t into the schedule. */
	if (d->p.duration_usec && !atomic_load(&d->interrupted))
		end = MIN(now, d->t0_nsec + d->p.duration_usec * NSEC_PER_USEC);
	t->stop_nsec = end;
	(void)sd_event_source_set_enabled(t->rate_timer, SD_EVENT_OFF); /* NULL-safe */
	/* Open loop: of what was released, what waited on a full socket (the server's doing),
	 * then all the schedule had due by now: what a late rate timer never released is the
	 * client falling behind. */
	for (size_t i = 0; d->p.mode == DRIVE_OPEN && i < t->n; i++) {
		struct cconn *c = &t->conns[i];
		if (c->state != CS_OPEN)
			continue;
		if (c->events & EPOLLOUT)
			t->unsent_full += c->due - MIN(c->due, c->started);
		c->due = MAX(c->due, schedule_due(d, c->index, end));
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->conns[i].state == CS_OPEN)
			conn_pump(&t->conns[i], now); /* closes those with nothing in flight */
}

static int on_stop_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
	thread_stop_sending(userdata);
	return 0;
}

static int on_wake(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
	struct dthread *t = userdata;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v)); /* only a wake-up; the flag says why */
	if (atomic_load(&t->d->interrupted))
		thread_stop_sending(t);
	return 0;
}

static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata) {
	struct dthread *t = userdata;
	uint64_t now = now_nsec(), limit = t->d->p.io_timeout_usec * NSEC_PER_USEC;

	for (size_t i = 0; i < t->n; i++) {
		struct cconn *c = &t->conns[i];
		bool echo_due = c->received + c->lost_bytes < c->sent;
		bool waiting = echo_due || c->started < chunks_allowed(c);

		if (c->state != CS_OPEN || !waiting || now - c->last_progress_nsec < limit)
			continue;
		if (echo_due && t->d->p.type == SOCK_DGRAM) {
			/* A datagram not echoed within --io-timeout is lost; the run goes on. */
			messages_lost(c, c->started);
			c->last_progress_nsec = now;
			conn_pump(c, now);
		} else
			conn_fail(c, FAIL_TIMEOUT);
	}
	return sd_event_source_set_time(s, usec + SWEEP_NSEC / NSEC_PER_USEC);
}

/* Releases every message whose time has come, in schedule order, then sleeps until the next. */
static int on_rate(sd_event_source *s, uint64_t usec _unused_, void *userdata) {
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

/* 1: connected; 0: the backlog is full, try again; <0: failed and counted. */
static int conn_connect(struct cconn *c, uint64_t now) {
	const struct drive_params *p = &c->t->d->p;
	struct drive_errors *e = &c->t->errors;
	static const struct sockaddr_un autobind = { .sun_family = AF_UNIX };

	if (c->fd < 0) {
		c->fd = socket(AF_UNIX, p->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		/* A datagram client needs an address of its own to be answered: let the kernel
		 * pick an abstract one. */
		if (c->fd >= 0 && p->type == SOCK_DGRAM &&
		    bind(c->fd, (const struct sockaddr *)&autobind, sizeof(sa_family_t)) < 0)
			c->fd = safe_close(c->fd);
		if (c->fd < 0) {
			e->connect_failed++;
			if (!c->t->connect_errno)
				c->t->connect_errno = errno;
			goto failed;
		}
		c->connect_start_nsec = now;
	}
	if (connect(c->fd, (const struct sockaddr *)&p->address.sun, p->address.len) == 0)
		return 1;
	if (errno == EAGAIN) {
		if (now - c->connect_start_nsec < p->connect_timeout_usec * NSEC_PER_USEC)
			return 0;
		e->connect_timeout++;
	} else if (errno == ECONNREFUSED)
		e->refused++;
	else
		e->connect_failed++;
	if (!c->t->connect_errno)
		c->t->connect_errno = errno;
failed:
	c->fd = safe_close(c->fd);
	c->state = CS_DONE;
	live_add(&c->t->live_errors, 1);
	return -1;
}

/* The connect phase: plain calls, no event loop yet, at most CONNECT_BATCH waiting at once.
 * Bounded: a waiting connection gives up after --connect-timeout. */
static void thread_connect_all(struct dthread *t) {
	size_t first_waiting = 0;

	while (!atomic_load(&t->d->interrupted)) {
		uint64_t now = now_nsec();

		for (size_t i = first_waiting; i < t->next_connect; i++) {
			struct cconn *c = &t->conns[i];
			if (c->state != CS_CONNECTING)
				continue;
			int r = conn_connect(c, now);
			if (r != 0) {
				t->connecting--;
				if (r > 0)
					c->state = CS_OPEN;
			}
		}
		while (first_waiting < t->next_connect &&
		       t->conns[first_waiting].state != CS_CONNECTING)
			first_waiting++;
		while (t->connecting < CONNECT_BATCH && t->next_connect < t->n) {
			struct cconn *c = &t->conns[t->next_connect++];
			int r = conn_connect(c, now);
			if (r > 0)
				c->state = CS_OPEN;
			else if (r == 0) {
				c->state = CS_CONNECTING;
				t->connecting++;
			}
		}
		if (t->connecting == 0 && t->next_connect == t->n)
			return;
		if (t->connecting > 0)
			(void)clock_nanosleep(CLOCK_MONOTONIC, 0,
					      &(struct timespec){ 0, (long)CONNECT_RETRY_NSEC },
					      NULL);
	}
	/* Interrupted: what did not connect is not an error, it was never tried. */
	for (size_t i = 0; i < t->n; i++)
		if (t->conns[i].state == CS_CONNECTING || t->conns[i].state == CS_NEW) {
			t->conns[i].fd = safe_close(t->conns[i].fd);
			t->conns[i].state = CS_DONE;
		}
}

/* accuracy_usec must not be 0: sd-event reads 0 as its default, 250 ms. */
static int thread_arm(struct dthread *t, sd_event_source **s, uint64_t at_nsec,
		      uint64_t accuracy_usec, sd_event_time_handler_t cb) {
	int r = sd_event_add_time(t->event, s, CLOCK_MONOTONIC, at_nsec / NSEC_PER_USEC,
				  accuracy_usec, cb, t);
	if (r >= 0)
		r = sd_event_source_set_enabled(*s,
						cb == on_sweep ? SD_EVENT_ON : SD_EVENT_ONESHOT);
	return r;
}

/* After the barrier: every open connection starts at t0. */
static int thread_start_traffic(struct dthread *t) {
	const struct drive *d = t->d;
	int r;

	r = sd_event_add_io(t->event, &t->wake_source, t->wake_fd, EPOLLIN, on_wake, t);
	if (r >= 0)
		r = thread_arm(t, &t->sweep_timer, d->t0_nsec + SWEEP_NSEC, 10 * 1000, on_sweep);
	if (r >= 0 && d->p.duration_usec)
		r = thread_arm(t, &t->stop_timer, d->t0_nsec + d->p.duration_usec * NSEC_PER_USEC,
			       1, on_stop_timer);
	if (r >= 0 && d->p.mode == DRIVE_OPEN)
		/* The schedule is the measurement: a late timer would be latency we made. */
		r = thread_arm(t, &t->rate_timer, d->t0_nsec, 1, on_rate);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n; i++) {
		struct cconn *c = &t->conns[i];
		if (c->state != CS_OPEN)
			continue;
		c->entry.fn = on_io;
		r = poller_add(t->poller, c->fd, EPOLLIN, &c->entry);
		if (r < 0)
			return r;
		c->events = EPOLLIN;
		c->last_progress_nsec = d->t0_nsec;
		t->active++;
		t->opened++;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->conns[i].state == CS_OPEN)
			conn_pump(&t->conns[i], d->t0_nsec);
	return 0;
}

static void *thread_main(void *userdata) {
	struct dthread *t = userdata;
	struct drive *d = t->d;
	bool aborted;
	int r;

	/* Wait until every thread exists: the barrier below counts on all of them. */
	pthread_mutex_lock(&d->gate);
	aborted = d->aborted;
	pthread_mutex_unlock(&d->gate);
	if (aborted)
		return NULL;
	thread_connect_all(t);
	/* NOLINTNEXTLINE(bugprone-posix-return): glibc's SERIAL_THREAD is -1 */
	if (pthread_barrier_wait(&d->barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
		d->t0_nsec = now_nsec();
		(void)clock_gettime(CLOCK_REALTIME, &d->t0_realtime); /* cannot fail */
		d->measure_from_nsec = d->t0_nsec + d->p.warmup_usec * NSEC_PER_USEC;
		atomic_store(&d->running, true);
	}
	(void)pthread_barrier_wait(&d->barrier); /* everyone sees t0 from here */

	r = thread_start_traffic(t);
	if (r >= 0 && t->active > 0)
		r = poller_run(t->poller);
	if (r < 0)
		/* Nothing to count this against but the connections themselves. */
		for (size_t i = 0; i < t->n; i++)
			if (t->conns[i].state == CS_OPEN)
				conn_fail(&t->conns[i], FAIL_RESET);
	t->end_nsec = now_nsec();
	if (!t->stopped)
		t->stop_nsec = t->end_nsec; /* ran out of bytes or connections first */
	for (size_t i = 0; i < t->n; i++)
		t->connected += t->conns[i].got_echo;
	atomic_fetch_add(&d->finished, 1);
	poke(d->done_fd);
	return NULL;
}

static void thread_free(struct dthread *t) {
	for (size_t i = 0; t->conns && i < t->n; i++)
		safe_close(t->conns[i].fd); /* the poller goes too: no need to deregister */
	poller_free(t->poller);
	sd_event_source_disable_unref(t->wake_source);
	sd_event_source_disable_unref(t->sweep_timer);
	sd_event_source_disable_unref(t->stop_timer);
	sd_event_source_disable_unref(t->rate_timer);
	sd_event_unref(t->event);
	safe_close(t->wake_fd);
	free(t->conns);
	free(t->send_times);
	free(t->buf);
	free(t->hist);
	if (t->interval_hist) {
		pthread_mutex_destroy(&t->interval_lock);
		free(t->interval_hist);
	}
}

static void drive_free(struct drive *d) {
	for (unsigned i = 0; d->threads && i < d->n_threads; i++)
		thread_free(&d->threads[i]);
	free(d->threads);
	if (d->barrier_ready)
		pthread_barrier_destroy(&d->barrier);
	pattern_done(&d->pattern);
	safe_close(d->done_fd);
	pthread_mutex_destroy(&d->gate);
	free(d);
}

static int thread_init(struct drive *d, struct dthread *t, unsigned index) {
	const struct drive_params *p = &d->p;
	int r;

	t->d = d;
	t->index = index;
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->wake_fd < 0)
		return negative_errno();
	t->n = (size_t)((p->connections - index + d->n_threads - 1) / d->n_threads);
	t->buf_len = (size_t)MAX(p->chunk, RECV_MIN);
	t->conns = calloc(t->n, sizeof(*t->conns));
	t->buf = malloc(t->buf_len);
	t->hist = malloc(sizeof(*t->hist));
	if (p->mode == DRIVE_CLOSED)
		t->send_times = calloc(t->n * p->depth, sizeof(uint64_t));
	if (!t->conns || !t->buf || !t->hist || (p->mode == DRIVE_CLOSED && !t->send_times))
		return -ENOMEM;
	hist_init(t->hist);
	if (p->intervals) {
		t->interval_hist = malloc(sizeof(*t->interval_hist));
		if (!t->interval_hist)
			return -ENOMEM;
		hist_init(t->interval_hist);
		pthread_mutex_init(&t->interval_lock, NULL);
	}
	for (size_t l = 0; l < t->n; l++) {
		struct cconn *c = &t->conns[l];
		uint64_t g = index + l * d->n_threads;
		*c = (struct cconn){
			.t = t,
			.fd = -EBADF,
			.index = g,
			.local = l,
			.phase = pattern_phase(g),
			.target = p->bytes_per_conn ? p->bytes_per_conn + (g < p->extra_bytes)
						    : UINT64_MAX,
		};
	}
	r = sd_event_new(&t->event);
	if (r >= 0)
		r = poller_new(t->event, &t->poller);
	return r < 0 ? r : 0;
}

int drive_start(const struct drive_params *p, struct drive **ret) {
	struct drive *d = calloc(1, sizeof(*d));
	unsigned started = 0;
	int r;

	if (!d)
		return -ENOMEM;
	d->p = *p;
	pthread_mutex_init(&d->gate, NULL);
	d->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->n_threads = (unsigned)MIN((uint64_t)MAX(p->threads, 1u), p->connections);
	d->threads = calloc(d->n_threads, sizeof(*d->threads));
	if (d->done_fd < 0 || !d->threads) {
		r = d->done_fd < 0 ? negative_errno() : -ENOMEM;
		goto fail;
	}
	r = pattern_init(&d->pattern, (size_t)MAX(p->chunk, RECV_MIN));
	if (r < 0)
		goto fail;
	for (unsigned i = 0; i < d->n_threads; i++) {
		d->threads[i].wake_fd = -EBADF;
		r = thread_init(d, &d->threads[i], i);
		if (r < 0)
			goto fail;
	}
	r = -pthread_barrier_init(&d->barrier, NULL, d->n_threads);
	if (r < 0)
		goto fail;
	d->barrier_ready = true;
	d->connect_start_nsec = now_nsec();
	pthread_mutex_lock(&d->gate);
	for (; started < d->n_threads; started++) {
		r = -pthread_create(&d->threads[started].thread, NULL, thread_main,
				    &d->threads[started]);
		if (r < 0)
			break;
		d->threads[started].thread_started = true;
	}
	d->aborted = r < 0;
	pthread_mutex_unlock(&d->gate);
	if (r < 0) {
		/* The threads that did start see aborted and return at once. */
		for (unsigned i = 0; i < started; i++)
			(void)pthread_join(d->threads[i].thread, NULL);
		goto fail;
	}
	*ret = d;
	return 0;
fail:
	drive_free(d);
	return r;
}

void drive_progress(struct drive *d, struct drive_progress *pr) {
	uint64_t rt = 0, bytes = 0, errors = 0;

	for (unsigned i = 0; i < d->n_threads; i++) {
		rt += atomic_load_explicit(&d->threads[i].live_round_trips, memory_order_relaxed);
		bytes += atomic_load_explicit(&d->threads[i].live_bytes, memory_order_relaxed);
		errors += atomic_load_explicit(&d->threads[i].live_errors, memory_order_relaxed);
	}
	atomic_store(&pr->round_trips, rt);
	atomic_store(&pr->bytes_received, bytes);
	atomic_store(&pr->errors, errors);
	atomic_store(&pr->running, atomic_load(&d->running));
	pr->start_usec = atomic_load(&pr->running) ? d->t0_nsec / NSEC_PER_USEC : 0;
}

void drive_interval_take(struct drive *d, struct hist *ret) {
	hist_init(ret);
	for (unsigned i = 0; i < d->n_threads; i++) {
		struct dthread *t = &d->threads[i];
		if (!t->interval_hist)
			continue;
		pthread_mutex_lock(&t->interval_lock);
		hist_merge(ret, t->interval_hist);
		hist_init(t->interval_hist);
		pthread_mutex_unlock(&t->interval_lock);
	}
}

void drive_interrupt(struct drive *d) {
	atomic_store(&d->interrupted, true);
	for (unsigned i = 0; i < d->n_threads; i++)
		poke(d->threads[i].wake_fd);
}

int drive_done_fd(struct drive *d) {
	return d->done_fd;
}

bool drive_done(struct drive *d) {
	return atomic_load(&d->finished) == d->n_threads;
}

static void errors_add(struct drive_errors *a, const struct drive_errors *b) {
	a->refused += b->refused;
	a->closed_by_server += b->closed_by_server;
	a->connect_failed += b->connect_failed;
	a->connect_timeout += b->connect_timeout;
	a->reset += b->reset;
	a->eof_early += b->eof_early;
	a->timed_out += b->timed_out;
	a->verify_failures += b->verify_failures;
	a->short_connections += b->short_connections;
	a->lost += b->lost;
}

/* Open loop: the messages due on the connections that opened, against those sent. A
 * connection that never opened had nothing due; that it failed is an error of its own. */
static void drive_schedule_sum(const struct drive *d, struct drive_schedule *ret) {
	uint64_t stop = 0;

	if (d->p.mode != DRIVE_OPEN)
		return;
	for (unsigned i = 0; i < d->n_threads; i++) {
		const struct dthread *t = &d->threads[i];
		stop = MAX(stop, t->stop_nsec);
		ret->unsent_full += t->unsent_full;
		for (size_t k = 0; k < t->n; k++) {
			ret->due += MAX(t->conns[k].due, t->conns[k].started);
			ret->sent += t->conns[k].started;
		}
	}
	ret->run_usec = stop > d->t0_nsec ? (stop - d->t0_nsec) / NSEC_PER_USEC : 0;
}

int drive_finish(struct drive *d, struct drive_result *ret) {
	uint64_t end = 0;

	memset(ret, 0, offsetof(struct drive_result, hist));
	hist_init(&ret->hist);
	for (unsigned i = 0; i < d->n_threads; i++) {
		struct dthread *t = &d->threads[i];
		/* Each thread ends by itself: its run is bounded by -t or the bytes, and every
		 * wait in it by --io-timeout. */
		if (t->thread_started)
			(void)pthread_join(t->thread, NULL);
		end = MAX(end, t->end_nsec);
		ret->opened += t->opened;
		ret->connected += t->connected;
		if (!ret->connect_errno)
			ret->connect_errno = t->connect_errno;
		ret->round_trips += t->round_trips;
		ret->bytes_received += t->bytes_measured;
		ret->total_round_trips += t->total_round_trips;
		ret->total_bytes_received += t->total_bytes;
		errors_add(&ret->errors, &t->errors);
		for (uint64_t m = 0; m < MIN(t->n_mismatches, DRIVE_MISMATCHES_MAX); m++)
			if (ret->n_mismatches < DRIVE_MISMATCHES_MAX)
				ret->mismatches[ret->n_mismatches++] = t->mismatches[m];
		hist_merge(&ret->hist, t->hist);
	}
	ret->bytes_sent = ret->bytes_received; /* an echo: what was measured came back */
	ret->connect_usec = (d->t0_nsec - d->connect_start_nsec) / NSEC_PER_USEC;
	ret->elapsed_usec =
		end > d->measure_from_nsec ? (end - d->measure_from_nsec) / NSEC_PER_USEC : 0;
	ret->interrupted = atomic_load(&d->interrupted);
	ret->started = d->t0_realtime;
	drive_schedule_sum(d, &ret->schedule);
	drive_free(d);
	return 0;
}
