/* SPDX-License-Identifier: MIT */
/*
 * ipc-client ping: one connection, one round trip at a time, like ping(8). A lost datagram is
 * counted and the run goes on; on a stream or seqpacket connection a late or wrong echo would
 * shift every later one, so it ends the run.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "hist-text.h"
#include "hist.h"
#include "macro.h"
#include "pattern.h"
#include "ping.h"
#include "report.h"
#include "single.h"

#define LATE_WINDOW 16 /* datagram echoes this many rounds late are recognised and dropped */

static bool is_echo_of(const struct pattern *pat, uint64_t seq, uint64_t chunk, const void *buf) {
	return pattern_check(pat, 0, seq * chunk, buf, chunk) < 0;
}

/* Whether a datagram is the echo of one of the last LATE_WINDOW rounds, not of seq. seq's own
 * is tried first: a chunk of a byte or two often equals an earlier round's by chance, and
 * taking seq's echo for a late one would count a round lost that was not. */
static bool is_late_echo(const struct pattern *pat, uint64_t seq, uint64_t chunk, const void *buf) {
	if (is_echo_of(pat, seq, chunk, buf))
		return false;
	for (uint64_t late = seq > LATE_WINDOW ? seq - LATE_WINDOW : 0; late < seq; late++)
		if (is_echo_of(pat, late, chunk, buf))
			return true;
	return false;
}

/* 1: the echo of seq arrived intact; 0: timed out; -EBADMSG: it differs; -ENODATA: EOF. */
static int receive_echo(struct single *s, const struct client_opts *o, const struct pattern *pat,
			uint64_t seq, uint8_t *buf, uint64_t *ret_bad_offset) {
	uint64_t got = 0, chunk = o->chunk, deadline = now_nsec() + o->io_timeout_usec * 1000;

	while (got < chunk) {
		uint64_t now = now_nsec();
		int r = single_wait(s, s->fd, POLLIN, now < deadline ? (deadline - now) / 1000 : 0);
		if (r <= 0)
			return r;
		ssize_t n = recv(s->fd, buf + got, o->type == SOCK_STREAM ? chunk - got : chunk + 1,
				 MSG_DONTWAIT | (o->type == SOCK_STREAM ? 0 : MSG_TRUNC));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0 && o->type != SOCK_DGRAM)
			return -ENODATA;
		if (o->type != SOCK_STREAM) {
			if (o->type == SOCK_DGRAM && (uint64_t)n == chunk &&
			    is_late_echo(pat, seq, chunk, buf))
				continue; /* dropped: its round was counted lost already */
			if ((uint64_t)n != chunk) {
				*ret_bad_offset = MIN((uint64_t)n, chunk);
				return -EBADMSG;
			}
		}
		if (o->verify) {
			ssize_t i = pattern_check(pat, 0, seq * chunk + got, buf + got, (size_t)n);
			if (i >= 0) {
				*ret_bad_offset = got + (uint64_t)i;
				return -EBADMSG;
			}
		}
		got += (uint64_t)n;
	}
	return 1;
}

/* The echo of seq on a stream, sent and read at once: an echo server writes back while it
 * reads, so a chunk larger than the socket buffers would stall both ends if all of it had to
 * go out first. The io-timeout counts from the last byte that moved either way.
 * *ret_sent says whether all of the chunk went out; results as receive_echo(). */
