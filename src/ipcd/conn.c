/* SPDX-License-Identifier: MIT */
/*
 * The echo engine: one connection's reads, writes, backpressure, half-close and limits.
 *
 * Stream invariant: bytes go back in the order they came. Without a pending buffer a read
 * lands in the worker's scratch buffer and is written straight back; only the part the socket
 * would not take is copied into a pending buffer of buffer_size bytes. While that buffer holds
 * anything, reads append to it and writes drain it, so nothing can overtake it; when it is
 * full the connection is not read (backpressure), and when it empties it is freed.
 * Half-close: after the peer's EOF, pending bytes are still flushed; then we close.
 */
#include <linux/sockios.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "conn.h"
#include "dgram_reply.h"
#include "dgram_share.h"
#include "fdstore.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "sockbuf.h"
#include "worker.h"

#define DGRAM_BATCH 32 /* datagrams per wake-up, so one busy socket cannot starve the rest */
#define DGRAM_BATCH_BYTES (2u << 20) /* receive space for one batch, shared by the worker */
_Static_assert(DGRAM_BATCH <= DGRAM_REPLY_MAX, "a batch's senders must fit in its dgram_reply");
/* The datagram socket's send buffer ipcd asks for: room for the peers' shares of
 * dgram_share.h, and never less than a size where an echo of a few KiB per peer in flight
 * serves hundreds of peers at once. */
#define DGRAM_SNDBUF_MIN (8u << 20)
/* Up to the default max_message_size a seqpacket echo fits the buffer a socket starts with
 * (net.core.wmem_default, 208 KiB unless lowered): no system call to raise it. */
#define MESSAGE_FITS_DEFAULT_BUFFER (64u << 10)

/* As many datagrams per batch as fit in DGRAM_BATCH_BYTES at max bytes each, at least one. */
static unsigned dgram_batch_size(size_t max) {
	return (unsigned)MAX(MIN(DGRAM_BATCH_BYTES / max, (size_t)DGRAM_BATCH), (size_t)1);
}

static size_t dgram_scratch_size(size_t max) {
	return max * dgram_batch_size(max);
}

static const char *const kind_names[_CONN_KIND_MAX] = {
	[CONN_STREAM] = "stream",
	[CONN_SEQPACKET] = "seqpacket",
	[CONN_DGRAM] = "datagram",
};

const char *conn_kind_to_string(enum conn_kind k) {
	return k < _CONN_KIND_MAX ? kind_names[k] : NULL;
}

int conn_new(int fd, enum conn_kind kind, const struct peer *peer, bool admitted,
	     struct ipcd_config *config, uint64_t id, uint64_t now_usec, struct conn **ret) {
	struct conn *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	*c = (struct conn){
		.fd = fd,
		.kind = kind,
		.admitted = admitted,
		.peer = *peer,
		.config = conf_ref(config),
		.id = id,
		.start_usec = now_usec,
		.last_usec = now_usec,
	};
	c->peer.groups = NULL;
	c->peer.n_groups = 0;
	*ret = c;
	return 0;
}

struct conn *conn_free(struct conn *c) {
	if (!c)
		return NULL;
	if (c->events && c->worker) /* registered only once attached to a worker */
		poller_remove(c->worker->poller, c->fd);
	safe_close(c->fd);
	free(c->pending);
	if (c->share) {
		dgram_share_done(c->share);
		free(c->share);
	}
	conf_unref(c->config);
	free(c);
	return NULL;
}

static void conn_log_close(const struct conn *c, enum close_reason reason, uint64_t now) {
	bool limit = close_reason_is_limit(reason);
	char peer[96], dur[FORMAT_DURATION_MAX], size[FORMAT_SIZE_MAX];
	struct log_fields f = {
		.has_peer = c->peer.has_creds,
		.pid = c->peer.pid,
		.uid = c->peer.uid,
		.gid = c->peer.gid,
		.has_bytes = true,
		.bytes = c->bytes_out,
		.has_duration = true,
		.duration_usec = now - c->start_usec,
		.reason = close_reason_to_string(reason),
		.ratelimit = limit,
	};

	if (!limit && !c->config->log_connections)
		return;
	admit_peer_describe(&c->peer, peer, sizeof(peer));
	format_timespan(dur, sizeof(dur), f.duration_usec);
	log_event(LOG_EVENT_DISCONNECT, limit ? LOG_WARNING : LOG_INFO, &f,
		  "Connection %llu%s closed (%s) after %s, %s echoed", (unsigned long long)c->id,
		  peer, f.reason, dur, format_size(size, sizeof(size), c->bytes_out));
}

struct conn *conn_close(struct conn *c, enum close_reason reason) {
	struct worker *w = c->worker;

