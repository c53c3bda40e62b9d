/* SPDX-License-Identifier: MIT */
/*
 * ipc-client suite qt: the Qt local-socket benchmark's matrix, run row by row on the shared
 * driver and printed as one table. pingPong: 10…10000 connections exchanging 1-byte chunks,
 * 100000 round trips in all; dataExchange: 1, 5 or 10 connections × 100…100000-byte chunks,
 * 50000 chunks in all.
 */
#include <errno.h>
#include <stdlib.h>

#include "load.h"
#include "macro.h"
#include "monitor.h"
#include "report.h"

static const uint64_t ping_pong_connections[] = { 10, 50, 100, 1000, 10000 };
static const uint64_t data_exchange_connections[] = { 1, 5, 10 };
static const uint64_t data_exchange_chunks[] = { 100, 1000, 10000, 100000 };

#define PING_PONG_ROUND_TRIPS 100000
#define DATA_EXCHANGE_CHUNKS 50000
#define ROWS                                                                                       \
	(ARRAY_SIZE(ping_pong_connections) +                                                       \
	 ARRAY_SIZE(data_exchange_connections) * ARRAY_SIZE(data_exchange_chunks))

static void row_params(const struct client_opts *o, uint64_t connections, uint64_t chunk,
		       uint64_t chunks_in_all, struct drive_params *p) {
	monitor_params(o, DRIVE_CLOSED, p);
	p->connections = connections;
	p->threads = (unsigned)MIN((uint64_t)o->threads, connections);
	p->chunk = chunk;
	p->depth = 1;
	p->warmup_usec = 0;
	/* Whole chunks per connection; the first (chunks mod connections) do one more. */
	p->bytes_per_conn = chunks_in_all / connections * chunk;
	p->extra_bytes = 0;
	if (chunks_in_all % connections && chunk == 1)
		p->extra_bytes = chunks_in_all % connections;
}

int suite_run(const struct client_opts *o) {
	struct suite_row rows[ROWS];
	size_t n = 0, done = 0;
	int status = 0, r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(ping_pong_connections); i++, n++) {
		rows[n].workload = "pingPong";
		row_params(o, ping_pong_connections[i], 1, PING_PONG_ROUND_TRIPS, &rows[n].params);
	}
	for (size_t i = 0; i < ARRAY_SIZE(data_exchange_connections); i++)
		for (size_t j = 0; j < ARRAY_SIZE(data_exchange_chunks); j++, n++) {
			rows[n].workload = "dataExchange";
			row_params(o, data_exchange_connections[i], data_exchange_chunks[j],
				   DATA_EXCHANGE_CHUNKS, &rows[n].params);
		}
	for (size_t i = 0; i < n; i++)
		rows[i].result = NULL;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct drive_params *p = &rows[i].params;
		rows[i].result = malloc(sizeof(struct drive_result));
		if (!rows[i].result) {
			r = -ENOMEM;
			break;
		}
		r = monitor_run(o, p, p->bytes_per_conn * p->connections + p->extra_bytes,
				rows[i].result);
		if (r < 0)
			break;
		status = MAX(status, report_exit_status(rows[i].result));
		done = i + 1;
		if (rows[i].result->interrupted)
			break; /* the rows so far are still worth a table */
	}
	if (done > 0)
		report_suite(stdout, o, rows, done);
	for (size_t i = 0; i < n; i++)
		free(rows[i].result);
	return r < 0 ? r : status;
}
