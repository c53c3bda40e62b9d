/* SPDX-License-Identifier: MIT */
/* floor-server: the smallest correct echo server, the practical limit of this machine.
 * One thread, level-triggered epoll, one shared 64 KiB read buffer; a connection only
 * gets its own buffer when a write comes back short. No limits, logging or checks. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "floor.h"

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct conn {
	int fd;
	char *pend; /* unsent tail of the last echo, NULL when none */
	size_t off, len;
};

static void conn_close(int ep, struct conn *c) {
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
}

static int conn_want(int ep, struct conn *c, uint32_t events) {
	struct epoll_event ev = { .events = events, .data.ptr = c };
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Returns negative when the connection should be closed. */
static int conn_flush(int ep, struct conn *c) {
	while (c->off < c->len) {
		ssize_t n = write(c->fd, c->pend + c->off, c->len - c->off);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->off += n;
	}
	/* All out: read again. The buffer stays for the next short write. */
	c->off = c->len = 0;
	return conn_want(ep, c, EPOLLIN);
}

static int conn_echo(int ep, struct conn *c, char *buf) {
	ssize_t n = read(c->fd, buf, BUF_SIZE);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (errno == EAGAIN ? 0 : -errno);

	ssize_t w = write(c->fd, buf, n);
	if (w < 0) {
		if (errno != EAGAIN)
			return -errno;
		w = 0;
	}
	if (w == n)
		return 0;

	/* Short write: park the rest and stop reading until it is out, so a peer that
	 * does not read cannot make us buffer more than one read's worth. */
	if (!c->pend && !(c->pend = malloc(BUF_SIZE)))
		return -ENOMEM;
	memcpy(c->pend, buf + w, n - w);
	c->off = 0;
	c->len = n - w;
	return conn_want(ep, c, EPOLLOUT);
}

int main(int argc, char **argv) {
	static char buf[BUF_SIZE];
	struct epoll_event evs[MAX_EVENTS];
	sigset_t waitmask;
	int lfd, ep = floor_start(argc, argv, SOCK_STREAM | SOCK_NONBLOCK, &lfd, &waitmask);

	while (!stop) {
		int n = floor_wait(ep, evs, MAX_EVENTS, &waitmask);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					continue; /* EAGAIN, or a peer that left; EMFILE retries next loop */
				c = calloc(1, sizeof(*c));
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
				if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
					free(c);
					close(fd);
				} else
					c->fd = fd;
				continue;
			}
			/* EPOLLERR/EPOLLHUP fall through to read or write, which report them. */
			int r = c->len > 0 ? conn_flush(ep, c) : conn_echo(ep, c, buf);
			if (r < 0)
				conn_close(ep, c);
		}
	}
	unlink(argv[1]);
	return 0;
}
