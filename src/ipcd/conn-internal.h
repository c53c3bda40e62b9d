/* SPDX-License-Identifier: MIT */
#pragma once

/* What conn.c, conn-stream.c and conn-dgram.c share and nothing else uses: conn.c attaches a
 * connection with the echo of its kind; the stream callback hands datagram sockets over. */

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* conn-stream.c */
/* The poller callback of every kind: a datagram socket's goes on to conn_dgram_read(). */
void conn_on_io(struct poller_entry *e, uint32_t revents);
int conn_seqpacket_size_buffer(struct conn *c);

/* conn-dgram.c */
size_t conn_dgram_scratch_size(size_t max);
int conn_dgram_size_buffer(struct conn *c, size_t max_message);
void conn_dgram_wait(struct conn *c, uint32_t want);
void conn_dgram_read(struct conn *c, uint64_t now);
