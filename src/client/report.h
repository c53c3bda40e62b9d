/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdio.h>

#include "client-opts.h"
#include "driver.h"

/*
 * Everything ipc-client prints as a result: readable text, one JSON document (keys documented
 * in ipc-client(1) and stable), or CSV. Diagnostics are not results and go elsewhere.
 */
enum report_format {
	REPORT_TEXT,
	REPORT_JSON,
	REPORT_CSV,
};

enum report_format report_format(const struct client_opts *o);

/* Exit status of a run: 0 clean, 1 errors, 3 nothing connected. */
int report_exit_status(const struct drive_result *r);

void report_run(FILE *f, const struct client_opts *o, const struct drive_params *p,
		const struct drive_result *r);

#define SUITE_SKIPPED_MAX 128

struct suite_row {
	const char *workload; /* "pingPong", "dataExchange" */
	struct drive_params params;
	struct drive_result *result;     /* NULL: the row did not run */
	char skipped[SUITE_SKIPPED_MAX]; /* why it did not run, "" if it ran */
};
void report_suite(FILE *f, const struct client_opts *o, const struct suite_row *rows, size_t n);

/* With -i: before the first interval, the text header or the CSV header (the report then
 * leaves it out); nothing for JSON. Suites print their own. */
void report_run_start(FILE *f, const struct client_opts *o, const struct drive_params *p);

/* One interval (-i): a text line, a JSON line or a CSV row of kind "interval". */
struct report_interval {
	double t_s;           /* since the traffic started, at the end of the interval */
	double span_s;        /* the interval's length: the last one may be short */
	uint64_t round_trips; /* in the interval */
	uint64_t bytes;       /* received in the interval */
	uint64_t errors;      /* so far */
	const struct hist *latency;
};
void report_interval(FILE *f, const struct client_opts *o, const struct drive_params *p,
		     const struct report_interval *iv);

/* The progress bar, on standard error when it is a terminal. */
void report_progress(FILE *f, double fraction, double elapsed_s, double rt_per_s, uint64_t errors);
void report_progress_clear(FILE *f);

/* ping */
void report_ping_reply(FILE *f, const char *socket, uint64_t seq, uint64_t bytes, uint64_t nsec);
struct ping_summary {
	uint64_t sent, received, verify_failures;
	uint64_t elapsed_usec;
	bool interrupted;
	struct timespec started; /* CLOCK_REALTIME of the first round */
	int exit_status;
	const struct hist *latency;
};
void report_ping_summary(FILE *f, const struct client_opts *o, const struct ping_summary *ps);
