/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

struct unix_address {
	struct sockaddr_un sun;
	socklen_t len; /* what bind() and connect() take: abstract names have no trailing NUL */
};

/*
 * "PATH" or "@name" (Linux abstract namespace) → an AF_UNIX address. -EINVAL for an empty
 * string or a NUL-free "@", -ENAMETOOLONG when it does not fit in sun_path: never truncated.
 */
int unix_address_parse(const char *s, struct unix_address *ret);

/*
 * Whether two addresses as written name the same socket, compared lexically: abstract names
 * byte for byte; paths after dropping repeated '/', "." components and a trailing '/'. ".."
 * is kept as written, since resolving it needs the file system (a symlink's ".." is not the
 * directory it sits in), and a relative path never equals an absolute one.
 */
bool unix_address_same(const char *a, const char *b);

static inline bool unix_address_is_abstract(const struct unix_address *a) {
	return a->sun.sun_path[0] == '\0';
}

#define SOCKET_ADDRESS_TCP_PREFIX "tcp:"

/* What ipc-client connects to: a unix socket, or a TCP port on an IPv4 or IPv6 address. */
struct socket_address {
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage storage;
	};
	socklen_t len;
};

/*
 * "tcp:IPV4:PORT" or "tcp:[IPV6]:PORT" → AF_INET or AF_INET6, numeric only (no name is
 * resolved, no I/O), port 1 to 65535; anything else is a unix address as unix_address_parse()
 * reads it, so no path that does not begin with "tcp:" changes meaning. -EINVAL for a
 * malformed "tcp:" address, else unix_address_parse()'s errors.
 */
int socket_address_parse(const char *s, struct socket_address *ret);

static inline bool socket_address_is_inet(const struct socket_address *a) {
	return a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6;
}

/*
 * A socket with its type, as ipc-client's suite writes it: "seqpacket:" or "dgram:" before a
 * unix address, or else a stream socket as socket_address_parse() reads it (a path, "@name",
 * "tcp:…"). ret_type: SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM. -EPROTOTYPE for a seqpacket
 * or datagram "tcp:" address, else socket_address_parse()'s errors.
 */
int socket_spec_parse(const char *s, int *ret_type, struct socket_address *ret);
