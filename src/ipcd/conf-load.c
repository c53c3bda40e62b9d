/* SPDX-License-Identifier: MIT */
/*
 * The loader: reads the file once and safely, has libconfig parse it, runs every check and
 * reports each problem as "FILE:LINE: …" in line order, through the problem list that
 * conf-problems.c keeps. Never returns half a configuration.
 * Pure: no logging; its only I/O is reading the file it is given.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "conf-internal.h"
#include "conf.h"
#include "macro.h"

/*
 * libconfig adds each setting to its group after a linear search for a duplicate name, so a
 * file of many short settings parses in quadratic time, and a reload blocks the event loop
 * and the watchdog meanwhile. Measured with --check-config on a 2-CPU machine, a file of
 * nothing but "ab=1;" settings takes about 0.15 s at 24 KiB (4,700 settings), 0.25 s at
 * 32 KiB, 0.8 s at 64 KiB and 8 s at 256 KiB. The shipped, fully commented file is under
 * 6 KiB.
 */
#define CONF_FILE_MAX (24 * 1024)

/* A setting's value as the file wrote it, for messages. */
static void written_text(const config_setting_t *s, char *buf, size_t len) {
	switch (config_setting_type(s)) {
		case CONFIG_TYPE_INT:
		case CONFIG_TYPE_INT64:
			snprintf(buf, len, "%lld", config_setting_get_int64(s));
			return;
		case CONFIG_TYPE_FLOAT:
			snprintf(buf, len, "%g", config_setting_get_float(s));
			return;
		case CONFIG_TYPE_BOOL:
			snprintf(buf, len, "%s", config_setting_get_bool(s) ? "true" : "false");
			return;
		case CONFIG_TYPE_STRING:
			conf_string_text(buf, len, config_setting_get_string(s));
			return;
		case CONFIG_TYPE_GROUP:
			snprintf(buf, len, "{ … }");
			return;
		default: {
			size_t o =
				(size_t)snprintf(buf, len, config_setting_is_list(s) ? "(" : "[");
			int n = config_setting_length(s);
			for (int i = 0; i < n && o + 8 < len; i++) {
				o += (size_t)snprintf(buf + o, len - o, "%s", i ? ", " : " ");
				written_text(config_setting_get_elem(s, (unsigned)i), buf + o,
					     len - o - 6);
				o = strlen(buf);
			}
			snprintf(buf + o, len - o, " %s", config_setting_is_list(s) ? ")" : "]");
			return;
		}
	}
}

static void setting_error(struct loader *l, const struct setting *st, const config_setting_t *s,
			  const char *reason) {
	char value[256], allowed[256];

	l->bad[st - conf_settings] = true;
	/* Its value was read truncated and has been reported as such: once is enough. */
	if (conf_line_has_bad_literal(l, config_setting_source_line(s)))
		return;
	/* A number as the file writes it: socket_mode = 0660 is 660 to libconfig, not octal. */
	if (!config_setting_is_number(s) || !l->text ||
	    !conf_number_as_written(l->text, config_setting_source_line(s), conf_leaf_of(st->name),
				    value, sizeof(value)))
		written_text(s, value, sizeof(value));
	conf_allowed_text(st, allowed, sizeof(allowed));
	conf_loader_report(l, config_setting_source_line(s), "%s = %s: %s (allowed: %s)", st->name,
			   value, reason, allowed);
}

static const uint64_t *cfield_u64(const struct ipcd_config *c, const struct setting *st) {
	return (const uint64_t *)((const char *)c + st->offset);
}

static size_t setting_index(const char *name) {
	for (size_t i = 0; i < CONF_N_SETTINGS; i++)
		if (strcmp(conf_settings[i].name, name) == 0)
			return i;
	abort(); /* the names below are this file's own */
}

/* A pair of settings where small must not exceed large; blamed on the one the file sets,
 * preferring small. */
static void check_not_above(struct loader *l, config_t *cfg, const struct ipcd_config *c,
			    const char *small, const char *large, const char *why) {
	const struct setting *ss = &conf_settings[setting_index(small)];
	const struct setting *ls = &conf_settings[setting_index(large)];
	const config_setting_t *s;
	char reason[256];

	if (l->bad[ss - conf_settings] || l->bad[ls - conf_settings])
		return;
	if (*cfield_u64(c, ss) <= *cfield_u64(c, ls))
		return;
	snprintf(reason, sizeof(reason), "%s %s (%" PRIu64 ")%s", "exceeds", large,
		 *cfield_u64(c, ls), why);
	s = config_lookup(cfg, small);
	if (s) {
		setting_error(l, ss, s, reason);
		return;
	}
	snprintf(reason, sizeof(reason), "below %s (%" PRIu64 ")%s", small, *cfield_u64(c, ss),
		 why);
	s = config_lookup(cfg, large);
	if (s)
		setting_error(l, ls, s, reason);
}

