/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "client-opts.h"
#include "driver.h"
#include "report.h"

/*
 * ipc-client suite transports: the same rows through ipcd over each transport it serves, next
 * to the kernel's floors. suite-transports.c runs them; report-transports.c prints the table
 * and the JSON and CSV documents; report-svg.c draws the chart.
 */

#define TRANSPORT_NAME_MAX 32

struct transport_row {
	char transport[TRANSPORT_NAME_MAX]; /* "unix stream", "socketpair", … */
	const char *address;                /* as -s gave it; NULL for a floor */
	const char *workload;               /* "pingPong", "dataExchange" */
	size_t workload_index;              /* rows with the same index are compared */
	struct client_opts opts;            /* the row's socket and type */
	struct drive_params params;
	struct drive_result *result;     /* NULL: the row did not run */
	char skipped[SUITE_SKIPPED_MAX]; /* why it did not run, "" if it ran */
	double ratio;                    /* round trips per second against the best row of the
					    same workload index that ran; 0 if it did not run */
};

/* How many workloads the rows hold, and the first row of one (NULL if none). */
size_t transport_rows_workloads(const struct transport_row *rows, size_t n);
const struct transport_row *transport_rows_first(const struct transport_row *rows, size_t n,
						 size_t w);

/* Fills each row's ratio. */
void transport_rows_rank(struct transport_row *rows, size_t n);

void report_transports(FILE *f, enum report_format format, const struct transport_row *rows,
		       size_t n);

/* The chart: one panel per workload, a bar per transport. Negative errno if writing failed. */
int report_transports_svg(FILE *f, const struct transport_row *rows, size_t n);
