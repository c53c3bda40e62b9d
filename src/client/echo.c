/* SPDX-License-Identifier: MIT */
/*
 * ipc-client echo: stdin to the server, the echo to stdout. Reading stdin waits while what was
 * read is not yet sent, and echoes are read all the while, so a server that stops reading
 * until its echoes drain (backpressure) never deadlocks against us.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "ping.h"
#include "single.h"

#define ECHO_BUF (64 * 1024)

static int write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int echo_run(const struct client_opts *o) {
	static char out[ECHO_BUF], in[ECHO_BUF];
	size_t out_len = 0, out_off = 0;
	uint64_t outstanding = 0, last_progress = now_usec();
	bool stdin_open = true, stream = o->type == SOCK_STREAM;
	struct single s;
	int r;

	r = single_connect(o, &s);
	if (r < 0) {
		fprintf(stderr, "ipc-client: cannot connect to '%s': %s\n", o->socket,
			strerror(-r));
		return 3;
	}
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = s.signal_fd, .events = POLLIN },
			{ .fd = s.fd, .events = POLLIN | (out_len > out_off ? POLLOUT : 0) },
			{ .fd = stdin_open && out_len == out_off ? STDIN_FILENO : -1,
			  .events = POLLIN },
		};
		if (!stdin_open && outstanding == 0 && !stream)
			break; /* every message came back */
		if (!stdin_open && now_usec() - last_progress > o->io_timeout_usec) {
			fprintf(stderr, "ipc-client: no echo within the io-timeout\n");
			r = -ETIMEDOUT;
			break;
		}
		if (poll(p, 3, 100) < 0 && errno != EINTR) {
			r = negative_errno();
			break;
		}
		if (p[0].revents) {
			r = -EINTR;
			break;
		}
		if (p[2].revents) {
			ssize_t n = read(STDIN_FILENO, out, sizeof(out));
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				r = negative_errno();
				break;
			}
			if (n == 0) {
				stdin_open = false;
				last_progress = now_usec();
				/* Half-close: the server flushes what it holds, then ends the
				 * stream. */
				if (stream && shutdown(s.fd, SHUT_WR) < 0) {
					r = negative_errno();
					break;
				}
			} else if (n > 0) {
				out_len = (size_t)n;
				out_off = 0;
			}
		}
		if (out_len > out_off && (p[1].revents & POLLOUT)) {
			ssize_t n = send(s.fd, out + out_off, out_len - out_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				r = negative_errno();
				break;
			}
			if (n > 0) {
				out_off += (size_t)n;
				outstanding += (uint64_t)n;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(s.fd, in, sizeof(in), MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				r = negative_errno();
				break;
			}
			if (n == 0 && o->type != SOCK_DGRAM) {
				r = stdin_open || outstanding > 0 ? -ECONNRESET : 0;
				break; /* the server ended the stream */
			}
			if (n > 0) {
				outstanding -= MIN((uint64_t)n, outstanding);
				last_progress = now_usec();
				if ((r = write_all(STDOUT_FILENO, in, (size_t)n)) < 0)
					break;
			}
		}
		r = 0;
	}
	single_close(&s);
	if (r < 0 && r != -EINTR && r != -ETIMEDOUT)
		fprintf(stderr, "ipc-client: echo: %s\n",
			r == -ECONNRESET ? "the server closed the connection early" : strerror(-r));
	/* Interrupted with every byte back: as clean as ping(8) on Ctrl-C. */
	if (r == -EINTR && outstanding == 0)
		r = 0;
	return r < 0 ? 1 : 0;
}
