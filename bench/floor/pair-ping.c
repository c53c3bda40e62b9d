/* SPDX-License-Identifier: MIT */
/* pair-ping: the latency floor for one connection. Two processes on a socketpair do
 * blocking 1-byte ping-pong; the parent times each round trip. No event loop, no
 * server, no histogram: what the kernel and the scheduler cost, and nothing else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 200

static int fail(const char *what) {
	fprintf(stderr, "pair-ping: %s: %s\n", what, strerror(errno));
	return 1;
}

static unsigned long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int cmp_ull(const void *a, const void *b) {
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
	return x < y ? -1 : x > y;
}

/* The echoing side: returns when the parent closes its end. */
static void echo_child(int fd) {
	char c;
	for (;;) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write(fd, &c, 1) != 1)
			_exit(n == 0 ? 0 : 1);
	}
}

static int round_trip(int fd) {
	char c = 'x';
	if (write(fd, &c, 1) != 1)
		return -1;
	return read(fd, &c, 1) == 1 ? 0 : -1;
}

int main(int argc, char **argv) {
	int sv[2], status;
	char *end;
	unsigned long n;

	if (argc != 2 || (n = strtoul(argv[1], &end, 10)) == 0 || *end || n > 100000000) {
		fprintf(stderr, "usage: pair-ping ROUND_TRIPS\n");
		return 2;
	}
	unsigned long long *t = malloc(n * sizeof(*t));
	if (!t)
		return fail("malloc");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("socketpair");

	pid_t pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		close(sv[0]);
		echo_child(sv[1]);
	}
	close(sv[1]);

	for (int i = 0; i < WARMUP; i++)
		if (round_trip(sv[0]) < 0)
			return fail("warm-up");
	for (unsigned long i = 0; i < n; i++) {
		unsigned long long t0 = now_ns();
		if (round_trip(sv[0]) < 0)
			return fail("round trip");
		t[i] = now_ns() - t0;
	}
	close(sv[0]);
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid");

	qsort(t, n, sizeof(*t), cmp_ull);
	printf("round_trips=%lu p50_us=%.2f p99_us=%.2f\n", n, t[n / 2] / 1000.0,
	       t[(n * 99) / 100] / 1000.0);
	free(t);
	return 0;
}
