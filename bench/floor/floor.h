/* SPDX-License-Identifier: MIT */
/* What every floor server and its experimental variants share, so that only the echo
 * technique differs between them: the socket at PATH and the signal handling. Each program
 * is one translation unit, so these are static. */
#pragma once

#include <errno.h>
#include <signal.h>
#include <string.h>
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
