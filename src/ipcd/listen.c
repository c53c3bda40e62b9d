/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets: taking over systemd's (sd_listen_fds_with_names), binding our own with the
 * stale-versus-live rule, and accepting. Accepting asks admit for a decision and hands admitted
 * connections to a worker; it never decides a limit itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "conf.h"
#include "conn.h"
#include "fdstore.h"
#include "listen.h"
#include "log.h"
#include "macro.h"
#include "sockaddr.h"

#define ACCEPT_BATCH 64                         /* per wake-up: a flood cannot starve the loop */
#define ACCEPT_PAUSE_USEC (100 * USEC_PER_MSEC) /* after EMFILE: long enough to not spin */
#define PEER_GROUPS_MAX 256

struct listener {
	struct server *server;
	sd_event_source *source;
	int fd;
	int family, type;
	char *name;        /* systemd's FileDescriptorName=, or the address we bound */
	char *unlink_path; /* a socket file we created, removed on exit */
	/* Told after each batch of accepts; set by listeners_start(). */
	listeners_accepted_fn accepted;
	void *userdata;
};

static struct listener *listener_free(struct listener *l) {
	if (!l)
		return NULL;
	sd_event_source_disable_unref(l->source);
	safe_close(l->fd);
	if (l->unlink_path && unlink(l->unlink_path) < 0 && errno != ENOENT)
		log_warning_errno(negative_errno(), "Failed to remove socket '%s', ignoring: %m",
				  l->unlink_path);
	free(l->unlink_path);
	free(l->name);
	free(l);
	return NULL;
}

void listeners_free(struct server *s) {
	for (size_t i = 0; i < s->n_listeners; i++)
		listener_free(s->listeners[i]);
	free(s->listeners);
	s->listeners = NULL;
	s->n_listeners = 0;
	for (size_t i = 0; i < s->n_adopted; i++)
		safe_close(s->adopted[i]);
	free(s->adopted);
	s->adopted = NULL;
	s->n_adopted = 0;
}

static int listeners_add(struct server *s, int fd, int family, int type, const char *name,
			 const char *unlink_path) {
	struct listener **a, *l;

	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	a = reallocarray(s->listeners, s->n_listeners + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	s->listeners = a;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct listener){ .server = s, .fd = fd, .family = family, .type = type };
	if (!(l->name = strdup(name)) || (unlink_path && !(l->unlink_path = strdup(unlink_path)))) {
		l->fd = -EBADF; /* still the caller's on failure */
		listener_free(l);
		return -ENOMEM;
	}
	s->listeners[s->n_listeners++] = l;
	return 0;
}

static const char *fd_kind(int fd) {
	struct stat st;
	if (fstat(fd, &st) < 0)
		return "not open";
	switch (st.st_mode & S_IFMT) {
		case S_IFREG:
			return "a regular file";
		case S_IFDIR:
			return "a directory";
		case S_IFIFO:
			return "a pipe";
		case S_IFCHR:
			return "a character device";
		default:
			return "not a socket";
	}
}

static const char *socket_type_name(int type) {
	return type == SOCK_STREAM      ? "stream"
	       : type == SOCK_SEQPACKET ? "seqpacket"
	       : type == SOCK_DGRAM     ? "datagram"
					: "raw";
}

static const char *family_name(int family) {
	return family == AF_UNIX    ? "AF_UNIX"
	       : family == AF_INET  ? "AF_INET"
	       : family == AF_INET6 ? "AF_INET6"
				    : "non-IP";
}

/* A connection the previous instance handed to the fd store: kept until workers exist. */
static int connection_keep(struct server *s, int fd) {
	int *a = reallocarray(s->adopted, s->n_adopted + 1, sizeof(int));

	if (!a)
		return log_error_errno(-ENOMEM, "Failed to keep stored connection fd %d: %m", fd);
	s->adopted = a;
	s->adopted[s->n_adopted++] = fd;
	return 0;
}

/* One fd from systemd: a stored connection, or a socket ipcd can serve, listening unless it is
 * datagram. */
