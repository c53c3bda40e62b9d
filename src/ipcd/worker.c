/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: each runs its own sd-event loop over the connections it was handed, sweeps
 * their time limits, and drains them on shutdown. Hand-over from the accepting thread goes
 * through a locked inbox list and an eventfd; balance.c picks the worker, and decides when one
 * hands connections to another (worker_move), which goes through the same inbox.
 *
 * A worker owns its connections; each lives on one worker. This file calls conn_* to attach,
 * sweep, reconfigure, preserve and close them; the four worker_* helpers just below are the
 * calls the other way, for what a connection changes itself (conn.c's top comment says why).
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "conn.h"
#include "fdstore.h"
#include "log.h"
#include "macro.h"
#include "worker.h"

#define SWEEP_INTERVAL_USEC USEC_PER_SEC /* time limits are whole seconds: check each second */
#define START_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* clock's time usec from now, as the timed waits of pthread and semaphores take it. */
static struct timespec deadline_after(clockid_t clock, uint64_t usec) {
	struct timespec t;

	(void)clock_gettime(clock, &t); /* cannot fail for CLOCK_REALTIME or CLOCK_MONOTONIC */
	t.tv_sec += (time_t)(usec / USEC_PER_SEC);
	t.tv_nsec += (long)(usec % USEC_PER_SEC) * 1000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

void worker_notify_server(struct worker *w) {
	/* An eventfd write only fails on counter overflow, which needs 2^64 - 1 wakes unread. */
	(void)!write(w->server_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

void worker_link(struct worker *w, struct conn *c) {
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	if (c->kind != CONN_DGRAM)
		w->n_conns++;
}

/* Out of the list only: a moved connection is not finished. */
static void worker_list_remove(struct worker *w, struct conn *c) {
	if (c->prev)
		c->prev->next = c->next;
	else if (w->conns == c)
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->kind != CONN_DGRAM)
		w->n_conns--;
}

void worker_unlink(struct worker *w, struct conn *c) {
	worker_list_remove(w, c);
	if (c->kind != CONN_DGRAM)
		stats_add(&w->stats.finished, 1);
	if (w->draining && w->n_conns == 0)
		(void)sd_event_exit(w->event, 0); /* only fails if the loop already ends */
}

int worker_ensure_scratch(struct worker *w, size_t size) {
	char *p;

	if (size <= w->scratch_size)
		return 0;
	/* Grows only: a reload to a smaller buffer_size leaves older connections bigger ones. */
	p = realloc(w->scratch, size);
	if (!p)
		return -ENOMEM;
	w->scratch = p;
	w->scratch_size = size;
	return 0;
}

static void worker_close_all(struct worker *w, bool datagrams_only) {
	struct conn *c = w->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (!datagrams_only || c->kind == CONN_DGRAM)
			conn_close(c, CLOSE_SHUTDOWN);
	}
}

static int worker_on_sweep(sd_event_source *s, uint64_t usec, void *userdata) {
	struct worker *w = userdata;
	struct conn *c = w->conns, *next;
	uint64_t now;

	/* usec is when the timer was due, which can be before connections last saw traffic in
	 * this same iteration: compare against the loop's own "now", the clock they used. */
	if (sd_event_now(w->event, CLOCK_MONOTONIC, &now) < 0)
		now = usec;
	for (; c; c = next) {
		next = c->next;
		conn_check_timeouts(c, now);
	}
	return sd_event_source_set_time(s, usec + SWEEP_INTERVAL_USEC);
}

static int worker_on_drain_timeout(sd_event_source *s _unused_, uint64_t now _unused_,
				   void *userdata) {
	struct worker *w = userdata;

	worker_close_all(w, false);
	return sd_event_exit(w->event, 0);
}

#define PRESERVE_BATCH 128

static void worker_store_batch(struct conn **batch, size_t n) {
	int fds[PRESERVE_BATCH] = { 0 };
	int r;

	for (size_t i = 0; i < n; i++)
		fds[i] = batch[i]->fd;
	r = fdstore_save(fds, n);
	if (r < 0)
		log_warning_errno(
			r, "Failed to hand %zu connections to the fd store, closing them: %m", n);
	for (size_t i = 0; i < n; i++)
		conn_close(batch[i], r < 0 ? CLOSE_SHUTDOWN : CLOSE_PRESERVED);
}

/* Most connections hold no echo at this moment: those go to the fd store in batches, the
 * others one by one once their echo is out (conn_preserve). */
static void worker_preserve_all(struct worker *w) {
	struct conn *batch[PRESERVE_BATCH], *c = w->conns, *next;
	size_t n = 0;

	for (; c; c = next) {
		next = c->next; /* closing earlier ones below leaves this link alone */
		if (c->kind == CONN_DGRAM)
			continue;
		if (c->pending || c->read_eof) {
			conn_preserve(c);
			continue;
		}
		c->preserving = true;
		batch[n++] = c;
		if (n == PRESERVE_BATCH) {
			worker_store_batch(batch, n);
			n = 0;
		}
	}
	if (n > 0)
		worker_store_batch(batch, n);
}

static int worker_start_drain(struct worker *w) {
	int r;

	w->draining = true;
	worker_close_all(w, true); /* datagram sockets: stop receiving now */
	if (atomic_load(&w->preserve))
		worker_preserve_all(w);
	if (w->n_conns == 0)
		return sd_event_exit(w->event, 0);
	r = sd_event_add_time_relative(w->event, &w->drain_timer, CLOCK_MONOTONIC,
				       atomic_load(&w->drain_timeout_usec), USEC_PER_MSEC,
				       worker_on_drain_timeout, w);
	if (r < 0) {
		worker_close_all(w, false);
		return sd_event_exit(w->event, 0);
	}
	return 0;
}

/* Takes the inbox in one swap, then serves each connection in the order it was accepted. */
static int worker_on_inbox(sd_event_source *s _unused_, int fd, uint32_t revents _unused_,
			   void *userdata) {
	struct worker *w = userdata;
	struct conn *list, *rev = NULL, *next;
	struct ipcd_config *config;
	uint64_t v;
	bool drain;

	/* Nothing to lose: the counter only says "look", the list says what. */
	(void)!read(fd, &v, sizeof(v));
	pthread_mutex_lock(&w->inbox_lock);
	list = w->inbox;
	w->inbox = NULL;
	config = w->inbox_config;
	w->inbox_config = NULL;
	/* From here on no worker moves a connection in: this list is the last of them, and is
	 * attached before the drain starts, so they drain or go to the fd store with the rest. */
	drain = atomic_load(&w->drain_requested); /* a later request writes the eventfd again */
	if (drain)
		w->inbox_closed = true;
	pthread_mutex_unlock(&w->inbox_lock);

	if (config) {
		for (struct conn *c = w->conns; c; c = c->next)
			if (c->kind == CONN_DGRAM)
				conn_set_config(c, config);
		conf_unref(config);
	}

	for (; list; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (; rev; rev = next) {
		next = rev->next;
		conn_attach(rev, w);
	}
	if (drain && !w->draining)
		return worker_start_drain(w);
	balance_wake(w);
	return 0;
}

#define LOOP_RETRY_NSEC (10 * 1000 * 1000)
#define LOOP_RETRIES_MAX 100 /* a second of failing at once: the memory is not coming back */

int worker_run_loop(sd_event *e, struct poller *p, const char *name) {
	unsigned retries = 0;

	for (;;) {
		uint64_t start = now_usec();
		int r = p ? poller_run(p) : sd_event_loop(e);

		/* A failed sd_event_wait() leaves the loop INITIAL, ready to run again; an exit
		 * leaves it FINISHED. */
		if (r != -ENOMEM || sd_event_get_state(e) != SD_EVENT_INITIAL)
			return r;
		if (now_usec() - start >= USEC_PER_SEC)
			retries = 0; /* it ran a while since the last failure: a new shortage */
		if (retries++ >= LOOP_RETRIES_MAX)
			return r;
		if (retries == 1)
			log_warning_errno(r, "%s event loop ran out of memory, retrying: %m", name);
		(void)nanosleep(&(struct timespec){ .tv_nsec = LOOP_RETRY_NSEC }, NULL);
	}
}

static void *worker_main(void *userdata) {
	struct worker *w = userdata;
	int r;

	balance_thread_start(w);
	sem_post(&w->started); /* cannot overflow: posted once */
	r = worker_run_loop(w->event, w->poller, "Worker");
	if (r < 0)
		log_error_errno(r, "Worker %u event loop failed: %m", w->index);
	pthread_mutex_lock(&w->inbox_lock);
	w->inbox_closed = true; /* what another worker moved in since is closed by worker_free */
	pthread_mutex_unlock(&w->inbox_lock);
	worker_close_all(w, false);
	atomic_store(&w->exited, true);
	worker_notify_server(w);
	return NULL;
}

static struct worker *worker_free(struct worker *w) {
	struct conn *c, *next;

	if (!w)
		return NULL;
	/* Only reached when the thread has ended or never started: nothing else touches w. */
	for (c = w->inbox; c; c = next) {
		next = c->next;
		if (c->admitted)
			admit_release(w->admit, &c->peer);
		conn_free(c);
	}
	worker_close_all(w, false);
	conf_unref(w->inbox_config);
	sd_event_source_disable_unref(w->sweep_timer);
	sd_event_source_disable_unref(w->drain_timer);
	sd_event_source_disable_unref(w->balance_timer);
	sd_event_source_disable_unref(w->inbox_source);
	poller_free(w->poller);
	sd_event_unref(w->event);
	safe_close(w->inbox_fd);
	safe_close(w->schedstat_fd);
	pthread_mutex_destroy(&w->inbox_lock);
	sem_destroy(&w->started);
	free(w->scratch);
	free(w);
	return NULL;
}

static int worker_new(unsigned index, struct admit *admit, int server_fd, struct worker **peers,
		      size_t n_peers, struct worker **ret) {
	struct worker *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->index = index;
	w->peers = peers; /* filled in before any worker runs */
	w->n_peers = n_peers;
	w->admit = admit;
	w->server_fd = server_fd;
	w->inbox_fd = -EBADF;
	w->schedstat_fd = -EBADF;
	pthread_mutex_init(&w->inbox_lock, NULL);
	sem_init(&w->started, 0, 0); /* cannot fail: not shared, and 0 is below SEM_VALUE_MAX */

	r = sd_event_new(&w->event);
	if (r < 0)
		goto fail;
	r = poller_new(w->event, &w->poller);
	if (r < 0)
		goto fail;
	w->inbox_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->inbox_fd < 0) {
		r = negative_errno();
		goto fail;
	}
	r = sd_event_add_io(w->event, &w->inbox_source, w->inbox_fd, EPOLLIN, worker_on_inbox, w);
	if (r < 0)
		goto fail;
	r = sd_event_add_time_relative(w->event, &w->sweep_timer, CLOCK_MONOTONIC,
				       SWEEP_INTERVAL_USEC, USEC_PER_SEC / 10, worker_on_sweep, w);
	if (r < 0)
		goto fail;
	r = sd_event_source_set_enabled(w->sweep_timer, SD_EVENT_ON);
	if (r < 0)
		goto fail;
	r = balance_init(w);
	if (r < 0)
		goto fail;
	*ret = w;
	return 0;
fail:
	worker_free(w);
	return r;
}

/* Waits, for at most START_TIMEOUT_USEC in all, until every worker has opened what it measures
 * itself with (balance_thread_start): after start-up, and so after READY=1, the set of open fds
 * stays what it is until connections come. A worker later than that only opens it late. */
static void worker_pool_await_started(struct worker_pool *p) {
	struct timespec deadline = deadline_after(CLOCK_MONOTONIC, START_TIMEOUT_USEC);

	for (size_t i = 0; i < p->n; i++)
		while (sem_clockwait(&p->workers[i]->started, CLOCK_MONOTONIC, &deadline) < 0)
			if (errno != EINTR) {
				log_debug_errno(-errno, "Worker %zu is slow to start: %m", i);
				return;
			}
}

int worker_pool_start(size_t n, struct admit *admit, int server_fd, struct worker_pool *ret) {
	struct worker_pool p = { .n = 0 };
	int r;

	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	p.workers = calloc(n, sizeof(*p.workers));
	if (!p.workers)
		return -ENOMEM;
	/* Every worker exists before any runs: a running one may move connections to any. */
	for (size_t i = 0; i < n; i++) {
		r = worker_new((unsigned)i, admit, server_fd, p.workers, n, &p.workers[i]);
		if (r < 0)
			goto fail;
		p.n++;
	}
	for (size_t i = 0; i < n; i++) {
		/* Signals stay blocked in workers: the main thread's mask is inherited. */
		/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): worker_new() set it */
		r = -pthread_create(&p.workers[i]->thread, NULL, worker_main, p.workers[i]);
		if (r < 0)
			goto fail;
		p.workers[i]->thread_started = true;
	}
	worker_pool_await_started(&p);
	*ret = p;
	return 0;
fail:
	worker_pool_drain(&p, 0, false);
	(void)worker_pool_stop(&p, 5 * USEC_PER_SEC);
	return r;
}

uint64_t worker_load(const struct worker *w) {
	/* moved_in is added before the connections reach w's inbox and finished after they
	 * leave it, but read in another order here: never let a glimpse go below zero. */
	uint64_t in = w->assigned + atomic_load(&w->moved_in);
	uint64_t out = stats_get(&w->stats.moved) + stats_get(&w->stats.finished);
	return in > out ? in - out : 0;
}

/* Takes up to max of w's stream and seqpacket connections off its poller and list: the
 * returned list (its last one in *ret_tail) belongs to no worker. */
static size_t worker_take(struct worker *w, size_t max, struct conn **ret_head,
			  struct conn **ret_tail) {
	struct conn *c, *prev, *head = NULL, *tail = NULL;
	size_t n = 0;

	/* Oldest first, from the list's end: the order does not matter to speed, and a fixed one
	 * lets a test know which connections a spread hands over. */
	for (c = w->conns; c && c->next; c = c->next)
		;
	for (; c && n < max; c = prev) {
		prev = c->prev;
		/* Between events, so nothing is half done; one on its way to the fd store stays
		 * (there is none unless draining, and a draining worker moves nothing). */
		if (c->kind == CONN_DGRAM || c->preserving)
			continue;
		poller_remove(w->poller, c->fd);
		c->events = 0;
		worker_list_remove(w, c);
		c->worker = NULL; /* its pending echo, if any, goes with it */
		c->next = head;
		head = c;
		if (!tail)
			tail = c;
		n++;
	}
	*ret_head = head;
	*ret_tail = tail;
	return n;
}

size_t worker_move(struct worker *w, struct worker *to, size_t max) {
	struct conn *head, *tail, *next;
	size_t n;
	bool closed;

	if (to == w || w->draining || atomic_load(&w->drain_requested))
		return 0; /* a drain takes what w holds where it is */
	n = worker_take(w, max, &head, &tail);
	if (n == 0)
		return 0;
	/* The lock covers only the splice, so the accepting thread never waits on our syscalls. */
	pthread_mutex_lock(&to->inbox_lock);
	closed = to->inbox_closed;
	if (!closed) {
		tail->next = to->inbox;
		to->inbox = head;
		atomic_fetch_add(&to->moved_in, n);
	}
	pthread_mutex_unlock(&to->inbox_lock);
	if (closed) {
		/* to began to drain or ended since the pick (ipcd is stopping): they stay. */
		for (; head; head = next) {
			next = head->next;
			conn_attach(head, w);
		}
		return 0;
	}
	stats_add(&w->stats.moved, n);
	(void)!write(to->inbox_fd, &(uint64_t){ 1 }, sizeof(uint64_t)); /* see notify_server */
	return n;
}

void worker_pool_submit(struct worker_pool *p, struct conn *c) {
	struct worker *best = balance_pick(p->workers, p->n);

	if (c->kind != CONN_DGRAM)
		best->assigned++;
	pthread_mutex_lock(&best->inbox_lock);
	c->next = best->inbox;
	best->inbox = c;
	pthread_mutex_unlock(&best->inbox_lock);
	(void)!write(best->inbox_fd, &(uint64_t){ 1 }, sizeof(uint64_t)); /* see notify_server */
}

void worker_pool_drain(struct worker_pool *p, uint64_t timeout_usec, bool preserve) {
	for (size_t i = 0; i < p->n; i++) {
		struct worker *w = p->workers[i];
		atomic_store(&w->drain_timeout_usec, timeout_usec);
		atomic_store(&w->preserve, preserve);
		atomic_store(&w->drain_requested, true);
		(void)!write(w->inbox_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
	}
}

void worker_pool_set_config(struct worker_pool *p, struct ipcd_config *c) {
	for (size_t i = 0; i < p->n; i++) {
		struct worker *w = p->workers[i];
		struct ipcd_config *old;

		pthread_mutex_lock(&w->inbox_lock);
		old = w->inbox_config; /* never taken: a newer reload replaces it */
		w->inbox_config = conf_ref(c);
		pthread_mutex_unlock(&w->inbox_lock);
		conf_unref(old);
		(void)!write(w->inbox_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
	}
}

uint64_t worker_pool_last_datagram(struct worker_pool *p) {
	uint64_t last = 0;
	for (size_t i = 0; i < p->n; i++)
		last = MAX(last, stats_get(&p->workers[i]->stats.last_datagram_usec));
	return last;
}

void worker_pool_totals(const struct worker_pool *p, const struct server_stats *s, uint64_t active,
			struct stats_totals *ret) {
	const struct worker_stats *ws[p->n ? p->n : 1];

	for (size_t i = 0; i < p->n; i++)
		ws[i] = &p->workers[i]->stats;
	stats_sum(s, ws, p->n, active, ret);
}

bool worker_pool_all_exited(struct worker_pool *p) {
	for (size_t i = 0; i < p->n; i++)
		if (p->workers[i]->thread_started && !atomic_load(&p->workers[i]->exited))
			return false;
	return true;
}

int worker_pool_stop(struct worker_pool *p, uint64_t timeout_usec) {
	struct timespec deadline = deadline_after(CLOCK_REALTIME, timeout_usec);
	int ret = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct worker *w = p->workers[i];
		if (w->thread_started && pthread_timedjoin_np(w->thread, NULL, &deadline) != 0)
			ret = -ETIMEDOUT;
		else
			w->thread_started = false; /* joined */
	}
	if (ret < 0)
		/* One still runs and may read or move into any other: all memory stays. */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): left to a thread that still runs */
		return ret;
	for (size_t i = 0; i < p->n; i++)
		worker_free(p->workers[i]);
	free(p->workers);
	*p = (struct worker_pool){ NULL, 0 };
	return ret;
}
