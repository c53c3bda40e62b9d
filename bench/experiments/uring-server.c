/* SPDX-License-Identifier: MIT */
/* uring-server: floor-server's echo loop on io_uring (liburing). One thread, one ring.
 * A multishot accept (re-armed when the kernel ends it; plain accept if the kernel
 * refuses multishot) feeds connections; each connection has exactly one request in
 * flight: a recv into its own buffer, then a send of exactly what came in (resubmitted
 * for the rest after a short send), then the next recv. Not receiving while a send is
 * in flight is the backpressure: a peer that does not read holds at most one buffer.
 *
 * Memory: every connection gets its own BUF_SIZE (64 KiB, floor-server's read size)
 * buffer on accept, since a posted recv needs a buffer for as long as it waits. 10 000
 * connections reserve 640 MiB of address space; only the pages a recv has written to
 * are resident (one page each with 1-byte chunks). Provided-buffer rings would fix
 * that; they are not what this experiment measures. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../floor/floor.h"

#define BUF_SIZE (64 * 1024)
#define QUEUE_DEPTH 4096

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

struct conn {
	int fd;
	int sending;      /* the request in flight: 0 recv, 1 send */
	size_t off, len;  /* of the echo being sent */
	char buf[BUF_SIZE];
};

static struct io_uring ring;
static int lfd, wake_fd, multishot = 1;
static char wake_tag; /* user_data of the wake-up poll; NULL is the accept */

/* Sets 'stop' and makes the ring post a completion, so the loop sees it even when the
 * signal came just before the wait (see main). */
static void on_signal(int sig) {
	(void) sig;
	int e = errno;
	stop = 1;
	eventfd_write(wake_fd, 1);
	errno = e;
}

/* An SQE, submitting what is queued when the SQ is full. NULL only on a broken ring. */
static struct io_uring_sqe *get_sqe(void) {
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe && io_uring_submit(&ring) >= 0)
		sqe = io_uring_get_sqe(&ring);
	return sqe;
}

static int arm_accept(void) {
	struct io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return -EBUSY;
	if (multishot)
		io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, NULL);
	return 0;
}

static int arm_recv(struct conn *c) {
	struct io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return -EBUSY;
	c->sending = 0;
	io_uring_prep_recv(sqe, c->fd, c->buf, BUF_SIZE, 0);
	io_uring_sqe_set_data(sqe, c);
	return 0;
}

static int arm_send(struct conn *c) {
	struct io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return -EBUSY;
	c->sending = 1;
	io_uring_prep_send(sqe, c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, c);
	return 0;
}

static void conn_close(struct conn *c) {
	close(c->fd); /* nothing of it is in flight: its one request just completed */
	free(c);
}

/* A completion for connection c. Negative: close it. */
static int conn_done(struct conn *c, int res) {
	if (res == -EINTR || res == -EAGAIN) /* retry the same request */
		return c->sending ? arm_send(c) : arm_recv(c);
	if (res < 0)
		return res;
	if (!c->sending) {
		if (res == 0)
			return -ECONNRESET; /* EOF */
		c->off = 0;
		c->len = res;
		return arm_send(c);
	}
	c->off += res;
	return c->off < c->len ? arm_send(c) : arm_recv(c);
}

static void on_accept(struct io_uring_cqe *cqe) {
	int res = cqe->res;
	if (res >= 0) {
		struct conn *c = malloc(sizeof(*c));
		if (!c)
			close(res);
		else {
			c->fd = res;
			if (arm_recv(c) < 0)
				conn_close(c);
		}
	} else if (res == -EINVAL && multishot) {
		multishot = 0; /* kernel without multishot accept */
	}
	/* Other errors (EMFILE, a peer that left) just re-arm, like floor-server retries. */
	if (!(cqe->flags & IORING_CQE_F_MORE) && arm_accept() < 0) {
		fprintf(stderr, "uring-server: cannot re-arm accept\n");
		stop = 1;
	}
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: uring-server PATH\n");
		return 2;
	}

	/* Signals: the handler sets 'stop', and a wait it interrupts returns -EINTR. A signal
	 * that lands between the check of 'stop' and the wait would not interrupt anything,
	 * so the handler also writes an eventfd the ring polls: that wait then ends with the
	 * poll's completion. (floor-server blocks the signals outside epoll_pwait instead;
	 * io_uring_submit_and_wait_timeout takes a sigmask, but liburing then loops inside
	 * until a CQE comes, and a wait that submitted something swallows the -EINTR.) */
	if ((wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		perror("uring-server: eventfd");
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Blocking sockets: io_uring polls for readiness itself; with O_NONBLOCK it would
	 * hand EAGAIN back to us instead. */
	lfd = floor_socket(argv[1], SOCK_STREAM);
	if (lfd < 0) {
		fprintf(stderr, "uring-server: cannot listen on '%s': %s\n", argv[1], strerror(-lfd));
		return 1;
	}

	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	int r = io_uring_queue_init_params(QUEUE_DEPTH, &ring, &p);
	if (r == -EINVAL) {
		/* Kernels before 6.1 know neither flag. */
		fprintf(stderr, "uring-server: SINGLE_ISSUER|DEFER_TASKRUN refused, using no flags\n");
		memset(&p, 0, sizeof(p));
		r = io_uring_queue_init_params(QUEUE_DEPTH, &ring, &p);
	}
	if (r < 0) {
		fprintf(stderr, "uring-server: io_uring_queue_init: %s\n", strerror(-r));
		return 1;
	}
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_poll_add(sqe, wake_fd, POLLIN);
	io_uring_sqe_set_data(sqe, &wake_tag);
	if (arm_accept() < 0)
		return 1;

	while (!stop) {
		struct io_uring_cqe *cqe;
		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "uring-server: io_uring_submit_and_wait: %s\n", strerror(-r));
			return 1;
		}
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct conn *c = io_uring_cqe_get_data(cqe);
			seen++;
			if ((void *) c == &wake_tag)
				; /* a signal: 'stop' is set */
			else if (!c)
				on_accept(cqe);
			else if (conn_done(c, cqe->res) < 0)
				conn_close(c);
		}
		io_uring_cq_advance(&ring, seen);
	}
	unlink(argv[1]);
	io_uring_queue_exit(&ring);
	return 0;
}
