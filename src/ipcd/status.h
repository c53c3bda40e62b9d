/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "server.h"

/* sd_notify(), a failure logged at debug: outside systemd there is no one to tell. */
void status_notify(const char *message);

/* STATUS= from the counters, and the last reload's outcome; only when changed unless force. */
void status_update(struct server *s, bool force);

/* The stats line: every log.stats_interval at info, and on SIGUSR1 at notice, so that asking
 * for it works with log.level = notice too. */
void status_log_stats(struct server *s, int level);

/* (Re)arms the stats line's timer from log.stats_interval; 0 turns it off. */
void status_arm_stats(struct server *s);

/* Starts the STATUS= timer and the stats line's. Logs. */
int status_start(struct server *s);
