/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "client-opts.h"

/*
 * One connection with bounded waits, for ping and echo. Every wait also watches SIGINT and
 * SIGTERM (blocked by the caller), so a person can always stop it: -EINTR.
 */
struct single {
	int fd;
	int signal_fd;
	int type;
};

/* -ECONNREFUSED, -ENOENT, …: could not connect; -ETIMEDOUT: the backlog stayed full, or the
 * TCP handshake did not end, within --connect-timeout. */
int single_connect(const struct client_opts *o, struct single *ret);
void single_close(struct single *s);

/* Waits until fd is ready for events or timeout_usec passes: 1 ready, 0 timed out, -EINTR
 * on a signal. fd < 0 waits for the signal or the time only. */
int single_wait(struct single *s, int fd, short events, uint64_t timeout_usec);

/* Sends all of buf (one message for seqpacket and datagram). */
int single_send(struct single *s, const void *buf, size_t len, uint64_t timeout_usec);
