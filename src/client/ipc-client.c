/* SPDX-License-Identifier: MIT */
/*
 * ipc-client: the measured load tool. main() parses, checks the fd budget, dispatches to one
 * workload and turns its outcome into the exit status: 0 all traffic echoed and verified,
 * 1 the run had errors, 2 usage error, 3 could not connect at all.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "client-opts.h"
#include "hist-text.h"
#include "load.h"
#include "macro.h"
#include "monitor.h"
#include "ping.h"
#include "repeat.h"
#include "report.h"

#define FDS_SPARE 64 /* stdio, eventfds, epoll, timers: beyond one per connection */
#define SUITE_CONNECTIONS_MAX 10000

/* Raises the soft fd limit as far as `want` connections need (up to the hard one); refuses
 * before anything is opened if that leaves room for fewer than `need`. The connections the
 * limit then allows go to ret_connections. */
static int ensure_fds(uint64_t need, uint64_t want, uint64_t *ret_connections, char *err,
		      size_t len) {
	uint64_t target = want + FDS_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return negative_errno();
	if (rl.rlim_cur < target && rl.rlim_cur != RLIM_INFINITY) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? target : MIN(rl.rlim_max, target);
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return negative_errno();
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= target) {
		*ret_connections = want;
		return 0;
	}
	if (rl.rlim_cur >= need + FDS_SPARE) {
		*ret_connections = rl.rlim_cur - FDS_SPARE;
		return 0;
	}
	snprintf(err, len,
		 "%" PRIu64 " connections need %" PRIu64 " open files, but the limit is %llu "
		 "(hard limit %llu): raise it with 'ulimit -n %" PRIu64 "' (as root) or "
		 "LimitNOFILE=, or use fewer connections",
		 need, need + FDS_SPARE, (unsigned long long)rl.rlim_cur,
		 (unsigned long long)rl.rlim_max, need + FDS_SPARE);
	return -EMFILE;
}

static int run_workload(const struct client_opts *o) {
	struct drive_params p;
	struct drive_result *result = malloc(sizeof(*result));
	char err[HIST_TEXT_ERROR_MAX];
	int r, status;

	if (o->repeat > 1) {
		free(result);
		return repeat_run(o);
	}
	if (!result)
		return -ENOMEM;
	r = o->command == CMD_LOAD ? load_run(o, &p, result) : rate_run(o, &p, result);
	if (r < 0) {
		free(result);
		return r;
	}
	report_run(stdout, o, &p, result);
	status = report_exit_status(result);
	/* After the report: a run that measured well keeps its figures when the file fails. */
	if (o->histogram && hist_text_save(&result->hist, o->histogram, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipc-client: %s\n", err);
		status = MAX(status, EXIT_FAILURE);
	}
	free(result);
	return status;
}

int main(int argc, char **argv) {
	struct client_opts o;
	char err[CLIENT_ERROR_MAX];
	uint64_t fd_connections = 0;
	int r;

	r = client_opts_parse(argc, argv, &o, err, sizeof(err));
	if (r > 0)
		return EXIT_SUCCESS;
	/* The suite runs what fits and skips the rest: it needs room for one connection. */
	if (r == 0 && o.command == CMD_SUITE)
		r = ensure_fds(1, SUITE_CONNECTIONS_MAX, &fd_connections, err, sizeof(err));
	else if (r == 0 && (o.command == CMD_LOAD || o.command == CMD_RATE))
		r = ensure_fds(o.connections, o.connections, &fd_connections, err, sizeof(err));
	if (r == -EINVAL || r == -EMFILE) {
		fprintf(stderr, "ipc-client: %s\nTry 'ipc-client --help'.\n", err);
		return 2;
	}
	/* The main thread too, and through it whatever the driver starts without a CPU of its own.
	 */
	if (r == 0 && o.pinned && sched_setaffinity(0, sizeof(o.cpus), &o.cpus) < 0)
		r = negative_errno();
	if (r < 0 || (r = monitor_block_signals()) < 0) {
		fprintf(stderr, "ipc-client: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	switch (o.command) {
		case CMD_PING:
			r = ping_run(&o);
			break;
		case CMD_ECHO:
			r = echo_run(&o);
			break;
		case CMD_SUITE:
			r = suite_run(&o, fd_connections);
			break;
		default:
			r = run_workload(&o);
			break;
	}
	if (r < 0) {
		fprintf(stderr, "ipc-client: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	/* A report that never reached its reader is no result: say so, and fail. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ipc-client: failed to write the report: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return r;
}
