/* SPDX-License-Identifier: MIT */
/*
 * The metrics endpoint's connections, on the main loop: accept, read one request head, answer
 * it with a snapshot taken then, close. The echo never waits for it: the workers' counters are
 * read without a lock (only the top users are read under admit's lock, which a connect or close
 * takes too, for one walk of its table), and a slow or silent client only holds its own slot
 * until its deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http.h"
#include "listen.h"
#include "log.h"
#include "macro.h"
#include "metrics-text.h"
#include "metrics.h"
#include "server.h"

#define METRICS_PATH "/metrics"
#define METRICS_UIDS_MAX 10
#define ACCEPT_BATCH 16

struct metrics_client {
	struct metrics *metrics;
	int fd; /* -EBADF: the slot is free */
	sd_event_source *io, *deadline;
	char request[HTTP_HEAD_MAX];
	size_t n_request;
	int status;   /* the answer's, once the head is complete */
	char *answer; /* then the whole answer, sent from answer_sent on */
	size_t n_answer, answer_sent;
};

struct metrics {
	struct server *server;
	struct metrics_client clients[METRICS_CLIENTS_MAX];
};

static void client_close(struct metrics_client *c) {
	c->io = sd_event_source_disable_unref(c->io);
	c->deadline = sd_event_source_disable_unref(c->deadline);
	c->fd = safe_close(c->fd);
	free(c->answer);
	c->answer = NULL;
	c->status = 0;
	c->n_request = c->n_answer = c->answer_sent = 0;
}

int metrics_new(struct server *s, struct metrics **ret) {
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->server = s;
	for (size_t i = 0; i < METRICS_CLIENTS_MAX; i++)
		m->clients[i] = (struct metrics_client){ .metrics = m, .fd = -EBADF };
	*ret = m;
	return 0;
}

struct metrics *metrics_free(struct metrics *m) {
	if (!m)
		return NULL;
	for (size_t i = 0; i < METRICS_CLIENTS_MAX; i++)
		if (m->clients[i].fd >= 0)
			client_close(&m->clients[i]);
	free(m);
	return NULL;
}

