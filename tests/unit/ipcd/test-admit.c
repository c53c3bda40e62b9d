/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>

#include "admit.h"
#include "conf.h"
#include "macro.h"
#include "tests.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

static struct peer peer_uid(uid_t uid) {
	return (struct peer){ .has_creds = true, .pid = 100, .uid = uid, .gid = uid };
}

TEST(max_connections) {
	struct ipcd_config *c = conf_new_default();
	struct admit *a;
	struct peer p = peer_uid(1000);

	ASSERT_EQ(admit_new(&a), 0);
	c->max_connections = 3;
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(admit_check(a, c, &p, 0), ADMIT_OK);
	ASSERT_EQ(admit_check(a, c, &p, 0), ADMIT_MAX_CONNECTIONS);
	ASSERT_EQ(admit_active(a), 3);
	ASSERT_EQ(admit_release(a, &p), 2);
	ASSERT_EQ(admit_check(a, c, &p, 0), ADMIT_OK);
	/* Lowering the limit refuses new ones but leaves the admitted alone. */
	c->max_connections = 1;
	ASSERT_EQ(admit_check(a, c, &p, 0), ADMIT_MAX_CONNECTIONS);
	ASSERT_EQ(admit_active(a), 3);
	admit_free(a);
	conf_unref(c);
}

TEST(per_uid_counts_each_uid_separately) {
	struct ipcd_config *c = conf_new_default();
	struct admit *a;
	struct peer alice = peer_uid(1000), bob = peer_uid(1001), tcp = { .has_creds = false };

	ASSERT_EQ(admit_new(&a), 0);
	c->max_connections_per_uid = 2;
	ASSERT_EQ(admit_check(a, c, &alice, 0), ADMIT_OK);
	ASSERT_EQ(admit_check(a, c, &alice, 0), ADMIT_OK);
	ASSERT_EQ(admit_check(a, c, &alice, 0), ADMIT_MAX_CONNECTIONS_PER_UID);
	ASSERT_EQ(admit_check(a, c, &bob, 0), ADMIT_OK);
	ASSERT_EQ(admit_check(a, c, &tcp, 0), ADMIT_OK); /* no uid, no per-uid limit */
	admit_release(a, &alice);
	ASSERT_EQ(admit_check(a, c, &alice, 0), ADMIT_OK);
	admit_free(a);
	conf_unref(c);
}

TEST(uid_table_survives_many_uids_and_removals) {
	struct ipcd_config *c = conf_new_default();
	struct admit *a;

	ASSERT_EQ(admit_new(&a), 0);
	c->max_connections = 100000;
	c->max_connections_per_uid = 1;
	/* Grow past several resizes, free every other uid (backward-shift deletion), and check
	 * the survivors are still found. */
	for (uid_t u = 0; u < 5000; u++) {
		struct peer p = peer_uid(u * 7919);
		ASSERT_EQ(admit_check(a, c, &p, 0), ADMIT_OK);
	}
	for (uid_t u = 0; u < 5000; u += 2) {
		struct peer p = peer_uid(u * 7919);
		admit_release(a, &p);
	}
	for (uid_t u = 0; u < 5000; u++) {
		struct peer p = peer_uid(u * 7919);
		ASSERT_EQ(admit_check(a, c, &p, 0),
			  u % 2 ? ADMIT_MAX_CONNECTIONS_PER_UID : ADMIT_OK);
	}
	ASSERT_EQ(admit_active(a), 5000);
	admit_free(a);
	conf_unref(c);
}

TEST(accept_rate_bucket_bursts_then_refills) {
	struct ipcd_config *c = conf_new_default();
	struct admit *a;
	struct peer p = peer_uid(1);
	uint64_t t = 5 * NSEC_PER_SEC;
	unsigned ok = 0;

	ASSERT_EQ(admit_new(&a), 0);
	c->accept_rate = 10;
	/* A full bucket lets a burst of `rate` through at one instant, then no more. */
	for (int i = 0; i < 20; i++)
		if (admit_check(a, c, &p, t) == ADMIT_OK)
			ok++;
	ASSERT_EQ(ok, 10);
	/* A tenth of a second buys one more. */
	ASSERT_EQ(admit_check(a, c, &p, t + NSEC_PER_SEC / 10), ADMIT_OK);
	ASSERT_EQ(admit_check(a, c, &p, t + NSEC_PER_SEC / 10), ADMIT_RATE);
	/* A second of quiet refills the bucket, but never beyond the burst. */
	ok = 0;
	for (int i = 0; i < 20; i++)
		if (admit_check(a, c, &p, t + 5 * NSEC_PER_SEC) == ADMIT_OK)
			ok++;
	ASSERT_EQ(ok, 10);
	admit_free(a);
	conf_unref(c);
}

