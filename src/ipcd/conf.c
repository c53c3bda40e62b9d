/* SPDX-License-Identifier: MIT */
/*
 * libconfig → struct ipcd_config. One table row per setting drives parsing, range checks,
 * unknown-key detection with suggestions, defaults, the --check-config dump and the reload
 * diff. Pure: problems go to the caller's report function; no libconfig type leaves this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "macro.h"
#include "parse.h"
#include "sockaddr.h"

#ifndef RUNSTATEDIR
#error "RUNSTATEDIR must come from the build"
#endif

enum kind {
	KIND_COUNT,   /* integer */
	KIND_SIZE,    /* integer bytes, or a string with a unit */
	KIND_SECONDS, /* integer seconds, or a string with a unit; stored in usec */
	KIND_BOOL,
	KIND_LEVEL,   /* syslog level name */
	KIND_MODE,    /* octal string */
	KIND_SOCKETS, /* list of "PATH" or "@name" */
	KIND_UIDS,    /* list of user names or numbers */
	KIND_GIDS,    /* list of group names or numbers */
};

struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	uint64_t def, min, max;
	const char *zero; /* what 0 means, when it is special */
	bool restart_only;
};

#define SEC(s) ((uint64_t)(s)*USEC_PER_SEC)
/* The longest value text: 64 socket addresses of up to 107 bytes, each quote escaped; or 1024
 * ids of up to 11 characters. */
#define VALUE_MAX (CONF_LISTEN_MAX * (2 * 108 + 4) + 8)
#define AT(field) offsetof(struct ipcd_config, field)

/* Rows of one group are adjacent: the dump opens a group when the prefix changes. */
static const struct setting settings[] = {
	{ "limits.max_connections", KIND_COUNT, AT(max_connections), 1024, 1, 1048576, NULL,
	  false },
	{ "limits.max_connections_per_uid", KIND_COUNT, AT(max_connections_per_uid), 0, 0, 1048576,
	  "off", false },
	{ "limits.buffer_size", KIND_SIZE, AT(buffer_size), 65536, 512, 16 << 20, NULL, false },
	{ "limits.max_message_size", KIND_SIZE, AT(max_message_size), 65536, 1, 16 << 20, NULL,
	  false },
	{ "limits.idle_timeout", KIND_SECONDS, AT(idle_timeout_usec), SEC(300), 0, SEC(86400),
	  "off", false },
	{ "limits.max_connection_bytes", KIND_SIZE, AT(max_connection_bytes), 0, 0,
	  UINT64_C(1) << 62, "off", false },
	{ "limits.max_connection_time", KIND_SECONDS, AT(max_connection_time_usec), 0, 0,
	  SEC(UINT64_C(1) << 31), "off", false },
	{ "limits.accept_rate", KIND_COUNT, AT(accept_rate), 0, 0, 10000000, "off", false },
	{ "access.allow_uids", KIND_UIDS, AT(allow_uids), 0, 0, 0, NULL, false },
	{ "access.allow_gids", KIND_GIDS, AT(allow_gids), 0, 0, 0, NULL, false },
	{ "listen", KIND_SOCKETS, AT(listen), 0, 1, CONF_LISTEN_MAX, NULL, true },
	{ "socket_mode", KIND_MODE, AT(socket_mode), 0660, 0, 0777, NULL, true },
	{ "workers", KIND_COUNT, AT(workers), 0, 0, 1024, "one per CPU", true },
	{ "shutdown_timeout", KIND_SECONDS, AT(shutdown_timeout_usec), SEC(10), 0, SEC(3600), NULL,
	  false },
	{ "exit_on_idle", KIND_SECONDS, AT(exit_on_idle_usec), 0, 0, SEC(86400), "never", false },
	{ "preserve_connections", KIND_BOOL, AT(preserve_connections), 1, 0, 1, NULL, false },
	{ "log.level", KIND_LEVEL, AT(log_level), LOG_INFO, LOG_ERR, LOG_DEBUG, NULL, false },
	{ "log.connections", KIND_BOOL, AT(log_connections), 1, 0, 1, NULL, false },
	{ "log.stats_interval", KIND_SECONDS, AT(stats_interval_usec), SEC(60), 0, SEC(86400),
	  "off", false },
};

