/* SPDX-License-Identifier: MIT */
/*
 * ipc-client suite transports: one pingPong and four dataExchange rows, one connection and one
 * chunk in flight each, through ipcd over every socket given (by default the five that
 * conf/ipcd-transports.conf binds), then through the kernel's floors with no server at all.
 * One connection, because the question is what a message costs on each transport, not how a
 * server spreads many; the Qt suite asks that one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "floor.h"
#include "load.h"
#include "macro.h"
#include "monitor.h"
#include "sockaddr.h"
#include "suite-transports.h"

/* What conf/ipcd-transports.conf binds, in its order (a test holds the two together). */
static const char *const default_sockets[] = {
	"/tmp/ipcd-transports/stream.sock",
	"seqpacket:/tmp/ipcd-transports/seqpacket.sock",
	"dgram:/tmp/ipcd-transports/dgram.sock",
	"@ipcd-transports",
	"tcp:127.0.0.1:7777",
};

static const struct workload {
	const char *name;
	uint64_t chunk;
	uint64_t round_trips;
} workloads[] = {
	{ "pingPong", 1, 100000 },         { "dataExchange", 100, 50000 },
	{ "dataExchange", 1000, 50000 },   { "dataExchange", 10000, 50000 },
	{ "dataExchange", 100000, 50000 },
};

static const enum floor_kind floors[] = { FLOOR_SOCKETPAIR, FLOOR_PIPE, FLOOR_SHM };

#define TRANSPORTS_MAX (CLIENT_SOCKETS_MAX + ARRAY_SIZE(floors))
#define ROWS_MAX (TRANSPORTS_MAX * ARRAY_SIZE(workloads))

/* "unix stream", "abstract seqpacket", "TCP", "TCP IPv6": what a reader calls the transport. */
static void transport_name(char *buf, size_t len, int type, const struct socket_address *a) {
	if (socket_address_is_inet(a))
		snprintf(buf, len, "%s", a->sa.sa_family == AF_INET6 ? "TCP IPv6" : "TCP");
	else
		snprintf(buf, len, "%s %s", a->un.sun_path[0] ? "unix" : "abstract",
			 client_type_to_string(type));
}

static void row_params(struct transport_row *row, const struct client_opts *o,
		       const struct workload *w) {
	struct drive_params *p = &row->params;

	monitor_params(&row->opts, DRIVE_CLOSED, p);
	p->connections = 1;
	p->threads = 1;
	p->chunk = w->chunk;
	p->depth = 1;
	p->warmup_usec = 0;
	p->verify = true; /* every row checks its bytes: a fast transport that corrupts is no
			     result */
	p->bytes_per_conn = (o->count ? o->count : w->round_trips) * w->chunk;
	p->extra_bytes = 0;
}

/* The rows, transport by transport: the sockets given (or the defaults), then the floors. */
static size_t plan_rows(const struct client_opts *o, struct transport_row *rows) {
	const char *const *sockets = o->n_sockets ? o->sockets : default_sockets;
	size_t n_sockets = o->n_sockets ? o->n_sockets : ARRAY_SIZE(default_sockets), n = 0;

	for (size_t t = 0; t < n_sockets + ARRAY_SIZE(floors); t++)
		for (size_t w = 0; w < ARRAY_SIZE(workloads); w++, n++) {
			struct transport_row *row = &rows[n];
			*row = (struct transport_row){ .workload = workloads[w].name,
						       .workload_index = w,
						       .opts = *o };
			if (t < n_sockets) {
				struct listen_address a;
				/* Checked when the options were read. */
				(void)listen_address_parse(sockets[t], &a);
				row->address = sockets[t];
				row->opts.type = a.type;
				/* Without its type: the address itself, as -s takes it. */
				row->opts.socket = a.unix_spec ? a.unix_spec : sockets[t];
				transport_name(row->transport, sizeof(row->transport), a.type,
					       &a.addr);
			} else {
				snprintf(row->transport, sizeof(row->transport), "%s",
					 floor_kind_to_string(floors[t - n_sockets]));
				row->opts.socket = "";
				row->opts.type = SOCK_STREAM;
			}
			row_params(row, o, &workloads[w]);
		}
	return n;
}

