/* SPDX-License-Identifier: MIT */
/* An epoll set of connections that also carries the sd-event loop's own fd; see poller.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "macro.h"
#include "poller.h"

struct poller {
	int fd;
	sd_event *event;
	uint64_t now_usec;
};

int poller_new(sd_event *event, struct poller **ret) {
	struct poller *p = calloc(1, sizeof(*p));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int r;

	if (!p)
		return -ENOMEM;
	p->event = sd_event_ref(event);
	p->fd = epoll_create1(EPOLL_CLOEXEC);
	if (p->fd < 0) {
		r = negative_errno();
		goto fail;
	}
	r = sd_event_get_fd(event);
	if (r < 0)
		goto fail;
	if (epoll_ctl(p->fd, EPOLL_CTL_ADD, r, &ev) < 0) {
		r = negative_errno();
		goto fail;
	}
	*ret = p;
	return 0;
fail:
	poller_free(p);
	return r;
}

struct poller *poller_free(struct poller *p) {
	if (!p)
		return NULL;
	safe_close(p->fd);
	sd_event_unref(p->event);
	free(p);
	return NULL;
}

uint64_t poller_now(const struct poller *p) {
	return p->now_usec;
}

static bool poller_exit_requested(struct poller *p) {
	int code;
	return sd_event_get_exit_code(p->event, &code) != -ENODATA;
}

/* Serves connection batches until the loop's own fd is ready or an exit was asked for. */
static int poller_serve(struct poller *p) {
	struct epoll_event events[POLLER_BATCH];

	for (;;) {
		bool loop_ready = false;
		int n = epoll_wait(p->fd, events, POLLER_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p->now_usec = now_usec();
		for (int i = 0; i < n; i++) {
			struct poller_entry *e = events[i].data.ptr;
			if (e)
				e->fn(e, events[i].events);
			else
				loop_ready = true;
		}
		if (loop_ready || poller_exit_requested(p))
			return 0;
	}
}

int poller_run(struct poller *p) {
	int r, code;

	while (sd_event_get_state(p->event) != SD_EVENT_FINISHED) {
		r = sd_event_prepare(p->event);
		if (r == 0) {
			/* Armed: the loop's timers are set, so its fd wakes us when one is due. */
			r = poller_serve(p);
			if (r < 0)
				return r;
			r = sd_event_wait(p->event, 0);
		}
		if (r > 0)
			r = sd_event_dispatch(p->event);
		if (r < 0)
			return r;
	}
	r = sd_event_get_exit_code(p->event, &code);
	return r < 0 ? r : code;
}

static int poller_ctl(struct poller *p, int op, int fd, uint32_t events, struct poller_entry *e) {
	struct epoll_event ev = { .events = events, .data.ptr = e };
	return epoll_ctl(p->fd, op, fd, &ev) < 0 ? negative_errno() : 0;
}

int poller_add(struct poller *p, int fd, uint32_t events, struct poller_entry *e) {
	return poller_ctl(p, EPOLL_CTL_ADD, fd, events, e);
}

int poller_modify(struct poller *p, int fd, uint32_t events, struct poller_entry *e) {
	return poller_ctl(p, EPOLL_CTL_MOD, fd, events, e);
}

void poller_remove(struct poller *p, int fd) {
	/* Fails only if fd was never added (a connection that failed before it was), which
	 * leaves nothing to remove. */
	(void)epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, NULL);
}
