/* SPDX-License-Identifier: MIT */
/* The connect phase: a thread opens its connections with plain calls, before any event loop,
 * retrying while the server's backlog is full or a TCP handshake is under way. */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>

#include "client-socket.h"
#include "driver-internal.h"
#include "macro.h"

#define CONNECT_BATCH 64                    /* connects in progress per thread */
#define CONNECT_RETRY_NSEC (2 * 1000000ULL) /* not yet: try again this much later */

/* 1: connected; 0: not yet (the backlog is full, or a TCP handshake is under way), try again;
 * <0: failed and counted. */
static int conn_connect(struct cconn *c, uint64_t now) {
	const struct drive_params *p = &c->t->d->p;
	struct drive_errors *e = &c->t->errors;
	int r;

	if (c->fd < 0) {
		c->fd = client_socket_open(&p->address, p->type);
		if (c->fd < 0) {
			r = c->fd;
			e->connect_failed++;
			goto failed;
		}
		c->connect_start_nsec = now;
	}
	r = client_socket_connect(c->fd, &p->address);
	if (r > 0)
		return 1;
	if (r == 0) {
		if (now - c->connect_start_nsec < p->connect_timeout_usec * NSEC_PER_USEC)
			return 0;
		/* Unix says EAGAIN (the backlog stayed full), as it always has; a TCP handshake
		 * that never finished timed out. */
		r = socket_address_is_inet(&p->address) ? -ETIMEDOUT : -EAGAIN;
		e->connect_timeout++;
	} else if (r == -ECONNREFUSED)
		e->refused++;
	else
		e->connect_failed++;
failed:
	if (!c->t->connect_errno)
		c->t->connect_errno = -r;
	c->fd = safe_close(c->fd);
	c->state = CS_DONE;
	thread_live_add(&c->t->live_errors, 1);
	return -1;
}

/* The connect phase: plain calls, no event loop yet, at most CONNECT_BATCH waiting at once.
 * Bounded: a waiting connection gives up after --connect-timeout. */
void thread_connect_all(struct dthread *t) {
	size_t first_waiting = 0;

	while (!atomic_load(&t->d->interrupted)) {
		uint64_t now = now_nsec();

		for (size_t i = first_waiting; i < t->next_connect; i++) {
			struct cconn *c = &t->conns[i];
			if (c->state != CS_CONNECTING)
				continue;
			int r = conn_connect(c, now);
			if (r != 0) {
				t->connecting--;
				if (r > 0)
					c->state = CS_OPEN;
			}
		}
		while (first_waiting < t->next_connect &&
		       t->conns[first_waiting].state != CS_CONNECTING)
			first_waiting++;
		while (t->connecting < CONNECT_BATCH && t->next_connect < t->n) {
			struct cconn *c = &t->conns[t->next_connect++];
			int r = conn_connect(c, now);
			if (r > 0)
				c->state = CS_OPEN;
			else if (r == 0) {
				c->state = CS_CONNECTING;
				t->connecting++;
			}
		}
		if (t->connecting == 0 && t->next_connect == t->n)
			return;
		if (t->connecting > 0)
			(void)clock_nanosleep(CLOCK_MONOTONIC, 0,
					      &(struct timespec){ 0, (long)CONNECT_RETRY_NSEC },
					      NULL);
	}
	/* Interrupted: what did not connect is not an error, it was never tried. */
	for (size_t i = 0; i < t->n; i++)
		if (t->conns[i].state == CS_CONNECTING || t->conns[i].state == CS_NEW) {
			t->conns[i].fd = safe_close(t->conns[i].fd);
			t->conns[i].state = CS_DONE;
		}
}
