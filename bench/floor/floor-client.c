/* SPDX-License-Identifier: MIT */
/* floor-client: the closed-loop load that matches floor-server. One thread, epoll;
 * each connection sends CHUNK bytes, waits for all CHUNK to come back, repeats.
 * It counts bytes and does not verify them: the point is the cost of the loop. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (256 * 1024)
#define MAX_EVENTS 256
#define CONNECT_TRIES 10000 /* 1 ms apart: a full backlog gets ten seconds */

struct conn {
	int fd;
	unsigned long left; /* round trips still to start, including the current one */
	size_t sent, recvd; /* of the current round trip */
	uint32_t events;
};

static int fail(const char *what, int err) {
	fprintf(stderr, "floor-client: %s: %s\n", what, strerror(err));
	return 1;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long *ret) {
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int connect_to(const struct sockaddr_un *sa) {
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect never goes in progress; EAGAIN means the listen backlog is
	 * full, so wait for the server to accept and try again. */
	for (int i = 0; connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) < 0; i++) {
		if (errno != EAGAIN || i == CONNECT_TRIES) {
			int r = -errno;
			close(fd);
			return r;
		}
		usleep(1000);
	}
	return fd;
}

static int conn_want(int ep, struct conn *c, uint32_t events) {
	if (events == c->events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = c };
	c->events = events;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	static char rbuf[RBUF_SIZE];
	struct epoll_event evs[MAX_EVENTS];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned long nconn, chunk, total;

	if (argc != 5 || parse_ulong(argv[2], 1, &nconn) < 0 || parse_ulong(argv[3], 1, &chunk) < 0 ||
	    parse_ulong(argv[4], 1, &total) < 0 || chunk > INT_MAX) {
		fprintf(stderr, "usage: floor-client PATH CONNECTIONS CHUNK ROUND_TRIPS_IN_ALL\n");
		return 1;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path))
		return fail(argv[1], ENAMETOOLONG);
	strcpy(sa.sun_path, argv[1]);
	signal(SIGPIPE, SIG_IGN);

	char *wbuf = malloc(chunk);
	struct conn *conns = calloc(nconn, sizeof(*conns));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!wbuf || !conns)
		return fail("allocate", ENOMEM);
	if (ep < 0)
		return fail("epoll_create1", errno);
	memset(wbuf, 'x', chunk);

	unsigned long active = 0;
	for (unsigned long i = 0; i < nconn; i++) {
		struct conn *c = &conns[i];
		c->fd = connect_to(&sa);
		if (c->fd < 0)
			return fail("connect", -c->fd);
		c->left = total / nconn + (i < total % nconn);
		/* Connections with no share stay open but idle, so CONNECTIONS is always
		 * the number the server sees. */
		c->events = c->left ? EPOLLIN | EPOLLOUT : 0;
		active += c->left > 0;
		struct epoll_event ev = { .events = c->events, .data.ptr = c };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			return fail("epoll_ctl", errno);
	}

	double start = now(), end = start;
	unsigned long done = 0;
	while (active > 0) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail("epoll_wait", errno);
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->left == 0) {
				/* Only EPOLLHUP/EPOLLERR reach a finished connection; stop hearing it. */
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				continue;
			}
			/* Keep reading while still sending: a large chunk comes back while it is
			 * going out, and not reading it would deadlock both socket buffers. */
			if (c->sent < chunk) {
				ssize_t w = write(c->fd, wbuf + c->sent, chunk - c->sent);
				if (w < 0 && errno != EAGAIN)
					return fail("write", errno);
				if (w > 0)
					c->sent += w;
			}
			ssize_t r = read(c->fd, rbuf, RBUF_SIZE);
			if (r == 0)
				return fail("read", ECONNRESET);
			if (r < 0 && errno != EAGAIN)
				return fail("read", errno);
			if (r > 0)
				c->recvd += r;
			if (c->recvd > chunk)
				return fail("read", EPROTO);

			if (c->recvd == chunk) {
				done++;
				c->sent = c->recvd = 0;
				if (--c->left == 0) {
					active--;
					end = now();
				}
			}
			int e = conn_want(ep, c, c->left == 0 ? 0 : c->sent < chunk ? EPOLLIN | EPOLLOUT : EPOLLIN);
			if (e < 0)
				return fail("epoll_ctl", -e);
		}
	}

	double secs = end - start;
	if (secs <= 0)
		secs = 1e-9;
	printf("round_trips=%lu seconds=%.6f rt_per_s=%.0f mib_per_s=%.2f\n", done, secs,
	       done / secs, (double) done * chunk / (1 << 20) / secs);
	for (unsigned long i = 0; i < nconn; i++)
		close(conns[i].fd);
	return 0;
}
