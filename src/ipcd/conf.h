/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CONF_LISTEN_MAX 64
#define CONF_IDS_MAX 1024

struct id_list {
	uint32_t *ids;
	size_t n;
};

struct str_list {
	char **items;
	size_t n;
};

/*
 * The effective configuration: plain C values only, immutable once loaded. It is shared by
 * reference: the main loop holds the current one and every connection holds the one it was
 * admitted under, so a reload changes limits for new connections only.
 */
struct ipcd_config {
	atomic_uint n_ref;
	uint64_t max_connections;
	uint64_t max_connections_per_uid;
	uint64_t buffer_size;
	uint64_t max_message_size;
	uint64_t idle_timeout_usec;
	uint64_t max_connection_bytes;
	uint64_t max_connection_time_usec;
	uint64_t accept_rate;
	struct id_list allow_uids;
	struct id_list allow_gids;
	struct str_list listen;
	struct str_list metrics; /* where ipcd binds its metrics endpoint itself; may be empty */
	uint64_t socket_mode;
	uint64_t workers;
	uint64_t shutdown_timeout_usec;
	uint64_t exit_on_idle_usec;
	bool preserve_connections;
	uint64_t log_level;
	bool log_connections;
	uint64_t stats_interval_usec;
};

/* Called once per problem, with "FILE:LINE: setting = value: reason (allowed: …)". */
typedef void (*conf_report_fn)(const char *message, void *userdata);

/* Built-in defaults, with listen from the build's RUNSTATEDIR. NULL only on OOM. */
struct ipcd_config *conf_new_default(void);

/*
 * Reads and validates path into a new configuration. A missing file gives the defaults when
 * !must_exist, and 1 rather than 0, so that the caller can say so. The file must be a regular file
 * (or /dev/null) of at most 24 KiB, opened once without blocking and parsed from that descriptor.
 * Every problem is reported through report before returning; on any problem the result is negative
 * (-EINVAL for the file's content or a file that is not a regular file, -EISDIR, -ENOMEM, or why it
 * could not be read: -ENOENT, -EFBIG, -EBADMSG for a NUL byte, …) and nothing is returned: never
 * half a configuration.
 */
int conf_load(const char *path, bool must_exist, conf_report_fn report, void *userdata,
	      struct ipcd_config **ret);
/* The same, and warn (NULL: none) gets what is not an error, as one line each: that users
 * other than root and ipcd can change the file. */
int conf_load_warn(const char *path, bool must_exist, conf_report_fn report, conf_report_fn warn,
		   void *userdata, struct ipcd_config **ret);

/* What the command line puts over the file, into a configuration no one else holds yet: the
 * listen list replaced by paths (when n_paths > 0), and log.level debug. -ENOMEM, -E2BIG. */
int conf_override(struct ipcd_config *c, char *const *paths, size_t n_paths, bool debug);

struct ipcd_config *conf_ref(struct ipcd_config *c);
struct ipcd_config *conf_unref(struct ipcd_config *c);

/* The effective configuration in libconfig syntax: conf_load() reads it back unchanged. */
void conf_dump(const struct ipcd_config *c, FILE *f);

/* Called once per setting whose value differs; restart_only: applies at the next start. */
typedef void (*conf_change_fn)(const char *name, const char *old_value, const char *new_value,
			       bool restart_only, void *userdata);
unsigned conf_diff(const struct ipcd_config *old, const struct ipcd_config *new, conf_change_fn fn,
		   void *userdata);

/* For the tests that keep conf/ipcd.conf and ipcd.conf.5 in step with the table. */
size_t conf_n_settings(void);
const char *conf_setting_name(size_t i);
/* "1024", "64K"…, as written in the shipped file; and the allowed values in words. */
void conf_setting_default_text(size_t i, char *buf, size_t len);
void conf_setting_allowed_text(size_t i, char *buf, size_t len);

bool conf_id_list_contains(const struct id_list *l, uint32_t id);