static int listener_adopt(struct server *s, int fd, const char *name) {
	int family, type, r;
	socklen_t len = sizeof(int);

	if (fdstore_is_connection(fd, name))
		return connection_keep(s, fd);

	r = sd_is_socket(fd, AF_UNSPEC, 0, -1);
	if (r < 0)
		return log_error_errno(r, "Failed to check passed fd %d ('%s'): %m", fd, name);
	if (r == 0)
		return log_error_errno(-ENOTSOCK, "Passed fd %d ('%s') is %s, not a socket", fd,
				       name, fd_kind(fd));
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return log_error_errno(negative_errno(), "Failed to query passed fd %d ('%s'): %m",
				       fd, name);
	if (!(family == AF_UNIX &&
	      (type == SOCK_STREAM || type == SOCK_SEQPACKET || type == SOCK_DGRAM)) &&
	    !((family == AF_INET || family == AF_INET6) && type == SOCK_STREAM))
		return log_error_errno(
			-EPROTONOSUPPORT,
			"Passed fd %d ('%s') is an %s %s socket, which ipcd does not "
			"serve (unix stream, seqpacket, datagram; TCP)",
			fd, name, family_name(family), socket_type_name(type));
	if (type != SOCK_DGRAM && sd_is_socket(fd, family, type, 1) <= 0)
		return log_error_errno(-EINVAL, "Passed fd %d ('%s') is not a listening socket", fd,
				       name);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return log_error_errno(negative_errno(), "Failed to make fd %d non-blocking: %m",
				       fd);
	r = listeners_add(s, fd, family, type, name, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to add listener: %m");
	log_info("Listening on passed fd %d ('%s', %s %s)", fd, name, family_name(family),
		 socket_type_name(type));
	return 0;
}

/* One listen address, as the checks before binding see it. */
struct listen_path {
	const char *spec; /* as written */
	char *path;       /* absolute; NULL for an abstract name */
	const char *dir;  /* the directory the socket file goes in (in path, or "/") */
	const char *base; /* the socket file's name in dir (in path) */
	bool has_dir;     /* dir exists: dir_dev and dir_ino say which directory it is */
	dev_t dir_dev;
	ino_t dir_ino;
};

static int listen_path_init(const char *spec, struct listen_path *ret) {
	_cleanup_free_ char *cwd = NULL;
	struct listen_path p = { .spec = spec };
	struct stat st;
	char *slash;
	size_t n;

	if (spec[0] == '@') {
		*ret = p;
		return 0;
	}
	if (spec[0] != '/' && !(cwd = get_current_dir_name()))
		return log_error_errno(negative_errno(),
				       "Failed to get the working directory for '%s': %m", spec);
	if (cwd ? asprintf(&p.path, "%s/%s", cwd, spec) < 0 : !(p.path = strdup(spec)))
		return log_error_errno(-ENOMEM, "Failed to check '%s': %m", spec);
	n = strlen(p.path);
	while (n > 1 && p.path[n - 1] == '/')
		p.path[--n] = '\0';
	slash = strrchr(p.path, '/');
	*slash = '\0';
	p.dir = slash == p.path ? "/" : p.path;
	p.base = slash + 1;
	if (stat(p.dir, &st) == 0) {
		p.has_dir = true;
		p.dir_dev = st.st_dev;
		p.dir_ino = st.st_ino;
	}
	*ret = p;
	return 0;
}

static bool listen_path_same(const struct listen_path *a, const struct listen_path *b) {
	if (!a->path || !b->path)
		return !a->path && !b->path && strcmp(a->spec, b->spec) == 0;
	if (strcmp(a->base, b->base) != 0)
		return false;
	/* The file system's word where both directories exist (symlinks, ".."), else the
	 * spelling's. */
	if (a->has_dir && b->has_dir)
		return a->dir_dev == b->dir_dev && a->dir_ino == b->dir_ino;
	return unix_address_same(a->dir, b->dir);
}

/*
 * Whoever can write a directory on the way to a socket can rename what is there and put
 * something else in its place: their own socket, to impersonate ipcd, or a symlink for a
 * path-based call to follow. So every existing directory on the path, and on the path it
 * resolves to, must not be writable by every user, unless it is sticky (as /tmp is), where
 * only an entry's owner may rename or remove it. Group write is allowed: it is a grant to
 * named users, made on purpose (a shared runtime directory), who are then trusted as the
 * owner is; "every user" includes nobody and every sandboxed service. A missing directory
 * ends the walk: ipcd creates the last one itself, 0755, and deeper ones are a bind error.
 */
static int directory_walk(const char *spec, char *dir) {
	size_t n = strlen(dir);

	for (size_t i = 0; i <= n; i++) {
		size_t end = MAX(i, 1); /* "/" itself, then each prefix ending before a '/' */
		struct stat st;
		bool exists;
		char c;
		int r = 0;

		if (i < n && dir[i] != '/')
			continue;
		c = dir[end];
		dir[end] = '\0';
		exists = stat(dir, &st) == 0;
		if (exists && S_ISDIR(st.st_mode) && (st.st_mode & S_IWOTH) &&
		    !(st.st_mode & S_ISVTX))
			r = log_error_errno(
				-EPERM,
				"Refusing to listen on '%s': directory '%s' is writable "
				"by every user and not sticky: anyone could replace the "
				"socket",
				spec, dir);
		dir[end] = c;
		if (r < 0 || !exists)
			return r;
	}
	return 0;
}

static int directory_check(const struct listen_path *p) {
	_cleanup_free_ char *dir = NULL, *real = NULL;
	int r;

	if (!p->path)
		return 0;
	if (!(dir = strdup(p->dir)))
		return log_error_errno(-ENOMEM, "Failed to check '%s': %m", p->spec);
	r = directory_walk(p->spec, dir);
	if (r < 0 || !p->has_dir)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): freed by _cleanup_free_ */
		return r;
	/* Where symlinks lead, too. Failing for want of memory is an error; for any other
	 * reason (a loop, no search permission) bind() fails the same way and says so. */
	real = realpath(dir, NULL);
	if (!real)
		return errno == ENOMEM
			       ? log_error_errno(-ENOMEM, "Failed to check '%s': %m", p->spec)
			       : 0;
	return strcmp(real, dir) == 0 ? 0 : directory_walk(p->spec, real);
}

