/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/*
 * CPU time, the client's and the server's: this thread's from the kernel's clock, a process's
 * from /proc. A unix socket's peer credentials name the server; that it still holds the
 * connection's other end (sock_diag, then /proc/PID/fd) says whether the named process is the
 * one doing the work, not a parent that forked it or the service manager that made the socket.
 */

/* CPU time this thread has used, in ns (CLOCK_THREAD_CPUTIME_ID). */
uint64_t cpu_thread_nsec(void);

/* The pid of the process at the other end of a connected socket, from SO_PEERCRED: -EAFNOSUPPORT
 * when fd is not a unix socket, -ESRCH when the kernel names none (datagrams carry no
 * credentials; a peer in another pid namespace shows as 0). */
int cpu_peer_pid(int fd, pid_t *ret);

/* 1 when pid has the other end of the connected unix socket fd among its open files, 0 when it
 * does not, negative errno when that cannot be found out. */
int cpu_peer_held_by(int fd, pid_t pid);

/* A process's CPU time at one moment: the sum of its threads' /proc/PID/task/TID/schedstat (ns on
 * a CPU), with its start time from /proc/PID/stat to tell a restarted server from the same one. */
struct cpu_sample {
	uint64_t cpu_nsec;
	uint64_t at_nsec;    /* CLOCK_MONOTONIC when read */
	uint64_t start_time; /* /proc/PID/stat field 22, in clock ticks after boot */
};
int cpu_process_sample(pid_t pid, struct cpu_sample *ret);
