/* SPDX-License-Identifier: MIT */
/*
 * The connection driver's threads and its public API: each thread runs the connect phase, then
 * its connections' traffic in an event loop of its own, and drive_finish() sums the results.
 * Each thread owns its connections, histogram and counters outright; the only shared state is
 * the start time (set behind a barrier), the interrupt flag and the live progress counters.
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

#include "cpulist.h"
#include "driver-internal.h"
#include "driver.h"
#include "macro.h"
#include "pattern.h"
#include "poller.h"

#define SWEEP_NSEC (100 * 1000000ULL) /* io-timeout checks */
#define RECV_MIN (64 * 1024)
#define RATE_BATCH 1024 /* open loop: messages released per wake-up when behind */

static void poke(int fd) {
	/* An eventfd write fails only on counter overflow, 2^64 - 1 pokes unread. */
	(void)!write(fd, &(uint64_t){ 1 }, sizeof(uint64_t));
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
		bool waiting = echo_due || c->started < schedule_chunks_allowed(c);

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
static int on_rate_timer(sd_event_source *s, uint64_t usec _unused_, void *userdata) {
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

/* Reads the server's CPU time; a failure is the report's reason, unless one came first. */
static bool drive_server_sample(struct drive *d, struct cpu_sample *ret) {
	int r = cpu_process_sample(d->server_pid, ret);

	if (r >= 0)
		return true;
	if (d->server_state == SERVER_CPU_UNVERIFIED) {
		d->server_state =
			r == -ENOENT || r == -ESRCH ? SERVER_CPU_CHANGED : SERVER_CPU_UNREADABLE;
		d->server_errno = -r;
	}
	return false;
}

/* The measured interval begins for this thread: its CPU time from here counts. Thread 0 also
 * reads the server's, first, so that reading is not counted as the client's. */
static void thread_measure_start(struct dthread *t) {
	struct drive *d = t->d;

	if (t->index == 0 && d->server_pid > 0)
		d->server_started = drive_server_sample(d, &d->server_start);
	t->cpu_start_nsec = cpu_thread_nsec();
	t->cpu_started = true;
}

static int on_measure_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
	thread_measure_start(userdata);
	return 0;
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
	if (r >= 0 && d->p.warmup_usec)
		r = thread_arm(t, &t->measure_timer, d->measure_from_nsec, 1, on_measure_timer);
	if (r >= 0 && d->p.mode == DRIVE_OPEN)
		/* The schedule is the measurement: a late timer would be latency we made. */
		r = thread_arm(t, &t->rate_timer, d->t0_nsec, 1, on_rate_timer);
	if (r < 0)
		return r;
	if (!d->p.warmup_usec)
		thread_measure_start(t);
	for (size_t i = 0; i < t->n; i++) {
		struct cconn *c = &t->conns[i];
		if (c->state != CS_OPEN)
			continue;
		c->entry.fn = conn_on_io;
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

/* The server, as the first open connection's peer credentials name it; that connection checks
 * at its first round trip that the process named holds its other end. Runs between the
 * barriers, when every thread's connect phase is over and none has started traffic. */
static void drive_name_server(struct drive *d) {
	d->server_state = SERVER_CPU_NOT_MEASURED;
	for (unsigned i = 0; i < d->n_threads; i++)
		for (size_t k = 0; k < d->threads[i].n; k++) {
			struct cconn *c = &d->threads[i].conns[k];
			int r;

			if (c->state != CS_OPEN)
				continue;
			r = cpu_peer_pid(c->fd, &d->server_pid);
			if (r < 0 && d->p.server_pid > 0) {
				d->server_pid = d->p.server_pid;
				r = 0;
			}
			if (r == -EAFNOSUPPORT)
				d->server_state = SERVER_CPU_NOT_UNIX;
			else if (r < 0)
				d->server_state = SERVER_CPU_NO_PID;
			else {
				d->server_state = SERVER_CPU_UNVERIFIED;
				c->probe = true;
			}
			return;
		}
}

/* After the traffic: the last thread to end reads the server's CPU time. */
static void thread_measure_end(struct dthread *t) {
	struct drive *d = t->d;

	if (t->cpu_started) {
		uint64_t used = cpu_thread_nsec() - t->cpu_start_nsec;
		t->cpu_nsec = used - MIN(t->cpu_excluded_nsec, used);
	}
	if (atomic_fetch_add(&d->ended, 1) + 1 == d->n_threads && d->server_started)
		d->server_ended = drive_server_sample(d, &d->server_end);
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
		drive_name_server(d);
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
	thread_measure_end(t);
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
	sd_event_source_disable_unref(t->measure_timer);
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

/* Starts a thread, on its own CPU when pinned: the i-th of the list, round robin. */
static int thread_create(struct drive *d, struct dthread *t) {
	pthread_attr_t attr;
	cpu_set_t one;
	int r;

	if (!d->p.pinned)
		return -pthread_create(&t->thread, NULL, thread_main, t);
	CPU_ZERO(&one);
	CPU_SET(cpulist_nth(&d->p.cpus, t->index), &one);
	r = -pthread_attr_init(&attr);
	if (r < 0)
		return r;
	r = -pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
	if (r >= 0)
		r = -pthread_create(&t->thread, &attr, thread_main, t);
	pthread_attr_destroy(&attr);
	return r;
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
		r = thread_create(d, &d->threads[started]);
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

/* The threads' CPU time, and the server's when both readings were made of the process that
 * held the connection, the same one at the start and at the end. */
static void drive_cpu_sum(const struct drive *d, struct drive_cpu *ret) {
	for (unsigned i = 0; i < d->n_threads; i++)
		if (d->threads[i].cpu_started) {
			ret->measured = true;
			ret->client_nsec += d->threads[i].cpu_nsec;
		}
	ret->server = d->server_state;
	ret->server_errno = d->server_errno;
	ret->server_pid = d->server_pid;
	if (ret->server != SERVER_CPU_UNVERIFIED)
		return;
	if (d->server_checked && d->server_held == 0)
		ret->server = SERVER_CPU_NOT_HOLDER;
	else if (d->server_checked && d->server_held < 0) {
		ret->server = SERVER_CPU_UNREADABLE;
		ret->server_errno = -d->server_held;
	} else if (!d->server_checked)
		ret->server = SERVER_CPU_UNVERIFIED;
	else if (!d->server_started || !d->server_ended || !ret->measured)
		ret->server = SERVER_CPU_NOT_MEASURED;
	else if (d->server_end.start_time != d->server_start.start_time ||
		 d->server_end.cpu_nsec < d->server_start.cpu_nsec)
		ret->server = SERVER_CPU_CHANGED;
	else {
		ret->server = SERVER_CPU_MEASURED;
		ret->server_nsec = d->server_end.cpu_nsec - d->server_start.cpu_nsec;
		ret->server_wall_nsec = d->server_end.at_nsec - d->server_start.at_nsec;
	}
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
	drive_cpu_sum(d, &ret->cpu);
	drive_free(d);
	return 0;
}
