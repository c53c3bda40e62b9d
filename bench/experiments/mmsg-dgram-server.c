/* SPDX-License-Identifier: MIT */
/* mmsg-dgram-server: plain-dgram-server with the per-datagram system calls batched.
 * One thread, level-triggered epoll on one SOCK_DGRAM socket; per wake one recvmmsg of
 * up to BATCH datagrams, then one sendmmsg of the answers, each to its own sender's
 * address. When sendmmsg stops short, the datagram it stopped at is dropped (EAGAIN:
 * the sender's queue is full; or the sender is gone or unbound) and the rest go on in
 * the next sendmmsg. */
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

static char bufs[BATCH][MAX_DGRAM];
static struct sockaddr_un from[BATCH];
static struct iovec iov[BATCH], out_iov[BATCH];
static struct mmsghdr in[BATCH], out[BATCH];

static void echo_batch(int fd) {
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec) { .iov_base = bufs[i], .iov_len = MAX_DGRAM };
		in[i].msg_hdr = (struct msghdr) {
			.msg_name = &from[i], .msg_namelen = sizeof(from[i]), .msg_iov = &iov[i], .msg_iovlen = 1,
		};
	}
	int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return; /* EAGAIN: empty; anything else: try again on the next wake */

	int k = 0;
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &in[i].msg_hdr;
		/* Too big to echo faithfully, or from an unbound sender we cannot answer. */
		if ((mh->msg_flags & MSG_TRUNC) || mh->msg_namelen <= offsetof(struct sockaddr_un, sun_path))
			continue;
		out_iov[k] = (struct iovec) { .iov_base = bufs[i], .iov_len = in[i].msg_len };
		out[k].msg_hdr = (struct msghdr) {
			.msg_name = &from[i], .msg_namelen = mh->msg_namelen, .msg_iov = &out_iov[k], .msg_iovlen = 1,
		};
		k++;
	}
	for (int i = 0; i < k;) {
		int r = sendmmsg(fd, out + i, k - i, MSG_DONTWAIT | MSG_NOSIGNAL);
		/* r < k - i: out[i + r] failed (an error on the first one is returned as -1,
		 * on a later one as the count before it). Drop it, go on after it. */
		i += r > 0 ? r : 0;
		if (i < k)
			i++;
	}
}

int main(int argc, char **argv) {
	struct epoll_event ev;
	sigset_t waitmask;
	int fd, ep = floor_start(argc, argv, SOCK_DGRAM | SOCK_NONBLOCK, &fd, &waitmask);

	while (!stop) {
		int n = floor_wait(ep, &ev, 1, &waitmask);
		if (n > 0)
			echo_batch(fd);
	}
	unlink(argv[1]);
	return 0;
}
