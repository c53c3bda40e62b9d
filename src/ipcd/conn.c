/* SPDX-License-Identifier: MIT */
/*
 * One connection's lifetime: created, attached to a worker, timed out, closed and freed. The
 * echo itself is in conn-stream.c (stream, seqpacket) and conn-dgram.c (datagram sockets):
 * conn_attach() gives a connection its kind's poller callback there, and the stream echo
 * calls conn_close() back here, since a connection ends from its own I/O callback (below).
 *
 * conn and worker are one concept in two files: a worker owns its connections (a list), and
 * the poller and scratch buffer they share; a connection lives on exactly one worker.
 * worker.c calls down into conn_* to start, sweep, reconfigure, preserve and end them. conn.c
 * calls back into worker_* only where a connection's own lifetime changes its worker: joining
 * and leaving the list (the last one out ends a draining loop), growing the scratch buffer,
 * and waking the main loop when no connection is left anywhere. It is not layered because a
 * connection closes itself from its own I/O callback, and its worker must hear of it then.
 */
#include <stdlib.h>

#include "conn-internal.h"
#include "dgram_share.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "worker.h"

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

void conn_count_open(struct conn *c, atomic_uint_fast64_t *gauge) {
	c->open_gauge = gauge;
	atomic_fetch_add_explicit(gauge, 1, memory_order_relaxed);
}

struct conn *conn_free(struct conn *c) {
	if (!c)
		return NULL;
	/* Once per connection, on whichever thread ends it: a locked add is cheap here. */
	if (c->open_gauge)
		atomic_fetch_sub_explicit(c->open_gauge, 1, memory_order_relaxed);
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
	struct log_fields f;

	if (!limit && !c->config->log_connections)
		return;
	f = log_fields_of_peer(&c->peer, peer, sizeof(peer));
	f.has_bytes = true;
	f.bytes = c->bytes_out;
	f.has_duration = true;
	f.duration_usec = now - c->start_usec;
	f.reason = close_reason_to_string(reason);
	f.ratelimit = limit;
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

void conn_attach(struct conn *c, struct worker *w) {
	size_t need = c->kind == CONN_DGRAM ? conn_dgram_scratch_size(c->config->max_message_size)
					    : c->config->buffer_size;
	uint32_t want;
	int r;

	c->worker = w;
	worker_link(w, c);
	if (worker_ensure_scratch(w, need) < 0) {
		conn_close(c, CLOSE_NO_MEMORY);
		return;
	}
	r = c->kind == CONN_DGRAM       ? conn_dgram_size_buffer(c, c->config->max_message_size)
	    : c->kind == CONN_SEQPACKET ? conn_seqpacket_size_buffer(c)
					: 0;
	if (r < 0) {
		conn_close(c, r == -ENOMEM ? CLOSE_NO_MEMORY : CLOSE_ERROR);
		return;
	}
	c->entry.fn = c->kind == CONN_DGRAM ? conn_dgram_on_io : conn_stream_on_io;
	want = c->kind == CONN_DGRAM ? EPOLLIN : conn_stream_wanted_events(c);
	r = poller_add(w->poller, c->fd, want, &c->entry);
	if (r < 0) {
		if (log_ratelimit_ok(LOG_EVENT_DISCONNECT))
			log_warning_errno(r, "Failed to watch connection %llu, closing: %m",
					  (unsigned long long)c->id);
		conn_close(c, r == -ENOMEM ? CLOSE_NO_MEMORY : CLOSE_ERROR);
		return;
	}
	c->events = want;
}

void conn_check_timeouts(struct conn *c, uint64_t now_usec) {
	const struct ipcd_config *k = c->config;

	/* Waiting for room in the send buffer: look again (see conn_dgram_wait()). */
	if (c->kind == CONN_DGRAM) {
		if (c->events == EPOLLOUT)
			conn_dgram_wait(c, EPOLLIN);
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
