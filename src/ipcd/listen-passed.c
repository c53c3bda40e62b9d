/* SPDX-License-Identifier: MIT */
/*
 * The fds systemd passes: each a socket ipcd can serve, taken over as a listener, or a
 * connection the previous instance stored, kept until listeners_start() adopts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "listen-internal.h"
#include "log.h"
#include "macro.h"

static const char *fd_kind(int fd) {
	struct stat st;
	if (fstat(fd, &st) < 0)
		return "not open";
	switch (st.st_mode & S_IFMT) {
		case S_IFREG:
			return "a regular file";
		case S_IFDIR:
			return "a directory";
		case S_IFIFO:
			return "a pipe";
		case S_IFCHR:
			return "a character device";
		default:
			return "not a socket";
	}
}

static const char *socket_type_name(int type) {
	return type == SOCK_STREAM      ? "stream"
	       : type == SOCK_SEQPACKET ? "seqpacket"
	       : type == SOCK_DGRAM     ? "datagram"
					: "raw";
}

static const char *family_name(int family) {
	return family == AF_UNIX    ? "AF_UNIX"
	       : family == AF_INET  ? "AF_INET"
	       : family == AF_INET6 ? "AF_INET6"
				    : "non-IP";
}

/* A connection the previous instance handed to the fd store: kept until workers exist. */
static int connection_keep(struct server *s, int fd) {
	int *a = reallocarray(s->adopted, s->n_adopted + 1, sizeof(int));

	if (!a)
		return log_error_errno(-ENOMEM, "Failed to keep stored connection fd %d: %m", fd);
	s->adopted = a;
	s->adopted[s->n_adopted++] = fd;
	return 0;
}

/* One fd from systemd: a stored connection, or a socket ipcd can serve, listening unless it is
 * datagram. */
int listener_adopt(struct server *s, int fd, const char *name) {
	enum listener_role role =
		strcmp(name, LISTEN_METRICS_FD_NAME) == 0 ? LISTENER_METRICS : LISTENER_ECHO;
	int family, type, r;
	socklen_t len = sizeof(int);

	if (fdstore_is_connection(fd, name))
		return connection_keep(s, fd);

	r = sd_is_socket(fd, AF_UNSPEC, 0, -1);
	if (r < 0)
		return log_error_errno(r, "Failed to check passed fd %d ('%s'): %m", fd, name);
	if (r == 0)
		return log_error_errno(-ENOTSOCK, "Passed fd %d ('%s') is %s, not a socket", fd,
				       name, fd_kind(fd));
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return log_error_errno(negative_errno(), "Failed to query passed fd %d ('%s'): %m",
				       fd, name);
	if (!(family == AF_UNIX &&
	      (type == SOCK_STREAM || type == SOCK_SEQPACKET || type == SOCK_DGRAM)) &&
	    !((family == AF_INET || family == AF_INET6) && type == SOCK_STREAM))
		return log_error_errno(
			-EPROTONOSUPPORT,
			"Passed fd %d ('%s') is an %s %s socket, which ipcd does not "
			"serve (unix stream, seqpacket, datagram; TCP)",
			fd, name, family_name(family), socket_type_name(type));
	if (type != SOCK_DGRAM && sd_is_socket(fd, family, type, 1) <= 0)
		return log_error_errno(-EINVAL, "Passed fd %d ('%s') is not a listening socket", fd,
				       name);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return log_error_errno(negative_errno(), "Failed to make fd %d non-blocking: %m",
				       fd);
	if (role == LISTENER_METRICS && type != SOCK_STREAM)
		return log_error_errno(
			-EPROTOTYPE,
			"Passed fd %d ('%s') is a %s socket; metrics are served over "
			"stream sockets only (ListenStream=)",
			fd, name, socket_type_name(type));
	r = listeners_add(s, fd, family, type, role, name, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to add listener: %m");
	log_info("Listening on passed fd %d ('%s', %s %s)%s", fd, name, family_name(family),
		 socket_type_name(type), role == LISTENER_METRICS ? " for metrics" : "");
	return 0;
}
