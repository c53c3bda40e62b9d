/* SPDX-License-Identifier: MIT */
/* plain-dgram-server: the baseline unix datagram echo server, to set against
 * mmsg-dgram-server. One thread, level-triggered epoll on one SOCK_DGRAM socket; per
 * wake up to BATCH datagrams, each read with recvmsg and sent straight back to its
 * sender's address with sendto. A datagram that cannot be sent (the sender's queue is
 * full: EAGAIN, or the sender is gone or unbound) is dropped, as datagrams may be. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../floor/floor.h"

#define MAX_DGRAM (64 * 1024)
#define BATCH 32

/* Up to BATCH datagrams, until the socket is empty. */
static void echo_batch(int fd, char *buf) {
	for (int i = 0; i < BATCH; i++) {
		struct sockaddr_un from;
		struct iovec iov = { .iov_base = buf, .iov_len = MAX_DGRAM };
		struct msghdr mh = {
			.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
		};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			return; /* EAGAIN: empty; anything else: try again on the next wake */
		/* Too big to echo faithfully, or from an unbound sender we cannot answer. */
		if ((mh.msg_flags & MSG_TRUNC) || mh.msg_namelen <= offsetof(struct sockaddr_un, sun_path))
			continue;
		sendto(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &from, mh.msg_namelen);
		/* Errors (EAGAIN, ECONNREFUSED, ENOENT...): the datagram is dropped. */
	}
}

int main(int argc, char **argv) {
	static char buf[MAX_DGRAM];
	struct epoll_event ev;
	sigset_t waitmask;
	int fd, ep = floor_start(argc, argv, SOCK_DGRAM | SOCK_NONBLOCK, &fd, &waitmask);

	while (!stop) {
		int n = floor_wait(ep, &ev, 1, &waitmask);
		if (n > 0)
			echo_batch(fd, buf);
	}
	unlink(argv[1]);
	return 0;
}
