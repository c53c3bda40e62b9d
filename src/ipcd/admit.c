/* SPDX-License-Identifier: MIT */
/*
 * Admission decisions: allow lists, the accept-rate token bucket, the total and per-UID
 * connection counts. Decides only: the caller does the I/O, the counting in stats and the
 * logging. Connections are admitted on the accepting thread and released on worker threads,
 * so the counts sit behind one mutex: taken once per connect and once per close.
 * Pure: no I/O, no logging.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "admit.h"
#include "macro.h"

struct uid_count {
	uint32_t uid;
	uint32_t count; /* 0: the slot is free */
};

struct admit {
	pthread_mutex_t lock;
	atomic_uint_fast64_t active;
	/* Open addressing with linear probing; free slots have count 0. At most half full. */
	struct uid_count *uids;
	size_t uids_cap, uids_used;
	/* GCRA form of a token bucket: the time at which the bucket would be full again. */
	uint64_t bucket_tat_nsec;
};

static const char *const result_names[_ADMIT_MAX] = {
	[ADMIT_OK] = "admitted",
	[ADMIT_DENIED] = "denied",
	[ADMIT_RATE] = "accept-rate",
	[ADMIT_MAX_CONNECTIONS] = "max-connections",
	[ADMIT_MAX_CONNECTIONS_PER_UID] = "max-connections-per-uid",
};

const char *admit_result_to_string(enum admit_result r) {
	return r >= 0 && r < _ADMIT_MAX ? result_names[r] : NULL;
}

int admit_new(struct admit **ret) {
	struct admit *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	atomic_init(&a->active, 0);
	*ret = a;
	return 0;
}

struct admit *admit_free(struct admit *a) {
	if (!a)
		return NULL;
	pthread_mutex_destroy(&a->lock);
	free(a->uids);
	free(a);
	return NULL;
}

static size_t uid_slot(const struct admit *a, uint32_t uid) {
	size_t mask = a->uids_cap - 1;
	size_t i = (uid * UINT32_C(2654435761)) & mask; /* Knuth's multiplicative hash */

	while (a->uids[i].count != 0 && a->uids[i].uid != uid)
		i = (i + 1) & mask;
	return i;
}

static int uids_grow(struct admit *a) {
	size_t cap = a->uids_cap ? a->uids_cap * 2 : 64;
	struct uid_count *old = a->uids;
	size_t old_cap = a->uids_cap;

	a->uids = calloc(cap, sizeof(*a->uids));
	if (!a->uids) {
		a->uids = old;
		return -ENOMEM;
	}
	a->uids_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].count)
			a->uids[uid_slot(a, old[i].uid)] = old[i];
	free(old);
	return 0;
}

static uint32_t uid_count(const struct admit *a, uint32_t uid) {
	return a->uids_cap ? a->uids[uid_slot(a, uid)].count : 0;
}

/* Deletion without tombstones: shift later members of the probe run back into the hole. */
static void uid_remove_slot(struct admit *a, size_t hole) {
	size_t mask = a->uids_cap - 1;

	a->uids[hole].count = 0;
	for (size_t i = (hole + 1) & mask; a->uids[i].count; i = (i + 1) & mask) {
		size_t home = (a->uids[i].uid * UINT32_C(2654435761)) & mask;
		/* Move i into the hole unless its home lies cyclically in (hole, i]. */
		bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (stays)
			continue;
		a->uids[hole] = a->uids[i];
		a->uids[i].count = 0;
		hole = i;
	}
	a->uids_used--;
}

/* Counts one more connection of p's uid. Called with the lock held. */
static int uid_take(struct admit *a, const struct peer *p) {
	struct uid_count *e;

	if (!p->has_creds)
		return 0;
	if ((a->uids_used + 1) * 2 > a->uids_cap && uids_grow(a) < 0)
		return -ENOMEM;
	e = &a->uids[uid_slot(a, p->uid)];
	if (e->count == 0) {
		e->uid = p->uid;
		a->uids_used++;
	}
	e->count++;
	return 0;
}

bool admit_peer_allowed(const struct ipcd_config *c, const struct peer *p) {
	if (c->allow_uids.n == 0 && c->allow_gids.n == 0)
		return true;
	if (!p->has_creds)
		return false; /* a TCP peer cannot prove who it is */
	if (conf_id_list_contains(&c->allow_uids, p->uid) ||
	    conf_id_list_contains(&c->allow_gids, p->gid))
		return true;
	for (size_t i = 0; i < p->n_groups; i++)
		if (conf_id_list_contains(&c->allow_gids, p->groups[i]))
			return true;
	return false;
}