	if (c->kind != CONN_DGRAM)
		conn_log_close(c, reason, now_usec());
	if (w) {
		if (c->kind != CONN_DGRAM)
			stats_add(&w->stats.closed[reason], 1);
		worker_unlink(w, c);
		if (c->admitted && admit_release(w->admit, &c->peer) == 0)
			worker_notify_server(w);
	}
	return conn_free(c);
}

static void conn_count_out(struct conn *c, size_t n, uint64_t now) {
	c->bytes_out += n;
	c->last_usec = now;
	stats_add(&c->worker->stats.bytes, n);
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

static void dgram_log_denied(const struct peer *p) {
	char peer[96];
	struct log_fields f = {
		.has_peer = p->has_creds,
		.pid = p->pid,
		.uid = p->uid,
		.gid = p->gid,
		.reason = admit_result_to_string(ADMIT_DENIED),
		.ratelimit = true,
	};
	admit_peer_describe(p, peer, sizeof(peer));
	log_event(LOG_EVENT_DENIED, LOG_WARNING, &f, "Dropped datagram%s: not allowed by access",
		  peer);
}

/* The kernel's overflow ids: what it reports for a datagram that carries no credentials. */
#define OVERFLOW_ID 65534

static bool dgram_sender(struct msghdr *m, struct peer *ret) {
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS &&
		    h->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(h), sizeof(u));
			/* A datagram queued before SO_PASSCRED was on (the one that started us,
			 * under socket activation) comes with pid 0 and the overflow ids: that is
			 * nobody's word, not user "nobody". */
			if (u.pid == 0 && u.uid == OVERFLOW_ID && u.gid == OVERFLOW_ID)
				break;
			*ret = (struct peer){
				.has_creds = true, .pid = u.pid, .uid = u.uid, .gid = u.gid
			};
			return true;
		}
	*ret = (struct peer){ .has_creds = false };
	return false;
}

/* Counts and logs a datagram whose address dgram_reply_address() refused with r. What would
 * have failed to send anyway (the sender has gone) counts as dropped, as it always has; what
 * could have reached a socket other than the sender's is unanswerable, and a warning: someone
 * may have tried. */
static void dgram_count_refused(struct worker_stats *st, const struct peer *sender, int r) {
	const char *why = dgram_reply_refusal_to_string(r);
	char peer[96];

	if (!why) {
		stats_add(&st->dgram_dropped, 1);
		return;
	}
	stats_add(&st->dgram_unanswerable, 1);
	if (!log_ratelimit_ok(LOG_EVENT_DENIED))
		return;
	admit_peer_describe(sender, peer, sizeof(peer));
	/* The path is the peer's to choose, newlines included: it is not logged. */
	log_warning("Not answering datagram%s: its address %s, dropping", peer, why);
}

/* Sends answers[0..n) back to their senders; a datagram that cannot go is dropped alone, and
 * its charge returned to its peer (peers[i]). */
static void dgram_answer(struct conn *c, struct mmsghdr *answers, struct dgram_peer **peers,
			 unsigned n) {
	struct worker_stats *st = &c->worker->stats;

	while (n > 0) {
		int sent = sendmmsg(c->fd, answers, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		for (int i = 0; i < sent; i++)
			stats_add(&st->bytes, answers[i].msg_hdr.msg_iov->iov_len);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			/* The first one failed: its sender's queue is full or it has gone. A
			 * datagram is allowed to be lost, and waiting for one peer would stall
			 * every other. */
			stats_add(&st->dgram_dropped, 1);
			dgram_share_refund(c->share, peers[0], answers[0].msg_hdr.msg_iov->iov_len);
			sent = 1;
		}
		answers += sent;
		peers += sent;
		n -= (unsigned)sent;
	}
}

/* Reading stops while the send buffer has no room for a batch's echoes, until the socket is
 * writable again (a quarter of the buffer taken) or the next sweep, whichever comes first: a
 * buffer that peers which never read keep above a quarter is never reported writable. */
static void dgram_wait(struct conn *c, uint32_t want) {
	int r;

	if (want == c->events)
		return;
	r = poller_modify(c->worker->poller, c->fd, want, &c->entry);
	if (r < 0) {
		/* Left as it was; the next sweep tries again. */
		if (log_ratelimit_ok(LOG_EVENT_DISCONNECT))
			log_warning_errno(
				r, "Failed to change what the datagram socket waits for: %m");
		return;
	}
	c->events = want;
}

static void dgram_log_unread(const struct peer *sender, size_t quota) {
	char peer[96], size[FORMAT_SIZE_MAX];

	if (!log_ratelimit_ok(LOG_EVENT_DENIED))
		return;
	admit_peer_describe(sender, peer, sizeof(peer));
	log_warning("Not answering datagram%s: its socket has not read %s of echoes, the most one "
		    "peer may hold; dropping",
		    peer, format_size(size, sizeof(size), quota));
}

