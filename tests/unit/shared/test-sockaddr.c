/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "sockaddr.h"
#include "tests.h"

TEST(path) {
	struct unix_address a;
	ASSERT_EQ(unix_address_parse("/run/ipcd/ipcd.sock", &a), 0);
	ASSERT_STREQ(a.sun.sun_path, "/run/ipcd/ipcd.sock");
	ASSERT_EQ(a.len,
		  offsetof(struct sockaddr_un, sun_path) + strlen("/run/ipcd/ipcd.sock") + 1);
	ASSERT_TRUE(!unix_address_is_abstract(&a));
}

TEST(abstract_has_no_trailing_nul) {
	struct unix_address a;
	ASSERT_EQ(unix_address_parse("@ipcd-test", &a), 0);
	ASSERT_TRUE(unix_address_is_abstract(&a));
	ASSERT_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + 1 + strlen("ipcd-test"));
	ASSERT_TRUE(memcmp(a.sun.sun_path + 1, "ipcd-test", 9) == 0);
}

TEST(lengths_are_checked_never_truncated) {
	char s[200];
	struct unix_address a;
	size_t max = sizeof(a.sun.sun_path);

	memset(s, 'x', sizeof(s));
	s[0] = '/';
	s[max - 1] = '\0'; /* 107 characters + NUL: fits exactly */
	ASSERT_EQ(unix_address_parse(s, &a), 0);
	s[max - 1] = 'x';
	s[max] = '\0'; /* 108 characters: no room for the NUL */
	ASSERT_EQ(unix_address_parse(s, &a), -ENAMETOOLONG);

	s[0] = '@';
	s[max] = '\0'; /* '@' + 107: the abstract name fills sun_path after its leading NUL */
	ASSERT_EQ(unix_address_parse(s, &a), 0);
	s[max] = 'x';
	s[max + 1] = '\0';
	ASSERT_EQ(unix_address_parse(s, &a), -ENAMETOOLONG);
}

TEST(empty_is_invalid) {
	struct unix_address a;
	ASSERT_EQ(unix_address_parse("", &a), -EINVAL);
	ASSERT_EQ(unix_address_parse("@", &a), -EINVAL);
	ASSERT_EQ(unix_address_parse(NULL, &a), -EINVAL);
}

TEST(same_socket_by_spelling) {
	ASSERT_TRUE(unix_address_same("/run/a.sock", "/run/a.sock"));
	ASSERT_TRUE(unix_address_same("/run/a.sock", "//run///a.sock"));
	ASSERT_TRUE(unix_address_same("/run/a.sock", "/./run/./a.sock/."));
	ASSERT_TRUE(unix_address_same("/run/a.sock", "/run/a.sock/"));
	ASSERT_TRUE(unix_address_same("a.sock", "./a.sock"));
	ASSERT_TRUE(unix_address_same("/", "//."));
	ASSERT_TRUE(unix_address_same("@x", "@x"));
	/* ".." is the file system's to resolve: a symlink's ".." is not its parent. */
	ASSERT_TRUE(!unix_address_same("/run/a.sock", "/run/x/../a.sock"));
	ASSERT_TRUE(!unix_address_same("/run/a.sock", "run/a.sock"));
	ASSERT_TRUE(!unix_address_same("/run/a.sock", "/run/a.sockx"));
	ASSERT_TRUE(!unix_address_same("/run/a.sock", "/run/a"));
	ASSERT_TRUE(!unix_address_same("/run/a", "/run/a.sock"));
	ASSERT_TRUE(!unix_address_same("/run/a.sock", "/ru/na.sock"));
	/* Abstract names are bytes: no separators to collapse, and never a path. */
	ASSERT_TRUE(!unix_address_same("@x", "@x/"));
	ASSERT_TRUE(!unix_address_same("@//x", "@/x"));
	ASSERT_TRUE(!unix_address_same("@x", "x"));
	ASSERT_TRUE(!unix_address_same("/x", "@/x"));
}

TEST(socket_address_tcp_ipv4) {
	struct socket_address a;
	ASSERT_EQ(socket_address_parse("tcp:127.0.0.1:7777", &a), 0);
	ASSERT_TRUE(socket_address_is_inet(&a));
	ASSERT_EQ(a.in.sin_family, AF_INET);
	ASSERT_EQ(ntohs(a.in.sin_port), 7777);
	ASSERT_EQ(ntohl(a.in.sin_addr.s_addr), 0x7f000001u);
	ASSERT_EQ(a.len, sizeof(struct sockaddr_in));
	ASSERT_EQ(socket_address_parse("tcp:0.0.0.0:65535", &a), 0);
	ASSERT_EQ(ntohs(a.in.sin_port), 65535);
	ASSERT_EQ(socket_address_parse("tcp:10.1.2.3:1", &a), 0);
	ASSERT_EQ(ntohs(a.in.sin_port), 1);
}