int listeners_check(const struct ipcd_config *c, char *const *paths, size_t n_paths) {
	struct listen_path p[CONF_LISTEN_MAX] = {};
	size_t n = 0;
	int r = 0;

	if (n_paths == 0) {
		paths = c->listen.items;
		n_paths = c->listen.n;
	}
	if (n_paths > CONF_LISTEN_MAX)
		return log_error_errno(-E2BIG, "Too many listen addresses: %zu (at most %d)",
				       n_paths, CONF_LISTEN_MAX);
	for (; n < n_paths; n++) {
		int k = listen_path_init(paths[n], &p[n]);
		if (k < 0) {
			r = k;
			goto finish;
		}
	}
	/* Every problem is reported, then the first decides. */
	for (size_t j = 0; j < n; j++) {
		int k = directory_check(&p[j]);

		for (size_t i = 0; k >= 0 && i < j; i++)
			if (listen_path_same(&p[i], &p[j]))
				k = log_error_errno(-EINVAL,
						    "'%s' and '%s' are the same socket: each may "
						    "be listened on once",
						    p[i].spec, p[j].spec);
		if (r >= 0)
			r = k;
	}
finish:
	for (size_t i = 0; i < n; i++)
		free(p[i].path);
	return r;
}

/* Is someone there? Used when bind() says the address is taken: 1 when a socket accepts (or
 * its backlog is full), 2 when a socket of another type is bound, 0 when nobody is. */