/* How many datagrams this wake-up may read: no more than the send buffer has room to echo,
 * after crediting what the peers have read since the last one. 0: none, wait for room. */
static unsigned dgram_batch_room(struct conn *c, unsigned batch) {
	size_t max = c->config->max_message_size;
	int queued;

	if (ioctl(c->fd, SIOCOUTQ, &queued) < 0 || queued < 0) {
		/* Cannot fail on a unix socket; if it did, credit nothing and read as before. */
		dgram_share_settle(c->share, c->share->charged);
		return batch;
	}
	dgram_share_settle(c->share, (size_t)queued);
	return (unsigned)MIN((size_t)batch, dgram_share_room(c->share, (size_t)queued, max));
}

/* One batch of datagrams in, each checked, the answerable ones back to the sockets that sent
 * them, in three system calls plus, per sender path, the three of dgram_reply_address().
 * Failures concern one datagram only. */
static void dgram_read(struct conn *c, uint64_t now) {
	struct worker_stats *st = &c->worker->stats;
	size_t max = c->config->max_message_size;
	unsigned batch = dgram_batch_room(c, dgram_batch_size(max)), n_answers = 0;
	/* Closes the batch's O_PATH fds on return, after dgram_answer() has sent to them. */
	_cleanup_(dgram_reply_done) struct dgram_reply reply = { .n = 0 };
	struct sockaddr_un from[DGRAM_BATCH];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control[DGRAM_BATCH];
	struct iovec iov[DGRAM_BATCH];
	struct mmsghdr msgs[DGRAM_BATCH], answers[DGRAM_BATCH];
	struct dgram_peer *peers[DGRAM_BATCH] = { NULL };
	int n;

	if (batch == 0) {
		dgram_wait(c, EPOLLOUT);
		return;
	}
	dgram_wait(c, EPOLLIN);
	atomic_store_explicit(&st->last_datagram_usec, now, memory_order_relaxed);
	for (unsigned i = 0; i < batch; i++) {
		iov[i] = (struct iovec){ .iov_base = c->worker->scratch + i * max, .iov_len = max };
		msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &from[i],
			.msg_namelen = sizeof(from[i]),
			.msg_iov = &iov[i],
			.msg_iovlen = 1,
			.msg_control = &control[i],
			.msg_controllen = sizeof(control[i]),
		};
	}
	/* MSG_TRUNC: msg_len is each datagram's real length, so oversize shows. */
	n = recvmmsg(c->fd, msgs, batch, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR && log_ratelimit_ok(LOG_EVENT_DISCONNECT))
			log_warning_errno(negative_errno(),
					  "Failed to receive datagram, ignoring: %m");
		return;
	}
	stats_add(&st->datagrams, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &msgs[i].msg_hdr;
		struct sockaddr_un *to;
		socklen_t to_len;
		struct peer sender;
		bool over_quota;
		int r;

		if (msgs[i].msg_len > max) {
			stats_add(&st->dgram_oversize, 1);
			continue;
		}
		/* An unbound sender's address is the family alone: there is no one to answer. */
		if (m->msg_namelen <= offsetof(struct sockaddr_un, sun_path)) {
			stats_add(&st->dgram_unanswerable, 1);
			continue;
		}
		dgram_sender(m, &sender);
		if (!admit_peer_allowed(c->config, &sender)) {
			stats_add(&st->dgram_denied, 1);
			dgram_log_denied(&sender);
			continue;
		}
		r = dgram_reply_address(&reply, &from[i], m->msg_namelen, &sender, &to, &to_len);
		if (r < 0) {
			dgram_count_refused(st, &sender, r);
			continue;
		}
		peers[n_answers] = dgram_share_charge(c->share, &from[i], m->msg_namelen,
						      msgs[i].msg_len, &over_quota);
		if (!peers[n_answers]) {
			stats_add(over_quota ? &st->dgram_unread : &st->dgram_dropped, 1);
			if (over_quota)
				dgram_log_unread(&sender, c->share->quota);
			continue;
		}
		iov[i].iov_len = msgs[i].msg_len;
		answers[n_answers++].msg_hdr = (struct msghdr){
			.msg_name = to,
			.msg_namelen = to_len,
			.msg_iov = &iov[i],
			.msg_iovlen = 1,
		};
	}
	dgram_answer(c, answers, peers, n_answers);
}

