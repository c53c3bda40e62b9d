/* SPDX-License-Identifier: MIT */
/*
 * The metrics as Prometheus reads them: names with the ipcd_ prefix, base units (bytes,
 * seconds), counters ending in _total, each family once with its HELP and TYPE.
 * Pure: no logging; writes to the stream it is given.
 */
#include <inttypes.h>

#include "metrics-text.h"

static void family(FILE *f, const char *name, const char *type, const char *help) {
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and line feed escaped, as the format asks. */
static void label_value(FILE *f, const char *s) {
	fputc('"', f);
	for (; *s; s++)
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	fputc('"', f);
}

static void sample(FILE *f, const char *name, const char *label, const char *value, uint64_t v) {
	fputs(name, f);
	if (label) {
		fprintf(f, "{%s=", label);
		label_value(f, value);
		fputc('}', f);
	}
	fprintf(f, " %" PRIu64 "\n", v);
}

/* A family of one sample without labels. */
static void single(FILE *f, const char *name, const char *type, const char *help, uint64_t v) {
	family(f, name, type, help);
	sample(f, name, NULL, NULL, v);
}

static void seconds(FILE *f, const char *name, uint64_t usec) {
	fprintf(f, "%s %" PRIu64 ".%06" PRIu64 "\n", name, usec / 1000000, usec % 1000000);
}

static void write_process(const struct metrics_snapshot *m, FILE *f) {
	family(f, "ipcd_build_info", "gauge", "Always 1; the version of this ipcd is its label.");
	sample(f, "ipcd_build_info", "version", m->version, 1);
	family(f, "ipcd_start_time_seconds", "gauge", "When this ipcd started, in Unix time.");
	seconds(f, "ipcd_start_time_seconds", m->start_time_usec);
	single(f, "ipcd_workers", "gauge", "Worker threads serving connections.", m->workers);
	family(f, "ipcd_worker_connections", "gauge",
	       "Stream and seqpacket connections each worker serves now, by worker index.");
	for (uint64_t i = 0; i < m->workers && m->worker_connections; i++)
		fprintf(f, "ipcd_worker_connections{worker=\"%" PRIu64 "\"} %" PRIu64 "\n", i,
			m->worker_connections[i]);
	single(f, "ipcd_connections_moved_total", "counter",
	       "Connections a worker handed to another: spread when busy, packed when idle.",
	       m->totals.moved);
	single(f, "ipcd_config_generation", "gauge",
	       "Configurations applied: 1 at start, one more per applied reload.",
	       m->config_generation);
	family(f, "ipcd_reloads_total", "counter", "Reloads (SIGHUP), by result.");
	sample(f, "ipcd_reloads_total", "result", "applied", m->reloads_applied);
	sample(f, "ipcd_reloads_total", "result", "refused", m->reloads_refused);
	family(f, "ipcd_last_reload_time_seconds", "gauge",
	       "When the last reload ended, applied or refused, in Unix time; 0 before the first.");
	seconds(f, "ipcd_last_reload_time_seconds", m->last_reload_time_usec);
	single(f, "ipcd_last_reload_success", "gauge",
	       "1 if the last reload was applied or there was none, 0 if it was refused.",
	       m->last_reload_applied ? 1 : 0);
}

static void socket_sample(FILE *f, const char *name, const struct metrics_socket *s, uint64_t v) {
	fprintf(f, "%s{socket=", name);
	label_value(f, s->name);
	fprintf(f, ",type=\"%s\"} %" PRIu64 "\n", s->type, v);
}

static void write_connections(const struct metrics_snapshot *m, FILE *f) {
	family(f, "ipcd_connections_open", "gauge",
	       "Connections open now, by the socket they came in on and its type.");
	for (size_t i = 0; i < m->n_sockets; i++)
		socket_sample(f, "ipcd_connections_open", &m->sockets[i], m->sockets[i].open);
	family(f, "ipcd_connections_accepted_total", "counter",
	       "Connections accepted and admitted, by socket and type.");
	for (size_t i = 0; i < m->n_sockets; i++)
		socket_sample(f, "ipcd_connections_accepted_total", &m->sockets[i],
			      m->sockets[i].accepted);
	family(f, "ipcd_connections_closed_total", "counter", "Connections closed, by reason.");
	for (size_t r = 0; r < _CLOSE_MAX; r++)
		sample(f, "ipcd_connections_closed_total", "reason", close_reason_to_string(r),
		       m->totals.closed_by[r]);
	family(f, "ipcd_connections_refused_total", "counter",
	       "Connections turned away at accept, by reason (denied: not allowed by access).");
	for (size_t r = 0; r < _ADMIT_MAX; r++)
		if (r != ADMIT_OK)
			sample(f, "ipcd_connections_refused_total", "reason",
			       admit_result_to_string(r), m->refused[r]);
	single(f, "ipcd_accept_errors_total", "counter",
	       "Connections accepted and then closed unserved for want of a resource.",
	       m->accept_errors);
	family(f, "ipcd_uid_connections_open", "gauge",
	       "Connections open now of the users with the most, at most 10 users.");
	for (size_t i = 0; i < m->n_uids; i++)
		fprintf(f, "ipcd_uid_connections_open{uid=\"%" PRIu32 "\"} %" PRIu32 "\n",
			m->uids[i].uid, m->uids[i].open);
}

static void write_echo(const struct metrics_snapshot *m, FILE *f) {
	const struct stats_totals *t = &m->totals;

	single(f, "ipcd_echoed_bytes_total", "counter", "Bytes echoed back, on every socket type.",
	       t->bytes);
	single(f, "ipcd_echoed_messages_total", "counter",
	       "Seqpacket messages and datagrams echoed, each whole.", t->messages);
	single(f, "ipcd_datagrams_received_total", "counter", "Datagrams read.", t->datagrams);
	family(f, "ipcd_datagrams_dropped_total", "counter",
	       "Datagrams read and not echoed, by cause.");
	sample(f, "ipcd_datagrams_dropped_total", "cause", "no-reply-address",
	       t->dgram_unanswerable);
	sample(f, "ipcd_datagrams_dropped_total", "cause", "peer-queue-full", t->dgram_dropped);
	sample(f, "ipcd_datagrams_dropped_total", "cause", "oversize", t->dgram_oversize);
	sample(f, "ipcd_datagrams_dropped_total", "cause", "peer-not-reading", t->dgram_unread);
	sample(f, "ipcd_datagrams_dropped_total", "cause", "denied", t->dgram_denied);
}

void metrics_text_write(const struct metrics_snapshot *m, FILE *f) {
	write_process(m, f);
	write_connections(m, f);
	write_echo(m, f);
}
