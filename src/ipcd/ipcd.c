/* SPDX-License-Identifier: MIT */
/*
 * ipcd: main(), the start-up order, signals, the systemd notification protocol, reload and
 * drain. Echoing lives in conn.c, accepting in listen.c, limits in admit.c.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "fdstore.h"
#include "listen.h"
#include "log.h"
#include "macro.h"
#include "metrics.h"
#include "parse.h"
#include "reload.h"
#include "server.h"
#include "sockaddr.h"
#include "status.h"

#define STOP_GRACE_USEC (5 * USEC_PER_SEC) /* beyond shutdown_timeout, for workers to exit */

static const char *arg_config;
static bool arg_check_config;
static bool arg_verbose;
static char *arg_listen[CONF_LISTEN_MAX];
static size_t arg_n_listen;

static void help(void) {
	printf("Usage: ipcd [OPTIONS]\n"
	       "\n"
	       "Socket-activated IPC echo daemon.\n"
	       "\n"
	       "  -c, --config FILE   read FILE instead of %s/ipcd/ipcd.conf\n"
	       "      --check-config  validate the configuration, print it and exit\n"
	       "      --listen ADDR   without socket activation, bind ADDR (PATH, @name,\n"
	       "                      seqpacket:PATH, dgram:PATH, tcp:IPV4:PORT, tcp:[IPV6]:PORT)\n"
	       "                      instead of the configured listen list; repeatable\n"
	       "  -v, --verbose       log at debug level\n"
	       "      --version       print the version and exit\n"
	       "  -h, --help          print this help and exit\n"
	       "\n"
	       "See ipcd(8) and ipcd.conf(5).\n",
	       SYSCONFDIR);
}

