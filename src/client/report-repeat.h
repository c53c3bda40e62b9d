/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client-opts.h"
#include "driver.h"

/*
 * The report of load or rate --repeat N: a line per run as it ends, then each figure's median,
 * minimum, maximum and spread over the runs (repeat-stats.h), with the figures whose spread is
 * too large flagged. Text, JSON or CSV, as the single run's report (report.h).
 */

/* The figures compared between runs, each in the unit of its JSON key and CSV column. */
enum repeat_figure {
	REPEAT_ROUND_TRIPS_PER_S,
	REPEAT_MIB_PER_S,
	REPEAT_ACHIEVED_PER_S, /* rate: messages sent per second */
	REPEAT_P50,            /* the latencies, in microseconds */
	REPEAT_P90,
	REPEAT_P99,
	REPEAT_P99_9,
	REPEAT_CLIENT_CPU, /* CPU time per round trip, in nanoseconds */
	REPEAT_SERVER_CPU,
	_REPEAT_FIGURE_MAX,
};

/* One run, as far as the summary needs it: the results themselves are not kept. */
struct repeat_outcome {
	double value[_REPEAT_FIGURE_MAX];
	bool have[_REPEAT_FIGURE_MAX]; /* latencies need round trips; the server's CPU, a server */
	bool interrupted;
	int exit_status;
};

struct repeat_series {
	const struct repeat_outcome *runs;
	uint64_t done, asked;
	bool interrupted; /* a signal ended the series: no run after the `done` ones started */
	int exit_status;  /* the series' (repeat.c) */
	const struct hist *latency; /* every run's round trips, merged */
};

void report_repeat_outcome(const struct drive_params *p, const struct drive_result *r,
			   struct repeat_outcome *ret);

/* Before the first run's line: the text header, the JSON document's start or the CSV header. */
void report_repeat_start(FILE *f, const struct client_opts *o, const struct drive_params *p);

/* Run k (from 0) has ended: its line, JSON object or CSV row; in JSON and CSV, a text line on
 * standard error too, to show progress. -q leaves the text lines out. */
void report_repeat_run(FILE *f, const struct client_opts *o, const struct drive_params *p,
		       uint64_t k, const struct drive_result *r, const struct repeat_outcome *run);

/* The summary, after the last run: the end of the report. */
void report_repeat_end(FILE *f, const struct client_opts *o, const struct drive_params *p,
		       const struct repeat_series *s);