/* -c /dev/null is the usual way to say "the built-in defaults". */
static bool is_dev_null(const struct stat *st) {
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

static const char *file_type_text(mode_t mode) {
	switch (mode & S_IFMT) {
		case S_IFDIR:
			return "a directory";
		case S_IFIFO:
			return "a FIFO";
		case S_IFSOCK:
			return "a socket";
		case S_IFCHR:
			return "a character device";
		case S_IFBLK:
			return "a block device";
		default:
			return "of an unknown type";
	}
}

/* Anyone but root and ipcd itself who can change the file can change ipcd's limits. */
static void check_writers(const struct loader *l, const struct stat *st, conf_report_fn warn,
			  void *userdata) {
	char why[128], msg[1024];

	if (st->st_mode & S_IWOTH)
		snprintf(why, sizeof(why), "every user can write it (mode %04o)",
			 (unsigned)(st->st_mode & 07777));
	else if ((st->st_mode & S_IWGRP) && st->st_gid != 0)
		snprintf(why, sizeof(why), "group %u can write it (mode %04o)",
			 (unsigned)st->st_gid, (unsigned)(st->st_mode & 07777));
	else if (st->st_uid != 0 && st->st_uid != geteuid())
		snprintf(why, sizeof(why), "it is owned by uid %u", (unsigned)st->st_uid);
	else
		return;
	snprintf(msg, sizeof(msg), "'%s' can be changed by users other than root and ipcd: %s",
		 l->path, why);
	warn(msg, userdata);
}

/*
 * Opens the file once, without blocking (a FIFO, a terminal), checks what the descriptor is
 * and reads it from that descriptor: what is checked is what is parsed. Reports every
 * problem. Sets *ret to NULL for a missing file when !must_exist.
 */
static int read_file(struct loader *l, bool must_exist, conf_report_fn warn, void *userdata,
		     char **ret) {
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t n = 0;

	fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == ENOENT && !must_exist) {
		*ret = NULL;
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = negative_errno();
		conf_loader_report(l, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) && !is_dev_null(&st)) {
		conf_loader_report_whole(l, "'%s' is %s, not a regular file", l->path,
					 file_type_text(st.st_mode));
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if (st.st_size > CONF_FILE_MAX) {
		conf_loader_report_whole(l, "'%s' is %jd bytes; ipcd reads at most %d (%d KiB)",
					 l->path, (intmax_t)st.st_size, CONF_FILE_MAX,
					 CONF_FILE_MAX / 1024);
		return -EFBIG;
	}
	if (warn && S_ISREG(st.st_mode))
		check_writers(l, &st, warn, userdata);
	if (!(buf = malloc(CONF_FILE_MAX + 1)))
		return -ENOMEM;
	/* The size again while reading: the file may have grown since fstat(). */
	while (n <= CONF_FILE_MAX) {
		ssize_t k = read(fd, buf + n, CONF_FILE_MAX + 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int r = negative_errno();
			conf_loader_report(l, 0, "cannot read: %s", strerror(-r));
			return r;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > CONF_FILE_MAX) {
		conf_loader_report_whole(
			l, "'%s' is more than %d bytes; ipcd reads at most %d (%d KiB)", l->path,
			CONF_FILE_MAX, CONF_FILE_MAX, CONF_FILE_MAX / 1024);
		return -EFBIG;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		conf_loader_report(l, 0, "cannot read: not a text file");
		return -EBADMSG; /* a NUL byte */
	}
	*ret = TAKE_PTR(buf);
	return 0;
}

static int conf_parse(struct loader *l, config_t *cfg, const char *text, struct ipcd_config **ret) {
	_cleanup_(conf_unrefp) struct ipcd_config *c = NULL;
	int r;

	l->text = text;
	if (!conf_check_int_literals(l))
		return -EINVAL;
	if (!config_read_string(cfg, text)) {
		char msg[512];
		conf_syntax_error_text(text, config_error_line(cfg), config_error_text(cfg), msg,
				       sizeof(msg));
		conf_loader_report(l, config_error_line(cfg), "%s", msg);
		return -EINVAL;
	}
	c = conf_new_default();
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < CONF_N_SETTINGS; i++) {
		const config_setting_t *s = config_lookup(cfg, conf_settings[i].name);
		char reason[512]; /* room for two socket paths */

		if (!s)
			continue;
		r = conf_parse_setting(&conf_settings[i], s, c, reason, sizeof(reason));
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			setting_error(l, &conf_settings[i], s, reason);
	}
	conf_check_unknown(l, config_root_setting(cfg), "");
	check_not_above(l, cfg, c, "limits.max_connections_per_uid", "limits.max_connections", "");
	check_not_above(l, cfg, c, "limits.max_message_size", "limits.buffer_size",
			": a message waiting to be echoed must fit in the buffer");
	l->text = NULL;
	if (l->n_errors > 0)
		return -EINVAL;
	*ret = TAKE_PTR(c);
	return 0;
}

int conf_load_warn(const char *path, bool must_exist, conf_report_fn report_fn,
		   conf_report_fn warn_fn, void *userdata, struct ipcd_config **ret) {
	struct loader l = { .path = path };
	_cleanup_free_ char *text = NULL;
	config_t cfg;
	int r;

	r = read_file(&l, must_exist, warn_fn, userdata, &text);
	if (r >= 0 && !text) {
		*ret = conf_new_default();
		return *ret ? 1 : -ENOMEM;
	}
	if (r >= 0) {
		config_init(&cfg);
		r = conf_parse(&l, &cfg, text, ret);
		config_destroy(&cfg);
	}
	conf_loader_flush(&l, report_fn, userdata);
	return r;
}

int conf_load(const char *path, bool must_exist, conf_report_fn report_fn, void *userdata,
	      struct ipcd_config **ret) {
	return conf_load_warn(path, must_exist, report_fn, NULL, userdata, ret);
}
