/* SPDX-License-Identifier: MIT */
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
