/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "admit.h"
#include "stats.h"

/* One listening socket's connections. */
struct metrics_socket {
	const char *name; /* FileDescriptorName=, or the path ipcd bound */
	const char *type; /* "stream", "seqpacket", "datagram" */
	uint64_t open, accepted;
};

/* Everything the endpoint reports, gathered on the main loop at the moment of a scrape. */
struct metrics_snapshot {
	const char *version;
	uint64_t start_time_usec; /* CLOCK_REALTIME */
	uint64_t workers;
	const uint64_t *worker_connections; /* [workers]: each one's connections, inbox included */
	uint64_t config_generation;         /* 1 at start, one more per applied reload */
	uint64_t reloads_applied, reloads_refused;
	uint64_t last_reload_time_usec; /* CLOCK_REALTIME; 0: no reload yet */
	bool last_reload_applied;
	const struct metrics_socket *sockets;
	size_t n_sockets;
	struct stats_totals totals;
	uint64_t refused[_ADMIT_MAX]; /* by admit result; [ADMIT_OK] unused */
	uint64_t accept_errors;
	const struct admit_uid_open *uids; /* the users with the most open connections */
	size_t n_uids;
};

/* The snapshot in Prometheus' text exposition format (version 0.0.4). */
void metrics_text_write(const struct metrics_snapshot *m, FILE *f);
