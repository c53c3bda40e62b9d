/* SPDX-License-Identifier: MIT */
/*
 * Which worker serves which connection: pack, spread under load. New connections go to the
 * lowest-numbered worker with room, so a thin load keeps one thread awake and the others
 * asleep; a worker that is saturated hands half its connections to an idle one, and one that
 * stays nearly idle hands all of its back down. Each worker measures its own busy share (the
 * time its thread ran or waited to run, over wall time) every BALANCE_INTERVAL_USEC and publishes
 * it for the others; the moves themselves are worker.c's (worker_move), which calls back here only
 * to pick.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "macro.h"
#include "worker.h"

#define BALANCE_INTERVAL_USEC (100 * USEC_PER_MSEC)
#define BALANCE_ACCURACY_USEC (10 * USEC_PER_MSEC) /* lets it share a wake-up with the sweep */
/* Busy shares in per mille. A gap between SPREAD_ABOVE and PACK_BELOW, and IDLE_BELOW well under
 * half of SPREAD_ABOVE, so that the two halves of a split are not packed together again. */
#define PACK_BELOW 700   /* new connections and packed ones go to a worker below this */
#define SPREAD_ABOVE 850 /* a worker this busy hands half its connections away */
#define IDLE_BELOW 300   /* ... to one below this; and one below this hands all of its down */
#define PACK_AFTER 3     /* intervals in a row below IDLE_BELOW before a worker packs down */
/* A load a second worker does not speed up (the client is the limit) falls apart into two
 * idle halves that pack together again: each time a spread comes back that soon, the worker
 * waits twice as many busy intervals before spreading again, up to SPREAD_AFTER_MAX. */
#define SPREAD_BACK_USEC (2 * USEC_PER_SEC)
#define SPREAD_FORGET_USEC (10 * USEC_PER_SEC)
#define SPREAD_AFTER_MAX 64
/* A spread is on trial for one interval: unless the two workers then echo at least
 * TRIAL_GAIN_PCT percent more than the one did alone, the other gives the connections back. A
 * one-threaded client can keep one worker busy without a second one serving it any faster, and
 * two workers where one did as well cost CPU per round trip: a longer trial (300 ms was tried)
 * showed as up to 1.3x the floor's CPU in runs of a second or two. */
#define TRIAL_GAIN_PCT 110

static unsigned busy_of(const struct worker *w) {
	return atomic_load_explicit(&w->busy_permille, memory_order_relaxed);
}

/* Adds share to w's published figure until w next measures its own: two workers spreading in
 * the same interval then do not both pick the same idle one. */
static void busy_reserve(struct worker *w, unsigned share) {
	unsigned old = busy_of(w), new;

	do
		new = MIN(1000u, old + share);
	while (!atomic_compare_exchange_weak_explicit(&w->busy_permille, &old, new,
						      memory_order_relaxed, memory_order_relaxed));
}

struct worker *balance_pick(struct worker *const *workers, size_t n) {
	struct worker *best = workers[0]; /* a pool has at least one worker */
	uint64_t best_load = UINT64_MAX;

	for (size_t i = 0; i < n; i++)
		if (busy_of(workers[i]) < PACK_BELOW)
			return workers[i];
	/* All busy: the fewest connections, counting those still in an inbox, so that a burst
	 * of accepts spreads out. */
	for (size_t i = 0; i < n; i++) {
		uint64_t load = worker_load(workers[i]);
		if (load < best_load) {
			best = workers[i];
			best_load = load;
		}
	}
	return best;
}

/* The time this thread ran or was ready to run: its demand for a CPU. CPU time alone would
 * read a worker that waits for a CPU the client or another program holds as half idle. From
 * schedstat (run and run-queue wait, in ns), else the thread's CPU time. */