TEST(socket_address_tcp_ipv6) {
	static const struct in6_addr loopback = IN6ADDR_LOOPBACK_INIT;
	struct socket_address a;
	ASSERT_EQ(socket_address_parse("tcp:[::1]:7777", &a), 0);
	ASSERT_TRUE(socket_address_is_inet(&a));
	ASSERT_EQ(a.in6.sin6_family, AF_INET6);
	ASSERT_EQ(ntohs(a.in6.sin6_port), 7777);
	ASSERT_TRUE(memcmp(&a.in6.sin6_addr, &loopback, sizeof(loopback)) == 0);
	ASSERT_EQ(a.len, sizeof(struct sockaddr_in6));
	ASSERT_EQ(socket_address_parse("tcp:[::ffff:127.0.0.1]:80", &a), 0);
	ASSERT_EQ(a.in6.sin6_family, AF_INET6);
	ASSERT_EQ(socket_address_parse("tcp:[fe80:0:0:0:0:0:0:1]:80", &a), 0);
}

TEST(socket_address_tcp_malformed) {
	static const char *const bad[] = {
		"tcp:",
		"tcp:127.0.0.1",
		"tcp:127.0.0.1:",
		"tcp:127.0.0.1:0",
		"tcp:127.0.0.1:65536",
		"tcp:127.0.0.1:99999",
		"tcp:127.0.0.1:+80",
		"tcp:127.0.0.1:-1",
		"tcp:127.0.0.1:80 ",
		"tcp:127.0.0.1:0x50",
		"tcp:127.0.0.1:123456",
		"tcp::80",
		"tcp:127.1:80",
		"tcp:256.0.0.1:80",
		"tcp:localhost:80",
		"tcp:::1:80",
		"tcp:[::1]",
		"tcp:[::1]80",
		"tcp:[::1]:",
		"tcp:[]:80",
		"tcp:[127.0.0.1]:80",
		"tcp:[::1:80",
		"tcp:[fe80::1%lo]:80",
		"tcp:[::1]:80:80",
		"tcp:1.2.3.4:80:80",
	};
	struct socket_address a = { .len = 12345 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(socket_address_parse(bad[i], &a), -EINVAL);
	ASSERT_EQ(a.len, 12345); /* never written on failure */
}

TEST(socket_address_unix_keeps_its_meaning) {
	struct socket_address a;
	struct unix_address u;

	/* Without the prefix a colon is part of a path, as it always was. */
	ASSERT_EQ(socket_address_parse("127.0.0.1:7777", &a), 0);
	ASSERT_EQ(a.un.sun_family, AF_UNIX);
	ASSERT_STREQ(a.un.sun_path, "127.0.0.1:7777");
	ASSERT_TRUE(!socket_address_is_inet(&a));
	ASSERT_EQ(socket_address_parse("./tcp:127.0.0.1:7777", &a), 0);
	ASSERT_STREQ(a.un.sun_path, "./tcp:127.0.0.1:7777");
	ASSERT_EQ(socket_address_parse("TCP:127.0.0.1:7777", &a), 0);
	ASSERT_EQ(a.un.sun_family, AF_UNIX);

	ASSERT_EQ(socket_address_parse("@ipcd-test", &a), 0);
	ASSERT_EQ(unix_address_parse("@ipcd-test", &u), 0);
	ASSERT_EQ(a.len, u.len);
	ASSERT_TRUE(memcmp(&a.un, &u.sun, u.len) == 0);
	ASSERT_EQ(socket_address_parse("/run/ipcd/ipcd.sock", &a), 0);
	ASSERT_EQ(a.len,
		  offsetof(struct sockaddr_un, sun_path) + strlen("/run/ipcd/ipcd.sock") + 1);
	ASSERT_EQ(socket_address_parse("", &a), -EINVAL);
	ASSERT_EQ(socket_address_parse(NULL, &a), -EINVAL);
	char s[200];
	memset(s, 'x', sizeof(s));
	s[199] = '\0';
	ASSERT_EQ(socket_address_parse(s, &a), -ENAMETOOLONG);
}

TEST(listen_address_types) {
	struct listen_address a;

	ASSERT_EQ(listen_address_parse("/run/x.sock", &a), 0);
	ASSERT_EQ(a.type, SOCK_STREAM);
	ASSERT_STREQ(a.unix_spec, "/run/x.sock");
	ASSERT_TRUE(listen_address_is_path(&a));
	ASSERT_EQ(listen_address_parse("seqpacket:/run/x.sock", &a), 0);
	ASSERT_EQ(a.type, SOCK_SEQPACKET);
	ASSERT_STREQ(a.unix_spec, "/run/x.sock");
	ASSERT_STREQ(a.addr.un.sun_path, "/run/x.sock");
	ASSERT_EQ(listen_address_parse("dgram:@x", &a), 0);
	ASSERT_EQ(a.type, SOCK_DGRAM);
	ASSERT_STREQ(a.unix_spec, "@x");
	ASSERT_TRUE(!listen_address_is_path(&a));
	ASSERT_EQ(listen_address_parse("tcp:[::1]:7777", &a), 0);
	ASSERT_EQ(a.type, SOCK_STREAM);
	ASSERT_TRUE(a.unix_spec == NULL);
	ASSERT_EQ(a.addr.sa.sa_family, AF_INET6);
	/* No prefix, no new meaning: these are files. */
	ASSERT_EQ(listen_address_parse("./dgram:x", &a), 0);
	ASSERT_EQ(a.type, SOCK_STREAM);
	ASSERT_EQ(listen_address_parse("stream:x", &a), 0);
	ASSERT_STREQ(a.unix_spec, "stream:x");
	ASSERT_EQ(listen_address_parse("DGRAM:x", &a), 0);
	ASSERT_EQ(a.type, SOCK_STREAM);
}

TEST(listen_address_malformed) {
	static const char *const bad[] = {
		"",
		"seqpacket:",
		"dgram:",
		"dgram:@",
		"tcp:",
		"tcp:1.2.3.4",
		"tcp:[::1]",
		"tcp:999.1.1.1:80",
		"tcp:127.0.0.1:0",
		"dgram:tcp:1.2.3.4:5",
		"seqpacket:dgram:/x",
	};
	struct listen_address a = { .type = 12345 };
	char s[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(listen_address_parse(bad[i], &a), -EINVAL);
	ASSERT_EQ(listen_address_parse(NULL, &a), -EINVAL);
	ASSERT_EQ(a.type, 12345); /* never written on failure */
	memcpy(s, "dgram:", 6);
	memset(s + 6, 'x', sizeof(s) - 7);
	s[sizeof(s) - 1] = '\0';
	ASSERT_EQ(listen_address_parse(s, &a), -ENAMETOOLONG);
	ASSERT_TRUE(strstr(listen_address_error(s, -ENAMETOOLONG), "too long"));
	ASSERT_TRUE(strstr(listen_address_error("tcp:1.2.3.4", -EINVAL), "tcp:IPV4:PORT"));
	ASSERT_TRUE(strstr(listen_address_error("dgram:", -EINVAL), "\"dgram:\""));
	ASSERT_TRUE(strstr(listen_address_error("", -EINVAL), "socket path or @name"));
}

/* Both parse, and name one socket. */
static bool same(const char *x, const char *y) {
	struct listen_address a, b;
	return listen_address_parse(x, &a) == 0 && listen_address_parse(y, &b) == 0 &&
	       listen_address_same(&a, &b);
}

TEST(listen_address_same_per_type) {
	/* One file, whatever the type. */
	ASSERT_TRUE(same("/a", "dgram:/a"));
	ASSERT_TRUE(same("seqpacket:/run//a", "/run/./a"));
	/* One abstract namespace per type. */
	ASSERT_TRUE(same("@a", "@a"));
	ASSERT_TRUE(!same("@a", "dgram:@a"));
	ASSERT_TRUE(same("dgram:@a", "dgram:@a"));
	ASSERT_TRUE(!same("@a", "/a"));
	ASSERT_TRUE(same("tcp:127.0.0.1:80", "tcp:127.0.0.1:80"));
	ASSERT_TRUE(same("tcp:[::1]:80", "tcp:[0:0::1]:80"));
	ASSERT_TRUE(!same("tcp:127.0.0.1:80", "tcp:127.0.0.1:81"));
	ASSERT_TRUE(!same("tcp:127.0.0.1:80", "tcp:[::ffff:127.0.0.1]:80"));
	ASSERT_TRUE(!same("tcp:127.0.0.1:80", "/a"));
}
