/* SPDX-License-Identifier: MIT */
#pragma once

#include "client-opts.h"
#include "driver.h"

/*
 * Runs one drive to its end while the main thread watches: SIGINT and SIGTERM end it early
 * (what is in flight still comes back and is counted), the progress bar and the periodic
 * lines are drawn. total_bytes: the run's size for the progress bar when it is not timed.
 */
int monitor_run(const struct client_opts *o, const struct drive_params *p, uint64_t total_bytes,
		struct drive_result *ret);

/* Blocks SIGINT and SIGTERM in this thread and every thread it starts later; call it first. */
int monitor_block_signals(void);

/* The drive parameters the common options give: address, type, threads, timeouts, verify. */
void monitor_params(const struct client_opts *o, enum drive_mode mode, struct drive_params *ret);
