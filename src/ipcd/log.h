/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

#include "macro.h"

/*
 * The daemon's only way to say anything. Structured journal entries when stderr is connected
 * to the journal ($JOURNAL_STREAM), plain lines on stderr otherwise. Safe from any thread.
 */

enum log_event {
	LOG_EVENT_START,
	LOG_EVENT_READY,
	LOG_EVENT_CONNECT,
	LOG_EVENT_DISCONNECT,
	LOG_EVENT_REFUSED,
	LOG_EVENT_DENIED,
	LOG_EVENT_RELOAD,
	LOG_EVENT_STATS,
	LOG_EVENT_STOP,
	_LOG_EVENT_MAX,
};

/* Optional fields of an event; only those marked present are emitted. */
struct log_fields {
	bool has_peer;
	pid_t pid; /* 0 when the kernel could not tell (another pid namespace) */
	uid_t uid;
	gid_t gid;
	bool has_address; /* a TCP peer: IPCD_PEER_ADDRESS, IPCD_PEER_PORT */
	char address[INET6_ADDRSTRLEN];
	uint16_t port;
	bool has_bytes;
	uint64_t bytes;
	bool has_duration;
	uint64_t duration_usec;
	const char *reason; /* NULL: none */
	bool ratelimit;     /* peer-triggered: at most a burst per interval per event kind */
};

struct peer;

/* A peer's journal fields (PID, UID, GID, when the kernel gave them; a TCP peer's address and
 * port), and in DESC the words for its message: " from pid … uid … gid …" or
 * " from 127.0.0.1:54321". */
struct log_fields log_fields_of_peer(const struct peer *p, char *desc, size_t len);

void log_open(void);
void log_set_max_level(int level);
int log_get_max_level(void);
const char *log_event_to_string(enum log_event e);
const char *log_event_message_id(enum log_event e);

/* Returns error (negative errno, or 0), so that "return log_error_errno(r, …);" works; %m
 * prints error. */
int log_full_errno(int level, int error, const char *fmt, ...) _printf_(3, 4);

/* A command-line mistake: one line naming it, and where to look. Always on stderr. */
void log_usage_error(const char *fmt, ...) _printf_(1, 2);

/* One SPEC event: MESSAGE_ID, IPCD_EVENT and the fields in f. */
void log_event(enum log_event e, int level, const struct log_fields *f, const char *fmt, ...)
	_printf_(4, 5);

/* For peer-triggered warnings that are not events (accept failures): true if this one may be
 * logged. Shares the rate limit of the given event kind. */
bool log_ratelimit_ok(enum log_event e);

/* Says how many rate-limited messages were dropped where no later message said it: for the
 * windows that have ended, or (all) every one, as at exit. From one thread at a time. */
void log_flush_suppressed(bool all);

#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_error(...) ((void)log_full_errno(LOG_ERR, 0, __VA_ARGS__))
#define log_warning(...) ((void)log_full_errno(LOG_WARNING, 0, __VA_ARGS__))
#define log_notice(...) ((void)log_full_errno(LOG_NOTICE, 0, __VA_ARGS__))
#define log_info(...) ((void)log_full_errno(LOG_INFO, 0, __VA_ARGS__))
#define log_debug(...) ((void)log_full_errno(LOG_DEBUG, 0, __VA_ARGS__))
