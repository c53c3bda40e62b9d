/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

/*
 * Many connections behind one sd-event io source. sd-event dispatches one source per loop
 * iteration and asks epoll again before each, which hands back every still-ready fd: n busy
 * connections would cost O(n) per dispatch, O(n²) per round (measured: 1000 connections fell
 * to a tenth of the rate of 100). Here the connections sit in an epoll set of their own,
 * watched by the loop as one fd and drained in batches: one epoll_wait per up to
 * POLLER_BATCH events, level-triggered, in the kernel's fair ready-list order.
 *
 * Contract for callbacks: within one batch a callback may free its own entry (after
 * poller_remove), but no other entry, since that one may still be further on in the batch.
 */
#define POLLER_BATCH 256

struct poller_entry {
	void (*fn)(struct poller_entry *e, uint32_t revents);
};

struct poller;

int poller_new(sd_event *event, struct poller **ret);
struct poller *poller_free(struct poller *p);

int poller_add(struct poller *p, int fd, uint32_t events, struct poller_entry *e);
int poller_modify(struct poller *p, int fd, uint32_t events, struct poller_entry *e);
/* Before close(): a dup of fd elsewhere would otherwise keep it registered. */
void poller_remove(struct poller *p, int fd);
