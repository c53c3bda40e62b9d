/* SPDX-License-Identifier: MIT */
/*
 * ipc-client load|rate --repeat N: N runs one after another, each with its own connect phase,
 * warm-up and traffic, as a run without --repeat; a signal ends the run it falls in, and no
 * other starts. Keeps what the summary needs of each run; the printing is report-repeat.c's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "hist-text.h"
#include "load.h"
#include "macro.h"
#include "repeat.h"
#include "report-repeat.h"
#include "report.h"

/* SIGINT or SIGTERM that came between two runs waits, blocked (monitor_block_signals()): the
 * next run would only see it at once and end. */
static int stop_requested(bool *ret) {
	sigset_t pending;

	if (sigpending(&pending) < 0)
		return negative_errno();
	*ret = sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1;
	return 0;
}

/* The worst run's status; a run that could not connect counts as one with errors while others
 * did connect, and the series could not connect at all (3) only when none did. */
static int series_exit_status(const struct repeat_outcome *runs, uint64_t n) {
	bool connected = false;
	int worst = 0;

	for (uint64_t k = 0; k < n; k++) {
		connected = connected || runs[k].exit_status != 3;
		worst = MAX(worst, runs[k].exit_status == 3 ? EXIT_FAILURE : runs[k].exit_status);
	}
	return n > 0 && !connected ? 3 : worst;
}

/* One allocation: the analyzer follows a single cleanup pointer where it loses several. */
struct series_state {
	struct drive_result result; /* the run under way */
	struct hist merged;
	struct repeat_outcome runs[CLIENT_REPEAT_MAX];
};

int repeat_run(const struct client_opts *o) {
	_cleanup_free_ struct series_state *st = malloc(sizeof(*st));
	struct repeat_series s = { .asked = o->repeat };
	struct drive_params p = { .mode = DRIVE_CLOSED };
	char err[HIST_TEXT_ERROR_MAX];
	uint64_t n = MIN(o->repeat, (uint64_t)CLIENT_REPEAT_MAX);
	int r = 0;

	if (!st)
		return -ENOMEM;
	hist_init(&st->merged);
	for (uint64_t k = 0; k < n; k++) {
		struct drive_result *result = &st->result;
		bool stop = false;

		if (k > 0 && (r = stop_requested(&stop)) < 0)
			break;
		if (stop) {
			s.interrupted = true;
			break;
		}
		r = o->command == CMD_LOAD ? load_run(o, &p, result) : rate_run(o, &p, result);
		if (r < 0)
			break;
		/* After the first run: only then are its parameters known. */
		if (k == 0)
			report_repeat_start(stdout, o, &p);
		hist_merge(&st->merged, &result->hist);
		report_repeat_outcome(&p, result, &st->runs[k]);
		report_repeat_run(stdout, o, &p, k, result, &st->runs[k]);
		s.done = k + 1;
		if (result->interrupted) {
			s.interrupted = true;
			break;
		}
	}
	if (s.done == 0)
		return r;
	s.runs = st->runs;
	s.exit_status = series_exit_status(st->runs, s.done);
	s.latency = &st->merged;
	/* Also after a failure: what was printed so far makes a whole report. */
	report_repeat_end(stdout, o, &p, &s);
	if (r < 0)
		return r;
	if (o->histogram && hist_text_save(&st->merged, o->histogram, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipc-client: %s\n", err);
		return MAX(s.exit_status, EXIT_FAILURE);
	}
	return s.exit_status;
}
