/* SPDX-License-Identifier: MIT */
/*
 * Binding a TCP socket ourselves, for a "tcp:" listen address. There is no file to own: the
 * address and port are either free or bind() says who has them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "listen-internal.h"
#include "log.h"
#include "macro.h"
#include "sockaddr.h"

int listener_bind_tcp(struct server *s, const struct socket_address *a, const char *spec,
		      enum listener_role role) {
	_cleanup_close_ int fd =
		socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r;

	if (fd < 0)
		return log_error_errno(negative_errno(), "Failed to create socket for '%s': %m",
				       spec);
	/* A restarted ipcd binds its port again at once, even with connections of the previous
	 * instance still in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0)
		return log_error_errno(negative_errno(), "Failed to set SO_REUSEADDR on '%s': %m",
				       spec);
	/* [::] means IPv6 only, whatever net.ipv6.bindv6only says: IPv4 is its own entry. */
	if (a->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 1 }, sizeof(int)) < 0)
		return log_error_errno(negative_errno(), "Failed to set IPV6_V6ONLY on '%s': %m",
				       spec);
	if (bind(fd, &a->sa, a->len) < 0) {
		r = negative_errno();
		if (r == -EADDRINUSE)
			return log_error_errno(r, "'%s' is in use: another socket is bound to it",
					       spec);
		return log_error_errno(r, "Failed to bind '%s': %m", spec);
	}
	if (listen(fd, SOMAXCONN) < 0)
		return log_error_errno(negative_errno(), "Failed to listen on '%s': %m", spec);
	r = listeners_add(s, fd, a->sa.sa_family, SOCK_STREAM, role, spec, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to add listener: %m");
	TAKE_FD(fd);
	log_info("Listening on '%s'%s", spec, role == LISTENER_METRICS ? " for metrics" : "");
	return 0;
}
