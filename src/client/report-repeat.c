/* SPDX-License-Identifier: MIT */
/*
 * The report of --repeat: a line per run, then each figure's median, minimum, maximum and
 * spread, flagged above REPEAT_SPREAD_MAX_PERCENT, in text, JSON or CSV. The statistics are
 * repeat-stats.c's, the runs repeat.c's; a run's own JSON object and CSV row are report-json.c's
 * and report-csv.c's.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "cpulist.h"
#include "macro.h"
#include "repeat-stats.h"
#include "report-internal.h"
#include "report-repeat.h"

enum figure_unit {
	UNIT_PER_S, /* a rate, one decimal */
	UNIT_MIB,   /* MiB per second */
	UNIT_US,    /* a latency in microseconds */
	UNIT_NS,    /* CPU time in nanoseconds */
};

static const struct figure {
	const char *name; /* in text */
	const char *key;  /* in JSON, and the CSV column */
	enum figure_unit unit;
} figures[_REPEAT_FIGURE_MAX] = {
	[REPEAT_ROUND_TRIPS_PER_S] = { "round trips/s", "round_trips_per_s", UNIT_PER_S },
	[REPEAT_MIB_PER_S] = { "MiB/s", "mib_per_s", UNIT_MIB },
	[REPEAT_ACHIEVED_PER_S] = { "sent/s", "achieved_per_s", UNIT_PER_S },
	[REPEAT_P50] = { "latency p50", "p50_us", UNIT_US },
	[REPEAT_P90] = { "latency p90", "p90_us", UNIT_US },
	[REPEAT_P99] = { "latency p99", "p99_us", UNIT_US },
	[REPEAT_P99_9] = { "latency p99.9", "p99_9_us", UNIT_US },
	[REPEAT_CLIENT_CPU] = { "client cpu/rt", "client_cpu_ns_per_rt", UNIT_NS },
	[REPEAT_SERVER_CPU] = { "server cpu/rt", "server_cpu_ns_per_rt", UNIT_NS },
};

/* The CSV rows after the runs: what the figure columns of each hold. */
enum summary_row {
	ROW_MEDIAN,
	ROW_MIN,
	ROW_MAX,
	ROW_SPREAD,
	ROW_FLAGGED,
	_SUMMARY_ROW_MAX,
};
static const char *const row_kinds[_SUMMARY_ROW_MAX] = {
	[ROW_MEDIAN] = "median",         [ROW_MIN] = "min",         [ROW_MAX] = "max",
	[ROW_SPREAD] = "spread_percent", [ROW_FLAGGED] = "flagged",
};

struct summary {
	bool have[_REPEAT_FIGURE_MAX]; /* every run has the figure */
	struct repeat_stats stats[_REPEAT_FIGURE_MAX];
};

void report_repeat_outcome(const struct drive_params *p, const struct drive_result *r,
			   struct repeat_outcome *ret) {
	const struct drive_cpu *c = &r->cpu;
	char why[CPU_ABSENT_MAX];
	struct repeat_outcome o = {
		.interrupted = r->interrupted,
		.exit_status = report_exit_status(r),
	};

	o.value[REPEAT_ROUND_TRIPS_PER_S] = report_per_second(r->round_trips, r->elapsed_usec);
	o.value[REPEAT_MIB_PER_S] = report_per_second(r->bytes_received, r->elapsed_usec) / MIB;
	o.have[REPEAT_ROUND_TRIPS_PER_S] = o.have[REPEAT_MIB_PER_S] = true;
	if (p->mode == DRIVE_OPEN) {
		o.value[REPEAT_ACHIEVED_PER_S] =
			report_per_second(r->schedule.sent, r->schedule.run_usec);
		o.have[REPEAT_ACHIEVED_PER_S] = true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(report_percentiles) && r->hist.n; i++) {
		o.value[REPEAT_P50 + i] =
			(double)hist_percentile(&r->hist, report_percentiles[i], NULL) / 1e3;
		o.have[REPEAT_P50 + i] = true;
	}
	if (r->round_trips && c->measured) {
		o.value[REPEAT_CLIENT_CPU] = (double)c->client_nsec / (double)r->round_trips;
		o.have[REPEAT_CLIENT_CPU] = true;
	}
	if (r->round_trips && !report_cpu_server_absent(c, why, sizeof(why))) {
		o.value[REPEAT_SERVER_CPU] = (double)c->server_nsec / (double)r->round_trips;
		o.have[REPEAT_SERVER_CPU] = true;
	}
	*ret = o;
}

