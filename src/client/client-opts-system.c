/* SPDX-License-Identifier: MIT */
/*
 * What the option checks ask of this machine: the CPUs this process may use, the largest unix
 * message, the datagram queue. Read when the options are, so a bad combination is refused
 * before anything is opened.
 * Pure: no logging, no event loop; it reads its own socket's options and /proc/sys.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client-opts-internal.h"
#include "macro.h"
#include "parse.h"

unsigned client_opts_cpu_count(void) {
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* The largest message an AF_UNIX seqpacket or datagram socket can send here: the kernel
 * refuses anything over the send buffer less a small overhead with EMSGSIZE. */
uint64_t client_opts_max_message(int type) {
	_cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	int sndbuf = 0;
	socklen_t len = sizeof(sndbuf);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0 || sndbuf <= 32)
		return UINT64_MAX; /* cannot tell: let the kernel say it at run time */
	return (uint64_t)sndbuf - 32;
}

/* net.unix.max_dgram_qlen: datagrams a unix socket queues before its sender must wait. */
uint64_t client_opts_max_dgram_queue(void) {
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "re");
	char line[32];
	uint64_t n;

	if (!f || !fgets(line, sizeof(line), f))
		return UINT64_MAX;
	line[strcspn(line, "\n")] = '\0';
	if (parse_uint64(line, &n) < 0 || n == 0)
		return UINT64_MAX;
	return n;
}
