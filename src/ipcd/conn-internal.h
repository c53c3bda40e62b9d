/* SPDX-License-Identifier: MIT */
#pragma once

/* What conn.c, conn-stream.c and conn-dgram.c share and nothing else uses: conn.c attaches a
 * connection with the echo of its kind, whose poller callback then serves it. */

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* conn-stream.c */
/* The poller callback of stream and seqpacket connections. */
void conn_stream_on_io(struct poller_entry *e, uint32_t revents);
int conn_seqpacket_size_buffer(struct conn *c);
/* What the poller waits for: EPOLLIN for a new connection; a moved one may hold echo to send. */
uint32_t conn_stream_wanted_events(const struct conn *c);

/* conn-dgram.c */
size_t conn_dgram_scratch_size(size_t max);
int conn_dgram_size_buffer(struct conn *c, size_t max_message);
void conn_dgram_wait(struct conn *c, uint32_t want);
/* The poller callback of datagram sockets. */
void conn_dgram_on_io(struct poller_entry *e, uint32_t revents);
