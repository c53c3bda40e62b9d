/* SPDX-License-Identifier: MIT */
#pragma once

#include "client-opts.h"
#include "driver.h"

/* Runs the workload the options describe; the parameters used are returned for the report. */
int load_run(const struct client_opts *o, struct drive_params *ret_params,
	     struct drive_result *ret);
int rate_run(const struct client_opts *o, struct drive_params *ret_params,
	     struct drive_result *ret);

/* Runs the named matrix and reports it; returns the worst exit status of the rows that ran.
 * max_connections: as many as the client's open-file limit allows. Rows beyond it, or beyond
 * the server's connection limit (probed first), are skipped and reported as such. */
int suite_run(const struct client_opts *o, uint64_t max_connections);

/* suite transports (suite-transports.c): the rows, the table, the exported files. */
int suite_transports_run(const struct client_opts *o);