static int socket_is_live(const struct unix_address *a) {
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return negative_errno();
	if (connect(fd, (const struct sockaddr *)&a->sun, a->len) == 0 || errno == EAGAIN)
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

static int bind_path(int fd, const struct unix_address *a, const char *spec, mode_t mode) {
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
		char dir[sizeof(a->sun.sun_path)];
		memcpy(dir, a->sun.sun_path, sizeof(dir));
		if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
			return log_error_errno(negative_errno(),
					       "Failed to create directory for '%s': %m", spec);
		r = bind_with_mode(fd, a, mode);
	}
	if (r >= 0)
		return 0;
	if (r != -EADDRINUSE)
		return log_error_errno(r, "Failed to bind '%s': %m", spec);

	if (unix_address_is_abstract(a))
		return log_error_errno(r, "'%s' is in use: another socket is bound to it", spec);
	r = socket_is_live(a);
	if (r < 0)
		return log_error_errno(r, "Failed to check whether '%s' is in use: %m", spec);
	if (r > 0)
		return log_error_errno(-EADDRINUSE, "'%s' is in use: %s", spec,
				       r == 1 ? "something is listening on it"
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

static int listener_bind(struct server *s, const char *spec) {
	_cleanup_close_ int fd = -EBADF;
	struct unix_address a;
	int r;

	r = unix_address_parse(spec, &a);
	if (r < 0)
		return log_error_errno(r, "Invalid socket address '%s': %s", spec,
				       r == -ENAMETOOLONG ? "too long" : "empty");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(negative_errno(), "Failed to create socket: %m");
	r = bind_path(fd, &a, spec, (mode_t)s->config->socket_mode);
	if (r < 0)
		return r;
	if (listen(fd, SOMAXCONN) < 0) {
		r = log_error_errno(negative_errno(), "Failed to listen on '%s': %m", spec);
		/* Ours, just made; nothing to report if it's gone. */
		if (!unix_address_is_abstract(&a))
			(void)unlink(a.sun.sun_path);
		return r;
	}
	r = listeners_add(s, fd, AF_UNIX, SOCK_STREAM, spec,
			  unix_address_is_abstract(&a) ? NULL : a.sun.sun_path);
	if (r < 0)
		return log_error_errno(r, "Failed to add listener: %m");
	TAKE_FD(fd);
	log_info("Listening on '%s'", spec);
	return 0;
}

int listeners_open(struct server *s, char *const *paths, size_t n_paths) {
	char **names = NULL;
	int n, r = 0;

	n = sd_listen_fds_with_names(true, &names);
	if (n < 0)
		return log_error_errno(n, "Failed to read passed file descriptors: %m");
	for (int i = 0; i < n; i++) {
		const char *name = names && names[i] ? names[i] : "unknown";
		if (r >= 0)
			r = listener_adopt(s, SD_LISTEN_FDS_START + i, name);
		if (r < 0)
			/* Not ours to keep: each fd is either a listener or closed now. */
			(void)close(SD_LISTEN_FDS_START + i);
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (r < 0 || n > 0)
		return r;

	r = listeners_check(s->config, paths, n_paths);
	if (r < 0)
		return r;
	if (n_paths == 0) {
		paths = s->config->listen.items;
		n_paths = s->config->listen.n;
	}
	for (size_t i = 0; i < n_paths; i++) {
		r = listener_bind(s, paths[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t server_now(const struct server *s) {
	uint64_t now;
	if (sd_event_now(s->event, CLOCK_MONOTONIC, &now) >= 0)
		return now;
	return now_usec();
}

/* The kernel's word on who connected. groups is filled only when allow_gids needs it. */
static int peer_from_socket(int fd, int family, bool want_groups, gid_t *groups, size_t groups_max,
			    struct peer *ret) {
	struct ucred u;
	socklen_t len = sizeof(u);

	if (family != AF_UNIX) {
		*ret = (struct peer){ .has_creds = false };
		return 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len) < 0)
		return negative_errno();
	*ret = (struct peer){ .has_creds = true, .pid = u.pid, .uid = u.uid, .gid = u.gid };
	if (want_groups) {
		len = (socklen_t)(groups_max * sizeof(gid_t));
		/* ERANGE: more groups than we look at; the primary gid still counts. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
			ret->groups = groups;
			ret->n_groups = len / sizeof(gid_t);
		}
	}
	return 0;
}

static void log_refused(const struct peer *p, enum admit_result r, uint64_t id) {
	char peer[96];
	struct log_fields f = {
		.has_peer = p->has_creds,
		.pid = p->pid,
		.uid = p->uid,
		.gid = p->gid,
		.reason = admit_result_to_string(r),
		.ratelimit = true,
	};
	admit_peer_describe(p, peer, sizeof(peer));
	if (r == ADMIT_DENIED)
		log_event(LOG_EVENT_DENIED, LOG_WARNING, &f,
			  "Denied connection %llu%s: not in access.allow_uids or allow_gids",
			  (unsigned long long)id, peer);
	else
		log_event(LOG_EVENT_REFUSED, LOG_WARNING, &f, "Refused connection %llu%s: %s",
			  (unsigned long long)id, peer, f.reason);
}

static void log_connect(const struct listener *l, const struct peer *p, uint64_t id) {
	char peer[96];
	struct log_fields f = {
		.has_peer = p->has_creds, .pid = p->pid, .uid = p->uid, .gid = p->gid
	};
	admit_peer_describe(p, peer, sizeof(peer));
	log_event(LOG_EVENT_CONNECT, LOG_INFO, &f, "Connection %llu%s on '%s'",
		  (unsigned long long)id, peer, l->name);
}

static int on_resume(sd_event_source *t _unused_, uint64_t now _unused_, void *userdata) {
	struct server *s = userdata;
	s->accept_paused = false;
	if (!s->stopping)
		listeners_set_enabled(s, true);
	return 0;
}

/* Out of fds or memory: accepting again at once would spin on the same error. */
static void accept_pause(struct server *s, int error) {
	int r;

	s->stats.accept_errors++;
	if (log_ratelimit_ok(LOG_EVENT_REFUSED))
		log_warning_errno(error,
				  "Failed to accept connection, pausing accepts for %llu ms: %m",
				  (unsigned long long)(ACCEPT_PAUSE_USEC / USEC_PER_MSEC));
	listeners_set_enabled(s, false);
	s->accept_paused = true;
	r = s->resume_timer
		    ? sd_event_source_set_time_relative(s->resume_timer, ACCEPT_PAUSE_USEC)
		    : sd_event_add_time_relative(s->event, &s->resume_timer, CLOCK_MONOTONIC,
						 ACCEPT_PAUSE_USEC, USEC_PER_MSEC, on_resume, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->resume_timer, SD_EVENT_ONESHOT);
	if (r < 0) {
		/* Without a timer, pausing would be forever: keep accepting instead. */
		log_warning_errno(r, "Failed to arm accept pause timer, resuming at once: %m");
		on_resume(NULL, 0, s);
	}
}

static void listener_accept_one(struct listener *l, int fd) {
	struct server *s = l->server;
	const struct ipcd_config *cfg = s->config;
	gid_t groups[PEER_GROUPS_MAX];
	uint64_t id = ++s->next_conn_id, now = server_now(s);
	enum admit_result verdict;
	struct conn *c;
	struct peer p;
	int r;

	r = peer_from_socket(fd, l->family, cfg->allow_gids.n > 0, groups, PEER_GROUPS_MAX, &p);
	if (r < 0) {
		if (log_ratelimit_ok(LOG_EVENT_REFUSED))
			log_warning_errno(r, "Failed to read peer credentials, closing: %m");
		s->stats.accept_errors++;
		safe_close(fd);
		return;
	}
	verdict = admit_check(s->admit, cfg, &p, now * 1000);
	if (verdict != ADMIT_OK) {
		s->stats.refused[verdict]++;
		log_refused(&p, verdict, id);
		safe_close(fd);
		return;
	}
	if (l->family != AF_UNIX)
		/* An echo is latency-bound: Nagle would hold every small reply. Best effort. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	r = conn_new(fd, l->type == SOCK_SEQPACKET ? CONN_SEQPACKET : CONN_STREAM, &p, true,
		     s->config, id, now, &c);
	if (r < 0) {
		if (log_ratelimit_ok(LOG_EVENT_REFUSED))
			log_warning_errno(r, "Failed to set up connection %llu, closing: %m",
					  (unsigned long long)id);
		admit_release(s->admit, &p);
		s->stats.accept_errors++;
		safe_close(fd);
		return;
	}
	s->stats.accepted++;
	if (cfg->log_connections)
		log_connect(l, &p, id);
	worker_pool_submit(&s->workers, c);
}

static int on_accept(sd_event_source *src _unused_, int lfd, uint32_t revents _unused_,
		     void *userdata) {
	struct listener *l = userdata;

	for (unsigned i = 0; i < ACCEPT_BATCH && !l->server->accept_paused; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				accept_pause(l->server, negative_errno());
				break;
			}
			/* accept(2): these belong to the one connection that failed; go on. */
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
			    errno == EPERM || errno == ENETDOWN || errno == ENOPROTOOPT ||
			    errno == EHOSTDOWN || errno == ENONET || errno == EHOSTUNREACH ||
			    errno == EOPNOTSUPP || errno == ENETUNREACH)
				continue;
			return log_error_errno(negative_errno(), "Failed to accept on '%s': %m",
					       l->name);
		}
		listener_accept_one(l, fd);
	}
	l->accepted(l->userdata);
	return 0;
}

/* Stored connections come back as they left: counted, but past every limit, since a restart
 * must not drop what was open. Their time limits start afresh. */
static void connections_adopt(struct server *s) {
	uint64_t now = server_now(s), n = 0;

	for (size_t i = 0; i < s->n_adopted; i++) {
		int fd = TAKE_FD(s->adopted[i]), family = AF_UNSPEC, type = SOCK_STREAM, r;
		socklen_t len = sizeof(int);
		struct conn *c;
		struct peer p;

		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
		    (type != SOCK_STREAM && type != SOCK_SEQPACKET) ||
		    peer_from_socket(fd, family, false, NULL, 0, &p) < 0) {
			log_warning("Stored fd %d is not a connection ipcd can serve, closing it",
				    fd);
			safe_close(fd);
			continue;
		}
		r = admit_adopt(s->admit, &p);
		if (r >= 0 &&
		    (r = conn_new(fd, type == SOCK_SEQPACKET ? CONN_SEQPACKET : CONN_STREAM, &p,
				  true, s->config, ++s->next_conn_id, now, &c)) < 0)
			admit_release(s->admit, &p);
		if (r < 0) {
			log_warning_errno(r, "Failed to adopt stored connection, closing it: %m");
			safe_close(fd);
			continue;
		}
		s->stats.accepted++;
		worker_pool_submit(&s->workers, c);
		n++;
	}
	s->n_adopted = 0;
	if (n > 0)
		log_notice("Adopted %llu connection%s from the fd store", (unsigned long long)n,
			   n == 1 ? "" : "s");
}

int listeners_start(struct server *s, listeners_accepted_fn accepted, void *userdata) {
	connections_adopt(s);
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct listener *l = s->listeners[i];
		int r;

		l->accepted = accepted;
		l->userdata = userdata;

		if (l->type == SOCK_DGRAM) {
			/* A datagram socket is served like one connection, by one worker. */
			struct peer none = { .has_creds = false };
			struct conn *c;
			int fd;

			/* Before READY, so that every datagram sent from then on says who sent it;
			 * without credentials, access lists deny, as they must. */
			if (setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int)) <
			    0)
				log_warning_errno(
					negative_errno(),
					"Failed to enable credentials on '%s', ignoring: %m",
					l->name);
			fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 3);
			if (fd < 0)
				return log_error_errno(negative_errno(),
						       "Failed to duplicate fd %d: %m", l->fd);
			r = conn_new(fd, CONN_DGRAM, &none, false, s->config, 0, server_now(s), &c);
			if (r < 0) {
				safe_close(fd);
				return log_error_errno(r, "Failed to set up datagram socket: %m");
			}
			worker_pool_submit(&s->workers, c);
			continue;
		}
		r = sd_event_add_io(s->event, &l->source, l->fd, EPOLLIN, on_accept, l);
		if (r < 0)
			return log_error_errno(r, "Failed to watch listener '%s': %m", l->name);
		/* A failing listener means the daemon can no longer do its job. */
		(void)sd_event_source_set_exit_on_failure(l->source, true);
	}
	return 0;
}

void listeners_set_enabled(struct server *s, bool enabled) {
	for (size_t i = 0; i < s->n_listeners; i++)
		if (s->listeners[i]->source &&
		    sd_event_source_set_enabled(s->listeners[i]->source,
						enabled ? SD_EVENT_ON : SD_EVENT_OFF) < 0)
			log_warning("Failed to %s listener '%s', ignoring",
				    enabled ? "resume" : "pause", s->listeners[i]->name);
}