/* 1: run; 0: done (help, version); negative: usage error, already reported. */
static int parse_argv(int argc, char **argv) {
	enum { ARG_CHECK_CONFIG = 0x100, ARG_LISTEN, ARG_VERSION };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
		{ "listen", required_argument, NULL, ARG_LISTEN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct listen_address a;
	int c, r;

	opterr = 0; /* our own messages, one line each */
	while ((c = getopt_long(argc, argv, ":c:vh", options, NULL)) >= 0)
		switch (c) {
			case 'c':
				arg_config = optarg;
				break;
			case ARG_CHECK_CONFIG:
				arg_check_config = true;
				break;
			case ARG_LISTEN:
				r = listen_address_parse(optarg, &a);
				if (r < 0) {
					log_usage_error("invalid socket address '%s': %s%s", optarg,
							*optarg ? "it " : "",
							*optarg ? listen_address_error(optarg, r)
								: "empty");
					return r;
				}
				if (arg_n_listen >= CONF_LISTEN_MAX) {
					log_usage_error("too many --listen options (at most %d)",
							CONF_LISTEN_MAX);
					return -E2BIG;
				}
				arg_listen[arg_n_listen++] = optarg;
				break;
			case 'v':
				arg_verbose = true;
				break;
			case ARG_VERSION:
				printf("ipcd %s\n", VERSION);
				return 0;
			case 'h':
				help();
				return 0;
			default: {
				/* '?' or ':': getopt_long() says no more than which it was. */
				char msg[256];
				r = parse_getopt_error(c, argv, options, msg, sizeof(msg));
				log_usage_error("%s", msg);
				return r;
			}
		}
	if (optind < argc) {
		log_usage_error("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

static int on_stop_timeout(sd_event_source *t _unused_, uint64_t now _unused_, void *userdata) {
	struct server *s = userdata;
	log_error("Workers did not finish within shutdown_timeout, exiting anyway");
	return sd_event_exit(s->event, -ETIMEDOUT);
}

/* SIGTERM, SIGINT or exit_on_idle: stop accepting, let connections finish, then exit. */
static void server_stop(struct server *s, const char *why) {
	uint64_t timeout = s->config->shutdown_timeout_usec;
	/* SIGTERM is how systemd stops and restarts us: keep connections if it can hold them.
	 * SIGINT is a person at a terminal, and exit_on_idle has nothing to keep: drain. */
	bool preserve = s->config->preserve_connections && fdstore_available() &&
			strcmp(why, "SIGTERM") == 0;
	char d[FORMAT_DURATION_MAX];
	int r;

	if (s->stopping)
		return;
	s->stopping = true;
	listeners_set_enabled(s, false);
	(void)sd_event_source_set_enabled(s->idle_timer, SD_EVENT_OFF); /* NULL-safe */
	status_notify(preserve ? "STOPPING=1\nSTATUS=Stopping, handing connections to the fd store"
			       : "STOPPING=1\nSTATUS=Stopping, draining connections");
	log_notice("Stopping on %s: %s %llu connections (up to %s)", why,
		   preserve ? "handing to the fd store" : "draining",
		   (unsigned long long)admit_active(s->admit),
		   format_duration(d, sizeof(d), timeout));
	worker_pool_drain(&s->workers, timeout, preserve);
	r = sd_event_add_time_relative(s->event, &s->stop_timer, CLOCK_MONOTONIC,
				       timeout + STOP_GRACE_USEC, USEC_PER_MSEC, on_stop_timeout,
				       s);
	if (r < 0)
		log_warning_errno(r, "Failed to arm the stop timer, relying on the workers': %m");
}

static int on_idle_timer(sd_event_source *t, uint64_t usec _unused_, void *userdata) {
	struct server *s = userdata;
	char d[FORMAT_DURATION_MAX];
	/* Not the time the timer was due: it may run late, after a datagram newer than that. */
	uint64_t now = now_usec(), last = worker_pool_last_datagram(&s->workers),
		 idle = s->config->exit_on_idle_usec;

	if (admit_active(s->admit) > 0)
		return 0; /* re-armed when the last one closes */
	if (last > 0 && (last >= now || now - last < idle)) {
		/* Datagrams are traffic too: count the idle time from the last one. */
		if (sd_event_source_set_time(t, last + idle) >= 0 &&
		    sd_event_source_set_enabled(t, SD_EVENT_ONESHOT) >= 0)
			return 0;
	}
	log_notice("No connections for %s, exiting (exit_on_idle)",
		   format_duration(d, sizeof(d), s->config->exit_on_idle_usec));
	server_stop(s, "idle");
	return 0;
}

static void server_update_idle(struct server *s) {
	uint64_t idle = s->config->exit_on_idle_usec;
	int enabled = SD_EVENT_OFF, r;

	if (idle == 0 || s->stopping || admit_active(s->admit) > 0) {
		(void)sd_event_source_set_enabled(s->idle_timer, SD_EVENT_OFF); /* NULL-safe */
		return;
	}
	if (s->idle_timer && sd_event_source_get_enabled(s->idle_timer, &enabled) >= 0 && enabled)
		return; /* already counting */
	r = s->idle_timer ? sd_event_source_set_time_relative(s->idle_timer, idle)
			  : sd_event_add_time_relative(s->event, &s->idle_timer, CLOCK_MONOTONIC,
						       idle, USEC_PER_SEC / 10, on_idle_timer, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->idle_timer, SD_EVENT_ONESHOT);
	if (r < 0)
		log_warning_errno(r, "Failed to arm the idle timer, not exiting on idle: %m");
}

/* A connection that was accepted stops the idle count. */
static void on_accepted(void *userdata) {
	server_update_idle(userdata);
}

static int on_workers(sd_event_source *src _unused_, int fd, uint32_t revents _unused_,
		      void *userdata) {
	struct server *s = userdata;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v)); /* a wake-up only; the state is in the workers */
	if (s->stopping) {
		if (worker_pool_all_exited(&s->workers))
			return sd_event_exit(s->event, 0);
		return 0;
	}
	for (size_t i = 0; i < s->workers.n; i++)
		if (atomic_load(&s->workers.workers[i]->exited))
			return log_error_errno(-EIO, "Worker %zu stopped unexpectedly, exiting", i);
	server_update_idle(s);
	return 0;
}

static void log_change(const char *name, const char *old_value, const char *new_value,
		       bool restart_only, void *userdata _unused_) {
	log_notice("%s: %s -> %s%s", name, old_value, new_value,
		   restart_only ? " (takes effect on restart)" : "");
}

static void server_apply_log_level(const struct server *s) {
	log_set_max_level(arg_verbose ? LOG_DEBUG : (int)s->config->log_level);
}

/* A reload's result, on the main loop: either all of the file applies, or none. */
static void server_reload_done(int r, struct ipcd_config *next, const struct conf_errors *errors,
			       void *userdata) {
	struct server *s = userdata;
	unsigned n_changed;

	s->last_reload_realtime_usec = realtime_usec();
	s->last_reload_applied = r >= 0;
	if (r < 0) {
		s->reloads_refused++;
		log_event(LOG_EVENT_RELOAD, LOG_ERR,
			  &(struct log_fields){ .reason = r == -ENOMEM ? "out-of-memory"
								       : "invalid" },
			  "Reloading '%s' failed%s, keeping the previous configuration",
			  s->config_path, r == -ENOMEM ? " (out of memory)" : "");
		snprintf(s->last_reload, sizeof(s->last_reload), "refused: %s",
			 r == -ENOMEM || errors->n == 0 ? strerror(-r) : errors->first);
		if (errors->n > 1) {
			size_t n = strlen(s->last_reload);
			snprintf(s->last_reload + n, sizeof(s->last_reload) - n, " (and %u more)",
				 errors->n - 1);
		}
	} else {
		s->reloads_applied++;
		s->config_generation++;
		n_changed = conf_diff(s->config, next, log_change, NULL);
		conf_unref(s->config);
		s->config = next;
		server_apply_log_level(s);
		worker_pool_set_config(&s->workers, s->config);
		status_arm_stats(s);
		server_update_idle(s);
		log_event(LOG_EVENT_RELOAD, LOG_NOTICE, &(struct log_fields){ .reason = "applied" },
			  "Reloaded '%s': %u setting%s changed", s->config_path, n_changed,
			  n_changed == 1 ? "" : "s");
		snprintf(s->last_reload, sizeof(s->last_reload), "applied (%u setting%s changed)",
			 n_changed, n_changed == 1 ? "" : "s");
	}
	status_notify("READY=1");
	status_update(s, true);
}

/* SIGHUP: the file is loaded off the main loop (reload.h); server_reload_done() applies it. */
static void server_reload(struct server *s) {
	char msg[64];
	int r;

	/* MONOTONIC_USEC lets a Type=notify-reload manager match this reload to its request. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)now_usec());
	status_notify(msg);
	r = reloader_request(s->reloader);
	if (r == 0)
		log_info("Reload requested while one is loading: loading again after it");
}

static int on_signal(sd_event_source *src _unused_, const struct signalfd_siginfo *si,
		     void *userdata) {
	struct server *s = userdata;

	switch (si->ssi_signo) {
		case SIGHUP:
			if (!s->stopping)
				server_reload(s);
			return 0;
		case SIGUSR1:
			status_log_stats(s, LOG_NOTICE);
			return 0;
		case SIGUSR2:
			/* Reserved: a meaning given later must not surprise anyone who sends it
			 * now. */
			log_warning(
				"Received SIGUSR2 from pid %u, which ipcd does not use, ignoring",
				(unsigned)si->ssi_pid);
			return 0;
		default:
			server_stop(s, si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			return 0;
	}
}

static size_t worker_count(const struct ipcd_config *c) {
	cpu_set_t set;
	long n;

	if (c->workers > 0)
		return (size_t)c->workers;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return (size_t)MAX(CPU_COUNT(&set), 1);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

/* Every connection costs one fd: use all that the hard limit (LimitNOFILE=) allows. */
static void raise_nofile(void) {
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(negative_errno(), "Failed to raise RLIMIT_NOFILE, ignoring: %m");
}

static void server_done(struct server *s) {
	bool workers_gone;

	s->reloader = reloader_free(s->reloader);
	/* After a failure the workers were never told to stop: close everything now. */
	if (!worker_pool_all_exited(&s->workers))
		worker_pool_drain(&s->workers, 0, false);
	workers_gone = worker_pool_stop(&s->workers, STOP_GRACE_USEC) >= 0;

	s->stop_timer = sd_event_source_disable_unref(s->stop_timer);
	s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
	s->stats_timer = sd_event_source_disable_unref(s->stats_timer);
	s->status_timer = sd_event_source_disable_unref(s->status_timer);
	s->resume_timer = sd_event_source_disable_unref(s->resume_timer);
	s->workers_source = sd_event_source_disable_unref(s->workers_source);
	s->metrics = metrics_free(s->metrics);
	listeners_free(s);
	s->workers_fd = safe_close(s->workers_fd);
	if (workers_gone) { /* a stuck worker still counts its connections in admit */
		s->admit = admit_free(s->admit);
		free(s->socket_open);
		s->socket_open = NULL;
	}
	s->config = conf_unref(s->config);
	s->event = sd_event_unref(s->event);
}

static int server_setup_signals(struct server *s) {
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
	/*
	 * Ignored: signals whose default action would end ipcd, and every connection with it, that
	 * a person may send by mistake or a tool sends (a profiler's SIGPROF, a UPS daemon's
	 * SIGPWR, ...; SIGIO is SIGPOLL). SIGPIPE: a vanished peer costs a connection, not the
	 * process (sends use MSG_NOSIGNAL too). SIGXFSZ: a write past RLIMIT_FSIZE fails with EFBIG
	 * instead (ipcd writes no files). Left at their defaults: SIGQUIT, for a core dump of a
	 * stuck daemon; SIGKILL and SIGSTOP, which cannot be caught; SIGTSTP, SIGTTIN and SIGTTOU,
	 * which only stop it until SIGCONT; the faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
	 * SIGSYS, SIGTRAP) and SIGXCPU (LimitCPU=), after which it must not go on.
	 */
	static const int ignored[] = {
		SIGPIPE, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGXFSZ
	};
	sigset_t mask;
	int r;

	/* Blocked before any thread starts, so workers inherit the mask and signals come to the
	 * main loop's signalfd only. */
	sigemptyset(&mask);
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		sigaddset(&mask, signals[i]);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(negative_errno(), "Failed to block signals: %m");
	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		signal(ignored[i], SIG_IGN);
#ifdef SIGSTKFLT /* not on every architecture */
	signal(SIGSTKFLT, SIG_IGN);
#endif
	/* Realtime signals keep their default: no one sends them to a daemon by mistake, and
	 * tests/faults arms its allocation-failure shim with SIGRTMAX. */
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
		r = sd_event_add_signal(s->event, NULL, signals[i], on_signal, s);
		if (r < 0)
			return log_error_errno(r, "Failed to watch signal %d: %m", signals[i]);
	}
	return 0;
}

static int server_start(struct server *s) {
	int r;

	r = admit_new(&s->admit);
	if (r < 0)
		return log_error_errno(r, "Failed to set up admission: %m");
	s->workers_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->workers_fd < 0)
		return log_error_errno(negative_errno(), "Failed to create eventfd: %m");
	r = sd_event_add_io(s->event, &s->workers_source, s->workers_fd, EPOLLIN, on_workers, s);
	if (r < 0)
		return log_error_errno(r, "Failed to watch workers: %m");
	/* A worker that stopped (on_workers fails) ends the daemon: nobody serves its connections.
	 */
	(void)sd_event_source_set_exit_on_failure(s->workers_source, true);
	r = worker_pool_start(worker_count(s->config), s->admit, s->workers_fd, &s->workers);
	if (r < 0)
		return log_error_errno(r, "Failed to start workers: %m");
	r = metrics_new(s, &s->metrics);
	if (r < 0)
		return log_error_errno(r, "Failed to set up metrics: %m");
	r = listeners_start(s, on_accepted, s, metrics_on_accept, s->metrics);
	if (r < 0)
		return r;
	r = status_start(s);
	if (r < 0)
		return r;
	server_update_idle(s);
	return 0;
}

static int run(void) {
	_cleanup_(server_done) struct server s = { .workers_fd = -EBADF };
	struct stats_totals t;
	struct conf_errors errors = {};
	char d[FORMAT_DURATION_MAX], size[FORMAT_SIZE_MAX];
	bool defaults;
	int r;

	/* --check-config (also systemctl reload's check) exits at once: plain lines on stderr,
	 * which the journal files under the unit even then. Native entries of a process that is
	 * gone before journald looks lose _SYSTEMD_UNIT, and journalctl -u would miss them. */
	if (!arg_check_config)
		log_open();
	s.config_path = arg_config ? arg_config : SYSCONFDIR "/ipcd/ipcd.conf";
	s.config_must_exist = arg_config != NULL;
	r = config_load(s.config_path, s.config_must_exist, &errors, &s.config);
	if (r == -ENOMEM)
		return log_error_errno(r, "Failed to load configuration '%s': %m", s.config_path);
	if (r < 0)
		return log_error_errno(r, "Configuration '%s' is not valid%s", s.config_path,
				       arg_check_config ? "" : ", not starting");
	defaults = r > 0;
	if (arg_check_config) {
		/* In check mode every failure ends with "not valid": the verdict is on the
		 * configuration, and nothing was going to start. */
		if (defaults)
			log_notice("Configuration '%s' does not exist; using the defaults",
				   s.config_path);
		/* The configuration ipcd would run with: --listen and -v over the file's. */
		r = conf_override(s.config, arg_listen, arg_n_listen, arg_verbose);
		if (r < 0)
			return log_error_errno(r, "Failed to apply the command line to '%s': %m",
					       s.config_path);
		r = listeners_check(s.config, NULL, 0);
		if (r >= 0 && s.config->metrics.n > 0)
			r = listeners_check(s.config, s.config->metrics.items, s.config->metrics.n);
		if (r < 0)
			return log_error_errno(
				r, "Configuration '%s' is not valid%s", s.config_path,
				arg_n_listen > 0 ? " with the --listen addresses given" : "");
		conf_dump(s.config, stdout);
		if (fflush(stdout) != 0 || ferror(stdout))
			return log_error_errno(errno > 0 ? -errno : -EIO,
					       "Failed to write the configuration: %m");
		return 0;
	}
	server_apply_log_level(&s);
	s.start_usec = now_usec();
	s.start_realtime_usec = realtime_usec();
	s.config_generation = 1;
	if (defaults)
		log_event(LOG_EVENT_START, LOG_NOTICE, NULL,
			  "ipcd %s starting (pid %d) with the defaults ('%s' does not exist)",
			  VERSION, (int)getpid(), s.config_path);
	else
		log_event(LOG_EVENT_START, LOG_NOTICE, NULL, "ipcd %s starting (pid %d) with '%s'",
			  VERSION, (int)getpid(), s.config_path);
	raise_nofile();

	/* Before ipcd opens any fd of its own, so that the passed ones are still where systemd
	 * put them and nothing of ours can be mistaken for one. */
	r = listeners_open(&s, arg_listen, arg_n_listen);
	if (r < 0)
		return r;
	r = sd_event_default(&s.event);
	if (r < 0)
		return log_error_errno(r, "Failed to create event loop: %m");
	r = server_setup_signals(&s);
	if (r < 0)
		return r;
	r = reloader_new(s.event, s.config_path, s.config_must_exist, server_reload_done, &s,
			 &s.reloader);
	if (r < 0)
		return log_error_errno(r, "Failed to set up reloading: %m");
	r = sd_event_set_watchdog(s.event, true);
	if (r < 0)
		return log_error_errno(r, "Failed to enable the watchdog: %m");
	r = server_start(&s);
	if (r < 0)
		return r;

	status_update(&s, true);
	status_notify("READY=1");
	log_event(LOG_EVENT_READY, LOG_NOTICE, NULL, "Ready: %zu listener%s, %zu worker%s",
		  s.n_listeners, s.n_listeners == 1 ? "" : "s", s.workers.n,
		  s.workers.n == 1 ? "" : "s");

	r = worker_run_loop(s.event, NULL, "Main");
	if (r < 0)
		log_error_errno(r, "Event loop failed: %m");
	worker_pool_totals(&s.workers, &s.stats, admit_active(s.admit), &t);
	log_flush_suppressed(true);
	log_event(LOG_EVENT_STOP, LOG_NOTICE,
		  &(struct log_fields){ .has_bytes = true,
					.bytes = t.bytes,
					.has_duration = true,
					.duration_usec = now_usec() - s.start_usec },
		  "Stopped after %s: %llu connections, %s echoed, %llu refused, %llu denied, %llu "
		  "cut off by shutdown, %llu handed to the fd store",
		  format_timespan(d, sizeof(d), now_usec() - s.start_usec),
		  (unsigned long long)t.accepted, format_size(size, sizeof(size), t.bytes),
		  (unsigned long long)t.refused, (unsigned long long)t.denied,
		  (unsigned long long)t.closed_by[CLOSE_SHUTDOWN],
		  (unsigned long long)t.closed_by[CLOSE_PRESERVED]);
	return r;
}

int main(int argc, char **argv) {
	int r = parse_argv(argc, argv);

	if (r <= 0)
		return r < 0 ? 2 : EXIT_SUCCESS;
	return run() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
