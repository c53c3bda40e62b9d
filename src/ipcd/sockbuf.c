/* SPDX-License-Identifier: MIT */
/*
 * Socket send buffers sized for the messages ipcd must echo. A unix seqpacket or datagram
 * message goes out whole or not at all, and the kernel sends none larger than the sender's
 * buffer, so max_message_size is also a demand on the buffers.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "macro.h"
#include "sockbuf.h"

static int sndbuf_get(int fd, size_t *ret) {
	int v;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) < 0)
		return -errno;
	*ret = (size_t)MAX(v, 0);
	return 0;
}

/* What SO_SNDBUF would give for ask, tried on a socket of our own: net.core.wmem_max caps it,
 * and /proc/sys may not be ours to read (ProcSubset=pid). */
static int sndbuf_capped(int ask, size_t *ret) {
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &ask, sizeof(ask)) < 0)
		return -errno;
	return sndbuf_get(fd, ret);
}

int sockbuf_raise(int fd, size_t want, size_t *ret) {
	/* The kernel doubles what it is asked for, to cover its own overhead. */
	int ask = (int)MIN((want + 1) / 2, (size_t)INT_MAX / 2);
	size_t have = 0, capped = 0;
	int r;

	r = sndbuf_get(fd, &have);
	if (r < 0 || have >= want)
		goto done;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &ask, sizeof(ask)) == 0)
		goto done;
	/* Without CAP_NET_ADMIN: as much as SO_SNDBUF allows, but only if that is more than the
	 * socket has, since SO_SNDBUF would lower a larger size (a socket unit's SendBuffer=). */
	if (sndbuf_capped(ask, &capped) < 0 || capped <= have)
		goto done; /* the socket keeps what it has, which *ret will say */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &ask, sizeof(ask)) < 0)
		return -errno;
done:
	return r < 0 ? r : sndbuf_get(fd, ret);
}

/* One message of len bytes from fd, its buffer raised first. */
static int probe_send(int fd, size_t len, size_t *ret_buffer) {
	char *msg;
	int r;

	r = sockbuf_raise(fd, SOCKBUF_FOR_MESSAGE(len), ret_buffer);
	if (r < 0)
		return r;
	/* calloc() of a large size maps fresh zero pages: the message costs the kernel's copy. */
	msg = calloc(1, MAX(len, (size_t)1));
	if (!msg)
		return -ENOMEM;
	r = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 ? 0 : -errno;
	free(msg);
	/* The buffer was large enough and the send still failed for room: the kernel could not
	 * allocate the message (ENOBUFS, or EAGAIN for the page allocator). */
	return r == -EAGAIN ? -ENOBUFS : r;
}

int sockbuf_probe_message(size_t len, size_t *ret_buffer) {
	int pair[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
		return -errno;
	r = probe_send(pair[0], len, ret_buffer);
	safe_close(pair[0]);
	safe_close(pair[1]);
	return r;
}