/* A figure is summarised only when every run has it: a median of some runs would pass for
 * one of all. */
static void summarize(const struct repeat_series *s, struct summary *ret) {
	double v[CLIENT_REPEAT_MAX];
	uint64_t n = MIN(s->done, (uint64_t)CLIENT_REPEAT_MAX);

	*ret = (struct summary){ .have = { false } };
	for (size_t f = 0; f < _REPEAT_FIGURE_MAX; f++) {
		bool all = n > 0;
		for (uint64_t k = 0; k < n && all; k++) {
			all = s->runs[k].have[f];
			v[k] = s->runs[k].value[f];
		}
		ret->have[f] = all && repeat_stats_compute(v, n, &ret->stats[f]) == 0;
	}
}

/* A value as JSON and CSV give it: the precision of the single run's report. */
static void print_number(FILE *f, enum figure_unit u, double v) {
	fprintf(f, u == UNIT_MIB || u == UNIT_US ? "%.3f" : "%.1f", v);
}

static char *figure_text(char *buf, size_t len, enum figure_unit u, double v) {
	if (u == UNIT_US || u == UNIT_NS)
		return report_latency_text(buf, len, (uint64_t)llround(u == UNIT_US ? v * 1e3 : v));
	snprintf(buf, len, u == UNIT_MIB ? "%.2f" : "%.1f", v);
	return buf;
}

static char *spread_text(char *buf, size_t len, double spread) {
	if (isinf(spread))
		snprintf(buf, len, "inf");
	else
		snprintf(buf, len, "%.1f%%", spread);
	return buf;
}

void report_repeat_start(FILE *f, const struct client_opts *o, const struct drive_params *p) {
	char end[64];

	switch (report_format(o)) {
		case REPORT_JSON:
			report_json_head(f, o, p);
			fputs(", \"runs\": [", f);
			break;
		case REPORT_CSV:
			fprintf(f, "%s\n", report_csv_header);
			break;
		case REPORT_TEXT:
			snprintf(end, sizeof(end), ", %" PRIu64 " runs\n", o->repeat);
			report_text_header(f, o, p, end);
			break;
	}
	fflush(f);
}

/* "  run 2/5        93900.6 rt/s    366.80 MiB/s  p50 30.8us  p99 186us  p99.9 318us  exit status
 * 0" */
static void text_run_line(FILE *f, const struct client_opts *o, uint64_t k,
			  const struct repeat_outcome *run) {
	char a[32], b[32], c[32], label[48];

	snprintf(label, sizeof(label), "run %" PRIu64 "/%" PRIu64, k + 1, o->repeat);
	fprintf(f, "  %-13s%10.1f rt/s  %8.2f MiB/s", label, run->value[REPEAT_ROUND_TRIPS_PER_S],
		run->value[REPEAT_MIB_PER_S]);
	if (run->have[REPEAT_ACHIEVED_PER_S])
		fprintf(f, "  sent %.1f/s", run->value[REPEAT_ACHIEVED_PER_S]);
	if (run->have[REPEAT_P50])
		fprintf(f, "  p50 %s  p99 %s  p99.9 %s",
			figure_text(a, sizeof(a), UNIT_US, run->value[REPEAT_P50]),
			figure_text(b, sizeof(b), UNIT_US, run->value[REPEAT_P99]),
			figure_text(c, sizeof(c), UNIT_US, run->value[REPEAT_P99_9]));
	else
		fputs("  no round trips", f);
	fprintf(f, "  exit status %d%s\n", run->exit_status,
		run->interrupted ? " (interrupted)" : "");
	fflush(f);
}

