/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* What a unix seqpacket or datagram socket's send buffer must be, as the kernel counts it, to
 * send one message of len bytes: the kernel refuses a message within 32 bytes of the buffer. */
#define SOCKBUF_FOR_MESSAGE(len) ((size_t)(len) + 64)

/*
 * Raises fd's send buffer to at least want bytes as the kernel counts them (SO_SNDBUF reads
 * back that figure: twice what was asked). It asks with SO_SNDBUFFORCE first, which needs
 * CAP_NET_ADMIN, then with SO_SNDBUF, which net.core.wmem_max caps; it never lowers what the
 * socket has (a socket unit's SendBuffer=, say). *ret: the size it has now. Negative errno if
 * the size cannot be read; falling short of want is not an error, *ret says it.
 */
int sockbuf_raise(int fd, size_t want, size_t *ret);

/*
 * Whether this process can echo a message of len bytes over a unix seqpacket or datagram
 * socket: a socketpair whose buffer is raised as a connection's is, and one real message.
 * 0: it can. -EMSGSIZE: the send buffer cannot be made large enough; *ret_buffer is the
 * largest it got. -ENOBUFS: the kernel cannot allocate one message that large. Other: the
 * check itself failed.
 */
int sockbuf_probe_message(size_t len, size_t *ret_buffer);
