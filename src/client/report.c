/* SPDX-License-Identifier: MIT */
/* Results: the entry points, which pick text, JSON or CSV, and the text format itself, with the
 * progress bar. The only printer; JSON and CSV pieces are in report-json.c and report-csv.c. */
#include <inttypes.h>
#include <string.h>

#include "macro.h"
#include "parse.h"
#include "report-internal.h"

enum report_format report_format(const struct client_opts *o) {
	return o->json ? REPORT_JSON : o->csv ? REPORT_CSV : REPORT_TEXT;
}

/* Units for latencies, largest first: a value is shown in the largest one it reaches. */
static const struct latency_unit {
	const char *name;
	double nsec;
} latency_units[] = { { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 }, { "ns", 1 } };

static const struct latency_unit *latency_unit_of(uint64_t nsec) {
	size_t i = 0;

	while (i < ARRAY_SIZE(latency_units) - 1 && (double)nsec < latency_units[i].nsec)
		i++;
	return &latency_units[i];
}

/* The decimals that give v, at least 1 in its unit, three significant digits. */
static int latency_decimals(double v) {
	return v < 10 ? 2 : v < 100 ? 1 : 0;
}

char *report_latency_text(char *buf, size_t len, uint64_t nsec) {
	const struct latency_unit *u = latency_unit_of(nsec);
	double v = (double)nsec / u->nsec;

	snprintf(buf, len, "%.*f%s", latency_decimals(v), v, u->name);
	return buf;
}

static void text_errors(FILE *f, const struct drive_result *r) {
	const struct drive_errors *e = &r->errors;
	static const char *const names[] = {
		"refused",       "closed by server",  "connect failed", "connect timed out",
		"reset",         "EOF early",         "timed out",      "verify failed",
		"lost messages", "short connections",
	};
	const uint64_t values[] = {
		e->refused, e->closed_by_server,  e->connect_failed, e->connect_timeout,
		e->reset,   e->eof_early,         e->timed_out,      e->verify_failures,
		e->lost,    e->short_connections,
	};
	bool any = false;

	fprintf(f, "  errors        ");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (values[i]) {
			fprintf(f, "%s%s %" PRIu64, any ? ", " : "", names[i], values[i]);
			any = true;
		}
	fprintf(f, "%s\n", any ? "" : "none");
	for (uint64_t i = 0; i < r->n_mismatches; i++)
		fprintf(f,
			"  mismatch      connection %" PRIu64
			", first differing byte at offset %" PRIu64 "\n",
			r->mismatches[i].connection, r->mismatches[i].offset);
	if (e->verify_failures > r->n_mismatches)
		fprintf(f, "  mismatch      … and %" PRIu64 " more connections\n",
			e->verify_failures - r->n_mismatches);
}

static void text_schedule(FILE *f, const struct drive_params *p, const struct drive_schedule *s) {
	const char *who = report_schedule_bottleneck(s);
	double achieved = report_per_second(s->sent, s->run_usec);

	fprintf(f, "  rate          target %" PRIu64 "/s, sent %.1f/s (%.1f%%)", p->rate, achieved,
		p->rate ? 100.0 * achieved / (double)p->rate : 0.0);
	if (report_schedule_unsent(s))
		fprintf(f, ", %" PRIu64 " due and never sent", report_schedule_unsent(s));
	fputs("\n", f);
	if (who)
		fprintf(f, "  missed        the target, by more than %.0f%%: %s\n",
			RATE_TOLERANCE * 100,
			strcmp(who, "server") == 0
				? "the server did not read fast enough (the sockets stayed full)"
				: "the client could not send fast enough (try more --threads)");
}

/* "2.10us/round trip (0.85 core)", or the share of a core alone without round trips. */
static void text_cpu_side(FILE *f, uint64_t nsec, uint64_t wall_nsec, uint64_t round_trips) {
	char b[32];

	if (round_trips)
		fprintf(f, "%s/round trip (%.2f core)",
			report_latency_text(b, sizeof(b), (nsec + round_trips / 2) / round_trips),
			report_cores(nsec, wall_nsec));
	else
		fprintf(f, "%.2f core", report_cores(nsec, wall_nsec));
}

