/* SPDX-License-Identifier: MIT */
#pragma once

#include "client-opts.h"

/* Runs ping and prints its lines and summary; returns the exit status (0, 1 or 3). */
int ping_run(const struct client_opts *o);

/* Copies stdin through the server to stdout; returns the exit status (0, 1 or 3). */
int echo_run(const struct client_opts *o);