static const char *const level_names[] = {
	[LOG_ERR] = "err",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

#define DEFAULT_LISTEN RUNSTATEDIR "/ipcd/ipcd.sock"

static uint64_t *field_u64(struct ipcd_config *c, const struct setting *st) {
	return (uint64_t *)((char *)c + st->offset);
}
static const uint64_t *cfield_u64(const struct ipcd_config *c, const struct setting *st) {
	return (const uint64_t *)((const char *)c + st->offset);
}

struct ipcd_config *conf_ref(struct ipcd_config *c) {
	if (c)
		atomic_fetch_add_explicit(&c->n_ref, 1, memory_order_relaxed);
	return c;
}

static void str_list_clear(struct str_list *l) {
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	*l = (struct str_list){ NULL, 0 };
}

static void conf_free(struct ipcd_config *c) {
	free(c->allow_uids.ids);
	free(c->allow_gids.ids);
	str_list_clear(&c->listen);
	free(c);
}

struct ipcd_config *conf_unref(struct ipcd_config *c) {
	/* acq_rel: the last owner must see every other owner's reads finished before freeing. */
	if (c && atomic_fetch_sub_explicit(&c->n_ref, 1, memory_order_acq_rel) == 1)
		conf_free(c);
	return NULL;
}

static void conf_unrefp(struct ipcd_config **c) {
	conf_unref(*c);
}

struct ipcd_config *conf_new_default(void) {
	struct ipcd_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	atomic_init(&c->n_ref, 1);
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		const struct setting *st = &settings[i];
		if (st->kind == KIND_BOOL)
			*(bool *)((char *)c + st->offset) = st->def;
		else if (st->kind != KIND_SOCKETS && st->kind != KIND_UIDS && st->kind != KIND_GIDS)
			*field_u64(c, st) = st->def;
	}
	c->listen.items = calloc(1, sizeof(char *));
	if (!c->listen.items || !(c->listen.items[0] = strdup(DEFAULT_LISTEN))) {
		conf_free(c);
		return NULL;
	}
	c->listen.n = 1;
	return c;
}

/* A libconfig integer literal beyond 32 bits needs an "L" suffix to be read as 64 bits. */
static void int_text(char *buf, size_t len, uint64_t v) {
	snprintf(buf, len, "%" PRIu64 "%s", v, v > INT32_MAX ? "L" : "");
}