static void text_cpu(FILE *f, const struct drive_result *r) {
	const struct drive_cpu *c = &r->cpu;
	char why[CPU_ABSENT_MAX];
	const char *absent = report_cpu_server_absent(c, why, sizeof(why));

	if (!c->measured)
		return; /* nothing was: the lines below say so */
	fputs("  cpu           client ", f);
	text_cpu_side(f, c->client_nsec, r->elapsed_usec * NSEC_PER_USEC, r->round_trips);
	fputs(", server ", f);
	if (absent)
		fprintf(f, "n/a (%s)", absent);
	else
		text_cpu_side(f, c->server_nsec, c->server_wall_nsec, r->round_trips);
	fputc('\n', f);
}

static void text_latency(FILE *f, const struct hist *h) {
	char b[5][32];

	if (h->n == 0) {
		fprintf(f, "  latency       no round trips completed\n");
		return;
	}
	fprintf(f, "  latency       p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		report_latency_text(b[0], 32, hist_percentile(h, 50, NULL)),
		report_latency_text(b[1], 32, hist_percentile(h, 90, NULL)),
		report_latency_text(b[2], 32, hist_percentile(h, 99, NULL)),
		report_latency_text(b[3], 32, hist_percentile(h, 99.9, NULL)),
		report_latency_text(b[4], 32, h->max));
	fprintf(f, "                min %s  mean %s  stddev %s\n",
		report_latency_text(b[0], 32, h->min),
		report_latency_text(b[1], 32, (uint64_t)hist_mean(h)),
		report_latency_text(b[2], 32, (uint64_t)hist_stddev(h)));
	if (h->overflow)
		fprintf(f,
			"                %" PRIu64 " round trips took longer than %s (counted, "
			"above the histogram)\n",
			h->overflow, report_latency_text(b[0], 32, HIST_TOP_NSEC));
}

/* The line that repeats what was asked, ended by what follows it. */
void report_text_header(FILE *f, const struct client_opts *o, const struct drive_params *p,
			const char *end) {
	char a[FORMAT_SIZE_MAX];

	unsigned threads = (unsigned)MIN((uint64_t)p->threads, p->connections);

	fprintf(f, "ipc-client %s: %" PRIu64 " connection%s, %u thread%s, %s chunks, ",
		client_command_to_string(o->command), p->connections,
		p->connections == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
		format_size(a, sizeof(a), p->chunk));
	if (p->mode == DRIVE_OPEN)
		fprintf(f, "%" PRIu64 " messages/s", p->rate);
	else
		fprintf(f, "depth %" PRIu64, p->depth);
	fprintf(f, ", %s, %s%s", client_type_to_string(p->type), o->socket, end);
}

/* With intervals the header went out before them (report_run_start()). */
static bool header_printed(const struct client_opts *o) {
	return o->report_interval_usec && o->command != CMD_SUITE;
}

static void text_run(FILE *f, const struct client_opts *o, const struct drive_params *p,
		     const struct drive_result *r) {
	char a[FORMAT_SIZE_MAX], b[FORMAT_SIZE_MAX], d[FORMAT_DURATION_MAX], ts[TIMESTAMP_MAX];
	char pl[PLACEMENT_MAX];

	if (!header_printed(o))
		report_text_header(f, o, p, r->interrupted ? " (interrupted)\n" : "\n");
	else if (r->interrupted)
		fputs("  interrupted   by a signal: the report covers the run until then\n", f);
	fprintf(f, "  connected     %" PRIu64, r->connected);
	if (r->opened != r->connected)
		fprintf(f, " of %" PRIu64 " opened", r->opened);
	fprintf(f, " in %s\n", format_timespan(d, sizeof(d), r->connect_usec));
	if (r->started.tv_sec > 0)
		fprintf(f, "  started       %s\n",
			report_timestamp_text(ts, sizeof(ts), &r->started));
	fprintf(f, "  elapsed       %s%s\n", format_timespan(d, sizeof(d), r->elapsed_usec),
		p->warmup_usec ? " (after warmup)" : "");
	fprintf(f, "  round trips   %" PRIu64 " (%.1f/s)\n", r->round_trips,
		report_per_second(r->round_trips, r->elapsed_usec));
	fprintf(f, "  throughput    %.2f MiB/s each way (%s sent, %s received)\n",
		report_per_second(r->bytes_received, r->elapsed_usec) / MIB,
		format_size(a, sizeof(a), r->bytes_sent),
		format_size(b, sizeof(b), r->bytes_received));
	if (p->mode == DRIVE_OPEN)
		text_schedule(f, p, &r->schedule);
	text_latency(f, &r->hist);
	text_cpu(f, r);
	fprintf(f, "  placement     %s\n", report_placement_text(pl, sizeof(pl), p));
	text_errors(f, r);
	if (r->connect_errno)
		report_text_connect_error(f, o, p, r->connect_errno);
	if (r->connected > 0 && r->round_trips == 0)
		fprintf(f, "  measured      nothing: %s\n",
			p->warmup_usec ? "the warm-up took the whole run"
				       : "no round trip completed");
	fprintf(f, "  exit status   %d\n", report_exit_status(r));
}

