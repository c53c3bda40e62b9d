/* SPDX-License-Identifier: MIT */
/*
 * Each datagram peer's share of ipcd's datagram send buffer: see dgram_share.h for the model.
 * Peers live in a hash table by address and on a list by last echo, newest first.
 * Pure: no I/O, no logging; the caller asks the kernel and passes the answer in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dgram_share.h"
#include "macro.h"

#define BUCKETS 4096  /* a power of two */
#define IDLE_MAX 4096 /* peers kept with nothing in flight, for their next datagram */

struct dgram_peer {
	struct dgram_peer *hash_next;
	struct dgram_peer *newer, *older;
	size_t charge; /* echoes sent and not yet seen read */
	bool held;     /* refused for its quota: credited after the others, until seen to read */
	bool idle;     /* on the idle list: nothing charged */
	socklen_t addr_len;
	struct sockaddr_un addr;
};

/* The kernel's unix datagram: an skb whose head holds up to SKB_MAX_ALLOC bytes of data
 * (kmalloc'd in powers of two with the shared info after the data), the rest in page
 * fragments, at most MAX_SKB_FRAGS of them, the head taking what they cannot. */
#define SKB_STRUCT 256u
#define SKB_SHARED_INFO 320u
#define PAGE 4096u
#define SKB_MAX_ALLOC (4 * PAGE - SKB_SHARED_INFO)
#define SKB_MAX_FRAG_BYTES (17 * PAGE)
#define PAGE_ALIGN(n) (((n) + PAGE - 1) / PAGE * PAGE)

static size_t round_up_pow2(size_t n) {
	size_t p = 512; /* the smallest head kmalloc gives an skb with its shared info */
	while (p < n)
		p <<= 1;
	return p;
}

size_t dgram_share_truesize(size_t len) {
	size_t frags = 0;

	if (len > SKB_MAX_ALLOC)
		frags = PAGE_ALIGN(MIN(len - SKB_MAX_ALLOC, (size_t)SKB_MAX_FRAG_BYTES));
	return SKB_STRUCT + round_up_pow2(len - frags + SKB_SHARED_INFO) + frags;
}

void dgram_share_set_limits(struct dgram_share *s, size_t capacity, size_t max_message) {
	s->capacity = capacity;
	s->quota = MAX(capacity / DGRAM_SHARE_PEERS, dgram_share_truesize(max_message));
}

int dgram_share_init(struct dgram_share *s, size_t capacity, size_t max_message) {
	*s = (struct dgram_share){ .buckets = calloc(BUCKETS, sizeof(struct dgram_peer *)) };
	if (!s->buckets)
		return -ENOMEM;
	dgram_share_set_limits(s, capacity, max_message);
	return 0;
}

