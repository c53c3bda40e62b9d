/* SPDX-License-Identifier: MIT */
/*
 * The floors' channels, both ends: a socketpair, two pipes, or a shared mapping with a futex
 * each way. Each side of the fd kinds makes the system calls any program must (a write, a
 * read); the shared-memory one makes a wake-up only when the other side has said it sleeps,
 * which is the least a ping-pong that does not spin can do.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "floor-internal.h"
#include "macro.h"

#define CACHELINE 64
#define SHM_WAIT_SLICE_NSEC                                                                        \
	(100 * USEC_PER_MSEC * NSEC_PER_USEC) /* 100 ms: how often a wait looks up */

/* One direction: a sequence number the sender bumps when a chunk is there, and whether the
 * receiver is asleep on it. Each on its own cache line, so the two directions do not share.
 * Plain words under the __atomic builtins (all sequentially consistent): the futex takes a
 * plain uint32_t's address. */
struct shm_way {
	_Alignas(CACHELINE) uint32_t seq;
	uint32_t sleeping;
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

struct floor_shm {
	struct shm_way request, reply;
	_Alignas(CACHELINE) uint32_t stop;
	uint64_t len; /* the request's; written before request.seq, read after it */
	_Alignas(CACHELINE) uint8_t data[]; /* the request chunk, then the reply chunk */
};

static uint8_t *shm_request(struct floor_channel *c) {
	return c->shm->data;
}

static uint8_t *shm_reply(struct floor_channel *c) {
	return c->shm->data + c->chunk;
}

/* Big enough that a whole chunk waits in the pipe while the other side is busy. */
static int pipe_sized(int fds[2], size_t chunk) {
	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	if (chunk > 65536 && fcntl(fds[1], F_SETPIPE_SZ, (int)chunk) < 0) {
		int r = negative_errno();
		safe_close(fds[0]);
		safe_close(fds[1]);
		return r;
	}
	return 0;
}

static int open_fds(struct floor_channel *c) {
	int a[2], b[2], r;

	if (c->kind == FLOOR_SOCKETPAIR) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0)
			return negative_errno();
		c->client_rfd = c->client_wfd = a[0];
		c->echo_rfd = c->echo_wfd = a[1];
		return 0;
	}
	r = pipe_sized(a, c->chunk);
	if (r < 0)
		return r;
	r = pipe_sized(b, c->chunk);
	if (r < 0) {
		safe_close(a[0]);
		safe_close(a[1]);
		return r;
	}
	c->client_wfd = a[1];
	c->echo_rfd = a[0];
	c->echo_wfd = b[1];
	c->client_rfd = b[0];
	return 0;
}

int floor_channel_open(struct floor_channel *c, enum floor_kind kind, size_t chunk) {
	void *m;

	*c = (struct floor_channel){ .kind = kind,
				     .chunk = chunk,
				     .client_rfd = -EBADF,
				     .client_wfd = -EBADF,
				     .echo_rfd = -EBADF,
				     .echo_wfd = -EBADF };
	if (kind != FLOOR_SHM)
		return open_fds(c);
	c->shm_size = sizeof(struct floor_shm) + 2 * chunk;
	/* cppcheck-suppress invalidFunctionArg ; an anonymous mapping takes fd -1 */
	m = mmap(NULL, c->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return negative_errno();
	c->shm = m; /* zero-filled: both sequences at 0, nobody asleep, no stop */
	return 0;
}

void floor_channel_drop_echo_end(struct floor_channel *c) {
	if (c->echo_wfd != c->echo_rfd)
		safe_close(c->echo_wfd);
	c->echo_rfd = safe_close(c->echo_rfd);
	c->echo_wfd = -EBADF;
}

void floor_channel_drop_client_end(struct floor_channel *c) {
	if (c->client_wfd != c->client_rfd)
		safe_close(c->client_wfd);
	c->client_rfd = safe_close(c->client_rfd);
	c->client_wfd = -EBADF;
}

void floor_channel_close(struct floor_channel *c) {
	floor_channel_drop_echo_end(c);
	floor_channel_drop_client_end(c);
	/* Only fails for an address that is not a mapping: this one is. */
	if (c->shm)
		(void)munmap(c->shm, c->shm_size);
	c->shm = NULL;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t len) {
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Across processes: no FUTEX_PRIVATE_FLAG. */
static void futex_wake(uint32_t *word) {
	/* Fails only for a bad address: this one is in the mapping. */
	(void)syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Until way->seq is `want`, sleeping in slices so that stop is seen. Before it sleeps it says
 * so, then looks again: with both sides' accesses sequentially consistent, either the sender
 * sees `sleeping` and wakes it, or this side sees the new sequence and does not sleep. */
static int shm_wait(struct shm_way *way, uint32_t want, const uint32_t *stop_shared,
		    const atomic_bool *stop_local) {
	const struct timespec slice = { .tv_nsec = SHM_WAIT_SLICE_NSEC };

	for (;;) {
		uint32_t seen = LOAD(&way->seq);
		if (seen == want)
			return 0;
		if (LOAD(stop_shared) || (stop_local && atomic_load(stop_local)))
			return -ECANCELED;
		STORE(&way->sleeping, 1);
		if (LOAD(&way->seq) == seen &&
		    syscall(SYS_futex, &way->seq, FUTEX_WAIT, seen, &slice, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) {
			STORE(&way->sleeping, 0);
			return negative_errno();
		}
		STORE(&way->sleeping, 0);
	}
}

static void shm_post(struct shm_way *way, uint32_t seq) {
	STORE(&way->seq, seq);
	if (LOAD(&way->sleeping))
		futex_wake(&way->seq);
}

int floor_channel_round_trip(struct floor_channel *c, const uint8_t *data, size_t len, uint8_t *buf,
			     const uint8_t **ret_data, const atomic_bool *stop) {
	int r;

	if (c->kind != FLOOR_SHM) {
		r = write_all(c->client_wfd, data, len);
		if (r < 0)
			return r == -ECONNRESET ? -EPIPE : r;
		r = read_all(c->client_rfd, buf, len);
		*ret_data = buf;
		return r == -ECONNRESET ? -EPIPE : r;
	}
	memcpy(shm_request(c), data, len);
	c->shm->len = len;
	shm_post(&c->shm->request, ++c->seq);
	r = shm_wait(&c->shm->reply, c->seq, &c->shm->stop, stop);
	*ret_data = shm_reply(c);
	return r;
}

void floor_channel_stop(struct floor_channel *c) {
	if (!c->shm)
		return;
	STORE(&c->shm->stop, 1);
	futex_wake(&c->shm->request.seq);
}

static int echo_shm(struct floor_channel *c) {
	for (uint32_t seq = 1;; seq++) {
		int r = shm_wait(&c->shm->request, seq, &c->shm->stop, NULL);
		if (r == -ECANCELED)
			return 0;
		if (r < 0 || c->shm->len > c->chunk)
			return 1;
		memcpy(shm_reply(c), shm_request(c), c->shm->len);
		shm_post(&c->shm->reply, seq);
	}
}

static int echo_fds(struct floor_channel *c) {
	_cleanup_free_ uint8_t *buf = malloc(c->chunk);

	if (!buf)
		return 1;
	for (;;) {
		ssize_t n = read(c->echo_rfd, buf, c->chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : 1;
		if (write_all(c->echo_wfd, buf, (size_t)n) < 0)
			return 1;
	}
}

int floor_channel_echo(struct floor_channel *c) {
	return c->kind == FLOOR_SHM ? echo_shm(c) : echo_fds(c);
}
