/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "server.h"

/*
 * Listening sockets: the ones systemd passes, or, without socket activation, the ones ipcd
 * binds itself from listen= or --listen. Errors are logged here; the caller just stops.
 */
int listeners_open(struct server *s, char *const *paths, size_t n_paths);

/*
 * What listeners_open() checks before it binds anything, for --check-config too: paths (or
 * the configured list when n_paths is 0) name no socket twice, however spelt, each path's
 * directory exists or can be made (only its last level is), and no directory on a path is
 * writable by every user without being sticky. Each problem is logged; negative if any.
 */
int listeners_check(const struct ipcd_config *c, char *const *paths, size_t n_paths);

/* Runs on the main loop after each batch of accepts, admitted or not: the number of
 * connections may have changed, and whoever acts on it (exit_on_idle) looks again. */
typedef void (*listeners_accepted_fn)(void *userdata);

/* Starts accepting (stream, seqpacket) or serving (datagram, handed to a worker), after
 * handing the connections a previous instance stored to the workers. A metrics socket's
 * readiness goes to metrics_accept, which accepts for itself. */
int listeners_start(struct server *s, listeners_accepted_fn accepted, void *userdata,
		    sd_event_io_handler_t metrics_accept, void *metrics_userdata);

/* Stops or resumes accepting; sockets stay open, so clients wait in the backlog. */
void listeners_set_enabled(struct server *s, bool enabled);

/* Out of fds or memory: accepting again at once would spin on the same error, so every
 * listener pauses for a moment. Counted and logged here. */
void listeners_pause_accepting(struct server *s, int error);

/* Each echo socket's open and accepted connections, for the metrics; returns how many. */
struct metrics_socket;
size_t listeners_snapshot(struct server *s, struct metrics_socket *ret, size_t n);

/* Closes every listener and removes the socket files ipcd bound itself. */
void listeners_free(struct server *s);
