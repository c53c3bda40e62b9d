/* SPDX-License-Identifier: MIT */
/* One connection with bounded, interruptible waits: connect, wait, send. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>

#include "client-socket.h"
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
	struct single s = { .fd = -EBADF, .signal_fd = -EBADF, .type = o->type };
	struct socket_address a;
	uint64_t deadline = now_usec() + o->connect_timeout_usec;
	sigset_t mask;
	int r;

	r = socket_address_parse(o->socket, &a);
	if (r < 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	s.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.signal_fd < 0) {
		r = negative_errno();
		goto fail;
	}
	s.fd = client_socket_open(&a, o->type);
	if (s.fd < 0) {
		r = s.fd;
		goto fail;
	}
	while ((r = client_socket_connect(s.fd, &a)) == 0) {
		uint64_t now = now_usec();
		if (now >= deadline) {
			r = -ETIMEDOUT;
			goto fail;
		}
		/* TCP: until the handshake ends. Unix: the backlog is full, the server is slow to
		 * accept; try again shortly (a unix socket has no readiness to wait for). */
		r = socket_address_is_inet(&a) ? single_wait(&s, s.fd, POLLOUT, deadline - now)
					       : single_wait(&s, -1, 0, 2 * USEC_PER_MSEC);
		if (r < 0)
			goto fail;
	}
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
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