static void string_text(char *buf, size_t len, const char *s) {
	size_t o = 0;
	if (len < 3)
		return;
	buf[o++] = '"';
	for (; *s && o + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* A setting's value as libconfig syntax: what the dump writes and the diff compares. */
static void value_text(const struct ipcd_config *c, const struct setting *st, char *buf,
		       size_t len) {
	const void *p = (const char *)c + st->offset;
	size_t o = 0;

	switch (st->kind) {
		case KIND_COUNT:
		case KIND_SIZE:
			int_text(buf, len, *(const uint64_t *)p);
			return;
		case KIND_SECONDS: {
			uint64_t usec = *(const uint64_t *)p;
			char d[FORMAT_DURATION_MAX];
			if (usec % USEC_PER_SEC == 0)
				int_text(buf, len, usec / USEC_PER_SEC);
			else
				string_text(buf, len, format_duration(d, sizeof(d), usec));
			return;
		}
		case KIND_BOOL:
			snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false");
			return;
		case KIND_LEVEL:
			string_text(buf, len, level_names[*(const uint64_t *)p]);
			return;
		case KIND_MODE:
			snprintf(buf, len, "\"%04" PRIo64 "\"", *(const uint64_t *)p);
			return;
		case KIND_SOCKETS: {
			const struct str_list *l = p;
			o = (size_t)snprintf(buf, len, "[");
			for (size_t i = 0; i < l->n && o < len; i++) {
				o += (size_t)snprintf(buf + o, len - o, "%s", i ? ", " : " ");
				if (o < len)
					string_text(buf + o, len - o, l->items[i]);
				o = strlen(buf);
			}
			if (o < len)
				snprintf(buf + o, len - o, " ]");
			return;
		}
		case KIND_UIDS:
		case KIND_GIDS: {
			const struct id_list *l = p;
			o = (size_t)snprintf(buf, len, "[");
			for (size_t i = 0; i < l->n && o < len; i++) {
				o += (size_t)snprintf(buf + o, len - o, "%s", i ? ", " : " ");
				if (o < len)
					int_text(buf + o, len - o,
						 l->ids[i]); /* > 2^31 needs its L */
				o = strlen(buf);
			}
			if (o < len)
				snprintf(buf + o, len - o, " ]");
			return;
		}
	}
}

static void range_text(const struct setting *st, char *buf, size_t len, uint64_t scale,
		       const char *unit, const char *suffixes) {
	int o;
	/* Durations can be fractions of a second, so "0 (off) to N": no lower step to name. */
	if (st->zero && scale > 1)
		o = snprintf(buf, len, "0 (%s) to %" PRIu64, st->zero, st->max / scale);
	else if (st->zero)
		o = snprintf(buf, len, "0 (%s), %" PRIu64 " to %" PRIu64, st->zero,
			     MAX(st->min, 1) / scale, st->max / scale);
	else
		o = snprintf(buf, len, "%" PRIu64 " to %" PRIu64, st->min / scale, st->max / scale);
	if (o > 0 && (size_t)o < len && unit)
		snprintf(buf + o, len - (size_t)o, " %s, or a string such as %s", unit, suffixes);
}

static void allowed_text(const struct setting *st, char *buf, size_t len) {
	switch (st->kind) {
		case KIND_COUNT:
			range_text(st, buf, len, 1, NULL, NULL);
			return;
		case KIND_SIZE:
			range_text(st, buf, len, 1, "bytes", "\"64K\" or \"16MiB\"");
			return;
		case KIND_SECONDS:
			range_text(st, buf, len, USEC_PER_SEC, "seconds", "\"90s\" or \"500ms\"");
			return;
		case KIND_BOOL:
			snprintf(buf, len, "true or false");
			return;
		case KIND_LEVEL:
			snprintf(buf, len,
				 "\"err\", \"warning\", \"notice\", \"info\" or \"debug\"");
			return;
		case KIND_MODE:
			snprintf(buf, len, "an octal string from \"0000\" to \"0777\"");
			return;
		case KIND_SOCKETS:
			snprintf(buf, len,
				 "a list of 1 to %d socket paths or \"@name\" abstract sockets",
				 CONF_LISTEN_MAX);
			return;
		case KIND_UIDS:
			snprintf(buf, len,
				 "a list of up to %d user names or uids, empty for everyone",
				 CONF_IDS_MAX);
			return;
		case KIND_GIDS:
			snprintf(buf, len,
				 "a list of up to %d group names or gids, empty for everyone",
				 CONF_IDS_MAX);
			return;
	}
}

size_t conf_n_settings(void) {
	return ARRAY_SIZE(settings);
}

const char *conf_setting_name(size_t i) {
	return i < ARRAY_SIZE(settings) ? settings[i].name : NULL;
}

void conf_setting_default_text(size_t i, char *buf, size_t len) {
	_cleanup_(conf_unrefp) struct ipcd_config *c = conf_new_default();
	if (!c || i >= ARRAY_SIZE(settings))
		snprintf(buf, len, "?");
	else
		value_text(c, &settings[i], buf, len);
}

void conf_setting_allowed_text(size_t i, char *buf, size_t len) {
	if (i < ARRAY_SIZE(settings))
		allowed_text(&settings[i], buf, len);
}

bool conf_id_list_contains(const struct id_list *l, uint32_t id) {
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	return false;
}

/* ---- loading ---------------------------------------------------------------------------- */

/*
 * libconfig adds each setting to its group after a linear search for a duplicate name, so a
 * file of many short settings parses in quadratic time, and a reload blocks the event loop
 * and the watchdog meanwhile. Measured with --check-config on a 2-CPU machine, a file of
 * nothing but "ab=1;" settings takes about 0.15 s at 24 KiB (4,700 settings), 0.25 s at
 * 32 KiB, 0.8 s at 64 KiB and 8 s at 256 KiB. The shipped, fully commented file is under
 * 6 KiB.
 */
#define CONF_FILE_MAX (24 * 1024)

#define LOADER_ERRORS_MAX 256

struct loader_error {
	int line;
	size_t seq; /* report order, so that sorting by line is stable */
	char *message;
};

struct loader {
	const char *path;
	const char *text; /* the file, to see integer literals as written */
	unsigned n_errors;
	/* Kept until the end so they can be reported in line order; beyond the cap only counted */
	struct loader_error errors[LOADER_ERRORS_MAX];
	size_t n_kept;
	bool bad[ARRAY_SIZE(settings)];
	int bad_lines[LOADER_ERRORS_MAX]; /* lines with a truncated literal: reported already */
	size_t n_bad_lines;
};

/* Keeps msg for loader_flush(). */
static void report_message(struct loader *l, int line, const char *msg) {
	l->n_errors++;
	if (l->n_kept < LOADER_ERRORS_MAX) {
		/* Out of memory, the message is lost but the error still counts: nothing starts. */
		char *m = strdup(msg);
		if (m) {
			l->errors[l->n_kept] = (struct loader_error){ line, l->n_kept, m };
			l->n_kept++;
		}
	}
}

/* A message that names the file itself, as a sentence: no "FILE:" prefix. */
_printf_(2, 3) static void report_whole(struct loader *l, const char *fmt, ...) {
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_message(l, 0, msg);
}

/* "FILE:LINE: …", or "FILE: …" for line 0. */
_printf_(3, 4) static void report(struct loader *l, int line, const char *fmt, ...) {
	char msg[1024];
	va_list ap;
	int o = line > 0 ? snprintf(msg, sizeof(msg), "%s:%d: ", l->path, line)
			 : snprintf(msg, sizeof(msg), "%s: ", l->path);

	va_start(ap, fmt);
	vsnprintf(msg + o, sizeof(msg) - (size_t)o, fmt, ap);
	va_end(ap);
	report_message(l, line, msg);
}

static int error_cmp(const void *a, const void *b) {
	const struct loader_error *x = a, *y = b;
	if (x->line != y->line)
		return (x->line > y->line) - (x->line < y->line);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Reports every kept message in line order, then frees them. */
static void loader_flush(struct loader *l, conf_report_fn fn, void *userdata) {
	char more[64];

	qsort(l->errors, l->n_kept, sizeof(l->errors[0]), error_cmp);
	for (size_t i = 0; i < l->n_kept; i++) {
		fn(l->errors[i].message, userdata);
		free(l->errors[i].message);
	}
	if (l->n_errors > l->n_kept) {
		snprintf(more, sizeof(more), "%s: %u more errors", l->path,
			 l->n_errors - (unsigned)l->n_kept);
		fn(more, userdata);
	}
	l->n_kept = 0;
}

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
			string_text(buf, len, config_setting_get_string(s));
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

static bool line_has_bad_literal(const struct loader *l, int line) {
	for (size_t i = 0; i < l->n_bad_lines; i++)
		if (l->bad_lines[i] == line)
			return true;
	return false;
}

static void setting_error(struct loader *l, const struct setting *st, const config_setting_t *s,
			  const char *reason) {
	char value[256], allowed[256];

	l->bad[st - settings] = true;
	/* Its value was read truncated and has been reported as such: once is enough. */
	if (line_has_bad_literal(l, config_setting_source_line(s)))
		return;
	written_text(s, value, sizeof(value));
	allowed_text(st, allowed, sizeof(allowed));
	report(l, config_setting_source_line(s), "%s = %s: %s (allowed: %s)", st->name, value,
	       reason, allowed);
}

static bool is_name_char(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '*';
}

static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

static bool is_hex_digit(char c) {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The setting an integer literal belongs to, as far as the scan can tell: the groups it is in
 * and the last "name =" before it. */
struct literal_owner {
	char path[256];
	size_t group_len[8]; /* path length at each open group */
	size_t depth;
	char name[64];
};

static void owner_text(const struct literal_owner *o, char *buf, size_t len) {
	snprintf(buf, len, "%s%s%s", o->path, *o->path && *o->name ? "." : "", o->name);
}

static void check_int_literal(struct loader *l, const struct literal_owner *o, int line,
			      const char *s, const char *end, bool hex) {
	char literal[40], owner[320];
	long long v;

	errno = 0;
	v = strtoll(s, NULL, hex ? 16 : 10);
	if (errno == 0 && v >= INT32_MIN && v <= INT32_MAX)
		return;
	snprintf(literal, sizeof(literal), "%.*s", (int)MIN(end - s, 32), s);
	owner_text(o, owner, sizeof(owner));
	report(l, line,
	       "%s%s%s: too large for a plain integer, write it with an L suffix (%sL) or, for a "
	       "size or a duration, as a string with a unit",
	       owner, *owner ? " = " : "", literal, literal);
	if (l->n_bad_lines < ARRAY_SIZE(l->bad_lines))
		l->bad_lines[l->n_bad_lines++] = line;
}

/*
 * libconfig 1.5 reads an integer literal without an "L" suffix as 32 bits and silently
 * truncates it: 5000000000 becomes 705032704, and 4294967296 in a uid list becomes 0, root.
 * So, before anything is read, every integer literal is checked as the file writes it, wherever
 * it stands; comments and strings are skipped. @include is refused: an included file would
 * escape this check and the size limit, and ipcd's configuration is one file. Returns false
 * if the file must not be given to libconfig at all (it would open the included file).
 */
static bool check_int_literals(struct loader *l) {
	struct literal_owner o = { .depth = 0 };
	const char *p = l->text;
	bool include = false;
	int line = 1;

	while (*p) {
		const char *s = p;

		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p = strchrnul(p, '\n');
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			p += *p ? 2 : 0;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				line += *p == '\n';
			}
			p += *p ? 1 : 0;
		} else if (*p == '@') {
			if (strncmp(p, "@include", 8) == 0) {
				report(l, line, "@include is not supported: ipcd reads one file");
				include = true;
			}
			p = strchrnul(p, '\n');
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '*') {
			while (is_name_char(*p))
				p++;
			const char *q = p + strspn(p, " \t\r\n");
			if (*q == '=' || *q == ':')
				snprintf(o.name, sizeof(o.name), "%.*s", (int)(p - s), s);
		} else if (*p == '{') {
			if (o.depth < ARRAY_SIZE(o.group_len)) {
				size_t len = strlen(o.path);
				o.group_len[o.depth++] = len;
				snprintf(o.path + len, sizeof(o.path) - len, "%s%s", len ? "." : "",
					 o.name);
			}
			o.name[0] = '\0';
			p++;
		} else if (*p == '}') {
			if (o.depth > 0)
				o.path[o.group_len[--o.depth]] = '\0';
			p++;
		} else if (is_digit(*p) || ((*p == '-' || *p == '+') && is_digit(p[1]))) {
			bool hex;
			p += *p == '-' || *p == '+';
			hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
			for (p += hex ? 2 : 0; hex ? is_hex_digit(*p) : is_digit(*p); p++)
				;
			if (!hex && (*p == '.' || *p == 'e' || *p == 'E'))
				p += strspn(p, "0123456789.eE+-"); /* a float: not ours to check */
			else if (*p == 'L')
				p += p[1] == 'L' ? 2 : 1; /* 64 bits, as asked */
			else
				check_int_literal(l, &o, line, s, p, hex);
		} else
			p++;
	}
	return !include;
}

static int parse_number(const struct setting *st, const config_setting_t *s, uint64_t *ret,
			char *reason, size_t len) {
	bool with_unit = st->kind == KIND_SIZE || st->kind == KIND_SECONDS;
	uint64_t scale = st->kind == KIND_SECONDS ? USEC_PER_SEC : 1, v;
	int r;

	switch (config_setting_type(s)) {
		case CONFIG_TYPE_INT: /* check_int_literals() saw it was not truncated */
		case CONFIG_TYPE_INT64: {
			long long i = config_setting_get_int64(s);
			if (i < 0 || (uint64_t)i > UINT64_MAX / scale) {
				snprintf(reason, len, "out of range");
				return -EINVAL;
			}
			v = (uint64_t)i * scale;
			break;
		}
		case CONFIG_TYPE_STRING:
			if (!with_unit) {
				snprintf(reason, len, "must be an integer, not a string");
				return -EINVAL;
			}
			r = st->kind == KIND_SIZE ? parse_size(config_setting_get_string(s), &v)
						  : parse_duration(config_setting_get_string(s),
								   USEC_PER_SEC, &v);
			if (r == -ERANGE) {
				snprintf(reason, len, "out of range");
				return -EINVAL;
			}
			if (r < 0) {
				snprintf(reason, len, "not a %s",
					 st->kind == KIND_SIZE ? "size" : "duration");
				return -EINVAL;
			}
			break;
		default:
			snprintf(reason, len, "must be an integer%s",
				 with_unit ? " or a string with a unit" : "");
			return -EINVAL;
	}
	if ((v < st->min || v > st->max) && !(v == 0 && st->zero)) {
		snprintf(reason, len, "out of range");
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* getpwnam_r/getgrnam_r want a caller buffer whose needed size is only known by trying. */
static int lookup_id(bool user, const char *name, uint32_t *ret) {
	size_t size = 1024;

	for (;;) {
		_cleanup_free_ char *buf = malloc(size);
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): freed by _cleanup_free_ */
		r = user ? getpwnam_r(name, &pw, buf, size, &pwp)
			 : getgrnam_r(name, &gr, buf, size, &grp);
		if (r == ERANGE && size < 1024 * 1024) {
			size *= 2;
			continue;
		}
		if (r != 0)
			return -r;
		if (user ? !pwp : !grp)
			return -ESRCH;
		*ret = user ? (uint32_t)pw.pw_uid : (uint32_t)gr.gr_gid;
		return 0;
	}
}

static int parse_ids(const struct setting *st, const config_setting_t *s, struct id_list *out,
		     char *reason, size_t len) {
	bool user = st->kind == KIND_UIDS;
	const char *what = user ? "uid" : "gid";
	int n = config_setting_is_array(s) || config_setting_is_list(s) ? config_setting_length(s)
									: -1;
	_cleanup_free_ uint32_t *ids = NULL;

	if (n < 0 || n > CONF_IDS_MAX) {
		snprintf(reason, len, n < 0 ? "must be a list" : "too many entries");
		return -EINVAL;
	}
	if (n > 0 && !(ids = calloc((size_t)n, sizeof(*ids))))
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		uint64_t v;
		int r;

		if (config_setting_type(e) == CONFIG_TYPE_INT ||
		    config_setting_type(e) == CONFIG_TYPE_INT64) {
			long long x = config_setting_get_int64(e);
			/* (uint32_t)-1 is the kernel's "no id" and matches nobody */
			if (x < 0 || x >= UINT32_MAX) {
				/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_free_ */
				snprintf(reason, len, "%lld is not a valid %s", x, what);
				return -EINVAL;
			}
			ids[i] = (uint32_t)x;
		} else if (config_setting_type(e) == CONFIG_TYPE_STRING) {
			const char *name = config_setting_get_string(e);
			if (parse_uint64(name, &v) == 0 && v < UINT32_MAX)
				ids[i] = (uint32_t)v;
			else if ((r = lookup_id(user, name, &ids[i])) == -ENOMEM)
				return r;
			else if (r < 0) {
				snprintf(reason, len, "unknown %s \"%s\"", user ? "user" : "group",
					 name);
				return -EINVAL;
			}
		} else {
			snprintf(reason, len, "entry %d is neither a name nor a number", i + 1);
			return -EINVAL;
		}
	}
	free(out->ids);
	out->ids = TAKE_PTR(ids);
	out->n = (size_t)n;
	return 0;
}

static int parse_sockets(const config_setting_t *s, struct str_list *out, char *reason,
			 size_t len) {
	int n = config_setting_is_array(s) || config_setting_is_list(s) ? config_setting_length(s)
									: -1;
	struct str_list l = { NULL, 0 };

	if (n < 1 || n > CONF_LISTEN_MAX) {
		snprintf(reason, len,
			 n < 0    ? "must be a list of strings"
			 : n == 0 ? "must not be empty"
				  : "too many entries");
		return -EINVAL;
	}
	if (!(l.items = calloc((size_t)n, sizeof(char *))))
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *p = config_setting_get_string(e);
		struct unix_address a;
		int r;

		if (!p) {
			snprintf(reason, len, "entry %d is not a string", i + 1);
			goto fail;
		}
		r = unix_address_parse(p, &a);
		if (r < 0) {
			snprintf(reason, len, "\"%s\" %s", p,
				 r == -ENAMETOOLONG ? "is too long for a socket address"
						    : "is not a socket path or @name");
			goto fail;
		}
		/* Two spellings of one path would fail at start, the second bind finding the
		 * first: refused here, where the file and line can be named. */
		for (size_t j = 0; j < l.n; j++)
			if (unix_address_same(l.items[j], p)) {
				if (strcmp(l.items[j], p) == 0)
					snprintf(reason, len, "\"%s\" is listed twice", p);
				else
					snprintf(reason, len,
						 "\"%s\" and \"%s\" are the same socket, listed "
						 "twice",
						 l.items[j], p);
				goto fail;
			}
		if (!(l.items[l.n] = strdup(p))) {
			str_list_clear(&l);
			return -ENOMEM;
		}
		l.n++;
	}
	str_list_clear(out);
	*out = l;
	return 0;
fail:
	str_list_clear(&l);
	return -EINVAL;
}

static int parse_setting(const struct setting *st, const config_setting_t *s, struct ipcd_config *c,
			 char *reason, size_t len) {
	void *p = (char *)c + st->offset;
	const char *str;

	switch (st->kind) {
		case KIND_COUNT:
		case KIND_SIZE:
		case KIND_SECONDS:
			return parse_number(st, s, p, reason, len);
		case KIND_BOOL:
			if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
				snprintf(reason, len, "must be true or false");
				return -EINVAL;
			}
			*(bool *)p = config_setting_get_bool(s);
			return 0;
		case KIND_LEVEL:
			str = config_setting_get_string(s);
			for (size_t i = 0; str && i < ARRAY_SIZE(level_names); i++)
				if (level_names[i] && strcmp(str, level_names[i]) == 0) {
					*(uint64_t *)p = i;
					return 0;
				}
			snprintf(reason, len, str ? "unknown level" : "must be a string");
			return -EINVAL;
		case KIND_MODE: {
			uint64_t mode = 0;
			str = config_setting_get_string(s);
			if (!str || !*str || strlen(str) > 4 ||
			    strspn(str, "01234567") != strlen(str)) {
				snprintf(reason, len, "must be an octal string");
				return -EINVAL;
			}
			for (; *str; str++)
				mode = mode * 8 + (uint64_t)(*str - '0');
			if (mode > st->max) {
				snprintf(reason, len, "out of range");
				return -EINVAL;
			}
			*(uint64_t *)p = mode;
			return 0;
		}
		case KIND_SOCKETS:
			return parse_sockets(s, p, reason, len);
		case KIND_UIDS:
		case KIND_GIDS:
			return parse_ids(st, s, p, reason, len);
	}
	return -EINVAL;
}

