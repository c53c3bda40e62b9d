/* SPDX-License-Identifier: MIT */
/*
 * What ipcd says about itself without being asked: STATUS= to the service manager every second
 * when it changed, and the stats line every log.stats_interval (or on SIGUSR1).
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "admit.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "server.h"
#include "stats.h"
#include "status.h"

#define STATUS_INTERVAL_USEC USEC_PER_SEC

void status_notify(const char *message) {
	int r = sd_notify(false, message);
	if (r < 0)
		log_debug_errno(r, "Failed to notify the service manager, ignoring: %m");
}

static void server_totals(struct server *s, struct stats_totals *ret) {
	worker_pool_totals(&s->workers, &s->stats, admit_active(s->admit), ret);
}

void status_update(struct server *s, bool force) {
	struct stats_totals t;
	char status[sizeof(s->status)], msg[sizeof(s->status) + 16];

	server_totals(s, &t);
	stats_status_text(&t, status, sizeof(status));
	/* Kept until the next reload, so that systemctl status tells whether the file was taken. */
	if (s->last_reload[0]) {
		size_t n = strlen(status);
		snprintf(status + n, sizeof(status) - n, "; last reload: %s", s->last_reload);
	}
	if (!force && strcmp(status, s->status) == 0)
		return;
	memcpy(s->status, status, sizeof(status));
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	status_notify(msg);
}

static int on_status_timer(sd_event_source *t, uint64_t now, void *userdata) {
	status_update(userdata, false);
	/* A burst of refusals that nothing followed still gets its count said. */
	log_flush_suppressed(false);
	return sd_event_source_set_time(t, now + STATUS_INTERVAL_USEC);
}

void status_log_stats(struct server *s, int level) {
	struct stats_totals x;
	char size[FORMAT_SIZE_MAX];

	server_totals(s, &x);
	log_event(LOG_EVENT_STATS, level,
		  &(struct log_fields){ .has_bytes = true, .bytes = x.bytes },
		  "Stats: %llu active, %llu accepted, %llu closed, %s echoed, %llu refused, %llu "
		  "denied, %llu idle timeouts, %llu datagrams (%llu unanswerable, %llu dropped, "
		  "%llu oversize, %llu to peers not reading)",
		  (unsigned long long)x.active, (unsigned long long)x.accepted,
		  (unsigned long long)x.closed, format_size(size, sizeof(size), x.bytes),
		  (unsigned long long)x.refused, (unsigned long long)x.denied,
		  (unsigned long long)x.closed_by[CLOSE_IDLE], (unsigned long long)x.datagrams,
		  (unsigned long long)x.dgram_unanswerable, (unsigned long long)x.dgram_dropped,
		  (unsigned long long)x.dgram_oversize, (unsigned long long)x.dgram_unread);
}

static int on_stats_timer(sd_event_source *t, uint64_t now, void *userdata) {
	struct server *s = userdata;

	status_log_stats(s, LOG_INFO);
	return sd_event_source_set_time(t, now + s->config->stats_interval_usec);
}

void status_arm_stats(struct server *s) {
	uint64_t interval = s->config->stats_interval_usec;
	int r;

	if (interval == 0) {
		s->stats_timer = sd_event_source_disable_unref(s->stats_timer);
		return;
	}
	r = s->stats_timer ? sd_event_source_set_time_relative(s->stats_timer, interval)
			   : sd_event_add_time_relative(s->event, &s->stats_timer, CLOCK_MONOTONIC,
							interval, USEC_PER_SEC, on_stats_timer, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->stats_timer, SD_EVENT_ON);
	if (r < 0)
		log_warning_errno(r, "Failed to arm the stats timer, no stats lines: %m");
}

int status_start(struct server *s) {
	int r;

	r = sd_event_add_time_relative(s->event, &s->status_timer, CLOCK_MONOTONIC,
				       STATUS_INTERVAL_USEC, USEC_PER_SEC / 10, on_status_timer, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->status_timer, SD_EVENT_ON);
	if (r < 0)
		return log_error_errno(r, "Failed to arm the status timer: %m");
	status_arm_stats(s);
	return 0;
}
