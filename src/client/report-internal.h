/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "report.h"

/*
 * What the report's files share, and nothing outside them uses: the figures every format
 * derives from a run, and the JSON and CSV pieces report.c's entry points put together.
 */

#define MIB (1024.0 * 1024.0)

/* report-figures.c, which also defines report.h's report_exit_status() */

/* Open loop: messages due and never sent. Up to RATE_TOLERANCE of them is timer jitter at
 * the end of the run; more is a target the run did not meet. */
#define RATE_TOLERANCE 0.01

uint64_t report_errors_total(const struct drive_errors *e);
uint64_t report_schedule_unsent(const struct drive_schedule *s);
bool report_schedule_missed(const struct drive_schedule *s);
const char *report_schedule_bottleneck(const struct drive_schedule *s);

#define TIMESTAMP_MAX 64
char *report_timestamp_text(char *buf, size_t len, const struct timespec *t);

double report_per_second(uint64_t n, uint64_t usec);

/* CPU time as a share of one core over wall_nsec; the server's, or why it is missing. */
double report_cores(uint64_t cpu_nsec, uint64_t wall_nsec);
#define CPU_ABSENT_MAX 160
const char *report_cpu_server_absent(const struct drive_cpu *c, char *buf, size_t len);

/* Where the threads ran: pinned to which CPUs, or not and which were allowed. */
#define PLACEMENT_MAX 320
char *report_placement_text(char *buf, size_t len, const struct drive_params *p);

/* The percentiles shown, and their JSON keys, in the same order. */
extern const double report_percentiles[4];
extern const char *const report_percentile_keys[4];

/* report-json.c */
void report_json_string(FILE *f, const char *s);
void report_json_latency(FILE *f, const struct hist *h);
void report_json_machine(FILE *f);
void report_json_params(FILE *f, const struct client_opts *o, const struct drive_params *p);
void report_json_result(FILE *f, const struct drive_params *p, const struct drive_result *r);
/* A load or rate document's opening, up to its parameters: the caller goes on with ", ". */
void report_json_head(FILE *f, const struct client_opts *o, const struct drive_params *p);

/* report-csv.c */
extern const char *const report_csv_header;
void report_csv_params(FILE *f, const char *kind, const char *command,
		       const struct drive_params *p);
void report_csv_latency(FILE *f, const struct hist *h);
size_t report_csv_columns_after(size_t n);
/* kind: "summary", or "run" for one run of --repeat. */
void report_csv_row(FILE *f, const struct client_opts *o, const char *kind, const char *command,
		    const struct drive_params *p, const struct drive_result *r);
void report_csv_string(FILE *f, const char *s);
void report_csv_suite_row(FILE *f, const struct client_opts *o, const char *workload,
			  const struct drive_params *p, const struct drive_result *r,
			  const char *note);

/* report.c */
/* "38.1us", "2.10ms": three significant digits in a unit that fits. */
#define LATENCY_TEXT_MAX 32
char *report_latency_text(char *buf, size_t len, uint64_t nsec);
/* The text report's first line, which repeats what was asked, ended by end. */
void report_text_header(FILE *f, const struct client_opts *o, const struct drive_params *p,
			const char *end);

/* report-connect-error.c */
void report_text_connect_error(FILE *f, const struct client_opts *o, const struct drive_params *p,
			       int err);
