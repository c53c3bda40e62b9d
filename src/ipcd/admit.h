/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

/* Who is on the other end of a connection, as the kernel says (SO_PEERCRED, SO_PEERGROUPS;
 * getpeername() for TCP). */
struct peer {
	bool has_creds; /* false for TCP peers: they have no uid to check */
	pid_t pid;      /* 0 when the peer is in another pid namespace */
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups; only read during admit_check() */
	size_t n_groups;
	/* A TCP peer's address: AF_INET or AF_INET6 (an IPv4-mapped IPv6 address is stored as
	 * AF_INET), or AF_UNSPEC (0) when there is none, as for unix peers. */
	sa_family_t family;
	union {
		struct in_addr in;
		struct in6_addr in6;
	} addr;
	uint16_t port; /* host byte order */
};

/* "127.0.0.1", "::1": room for the longest, with its NUL. */
#define ADMIT_ADDRESS_MAX INET6_ADDRSTRLEN

enum admit_result {
	ADMIT_OK,
	ADMIT_DENIED,                  /* not in access.allow_uids / allow_gids */
	ADMIT_RATE,                    /* limits.accept_rate */
	ADMIT_MAX_CONNECTIONS,         /* limits.max_connections */
	ADMIT_MAX_CONNECTIONS_PER_UID, /* limits.max_connections_per_uid */
	_ADMIT_MAX,
	_ADMIT_INVALID = -EINVAL,
};

/* "denied", "accept-rate", "max-connections", … as IPCD_REASON values. */
const char *admit_result_to_string(enum admit_result r);

struct admit;

int admit_new(struct admit **ret);
struct admit *admit_free(struct admit *a);

/*
 * Decides whether a new connection from p may stay, under the limits of c, at now_nsec
 * (CLOCK_MONOTONIC). ADMIT_OK counts the connection until admit_release(); any other result
 * counts nothing. Thread-safe.
 */
enum admit_result admit_check(struct admit *a, const struct ipcd_config *c, const struct peer *p,
			      uint64_t now_nsec);
/* Counts a connection a previous instance admitted (from the fd store): no limit applies, a
 * restart must not drop what was already open. -ENOMEM if the per-UID table cannot grow. */
int admit_adopt(struct admit *a, const struct peer *p);

/* Returns how many connections remain admitted. */
uint64_t admit_release(struct admit *a, const struct peer *p);

/* access.allow_uids / allow_gids alone, for datagrams, which are not connections. */
bool admit_peer_allowed(const struct ipcd_config *c, const struct peer *p);

/* A TCP peer's address as text, without its port, into buf (ADMIT_ADDRESS_MAX); false, with
 * buf "", for a peer without one. */
bool admit_peer_address(const struct peer *p, char *buf, size_t len);

/* " from pid 42 uid 1000 gid 1000", " from 127.0.0.1:54321", " from [::1]:54321", or "" for a
 * peer that is neither (a datagram sender without credentials). */
void admit_peer_describe(const struct peer *p, char *buf, size_t len);

/* Connections admitted and not yet released. */
uint64_t admit_active(struct admit *a);

struct admit_uid_open {
	uint32_t uid;
	uint32_t open;
};
/* The (at most n) users with the most open connections, most first; returns how many. */
size_t admit_top_uids(struct admit *a, struct admit_uid_open *ret, size_t n);
