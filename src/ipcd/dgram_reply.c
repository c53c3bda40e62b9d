/* SPDX-License-Identifier: MIT */
/*
 * Where a datagram's echo may go: only to the socket that sent it. The sender's path is opened
 * O_PATH without following any symlink, checked, and the echo is addressed to
 * "/proc/self/fd/N", which the kernel resolves to exactly the inode that was checked: a path
 * swapped after the check cannot redirect it. Receiving, sending and counting stay in conn.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dgram_reply.h"
#include "macro.h"

/* A path names, for ipcd, the file the sender bound only if it is absolute (a relative one is
 * relative to the sender's working directory, not ours) and has no ".." (a directory on the
 * way, moved while we look it up, takes ".." elsewhere: RESOLVE_NO_SYMLINKS does not stop
 * that). */
static bool path_is_plain(const char *p) {
	if (p[0] != '/')
		return false;
	for (const char *c = p; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return false;
	return true;
}

/* Where openat2() is missing (kernels before 5.6, valgrind, a seccomp filter): the same
 * refusal of every symlink, one component at a time. Each directory is opened O_NOFOLLOW
 * relative to the one before, so none can be swapped between steps; the last component is
 * opened O_PATH|O_NOFOLLOW, which gives the symlink itself if it is one, and fstat() says
 * so. path is absolute (path_is_plain), so it starts at "/". */
static int open_no_symlinks_walk(const char *path) {
	_cleanup_close_ int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char buf[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 1], *name, *save = NULL;
	size_t len = strlen(path);

	if (dir < 0)
		return -errno;
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	name = strtok_r(buf, "/", &save);
	while (name) {
		char *next = strtok_r(NULL, "/", &save);
		int fd = openat(dir, name,
				O_PATH | O_NOFOLLOW | O_CLOEXEC | (next ? O_DIRECTORY : 0));
		if (fd < 0) {
			struct stat st;
			int r = -errno;
			/* A symlinked directory fails as ENOTDIR here: say what openat2 says. */
			if (r == -ENOTDIR && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				r = -ELOOP;
			return r;
		}
		safe_close(dir);
		dir = fd;
		name = next;
	}
	return TAKE_FD(dir);
}

/* An O_PATH fd on the socket at path, and its owner. */
static int socket_open(const char *path, int *ret_fd, uid_t *ret_owner) {
	/* RESOLVE_NO_SYMLINKS refuses a symlink in any component, the last one included (no
	 * O_NOFOLLOW: with O_PATH that would open the symlink itself instead of failing). */
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	/* glibc 2.36 has no wrapper. Opening O_PATH is never refused with EPERM by the file
	 * system: EPERM is a seccomp filter's answer (systemd's SystemCallErrorNumber=), so it
	 * means unavailable, as ENOSYS does. */
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = open_no_symlinks_walk(path);
	if (fd < 0)
		return fd == -1 ? -errno : fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) /* only from the walk, which opens a last symlink itself */
		return -ELOOP;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	/* bind() makes a socket file with one name. A second one is a hard link someone made
	 * to it: the owner check cannot catch that without credentials (and with
	 * fs.protected_hardlinks=0 anyone may link anyone's socket). */
	if (st.st_nlink != 1)
		return -EMLINK;
	*ret_owner = st.st_uid;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Opens from's path into f: f->fd is the fd or why there is none. */
static void file_open(struct dgram_reply_file *f, const struct sockaddr_un *from,
		      socklen_t from_len) {
	size_t len = from_len - offsetof(struct sockaddr_un, sun_path);
	char path[sizeof(from->sun_path) + 1]; /* a 108-byte sun_path has no NUL */
	int r;

	memcpy(path, from->sun_path, len);
	path[len] = '\0';
	*f = (struct dgram_reply_file){ .from = from, .from_len = from_len, .fd = -EINVAL };
	if (!path_is_plain(path))
		return;
	r = socket_open(path, &f->fd, &f->owner);
	if (r < 0) {
		f->fd = r;
		return;
	}
	/*
	 * The kernel follows this magic link to the very inode opened above. It works from every
	 * thread (the fd table is the process's, and the main thread, whose pid /proc/self names,
	 * outlives the workers) and under ProtectProc=invisible and ProcSubset=pid: those hide
	 * other users' processes and /proc's non-process files, never the caller's own
	 * /proc/self, and following our own fd links needs no privilege. Without /proc the send
	 * fails and the datagram is dropped, never sent elsewhere.
	 */
	f->name_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				  (size_t)snprintf(f->name.sun_path, sizeof(f->name.sun_path),
						   "/proc/self/fd/%i", f->fd) +
				  1);
	f->name.sun_family = AF_UNIX;
}

static struct dgram_reply_file *reply_find(struct dgram_reply *r, const struct sockaddr_un *from,
					   socklen_t from_len) {
	size_t len = from_len - offsetof(struct sockaddr_un, sun_path);

	for (unsigned i = 0; i < r->n; i++)
		if (r->files[i].from_len == from_len &&
		    memcmp(r->files[i].from->sun_path, from->sun_path, len) == 0)
			return &r->files[i];
	return NULL;
}

int dgram_reply_address(struct dgram_reply *r, struct sockaddr_un *from, socklen_t from_len,
			const struct peer *sender, struct sockaddr_un **ret_name,
			socklen_t *ret_len) {
	struct dgram_reply_file *f;

	if (from_len > sizeof(*from))
		return -EINVAL;
	/* An abstract name has no file, so no link, owner or directory to swap. */
	if (from->sun_path[0] == '\0') {
		*ret_name = from;
		*ret_len = from_len;
		return 0;
	}
	/* Datagrams of one sender in one batch share a lookup: the cost is per path, not per
	 * datagram, and the owner is still checked against each datagram's sender. */
	f = reply_find(r, from, from_len);
	if (!f) {
		if (r->n == DGRAM_REPLY_MAX)
			return -ENOBUFS;
		f = &r->files[r->n++];
		file_open(f, from, from_len);
	}
	if (f->fd < 0)
		return f->fd;
	/* Without credentials (a datagram queued before ipcd asked for them, which anyone can
	 * arrange by sending the one that starts ipcd) the owner is unknown, and the path checks
	 * above must hold alone. uid 0 may be answered at any socket: root can write to any
	 * socket itself, ipcd's echo gives it nothing more. */
	if (sender->has_creds && sender->uid != 0 && sender->uid != f->owner)
		return -EPERM;
	*ret_name = &f->name;
	*ret_len = f->name_len;
	return 0;
}

const char *dgram_reply_refusal_to_string(int r) {
	switch (r) {
		case -EINVAL:
			return "is relative or has a '..' component";
		case -ELOOP:
			return "leads through a symbolic link";
		case -ENOTSOCK:
			return "is not a socket";
		case -EMLINK:
			return "is a socket file with a hard link";
		case -EPERM:
			return "is a socket file the sender does not own";
		default:
			return NULL;
	}
}

void dgram_reply_done(struct dgram_reply *r) {
	for (unsigned i = 0; i < r->n; i++)
		safe_close(r->files[i].fd);
	r->n = 0;
}
