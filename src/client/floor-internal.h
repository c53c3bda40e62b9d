/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "floor.h"

/*
 * A floor's channel, both ends: made before the fork, each process then drops the other's end.
 * The fd kinds carry bytes through the kernel; the shared-memory one through a mapping both
 * processes see, with a sequence number each way and a futex wake-up only when the other side
 * sleeps. floor-channel.c owns it; floor.c measures through it.
 */
struct floor_shm;

struct floor_channel {
	enum floor_kind kind;
	size_t chunk;
	int client_rfd, client_wfd; /* socketpair: the same fd */
	int echo_rfd, echo_wfd;
	struct floor_shm *shm;
	size_t shm_size;
	uint32_t seq; /* shm: the last request's number, on the client's side */
};

int floor_channel_open(struct floor_channel *c, enum floor_kind kind, size_t chunk);
/* Frees what is left of both ends; safe after either drop. */
void floor_channel_close(struct floor_channel *c);
void floor_channel_drop_echo_end(struct floor_channel *c);
void floor_channel_drop_client_end(struct floor_channel *c);

/*
 * The client's round trip: data out, then len bytes back, returned in *ret_data (buf for the fd
 * kinds; the mapping for shm, read in place as shared memory is). -EPIPE when the echo side is
 * gone; -ECANCELED when *stop was set while waiting (shm only: an fd wait ends when the
 * watchdog kills the echo).
 */
int floor_channel_round_trip(struct floor_channel *c, const uint8_t *data, size_t len, uint8_t *buf,
			     const uint8_t **ret_data, const atomic_bool *stop);

/* The echo's side, in the child: echoes until the client's end closes or says stop. The child's
 * exit status: 0, or 1 after an error. */
int floor_channel_echo(struct floor_channel *c);

/* The client says it is done: the shm echo sees stop and returns. */
void floor_channel_stop(struct floor_channel *c);