/* Burst = rate: a bucket of `rate` tokens refilled at `rate` per second. */
static bool bucket_take(struct admit *a, uint64_t rate, uint64_t now) {
	uint64_t interval = NSEC_PER_SEC / rate;
	uint64_t tolerance = interval * (rate - 1);
	uint64_t tat = MAX(a->bucket_tat_nsec, now);

	if (tat - now > tolerance)
		return false;
	a->bucket_tat_nsec = tat + interval;
	return true;
}

enum admit_result admit_check(struct admit *a, const struct ipcd_config *c, const struct peer *p,
			      uint64_t now_nsec) {
	enum admit_result r = ADMIT_OK;

	if (!admit_peer_allowed(c, p))
		return ADMIT_DENIED;

	pthread_mutex_lock(&a->lock);
	if (c->accept_rate > 0 && !bucket_take(a, c->accept_rate, now_nsec))
		r = ADMIT_RATE;
	else if (atomic_load(&a->active) >= c->max_connections)
		r = ADMIT_MAX_CONNECTIONS;
	/* Over the per-UID limit, or the table that keeps it cannot grow: refuse, as over it.
	 * uid_take() counts the connection when it succeeds. */
	else if ((p->has_creds && c->max_connections_per_uid > 0 &&
		  uid_count(a, p->uid) >= c->max_connections_per_uid) ||
		 uid_take(a, p) < 0)
		r = ADMIT_MAX_CONNECTIONS_PER_UID;
	if (r == ADMIT_OK)
		atomic_fetch_add(&a->active, 1);
	pthread_mutex_unlock(&a->lock);
	return r;
}

int admit_adopt(struct admit *a, const struct peer *p) {
	int r;

	pthread_mutex_lock(&a->lock);
	r = uid_take(a, p);
	if (r >= 0)
		atomic_fetch_add(&a->active, 1);
	pthread_mutex_unlock(&a->lock);
	return r;
}

uint64_t admit_release(struct admit *a, const struct peer *p) {
	uint64_t left;

	pthread_mutex_lock(&a->lock);
	if (p->has_creds && a->uids_cap) {
		size_t i = uid_slot(a, p->uid);
		if (a->uids[i].count > 0 && --a->uids[i].count == 0)
			uid_remove_slot(a, i);
	}
	left = atomic_fetch_sub(&a->active, 1) - 1;
	pthread_mutex_unlock(&a->lock);
	return left;
}

bool admit_peer_address(const struct peer *p, char *buf, size_t len) {
	if ((p->family == AF_INET || p->family == AF_INET6) &&
	    inet_ntop(p->family, &p->addr, buf, (socklen_t)len))
		return true;
	if (len > 0)
		buf[0] = '\0';
	return false;
}

void admit_peer_describe(const struct peer *p, char *buf, size_t len) {
	char address[ADMIT_ADDRESS_MAX];

	if (!p->has_creds && admit_peer_address(p, address, sizeof(address)))
		/* IPv6 in brackets, so that the port cannot be read as part of the address. */
		snprintf(buf, len, p->family == AF_INET6 ? " from [%s]:%u" : " from %s:%u", address,
			 (unsigned)p->port);
	else if (!p->has_creds)
		snprintf(buf, len, "%s", "");
	else if (p->pid > 0)
		snprintf(buf, len, " from pid %d uid %u gid %u", (int)p->pid, (unsigned)p->uid,
			 (unsigned)p->gid);
	else
		snprintf(buf, len, " from uid %u gid %u", (unsigned)p->uid, (unsigned)p->gid);
}

uint64_t admit_active(struct admit *a) {
	return atomic_load(&a->active);
}

size_t admit_top_uids(struct admit *a, struct admit_uid_open *ret, size_t n) {
	size_t found = 0;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->uids_cap && n > 0; i++) {
		const struct uid_count *e = &a->uids[i];
		size_t at;

		if (e->count == 0 || (found == n && e->count <= ret[n - 1].open))
			continue;
		/* Insertion into the sorted top n: n is small, the table at most a few thousand. */
		at = found < n ? found++ : n - 1;
		while (at > 0 && ret[at - 1].open < e->count) {
			ret[at] = ret[at - 1];
			at--;
		}
		ret[at] = (struct admit_uid_open){ .uid = e->uid, .open = e->count };
	}
	pthread_mutex_unlock(&a->lock);
	return found;
}
