/* SPDX-License-Identifier: MIT */
/* Socket address spelling shared by ipcd and ipc-client: "PATH" or "@name". Pure. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "sockaddr.h"

int unix_address_parse(const char *s, struct unix_address *ret) {
	struct unix_address a = { .sun.sun_family = AF_UNIX };
	size_t n;

	if (!s || !*s)
		return -EINVAL;
	n = strlen(s);
	if (s[0] == '@') {
		if (n == 1)
			return -EINVAL;
		/* The leading NUL takes the '@' byte's place; no terminating NUL is counted. */
		if (n > sizeof(a.sun.sun_path))
			return -ENAMETOOLONG;
		memcpy(a.sun.sun_path + 1, s + 1, n - 1);
		a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		if (n >= sizeof(a.sun.sun_path))
			return -ENAMETOOLONG;
		memcpy(a.sun.sun_path, s, n + 1);
		a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	*ret = a;
	return 0;
}
