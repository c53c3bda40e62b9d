/* SPDX-License-Identifier: MIT */
#pragma once

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "hist.h"
#include "sockaddr.h"

/*
 * The shared connection driver under load, rate and suite: connections spread over threads,
 * each thread its own event loop. All connections are opened first (connect phase), then
 * traffic starts on every thread at once (the measured run).
 */

enum drive_mode {
	DRIVE_CLOSED, /* each connection keeps `depth` chunks in flight */
	DRIVE_OPEN,   /* messages leave on a fixed schedule, whatever the server does */
};

struct drive_params {
	enum drive_mode mode;
	struct socket_address address;
	int type; /* SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM */
	uint64_t connections;
	unsigned threads;
	uint64_t chunk;
	uint64_t depth;          /* closed loop */
	uint64_t rate;           /* open loop: messages per second over all connections */
	uint64_t bytes_per_conn; /* 0: until the time is up */
	uint64_t extra_bytes;    /* the first extra_bytes connections send one byte more
				    (so a --total that does not divide evenly is met exactly) */
	uint64_t duration_usec;  /* 0: until the bytes are done */
	uint64_t warmup_usec;
	bool verify;
	bool intervals; /* keep each interval's latencies for drive_interval_take() */
	bool hold_open; /* a finished connection stays open until the drive ends, so every
			   connection the server accepted counts against its limit at once */
	uint64_t connect_timeout_usec;
	uint64_t io_timeout_usec;
	pid_t server_pid; /* the server, when the socket's peer credentials cannot name it (TCP,
			     datagrams): still checked to hold the connection; 0 for none */
	bool pinned;      /* thread i runs on the i-th CPU of cpus, round robin */
	cpu_set_t cpus; /* pinned: those CPUs; else the CPUs the process may use (for the report) */
};

/* Error counts, each a number of connections but lost, a number of messages. */
struct drive_errors {
	uint64_t refused;           /* connect() refused: nothing listens, or the backlog is full */
	uint64_t closed_by_server;  /* connected, then closed by the server before any echo */
	uint64_t connect_failed;    /* connect failed otherwise (no such socket, …) */
	uint64_t connect_timeout;   /* the backlog stayed full past --connect-timeout */
	uint64_t reset;             /* reset or broken pipe after some echo */
	uint64_t eof_early;         /* the server closed with echoes outstanding */
	uint64_t timed_out;         /* no progress for --io-timeout */
	uint64_t verify_failures;   /* an echoed byte differed */
	uint64_t short_connections; /* connected, but ended before their share was done */
	uint64_t lost;              /* datagram or seqpacket messages never echoed */
};

#define DRIVE_MISMATCHES_MAX 16

struct drive_mismatch {
	uint64_t connection;
	uint64_t offset;
};

/* The open loop's schedule against what went out. */
struct drive_schedule {
	uint64_t due;         /* messages the schedule released by the end of the run */
	uint64_t sent;        /* messages sent */
	uint64_t unsent_full; /* due, unsent, waiting on a socket the server did not drain */
	uint64_t run_usec;    /* from the start of traffic to the last thread's stop */
};

/* Why the server's CPU time is not in the report. */
enum drive_server_cpu {
	SERVER_CPU_MEASURED,
	SERVER_CPU_NOT_MEASURED, /* no measured interval: nothing connected, or all warm-up */
	SERVER_CPU_NOT_UNIX,     /* no peer credentials on this kind of socket */
	SERVER_CPU_NO_PID,       /* datagrams, or a server in another pid namespace */
	SERVER_CPU_NOT_HOLDER,   /* the process named does not hold the connection */
	SERVER_CPU_UNVERIFIED,   /* the probed connection never had an echo to check */
	SERVER_CPU_UNREADABLE,   /* /proc/PID: server_errno says why */
	SERVER_CPU_CHANGED,      /* the process exited or was replaced during the run */
};

/* CPU time over the measured interval: the driver's threads' (not the main thread's, which only
 * watches), and the server's when it could be read. */
struct drive_cpu {
	bool measured;        /* the measured interval began: client_nsec is its CPU time */
	uint64_t client_nsec; /* summed over the driver's threads */
	enum drive_server_cpu server;
	int server_errno;          /* SERVER_CPU_UNREADABLE */
	pid_t server_pid;          /* 0 if none was named */
	uint64_t server_nsec;      /* SERVER_CPU_MEASURED: the server's CPU time … */
	uint64_t server_wall_nsec; /* … over this much time, from one reading to the other */
};

struct drive_result {
	uint64_t opened;                     /* connections connect() accepted */
	uint64_t connected;                  /* of them, those that completed an echo */
	int connect_errno;                   /* the first connect() failure, 0 if none */
	uint64_t connect_usec;               /* to open them all */
	uint64_t elapsed_usec;               /* the measured run, after any warmup */
	uint64_t round_trips;                /* measured */
	uint64_t bytes_sent, bytes_received; /* measured */
	uint64_t total_round_trips, total_bytes_received; /* including warmup */
	bool interrupted;
	struct timespec started; /* CLOCK_REALTIME when the traffic began: the report's timestamp */
	struct drive_errors errors;
	struct drive_mismatch mismatches[DRIVE_MISMATCHES_MAX]; /* the first few */
	uint64_t n_mismatches;
	struct drive_schedule schedule; /* open loop */
	struct drive_cpu cpu;
	struct hist hist; /* measured latencies */
};

/* Live figures for progress and periodic lines; read while the run goes on. */
struct drive_progress {
	atomic_uint_fast64_t round_trips;
	atomic_uint_fast64_t bytes_received;
	atomic_uint_fast64_t errors;
	atomic_bool running; /* the connect phase is over */
	uint64_t start_usec; /* CLOCK_MONOTONIC of the start, valid once running */
};

struct drive;

/* Creates threads and starts the connect phase. */
int drive_start(const struct drive_params *p, struct drive **ret);

/* Sums over threads so far; start_usec and running say whether the traffic has begun. */
void drive_progress(struct drive *d, struct drive_progress *pr);

/* The latencies of the round trips since the last call (warmup included), merged into ret
 * (which it initialises); needs intervals in the parameters. */
void drive_interval_take(struct drive *d, struct hist *ret);

/* Asks every thread to stop sending and finish what is in flight (SIGINT). */
void drive_interrupt(struct drive *d);

/* An fd that becomes readable each time a thread finishes; drive_done() says if all have. */
int drive_done_fd(struct drive *d);
bool drive_done(struct drive *d);

/* Joins the threads and merges their results; frees d. */
int drive_finish(struct drive *d, struct drive_result *ret);