static size_t edit_distance(const char *a, const char *b) {
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			row[j] =
				MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + (a[i - 1] != b[j - 1]));
			diag = up;
		}
	}
	return row[lb];
}

static const char *leaf_of(const char *name) {
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

/* The known setting closest to an unknown one, if it is a plausible typo. A leaf that exists
 * in another group ("limits.workers") counts as close too. */
static const char *suggest(const char *unknown) {
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		const char *name = settings[i].name;
		size_t d = MIN(edit_distance(unknown, name),
			       edit_distance(leaf_of(unknown), leaf_of(name)));
		if (d < best_d) {
			best_d = d;
			best = name;
		}
	}
	return best_d <= 2 && best_d * 3 < strlen(leaf_of(unknown)) ? best : NULL;
}

static bool is_group_name(const char *name, size_t len) {
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		if (strncmp(settings[i].name, name, len) == 0 && settings[i].name[len] == '.')
			return true;
	return false;
}

static bool is_setting_name(const char *name) {
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		if (strcmp(settings[i].name, name) == 0)
			return true;
	return false;
}

static void check_unknown(struct loader *l, const config_setting_t *group, const char *prefix) {
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		char full[256];
		const char *hint;

		/* libconfig leaves a name NULL when its own strdup() failed. */
		snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "",
			 config_setting_name(s) ? config_setting_name(s) : "(unnamed)");
		if (is_setting_name(full))
			continue;
		if (!*prefix && is_group_name(full, strlen(full))) {
			if (config_setting_is_group(s))
				check_unknown(l, s, full);
			else
				report(l, config_setting_source_line(s),
				       "%s must be a group: %s = { … };", full, full);
			continue;
		}
		hint = suggest(full);
		if (hint)
			report(l, config_setting_source_line(s),
			       "unknown setting \"%s\" (did you mean \"%s\"?)", full, hint);
		else
			report(l, config_setting_source_line(s), "unknown setting \"%s\"", full);
	}
}

