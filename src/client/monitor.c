/* SPDX-License-Identifier: MIT */
/* The main thread during a run: signals, progress bar, periodic lines, the end. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "monitor.h"
#include "report.h"
#include "sockaddr.h"

#define PROGRESS_USEC (200 * USEC_PER_MSEC)
#define MIB (1024.0 * 1024.0)

struct monitor {
	const struct client_opts *o;
	const struct drive_params *p;
	struct drive *d;
	sd_event *event;
	uint64_t total_bytes;
	bool progress;
	bool intervals;                          /* -i, in this output format */
	uint64_t last_usec, last_rt, last_bytes; /* for periodic lines */
	struct hist *interval_hist;
};

int monitor_block_signals(void) {
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return negative_errno();
	signal(SIGPIPE, SIG_IGN); /* a vanished server is a counted error, not our end */
	return 0;
}

static int on_signal(sd_event_source *s _unused_, const struct signalfd_siginfo *si _unused_,
		     void *userdata) {
	struct monitor *m = userdata;
	drive_interrupt(m->d);
	return 0;
}

static int on_done(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
	struct monitor *m = userdata;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v)); /* a wake-up only */
	return drive_done(m->d) ? sd_event_exit(m->event, 0) : 0;
}

static int on_progress(sd_event_source *s, uint64_t usec, void *userdata) {
	struct monitor *m = userdata;
	struct drive_progress pr = { .running = false };
	double elapsed, fraction;

	drive_progress(m->d, &pr);
	if (atomic_load(&pr.running)) {
		uint64_t now = now_usec();
		elapsed = (double)(now - pr.start_usec) / 1e6;
		fraction = m->p->duration_usec
				   ? (double)(now - pr.start_usec) / (double)m->p->duration_usec
				   : (double)atomic_load(&pr.bytes_received) /
					     (double)MAX(m->total_bytes, 1);
		report_progress(stderr, fraction, elapsed,
				elapsed > 0 ? (double)atomic_load(&pr.round_trips) / elapsed : 0,
				atomic_load(&pr.errors));
	}
	return sd_event_source_set_time(s, usec + PROGRESS_USEC);
}

/* The figures since the last interval line, as one more line; none before traffic starts,
 * or, for the last one, when nothing has passed since. */
static void monitor_interval(struct monitor *m, bool last) {
	struct drive_progress pr = { .running = false };
	uint64_t now = now_usec(), rt, bytes;

	drive_progress(m->d, &pr);
	if (!atomic_load(&pr.running))
		return;
	if (m->last_usec == 0)
		m->last_usec = pr.start_usec;
	rt = atomic_load(&pr.round_trips);
	bytes = atomic_load(&pr.bytes_received);
	if (last && now <= m->last_usec)
		return;
	drive_interval_take(m->d, m->interval_hist);
	if (last && rt == m->last_rt && m->interval_hist->n == 0 &&
	    now - m->last_usec < m->o->report_interval_usec / 10)
		return; /* a sliver after the last full interval, with nothing in it */
	if (m->progress)
		report_progress_clear(stderr);
	report_interval(stdout, m->o, m->p,
			&(struct report_interval){
				.t_s = (double)(now - pr.start_usec) / 1e6,
				.span_s = (double)(now - m->last_usec) / 1e6,
				.round_trips = rt - m->last_rt,
				.bytes = bytes - m->last_bytes,
				.errors = atomic_load(&pr.errors),
				.latency = m->interval_hist,
			});
	m->last_usec = now;
	m->last_rt = rt;
	m->last_bytes = bytes;
}

static int on_interval(sd_event_source *s, uint64_t usec, void *userdata) {
	struct monitor *m = userdata;

	monitor_interval(m, false);
	return sd_event_source_set_time(s, usec + m->o->report_interval_usec);
}

static bool want_progress(const struct client_opts *o) {
	if (o->quiet || o->progress == PROGRESS_NEVER)
		return false;
	if (o->progress == PROGRESS_ALWAYS)
		return true;
	/* A bar is for a person watching: on a terminal, wherever the report goes. */
	return isatty(STDERR_FILENO);
}

int monitor_run(const struct client_opts *o, const struct drive_params *p, uint64_t total_bytes,
		struct drive_result *ret) {
	struct monitor m = {
		.o = o, .p = p, .total_bytes = total_bytes, .progress = want_progress(o)
	};
	sd_event_source *sources[5] = { NULL };
	int r;

	m.intervals = p->intervals;
	if (m.intervals) {
		m.interval_hist = malloc(sizeof(*m.interval_hist));
		if (!m.interval_hist)
			return -ENOMEM;
	}
	r = sd_event_new(&m.event);
	if (r >= 0)
		r = drive_start(p, &m.d);
	if (r < 0) {
		sd_event_unref(m.event);
		free(m.interval_hist);
		return r;
	}
	report_run_start(stdout, o, p);
	/* From here the drive must be finished, whatever fails: it owns threads. */
	if ((r = sd_event_add_signal(m.event, &sources[0], SIGINT, on_signal, &m)) >= 0 &&
	    (r = sd_event_add_signal(m.event, &sources[1], SIGTERM, on_signal, &m)) >= 0 &&
	    (r = sd_event_add_io(m.event, &sources[2], drive_done_fd(m.d), EPOLLIN, on_done, &m)) >=
		    0 &&
	    (!m.progress ||
	     (r = sd_event_add_time_relative(m.event, &sources[3], CLOCK_MONOTONIC, PROGRESS_USEC,
					     USEC_PER_MSEC, on_progress, &m)) >= 0) &&
	    (!m.intervals || (r = sd_event_add_time_relative(m.event, &sources[4], CLOCK_MONOTONIC,
							     o->report_interval_usec, USEC_PER_MSEC,
							     on_interval, &m)) >= 0)) {
		for (size_t i = 3; i < ARRAY_SIZE(sources); i++)
			if (sources[i])
				(void)sd_event_source_set_enabled(sources[i], SD_EVENT_ON);
		if (!drive_done(m.d))
			r = sd_event_loop(m.event);
	}
	if (r < 0)
		drive_interrupt(m.d); /* the loop failed: end the run the gentle way */
	else if (m.intervals)
		monitor_interval(&m, true); /* the last, partial interval */
	drive_finish(m.d, ret);
	free(m.interval_hist);
	if (m.progress)
		report_progress_clear(stderr);
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++)
		sd_event_source_disable_unref(sources[i]);
	sd_event_unref(m.event);
	return r < 0 ? r : 0;
}

void monitor_params(const struct client_opts *o, enum drive_mode mode, struct drive_params *ret) {
	*ret = (struct drive_params){
		.mode = mode,
		.type = o->type,
		.connections = o->connections,
		.threads = o->threads,
		.chunk = o->chunk,
		.depth = o->depth,
		.rate = o->rate,
		.warmup_usec = o->warmup_usec,
		.verify = o->verify,
		/* A suite's report is one table or document: its intervals are text lines. */
		.intervals = o->report_interval_usec &&
			     (o->command != CMD_SUITE || report_format(o) == REPORT_TEXT),
		.connect_timeout_usec = o->connect_timeout_usec,
		.io_timeout_usec = o->io_timeout_usec,
	};
	/* Checked when the options were parsed. */
	(void)socket_address_parse(o->socket, &ret->address);
	ret->pinned = o->pinned;
	if (o->pinned)
		ret->cpus = o->cpus;
	else if (sched_getaffinity(0, sizeof(ret->cpus), &ret->cpus) < 0)
		CPU_ZERO(&ret->cpus); /* the report then names no CPUs */
}
