/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "admit.h"

#define DGRAM_REPLY_MAX 32 /* distinct sender paths per batch */

/* One sender path of the batch, opened once however many of its datagrams the batch holds. */
struct dgram_reply_file {
	const struct sockaddr_un *from; /* the sender's address, as received: the lookup key */
	socklen_t from_len;
	int fd;      /* O_PATH on the sender's socket, or the negative errno it was refused with */
	uid_t owner; /* of the socket file */
	struct sockaddr_un name; /* "/proc/self/fd/<fd>" */
	socklen_t name_len;
};

/*
 * Where one batch's echoes go. Start each batch with n = 0 and end it with dgram_reply_done()
 * (a _cleanup_ function), after the answers are sent: it closes every fd the batch opened, and
 * nothing else does. The addresses handed out point into it and the received addresses it
 * was given, and are valid until then.
 */
struct dgram_reply {
	unsigned n;
	struct dgram_reply_file files[DGRAM_REPLY_MAX];
};

/*
 * The address to send the echo of a datagram received from `from` (from_len bytes, with a
 * name: not an unbound sender) by `sender`. 0: *ret_name and *ret_len are set; an abstract
 * address is returned as it came. Negative errno: do not answer.
 *  -EINVAL   the path is relative or has a ".." component: it may not name the sender's file
 *  -ELOOP    a symbolic link on the way
 *  -ENOTSOCK the path is not a socket
 *  -EMLINK   the socket file has a hard link
 *  -EPERM    the sender's uid, known and not 0, does not own the socket file
 *  other     as sending would have failed (-ENOENT: the sender has gone)
 */
int dgram_reply_address(struct dgram_reply *r, struct sockaddr_un *from, socklen_t from_len,
			const struct peer *sender, struct sockaddr_un **ret_name,
			socklen_t *ret_len);

/* What a refusal above says of the address, for the log ("is not a socket"); NULL for the
 * errors that are not a refusal (the sender has gone). */
const char *dgram_reply_refusal_to_string(int r);

void dgram_reply_done(struct dgram_reply *r);
