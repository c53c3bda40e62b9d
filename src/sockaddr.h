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

static inline bool unix_address_is_abstract(const struct unix_address *a) {
	return a->sun.sun_path[0] == '\0';
}