static int thread_cpu_usec(struct worker *w, uint64_t *ret) {
	struct timespec ts;

	if (w->schedstat_fd >= 0) {
		char buf[96], *end = NULL;
		unsigned long long run = 0, wait = 0;
		ssize_t n = pread(w->schedstat_fd, buf, sizeof(buf) - 1, 0);

		if (n > 0) {
			buf[n] = 0;
			errno = 0;
			run = strtoull(buf, &end, 10);
			if (end != buf && *end == ' ')
				wait = strtoull(end + 1, &end, 10);
			if (errno == 0 && *end == ' ') {
				*ret = (run + wait) / 1000;
				return 0;
			}
		}
		/* Unreadable now: CPU time from here on, which needs no file. */
		w->schedstat_fd = safe_close(w->schedstat_fd);
	}
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return negative_errno();
	*ret = (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
	return 0;
}

/* Connections moved in soon after this worker spread: the spread was packed back. */
static void balance_back_off(struct worker *w, uint64_t now) {
	uint64_t in = atomic_load(&w->moved_in);

	if (w->spread_after == 0 || (w->spread_usec && now - w->spread_usec >= SPREAD_FORGET_USEC))
		w->spread_after = 1;
	if (in != w->seen_moved_in && w->spread_usec && now - w->spread_usec < SPREAD_BACK_USEC)
		w->spread_after = MIN(w->spread_after * 2, SPREAD_AFTER_MAX);
	w->seen_moved_in = in;
}

static void balance_spread(struct worker *w, unsigned busy, uint64_t rate, uint64_t now) {
	struct worker *to = NULL;
	size_t n;

	for (size_t i = 0; i < w->n_peers; i++) {
		struct worker *p = w->peers[i];
		if (p != w && busy_of(p) < IDLE_BELOW && (!to || busy_of(p) < busy_of(to)))
			to = p;
	}
	if (!to)
		return; /* every worker has work: stay */
	n = worker_move(w, to, w->n_conns / 2);
	if (n == 0)
		return;
	busy_reserve(to, busy / 2);
	w->spread_usec = now;
	w->busy_intervals = 0;
	w->trial_to = to;
	w->trial_usec = now;
	w->trial_rate = rate;
	w->trial_bytes = stats_get(&w->stats.bytes) + stats_get(&to->stats.bytes);
	log_debug("Worker %u is %u.%u%% busy: moved %zu connections to worker %u", w->index,
		  busy / 10, busy % 10, n, to->index);
}

static void balance_pack(struct worker *w, unsigned busy) {
	struct worker *to = NULL;
	size_t n;

	for (size_t i = 0; i < w->index && !to; i++)
		if (busy_of(w->peers[i]) + busy < PACK_BELOW)
			to = w->peers[i];
	if (!to)
		return;
	n = worker_move(w, to, SIZE_MAX);
	if (n == 0)
		return;
	busy_reserve(to, busy);
	w->idle_intervals = 0;
	log_debug("Worker %u is %u.%u%% busy: moved its %zu connections down to worker %u",
		  w->index, busy / 10, busy % 10, n, to->index);
}

/* The spread's verdict, at the first measurement after it. */
static void balance_judge(struct worker *w, uint64_t now) {
	struct worker *to = w->trial_to;
	uint64_t bytes, rate;

	if (!to || now <= w->trial_usec)
		return;
	w->trial_to = NULL;
	bytes = stats_get(&w->stats.bytes) + stats_get(&to->stats.bytes);
	rate = (bytes - w->trial_bytes) * USEC_PER_SEC / (now - w->trial_usec);
	if (rate * 100 >= w->trial_rate * TRIAL_GAIN_PCT)
		return;
	atomic_store(&to->give_back_to, w->index + 1);
	log_debug("Worker %u: two workers echoed %" PRIu64 " B/s against %" PRIu64
		  " B/s for one, asking worker %u to give the connections back",
		  w->index, rate, w->trial_rate, to->index);
}

/* Asked by a worker whose spread did not pay: all of this one's connections go back to it. */
static void balance_give_back(struct worker *w) {
	unsigned to = atomic_exchange(&w->give_back_to, 0);
	size_t n;

	if (to == 0 || to > w->n_peers)
		return;
	n = worker_move(w, w->peers[to - 1], SIZE_MAX);
	if (n > 0)
		log_debug("Worker %u gave its %zu connections back to worker %u", w->index, n,
			  to - 1);
}

static int balance_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
	struct worker *w = userdata;
	uint64_t cpu = 0, bytes, rate, wall = now_usec();
	unsigned busy;
	int r;

	if (w->n_conns == 0 || w->draining) {
		/* Nothing to measure: asleep, this worker is the first choice again. */
		atomic_store_explicit(&w->busy_permille, 0, memory_order_relaxed);
		atomic_store(&w->give_back_to, 0); /* nothing left to give back */
		w->trial_to = NULL;
		return sd_event_source_set_enabled(s, SD_EVENT_OFF);
	}
	r = thread_cpu_usec(w, &cpu);
	if (r < 0) {
		/* Cannot happen for the calling thread's own clock; if it does, this worker stops
		 * measuring and keeps what it has. */
		log_debug_errno(r, "Worker %u cannot read its CPU time, not balancing: %m",
				w->index);
		return sd_event_source_set_enabled(s, SD_EVENT_OFF);
	}
	bytes = stats_get(&w->stats.bytes);
	rate = wall > w->balance_wall_usec
		       ? (bytes - w->balance_bytes) * USEC_PER_SEC / (wall - w->balance_wall_usec)
		       : 0;
	w->balance_bytes = bytes;
	busy = wall > w->balance_wall_usec
		       ? (unsigned)MIN(1000u, (cpu - w->balance_cpu_usec) * 1000 /
						      (wall - w->balance_wall_usec))
		       : busy_of(w);
	w->balance_cpu_usec = cpu;
	w->balance_wall_usec = wall;
	atomic_store_explicit(&w->busy_permille, busy, memory_order_relaxed);
	w->idle_intervals = busy < IDLE_BELOW ? w->idle_intervals + 1 : 0;
	w->busy_intervals = busy >= SPREAD_ABOVE ? w->busy_intervals + 1 : 0;
	balance_back_off(w, wall);
	balance_judge(w, wall);
	balance_give_back(w);

	if (w->n_conns >= 2 && !w->trial_to && w->busy_intervals >= w->spread_after)
		balance_spread(w, busy, rate, wall);
	else if (w->n_conns > 0 && w->index > 0 && w->idle_intervals >= PACK_AFTER)
		balance_pack(w, busy);
	/* A failure turns the timer off (sd-event does, for a callback's error); the next
	 * connection to arrive turns it on again. */
	return sd_event_source_set_time(s, usec + BALANCE_INTERVAL_USEC);
}