static size_t setting_index(const char *name) {
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		if (strcmp(settings[i].name, name) == 0)
			return i;
	abort(); /* the names below are this file's own */
}

/* A pair of settings where small must not exceed large; blamed on the one the file sets,
 * preferring small. */
static void check_not_above(struct loader *l, config_t *cfg, const struct ipcd_config *c,
			    const char *small, const char *large, const char *why) {
	const struct setting *ss = &settings[setting_index(small)];
	const struct setting *ls = &settings[setting_index(large)];
	const config_setting_t *s;
	char reason[256];

	if (l->bad[ss - settings] || l->bad[ls - settings])
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
		report(l, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) && !is_dev_null(&st)) {
		report_whole(l, "'%s' is %s, not a regular file", l->path,
			     file_type_text(st.st_mode));
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if (st.st_size > CONF_FILE_MAX) {
		report_whole(l, "'%s' is %jd bytes; ipcd reads at most %d (%d KiB)", l->path,
			     (intmax_t)st.st_size, CONF_FILE_MAX, CONF_FILE_MAX / 1024);
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
			report(l, 0, "cannot read: %s", strerror(-r));
			return r;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > CONF_FILE_MAX) {
		report_whole(l, "'%s' is more than %d bytes; ipcd reads at most %d (%d KiB)",
			     l->path, CONF_FILE_MAX, CONF_FILE_MAX, CONF_FILE_MAX / 1024);
		return -EFBIG;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		report(l, 0, "cannot read: not a text file");
		return -EBADMSG; /* a NUL byte */
	}
	*ret = TAKE_PTR(buf);
	return 0;
}

