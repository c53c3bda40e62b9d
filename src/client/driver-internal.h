/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the driver's files share and no one else sees: a connection, a thread, the run, and
 * the functions each file lends the files above it (driver.c calls down into driver-connect.c
 * and driver-conn.c, driver-conn.c into driver-schedule.c; never back up). Public API: driver.h.
 *
 * Chunk accounting, the same for every socket type: chunk k covers stream offsets
 * [k * chunk, min((k + 1) * chunk, target)). `started` chunks have had their first byte sent,
 * `completed` ones have been echoed in full. A round trip's latency runs from the chunk's start
 * (closed loop: its first byte sent; open loop: its scheduled time) to its last echoed byte.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "cpu.h"
#include "driver.h"
#include "macro.h"
#include "pattern.h"
#include "poller.h"

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
	bool probe;      /* the connection whose first round trip checks who the server is */
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
	sd_event_source *wake_source, *connect_timer, *sweep_timer, *rate_timer, *stop_timer,
		*measure_timer;
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
	bool cpu_started;
	uint64_t cpu_start_nsec, cpu_nsec; /* this thread's, over the measured interval */
	uint64_t cpu_excluded_nsec;        /* of it, checking who the server is */
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
	atomic_uint ended; /* threads past their loop: the last reads the server's CPU */
	/* The server's CPU: named by the probe connection's credentials after the connect phase,
	 * read by thread 0 when measuring starts and by the last thread to end; held_by is set
	 * by the probe's thread at its first round trip. All read after the joins. */
	pid_t server_pid;
	enum drive_server_cpu server_state;
	int server_errno;
	bool server_checked;
	int server_held; /* cpu_peer_held_by(), once server_checked */
	struct cpu_sample server_start, server_end;
	bool server_started, server_ended;
	int done_fd;
	uint64_t connect_start_nsec, t0_nsec, measure_from_nsec;
	struct timespec t0_realtime;
};

static inline void thread_live_add(atomic_uint_fast64_t *c, uint64_t n) {
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t conn_chunk_end(const struct cconn *c, uint64_t k) {
	uint64_t end = (k + 1) * c->t->d->p.chunk;
	return MIN(end, c->target);
}

/* driver-connect.c */
void thread_connect_all(struct dthread *t);

/* driver-conn.c */
void conn_fail(struct cconn *c, enum failure why);
void conn_pump(struct cconn *c, uint64_t now);
void conn_on_io(struct poller_entry *e, uint32_t revents);
void messages_lost(struct cconn *c, uint64_t upto);

/* driver-schedule.c */
uint64_t schedule_nsec(const struct drive *d, uint64_t k, uint64_t g);
uint64_t schedule_due(const struct drive *d, uint64_t g, uint64_t now);
uint64_t schedule_chunk_start_nsec(const struct cconn *c, uint64_t k);
uint64_t schedule_chunks_allowed(const struct cconn *c);