/* FNV-1a: addresses are the peers' to choose, but a long chain costs only its own lookups. */
static struct dgram_peer **bucket(struct dgram_share *s, const struct sockaddr_un *addr,
				  socklen_t len) {
	const unsigned char *b = (const unsigned char *)addr;
	uint32_t h = 2166136261u;

	for (socklen_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return &s->buckets[h & (BUCKETS - 1)];
}

static void list_unlink(struct dgram_list *l, struct dgram_peer *p) {
	if (p->newer)
		p->newer->older = p->older;
	else
		l->newest = p->older;
	if (p->older)
		p->older->newer = p->newer;
	else
		l->oldest = p->newer;
	p->newer = p->older = NULL;
}

static void list_push_newest(struct dgram_list *l, struct dgram_peer *p) {
	p->older = l->newest;
	p->newer = NULL;
	if (l->newest)
		l->newest->newer = p;
	else
		l->oldest = p;
	l->newest = p;
}

static void peer_forget(struct dgram_share *s, struct dgram_peer *p) {
	struct dgram_peer **b = bucket(s, &p->addr, p->addr_len);

	while (*b != p)
		b = &(*b)->hash_next;
	*b = p->hash_next;
	if (p->idle) {
		list_unlink(&s->idle, p);
		s->n_idle--;
	} else {
		list_unlink(&s->recent, p);
		s->charged -= p->charge;
		s->n_peers--;
	}
	free(p);
}

/* Nothing charged any more: kept, idle, for the peer's next datagram; the idle list's oldest
 * is forgotten past IDLE_MAX. */
static void peer_idle(struct dgram_share *s, struct dgram_peer *p) {
	list_unlink(&s->recent, p);
	s->n_peers--;
	p->idle = true;
	p->held = false;
	list_push_newest(&s->idle, p);
	if (++s->n_idle > IDLE_MAX)
		peer_forget(s, s->idle.oldest);
}

void dgram_share_done(struct dgram_share *s) {
	while (s->recent.newest)
		peer_forget(s, s->recent.newest);
	while (s->idle.newest)
		peer_forget(s, s->idle.newest);
	free(s->buckets);
	s->buckets = NULL;
}

/* Credits up to *left to the peers, newest first: those held or those not. */
static void credit_pass(struct dgram_share *s, size_t *left, bool held) {
	struct dgram_peer *p, *next;

	for (p = s->recent.newest; p && (*left > 0 || p->charge == 0); p = next) {
		size_t c = MIN(*left, p->charge);

		next = p->older;
		if (p->charge > 0 && p->held != held)
			continue;
		p->charge -= c;
		s->charged -= c;
		*left -= c;
		p->held = p->held && c == 0;
		if (p->charge == 0)
			peer_idle(s, p);
	}
}

void dgram_share_settle(struct dgram_share *s, size_t queued) {
	size_t left = s->charged > queued ? s->charged - queued : 0;

	credit_pass(s, &left, false);
	credit_pass(s, &left, true);
}

static struct dgram_peer *peer_find(struct dgram_share *s, const struct sockaddr_un *addr,
				    socklen_t len) {
	for (struct dgram_peer *p = *bucket(s, addr, len); p; p = p->hash_next)
		if (p->addr_len == len && memcmp(&p->addr, addr, len) == 0)
			return p;
	return NULL;
}

struct dgram_peer *dgram_share_charge(struct dgram_share *s, const struct sockaddr_un *addr,
				      socklen_t addr_len, size_t len, bool *ret_over_quota) {
	size_t size = dgram_share_truesize(len);
	struct dgram_peer *p;

	addr_len = MIN(addr_len, (socklen_t)sizeof(struct sockaddr_un));
	p = peer_find(s, addr, addr_len);
	*ret_over_quota = p && p->charge + size > s->quota;
	if (*ret_over_quota) {
		p->held = true;
		return NULL;
	}
	if (!p) {
		struct dgram_peer **b = bucket(s, addr, addr_len);

		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		memcpy(&p->addr, addr, addr_len);
		p->addr_len = addr_len;
		p->hash_next = *b;
		*b = p;
		s->n_peers++;
		list_push_newest(&s->recent, p);
	} else if (p->idle) {
		list_unlink(&s->idle, p);
		s->n_idle--;
		p->idle = false;
		s->n_peers++;
		list_push_newest(&s->recent, p);
	} else if (p->charge < s->quota / 2) {
		/* A peer holding half its quota stays where it is: one that keeps sending and
		 * never reads would otherwise stay at the newest end, take the credit of those
		 * that read, and never reach its quota. */
		list_unlink(&s->recent, p);
		list_push_newest(&s->recent, p);
	}
	p->charge += size;
	s->charged += size;
	return p;
}

void dgram_share_refund(struct dgram_share *s, struct dgram_peer *p, size_t len) {
	size_t size = MIN(dgram_share_truesize(len), p->charge);

	p->charge -= size;
	s->charged -= size;
	/* Not made idle here at 0, since later answers of the batch may point at it too: the
	 * next settle does, at the newest end, where refunds come after the batch's charges. */
	if (p->charge == 0) {
		list_unlink(&s->recent, p);
		list_push_newest(&s->recent, p);
	}
}

size_t dgram_share_room(const struct dgram_share *s, size_t queued, size_t max_message) {
	/* The kernel sends while less than the buffer is taken, whatever the datagram adds. */
	if (queued >= s->capacity)
		return 0;
	return (s->capacity - queued - 1) / dgram_share_truesize(max_message) + 1;
}
