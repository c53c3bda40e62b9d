/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "admit.h"
#include "conf.h"
#include "poller.h"
#include "stats.h"

struct worker;
struct dgram_share;

enum conn_kind {
	CONN_STREAM,    /* accepted unix or TCP stream */
	CONN_SEQPACKET, /* accepted unix seqpacket */
	CONN_DGRAM,     /* a unix datagram listener itself: one per socket, not per peer */
	_CONN_KIND_MAX,
};

/*
 * One connection and its echo engine. Created on the accepting thread, then owned by exactly
 * one worker, whose loop runs all its I/O. The pending buffer exists only while echoed bytes
 * could not all be written: an idle connection holds no buffer.
 */
struct conn {
	struct worker *worker;
	struct conn *prev, *next;   /* the worker's list; next also links the worker's inbox */
	struct ipcd_config *config; /* the limits this connection was admitted under (a ref) */
	struct poller_entry entry;  /* in the worker's poller once attached */
	int fd;
	enum conn_kind kind;
	uint32_t events; /* what the poller waits for; 0 while not registered */
	bool admitted;   /* holds a slot in admit; released on close */
	bool read_eof;
	bool preserving;  /* on the way to the fd store: no more reads, pending still flushed */
	struct peer peer; /* peer.groups is NULL after admission */
	uint64_t id;
	uint64_t start_usec, last_usec; /* CLOCK_MONOTONIC */
	uint64_t bytes_in, bytes_out;
	char *pending; /* stream: bytes [pending_start, pending_end); seqpacket: one message */
	uint32_t pending_start, pending_end;
	struct dgram_share *share;        /* datagram: each peer's part of the send buffer */
	atomic_uint_fast64_t *open_gauge; /* its socket's open connections (metrics), or NULL */
};

/* Takes ownership of fd and a reference to config. The peer's groups are not kept. */
int conn_new(int fd, enum conn_kind kind, const struct peer *peer, bool admitted,
	     struct ipcd_config *config, uint64_t id, uint64_t now_usec, struct conn **ret);

/* Counts c in gauge (its socket's open connections) until it is freed. */
void conn_count_open(struct conn *c, atomic_uint_fast64_t *gauge);

/* Frees a connection that never reached a worker: closes its fd, releases nothing else. */
struct conn *conn_free(struct conn *c);

/* On the worker's thread: starts serving, or serving again after a move from another worker
 * (worker_move), with the echo it holds and its counters and time stamps as they were. On
 * failure the connection is closed and counted. */
void conn_attach(struct conn *c, struct worker *w);

/* Ends the connection: counted, logged, admission released, freed. Returns NULL. */
struct conn *conn_close(struct conn *c, enum close_reason reason);

/* On the worker's thread: serve under c from now on (datagram sockets, after a reload). */
void conn_set_config(struct conn *c, struct ipcd_config *config);

/* SIGTERM with preserve_connections: stop reading, flush what is held, then hand the fd to
 * the service manager (see fdstore.h). May close c at once. */
void conn_preserve(struct conn *c);

/* Closes the connection if a time limit has passed. */
void conn_check_timeouts(struct conn *c, uint64_t now_usec);

const char *conn_kind_to_string(enum conn_kind k);
