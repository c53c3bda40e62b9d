/* SPDX-License-Identifier: MIT */
/* ipc-client load: the closed loop (Qt's dataExchange; pingPong with -b 1). */
#include "load.h"
#include "monitor.h"

int load_run(const struct client_opts *o, struct drive_params *ret_params,
	     struct drive_result *ret) {
	struct drive_params p;
	uint64_t total = 0;

	monitor_params(o, DRIVE_CLOSED, &p);
	switch (o->limit) {
		case LIMIT_BYTES_PER_CONN:
			p.bytes_per_conn = o->bytes_per_conn;
			total = o->bytes_per_conn * o->connections;
			break;
		case LIMIT_TOTAL_BYTES:
			/* Split evenly; the first (total mod connections) send one byte more. */
			p.bytes_per_conn = o->total_bytes / o->connections;
			p.extra_bytes = o->total_bytes % o->connections;
			total = o->total_bytes;
			break;
		case LIMIT_DURATION:
			p.duration_usec = o->duration_usec;
			break;
	}
	*ret_params = p;
	return monitor_run(o, &p, total, ret);
}