void report_run(FILE *f, const struct client_opts *o, const struct drive_params *p,
		const struct drive_result *r) {
	switch (report_format(o)) {
		case REPORT_JSON:
			report_json_head(f, o, p);
			fputs(", \"result\": ", f);
			report_json_result(f, p, r);
			fputs("}\n", f);
			break;
		case REPORT_CSV:
			if (!header_printed(o))
				fprintf(f, "%s\n", report_csv_header);
			report_csv_row(f, o, "summary", client_command_to_string(o->command), p, r);
			fputc('\n', f);
			break;
		case REPORT_TEXT:
			text_run(f, o, p, r);
			break;
	}
	fflush(f);
}

/* A suite row's note: why it did not run, or that it was interrupted; NULL for neither. */
static const char *suite_note(const struct suite_row *row) {
	if (!row->result)
		return row->skipped[0] ? row->skipped : "not run";
	return row->result->interrupted ? "interrupted" : NULL;
}

void report_suite(FILE *f, const struct client_opts *o, const struct suite_row *rows, size_t n) {
	char l[2][32], pl[PLACEMENT_MAX];

	switch (report_format(o)) {
		case REPORT_JSON:
			fprintf(f, "{\"version\": \"%s\", \"command\": \"suite\", \"suite\": ",
				VERSION);
			report_json_string(f, o->suite);
			fputs(", ", f);
			report_json_machine(f);
			fputs(", \"rows\": [", f);
			for (size_t i = 0; i < n; i++) {
				fprintf(f,
					"%s{\"workload\": \"%s\", \"parameters\": ", i ? ", " : "",
					rows[i].workload);
				report_json_params(f, o, &rows[i].params);
				fputs(", \"skipped\": ", f);
				if (rows[i].result)
					fputs("null", f);
				else
					report_json_string(f, suite_note(&rows[i]));
				fputs(", \"result\": ", f);
				if (rows[i].result)
					report_json_result(f, &rows[i].params, rows[i].result);
				else
					fputs("null", f);
				fputs("}", f);
			}
			fputs("]}\n", f);
			break;
		case REPORT_CSV:
			fprintf(f, "%s,note\n", report_csv_header);
			for (size_t i = 0; i < n; i++)
				report_csv_suite_row(f, o, rows[i].workload, &rows[i].params,
						     rows[i].result, suite_note(&rows[i]));
			break;
		case REPORT_TEXT:
			fprintf(f, "ipc-client suite %s: %s, %s, %s\n\n", o->suite,
				client_type_to_string(rows[0].params.type), o->socket,
				report_placement_text(pl, sizeof(pl), &rows[0].params));
			fprintf(f, "%-13s %11s %8s %12s %12s %10s %10s %10s %8s\n", "workload",
				"connections", "bytes", "round trips", "rt/s", "MiB/s", "p50",
				"p99", "errors");
			for (size_t i = 0; i < n; i++) {
				const struct drive_result *r = rows[i].result;
				const char *note = suite_note(&rows[i]);

				fprintf(f, "%-13s %11" PRIu64 " %8" PRIu64, rows[i].workload,
					rows[i].params.connections, rows[i].params.chunk);
				if (!r) {
					fprintf(f, "  skipped: %s\n", note);
					continue;
				}
				fprintf(f,
					" %12" PRIu64 " %12.0f %10.2f %10s %10s %8" PRIu64 "%s%s\n",
					r->round_trips,
					report_per_second(r->round_trips, r->elapsed_usec),
					report_per_second(r->bytes_received, r->elapsed_usec) / MIB,
					report_latency_text(l[0], 32,
							    hist_percentile(&r->hist, 50, NULL)),
					report_latency_text(l[1], 32,
							    hist_percentile(&r->hist, 99, NULL)),
					report_errors_total(&r->errors), note ? "  " : "",
					note ? note : "");
			}
			break;
	}
	fflush(f);
}