static uint32_t conn_wanted_events(const struct conn *c) {
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
	want = conn_wanted_events(c);
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

static void conn_on_io(struct poller_entry *e, uint32_t revents) {
	struct conn *c = container_of(e, struct conn, entry);
	uint64_t now = poller_now(c->worker->poller);
	int r;

	if (c->kind == CONN_DGRAM) {
		dgram_read(c, now);
		return;
	}
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

static size_t dgram_sndbuf_target(size_t max_message) {
	return MAX((size_t)DGRAM_SNDBUF_MIN, DGRAM_SHARE_PEERS * dgram_share_truesize(max_message));
}

/* The send buffer a datagram socket needs for max_message echoes, and each peer's share of
 * it. Falling short of the target only makes the shares smaller, so it is logged, not fatal. */
static int dgram_size_buffer(struct conn *c, size_t max_message) {
	size_t want = dgram_sndbuf_target(max_message), have;
	char a[FORMAT_SIZE_MAX], b[FORMAT_SIZE_MAX];
	int r;

	r = sockbuf_raise(c->fd, want, &have);
	if (r < 0)
		return log_warning_errno(r, "Failed to size the datagram socket's send buffer: %m");
	if (have < want)
		log_notice(
			"Datagram socket: send buffer %s, not the %s asked for (net.core.wmem_max "
			"caps it; SendBuffer= in the socket unit does not): fewer peers that do "
			"not read fill it",
			format_size(a, sizeof(a), have), format_size(b, sizeof(b), want));
	if (c->share) {
		dgram_share_set_limits(c->share, have, max_message);
		return 0;
	}
	c->share = malloc(sizeof(*c->share));
	if (!c->share)
		return -ENOMEM;
	r = dgram_share_init(c->share, have, max_message);
	if (r < 0) {
		free(c->share);
		c->share = NULL;
	}
	return r;
}

/* A seqpacket echo goes out whole: the send buffer must hold the largest message. Sockets
 * start with net.core.wmem_default (usually 208 KiB), which the default limit fits. */
static int seqpacket_size_buffer(struct conn *c) {
	size_t max = c->config->max_message_size, have;

	if (max <= MESSAGE_FITS_DEFAULT_BUFFER)
		return 0;
	return sockbuf_raise(c->fd, SOCKBUF_FOR_MESSAGE(max), &have);
}

void conn_attach(struct conn *c, struct worker *w) {
	size_t need = c->kind == CONN_DGRAM ? dgram_scratch_size(c->config->max_message_size)
					    : c->config->buffer_size;
	int r;

	c->worker = w;
	worker_link(w, c);
	if (worker_ensure_scratch(w, need) < 0) {
		conn_close(c, CLOSE_NO_MEMORY);
		return;
	}
	r = c->kind == CONN_DGRAM       ? dgram_size_buffer(c, c->config->max_message_size)
	    : c->kind == CONN_SEQPACKET ? seqpacket_size_buffer(c)
					: 0;
	if (r < 0) {
		conn_close(c, r == -ENOMEM ? CLOSE_NO_MEMORY : CLOSE_ERROR);
		return;
	}
	c->entry.fn = conn_on_io;
	r = poller_add(w->poller, c->fd, EPOLLIN, &c->entry);
	if (r < 0) {
		if (log_ratelimit_ok(LOG_EVENT_DISCONNECT))
			log_warning_errno(r, "Failed to watch connection %llu, closing: %m",
					  (unsigned long long)c->id);
		conn_close(c, r == -ENOMEM ? CLOSE_NO_MEMORY : CLOSE_ERROR);
		return;
	}
	c->events = EPOLLIN;
}

void conn_preserve(struct conn *c) {
	c->preserving = true;
	conn_settle(c);
}

void conn_set_config(struct conn *c, struct ipcd_config *config) {
	if (worker_ensure_scratch(c->worker, dgram_scratch_size(config->max_message_size)) < 0) {
		log_warning("Out of memory for the new max_message_size, datagram socket keeps the "
			    "previous configuration");
		return;
	}
	/* Keeps the shares it had if this fails: it has logged why. */
	(void)dgram_size_buffer(c, config->max_message_size);
	conf_unref(c->config);
	c->config = conf_ref(config);
}

void conn_check_timeouts(struct conn *c, uint64_t now_usec) {
	const struct ipcd_config *k = c->config;

	/* Waiting for room in the send buffer: look again (see dgram_wait()). */
	if (c->kind == CONN_DGRAM) {
		if (c->events == EPOLLOUT)
			dgram_wait(c, EPOLLIN);
		return;
	}
	/* Times stamped later than now_usec are not in the past: never let them wrap around. */
	if (k->max_connection_time_usec && now_usec > c->start_usec &&
	    now_usec - c->start_usec >= k->max_connection_time_usec)
		conn_close(c, CLOSE_TIME);
	else if (k->idle_timeout_usec && now_usec > c->last_usec &&
		 now_usec - c->last_usec >= k->idle_timeout_usec)
		conn_close(c, CLOSE_IDLE);
}
