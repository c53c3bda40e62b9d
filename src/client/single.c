/* SPDX-License-Identifier: MIT */
/* One connection with bounded, interruptible waits: connect, wait, send. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>

#include "macro.h"
#include "single.h"
#include "sockaddr.h"

int single_wait(struct single *s, int fd, short events, uint64_t timeout_usec) {
	struct pollfd p[2] = { { .fd = s->signal_fd, .events = POLLIN },
			       { .fd = fd, .events = events } };
	uint64_t deadline = now_usec() + timeout_usec;

	for (;;) {
		uint64_t now = now_usec();
		int ms = now >= deadline
				 ? 0
				 : (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT32_MAX);
		int n = poll(p, fd >= 0 ? 2 : 1, ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (p[0].revents)
			return -EINTR;
		if (n > 0)
			return 1;
		if (now_usec() >= deadline)
			return 0;
	}
}

int single_connect(const struct client_opts *o, struct single *ret) {
	static const struct sockaddr_un autobind = { .sun_family = AF_UNIX };
	struct single s = { .fd = -EBADF, .signal_fd = -EBADF, .type = o->type };
	struct unix_address a;
	uint64_t deadline = now_usec() + o->connect_timeout_usec;
	sigset_t mask;
	int r;

	r = unix_address_parse(o->socket, &a);
	if (r < 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	s.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s.fd = socket(AF_UNIX, o->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s.signal_fd < 0 || s.fd < 0)
		goto fail_errno;
	/* A datagram client needs an address to be answered at: an abstract one, kernel-picked. */
	if (o->type == SOCK_DGRAM &&
	    bind(s.fd, (const struct sockaddr *)&autobind, sizeof(sa_family_t)) < 0)
		goto fail_errno;
	while (connect(s.fd, (const struct sockaddr *)&a.sun, a.len) < 0) {
		if (errno != EAGAIN)
			goto fail_errno;
		/* The backlog is full: the server is slow to accept; try again shortly. */
		if (now_usec() >= deadline) {
			r = -ETIMEDOUT;
			goto fail;
		}
		r = single_wait(&s, -1, 0, 2 * USEC_PER_MSEC);
		if (r < 0)
			goto fail;
	}
	*ret = s;
	return 0;
fail_errno:
	r = negative_errno();
fail:
	single_close(&s);
	return r;
}

void single_close(struct single *s) {
	s->fd = safe_close(s->fd);
	s->signal_fd = safe_close(s->signal_fd);
}

int single_send(struct single *s, const void *buf, size_t len, uint64_t timeout_usec) {
	const char *p = buf;
	uint64_t deadline = now_usec() + timeout_usec;

	while (len > 0) {
		ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return negative_errno();
		uint64_t now = now_usec();
		int r = single_wait(s, s->fd, POLLOUT, now < deadline ? deadline - now : 0);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
	}
	return 0;
}
