/* SPDX-License-Identifier: MIT */
/* What every floor server and its experimental variants share, so that only the echo
 * technique differs between them: the socket at PATH, the signal handling, and for the
 * epoll-driven ones the start and the wait. Each program is one translation unit, so these
 * are static. */
#pragma once

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

__attribute__((unused)) static void floor_on_signal(int sig) {
	(void) sig;
	stop = 1;
}

/* A unix socket of type (SOCK_STREAM, SOCK_DGRAM, with SOCK_NONBLOCK if wanted) bound at
 * path, replacing whatever was there, listening unless it is a datagram socket. */
__attribute__((unused)) static int floor_socket(const char *path, int type) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
	    ((type & ~SOCK_NONBLOCK) != SOCK_DGRAM && listen(fd, SOMAXCONN) < 0)) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* SIGTERM and SIGINT set 'stop'. They stay blocked except inside the wait that is given
 * *waitmask (epoll_pwait), so one arriving between the check of 'stop' and the wait cannot
 * be lost. SIGPIPE is ignored: a peer that left is an error on its connection alone. */
__attribute__((unused)) static void floor_signals(sigset_t *waitmask) {
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	struct sigaction sa = { .sa_handler = floor_on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The start of every epoll-driven program here: one argument, the socket's path; signals
 * as floor_signals() sets them; the socket of type at that path; an epoll set holding it
 * with data.ptr NULL. Returns the epoll fd and the socket in *sock; exits on failure. */
__attribute__((unused)) static int floor_start(int argc, char **argv, int type, int *sock,
					       sigset_t *waitmask) {
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH\n", program_invocation_short_name);
		exit(2);
	}
	floor_signals(waitmask);
	*sock = floor_socket(argv[1], type);
	if (*sock < 0) {
		errno = -*sock;
		err(1, "cannot use '%s'", argv[1]);
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, *sock, &ev) < 0)
		err(1, "epoll");
	return ep;
}

/* One wait with SIGTERM and SIGINT let in: the number of events, 0 when a signal cut it
 * short (the caller's loop then sees 'stop'). Exits on any other failure. */
__attribute__((unused)) static int floor_wait(int ep, struct epoll_event *evs, int max,
					      const sigset_t *waitmask) {
	int n = epoll_pwait(ep, evs, max, -1, waitmask);
	if (n < 0 && errno != EINTR)
		err(1, "epoll_pwait");
	return n < 0 ? 0 : n;
}
