/* SPDX-License-Identifier: MIT */
/*
 * Socket address spelling shared by ipcd and ipc-client: "PATH" or "@name".
 * Pure: no I/O, no logging.
 */
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

/* The next component of a path from p on, skipping separators and "." components; NULL at the
 * end. */
static const char *next_component(const char *p, size_t *ret_len) {
	for (;;) {
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			return NULL;
		n = strcspn(p, "/");
		if (n != 1 || p[0] != '.') {
			*ret_len = n;
			return p;
		}
		p += n;
	}
}

bool unix_address_same(const char *a, const char *b) {
	size_t na = 0, nb = 0;

	if (a[0] == '@' || b[0] == '@')
		return strcmp(a, b) == 0;
	if ((a[0] == '/') != (b[0] == '/'))
		return false;
	for (;;) {
		a = next_component(a, &na);
		b = next_component(b, &nb);
		if (!a || !b)
			return !a && !b;
		if (na != nb || memcmp(a, b, na) != 0)
			return false;
		a += na;
		b += nb;
	}
}