void report_repeat_run(FILE *f, const struct client_opts *o, const struct drive_params *p,
		       uint64_t k, const struct drive_result *r, const struct repeat_outcome *run) {
	switch (report_format(o)) {
		case REPORT_JSON:
			fputs(k ? ", " : "", f);
			report_json_result(f, p, r);
			break;
		case REPORT_CSV:
			report_csv_row(f, o, "run", client_command_to_string(o->command), p, r);
			fputc('\n', f);
			break;
		case REPORT_TEXT:
			break;
	}
	fflush(f);
	/* The document holds the runs; the lines are for a person waiting for them. */
	if (!o->quiet)
		text_run_line(report_format(o) == REPORT_TEXT ? f : stderr, o, k, run);
}

static void json_figures(FILE *f, const struct summary *sum) {
	fputc('{', f);
	for (size_t i = 0; i < _REPEAT_FIGURE_MAX; i++) {
		const struct repeat_stats *st = &sum->stats[i];

		fprintf(f, "%s\"%s\": ", i ? ", " : "", figures[i].key);
		if (!sum->have[i]) {
			fputs("null", f);
			continue;
		}
		fputs("{\"median\": ", f);
		print_number(f, figures[i].unit, st->median);
		fputs(", \"min\": ", f);
		print_number(f, figures[i].unit, st->min);
		fputs(", \"max\": ", f);
		print_number(f, figures[i].unit, st->max);
		if (isinf(st->spread_percent))
			fputs(", \"spread_percent\": null", f);
		else
			fprintf(f, ", \"spread_percent\": %.2f", st->spread_percent);
		fprintf(f, ", \"flagged\": %s}", repeat_stats_flagged(st) ? "true" : "false");
	}
	fputc('}', f);
}

static void json_end(FILE *f, const struct repeat_series *s, const struct summary *sum) {
	fprintf(f,
		"], \"repeat\": {\"runs\": %" PRIu64 ", \"completed\": %" PRIu64
		", \"interrupted\": %s, \"spread\": \"(max - min) / median\""
		", \"spread_threshold_percent\": %.1f, \"figures\": ",
		s->asked, s->done, s->interrupted ? "true" : "false", REPEAT_SPREAD_MAX_PERCENT);
	json_figures(f, sum);
	fputs(", \"latency_us\": ", f);
	report_json_latency(f, s->latency);
	fprintf(f, ", \"exit_status\": %d}}\n", s->exit_status);
}

static bool is_column(const char *c, size_t len, const char *name) {
	return strlen(name) == len && memcmp(c, name, len) == 0;
}

/* One cell of a summary row: a figure's statistic, or what the series as a whole says. */
static void csv_cell(FILE *f, const char *c, size_t len, enum summary_row row,
		     const struct client_opts *o, const struct drive_params *p,
		     const struct repeat_series *s, const struct summary *sum) {
	char cpus[CPULIST_MAX];

	for (size_t i = 0; i < _REPEAT_FIGURE_MAX; i++) {
		const struct repeat_stats *st = &sum->stats[i];

		if (!is_column(c, len, figures[i].key))
			continue;
		if (!sum->have[i] || (row == ROW_SPREAD && isinf(st->spread_percent)))
			return;
		if (row == ROW_FLAGGED)
			fputs(repeat_stats_flagged(st) ? "true" : "false", f);
		else if (row == ROW_SPREAD)
			fprintf(f, "%.2f", st->spread_percent);
		else
			print_number(f, figures[i].unit,
				     row == ROW_MEDIAN ? st->median
				     : row == ROW_MIN  ? st->min
						       : st->max);
		return;
	}
	if (is_column(c, len, "socket"))
		report_csv_string(f, o->socket);
	else if (is_column(c, len, "threads"))
		fprintf(f, "%u", (unsigned)MIN((uint64_t)p->threads, p->connections));
	else if (is_column(c, len, "interrupted"))
		fputs(s->interrupted ? "true" : "false", f);
	else if (is_column(c, len, "exit_status"))
		fprintf(f, "%d", s->exit_status);
	else if (is_column(c, len, "pinned"))
		fputs(p->pinned ? "true" : "false", f);
	else if (is_column(c, len, "cpus"))
		report_csv_string(f, cpulist_format(cpus, sizeof(cpus), &p->cpus));
}

