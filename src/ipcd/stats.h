/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "admit.h"

/* Why a connection ended; IPCD_REASON values. */
enum close_reason {
	CLOSE_EOF,          /* the peer closed and every byte was echoed */
	CLOSE_ERROR,        /* reset, or another socket error */
	CLOSE_IDLE,         /* limits.idle_timeout */
	CLOSE_BYTES,        /* limits.max_connection_bytes */
	CLOSE_TIME,         /* limits.max_connection_time */
	CLOSE_MESSAGE_SIZE, /* limits.max_message_size (seqpacket) */
	CLOSE_NO_MEMORY,    /* a pending buffer could not be allocated */
	CLOSE_SHUTDOWN,     /* still open when the drain ran out */
	CLOSE_PRESERVED,    /* handed to the service manager's fd store for the next instance */
	_CLOSE_MAX,
};

const char *close_reason_to_string(enum close_reason r);
/* Reasons that are a limit or a fault, logged as warnings even with log.connections off. */
bool close_reason_is_limit(enum close_reason r);

/*
 * Counters of one worker. Only that worker writes them (stats_add()); the main thread reads
 * them for STATUS= and the stats line. Aligned so two workers never share a cache line.
 */
struct worker_stats {
	atomic_uint_fast64_t bytes;    /* echoed */
	atomic_uint_fast64_t messages; /* echoed whole: seqpacket messages and datagrams */
	atomic_uint_fast64_t finished; /* connections closed, whatever the reason */
	atomic_uint_fast64_t moved;    /* connections handed to another worker (balance.c) */
	atomic_uint_fast64_t closed[_CLOSE_MAX];
	atomic_uint_fast64_t datagrams;
	atomic_uint_fast64_t dgram_unanswerable; /* no address, or none that is safely its own */
	atomic_uint_fast64_t dgram_dropped;      /* sender's queue full or sender gone */
	atomic_uint_fast64_t dgram_oversize;
	atomic_uint_fast64_t dgram_unread; /* not sent: the peer holds its share unread */
	atomic_uint_fast64_t dgram_denied;
	atomic_uint_fast64_t last_datagram_usec; /* CLOCK_MONOTONIC, for exit_on_idle */
} __attribute__((aligned(64)));

/* Single writer: a relaxed load and store, no locked instruction on the echo path. */
static inline void stats_add(atomic_uint_fast64_t *counter, uint64_t n) {
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t stats_get(const atomic_uint_fast64_t *counter) {
	return atomic_load_explicit(counter, memory_order_relaxed);
}

/* Counted by the accepting thread. */
struct server_stats {
	uint64_t accepted;
	uint64_t refused[_ADMIT_MAX]; /* indexed by admit result; [ADMIT_OK] unused */
	uint64_t accept_errors;
};

struct stats_totals {
	uint64_t active, accepted, bytes, messages, refused, denied, closed;
	uint64_t datagrams, dgram_unanswerable, dgram_dropped, dgram_oversize, dgram_unread;
	uint64_t dgram_denied; /* also counted in denied */
	uint64_t moved;        /* connections moved between workers */
	uint64_t closed_by[_CLOSE_MAX];
};

void stats_sum(const struct server_stats *s, const struct worker_stats *const *workers,
	       size_t n_workers, uint64_t active, struct stats_totals *ret);

/* "42 connections, 1.3 GiB echoed, 7 refused": the STATUS= text. */
void stats_status_text(const struct stats_totals *t, char *buf, size_t len);