void report_run_start(FILE *f, const struct client_opts *o, const struct drive_params *p) {
	if (!header_printed(o))
		return;
	if (report_format(o) == REPORT_TEXT)
		report_text_header(f, o, p, "\n");
	else if (report_format(o) == REPORT_CSV)
		fprintf(f, "%s\n", report_csv_header);
	fflush(f);
}

void report_interval(FILE *f, const struct client_opts *o, const struct drive_params *p,
		     const struct report_interval *iv) {
	double rt_per_s = iv->span_s > 0 ? (double)iv->round_trips / iv->span_s : 0;
	double mib_per_s = iv->span_s > 0 ? (double)iv->bytes / iv->span_s / MIB : 0;
	const struct hist *h = iv->latency;
	char l[3][32];

	switch (report_format(o)) {
		case REPORT_JSON:
			fprintf(f,
				"{\"kind\": \"interval\", \"command\": \"%s\", \"t_s\": %.6f"
				", \"span_s\": %.6f, \"round_trips\": %" PRIu64
				", \"round_trips_per_s\": %.1f, \"mib_per_s\": %.3f"
				", \"latency_us\": ",
				client_command_to_string(o->command), iv->t_s, iv->span_s,
				iv->round_trips, rt_per_s, mib_per_s);
			report_json_latency(f, h);
			fprintf(f, ", \"errors\": %" PRIu64 "}\n", iv->errors);
			break;
		case REPORT_CSV:
			report_csv_params(f, "interval", client_command_to_string(o->command), p);
			fprintf(f, ",%.6f,%" PRIu64 ",%.1f,%.3f", iv->t_s, iv->round_trips,
				rt_per_s, mib_per_s);
			report_csv_latency(f, h);
			for (size_t i = 0; i < report_csv_columns_after(19); i++)
				fputc(',', f);
			fputc('\n', f);
			break;
		case REPORT_TEXT:
			fprintf(f, "  [%7.1fs]  %12.1f rt/s  %10.2f MiB/s", iv->t_s, rt_per_s,
				mib_per_s);
			if (h->n)
				fprintf(f, "  p50 %s  p99 %s  max %s",
					report_latency_text(l[0], 32, hist_percentile(h, 50, NULL)),
					report_latency_text(l[1], 32, hist_percentile(h, 99, NULL)),
					report_latency_text(l[2], 32, h->max));
			fprintf(f, "  %" PRIu64 " errors\n", iv->errors);
			break;
	}
	fflush(f);
}

void report_progress(FILE *f, double fraction, double elapsed_s, double rt_per_s, uint64_t errors) {
	int width = 30, filled = (int)(MIN(MAX(fraction, 0.0), 1.0) * width);

	fprintf(f, "\r[%.*s%*s] %3.0f%%  %6.1fs  %11.0f rt/s  %" PRIu64 " errors", filled,
		"##############################", width - filled, "", fraction * 100, elapsed_s,
		rt_per_s, errors);
	fflush(f);
}

void report_progress_clear(FILE *f) {
	fprintf(f, "\r%90s\r", "");
	fflush(f);
}

void report_ping_reply(FILE *f, const char *socket, uint64_t seq, uint64_t bytes, uint64_t nsec) {
	const struct latency_unit *u = latency_unit_of(nsec);
	double v = (double)nsec / u->nsec;

	fprintf(f, "%" PRIu64 " bytes from %s: seq=%" PRIu64 " time=%.*f %s\n", bytes, socket, seq,
		latency_decimals(v), v, u->name);
	fflush(f);
}

/* ping's rtt lines, in one unit and to one resolution, both set by the minimum so that it
 * has three significant digits; every other figure but mdev is at least as large. */
