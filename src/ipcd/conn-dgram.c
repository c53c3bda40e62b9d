/* SPDX-License-Identifier: MIT */
/*
 * A datagram socket's echo: batches in and out, each sender checked and answered at its own
 * address, each peer's fair share of the send buffer (SIOCOUTQ), and its reload, which grows
 * the worker's scratch buffer (worker_ensure_scratch: conn.c says why conn calls worker_*).
 */
#include <linux/sockios.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conn-internal.h"
#include "dgram_reply.h"
#include "dgram_share.h"
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

/* As many datagrams per batch as fit in DGRAM_BATCH_BYTES at max bytes each, at least one. */
static unsigned dgram_batch_size(size_t max) {
	return (unsigned)MAX(MIN(DGRAM_BATCH_BYTES / max, (size_t)DGRAM_BATCH), (size_t)1);
}

size_t conn_dgram_scratch_size(size_t max) {
	return max * dgram_batch_size(max);
}

static void dgram_log_denied(const struct peer *p) {
	char peer[96];
	struct log_fields f = log_fields_of_peer(p, peer, sizeof(peer));

	f.reason = admit_result_to_string(ADMIT_DENIED);
	f.ratelimit = true;
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
		if (sent > 0)
			stats_add(&st->messages, (uint64_t)sent);
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
void conn_dgram_wait(struct conn *c, uint32_t want) {
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
		conn_dgram_wait(c, EPOLLOUT);
		return;
	}
	conn_dgram_wait(c, EPOLLIN);
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

void conn_dgram_on_io(struct poller_entry *e, uint32_t revents _unused_) {
	struct conn *c = container_of(e, struct conn, entry);

	dgram_read(c, poller_now(c->worker->poller));
}

static size_t dgram_sndbuf_target(size_t max_message) {
	return MAX((size_t)DGRAM_SNDBUF_MIN, DGRAM_SHARE_PEERS * dgram_share_truesize(max_message));
}

/* The send buffer a datagram socket needs for max_message echoes, and each peer's share of
 * it. Falling short of the target only makes the shares smaller, so it is logged, not fatal. */
int conn_dgram_size_buffer(struct conn *c, size_t max_message) {
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

void conn_set_config(struct conn *c, struct ipcd_config *config) {
	size_t need = conn_dgram_scratch_size(config->max_message_size);

	if (worker_ensure_scratch(c->worker, need) < 0) {
		log_warning("Out of memory for the new max_message_size, datagram socket keeps the "
			    "previous configuration");
		return;
	}
	/* Keeps the shares it had if this fails: it has logged why. */
	(void)conn_dgram_size_buffer(c, config->max_message_size);
	conf_unref(c->config);
	c->config = conf_ref(config);
}
