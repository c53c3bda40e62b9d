/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "admit.h"
#include "balance.h"
#include "poller.h"
#include "stats.h"

struct conn;

/*
 * One event-loop thread and the connections it owns. The accepting thread hands connections
 * over through the inbox (a locked list and an eventfd); nothing else crosses threads except
 * the counters in stats and the admission counts.
 */
struct worker {
	unsigned index;
	pthread_t thread;
	bool thread_started;
	sd_event *event;
	struct poller *poller; /* every connection's fd */
	int inbox_fd;
	sd_event_source *inbox_source;
	pthread_mutex_t inbox_lock;
	sem_t started;      /* posted once by the thread, when it has set itself up */
	struct conn *inbox; /* newest first; reversed on intake */
	bool inbox_closed;  /* under inbox_lock: draining or ended, so takes no moved connection */
	struct ipcd_config *inbox_config; /* a reloaded configuration for datagram sockets */
	atomic_bool drain_requested;
	atomic_bool exited;
	atomic_uint_fast64_t drain_timeout_usec; /* stored before drain_requested */
	atomic_bool preserve; /* drain into the fd store instead; stored before drain_requested */
	bool draining;
	struct conn *conns;
	size_t n_conns; /* stream and seqpacket connections in conns */
	sd_event_source *sweep_timer;
	sd_event_source *drain_timer;
	char *scratch; /* one read's worth of bytes; shared by this worker's connections */
	size_t scratch_size;
	uint64_t assigned;             /* connections handed to this worker; main thread only */
	atomic_uint_fast64_t moved_in; /* connections other workers handed over (they add) */
	atomic_uint busy_permille;     /* thread CPU time over wall time, see balance.c */
	struct worker **peers;         /* the pool's workers, this one included */
	size_t n_peers;
	sd_event_source *balance_timer;
	int schedstat_fd; /* /proc/thread-self/schedstat of the worker's thread, or -EBADF */
	uint64_t balance_cpu_usec, balance_wall_usec; /* at the last look */
	unsigned idle_intervals, busy_intervals;      /* in a row below IDLE_BELOW, above SPREAD */
	unsigned spread_after;   /* busy intervals in a row before spreading: backs off */
	uint64_t spread_usec;    /* CLOCK_MONOTONIC of the last spread, 0 if none */
	uint64_t seen_moved_in;  /* moved_in at the last look */
	uint64_t balance_bytes;  /* stats.bytes at the last look */
	struct worker *trial_to; /* the spread on trial: did it raise the pair's echo rate? */
	uint64_t trial_usec, trial_bytes, trial_rate; /* its start, the pair's bytes, rate before */
	atomic_uint give_back_to; /* 1 + index of a worker whose spread did not pay, or 0 */
	struct admit *admit;
	int server_fd; /* eventfd: tells the main loop "no connections left" or "exited" */
	struct worker_stats stats;
};

struct worker_pool {
	struct worker **workers;
	size_t n;
};

/* Starts n threads. Each signals server_fd when it exits or the last connection closes. */
int worker_pool_start(size_t n, struct admit *admit, int server_fd, struct worker_pool *ret);

/* Hands c to a worker chosen by balance_pick(). Never fails: the inbox is a list. */
void worker_pool_submit(struct worker_pool *p, struct conn *c);

/* Each worker keeps serving its connections until they close or timeout_usec passes, then
 * closes the rest and exits. With preserve, it stops reading instead, flushes, and hands every
 * connection to the fd store (those it cannot flush within timeout_usec are closed). */
void worker_pool_drain(struct worker_pool *p, uint64_t timeout_usec, bool preserve);

bool worker_pool_all_exited(struct worker_pool *p);

/* After a reload: datagram sockets, which are not connections, serve under c from now on. */
void worker_pool_set_config(struct worker_pool *p, struct ipcd_config *c);

/* CLOCK_MONOTONIC usec of the last datagram any worker received, 0 if none. */
/* The server's counters and every worker's, summed. */
void worker_pool_totals(const struct worker_pool *p, const struct server_stats *s, uint64_t active,
			struct stats_totals *ret);
uint64_t worker_pool_last_datagram(struct worker_pool *p);

/* Joins every worker, waiting at most timeout_usec in all; -ETIMEDOUT if one is stuck (it is
 * then left running and not freed, since it still uses its memory). */
int worker_pool_stop(struct worker_pool *p, uint64_t timeout_usec);

/* poller_run(), or sd_event_loop() for a loop without a poller, run again after an internal
 * -ENOMEM (sd-event growing its own queues), for up to a second of failures in a row: one
 * refused allocation must not end a loop that owns connections. name is for the log. Returns
 * what the last run returned. */
int worker_run_loop(sd_event *e, struct poller *p, const char *name);

/* The worker side of conn.c: connection list and the "last one closed" signal. */
void worker_link(struct worker *w, struct conn *c);
void worker_unlink(struct worker *w, struct conn *c);
int worker_ensure_scratch(struct worker *w, size_t size);
void worker_notify_server(struct worker *w);

/* Connections handed to w and not yet closed, counting those in its inbox and those moved in
 * or out; read on the main thread (assigned is its own). */
uint64_t worker_load(const struct worker *w);

/* On w's thread, between events: moves up to max of its stream and seqpacket connections,
 * with whatever echo they hold, to to's inbox; to attaches them as it does new ones, and
 * nothing counts or logs them as new. Returns how many moved: 0 if to is draining or ended,
 * or w is draining. */
size_t worker_move(struct worker *w, struct worker *to, size_t max);
