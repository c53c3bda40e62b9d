/* SPDX-License-Identifier: MIT */
/* The pieces of the JSON reports: strings, latencies, errors, the schedule, the machine, a run's
 * parameters and result. report.c puts them together into documents and lines. */
#include <inttypes.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cpulist.h"
#include "macro.h"
#include "report-internal.h"

void report_json_string(FILE *f, const char *s) {
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* With no round trips there is no minimum or percentile: null, not a 0 µs one. */
void report_json_latency(FILE *f, const struct hist *h) {
	if (h->n == 0) {
		fputs("{\"count\": 0, \"min\": null", f);
		for (size_t i = 0; i < ARRAY_SIZE(report_percentiles); i++)
			fprintf(f, ", \"%s\": null", report_percentile_keys[i]);
		fputs(", \"max\": null, \"mean\": null, \"stddev\": null, \"overflow\": 0}", f);
		return;
	}
	fprintf(f, "{\"count\": %" PRIu64 ", \"min\": %.3f", h->n, (double)h->min / 1e3);
	for (size_t i = 0; i < ARRAY_SIZE(report_percentiles); i++)
		fprintf(f, ", \"%s\": %.3f", report_percentile_keys[i],
			(double)hist_percentile(h, report_percentiles[i], NULL) / 1e3);
	fprintf(f, ", \"max\": %.3f, \"mean\": %.3f, \"stddev\": %.3f, \"overflow\": %" PRIu64 "}",
		(double)h->max / 1e3, hist_mean(h) / 1e3, hist_stddev(h) / 1e3, h->overflow);
}

static void json_errors(FILE *f, const struct drive_errors *e) {
	fprintf(f,
		"{\"refused\": %" PRIu64 ", \"closed_by_server\": %" PRIu64
		", \"connect_failed\": %" PRIu64 ", \"connect_timeout\": %" PRIu64
		", \"reset\": %" PRIu64 ", \"eof_early\": %" PRIu64 ", \"timed_out\": %" PRIu64
		", \"verify_failures\": %" PRIu64 ", \"lost\": %" PRIu64
		", \"short_connections\": %" PRIu64 "}",
		e->refused, e->closed_by_server, e->connect_failed, e->connect_timeout, e->reset,
		e->eof_early, e->timed_out, e->verify_failures, e->lost, e->short_connections);
}

/* The open loop's target against what went out; null for the closed loop. */
static void json_schedule(FILE *f, const struct drive_params *p, const struct drive_schedule *s) {
	const char *who = report_schedule_bottleneck(s);

	if (p->mode != DRIVE_OPEN) {
		fputs("null", f);
		return;
	}
	fprintf(f,
		"{\"target_per_s\": %" PRIu64 ", \"achieved_per_s\": %.1f, \"due\": %" PRIu64
		", \"sent\": %" PRIu64 ", \"unsent\": %" PRIu64 ", \"missed\": %s"
		", \"bottleneck\": ",
		p->rate, report_per_second(s->sent, s->run_usec), s->due, s->sent,
		report_schedule_unsent(s), report_schedule_missed(s) ? "true" : "false");
	if (who)
		report_json_string(f, who);
	else
		fputs("null", f);
	fputs("}", f);
}

void report_json_machine(FILE *f) {
	struct utsname u;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	fprintf(f, "\"machine\": {\"cpus\": %ld, \"kernel\": ", cpus > 0 ? cpus : 1);
	report_json_string(f, uname(&u) == 0 ? u.release : "unknown");
	fputs("}", f);
}

void report_json_params(FILE *f, const struct client_opts *o, const struct drive_params *p) {
	char cpus[CPULIST_MAX];

	fputs("{\"socket\": ", f);
	report_json_string(f, o->socket);
	fprintf(f,
		", \"type\": \"%s\", \"mode\": \"%s\", \"connections\": %" PRIu64
		", \"chunk\": %" PRIu64 ", \"depth\": %" PRIu64 ", \"rate\": %" PRIu64
		", \"bytes_per_connection\": %" PRIu64 ", \"total_bytes\": %" PRIu64
		", \"duration_s\": %.6g, \"warmup_s\": %.6g, \"threads\": %u, \"verify\": %s"
		", \"connect_timeout_s\": %.6g, \"io_timeout_s\": %.6g",
		client_type_to_string(p->type), p->mode == DRIVE_OPEN ? "open" : "closed",
		p->connections, p->chunk, p->mode == DRIVE_CLOSED ? p->depth : 0,
		p->mode == DRIVE_OPEN ? p->rate : 0, p->bytes_per_conn,
		p->bytes_per_conn ? p->bytes_per_conn * p->connections + p->extra_bytes : 0,
		(double)p->duration_usec / 1e6, (double)p->warmup_usec / 1e6,
		(unsigned)MIN((uint64_t)p->threads, p->connections), p->verify ? "true" : "false",
		(double)p->connect_timeout_usec / 1e6, (double)p->io_timeout_usec / 1e6);
	fprintf(f, ", \"placement\": {\"pinned\": %s, \"cpus\": \"%s\"}}",
		p->pinned ? "true" : "false", cpulist_format(cpus, sizeof(cpus), &p->cpus));
}

/* One side's CPU time: per round trip (null without any) and as a share of a core. */
static void json_cpu_side(FILE *f, pid_t pid, uint64_t nsec, uint64_t wall_nsec,
			  uint64_t round_trips) {
	fputc('{', f);
	if (pid > 0)
		fprintf(f, "\"pid\": %d, ", (int)pid);
	fprintf(f, "\"cpu_s\": %.6f, \"ns_per_round_trip\": ", (double)nsec / 1e9);
	if (round_trips)
		fprintf(f, "%.1f", (double)nsec / (double)round_trips);
	else
		fputs("null", f);
	fprintf(f, ", \"cores\": %.3f}", report_cores(nsec, wall_nsec));
}

static void json_cpu(FILE *f, const struct drive_result *r) {
	const struct drive_cpu *c = &r->cpu;
	char why[CPU_ABSENT_MAX];
	const char *absent = report_cpu_server_absent(c, why, sizeof(why));

	fputs("{\"client\": ", f);
	if (c->measured)
		json_cpu_side(f, 0, c->client_nsec, r->elapsed_usec * NSEC_PER_USEC,
			      r->round_trips);
	else
		fputs("null", f);
	fputs(", \"server\": ", f);
	if (absent)
		fputs("null", f);
	else
		json_cpu_side(f, c->server_pid, c->server_nsec, c->server_wall_nsec,
			      r->round_trips);
	fputs(", \"server_absent\": ", f);
	if (absent)
		report_json_string(f, absent);
	else
		fputs("null", f);
	fputs("}", f);
}

void report_json_result(FILE *f, const struct drive_params *p, const struct drive_result *r) {
	fprintf(f,
		"{\"connections\": %" PRIu64 ", \"connections_opened\": %" PRIu64
		", \"connect_s\": %.6f, \"elapsed_s\": %.6f"
		", \"round_trips\": %" PRIu64 ", \"bytes_sent\": %" PRIu64
		", \"bytes_received\": %" PRIu64 ", \"round_trips_per_s\": %.1f"
		", \"mib_per_s\": %.3f, \"interrupted\": %s, \"latency_us\": ",
		r->connected, r->opened, (double)r->connect_usec / 1e6,
		(double)r->elapsed_usec / 1e6, r->round_trips, r->bytes_sent, r->bytes_received,
		report_per_second(r->round_trips, r->elapsed_usec),
		report_per_second(r->bytes_received, r->elapsed_usec) / MIB,
		r->interrupted ? "true" : "false");
	report_json_latency(f, &r->hist);
	fputs(", \"timestamp\": ", f);
	if (r->started.tv_sec > 0) {
		char ts[TIMESTAMP_MAX];
		report_json_string(f, report_timestamp_text(ts, sizeof(ts), &r->started));
	} else
		fputs("null", f);
	fputs(", \"rate\": ", f);
	json_schedule(f, p, &r->schedule);
	fputs(", \"cpu\": ", f);
	json_cpu(f, r);
	fputs(", \"errors\": ", f);
	json_errors(f, &r->errors);
	fputs(", \"connect_error\": ", f);
	if (r->connect_errno)
		report_json_string(f, strerror(r->connect_errno));
	else
		fputs("null", f);
	fputs(", \"mismatches\": [", f);
	for (uint64_t i = 0; i < r->n_mismatches; i++)
		fprintf(f, "%s{\"connection\": %" PRIu64 ", \"offset\": %" PRIu64 "}",
			i ? ", " : "", r->mismatches[i].connection, r->mismatches[i].offset);
	fprintf(f, "], \"exit_status\": %d}", report_exit_status(r));
}

void report_json_head(FILE *f, const struct client_opts *o, const struct drive_params *p) {
	fprintf(f, "{\"kind\": \"summary\", \"version\": \"%s\", \"command\": \"%s\", ", VERSION,
		client_command_to_string(o->command));
	report_json_machine(f);
	fputs(", \"parameters\": ", f);
	report_json_params(f, o, p);
}
