/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every module: scope-bound cleanup, ownership transfer, the clock
 * and fd closing. Nothing here allocates or logs.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _fallthrough_ __attribute__((fallthrough))

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_SEC UINT64_C(1000000000)
#define NSEC_PER_USEC UINT64_C(1000)

/* CLOCK_MONOTONIC, the clock every timeout, limit and latency here is measured on. It cannot
 * fail with a valid clock id and pointer. */
static inline uint64_t now_nsec(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now_usec(void) {
	return now_nsec() / NSEC_PER_USEC;
}

/* CLOCK_REALTIME, for what is shown as a date (Unix time), never for measuring. */
static inline uint64_t realtime_usec(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Hand a pointer or fd on to a new owner, leaving the cleanup variable empty. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -EBADF;                                                                     \
		_fd;                                                                               \
	})

/* Close and return -EBADF, so that "fd = safe_close(fd);" closes and clears. errno is kept:
 * callers often close on an error path and still want to report the original error. */
static inline int safe_close(int fd) {
	if (fd >= 0) {
		int saved = errno;
		/* Linux always frees the fd, even when close() reports EINTR or EIO. */
		(void)close(fd);
		errno = saved;
	}
	return -EBADF;
}

static inline void freep(void *p) {
	free(*(void **)p);
}
static inline void closep(int *fd) {
	safe_close(*fd);
}
static inline void fclosep(FILE **f) {
	if (*f)
		(void)fclose(*f); /* read-only streams: nothing to lose */
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* errno of a failed libc call as a negative number; never 0, so callers can rely on r < 0. */
static inline int negative_errno(void) {
	return errno > 0 ? -errno : -EIO;
}
