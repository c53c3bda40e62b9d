/* SPDX-License-Identifier: MIT */
/* floor-server: the smallest correct echo server, the practical limit of this machine.
 * Level-triggered epoll, one 64 KiB read buffer per thread; a connection only gets its own
 * buffer when a write comes back short. No limits, logging or checks. With THREADS > 1,
 * THREADS such loops, each with its own epoll set, and the accepted connections dealt
 * across them round-robin: the many-core floor that ipcd with N workers is held to. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
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
#define MAX_THREADS 1024

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

struct loop {
	int ep;
	pthread_t thread;
};

/* Set once in main before any loop runs, read-only afterwards. */
static struct loop *loops;
static unsigned long nloops = 1;
static sigset_t blocked; /* SIGTERM and SIGINT blocked: the other loops' wait mask */

/* Loop 0, on the main thread, holds the listening socket (data.ptr NULL) and accepts;
 * each connection goes into the epoll set of the next loop in turn, and from then on only
 * that loop touches it, so the echo path takes no lock. The accepting is done by loop 0
 * and not by a thread of its own: with one thread this is exactly the single-threaded
 * server, and accepting only costs while clients connect, not while they echo. Only loop
 * 0 lets SIGTERM and SIGINT in, so it is the one that sees 'stop'; returning from main
 * then ends the others. */
static void loop_run(struct loop *l, int lfd, const sigset_t *waitmask) {
	static __thread char buf[BUF_SIZE];
	struct epoll_event evs[MAX_EVENTS];
	unsigned long next = 0;

	while (!stop) {
		int n = floor_wait(l->ep, evs, MAX_EVENTS, waitmask);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					continue; /* EAGAIN, or a peer that left; EMFILE retries next loop */
				c = calloc(1, sizeof(*c));
				int ep = loops[next].ep;
				next = (next + 1) % nloops;
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
				/* c->fd is set before the connection is in any epoll set: another loop
				 * may be woken for it before epoll_ctl returns here. */
				if (c)
					c->fd = fd;
				if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
					free(c);
					close(fd);
				}
				continue;
			}
			/* EPOLLERR/EPOLLHUP fall through to read or write, which report them. */
			int r = c->len > 0 ? conn_flush(l->ep, c) : conn_echo(l->ep, c, buf);
			if (r < 0)
				conn_close(l->ep, c);
		}
	}
}

static void *loop_thread(void *arg) {
	loop_run(arg, -EBADF, &blocked); /* never holds the listener, so never accepts */
	return NULL;
}

/* THREADS: a whole number from 1 to MAX_THREADS, nothing else. */
static int parse_threads(const char *s, unsigned long *ret) {
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > MAX_THREADS)
		return -EINVAL;
	*ret = v;
	return 0;
}

int main(int argc, char **argv) {
	sigset_t waitmask;
	int lfd;

	if (argc != 2 && (argc != 3 || parse_threads(argv[2], &nloops) < 0)) {
		fprintf(stderr, "usage: floor-server PATH [THREADS]   (THREADS 1 to %d, default 1)\n",
			MAX_THREADS);
		return 2;
	}
	/* floor_start takes the path alone; the thread count is ours. */
	int ep = floor_start(2, argv, SOCK_STREAM | SOCK_NONBLOCK, &lfd, &waitmask);
	if (!(loops = calloc(nloops, sizeof(*loops))))
		err(1, "calloc");
	loops[0].ep = ep;
	/* The mask floor_signals() left in force: threads created now inherit it. */
	if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0)
		errx(1, "pthread_sigmask");
	for (unsigned long i = 1; i < nloops; i++)
		if ((loops[i].ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
			err(1, "epoll_create1");
	/* All epoll sets exist before any loop runs: loop 0 deals into every one of them. */
	for (unsigned long i = 1; i < nloops; i++) {
		int r = pthread_create(&loops[i].thread, NULL, loop_thread, &loops[i]);
		if (r != 0) {
			errno = r;
			err(1, "pthread_create");
		}
	}
	loop_run(&loops[0], lfd, &waitmask);
	unlink(argv[1]);
	return 0;
}
