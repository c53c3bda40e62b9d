/* SPDX-License-Identifier: MIT */
/* The figures every format derives from a run: error totals, the open loop's schedule against
 * its target, the exit status, rates, the start time, and which percentiles are shown. Below
 * report.c, report-json.c and report-csv.c; it calls none of them. */
#include <string.h>
#include <time.h>

#include "cpulist.h"
#include "macro.h"
#include "report-internal.h"

uint64_t report_errors_total(const struct drive_errors *e) {
	return e->refused + e->closed_by_server + e->connect_failed + e->connect_timeout +
	       e->reset + e->eof_early + e->timed_out + e->verify_failures + e->lost;
}

uint64_t report_schedule_unsent(const struct drive_schedule *s) {
	return s->due - MIN(s->due, s->sent);
}

bool report_schedule_missed(const struct drive_schedule *s) {
	return (double)report_schedule_unsent(s) > RATE_TOLERANCE * (double)s->due;
}

/* Who held the messages back, as far as the client can tell: those waiting on a socket the
 * server did not drain are the server's; the rest the client did not get out in time. */
const char *report_schedule_bottleneck(const struct drive_schedule *s) {
	if (!report_schedule_missed(s))
		return NULL;
	return s->unsent_full * 2 >= report_schedule_unsent(s) ? "server" : "client";
}

int report_exit_status(const struct drive_result *r) {
	if (r->connected == 0)
		return 3;
	if (report_errors_total(&r->errors) > 0 || report_schedule_missed(&r->schedule) ||
	    r->round_trips == 0)
		return 1;
	return 0;
}

/* ISO 8601 in UTC to the millisecond, "2026-11-27T10:10:38.123Z"; "" before any traffic. */
char *report_timestamp_text(char *buf, size_t len, const struct timespec *t) {
	struct tm tm;

	buf[0] = '\0';
	if (t->tv_sec > 0 && gmtime_r(&t->tv_sec, &tm))
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 t->tv_nsec / 1000000);
	return buf;
}

double report_per_second(uint64_t n, uint64_t usec) {
	return usec ? (double)n * 1e6 / (double)usec : 0.0;
}

const double report_percentiles[] = { 50, 90, 99, 99.9 };
const char *const report_percentile_keys[] = { "p50", "p90", "p99", "p99_9" };

double report_cores(uint64_t cpu_nsec, uint64_t wall_nsec) {
	return wall_nsec ? (double)cpu_nsec / (double)wall_nsec : 0.0;
}

/* Why the server's CPU time is missing, in words for every format; NULL when it is there. */
const char *report_cpu_server_absent(const struct drive_cpu *c, char *buf, size_t len) {
	switch (c->server) {
		case SERVER_CPU_MEASURED:
			return NULL;
		case SERVER_CPU_NOT_UNIX:
			return "not a unix socket: no peer credentials";
		case SERVER_CPU_NO_PID:
			return "no peer pid: a datagram socket, or a server in another pid "
			       "namespace";
		case SERVER_CPU_NOT_HOLDER:
			snprintf(buf, len,
				 "pid %d made the socket but does not hold the connection: "
				 "a forking server, or socket activation",
				 (int)c->server_pid);
			return buf;
		case SERVER_CPU_UNVERIFIED:
			return "no echo on the connection that checks who the server is";
		case SERVER_CPU_UNREADABLE:
			snprintf(buf, len, "/proc/%d: %s", (int)c->server_pid,
				 strerror(c->server_errno));
			return buf;
		case SERVER_CPU_CHANGED:
			snprintf(buf, len, "pid %d exited or was replaced during the run",
				 (int)c->server_pid);
			return buf;
		default:
			return "nothing measured";
	}
}

/* "pinned to CPU 0" and "pinned to CPUs 0,2, a thread to each in turn", or "not pinned (CPUs 0-1
 * allowed)". */
char *report_placement_text(char *buf, size_t len, const struct drive_params *p) {
	char cpus[CPULIST_MAX];

	cpulist_format(cpus, sizeof(cpus), &p->cpus);
	if (!p->pinned)
		snprintf(buf, len, "not pinned (CPUs %s allowed)", cpus[0] ? cpus : "unknown");
	else if (CPU_COUNT(&p->cpus) == 1)
		snprintf(buf, len, "pinned to CPU %s", cpus);
	else
		snprintf(buf, len, "pinned to CPUs %s, a thread to each in turn", cpus);
	return buf;
}
