/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

struct worker;

/* On the accepting thread: the worker a new connection goes to. The lowest-numbered worker
 * whose busy share is below PACK_BELOW, so a thin load wakes one thread; only when all are that
 * busy, the one with the fewest connections. */
struct worker *balance_pick(struct worker *const *workers, size_t n);

/* On w's thread, once, before it runs: creates its measuring timer, off. */
int balance_init(struct worker *w);

/* On w's own thread, as it starts: opens what it measures itself with. */
void balance_thread_start(struct worker *w);

/* On w's thread, outside a poller batch, after it took connections: starts measuring if it was
 * not. The timer turns itself off once w has no connection left. */
void balance_wake(struct worker *w);
