/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by listen.c and the listen-*.c files below it, which bind and sort its sockets and hold
 * the set of them; not public. Calls go down only: listen.c into listen-bind.c and
 * listen-passed.c, listen-bind.c into listen-tcp.c, all of those into listen-set.c. */

#include "listen.h"
#include "server.h"
#include "sockaddr.h"

/* FileDescriptorName= of the passed sockets that serve metrics (ipcd-metrics.socket). */
#define LISTEN_METRICS_FD_NAME "metrics"

enum listener_role {
	LISTENER_ECHO,
	LISTENER_METRICS, /* named "metrics": GET /metrics, see metrics.h */
};

struct listener {
	struct server *server;
	sd_event_source *source;
	int fd;
	int family, type;
	enum listener_role role;
	size_t index;        /* in server.listeners, and so in server.socket_open */
	uint64_t n_accepted; /* connections admitted; on the main thread only */
	char *name;          /* systemd's FileDescriptorName=, or the address we bound */
	char *unlink_path;   /* a socket file we created, removed on exit */
	/* Told after each batch of accepts; set by listeners_start(). */
	listeners_accepted_fn accepted;
	void *userdata;
};

/* listen-set.c */

/* fd is the new listener's on success, still the caller's on failure. unlink_path, when given,
 * is removed when the listener is freed. -ENOMEM, not logged. */
int listeners_add(struct server *s, int fd, int family, int type, enum listener_role role,
		  const char *name, const char *unlink_path);

/* listen-passed.c */

/* One fd systemd passed. Logs; on failure the fd is still the caller's to close. */
int listener_adopt(struct server *s, int fd, const char *name);

/* listen-bind.c */

/* Binds spec (a listen address: sockaddr.h) and listens on it, unless it is datagram. Logs. */
int listener_bind(struct server *s, const char *spec, enum listener_role role);

/* listen-tcp.c */

/* Binds a TCP address (SO_REUSEADDR; IPV6_V6ONLY for IPv6) and listens on it. Logs. */
int listener_bind_tcp(struct server *s, const struct socket_address *a, const char *spec,
		      enum listener_role role);
