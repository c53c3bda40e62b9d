/* SPDX-License-Identifier: MIT */
/*
 * The stream and seqpacket echo: reads, writes, backpressure, half-close, byte limit, and the
 * flush before a preserved connection goes to the fd store. Reads into its worker's scratch
 * buffer and waits in its worker's poller; ends a connection with conn.c's conn_close()
 * (conn.c's top comment says why these calls go both ways).
 *
 * Stream invariant: bytes go back in the order they came. Without a pending buffer a read
 * lands in the worker's scratch buffer and is written straight back; only the part the socket
 * would not take is copied into a pending buffer of buffer_size bytes. While that buffer holds
 * anything, reads append to it and writes drain it, so nothing can overtake it; when it is
 * full the connection is not read (backpressure), and when it empties it is freed.
 * Half-close: after the peer's EOF, pending bytes are still flushed; then we close.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn-internal.h"
#include "fdstore.h"
#include "log.h"
#include "macro.h"
#include "sockbuf.h"
#include "worker.h"

/* Up to the default max_message_size a seqpacket echo fits the buffer a socket starts with
 * (net.core.wmem_default, 208 KiB unless lowered): no system call to raise it. */
#define MESSAGE_FITS_DEFAULT_BUFFER (64u << 10)

static void conn_count_out(struct conn *c, size_t n, uint64_t now) {
	c->bytes_out += n;
	c->last_usec = now;
	stats_add(&c->worker->stats.bytes, n);
	if (c->kind == CONN_SEQPACKET) /* a seqpacket send takes one whole message or nothing */
		stats_add(&c->worker->stats.messages, 1);
}

static bool conn_byte_limit_reached(const struct conn *c) {
	return c->config->max_connection_bytes && c->bytes_in >= c->config->max_connection_bytes;
}

/* Writes as much pending as the socket takes; frees the buffer once it is empty. */
static int conn_flush(struct conn *c, uint64_t now) {
	ssize_t n = send(c->fd, c->pending + c->pending_start, c->pending_end - c->pending_start,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	conn_count_out(c, (size_t)n, now);
	c->pending_start += (uint32_t)n;
	if (c->pending_start == c->pending_end) {
		free(c->pending);
		c->pending = NULL;
		c->pending_start = c->pending_end = 0;
	}
	return 0;
}

/* Keeps what send() did not take, in order. For seqpacket it is the whole message. */
static int conn_hold(struct conn *c, const char *buf, size_t n, size_t capacity) {
	c->pending = malloc(capacity);
	if (!c->pending)
		return -ENOMEM;
	memcpy(c->pending, buf, n);
	c->pending_start = 0;
	c->pending_end = (uint32_t)n;
	return 0;
}

static int stream_read(struct conn *c, uint64_t now) {
	size_t cap = c->config->buffer_size, want;
	char *dst;
	ssize_t n, w;

	if (c->pending) {
		if (c->pending_end == cap && c->pending_start > 0) {
			memmove(c->pending, c->pending + c->pending_start,
				c->pending_end - c->pending_start);
			c->pending_end -= c->pending_start;
			c->pending_start = 0;
		}
		dst = c->pending + c->pending_end;
		want = cap - c->pending_end;
	} else {
		dst = c->worker->scratch;
		want = cap;
	}
	if (c->config->max_connection_bytes)
		want = MIN(want, c->config->max_connection_bytes - c->bytes_in);
	if (want == 0)
		return 0; /* recv() of 0 bytes would look like EOF */

	n = recv(c->fd, dst, want, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0) {
		c->read_eof = true;
		return 0;
	}
	c->bytes_in += (size_t)n;
	c->last_usec = now;
	if (c->pending) {
		/* Written on EPOLLOUT, behind what is already waiting. */
		c->pending_end += (uint32_t)n;
		return 0;
	}

	w = send(c->fd, dst, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return negative_errno();
		w = 0;
	}
	conn_count_out(c, (size_t)w, now);
	if (w == n)
		return 0;
	return conn_hold(c, dst + w, (size_t)(n - w), cap);
}

/* The message fit max_message_size but not the socket's send buffer, which the kernel capped
 * below what ipcd asked for (net.core.wmem_max lowered since ipcd checked it). That is not
 * the peer's doing: not a max-message-size close. */
static int seqpacket_too_large_to_send(struct conn *c, size_t n) {
	if (log_ratelimit_ok(LOG_EVENT_DISCONNECT))
		log_warning("Connection %llu: a %zu-byte message does not fit its socket's send "
			    "buffer (see net.core.wmem_max), closing",
			    (unsigned long long)c->id, n);
	return -ENOBUFS;
}

static int seqpacket_read(struct conn *c, uint64_t now) {
	size_t max = c->config->max_message_size;
	char *buf = c->worker->scratch;
	ssize_t n, w;

	/* MSG_TRUNC: the return value is the message's real length, so oversize shows. */
	n = recv(c->fd, buf, max, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0) {
		/* Linux reports a zero-length message and the end of the stream alike. */
		c->read_eof = true;
		return 0;
	}
	if ((size_t)n > max)
		return -EMSGSIZE;
	/* A message is echoed whole or not at all: one that would take the connection past its
	 * byte limit ends it instead (EDQUOT: a quota, the byte limit's, exceeded). */
	if (c->config->max_connection_bytes &&
	    (uint64_t)n > c->config->max_connection_bytes - c->bytes_in)
		return -EDQUOT;
	c->bytes_in += (size_t)n;
	c->last_usec = now;

	w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0) {
		if (errno == EMSGSIZE)
			return seqpacket_too_large_to_send(c, (size_t)n);
		if (errno != EAGAIN && errno != EINTR)
			return negative_errno();
		return conn_hold(c, buf, (size_t)n, (size_t)n);
	}
	conn_count_out(c, (size_t)w, now);
	return 0;
}