static int stream_round_trip(struct single *s, const struct client_opts *o,
			     const struct pattern *pat, uint64_t seq, uint8_t *buf,
			     uint64_t *ret_bad_offset, bool *ret_sent) {
	const uint8_t *out = pattern_at(pat, 0, seq * o->chunk);
	uint64_t chunk = o->chunk, sent = 0, got = 0, deadline = now_usec() + o->io_timeout_usec;
	ssize_t n;

	*ret_sent = false;
	while (got < chunk) {
		bool moved = false;

		if (sent < chunk) {
			n = send(s->fd, out + sent, chunk - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return negative_errno();
			if (n > 0) {
				sent += (uint64_t)n;
				*ret_sent = sent == chunk;
				moved = true;
			}
		}
		n = recv(s->fd, buf + got, chunk - got, MSG_DONTWAIT);
		if (n == 0)
			return -ENODATA;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return negative_errno();
		if (n > 0) {
			ssize_t i = o->verify ? pattern_check(pat, 0, seq * chunk + got, buf + got,
							      (size_t)n)
					      : -1;
			if (i >= 0) {
				*ret_bad_offset = got + (uint64_t)i;
				return -EBADMSG;
			}
			got += (uint64_t)n;
			moved = true;
		}
		uint64_t now = now_usec();
		if (moved) {
			deadline = now + o->io_timeout_usec;
			continue;
		}
		int r = single_wait(s, s->fd, POLLIN | (sent < chunk ? POLLOUT : 0),
				    now < deadline ? deadline - now : 0);
		if (r <= 0)
			return r;
	}
	return 1;
}

/* One round trip: sends chunk seq and waits for its echo. *ret_sent says whether all of the
 * chunk went out; results as receive_echo(). */
static int ping_round(struct single *s, const struct client_opts *o, const struct pattern *pat,
		      uint64_t seq, uint8_t *buf, uint64_t *ret_bad_offset, bool *ret_sent) {
	int r;

	if (o->type == SOCK_STREAM)
		return stream_round_trip(s, o, pat, seq, buf, ret_bad_offset, ret_sent);
	*ret_sent = false;
	r = single_send(s, pattern_at(pat, 0, seq * o->chunk), o->chunk, o->io_timeout_usec);
	if (r < 0)
		return r;
	*ret_sent = true;
	return receive_echo(s, o, pat, seq, buf, ret_bad_offset);
}

/* On a unix socket EPIPE and ECONNRESET, like EOF, mean that the server closed its end. */
static const char *failure_text(int r) {
	if (r == -ENODATA || r == -EPIPE || r == -ECONNRESET)
		return "the server closed the connection";
	return strerror(-r);
}

static void log_failed_round(uint64_t seq, int r, uint64_t bad_offset, bool sent) {
	unsigned long long n = (unsigned long long)seq;

	if (r == -EBADMSG)
		fprintf(stderr, "ipc-client: seq=%llu: the echo differs at byte %llu\n", n,
			(unsigned long long)bad_offset);
	else if (r == 0)
		fprintf(stderr, "ipc-client: seq=%llu: no echo within the io-timeout\n", n);
	else if (!sent)
		fprintf(stderr, "ipc-client: seq=%llu: failed to send: %s\n", n, failure_text(r));
	else
		fprintf(stderr, "ipc-client: seq=%llu: %s\n", n, failure_text(r));
}

int ping_run(const struct client_opts *o) {
	struct single s;
	struct pattern pat = { NULL, 0 };
	struct hist *h = malloc(sizeof(*h));
	uint8_t *buf = malloc(o->chunk + 1);
	uint64_t sent = 0, received = 0, failures = 0, start, seq;
	struct timespec started;
	char err[HIST_TEXT_ERROR_MAX];
	int r, status;

	if (!h || !buf || pattern_init(&pat, o->chunk) < 0) {
		free(h);
		free(buf);
		return -ENOMEM;
	}
	hist_init(h);
	r = single_connect(o, &s);
	if (r < 0) {
		fprintf(stderr, "ipc-client: cannot connect to '%s': %s\n", o->socket,
			strerror(-r));
		status = 3;
		goto out;
	}
	start = now_nsec();
	(void)clock_gettime(CLOCK_REALTIME, &started); /* cannot fail */
	for (seq = 0; seq < o->count; seq++) {
		uint64_t t, bad = 0, due = start + seq * o->ping_interval_usec * 1000,
			    now = now_nsec();
		bool whole = false;

		if (due > now && (r = single_wait(&s, -1, 0, (due - now) / 1000)) < 0)
			break;
		t = now_nsec();
		r = ping_round(&s, o, &pat, seq, buf, &bad, &whole);
		if (r == -EINTR && !whole)
			break; /* stopped by a person before the chunk was out: no round */
		/* A chunk that could not all be sent still counts as transmitted, as ping(8) counts
		 * a local send error: the round was due and got no echo, so it shows as lost. */
		sent++;
		if (r > 0) {
			uint64_t rtt = now_nsec() - t;
			hist_record(h, rtt);
			received++;
			if (!o->quiet && report_format(o) == REPORT_TEXT)
				report_ping_reply(stdout, o->socket, seq, o->chunk, rtt);
			continue;
		}
		if (r == -EINTR)
			break;
		if (r == 0 && !whole)
			r = -ETIMEDOUT; /* it could not all go out within the io-timeout */
		if (r == -EBADMSG)
			failures++;
		log_failed_round(seq, r, bad, whole);
		/* A lost or wrong datagram leaves the next echo recognisable; nothing else does. */
		if (o->type != SOCK_DGRAM || (r != 0 && r != -EBADMSG))
			break;
	}
	/* Interrupted with every reply in: a clean run, as with ping(8). */
	status = received == sent && failures == 0 && (seq == o->count || r == -EINTR) ? 0 : 1;
	report_ping_summary(stdout, o,
			    &(struct ping_summary){
				    .sent = sent,
				    .received = received,
				    .verify_failures = failures,
				    .elapsed_usec = (now_nsec() - start) / 1000,
				    .interrupted = seq < o->count && r == -EINTR,
				    .started = started,
				    .exit_status = status,
				    .latency = h,
			    });
	/* After the summary, which stays whether or not the file can be written. */
	if (o->histogram && hist_text_save(h, o->histogram, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipc-client: %s\n", err);
		status = EXIT_FAILURE;
	}
	single_close(&s);
out:
	pattern_done(&pat);
	free(buf);
	free(h);
	return status;
}
