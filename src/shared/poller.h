/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

/*
 * One epoll set holds every connection and the sd-event loop's own fd, and one epoll_wait
 * serves both. sd-event dispatches one source per iteration and asks epoll again before each,
 * which hands back every still-ready fd: n busy connections would cost O(n) per dispatch,
 * O(n²) per round (measured: 1000 connections fell to a tenth of the rate of 100). Here the
 * connections are drained in batches of up to POLLER_BATCH, level-triggered, in the
 * kernel's fair ready-list order, and the loop's own sources (timers, inboxes, wake-ups)
 * run when its fd turns up in a batch like any connection. Nesting the other way round
 * (the set as one sd-event source) cost a second epoll_wait per wake-up.
 *
 * Contract for callbacks: within one batch a callback may free its own entry (after
 * poller_remove), but no other entry, since that one may still be further on in the batch.
 * Callbacks run while the loop is armed: they may call sd_event_exit(), but must not add,
 * move or enable sd-event sources, whose timers were set before the batch began.
 */
#define POLLER_BATCH 256

struct poller_entry {
	void (*fn)(struct poller_entry *e, uint32_t revents);
};

struct poller;

int poller_new(sd_event *event, struct poller **ret);
struct poller *poller_free(struct poller *p);

/* Runs event and the connections until sd_event_exit(); returns its code or a negative errno. A
 * failure inside sd-event leaves it as sd_event_loop() would, so the caller may run it again. */
int poller_run(struct poller *p);
/* CLOCK_MONOTONIC when the current batch began, for callbacks to stamp activity with. */
uint64_t poller_now(const struct poller *p);

int poller_add(struct poller *p, int fd, uint32_t events, struct poller_entry *e);
int poller_modify(struct poller *p, int fd, uint32_t events, struct poller_entry *e);
/* Before close(): a dup of fd elsewhere would otherwise keep it registered. */
void poller_remove(struct poller *p, int fd);
