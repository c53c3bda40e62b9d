/* SPDX-License-Identifier: MIT */
/* An epoll set drained in batches from one sd-event io source; see poller.h for why. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "macro.h"
#include "poller.h"

struct poller {
	int fd;
	sd_event_source *source;
};

static int poller_dispatch(sd_event_source *s _unused_, int fd, uint32_t revents _unused_,
			   void *userdata _unused_) {
	struct epoll_event events[POLLER_BATCH];
	int n = epoll_wait(fd, events, POLLER_BATCH, 0);

	if (n < 0)
		return errno == EINTR ? 0 : negative_errno();
	for (int i = 0; i < n; i++) {
		struct poller_entry *e = events[i].data.ptr;
		e->fn(e, events[i].events);
	}
	return 0;
}

int poller_new(sd_event *event, struct poller **ret) {
	struct poller *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->fd = epoll_create1(EPOLL_CLOEXEC);
	if (p->fd < 0) {
		r = negative_errno();
		free(p);
		return r;
	}
	r = sd_event_add_io(event, &p->source, p->fd, EPOLLIN, poller_dispatch, p);
	if (r < 0) {
		poller_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

struct poller *poller_free(struct poller *p) {
	if (!p)
		return NULL;
	sd_event_source_disable_unref(p->source);
	safe_close(p->fd);
	free(p);
	return NULL;
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
