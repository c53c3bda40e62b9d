/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "dgram_share.h"
#include "macro.h"
#include "tests.h"

static struct sockaddr_un addr_of(const char *name, socklen_t *len) {
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	a.sun_path[0] = '\0'; /* abstract, as ipc-client's autobound sockets are */
	memcpy(a.sun_path + 1, name, strlen(name));
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	return a;
}

static struct dgram_peer *charge(struct dgram_share *s, const char *name, size_t len, bool *over) {
	socklen_t l;
	struct sockaddr_un a = addr_of(name, &l);

	return dgram_share_charge(s, &a, l, len, over);
}

/* What SIOCOUTQ said after one datagram of each size on Linux 6.18, x86-64 (see the note). */
TEST(truesize_matches_the_kernels_accounting) {
	static const size_t seen[][2] = {
		{ 0, 768 },       { 1, 768 },         { 192, 768 },         { 200, 1280 },
		{ 1000, 2304 },   { 3776, 4352 },     { 3777, 8448 },       { 4096, 8448 },
		{ 8000, 16640 },  { 16064, 16640 },   { 16065, 20736 },     { 60000, 61696 },
		{ 65536, 69888 }, { 300000, 332032 }, { 1048576, 1118464 }, { 4263616, 4264192 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(seen); i++)
		ASSERT_EQ(dgram_share_truesize(seen[i][0]), seen[i][1]);
}

TEST(quota_is_a_share_of_the_buffer_but_at_least_one_largest_echo) {
	struct dgram_share s;

	ASSERT_EQ(dgram_share_init(&s, 8 << 20, 65536), 0);
	ASSERT_EQ(s.quota, (size_t)(1 << 20));
	dgram_share_set_limits(&s, 425984, 65536);
	ASSERT_EQ(s.quota, dgram_share_truesize(65536));
	dgram_share_done(&s);
}

TEST(a_peer_over_its_quota_is_refused_alone) {
	struct dgram_share s;
	bool over;

	ASSERT_EQ(dgram_share_init(&s, 425984, 65536), 0);
	ASSERT_TRUE(charge(&s, "hog", 60000, &over)); /* 61696 of 69888 */
	ASSERT_TRUE(!charge(&s, "hog", 60000, &over));
	ASSERT_TRUE(over);
	ASSERT_TRUE(charge(&s, "hog", 1000, &over)); /* a small one still fits */
	ASSERT_TRUE(charge(&s, "other", 60000, &over));
	ASSERT_TRUE(!over);
	ASSERT_EQ(s.n_peers, 2);
	dgram_share_done(&s);
}

TEST(credit_goes_to_the_peers_answered_last) {
	struct dgram_share s;
	bool over;
	size_t hog;

	ASSERT_EQ(dgram_share_init(&s, 8 << 20, 65536), 0);
	ASSERT_TRUE(charge(&s, "hog", 60000, &over));
	hog = s.charged;
	for (int i = 0; i < 100; i++)
		ASSERT_TRUE(charge(&s, "reader", 4096, &over));
	/* The kernel holds only the hog's echo: the reader's are read. */
	dgram_share_settle(&s, hog);
	ASSERT_EQ(s.charged, hog);
	ASSERT_EQ(s.n_peers, 1); /* the reader, at 0, is forgotten */
	/* Nothing more read: nothing more credited. */
	dgram_share_settle(&s, hog);
	ASSERT_EQ(s.charged, hog);
	/* The hog closed its socket: the kernel freed its queue. */
	dgram_share_settle(&s, 0);
	ASSERT_EQ(s.charged, 0);
	ASSERT_EQ(s.n_peers, 0);
	dgram_share_done(&s);
}

TEST(a_refund_to_zero_is_forgotten_at_the_next_settle) {
	struct dgram_share s;
	struct dgram_peer *a, *b;
	bool over;

	ASSERT_EQ(dgram_share_init(&s, 8 << 20, 65536), 0);
	ASSERT_TRUE(charge(&s, "kept", 100, &over));
	a = charge(&s, "gone", 100, &over);
	b = charge(&s, "gone", 100, &over);
	ASSERT_TRUE(a && a == b);
	dgram_share_refund(&s, a, 100);
	dgram_share_refund(&s, b, 100); /* the same peer, still valid within the batch */
	ASSERT_EQ(s.n_peers, 2);
	dgram_share_settle(&s, s.charged); /* nothing read, but the empty peer goes */
	ASSERT_EQ(s.n_peers, 1);
	ASSERT_EQ(s.charged, dgram_share_truesize(100));
	dgram_share_done(&s);
}

TEST(a_peer_that_read_everything_is_kept_idle_for_its_next_datagram) {
	struct dgram_share s;
	struct dgram_peer *first;
	bool over;

	ASSERT_EQ(dgram_share_init(&s, 8 << 20, 65536), 0);
	first = charge(&s, "reader", 100, &over);
	dgram_share_settle(&s, 0);
	ASSERT_EQ(s.n_peers, 0);
	ASSERT_EQ(s.n_idle, 1);
	ASSERT_TRUE(charge(&s, "reader", 100, &over) == first); /* the same entry, not a new one */
	ASSERT_EQ(s.n_peers, 1);
	ASSERT_EQ(s.n_idle, 0);
	/* Idle peers are bounded: the oldest go first. */
	for (int i = 0; i < 5000; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		ASSERT_TRUE(charge(&s, name, 1, &over));
	}
	dgram_share_settle(&s, 0);
	ASSERT_EQ(s.n_peers, 0);
	ASSERT_EQ(s.n_idle, 4096);
	dgram_share_done(&s);
}

TEST(room_is_what_the_kernel_would_still_send) {
	struct dgram_share s;
	size_t t = dgram_share_truesize(65536);

	ASSERT_EQ(dgram_share_init(&s, 10 * t, 65536), 0);
	ASSERT_EQ(dgram_share_room(&s, 0, 65536), 10);
	/* The kernel sends while less than the buffer is taken: one byte short still sends one. */
	ASSERT_EQ(dgram_share_room(&s, 10 * t - 1, 65536), 1);
	ASSERT_EQ(dgram_share_room(&s, 10 * t, 65536), 0);
	ASSERT_EQ(dgram_share_room(&s, 20 * t, 65536), 0);
	dgram_share_done(&s);
}

/*
 * The model against a simulated kernel, at the buffer ipcd asks for, under the load of ipc-client
 * load -c 40 --depth 4 -b 4K: closed-loop readers that read their echoes one to three steps
 * after they were sent and send as many again, answered in an order that changes, beside a hog
 * that sent a burst and never reads. Readers are never refused; the hog holds no more than its
 * quota.
 */
#define READERS 40
#define DEPTH 4
TEST(readers_are_served_and_a_hog_held_to_its_quota) {
	struct dgram_share s;
	size_t unread[READERS] = { 0 }, hog = 0, t4k = dgram_share_truesize(4096);
	bool over, answer[READERS];
	char name[16];

	ASSERT_EQ(dgram_share_init(&s, 8 << 20, 65536), 0);
	for (int i = 0; i < 100; i++)
		if (charge(&s, "hog", 60000, &over))
			hog += dgram_share_truesize(60000);
	ASSERT_TRUE(over);
	for (int step = 0; step < 20000; step++) {
		size_t queued = hog;

		for (int r = 0; r < READERS; r++) {
			answer[r] = step % (r % 3 + 1) == 0;
			if (answer[r])
				unread[r] = 0;
			queued += unread[r];
		}
		dgram_share_settle(&s, queued);
		for (int k = 0; k < READERS; k++) {
			int r = (k * 7 + step) % READERS;
			if (!answer[r])
				continue;
			snprintf(name, sizeof(name), "reader%d", r);
			for (int d = 0; d < DEPTH; d++) {
				ASSERT_TRUE(charge(&s, name, 4096, &over));
				unread[r] += t4k;
			}
		}
		/* It may send small ones into what is left of its quota, never past it. */
		if (charge(&s, "hog", 1, &over))
			hog += dgram_share_truesize(1);
		ASSERT_TRUE(hog <= s.quota);
	}
	ASSERT_TRUE(hog > s.quota - dgram_share_truesize(1));
	dgram_share_done(&s);
}
