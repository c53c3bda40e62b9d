/* SPDX-License-Identifier: MIT */
/* suite transports' results: each row against the best of its workload, and the table, the
 * JSON document and CSV that show them. */
#include <inttypes.h>
#include <string.h>

#include "macro.h"
#include "report-internal.h"
#include "suite-transports.h"

#define NOTE_MAX (SUITE_SKIPPED_MAX + 64)

static double row_rate(const struct transport_row *row) {
	const struct drive_result *r = row->result;
	return r ? report_per_second(r->round_trips, r->elapsed_usec) : 0.0;
}

void transport_rows_rank(struct transport_row *rows, size_t n) {
	for (size_t i = 0; i < n; i++) {
		double best = 0.0;

		for (size_t k = 0; k < n; k++)
			if (rows[k].workload_index == rows[i].workload_index)
				best = MAX(best, row_rate(&rows[k]));
		rows[i].ratio = best > 0.0 ? row_rate(&rows[i]) / best : 0.0;
	}
}

size_t transport_rows_workloads(const struct transport_row *rows, size_t n) {
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w = MAX(w, rows[i].workload_index + 1);
	return w;
}

const struct transport_row *transport_rows_first(const struct transport_row *rows, size_t n,
						 size_t w) {
	for (size_t i = 0; i < n; i++)
		if (rows[i].workload_index == w)
			return &rows[i];
	return NULL;
}

/* A row's note: why it did not run or connect, or that it was interrupted; NULL for none. */
static const char *row_note(const struct transport_row *row, char *buf, size_t len) {
	const struct drive_result *r = row->result;

	if (!r)
		return row->skipped[0] ? row->skipped : "not run";
	if (r->opened == 0) {
		snprintf(buf, len, "did not connect: %s",
			 r->connect_errno ? strerror(r->connect_errno) : "no connection opened");
		return buf;
	}
	return r->interrupted ? "interrupted" : NULL;
}

static void json_row(FILE *f, const struct transport_row *row) {
	fputs("{\"transport\": ", f);
	report_json_string(f, row->transport);
	fputs(", \"socket\": ", f);
	if (row->address)
		report_json_string(f, row->address);
	else
		fputs("null", f);
	fprintf(f, ", \"floor\": %s, \"workload\": \"%s\", \"parameters\": ",
		row->address ? "false" : "true", row->workload);
	report_json_params(f, &row->opts, &row->params);
	fputs(", \"skipped\": ", f);
	if (row->result)
		fputs("null", f);
	else
		report_json_string(f, row_note(row, (char[NOTE_MAX]){ 0 }, NOTE_MAX));
	fputs(", \"result\": ", f);
	if (row->result)
		report_json_result(f, &row->params, row->result);
	else
		fputs("null", f);
	if (row->ratio > 0.0)
		fprintf(f, ", \"ratio_to_best\": %.4f}", row->ratio);
	else
		fputs(", \"ratio_to_best\": null}", f);
}

static void json_document(FILE *f, const struct transport_row *rows, size_t n) {
	fprintf(f, "{\"version\": \"%s\", \"command\": \"suite\", \"suite\": \"transports\", ",
		VERSION);
	report_json_machine(f);
	fputs(", \"rows\": [", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		json_row(f, &rows[i]);
	}
	fputs("]}\n", f);
}

static void csv_document(FILE *f, const struct transport_row *rows, size_t n) {
	fprintf(f, "transport,floor,ratio_to_best,%s,note\n", report_csv_header);
	for (size_t i = 0; i < n; i++) {
		const struct transport_row *row = &rows[i];
		char buf[NOTE_MAX];

		report_csv_string(f, row->transport);
		fprintf(f, ",%s,", row->address ? "false" : "true");
		if (row->ratio > 0.0)
			fprintf(f, "%.4f", row->ratio);
		fputc(',', f);
		report_csv_suite_row(f, &row->opts, row->workload, &row->params, row->result,
				     row_note(row, buf, sizeof(buf)));
	}
}

/* CPU time per round trip, or "-" when there is none to divide. */
static const char *cpu_text(char *buf, size_t len, bool have, uint64_t nsec, uint64_t rts) {
	if (!have || rts == 0)
		return "-";
	return report_latency_text(buf, len, (nsec + rts / 2) / rts);
}

static void text_row(FILE *f, const struct transport_row *row) {
	const struct drive_result *r = row->result;
	char l[4][LATENCY_TEXT_MAX], buf[NOTE_MAX];
	const char *note = row_note(row, buf, sizeof(buf));

	fprintf(f, "  %-18s", row->transport);
	if (!r || r->opened == 0) {
		fprintf(f, " %s%s\n", r ? "" : "skipped: ", note);
		return;
	}
	fprintf(f, " %10.0f %9.2f %9s %9s %9s %9s %6.2fx %6" PRIu64 "%s%s\n", row_rate(row),
		report_per_second(r->bytes_received, r->elapsed_usec) / MIB,
		report_latency_text(l[0], sizeof(l[0]), hist_percentile(&r->hist, 50, NULL)),
		report_latency_text(l[1], sizeof(l[1]), hist_percentile(&r->hist, 99, NULL)),
		cpu_text(l[2], sizeof(l[2]), r->cpu.measured, r->cpu.client_nsec, r->round_trips),
		cpu_text(l[3], sizeof(l[3]), r->cpu.server == SERVER_CPU_MEASURED,
			 r->cpu.server_nsec, r->round_trips),
		row->ratio, report_errors_total(&r->errors), note ? "  " : "", note ? note : "");
}

static void text_document(FILE *f, const struct transport_row *rows, size_t n) {
	char pl[PLACEMENT_MAX];

	fprintf(f,
		"ipc-client suite transports: 1 connection, 1 chunk in flight, every byte "
		"verified; %s\n"
		"client/rt, server/rt: CPU time per round trip (the server: ipcd, or a floor's "
		"echo "
		"process)\n\n",
		report_placement_text(pl, sizeof(pl), &rows[0].params));
	for (size_t i = 0; i < n; i++)
		if (rows[i].workload_index == 0)
			fprintf(f, "  %-18s %s\n", rows[i].transport,
				rows[i].address ? rows[i].address
						: "floor: no server, a forked echo process");
	for (size_t w = 0; w < transport_rows_workloads(rows, n); w++) {
		const struct transport_row *first = transport_rows_first(rows, n, w);
		if (!first)
			continue;
		fprintf(f, "\n%s, %" PRIu64 "-byte chunks, %" PRIu64 " round trips\n",
			first->workload, first->params.chunk,
			first->params.bytes_per_conn / first->params.chunk);
		fprintf(f, "  %-18s %10s %9s %9s %9s %9s %9s %7s %6s\n", "transport", "rt/s",
			"MiB/s", "p50", "p99", "client/rt", "server/rt", "vs best", "errors");
		for (size_t i = 0; i < n; i++)
			if (rows[i].workload_index == w)
				text_row(f, &rows[i]);
	}
}

void report_transports(FILE *f, enum report_format format, const struct transport_row *rows,
		       size_t n) {
	switch (format) {
		case REPORT_JSON:
			json_document(f, rows, n);
			break;
		case REPORT_CSV:
			csv_document(f, rows, n);
			break;
		case REPORT_TEXT:
			text_document(f, rows, n);
			break;
	}
	fflush(f);
}