uint32_t conn_stream_wanted_events(const struct conn *c) {
	uint32_t e = 0;
	size_t held = c->pending_end - c->pending_start;

	if (c->pending)
		e |= EPOLLOUT;
	if (!c->read_eof && !c->preserving && !conn_byte_limit_reached(c) &&
	    (c->kind == CONN_STREAM ? held < c->config->buffer_size : !c->pending))
		e |= EPOLLIN;
	return e;
}

/* After I/O: close if the connection is done, else wait for what it needs next. */
static void conn_settle(struct conn *c) {
	uint32_t want;

	if (!c->pending && c->read_eof) {
		conn_close(c, CLOSE_EOF);
		return;
	}
	if (!c->pending && conn_byte_limit_reached(c)) {
		conn_close(c, CLOSE_BYTES);
		return;
	}
	if (!c->pending && c->preserving) {
		/* Every echo is out: what the peer sends next waits in the socket for the next
		 * instance. If the hand-over fails, the peer sees the connection end. */
		int r = fdstore_save(&c->fd, 1);
		if (r < 0 && log_ratelimit_ok(LOG_EVENT_DISCONNECT))
			log_warning_errno(r,
					  "Failed to hand connection %llu to the fd store, "
					  "closing: %m",
					  (unsigned long long)c->id);
		conn_close(c, r < 0 ? CLOSE_SHUTDOWN : CLOSE_PRESERVED);
		return;
	}
	want = conn_stream_wanted_events(c);
	if (want == c->events)
		return;
	if (poller_modify(c->worker->poller, c->fd, want, &c->entry) < 0) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	c->events = want;
}

static enum close_reason close_reason_from_errno(int r) {
	return r == -EMSGSIZE ? CLOSE_MESSAGE_SIZE
	       : r == -EDQUOT ? CLOSE_BYTES
	       : r == -ENOMEM ? CLOSE_NO_MEMORY
			      : CLOSE_ERROR;
}

void conn_stream_on_io(struct poller_entry *e, uint32_t revents) {
	struct conn *c = container_of(e, struct conn, entry);
	uint64_t now = poller_now(c->worker->poller);
	int r;

	if (c->pending && (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		r = conn_flush(c, now);
		if (r < 0) {
			conn_close(c, CLOSE_ERROR);
			return; /* ignore errors, continue serving */
		}
	}
	if ((c->events & EPOLLIN) && (revents & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		r = c->kind == CONN_STREAM ? stream_read(c, now) : seqpacket_read(c, now);
		if (r < 0) {
			conn_close(c, close_reason_from_errno(r));
			return;
		}
	}
	conn_settle(c);
}

/* A seqpacket echo goes out whole: the send buffer must hold the largest message. Sockets
 * start with net.core.wmem_default (usually 208 KiB), which the default limit fits. */
int conn_seqpacket_size_buffer(struct conn *c) {
	size_t max = c->config->max_message_size, have;

	if (max <= MESSAGE_FITS_DEFAULT_BUFFER)
		return 0;
	return sockbuf_raise(c->fd, SOCKBUF_FOR_MESSAGE(max), &have);
}

void conn_preserve(struct conn *c) {
	c->preserving = true;
	conn_settle(c);
}