static enum floor_kind floor_of(const struct transport_row *row) {
	for (size_t i = 0; i < ARRAY_SIZE(floors); i++)
		if (strcmp(row->transport, floor_kind_to_string(floors[i])) == 0)
			return floors[i];
	return _FLOOR_KIND_MAX;
}

static int run_row(const struct client_opts *o, struct transport_row *row, pid_t server_pid) {
	const struct drive_params *p = &row->params;

	row->result = malloc(sizeof(struct drive_result));
	if (!row->result)
		return -ENOMEM;
	if (!row->address) {
		struct floor_params fp = { .kind = floor_of(row),
					   .chunk = p->chunk,
					   .round_trips = p->bytes_per_conn / p->chunk,
					   .io_timeout_usec = o->io_timeout_usec,
					   .pinned = o->pinned,
					   .cpus = o->cpus };
		return floor_run(&fp, row->result);
	}
	row->params.server_pid = server_pid;
	return monitor_run(&row->opts, p, p->bytes_per_conn, row->result);
}

/* The rows in order. A transport whose first row connected nothing skips the rest with the
 * reason; a signal skips every row after it. The server that one row's credentials named, and
 * proved to hold its connection, is named to the rows whose sockets carry no credentials. */
static int run_rows(const struct client_opts *o, struct transport_row *rows, size_t n,
		    int *ret_status) {
	bool interrupted = false;
	pid_t server_pid = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		struct transport_row *row = &rows[i];
		const struct drive_result *first =
			row->workload_index ? rows[i - row->workload_index].result : NULL;

		if (interrupted) {
			snprintf(row->skipped, sizeof(row->skipped), "interrupted before it ran");
			continue;
		}
		if (row->workload_index && (!first || first->opened == 0)) {
			snprintf(row->skipped, sizeof(row->skipped),
				 "the first row on this socket did not connect");
			continue;
		}
		r = run_row(o, row, server_pid);
		if (r < 0)
			return r;
		*ret_status = MAX(*ret_status, report_exit_status(row->result));
		interrupted = row->result->interrupted;
		if (row->address && row->result->cpu.server == SERVER_CPU_MEASURED)
			server_pid = row->result->cpu.server_pid;
	}
	return 0;
}

/* The JSON document and the chart, when asked for, after the table. */
static int export_files(const struct client_opts *o, const struct transport_row *rows, size_t n) {
	const struct {
		const char *path;
		bool svg;
	} files[] = { { o->export_json, false }, { o->export_svg, true } };
	int status = 0;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		FILE *f;
		int r = 0;

		if (!files[i].path)
			continue;
		f = fopen(files[i].path, "we");
		if (!f) {
			fprintf(stderr, "ipc-client: %s: %s\n", files[i].path, strerror(errno));
			status = EXIT_FAILURE;
			continue;
		}
		if (files[i].svg)
			r = report_transports_svg(f, rows, n);
		else
			report_transports(f, REPORT_JSON, rows, n);
		if (ferror(f) || r < 0)
			r = -EIO;
		if (fclose(f) != 0 && r >= 0)
			r = negative_errno();
		if (r < 0) {
			fprintf(stderr, "ipc-client: failed to write %s: %s\n", files[i].path,
				strerror(-r));
			status = EXIT_FAILURE;
		}
	}
	return status;
}

int suite_transports_run(const struct client_opts *o) {
	_cleanup_free_ struct transport_row *rows = calloc(ROWS_MAX, sizeof(*rows));
	size_t n;
	int status = 0, r;

	if (!rows)
		return -ENOMEM;
	n = plan_rows(o, rows);
	r = run_rows(o, rows, n, &status);
	if (r >= 0) {
		transport_rows_rank(rows, n);
		report_transports(stdout, report_format(o), rows, n);
		status = MAX(status, export_files(o, rows, n));
	}
	for (size_t i = 0; i < n; i++)
		free(rows[i].result);
	return r < 0 ? r : status;
}