static int conf_parse(struct loader *l, config_t *cfg, const char *text, struct ipcd_config **ret) {
	_cleanup_(conf_unrefp) struct ipcd_config *c = NULL;
	int r;

	l->text = text;
	if (!check_int_literals(l))
		return -EINVAL;
	if (!config_read_string(cfg, text)) {
		report(l, config_error_line(cfg), "syntax error: %s", config_error_text(cfg));
		return -EINVAL;
	}
	c = conf_new_default();
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		const config_setting_t *s = config_lookup(cfg, settings[i].name);
		char reason[512]; /* room for two socket paths */

		if (!s)
			continue;
		r = parse_setting(&settings[i], s, c, reason, sizeof(reason));
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			setting_error(l, &settings[i], s, reason);
	}
	check_unknown(l, config_root_setting(cfg), "");
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
		return *ret ? 0 : -ENOMEM;
	}
	if (r >= 0) {
		config_init(&cfg);
		r = conf_parse(&l, &cfg, text, ret);
		config_destroy(&cfg);
	}
	loader_flush(&l, report_fn, userdata);
	return r;
}

int conf_load(const char *path, bool must_exist, conf_report_fn report_fn, void *userdata,
	      struct ipcd_config **ret) {
	return conf_load_warn(path, must_exist, report_fn, NULL, userdata, ret);
}

