/* SPDX-License-Identifier: MIT */
/*
 * Listeners: opening and starting them, and accepting. Accepting asks admit for a decision and
 * hands admitted connections to a worker; it never decides a limit itself. Passed fds are sorted
 * in listen-passed.c, paths checked in listen-check.c and bound in listen-bind.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "conf.h"
#include "conn.h"
#include "listen-internal.h"
#include "listen.h"
#include "log.h"
#include "macro.h"
#include "metrics-text.h"

#define ACCEPT_BATCH 64                         /* per wake-up: a flood cannot starve the loop */
#define ACCEPT_PAUSE_USEC (100 * USEC_PER_MSEC) /* after EMFILE: long enough to not spin */
#define PEER_GROUPS_MAX 256

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
		r = listener_bind(s, paths[i], LISTENER_ECHO);
		if (r < 0)
			return r;
	}
	if (s->config->metrics.n > 0)
		r = listeners_check(s->config, s->config->metrics.items, s->config->metrics.n);
	for (size_t i = 0; r >= 0 && i < s->config->metrics.n; i++)
		r = listener_bind(s, s->config->metrics.items[i], LISTENER_METRICS);
	return r;
}

static uint64_t server_now(const struct server *s) {
	uint64_t now;
	if (sd_event_now(s->event, CLOCK_MONOTONIC, &now) >= 0)
		return now;
	return now_usec();
}

/* A TCP peer: no credentials, only where it connected from. An IPv4 client of a dual-stack
 * IPv6 listener is shown as the IPv4 address it is, not as ::ffff:a.b.c.d. The address is only
 * ever logged: a peer already gone (ENOTCONN) is served, and fails, without one. */
static void peer_from_inet(int fd, struct peer *ret) {
	struct sockaddr_storage ss = {};
	socklen_t len = sizeof(ss);

	*ret = (struct peer){ .has_creds = false };
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
		ret->family = AF_INET;
		ret->addr.in = sin->sin_addr;
		ret->port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ret->family = AF_INET;
			memcpy(&ret->addr.in, &sin6->sin6_addr.s6_addr[12], sizeof(ret->addr.in));
		} else {
			ret->family = AF_INET6;
			ret->addr.in6 = sin6->sin6_addr;
		}
		ret->port = ntohs(sin6->sin6_port);
	}
}

/* The kernel's word on who connected. groups is filled only when allow_gids needs it. */
static int peer_from_socket(int fd, int family, bool want_groups, gid_t *groups, size_t groups_max,
			    struct peer *ret) {
	struct ucred u;
	socklen_t len = sizeof(u);

	if (family != AF_UNIX) {
		peer_from_inet(fd, ret);
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
	struct log_fields f = log_fields_of_peer(p, peer, sizeof(peer));

	f.reason = admit_result_to_string(r);
	f.ratelimit = true;
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
	struct log_fields f = log_fields_of_peer(p, peer, sizeof(peer));

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

void listeners_pause_accepting(struct server *s, int error) {
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
	l->n_accepted++;
	conn_count_open(c, &s->socket_open[l->index]);
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
				listeners_pause_accepting(l->server, negative_errno());
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

/* Whether a connection's own address is a listener's: the same unix path or abstract name,
 * or the same TCP port (a listener bound to any address serves several). */
static bool address_is_listeners(const struct sockaddr_storage *conn, socklen_t n_conn,
				 const struct sockaddr_storage *l, socklen_t n_l) {
	if (conn->ss_family != l->ss_family)
		return false;
	switch (conn->ss_family) {
		case AF_UNIX:
			return n_conn == n_l && memcmp(conn, l, n_conn) == 0;
		case AF_INET:
			return ((const struct sockaddr_in *)conn)->sin_port ==
			       ((const struct sockaddr_in *)l)->sin_port;
		case AF_INET6:
			return ((const struct sockaddr_in6 *)conn)->sin6_port ==
			       ((const struct sockaddr_in6 *)l)->sin6_port;
		default:
			return false;
	}
}

/* The open-connection gauge of the listener a stored connection came in on, found by its
 * address; the one for restored connections when that listener is not among ours. */
static atomic_uint_fast64_t *adopted_open_gauge(struct server *s, int fd, int type) {
	struct sockaddr_storage a = { 0 }, b = { 0 };
	socklen_t n = sizeof(a), m;

	if (getsockname(fd, (struct sockaddr *)&a, &n) < 0)
		return &s->socket_open[s->n_listeners];
	for (size_t i = 0; i < s->n_listeners; i++) {
		const struct listener *l = s->listeners[i];

		m = sizeof(b);
		if (l->role == LISTENER_ECHO && l->type == type &&
		    getsockname(l->fd, (struct sockaddr *)&b, &m) == 0 &&
		    address_is_listeners(&a, n, &b, m))
			return &s->socket_open[i];
	}
	return &s->socket_open[s->n_listeners];
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
		conn_count_open(c, adopted_open_gauge(s, fd, type));
		worker_pool_submit(&s->workers, c);
		n++;
	}
	s->n_adopted = 0;
	if (n > 0)
		log_notice("Adopted %llu connection%s from the fd store", (unsigned long long)n,
			   n == 1 ? "" : "s");
}

int listeners_start(struct server *s, listeners_accepted_fn accepted, void *userdata,
		    sd_event_io_handler_t metrics_accept, void *metrics_userdata) {
	/* One open-connection gauge per listener, and one for restored connections whose listener
	 * is gone. Workers decrement them: they live as long as the workers (server_done()). */
	s->socket_open = calloc(s->n_listeners + 1, sizeof(*s->socket_open));
	if (!s->socket_open)
		return log_error_errno(-ENOMEM, "Failed to allocate connection counts: %m");
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
		r = l->role == LISTENER_METRICS
			    ? sd_event_add_io(s->event, &l->source, l->fd, EPOLLIN, metrics_accept,
					      metrics_userdata)
			    : sd_event_add_io(s->event, &l->source, l->fd, EPOLLIN, on_accept, l);
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

static const char *socket_type_text(int type) {
	return type == SOCK_STREAM ? "stream" : type == SOCK_SEQPACKET ? "seqpacket" : "datagram";
}

size_t listeners_snapshot(struct server *s, struct metrics_socket *ret, size_t n) {
	size_t k = 0;
	uint64_t restored;

	for (size_t i = 0; i < s->n_listeners && k < n; i++) {
		const struct listener *l = s->listeners[i];

		if (l->role != LISTENER_ECHO || l->type == SOCK_DGRAM)
			continue;
		ret[k++] = (struct metrics_socket){
			.name = l->name,
			.type = socket_type_text(l->type),
			.open = s->socket_open ? atomic_load(&s->socket_open[i]) : 0,
			.accepted = l->n_accepted,
		};
	}
	restored = s->socket_open ? atomic_load(&s->socket_open[s->n_listeners]) : 0;
	if (restored > 0 && k < n)
		ret[k++] =
			(struct metrics_socket){ .name = "", .type = "stream", .open = restored };
	return k;
}
