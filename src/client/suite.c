/* SPDX-License-Identifier: MIT */
/*
 * ipc-client suite qt: the Qt local-socket benchmark's matrix, run row by row on the shared
 * driver and printed as one table. pingPong: 10…10000 connections exchanging 1-byte chunks,
 * 100000 round trips in all; dataExchange: 1, 5 or 10 connections × 100…100000-byte chunks,
 * 50000 chunks in all. Rows the limits make impossible (the client's open files, the server's
 * connection limit) are found before anything runs and skipped with the reason, never run
 * into a failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/*
 * The server's connection limit, as a ramp to `connections` shows it: each connection makes
 * one 1-byte round trip, all of them open at once. They stay open until the last is done: one
 * closed after its echo would free a slot for a connection still waiting in the backlog, and
 * the limit would read high. The limit is found only when the server refused some and echoed
 * on all the others: any other failure (no server, timeouts, resets) is no limit, and the rows
 * themselves report it. *ret_limit is 0 when none was found.
 */
static int probe_server(const struct client_opts *o, uint64_t connections, uint64_t *ret_limit,
			bool *ret_interrupted) {
	_cleanup_free_ struct drive_result *res = malloc(sizeof(*res));
	const struct drive_errors *e;
	struct drive_params p;
	int r;

	if (!res)
		return -ENOMEM;
	row_params(o, connections, 1, connections, &p);
	p.hold_open = true;
	r = monitor_run(o, &p, connections, res);
	if (r < 0)
		return r;
	e = &res->errors;
	*ret_interrupted = res->interrupted;
	*ret_limit = 0;
	if (!res->interrupted && res->round_trips > 0 && res->round_trips < connections &&
	    e->connect_failed == 0 && e->connect_timeout == 0 && e->reset == 0 &&
	    e->eof_early == 0 && e->timed_out == 0 && e->verify_failures == 0)
		*ret_limit = res->round_trips;
	return 0;
}

/* The rows' verdicts before any runs: those over the client's or the server's limit get their
 * reason in `skipped`. *ret_interrupted: a signal ended the probe, and nothing should run. */
static int suite_plan(const struct client_opts *o, uint64_t max_connections, struct suite_row *rows,
		      size_t n, bool *ret_interrupted) {
	uint64_t probe = 0, server_limit = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		uint64_t c = rows[i].params.connections;
		if (c > max_connections)
			snprintf(rows[i].skipped, sizeof(rows[i].skipped),
				 "the client's open-file limit allows %" PRIu64 " connections",
				 max_connections);
		else
			probe = MAX(probe, c);
	}
	*ret_interrupted = false;
	/* Only connections can be refused: a datagram server has none. One connection is
	 * enough for the server to show it is there, not a limit. */
	if (o->type == SOCK_DGRAM || probe <= 1)
		return 0;
	r = probe_server(o, probe, &server_limit, ret_interrupted);
	if (r < 0 || server_limit == 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (!rows[i].skipped[0] && rows[i].params.connections > server_limit)
			snprintf(rows[i].skipped, sizeof(rows[i].skipped),
				 "the server accepts at most %" PRIu64 " connections at once",
				 server_limit);
	return 0;
}

int suite_run(const struct client_opts *o, uint64_t max_connections) {
	struct suite_row rows[ROWS];
	size_t n = 0;
	bool interrupted = false;
	int status = 0, r;

	if (strcmp(o->suite, "transports") == 0)
		return suite_transports_run(o);
	for (size_t i = 0; i < ARRAY_SIZE(ping_pong_connections); i++, n++) {
		rows[n] = (struct suite_row){ .workload = "pingPong" };
		row_params(o, ping_pong_connections[i], 1, PING_PONG_ROUND_TRIPS, &rows[n].params);
	}
	for (size_t i = 0; i < ARRAY_SIZE(data_exchange_connections); i++)
		for (size_t j = 0; j < ARRAY_SIZE(data_exchange_chunks); j++, n++) {
			rows[n] = (struct suite_row){ .workload = "dataExchange" };
			row_params(o, data_exchange_connections[i], data_exchange_chunks[j],
				   DATA_EXCHANGE_CHUNKS, &rows[n].params);
		}
	r = suite_plan(o, max_connections, rows, n, &interrupted);
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct drive_params *p = &rows[i].params;
		if (rows[i].skipped[0])
			continue;
		if (interrupted) {
			/* The rows so far still make a table; the rest say why not. */
			snprintf(rows[i].skipped, sizeof(rows[i].skipped),
				 "interrupted before it ran");
			continue;
		}
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
		interrupted = rows[i].result->interrupted;
	}
	if (r >= 0)
		report_suite(stdout, o, rows, n);
	for (size_t i = 0; i < n; i++)
		free(rows[i].result);
	return r < 0 ? r : status;
}
