/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

struct server;
struct metrics;

/*
 * The metrics endpoint: GET /metrics on the sockets named "metrics" (ipcd-metrics.socket, or
 * the metrics paths ipcd binds itself), answered from the main loop with a snapshot of the
 * counters, one request per connection. At most METRICS_CLIENTS_MAX clients at once, each
 * holding at most a request head and one answer for at most METRICS_TIMEOUT_USEC.
 */
#define METRICS_CLIENTS_MAX 8
#define METRICS_TIMEOUT_USEC (10 * USEC_PER_SEC)

int metrics_new(struct server *s, struct metrics **ret);
struct metrics *metrics_free(struct metrics *m);

/* The accept callback of a metrics socket; userdata is the struct metrics. */
int metrics_on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata);