void balance_thread_start(struct worker *w) {
	/* Without it (no procfs, or a kernel without schedstats) CPU time serves instead. */
	w->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	if (w->schedstat_fd < 0)
		w->schedstat_fd = -EBADF;
}

int balance_init(struct worker *w) {
	int r;

	r = sd_event_add_time_relative(w->event, &w->balance_timer, CLOCK_MONOTONIC,
				       BALANCE_INTERVAL_USEC, BALANCE_ACCURACY_USEC,
				       balance_on_timer, w);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(w->balance_timer, SD_EVENT_OFF);
}

void balance_wake(struct worker *w) {
	int r;

	if (w->n_conns == 0 || w->draining || sd_event_source_get_enabled(w->balance_timer, NULL))
		return; /* nothing to measure, or measuring (or an error, which changes nothing) */
	r = thread_cpu_usec(w, &w->balance_cpu_usec);
	if (r >= 0) {
		w->balance_bytes = stats_get(&w->stats.bytes);
		w->balance_wall_usec = now_usec();
		w->idle_intervals = 0;
		r = sd_event_source_set_time_relative(w->balance_timer, BALANCE_INTERVAL_USEC);
	}
	if (r >= 0)
		r = sd_event_source_set_enabled(w->balance_timer, SD_EVENT_ON);
	if (r < 0)
		/* The worker keeps serving; unmeasured, it looks idle and may get more
		 * connections than its share, which costs speed, not correctness. */
		log_debug_errno(r, "Worker %u cannot start measuring its load: %m", w->index);
}
