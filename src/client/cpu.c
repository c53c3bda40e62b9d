/* SPDX-License-Identifier: MIT */
/* CPU time for the report: the driver's threads' own, and the server's read from /proc, with the
 * checks that the process read is the server (peer credentials, the connection's other end in
 * its open files). No logging: every failure is an errno for the report to word. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "macro.h"
#include "parse.h"
#include "sockaddr.h"

static void closedirp(DIR **d) {
	if (*d)
		closedir(*d);
}

uint64_t cpu_thread_nsec(void) {
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0; /* only with a clock the kernel lacks */
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int cpu_peer_pid(int fd, pid_t *ret) {
	struct ucred cred;
	socklen_t len = sizeof(int);
	int domain;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return negative_errno();
	if (domain != AF_UNIX)
		return -EAFNOSUPPORT;
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return negative_errno();
	if (cred.pid <= 0)
		return -ESRCH;
	*ret = cred.pid;
	return 0;
}

/* A sock_diag request's header, and room for the one message of its answer. */
#define DIAG_HEADER(req)                                                                           \
	{                                                                                          \
		.nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,                       \
		.nlmsg_flags = NLM_F_REQUEST                                                       \
	}
union diag_answer {
	struct nlmsghdr nlh;
	char buf[1024];
};

/* One sock_diag request and the first message of its answer: -errno for an error answer. */
static int diag_ask(const void *req, size_t len, struct nlmsghdr *resp, size_t resp_len) {
	_cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	const struct nlmsghdr *h = resp;
	ssize_t n;

	if (nl < 0)
		return negative_errno();
	if (send(nl, req, len, 0) < 0)
		return negative_errno();
	n = recv(nl, resp, resp_len, 0);
	if (n < 0)
		return negative_errno();
	if (!NLMSG_OK(h, (size_t)n))
		return -EBADMSG;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);
		return e->error < 0 ? e->error : -EBADMSG;
	}
	return h->nlmsg_type == SOCK_DIAG_BY_FAMILY ? 0 : -EBADMSG;
}

/* The inode of the other end of a connected unix socket, from the kernel's unix_diag. */
static int unix_peer_inode(int fd, uint32_t *ret) {
	struct stat st;
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
		.nlh = DIAG_HEADER(req),
		.r = { .sdiag_family = AF_UNIX,
		       .udiag_states = UINT32_MAX,
		       .udiag_show = UDIAG_SHOW_PEER,
		       .udiag_cookie = { UINT32_MAX, UINT32_MAX } },
	};
	union diag_answer resp = { .buf = { 0 } }; /* recv() fills it; the analyzer cannot see */
	const struct nlmsghdr *h = &resp.nlh;
	int r;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	req.r.udiag_ino = (uint32_t)st.st_ino;
	r = diag_ask(&req, sizeof(req), &resp.nlh, sizeof(resp));
	if (r < 0)
		return r;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));

	for (; RTA_OK(a, left); a = RTA_NEXT(a, left))
		if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= (int)sizeof(uint32_t)) {
			memcpy(ret, RTA_DATA(a), sizeof(uint32_t));
			return 0;
		}
	return -ENOTCONN;
}

/* The inode of the server's end of a TCP connection on this machine: the socket whose local
 * address is our peer's and whose peer is our local address, looked up by inet_diag. */