/* The exposition text of this moment, in *ret (malloc'd). */
static int metrics_body(struct metrics *m, char **ret, size_t *ret_len) {
	struct server *s = m->server;
	_cleanup_free_ struct metrics_socket *sockets = NULL;
	/* At most 1024 workers (the setting's maximum, and cpu_set_t's): 8 KiB. */
	uint64_t worker_conns[s->workers.n ? s->workers.n : 1];
	struct admit_uid_open uids[METRICS_UIDS_MAX];
	struct metrics_snapshot snap = {
		.version = VERSION,
		.start_time_usec = s->start_realtime_usec,
		.workers = s->workers.n,
		.config_generation = s->config_generation,
		.reloads_applied = s->reloads_applied,
		.reloads_refused = s->reloads_refused,
		.last_reload_time_usec = s->last_reload_realtime_usec,
		.last_reload_applied = s->reloads_refused == 0 || s->last_reload_applied,
		.accept_errors = s->stats.accept_errors,
		.uids = uids,
	};
	FILE *f;

	for (size_t i = 0; i < s->workers.n; i++)
		worker_conns[i] = worker_load(s->workers.workers[i]);
	sockets = calloc(s->n_listeners + 1, sizeof(*sockets));
	if (!sockets)
		return -ENOMEM;
	snap.sockets = sockets;
	snap.worker_connections = worker_conns;
	snap.n_sockets = listeners_snapshot(s, sockets, s->n_listeners + 1);
	worker_pool_totals(&s->workers, &s->stats, admit_active(s->admit), &snap.totals);
	memcpy(snap.refused, s->stats.refused, sizeof(snap.refused));
	snap.n_uids = admit_top_uids(s->admit, uids, METRICS_UIDS_MAX);

	f = open_memstream(ret, ret_len);
	if (!f)
		return -ENOMEM;
	metrics_text_write(&snap, f);
	if (fclose(f) != 0) { /* open_memstream: only an allocation can fail */
		free(*ret);
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The whole answer to a request whose status is known: status line, headers, body. */
static int client_prepare_answer(struct metrics_client *c, const struct http_request *req) {
	_cleanup_free_ char *body = NULL;
	size_t n_body = 0;
	char head[256];
	int n, r;

	if (req->status == 200)
		r = metrics_body(c->metrics, &body, &n_body);
	else {
		r = asprintf(&body, "%d %s: ipcd serves GET %s here, and nothing else.\n",
			     req->status, http_reason(req->status), METRICS_PATH);
		if (r >= 0)
			n_body = (size_t)r;
		else
			body = NULL;
	}
	if (r < 0)
		return -ENOMEM;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "Connection: close\r\n\r\n",
		     req->status, http_reason(req->status), n_body,
		     req->status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (req->head_only)
		n_body = 0;
	c->answer = malloc((size_t)n + n_body);
	if (!c->answer)
		return -ENOMEM;
	memcpy(c->answer, head, (size_t)n);
	memcpy(c->answer + n, body, n_body);
	c->n_answer = (size_t)n + n_body;
	return 0;
}

/* Reads what there is. 1: the head is complete and the answer ready; 0: wait; <0: give up. */
static int client_read(struct metrics_client *c) {
	struct http_request req;
	ssize_t n;

	n = recv(c->fd, c->request + c->n_request, sizeof(c->request) - c->n_request, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		return -ECONNRESET; /* gone before asking anything */
	c->n_request += (size_t)n;
	req = http_request_check(c->request, c->n_request, METRICS_PATH);
	if (req.status == 0)
		return 0;
	c->status = req.status;
	if (req.status != 200)
		log_debug("Metrics request refused: %d %s", req.status, http_reason(req.status));
	return client_prepare_answer(c, &req) < 0 ? -ENOMEM : 1;
}

/* Sends what the socket takes. 1: all sent; 0: wait for room; <0: give up. */
static int client_write(struct metrics_client *c) {
	ssize_t n = send(c->fd, c->answer + c->answer_sent, c->n_answer - c->answer_sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	c->answer_sent += (size_t)n;
	return c->answer_sent == c->n_answer;
}

/* After a refusal, or with bytes past the head: what the client still sends is read and
 * dropped until it closes. Closing with it unread would reset the connection, and a TCP reset
 * can destroy the answer on its way. Bounded by the client's deadline like the rest. */
static int client_drain(struct metrics_client *c) {
	ssize_t n = recv(c->fd, c->request, sizeof(c->request), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	return n == 0;
}

static int on_client_io(sd_event_source *src, int fd _unused_, uint32_t revents _unused_,
			void *userdata) {
	struct metrics_client *c = userdata;
	int r;

	if (c->answer && c->answer_sent == c->n_answer) {
		r = client_drain(c);
		goto done;
	}
	if (!c->answer) {
		r = client_read(c);
		if (r <= 0)
			goto done;
		/* Most answers fit the socket buffer at once; the rest waits for room. */
		if (sd_event_source_set_io_events(src, EPOLLOUT) < 0) {
			r = -EIO;
			goto done;
		}
	}
	r = client_write(c);
	if (r == 1 &&
	    (c->status != 200 || recv(c->fd, &(char){ 0 }, 1, MSG_PEEK | MSG_DONTWAIT) > 0)) {
		/* All sent, and the client may still be sending: say so, and wait for its end. */
		if (shutdown(c->fd, SHUT_WR) < 0 || sd_event_source_set_io_events(src, EPOLLIN) < 0)
			goto done;
		r = client_drain(c);
	}
done:
	if (r != 0) {
		if (r < 0)
			log_debug_errno(r, "Metrics client closed: %m");
		client_close(c);
	}
	return 0;
}

static int on_client_deadline(sd_event_source *src _unused_, uint64_t usec _unused_,
			      void *userdata) {
	log_debug("Metrics client too slow, closing");
	client_close(userdata);
	return 0;
}

static void client_start(struct metrics *m, int fd) {
	struct metrics_client *c = NULL;
	sd_event *e = m->server->event;

	for (size_t i = 0; i < METRICS_CLIENTS_MAX && !c; i++)
		if (m->clients[i].fd < 0)
			c = &m->clients[i];
	if (!c) {
		log_debug("Metrics: %d clients already, closing a new one", METRICS_CLIENTS_MAX);
		safe_close(fd);
		return;
	}
	c->fd = fd;
	if (sd_event_add_io(e, &c->io, fd, EPOLLIN, on_client_io, c) < 0 ||
	    sd_event_add_time_relative(e, &c->deadline, CLOCK_MONOTONIC, METRICS_TIMEOUT_USEC,
				       USEC_PER_SEC / 10, on_client_deadline, c) < 0) {
		log_debug("Metrics: cannot watch a client, closing it");
		client_close(c);
	}
}

int metrics_on_accept(sd_event_source *src _unused_, int lfd, uint32_t revents _unused_,
		      void *userdata) {
	for (unsigned i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				listeners_pause_accepting(((struct metrics *)userdata)->server,
							  negative_errno());
				break;
			}
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* EAGAIN: all taken; anything else concerned one client */
		}
		client_start(userdata, fd);
	}
	return 0;
}
