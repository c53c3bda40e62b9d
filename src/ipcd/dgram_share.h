/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/*
 * Each datagram peer's share of the send buffer of ipcd's one datagram socket.
 *
 * The kernel charges an echo to the socket that sent it, ipcd's, until its receiver reads it,
 * so a peer that never reads would in time take the whole buffer and every other peer's echo
 * with it. Here each peer carries the bytes of echoes sent to it and not yet seen read, and
 * may carry at most a quota. "Seen read" needs care: the kernel tells how much of the buffer
 * is still taken (SIOCOUTQ), not by whom. What it no longer holds was read by someone, and is
 * credited to the peers answered most recently first: those that read keep being answered,
 * so they stay at the recent end and take the credit, while a peer that stopped reading drifts
 * to the old end and keeps its charge. Two rules keep a peer that sends on and never reads
 * from taking the credit of those that read: past half its quota it no longer moves to the
 * recent end, and once refused for its quota it is credited after every other peer, until it
 * is seen to read. Neither can be exact: ipcd(8) says what that costs. A peer whose charge
 * falls to 0 moves to an idle list,
 * so that a peer answered again and again is looked up, not made anew each time; the idle
 * list is bounded, and the buffer's size bounds how many peers have echoes in flight.
 *
 * Byte counts are the kernel's (an echo's truesize, skb overhead included), estimated: an
 * estimate above the real one only makes credit come sooner.
 *
 * Pure: no system calls. conn.c reads SIOCOUTQ and sends.
 */

struct dgram_peer;

struct dgram_list {
	struct dgram_peer *newest, *oldest;
};

struct dgram_share {
	size_t capacity;          /* the socket's send buffer, as the kernel counts it */
	size_t quota;             /* per peer */
	size_t charged;           /* sum of the peers' charges */
	size_t n_peers;           /* with echoes in flight, on `recent` */
	size_t n_idle;            /* with none, kept for their next datagram, on `idle` */
	struct dgram_list recent; /* by last echo */
	struct dgram_list idle;   /* by when their charge reached 0 */
	struct dgram_peer **buckets;
};

/* Peers a full buffer leaves room for at the quota: the bound ipcd(8) documents. */
#define DGRAM_SHARE_PEERS 8

/* The kernel's charge for one datagram of len bytes (x86-64 and 4 KiB pages: an estimate). */
size_t dgram_share_truesize(size_t len);

/* capacity: the socket's send buffer; max_message: the largest datagram. -ENOMEM. */
int dgram_share_init(struct dgram_share *s, size_t capacity, size_t max_message);
/* After a reload or a new buffer size; the peers keep their charges. */
void dgram_share_set_limits(struct dgram_share *s, size_t capacity, size_t max_message);
void dgram_share_done(struct dgram_share *s);

/* queued: what the kernel still holds of the socket's echoes. Credits the difference. */
void dgram_share_settle(struct dgram_share *s, size_t queued);

/* Whether an echo of len bytes may go to the peer at addr (as received, addr_len bytes):
 * charges it and returns the peer to refund if the send fails. NULL: not sent, because the
 * peer holds its quota unread (*ret_over_quota) or memory ran out. */
struct dgram_peer *dgram_share_charge(struct dgram_share *s, const struct sockaddr_un *addr,
				      socklen_t addr_len, size_t len, bool *ret_over_quota);

/* The echo of len bytes charged to p was not sent after all. */
void dgram_share_refund(struct dgram_share *s, struct dgram_peer *p, size_t len);

/* How many datagrams of up to max_message bytes can be sent before the buffer is full, with
 * queued bytes in it: the most a batch may read, so that no echo waits for room. */
size_t dgram_share_room(const struct dgram_share *s, size_t queued, size_t max_message);
