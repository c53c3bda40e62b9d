/* SPDX-License-Identifier: MIT */
/* splice-server: floor-server with the copy through user space replaced by splice(2).
 * One thread, level-triggered epoll. Each connection gets a pipe the first time it is
 * readable; bytes go socket -> pipe -> socket and never touch a user buffer. The bytes
 * held in the pipe are the connection's parked bytes: while the pipe is not empty we
 * wait for EPOLLOUT and do not read, exactly like floor-server's pend buffer. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../floor/floor.h"

#define PIPE_SIZE (64 * 1024) /* floor-server's BUF_SIZE: only the technique differs */
#define MAX_EVENTS 256
#define SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

struct conn {
	int fd;
	int pipe[2];  /* -1 until the first read */
	size_t cap;   /* pipe capacity: the most one read moves */
	size_t held;  /* bytes in the pipe, not yet written back */
	uint32_t events;
};

static void conn_close(int ep, struct conn *c) {
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->pipe[0] >= 0) {
		close(c->pipe[0]);
		close(c->pipe[1]);
	}
	free(c);
}

static int conn_want(int ep, struct conn *c, uint32_t events) {
	if (c->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = c };
	c->events = events;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

static int conn_pipe(struct conn *c) {
	if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	/* 64 KiB is the default already, but a user whose pipes pass
	 * /proc/sys/fs/pipe-user-pages-soft (64 MiB by default, about 1024 pipes this size)
	 * gets small ones without CAP_SYS_RESOURCE, and this can fail then. Whatever size we
	 * get is still correct, only fewer bytes per splice. */
	int sz = fcntl(c->pipe[1], F_SETPIPE_SZ, PIPE_SIZE);
	if (sz < 0)
		sz = fcntl(c->pipe[1], F_GETPIPE_SZ);
	c->cap = sz > 0 ? (size_t) sz : 4096;
	return 0;
}

/* Pipe -> socket until the pipe is empty or the socket is full. Negative: close. */
static int conn_drain(struct conn *c) {
	while (c->held > 0) {
		ssize_t n = splice(c->pipe[0], NULL, c->fd, NULL, c->held, SPLICE_FLAGS);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0) /* cannot happen with bytes in the pipe; do not spin on it */
			return -EPIPE;
		c->held -= n;
	}
	return 0;
}

/* EPOLLOUT: write out what is parked; once all is out, read again. */
static int conn_flush(int ep, struct conn *c) {
	int r = conn_drain(c);
	if (r < 0)
		return r;
	return c->held ? 0 : conn_want(ep, c, EPOLLIN);
}

/* EPOLLIN, pipe empty: socket -> pipe, then as much as goes pipe -> socket. */
static int conn_echo(int ep, struct conn *c) {
	if (c->pipe[0] < 0) {
		int r = conn_pipe(c);
		if (r < 0)
			return r;
	}
	ssize_t n = splice(c->fd, NULL, c->pipe[1], NULL, c->cap, SPLICE_FLAGS);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (errno == EAGAIN ? 0 : -errno);
	c->held = n;

	int r = conn_drain(c);
	if (r < 0)
		return r;
	/* Short write: the rest stays parked in the pipe; stop reading until it is out. */
	return c->held ? conn_want(ep, c, EPOLLOUT) : 0;
}

int main(int argc, char **argv) {
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
					continue;
				c = calloc(1, sizeof(*c));
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
				if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
					free(c);
					close(fd);
				} else {
					c->fd = fd;
					c->pipe[0] = c->pipe[1] = -1;
					c->events = EPOLLIN;
				}
				continue;
			}
			/* EPOLLERR/EPOLLHUP fall through to splice, which reports them. */
			int r = c->held > 0 ? conn_flush(ep, c) : conn_echo(ep, c);
			if (r < 0)
				conn_close(ep, c);
		}
	}
	unlink(argv[1]);
	return 0;
}