static int tcp_peer_inode(int fd, int family, uint32_t *ret) {
	struct socket_address local = { .len = sizeof(local.storage) },
			      peer = { .len = sizeof(peer.storage) };
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = DIAG_HEADER(req),
		.r = { .sdiag_family = (uint8_t)family,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = UINT32_MAX,
		       .id = { .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
	};
	union diag_answer resp = { .buf = { 0 } }; /* recv() fills it; the analyzer cannot see */
	const struct nlmsghdr *h = &resp.nlh;
	int r;

	if (getsockname(fd, &local.sa, &local.len) < 0 || getpeername(fd, &peer.sa, &peer.len) < 0)
		return negative_errno();
	if (family == AF_INET) {
		req.r.id.idiag_sport = peer.in.sin_port;
		req.r.id.idiag_dport = local.in.sin_port;
		memcpy(req.r.id.idiag_src, &peer.in.sin_addr, sizeof(peer.in.sin_addr));
		memcpy(req.r.id.idiag_dst, &local.in.sin_addr, sizeof(local.in.sin_addr));
	} else {
		req.r.id.idiag_sport = peer.in6.sin6_port;
		req.r.id.idiag_dport = local.in6.sin6_port;
		memcpy(req.r.id.idiag_src, &peer.in6.sin6_addr, sizeof(peer.in6.sin6_addr));
		memcpy(req.r.id.idiag_dst, &local.in6.sin6_addr, sizeof(local.in6.sin6_addr));
	}
	r = diag_ask(&req, sizeof(req), &resp.nlh, sizeof(resp));
	if (r < 0)
		return r;
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	if (m->idiag_inode == 0)
		return -ENOTCONN; /* a connection closing, held by no file */
	*ret = m->idiag_inode;
	return 0;
}

static int peer_inode(int fd, uint32_t *ret) {
	socklen_t len = sizeof(int);
	int domain;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return negative_errno();
	if (domain == AF_INET || domain == AF_INET6)
		return tcp_peer_inode(fd, domain, ret);
	return unix_peer_inode(fd, ret);
}

int cpu_peer_held_by(int fd, pid_t pid) {
	_cleanup_(closedirp) DIR *dir = NULL;
	char path[64], want[32], link[64];
	struct dirent *de;
	uint32_t ino = 0;
	int r;

	r = peer_inode(fd, &ino);
	if (r < 0)
		return r;
	snprintf(want, sizeof(want), "socket:[%u]", ino);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return negative_errno();
	/* Bounded by the server's open files, which its own limit bounds. readdir() is safe
	 * across threads on a DIR of one's own, which each call makes. */
	/* cppcheck-suppress readdirCalled */
	while ((de = readdir(dir))) {
		ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue; /* ".", "..", or closed since */
		link[n] = '\0';
		if (strcmp(link, want) == 0)
			return 1;
	}
	return 0;
}

/* A small /proc file's text, NUL-terminated. */
static int read_text(int dir_fd, const char *name, char *buf, size_t len) {
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, len - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	return 0;
}

/* The first number in a file of numbers, such as a schedstat line. */
static int read_first_number(int dir_fd, const char *name, uint64_t *ret) {
	char buf[128];
	int r = read_text(dir_fd, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	buf[strcspn(buf, " \n")] = '\0';
	return parse_uint64(buf, ret);
}

/* Field 22 of /proc/PID/stat, counted after the command name, which may hold spaces. */
static int read_start_time(pid_t pid, uint64_t *ret) {
	char path[64], buf[1024], *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = read_text(AT_FDCWD, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	p = strrchr(buf, ')');
	/* Each step finds the space before the next field: ") S" is the one before field 3. */
	for (int field = 3; p && field <= 22; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EBADMSG;
	p++;
	p[strcspn(p, " ")] = '\0';
	return parse_uint64(p, ret);
}

int cpu_process_sample(pid_t pid, struct cpu_sample *ret) {
	_cleanup_(closedirp) DIR *dir = NULL;
	struct cpu_sample s = { .at_nsec = now_nsec() };
	struct dirent *de;
	char path[64];
	int r;

	r = read_start_time(pid, &s.start_time);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return negative_errno();
	/* A thread that ends between the listing and the read is missed, as one that ended
	 * before the listing is: the man page says so. */
	/* cppcheck-suppress readdirCalled */
	while ((de = readdir(dir))) {
		char name[300];
		uint64_t v = 0;

		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%s/schedstat", de->d_name);
		r = read_first_number(dirfd(dir), name, &v);
		if (r == -ENOENT || r == -ESRCH)
			continue;
		if (r < 0)
			return r;
		s.cpu_nsec += v;
	}
	*ret = s;
	return 0;
}
