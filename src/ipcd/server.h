/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "admit.h"
#include "conf.h"
#include "stats.h"
#include "worker.h"

struct listener;
struct metrics;
struct reloader;

/* What the main thread owns: listeners, admission, workers, the systemd protocol. */
struct server {
	sd_event *event;
	struct ipcd_config *config; /* current; read and replaced on the main thread only */
	const char *config_path;
	bool config_must_exist;
	struct reloader *reloader; /* SIGHUP's loads, off the main loop */
	struct admit *admit;
	struct worker_pool workers;
	struct listener **listeners;
	size_t n_listeners;
	/* Open connections per listener (same index), and [n_listeners] for restored ones whose
	 * listener is gone. Workers decrement them, so they are freed with admit. */
	atomic_uint_fast64_t *socket_open;
	struct metrics *metrics;
	int *adopted; /* connections from the fd store, until workers take them */
	size_t n_adopted;
	bool accept_paused; /* after EMFILE and friends, until resume_timer fires */
	sd_event_source *resume_timer;
	int workers_fd; /* eventfd the workers poke: "none left" or "exited" */
	sd_event_source *workers_source;
	sd_event_source *status_timer, *stats_timer, *idle_timer, *stop_timer;
	struct server_stats stats;
	uint64_t next_conn_id;
	uint64_t start_usec;          /* CLOCK_MONOTONIC */
	uint64_t start_realtime_usec; /* the same moment, as a date */
	bool stopping;
	char status[512];      /* last STATUS= sent, to send only changes */
	char last_reload[256]; /* "applied (…)" or "refused: FILE:LINE: …"; empty before one */
	uint64_t config_generation; /* 1 at start, one more per applied reload */
	uint64_t reloads_applied, reloads_refused;
	uint64_t last_reload_realtime_usec; /* 0 before the first */
	bool last_reload_applied;
};
