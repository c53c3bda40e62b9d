/* SPDX-License-Identifier: MIT */
/*
 * listeners_check(): before anything is bound, no two addresses name one socket, each socket
 * file's directory exists or can be made, and no directory on a path is writable by every user
 * without being sticky. Every path-based address counts, of any socket type.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "macro.h"
#include "sockaddr.h"

/* One listen address, as the checks before binding see it. */
struct listen_path {
	const char *spec; /* as written */
	struct listen_address addr;
	char *path;       /* absolute; NULL for an abstract name or TCP */
	const char *dir;  /* the directory the socket file goes in (in path, or "/") */
	const char *base; /* the socket file's name in dir (in path) */
	bool has_dir;     /* dir exists: dir_dev and dir_ino say which directory it is */
	dev_t dir_dev;
	ino_t dir_ino;
};

static int listen_path_init(const char *spec, struct listen_path *ret) {
	_cleanup_free_ char *cwd = NULL;
	struct listen_path p = { .spec = spec };
	const char *file;
	struct stat st;
	char *slash;
	size_t n;
	int r;

	/* --listen and the configuration were checked when read: this is a bug's safety net. */
	r = listen_address_parse(spec, &p.addr);
	if (r < 0)
		return log_error_errno(r, "Invalid socket address '%s': it %s", spec,
				       listen_address_error(spec, r));
	if (!listen_address_is_path(&p.addr)) {
		*ret = p;
		return 0;
	}
	file = p.addr.unix_spec;
	if (file[0] != '/' && !(cwd = get_current_dir_name()))
		return log_error_errno(negative_errno(),
				       "Failed to get the working directory for '%s': %m", spec);
	if (cwd ? asprintf(&p.path, "%s/%s", cwd, file) < 0 : !(p.path = strdup(file)))
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
		return !a->path && !b->path && listen_address_same(&a->addr, &b->addr);
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
 * ends the walk: ipcd creates the last one itself, 0755, and directory_usable() has refused
 * a path that needs more.
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

/*
 * bind() needs the socket's directory; ipcd makes it if missing (listen-bind.c), but only that
 * one level: a missing parent is the administrator's to make, and is better said now, naming
 * it, than as ENOENT from bind().
 */
static int directory_usable(const struct listen_path *p) {
	_cleanup_free_ char *parent = NULL;
	struct stat st;
	char *slash;

	if (!p->path)
		return 0;
	if (p->has_dir) {
		if (stat(p->dir, &st) == 0 && !S_ISDIR(st.st_mode))
			return log_error_errno(-ENOTDIR,
					       "Cannot listen on '%s': '%s' is not a directory",
					       p->spec, p->dir);
		return 0;
	}
	if (!(parent = strdup(p->dir)))
		return log_error_errno(-ENOMEM, "Failed to check '%s': %m", p->spec);
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0'; /* "/run": its parent is "/" */
	else
		*slash = '\0';
	if (stat(parent, &st) < 0) {
		int r = negative_errno();
		if (r == -ENOENT)
			return log_error_errno(
				r,
				"Cannot listen on '%s': directory '%s' does not exist, "
				"and ipcd creates only the last one, '%s'",
				p->spec, parent, p->dir);
		return log_error_errno(r, "Cannot listen on '%s': cannot look at '%s': %m", p->spec,
				       parent);
	}
	if (!S_ISDIR(st.st_mode))
		return log_error_errno(-ENOTDIR, "Cannot listen on '%s': '%s' is not a directory",
				       p->spec, parent);
	if (faccessat(AT_FDCWD, parent, W_OK | X_OK, AT_EACCESS) < 0)
		return log_error_errno(negative_errno(),
				       "Cannot listen on '%s': cannot create directory '%s': %m",
				       p->spec, p->dir);
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): freed by _cleanup_free_ */
	return 0;
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
		int k = 0;

		/* A second spelling of a socket is that first: its directory is the first's. */
		for (size_t i = 0; k >= 0 && i < j; i++)
			if (listen_path_same(&p[i], &p[j]))
				k = log_error_errno(-EINVAL,
						    "'%s' and '%s' are the same socket: each may "
						    "be listened on once",
						    p[i].spec, p[j].spec);
		if (k >= 0)
			k = directory_usable(&p[j]);
		if (k >= 0)
			k = directory_check(&p[j]);
		if (r >= 0)
			r = k;
	}
finish:
	for (size_t i = 0; i < n; i++)
		free(p[i].path);
	return r;
}