#define CSV_PARAM_COLUMNS 8 /* report_csv_params(): kind to rate */

static void csv_end(FILE *f, const struct client_opts *o, const struct drive_params *p,
		    const struct repeat_series *s, const struct summary *sum) {
	for (int row = 0; row < _SUMMARY_ROW_MAX; row++) {
		size_t column = 0;

		report_csv_params(f, row_kinds[row], client_command_to_string(o->command), p);
		for (const char *c = report_csv_header, *end; c; c = end ? end + 1 : NULL) {
			end = strchr(c, ',');
			if (column++ < CSV_PARAM_COLUMNS)
				continue;
			fputc(',', f);
			csv_cell(f, c, end ? (size_t)(end - c) : strlen(c), (enum summary_row)row,
				 o, p, s, sum);
		}
		fputc('\n', f);
	}
}

static void text_end(FILE *f, const struct drive_params *p, const struct repeat_series *s,
		     const struct summary *sum) {
	char a[32], b[32], c[32], d[32], pl[PLACEMENT_MAX];
	size_t n_flagged = 0;

	fprintf(f, "  runs          %" PRIu64 " of %" PRIu64 "%s\n", s->done, s->asked,
		s->interrupted ? ": interrupted by a signal, the summary covers the runs done"
			       : "");
	fprintf(f, "  %-14s%11s %11s %11s %8s\n", "", "median", "min", "max", "spread");
	for (size_t i = 0; i < _REPEAT_FIGURE_MAX; i++) {
		const struct repeat_stats *st = &sum->stats[i];
		enum figure_unit u = figures[i].unit;

		if (!sum->have[i]) {
			/* The open loop's figure has no place in a closed loop's report. */
			if (i != REPEAT_ACHIEVED_PER_S || p->mode == DRIVE_OPEN)
				fprintf(f, "  %-14s%s\n", figures[i].name,
					"n/a (not measured in every run)");
			continue;
		}
		fprintf(f, "  %-14s%11s %11s %11s %8s%s\n", figures[i].name,
			figure_text(a, sizeof(a), u, st->median),
			figure_text(b, sizeof(b), u, st->min),
			figure_text(c, sizeof(c), u, st->max),
			spread_text(d, sizeof(d), st->spread_percent),
			repeat_stats_flagged(st) ? " !" : "");
		n_flagged += repeat_stats_flagged(st);
	}
	fprintf(f, "  spread        (max - min) / median; above %.0f%% is flagged\n",
		REPEAT_SPREAD_MAX_PERCENT);
	/* One warning, as hyperfine gives: the table marks which figures. */
	if (n_flagged)
		fprintf(f,
			"  warning       %zu of the figures vary by more than %.0f%% between runs "
			"(marked !):\n"
			"                the runs disagree; %s, close other load, or use more "
			"runs\n",
			n_flagged, REPEAT_SPREAD_MAX_PERCENT,
			p->pinned ? "pin the server too (taskset)" : "pin the threads with --cpus");
	fprintf(f, "  placement     %s\n", report_placement_text(pl, sizeof(pl), p));
	fprintf(f, "  exit status   %d (the worst run's)\n", s->exit_status);
}

void report_repeat_end(FILE *f, const struct client_opts *o, const struct drive_params *p,
		       const struct repeat_series *s) {
	struct summary sum;

	summarize(s, &sum);
	switch (report_format(o)) {
		case REPORT_JSON:
			json_end(f, s, &sum);
			break;
		case REPORT_CSV:
			csv_end(f, o, p, s, &sum);
			break;
		case REPORT_TEXT:
			text_end(f, p, s, &sum);
			break;
	}
	fflush(f);
}
