/* SPDX-License-Identifier: MIT */
/*
 * The integer-literal check: scans the file as written, before libconfig reads it, for what
 * libconfig 1.5 would silently truncate to 32 bits, and refuses @include. Also a number as the
 * file writes it, for the messages: libconfig keeps the value, not its spelling.
 * Pure: no I/O, no logging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-internal.h"
#include "macro.h"

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
	conf_loader_report(
		l, line,
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
bool conf_check_int_literals(struct loader *l) {
	struct literal_owner o = { .depth = 0 };
	struct conf_token t, prev = { .kind = TOKEN_END };
	struct conf_scanner sc;
	bool include = false;

	conf_scan_init(&sc, l->text);
	for (; conf_scan_next(&sc, &t); prev = t) {
		if (t.kind == TOKEN_DIRECTIVE && strncmp(t.start, "@include", 8) == 0) {
			conf_loader_report(l, t.line,
					   "@include is not supported: ipcd reads one file");
			include = true;
		} else if (t.kind == TOKEN_PUNCT && (*t.start == '=' || *t.start == ':') &&
			   prev.kind == TOKEN_NAME) {
			snprintf(o.name, sizeof(o.name), "%.*s", (int)(prev.end - prev.start),
				 prev.start);
		} else if (conf_token_is(&t, "{")) {
			if (o.depth < ARRAY_SIZE(o.group_len)) {
				size_t len = strlen(o.path);
				o.group_len[o.depth++] = len;
				snprintf(o.path + len, sizeof(o.path) - len, "%s%s", len ? "." : "",
					 o.name);
			}
			o.name[0] = '\0';
		} else if (conf_token_is(&t, "}")) {
			if (o.depth > 0)
				o.path[o.group_len[--o.depth]] = '\0';
		} else if (t.kind == TOKEN_INT && !t.int64)
			check_int_literal(l, &o, t.line, t.start, t.end, t.hex);
	}
	return !include;
}

bool conf_number_as_written(const char *text, int line, const char *leaf, char *buf, size_t len) {
	struct conf_token t, name = { .kind = TOKEN_END }, prev = { .kind = TOKEN_END };
	struct conf_scanner sc;

	conf_scan_init(&sc, text);
	for (; conf_scan_next(&sc, &t) && t.line <= line; prev = t) {
		if (t.kind == TOKEN_PUNCT && (*t.start == '=' || *t.start == ':'))
			name = prev;
		else if ((t.kind == TOKEN_INT || t.kind == TOKEN_FLOAT) && t.line == line &&
			 prev.kind == TOKEN_PUNCT && (*prev.start == '=' || *prev.start == ':') &&
			 name.kind == TOKEN_NAME && conf_token_is(&name, leaf)) {
			snprintf(buf, len, "%.*s", (int)(t.end - t.start), t.start);
			return true;
		}
	}
	return false;
}

bool conf_line_has_bad_literal(const struct loader *l, int line) {
	for (size_t i = 0; i < l->n_bad_lines; i++)
		if (l->bad_lines[i] == line)
			return true;
	return false;
}
