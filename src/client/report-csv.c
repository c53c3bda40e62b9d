/* SPDX-License-Identifier: MIT */
/* The CSV reports' header and the pieces of their rows: parameters, latencies, a run's
 * summary row, a skipped suite row, and quoted strings. report.c puts them into lines. */
#include <inttypes.h>
#include <string.h>

#include "cpulist.h"
#include "macro.h"
#include "report-internal.h"

const char *const report_csv_header =
	"kind,command,type,mode,connections,chunk,depth,rate,elapsed_s,round_trips,"
	"round_trips_per_s,"
	"mib_per_s,p50_us,p90_us,p99_us,p99_9_us,max_us,mean_us,stddev_us,refused,connect_failed,"
	"connect_timeout,reset,eof_early,timed_out,verify_failures,short_connections,"
	"closed_by_server,lost,connections_opened,target_per_s,achieved_per_s,unsent,min_us,"
	"socket,threads,interrupted,timestamp,exit_status,"
	"client_cpu_ns_per_rt,client_cores,server_cpu_ns_per_rt,server_cores,pinned,cpus";

/* The columns up to rate: what the line is, and what was asked for. */
void report_csv_params(FILE *f, const char *kind, const char *command,
		       const struct drive_params *p) {
	fprintf(f, "%s,%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64, kind, command,
		client_type_to_string(p->type), p->mode == DRIVE_OPEN ? "open" : "closed",
		p->connections, p->chunk, p->mode == DRIVE_CLOSED ? p->depth : 0,
		p->mode == DRIVE_OPEN ? p->rate : 0);
}

/* The latency columns, empty for no round trips: there is no 0 µs percentile. */
void report_csv_latency(FILE *f, const struct hist *h) {
	if (h->n == 0) {
		fputs(",,,,,,,", f);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(report_percentiles); i++)
		fprintf(f, ",%.3f", (double)hist_percentile(h, report_percentiles[i], NULL) / 1e3);
	fprintf(f, ",%.3f,%.3f,%.3f", (double)h->max / 1e3, hist_mean(h) / 1e3,
		hist_stddev(h) / 1e3);
}

/* The number of columns after the first n of the header. */
size_t report_csv_columns_after(size_t n) {
	size_t columns = 1;

	for (const char *c = strchr(report_csv_header, ','); c; c = strchr(c + 1, ','))
		columns++;
	return columns - n;
}

/* CPU per round trip and in cores, client then server; empty where there is no figure. */
static void csv_cpu(FILE *f, const struct drive_result *r) {
	const struct drive_cpu *c = &r->cpu;
	char why[CPU_ABSENT_MAX];
	const struct {
		bool have;
		uint64_t nsec, wall_nsec;
	} side[] = {
		{ c->measured, c->client_nsec, r->elapsed_usec * NSEC_PER_USEC },
		{ !report_cpu_server_absent(c, why, sizeof(why)), c->server_nsec,
		  c->server_wall_nsec },
	};

	for (size_t i = 0; i < ARRAY_SIZE(side); i++) {
		if (side[i].have && r->round_trips)
			fprintf(f, ",%.1f", (double)side[i].nsec / (double)r->round_trips);
		else
			fputc(',', f);
		if (side[i].have)
			fprintf(f, ",%.3f", report_cores(side[i].nsec, side[i].wall_nsec));
		else
			fputc(',', f);
	}
}

/* One CSV line, without its end: the suite adds a column. */
void report_csv_row(FILE *f, const struct client_opts *o, const char *kind, const char *command,
		    const struct drive_params *p, const struct drive_result *r) {
	char ts[TIMESTAMP_MAX], cpus[CPULIST_MAX];
	const struct hist *h = &r->hist;
	const struct drive_errors *e = &r->errors;

	report_csv_params(f, kind, command, p);
	fprintf(f, ",%.6f,%" PRIu64 ",%.1f,%.3f", (double)r->elapsed_usec / 1e6, r->round_trips,
		report_per_second(r->round_trips, r->elapsed_usec),
		report_per_second(r->bytes_received, r->elapsed_usec) / MIB);
	report_csv_latency(f, h);
	fprintf(f,
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		e->refused, e->connect_failed, e->connect_timeout, e->reset, e->eof_early,
		e->timed_out, e->verify_failures, e->short_connections, e->closed_by_server,
		e->lost, r->opened);
	if (p->mode == DRIVE_OPEN)
		fprintf(f, ",%" PRIu64 ",%.1f,%" PRIu64, p->rate,
			report_per_second(r->schedule.sent, r->schedule.run_usec),
			report_schedule_unsent(&r->schedule));
	else
		fputs(",,,", f);
	if (h->n)
		fprintf(f, ",%.3f,", (double)h->min / 1e3);
	else
		fputs(",,", f);
	report_csv_string(f, o->socket);
	fprintf(f, ",%u,%s,%s,%d", (unsigned)MIN((uint64_t)p->threads, p->connections),
		r->interrupted ? "true" : "false",
		report_timestamp_text(ts, sizeof(ts), &r->started), report_exit_status(r));
	csv_cpu(f, r);
	/* Quoted: "0,2" holds a comma. */
	fprintf(f, ",%s,", p->pinned ? "true" : "false");
	report_csv_string(f, cpulist_format(cpus, sizeof(cpus), &p->cpus));
}

void report_csv_string(FILE *f, const char *s) {
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f); /* doubled, as CSV escapes it */
		fputc(*s, f);
	}
	fputc('"', f);
}

/* A suite's row: its result, or its parameters and every measured column empty when it did
 * not run; then the note column ("skipped: " before the reason it did not run) and the end. */
void report_csv_suite_row(FILE *f, const struct client_opts *o, const char *workload,
			  const struct drive_params *p, const struct drive_result *r,
			  const char *note) {
	if (r)
		report_csv_row(f, o, "summary", workload, p, r);
	else {
		report_csv_params(f, "summary", workload, p);
		for (size_t i = 0; i < report_csv_columns_after(8); i++)
			fputc(',', f);
	}
	fputc(',', f);
	if (note && !r) {
		char skipped[SUITE_SKIPPED_MAX + 80];
		snprintf(skipped, sizeof(skipped), "skipped: %s", note);
		report_csv_string(f, skipped);
	} else if (note)
		report_csv_string(f, note);
	fputc('\n', f);
}
