/* SPDX-License-Identifier: MIT */
/*
 * ipc-client rate: the open loop. Messages leave on a fixed schedule whatever the server does,
 * and latency counts from the scheduled time, so a server that stalls shows its queueing delay
 * in full instead of slowing the client down and hiding it (coordinated omission).
 */
#include "load.h"
#include "monitor.h"

int rate_run(const struct client_opts *o, struct drive_params *ret_params,
	     struct drive_result *ret) {
	struct drive_params p;

	monitor_params(o, DRIVE_OPEN, &p);
	p.duration_usec = o->duration_usec;
	*ret_params = p;
	return monitor_run(o, &p, 0, ret);
}