static void text_ping_rtt(FILE *f, const struct hist *h) {
	const struct latency_unit *u = latency_unit_of(h->min);
	int d = latency_decimals((double)h->min / u->nsec);
	double p[ARRAY_SIZE(report_percentiles)];

	for (size_t i = 0; i < ARRAY_SIZE(report_percentiles); i++)
		p[i] = (double)hist_percentile(h, report_percentiles[i], NULL) / u->nsec;
	fprintf(f, "rtt min/avg/max/mdev = %.*f/%.*f/%.*f/%.*f %s\n", d, (double)h->min / u->nsec,
		d, hist_mean(h) / u->nsec, d, (double)h->max / u->nsec, d, hist_stddev(h) / u->nsec,
		u->name);
	fprintf(f, "rtt p50/p90/p99/p99.9 = %.*f/%.*f/%.*f/%.*f %s\n", d, p[0], d, p[1], d, p[2], d,
		p[3], u->name);
}

void report_ping_summary(FILE *f, const struct client_opts *o, const struct ping_summary *ps) {
	const struct hist *h = ps->latency;
	double loss = ps->sent ? 100.0 * (double)(ps->sent - ps->received) / (double)ps->sent : 0.0;
	char ts[TIMESTAMP_MAX];

	report_timestamp_text(ts, sizeof(ts), &ps->started);
	switch (report_format(o)) {
		case REPORT_JSON:
			fprintf(f,
				"{\"kind\": \"summary\", \"version\": \"%s\", \"command\": "
				"\"ping\", ",
				VERSION);
			report_json_machine(f);
			fputs(", \"parameters\": {\"socket\": ", f);
			report_json_string(f, o->socket);
			fprintf(f,
				", \"type\": \"%s\", \"chunk\": %" PRIu64 ", \"count\": %" PRIu64
				", \"interval_s\": %.6g}",
				client_type_to_string(o->type), o->chunk, o->count,
				(double)o->ping_interval_usec / 1e6);
			fprintf(f,
				", \"result\": {\"transmitted\": %" PRIu64
				", \"received\": %" PRIu64
				", \"loss_percent\": %.1f, \"elapsed_s\": %.6f, "
				"\"verify_failures\": %" PRIu64
				", \"interrupted\": %s, \"timestamp\": ",
				ps->sent, ps->received, loss, (double)ps->elapsed_usec / 1e6,
				ps->verify_failures, ps->interrupted ? "true" : "false");
			if (ts[0])
				report_json_string(f, ts);
			else
				fputs("null", f);
			fputs(", \"latency_us\": ", f);
			report_json_latency(f, h);
			fprintf(f, ", \"exit_status\": %d}}\n", ps->exit_status);
			break;
		case REPORT_CSV:
			fputs("kind,command,socket,type,chunk,transmitted,received,loss_percent,"
			      "min_us,"
			      "mean_us,max_us,stddev_us,p50_us,p90_us,p99_us,p99_9_us,verify_"
			      "failures,"
			      "interrupted,timestamp,exit_status\n",
			      f);
			fputs("summary,ping,", f);
			report_csv_string(f, o->socket);
			fprintf(f, ",%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f",
				client_type_to_string(o->type), o->chunk, ps->sent, ps->received,
				loss);
			if (h->n) {
				fprintf(f, ",%.3f,%.3f,%.3f,%.3f", (double)h->min / 1e3,
					hist_mean(h) / 1e3, (double)h->max / 1e3,
					hist_stddev(h) / 1e3);
				for (size_t i = 0; i < ARRAY_SIZE(report_percentiles); i++)
					fprintf(f, ",%.3f",
						(double)hist_percentile(h, report_percentiles[i],
									NULL) /
							1e3);
			} else
				fputs(",,,,,,,,", f);
			fprintf(f, ",%" PRIu64 ",%s,%s,%d\n", ps->verify_failures,
				ps->interrupted ? "true" : "false", ts, ps->exit_status);
			break;
		case REPORT_TEXT:
			fprintf(f, "--- %s ipc-client ping statistics ---\n", o->socket);
			fprintf(f,
				"%" PRIu64 " transmitted, %" PRIu64
				" received, %.1f%% loss, time %.0fms\n",
				ps->sent, ps->received, loss, (double)ps->elapsed_usec / 1e3);
			if (h->n)
				text_ping_rtt(f, h);
			if (ps->verify_failures)
				fprintf(f, "%" PRIu64 " echoes differed from what was sent\n",
					ps->verify_failures);
			break;
	}
	fflush(f);
}
