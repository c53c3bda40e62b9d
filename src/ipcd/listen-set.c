/* SPDX-License-Identifier: MIT */
/*
 * The server's set of listeners: adding one, and freeing them all with the stored connections
 * never adopted. listen-bind.c and listen-passed.c add to it; ipcd.c frees it at exit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen-internal.h"
#include "listen.h"
#include "log.h"
#include "macro.h"

static struct listener *listener_free(struct listener *l) {
	if (!l)
		return NULL;
	sd_event_source_disable_unref(l->source);
	safe_close(l->fd);
	if (l->unlink_path && unlink(l->unlink_path) < 0 && errno != ENOENT)
		log_warning_errno(negative_errno(), "Failed to remove socket '%s', ignoring: %m",
				  l->unlink_path);
	free(l->unlink_path);
	free(l->name);
	free(l);
	return NULL;
}

void listeners_free(struct server *s) {
	for (size_t i = 0; i < s->n_listeners; i++)
		listener_free(s->listeners[i]);
	free(s->listeners);
	s->listeners = NULL;
	s->n_listeners = 0;
	for (size_t i = 0; i < s->n_adopted; i++)
		safe_close(s->adopted[i]);
	free(s->adopted);
	s->adopted = NULL;
	s->n_adopted = 0;
}

int listeners_add(struct server *s, int fd, int family, int type, enum listener_role role,
		  const char *name, const char *unlink_path) {
	struct listener **a, *l;

	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	a = reallocarray(s->listeners, s->n_listeners + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	s->listeners = a;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct listener){ .server = s,
				.fd = fd,
				.family = family,
				.type = type,
				.role = role,
				.index = s->n_listeners };
	if (!(l->name = strdup(name)) || (unlink_path && !(l->unlink_path = strdup(unlink_path)))) {
		l->fd = -EBADF; /* still the caller's on failure */
		listener_free(l);
		return -ENOMEM;
	}
	s->listeners[s->n_listeners++] = l;
	return 0;
}
