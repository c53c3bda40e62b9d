/* SPDX-License-Identifier: MIT */
#pragma once

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