/* ---- output ----------------------------------------------------------------------------- */

void conf_dump(const struct ipcd_config *c, FILE *f) {
	const char *group = NULL;
	size_t group_len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		const struct setting *st = &settings[i];
		const char *dot = strchr(st->name, '.');
		size_t len = dot ? (size_t)(dot - st->name) : 0;
		char value[VALUE_MAX];

		if (group && (len != group_len || strncmp(group, st->name, len) != 0)) {
			fputs("};\n", f);
			group = NULL;
		}
		if (!group && dot) {
			fprintf(f, "%.*s = {\n", (int)len, st->name);
			group = st->name;
			group_len = len;
		}
		value_text(c, st, value, sizeof(value));
		fprintf(f, "%s%s = %s;\n", group ? "\t" : "", leaf_of(st->name), value);
	}
	if (group)
		fputs("};\n", f);
}

unsigned conf_diff(const struct ipcd_config *old, const struct ipcd_config *new, conf_change_fn fn,
		   void *userdata) {
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		char a[VALUE_MAX], b[VALUE_MAX];
		value_text(old, &settings[i], a, sizeof(a));
		value_text(new, &settings[i], b, sizeof(b));
		if (strcmp(a, b) != 0) {
			fn(settings[i].name, a, b, settings[i].restart_only, userdata);
			n++;
		}
	}
	return n;
}
