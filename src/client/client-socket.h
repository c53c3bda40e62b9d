/* SPDX-License-Identifier: MIT */
#pragma once

#include "sockaddr.h"

/*
 * A non-blocking, close-on-exec socket for a, of type (SOCK_STREAM, SOCK_SEQPACKET or
 * SOCK_DGRAM), ready to connect: a unix datagram socket is bound to an abstract address the
 * kernel picks, so that the server can answer it; a TCP socket has TCP_NODELAY set. The fd,
 * or negative errno.
 */
int client_socket_open(const struct socket_address *a, int type);

/*
 * One connect() attempt on a socket from client_socket_open(); call it again until it is
 * not 0. 1: connected; 0: not yet (a unix server's backlog is full, or the TCP handshake is
 * under way: wait for POLLOUT); negative errno: failed.
 */
int client_socket_connect(int fd, const struct socket_address *a);
