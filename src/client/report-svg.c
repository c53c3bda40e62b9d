/* SPDX-License-Identifier: MIT */
/*
 * suite transports' chart: one panel per workload, one bar per transport, its length the
 * round trips per second against the best of the panel, labelled with the rate, p50 and the
 * CPU per round trip on both sides. ipcd's bars and the floors' differ in colour. Plain SVG
 * 1.1 text, no script: a browser, an image viewer or a document embeds it as it is.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "macro.h"
#include "report-internal.h"
#include "suite-transports.h"

#define WIDTH 960
#define LABEL_W 170 /* the transport names */
#define BAR_W 420   /* the best row's bar */
#define BAR_H 16
#define ROW_H 22
#define TITLE_H 46
#define PANEL_HEAD_H 28
#define PANEL_GAP 14

static size_t rows_of(const struct transport_row *rows, size_t n, size_t w) {
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += rows[i].workload_index == w;
	return k;
}

/* Text as SVG holds it: the five characters XML reserves escaped. */
static void svg_text(FILE *f, const char *s) {
	for (; *s; s++)
		switch (*s) {
			case '<':
				fputs("&lt;", f);
				break;
			case '>':
				fputs("&gt;", f);
				break;
			case '&':
				fputs("&amp;", f);
				break;
			case '"':
				fputs("&quot;", f);
				break;
			case '\'':
				fputs("&apos;", f);
				break;
			default:
				fputc(*s, f);
		}
}

static void bar_label(FILE *f, const struct transport_row *row) {
	const struct drive_result *r = row->result;
	char l[3][LATENCY_TEXT_MAX];

	if (!r) {
		fputs("skipped: ", f);
		svg_text(f, row->skipped[0] ? row->skipped : "not run");
		return;
	}
	if (r->opened == 0) {
		fputs("did not connect: ", f);
		svg_text(f, r->connect_errno ? strerror(r->connect_errno) : "no connection opened");
		return;
	}
	fprintf(f, "%.0f rt/s (%.2fx), p50 %s, CPU/rt client %s",
		report_per_second(r->round_trips, r->elapsed_usec), row->ratio,
		report_latency_text(l[0], sizeof(l[0]), hist_percentile(&r->hist, 50, NULL)),
		r->round_trips ? report_latency_text(l[1], sizeof(l[1]),
						     r->cpu.client_nsec / r->round_trips)
			       : "-");
	if (r->cpu.server == SERVER_CPU_MEASURED && r->round_trips)
		fprintf(f, ", server %s",
			report_latency_text(l[2], sizeof(l[2]),
					    r->cpu.server_nsec / r->round_trips));
	if (report_errors_total(&r->errors))
		fprintf(f, ", %" PRIu64 " errors", report_errors_total(&r->errors));
}

static int panel(FILE *f, const struct transport_row *rows, size_t n, size_t w, int y) {
	const struct transport_row *first = transport_rows_first(rows, n, w);

	if (!first)
		return y;
	fprintf(f,
		"<text x=\"10\" y=\"%d\" font-weight=\"bold\">%s, %" PRIu64 "-byte chunks</text>\n",
		y + 18, first->workload, first->params.chunk);
	y += PANEL_HEAD_H;
	for (size_t i = 0; i < n; i++) {
		const struct transport_row *row = &rows[i];
		int len = (int)(row->ratio * BAR_W + 0.5);

		if (row->workload_index != w)
			continue;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 8, y + 12);
		svg_text(f, row->transport);
		fputs("</text>\n", f);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n",
			LABEL_W, y, MAX(len, 1), BAR_H, row->address ? "#3b6fb6" : "#9a9a9a");
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", LABEL_W + MAX(len, 1) + 6,
			y + 12);
		bar_label(f, row);
		fputs("</text>\n", f);
		y += ROW_H;
	}
	return y + PANEL_GAP;
}

int report_transports_svg(FILE *f, const struct transport_row *rows, size_t n) {
	size_t workloads = transport_rows_workloads(rows, n);
	int height = TITLE_H;
	char pl[PLACEMENT_MAX];

	for (size_t w = 0; w < workloads; w++)
		height += PANEL_HEAD_H + (int)rows_of(rows, n, w) * ROW_H + PANEL_GAP;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
		WIDTH, height, WIDTH, height);
	fputs("<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">ipc-client suite "
	      "transports: round trips per second, against the best of each workload</text>\n",
	      f);
	fputs("<text x=\"10\" y=\"38\" font-size=\"11\">blue: through ipcd; grey: the kernel's "
	      "floor, no server. 1 connection, 1 chunk in flight; ",
	      f);
	svg_text(f, report_placement_text(pl, sizeof(pl), &rows[0].params));
	fputs("</text>\n", f);
	for (size_t w = 0, y = TITLE_H; w < workloads; w++)
		y = (size_t)panel(f, rows, n, w, (int)y);
	fputs("</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}
