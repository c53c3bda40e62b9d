/* SPDX-License-Identifier: MIT */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "driver.h"

/*
 * The kernel's floors: what a round trip costs on a transport with no server in between. The
 * client's thread sends each chunk and waits for all of it to come back; a child process it
 * forks echoes it with blocking calls, one read and one write per chunk when the transport
 * carries it whole. The child's CPU time is the report's server CPU time. A separate process,
 * not a thread, because a server is one: switching between two address spaces is part of
 * what local IPC costs.
 */
enum floor_kind {
	FLOOR_SOCKETPAIR, /* a unix stream socketpair */
	FLOOR_PIPE,       /* two pipes, one each way */
	FLOOR_SHM,        /* shared memory, futex wake-ups */
	_FLOOR_KIND_MAX,
};

/* Large enough for the suites' chunks; small enough that a chunk fits the default socket
 * buffers and a pipe an unprivileged user may size, so neither side's blocking write can wait
 * on the other's. */
#define FLOOR_CHUNK_MAX UINT64_C(131072)

struct floor_params {
	enum floor_kind kind;
	uint64_t chunk;           /* 1 to FLOOR_CHUNK_MAX */
	uint64_t round_trips;     /* each a whole chunk there and back */
	uint64_t io_timeout_usec; /* a round trip that takes longer ends the run, timed out */
	bool pinned;              /* the measuring thread runs on the first of cpus */
	cpu_set_t cpus;
};

/* Runs the round trips and fills ret as the driver would for one connection. Negative errno
 * when the floor could not be set up; what happened in the run is in ret. */
int floor_run(const struct floor_params *p, struct drive_result *ret);

const char *floor_kind_to_string(enum floor_kind k);
