/* SPDX-License-Identifier: MIT */
/* Opening and connecting one client socket, unix or TCP, for the driver and for ping and echo:
 * what differs between the families stays here; the callers own waiting and timeouts. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "client-socket.h"
#include "macro.h"

int client_socket_open(const struct socket_address *a, int type) {
	static const struct sockaddr_un autobind = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(a->sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* Binding only the family asks the kernel for an unused abstract name. */
	if (a->sa.sa_family == AF_UNIX && type == SOCK_DGRAM &&
	    bind(fd, (const struct sockaddr *)&autobind, sizeof(sa_family_t)) < 0)
		return -errno;
	/* A latency tool: a small chunk goes out now, not when Nagle's algorithm allows. */
	if (socket_address_is_inet(a) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int client_socket_connect(int fd, const struct socket_address *a) {
	if (connect(fd, &a->sa, a->len) == 0)
		return 1;
	/* EAGAIN: a unix server's backlog is full. EINPROGRESS, then EALREADY: the TCP handshake
	 * has not finished; connect() again then says how it ended (0, or why it failed). */
	if (errno == EAGAIN || errno == EINPROGRESS || errno == EALREADY)
		return 0;
	return -errno;
}
