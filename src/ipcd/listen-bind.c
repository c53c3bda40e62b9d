/* SPDX-License-Identifier: MIT */
/*
 * Binding a socket ourselves: for a unix socket of any type, the file's mode set as bind()
 * creates it, a stale socket told from a live one and removed, the last directory made if
 * missing. TCP is bound in listen-tcp.c.
 */
#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "conf.h"
#include "listen-internal.h"
#include "log.h"
#include "macro.h"
#include "sockaddr.h"

/* Is someone there? Used when bind() says the address is taken, probing with the type we
 * would bind: 1 when a socket of that type accepts (or its backlog is full), or is a bound
 * datagram socket (connect() to one succeeds, or is EPERM when it is connected elsewhere), 2
 * when a socket of another type is bound, 0 when nobody is (ECONNREFUSED: a stale file). */
static int socket_is_live(const struct unix_address *a, int type) {
	_cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return negative_errno();
	if (connect(fd, (const struct sockaddr *)&a->sun, a->len) == 0 || errno == EAGAIN ||
	    (type == SOCK_DGRAM && errno == EPERM))
		return 1;
	if (errno == EPROTOTYPE)
		return 2;
	if (errno == ECONNREFUSED || errno == ENOENT)
		return 0;
	return negative_errno();
}

/*
 * bind() with the socket file's mode fixed as the kernel creates it, from the umask. A chmod()
 * of the path afterwards would follow whatever a local user had put there meanwhile (a
 * symlink to /etc/shadow, say) and change that file's mode, as root. The umask is
 * process-wide; setting it here is safe because ipcd binds only in listeners_open(), which
 * runs once, before the workers start and before the event loop exists: there is one thread,
 * and nothing else creates a file meanwhile. Linux's unix_bind() applies the umask itself,
 * even under a default ACL, which can then only take bits away.
 */
static int bind_with_mode(int fd, const struct unix_address *a, mode_t mode) {
	mode_t old = umask(~mode & 0777);
	int r = bind(fd, (const struct sockaddr *)&a->sun, a->len) < 0 ? negative_errno() : 0;

	(void)umask(old);
	return r;
}

static int bind_path(int fd, int type, const struct unix_address *a, const char *spec,
		     mode_t mode) {
	struct stat st;
	int r;

	if (!unix_address_is_abstract(a) && lstat(a->sun.sun_path, &st) == 0 &&
	    !S_ISSOCK(st.st_mode))
		return log_error_errno(-EEXIST, "'%s' exists and is not a socket, not removing it",
				       spec);
	r = bind_with_mode(fd, a, mode);
	if (r == -ENOENT && !unix_address_is_abstract(a)) {
		/* Only the last directory: deeper trees are the administrator's to make. Outside
		 * bind_with_mode(): the directory gets 0755 under ipcd's own umask. */
		char buf[sizeof(a->sun.sun_path)];
		const char *dir;
		memcpy(buf, a->sun.sun_path, sizeof(buf));
		dir = dirname(buf);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return log_error_errno(negative_errno(),
					       "Failed to create directory '%s' for '%s': %m", dir,
					       spec);
		r = bind_with_mode(fd, a, mode);
	}
	if (r >= 0)
		return 0;
	if (r != -EADDRINUSE)
		return log_error_errno(r, "Failed to bind '%s': %m", spec);

	if (unix_address_is_abstract(a))
		return log_error_errno(r, "'%s' is in use: another socket is bound to it", spec);
	r = socket_is_live(a, type);
	if (r < 0)
		return log_error_errno(r, "Failed to check whether '%s' is in use: %m", spec);
	if (r > 0)
		return log_error_errno(-EADDRINUSE, "'%s' is in use: %s", spec,
				       r == 1 ? (type == SOCK_DGRAM
							 ? "a datagram socket is bound to it"
							 : "something is listening on it")
					      : "a socket of another type is bound to it");
	/* Someone who can write the directory could put something else here between the checks
	 * above and this unlink(). unlink() does not follow a symlink in the last component, so
	 * the worst is removing an entry they could have removed themselves; listeners_check()
	 * has refused directories that every user can write, unless sticky, where nobody else
	 * can touch ours. */
	log_notice("Removing stale socket '%s'", spec);
	if (unlink(a->sun.sun_path) < 0 && errno != ENOENT)
		return log_error_errno(negative_errno(), "Failed to remove stale socket '%s': %m",
				       spec);
	r = bind_with_mode(fd, a, mode);
	if (r < 0)
		return log_error_errno(r, "Failed to bind '%s': %m", spec);
	return 0;
}

/* A unix socket of a.type, bound at a's path or name with the file's mode set. Datagram sockets
 * ask for credentials before bind(): every datagram that can reach them then says who sent it,
 * which the datagram echo's access lists and answer checks rely on (conn-dgram.c). */
static int unix_socket_bind(struct server *s, const struct listen_address *a, const char *spec,
			    struct unix_address *ret) {
	_cleanup_close_ int fd = -EBADF;
	struct unix_address u;
	int r;

	r = unix_address_parse(a->unix_spec, &u);
	if (r < 0)
		return log_error_errno(r, "Invalid socket address '%s': it %s", spec,
				       listen_address_error(spec, r));
	fd = socket(AF_UNIX, a->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(negative_errno(), "Failed to create socket: %m");
	if (a->type == SOCK_DGRAM &&
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int)) < 0)
		return log_error_errno(negative_errno(), "Failed to enable credentials on '%s': %m",
				       spec);
	r = bind_path(fd, a->type, &u, spec, (mode_t)s->config->socket_mode);
	if (r < 0)
		return r;
	*ret = u;
	return TAKE_FD(fd);
}

int listener_bind(struct server *s, const char *spec, enum listener_role role) {
	_cleanup_close_ int fd = -EBADF;
	struct listen_address a;
	struct unix_address u = {};
	int r;

	r = listen_address_parse(spec, &a);
	if (r < 0)
		return log_error_errno(r, "Invalid socket address '%s': it %s", spec,
				       listen_address_error(spec, r));
	if (!a.unix_spec)
		return listener_bind_tcp(s, &a.addr, spec, role);
	fd = unix_socket_bind(s, &a, spec, &u);
	if (fd < 0)
		return fd;
	/* A datagram socket has no connections to listen for: it is served as it is. */
	if (a.type != SOCK_DGRAM && listen(fd, SOMAXCONN) < 0) {
		r = log_error_errno(negative_errno(), "Failed to listen on '%s': %m", spec);
		/* Ours, just made; nothing to report if it's gone. */
		if (!unix_address_is_abstract(&u))
			(void)unlink(u.sun.sun_path);
		return r;
	}
	r = listeners_add(s, fd, AF_UNIX, a.type, role, spec,
			  unix_address_is_abstract(&u) ? NULL : u.sun.sun_path);
	if (r < 0) {
		/* As above: ours, and not yet the listener's to remove at exit. */
		if (!unix_address_is_abstract(&u))
			(void)unlink(u.sun.sun_path);
		return log_error_errno(r, "Failed to add listener: %m");
	}
	TAKE_FD(fd);
	log_info("Listening on '%s'%s", spec, role == LISTENER_METRICS ? " for metrics" : "");
	return 0;
}
