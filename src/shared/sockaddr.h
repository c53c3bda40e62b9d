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

#define LISTEN_ADDRESS_SEQPACKET_PREFIX "seqpacket:"
#define LISTEN_ADDRESS_DGRAM_PREFIX "dgram:"

/* What ipcd listens on: a socket address and the socket type to bind there. */
struct listen_address {
	int type; /* SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM (TCP: SOCK_STREAM) */
	struct socket_address addr;
	const char *unix_spec; /* "PATH" or "@name" in the string parsed; NULL for TCP */
};

/*
 * "PATH" or "@name" (unix stream, as unix_address_parse() reads it), "seqpacket:" or "dgram:"
 * before either, or "tcp:…" as socket_address_parse() reads it. So a path that begins with
 * none of the three prefixes keeps its meaning; "./dgram:x" is the file. ret->unix_spec points
 * into s. -EINVAL for a malformed address (an empty or "tcp:" path after a type prefix
 * included), -ENAMETOOLONG for a path or name too long.
 */
int listen_address_parse(const char *s, struct listen_address *ret);

/* Why listen_address_parse() refused s with r, as words to put after the quoted address. */
const char *listen_address_error(const char *s, int r);

/*
 * Whether a and b, as written, name one socket: paths by unix_address_same() whatever the type
 * (one file cannot be bound twice), abstract names only of one type (the kernel keeps one
 * namespace per type), TCP addresses by address and port.
 */
bool listen_address_same(const struct listen_address *a, const struct listen_address *b);

static inline bool listen_address_is_path(const struct listen_address *a) {
	return a->unix_spec && a->unix_spec[0] != '@';
}

/* "stream", "seqpacket" or "dgram": the type's name in a listen address. */
const char *listen_address_type_name(int type);
