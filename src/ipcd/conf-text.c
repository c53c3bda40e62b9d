/* SPDX-License-Identifier: MIT */
/*
 * Settings as text: a value in libconfig syntax and the allowed values in words. The
 * --check-config dump, the reload diff and the loader's messages are all built on them.
 * Pure: no logging; the dump writes to the stream it is given.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf-internal.h"
#include "conf.h"
#include "macro.h"
#include "parse.h"

/* The longest value text: 64 socket addresses of up to 107 bytes after a type prefix of up to
 * 10, each quote escaped; or 1024 ids of up to 11 characters. */
#define VALUE_MAX (CONF_LISTEN_MAX * (2 * (10 + 108) + 4) + 8)

/* A libconfig integer literal beyond 32 bits needs an "L" suffix to be read as 64 bits. */
static void int_text(char *buf, size_t len, uint64_t v) {
	snprintf(buf, len, "%" PRIu64 "%s", v, v > INT32_MAX ? "L" : "");
}

void conf_string_text(char *buf, size_t len, const char *s) {
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
				conf_string_text(buf, len, format_duration(d, sizeof(d), usec));
			return;
		}
		case KIND_BOOL:
			snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false");
			return;
		case KIND_LEVEL:
			conf_string_text(buf, len, conf_level_names[*(const uint64_t *)p]);
			return;
		case KIND_MODE:
			snprintf(buf, len, "\"%04" PRIo64 "\"", *(const uint64_t *)p);
			return;
		case KIND_SOCKETS:
		case KIND_STREAM_SOCKETS: {
			const struct str_list *l = p;
			o = (size_t)snprintf(buf, len, "[");
			for (size_t i = 0; i < l->n && o < len; i++) {
				o += (size_t)snprintf(buf + o, len - o, "%s", i ? ", " : " ");
				if (o < len)
					conf_string_text(buf + o, len - o, l->items[i]);
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

void conf_allowed_text(const struct setting *st, char *buf, size_t len) {
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
				 "a list of %d to %d sockets: \"PATH\" or \"@name\" (unix stream), "
				 "either after \"seqpacket:\" or \"dgram:\", \"tcp:IPV4:PORT\" or "
				 "\"tcp:[IPV6]:PORT\"",
				 (int)st->min, (int)st->max);
			return;
		case KIND_STREAM_SOCKETS:
			snprintf(buf, len,
				 "a list of %d to %d stream sockets: \"PATH\", \"@name\", "
				 "\"tcp:IPV4:PORT\" or \"tcp:[IPV6]:PORT\", empty for none",
				 (int)st->min, (int)st->max);
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

void conf_setting_default_text(size_t i, char *buf, size_t len) {
	_cleanup_(conf_unrefp) struct ipcd_config *c = conf_new_default();
	if (!c || i >= CONF_N_SETTINGS)
		snprintf(buf, len, "?");
	else
		value_text(c, &conf_settings[i], buf, len);
}

void conf_setting_allowed_text(size_t i, char *buf, size_t len) {
	if (i < CONF_N_SETTINGS)
		conf_allowed_text(&conf_settings[i], buf, len);
}

void conf_dump(const struct ipcd_config *c, FILE *f) {
	const char *group = NULL;
	size_t group_len = 0;

	for (size_t i = 0; i < CONF_N_SETTINGS; i++) {
		const struct setting *st = &conf_settings[i];
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
		fprintf(f, "%s%s = %s;\n", group ? "\t" : "", conf_leaf_of(st->name), value);
	}
	if (group)
		fputs("};\n", f);
}

unsigned conf_diff(const struct ipcd_config *old, const struct ipcd_config *new, conf_change_fn fn,
		   void *userdata) {
	unsigned n = 0;

	for (size_t i = 0; i < CONF_N_SETTINGS; i++) {
		char a[VALUE_MAX], b[VALUE_MAX];
		value_text(old, &conf_settings[i], a, sizeof(a));
		value_text(new, &conf_settings[i], b, sizeof(b));
		if (strcmp(a, b) != 0) {
			fn(conf_settings[i].name, a, b, conf_settings[i].restart_only, userdata);
			n++;
		}
	}
	return n;
}
