/* SPDX-License-Identifier: MIT */
/*
 * Socket address spelling shared by ipcd and ipc-client: "PATH" or "@name", and for the client
 * also "tcp:IPV4:PORT" and "tcp:[IPV6]:PORT".
 * Pure: no I/O, no logging.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
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

/* "1" to "65535", digits only: no sign, no space, no 0. */
static int parse_port(const char *s, uint16_t *ret) {
	unsigned v = 0;
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 5 || s[n] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v == 0 || v > UINT16_MAX)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* "IPV4:PORT" or "[IPV6]:PORT". inet_pton() takes only the plain numeric forms: dotted quad,
 * and IPv6 without a zone ("%eth0" would need the interface list). */
static int inet_address_parse(const char *s, struct socket_address *ret) {
	struct socket_address a = {};
	char host[INET6_ADDRSTRLEN];
	bool v6 = s[0] == '[';
	const char *port;
	uint16_t p;
	size_t n;

	if (v6) {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - s - 1);
		port = end + 2;
		s++;
	} else {
		port = strrchr(s, ':');
		if (!port)
			return -EINVAL;
		n = (size_t)(port - s);
		port++;
	}
	if (n == 0 || n >= sizeof(host) || parse_port(port, &p) < 0)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) != 1)
			return -EINVAL;
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(p);
		a.len = sizeof(a.in6);
	} else {
		if (inet_pton(AF_INET, host, &a.in.sin_addr) != 1)
			return -EINVAL;
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(p);
		a.len = sizeof(a.in);
	}
	*ret = a;
	return 0;
}

int socket_address_parse(const char *s, struct socket_address *ret) {
	const size_t prefix = strlen(SOCKET_ADDRESS_TCP_PREFIX);
	struct unix_address u;
	int r;

	if (s && strncmp(s, SOCKET_ADDRESS_TCP_PREFIX, prefix) == 0)
		return inet_address_parse(s + prefix, ret);
	r = unix_address_parse(s, &u);
	if (r < 0)
		return r;
	*ret = (struct socket_address){ .len = u.len };
	memcpy(&ret->un, &u.sun, sizeof(u.sun));
	return 0;
}

static const struct {
	const char *prefix;
	int type;
} socket_spec_types[] = {
	{ "seqpacket:", SOCK_SEQPACKET },
	{ "dgram:", SOCK_DGRAM },
};

int socket_spec_parse(const char *s, int *ret_type, struct socket_address *ret) {
	int type = SOCK_STREAM;
	int r;

	for (size_t i = 0; s && i < sizeof(socket_spec_types) / sizeof(socket_spec_types[0]); i++) {
		size_t n = strlen(socket_spec_types[i].prefix);
		if (strncmp(s, socket_spec_types[i].prefix, n) == 0) {
			type = socket_spec_types[i].type;
			s += n;
			/* TCP has one type: "dgram:tcp:…" is a path only in name. */
			if (strncmp(s, SOCKET_ADDRESS_TCP_PREFIX,
				    strlen(SOCKET_ADDRESS_TCP_PREFIX)) == 0)
				return -EPROTOTYPE;
			break;
		}
	}
	r = socket_address_parse(s, ret);
	if (r < 0)
		return r;
	*ret_type = type;
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
