/* SPDX-License-Identifier: MIT */
/*
 * Socket address spelling shared by ipcd and ipc-client: "PATH" or "@name", "tcp:IPV4:PORT"
 * and "tcp:[IPV6]:PORT", and for ipcd's listen addresses a "seqpacket:" or "dgram:" type.
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

static bool has_prefix(const char *s, const char *prefix) {
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int listen_address_parse(const char *s, struct listen_address *ret) {
	struct listen_address a = { .type = SOCK_STREAM };
	const char *rest = s;
	int r;

	if (!s)
		return -EINVAL;
	if (has_prefix(s, LISTEN_ADDRESS_SEQPACKET_PREFIX)) {
		a.type = SOCK_SEQPACKET;
		rest = s + strlen(LISTEN_ADDRESS_SEQPACKET_PREFIX);
	} else if (has_prefix(s, LISTEN_ADDRESS_DGRAM_PREFIX)) {
		a.type = SOCK_DGRAM;
		rest = s + strlen(LISTEN_ADDRESS_DGRAM_PREFIX);
	}
	/* One prefix only, and TCP is stream only: "dgram:tcp:…" is a mistake, not a path. */
	if (rest != s && (has_prefix(rest, SOCKET_ADDRESS_TCP_PREFIX) ||
			  has_prefix(rest, LISTEN_ADDRESS_SEQPACKET_PREFIX) ||
			  has_prefix(rest, LISTEN_ADDRESS_DGRAM_PREFIX)))
		return -EINVAL;
	r = socket_address_parse(rest, &a.addr);
	if (r < 0)
		return r;
	if (!socket_address_is_inet(&a.addr))
		a.unix_spec = rest;
	*ret = a;
	return 0;
}

const char *listen_address_error(const char *s, int r) {
	if (r == -ENAMETOOLONG)
		return "is too long for a socket address";
	if (s && has_prefix(s, SOCKET_ADDRESS_TCP_PREFIX))
		return "is not tcp:IPV4:PORT or tcp:[IPV6]:PORT (numeric address, port 1 to "
		       "65535)";
	if (s && (has_prefix(s, LISTEN_ADDRESS_SEQPACKET_PREFIX) ||
		  has_prefix(s, LISTEN_ADDRESS_DGRAM_PREFIX)))
		return "is not \"seqpacket:\" or \"dgram:\" and a socket path or @name (TCP is "
		       "stream only)";
	return "is not a socket path or @name";
}

bool listen_address_same(const struct listen_address *a, const struct listen_address *b) {
	if (a->unix_spec && b->unix_spec) {
		if (listen_address_is_path(a) != listen_address_is_path(b))
			return false;
		return (listen_address_is_path(a) || a->type == b->type) &&
		       unix_address_same(a->unix_spec, b->unix_spec);
	}
	if (a->unix_spec || b->unix_spec || a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in.sin_port == b->addr.in.sin_port &&
		       a->addr.in.sin_addr.s_addr == b->addr.in.sin_addr.s_addr;
	return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
	       memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr,
		      sizeof(a->addr.in6.sin6_addr)) == 0;
}

const char *listen_address_type_name(int type) {
	return type == SOCK_SEQPACKET ? "seqpacket" : type == SOCK_DGRAM ? "dgram" : "stream";
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