TEST(access_lists) {
	struct ipcd_config *c = conf_new_default();
	uint32_t uids[] = { 1000 }, gids[] = { 50 };
	gid_t extra[] = { 7, 50 };
	struct peer alice = peer_uid(1000), bob = peer_uid(1001), tcp = { .has_creds = false };
	struct peer carol = {
		.has_creds = true, .uid = 1002, .gid = 1002, .groups = extra, .n_groups = 2
	};

	ASSERT_TRUE(admit_peer_allowed(c, &bob)); /* empty lists: everyone */
	ASSERT_TRUE(admit_peer_allowed(c, &tcp));
	c->allow_uids = (struct id_list){ uids, 1 };
	ASSERT_TRUE(admit_peer_allowed(c, &alice));
	ASSERT_TRUE(!admit_peer_allowed(c, &bob));
	ASSERT_TRUE(!admit_peer_allowed(c, &tcp)); /* no credentials to check */
	c->allow_gids = (struct id_list){ gids, 1 };
	ASSERT_TRUE(admit_peer_allowed(c, &carol)); /* by a supplementary group */
	ASSERT_TRUE(!admit_peer_allowed(c, &bob));
	c->allow_uids = (struct id_list){ NULL, 0 };
	c->allow_gids = (struct id_list){ NULL, 0 };
	conf_unref(c);
}

TEST(denied_and_refused_count_nothing) {
	struct ipcd_config *c = conf_new_default();
	uint32_t uids[] = { 1000 };
	struct admit *a;
	struct peer bob = peer_uid(1001);

	ASSERT_EQ(admit_new(&a), 0);
	c->allow_uids = (struct id_list){ uids, 1 };
	ASSERT_EQ(admit_check(a, c, &bob, 0), ADMIT_DENIED);
	ASSERT_EQ(admit_active(a), 0);
	c->allow_uids = (struct id_list){ NULL, 0 };
	admit_free(a);
	conf_unref(c);
}

TEST(result_names) {
	ASSERT_STREQ(admit_result_to_string(ADMIT_MAX_CONNECTIONS), "max-connections");
	ASSERT_STREQ(admit_result_to_string(ADMIT_DENIED), "denied");
	ASSERT_TRUE(admit_result_to_string(_ADMIT_MAX) == NULL);
}

TEST(peer_describe) {
	struct peer unix_peer = peer_uid(1000), far = peer_uid(1000), none = { .has_creds = false };
	struct peer v4 = { .family = AF_INET, .port = 54321 },
		    v6 = { .family = AF_INET6, .port = 1 };
	char buf[96], address[ADMIT_ADDRESS_MAX];

	far.pid = 0; /* another pid namespace */
	ASSERT_EQ(inet_pton(AF_INET, "127.0.0.1", &v4.addr.in), 1);
	ASSERT_EQ(inet_pton(AF_INET6, "::1", &v6.addr.in6), 1);

	admit_peer_describe(&unix_peer, buf, sizeof(buf));
	ASSERT_STREQ(buf, " from pid 100 uid 1000 gid 1000");
	admit_peer_describe(&far, buf, sizeof(buf));
	ASSERT_STREQ(buf, " from uid 1000 gid 1000");
	admit_peer_describe(&v4, buf, sizeof(buf));
	ASSERT_STREQ(buf, " from 127.0.0.1:54321");
	admit_peer_describe(&v6, buf, sizeof(buf));
	ASSERT_STREQ(buf, " from [::1]:1");
	admit_peer_describe(&none, buf, sizeof(buf));
	ASSERT_STREQ(buf, "");

	ASSERT_TRUE(admit_peer_address(&v6, address, sizeof(address)));
	ASSERT_STREQ(address, "::1");
	ASSERT_TRUE(!admit_peer_address(&unix_peer, address, sizeof(address)));
	ASSERT_STREQ(address, "");
}

TEST(top_uids_most_first) {
	struct ipcd_config *c = conf_new_default();
	struct admit_uid_open top[3];
	struct admit *a;

	ASSERT_EQ(admit_new(&a), 0);
	ASSERT_EQ(admit_top_uids(a, top, 3), 0);
	/* uid u holds u % 7 + 1 connections, for 50 users: 7, then 6 … */
	for (uid_t u = 1; u <= 50; u++) {
		struct peer p = peer_uid(u);
		for (uid_t i = 0; i <= u % 7; i++)
			ASSERT_EQ(admit_check(a, c, &p, 0), ADMIT_OK);
	}
	ASSERT_EQ(admit_top_uids(a, top, 3), 3);
	for (size_t i = 0; i < 3; i++) {
		ASSERT_EQ(top[i].open, 7);
		ASSERT_EQ(top[i].uid % 7, 6);
	}
	ASSERT_EQ(admit_top_uids(a, top, 0), 0);
	admit_free(a);
	conf_unref(c);
}
