/* SPDX-License-Identifier: MIT */
/*
 * The integer-literal check: scans the file as written, before libconfig reads it, for what
 * libconfig 1.5 would silently truncate to 32 bits, and refuses @include.
 * Pure: no I/O, no logging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-internal.h"
#include "macro.h"

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
				conf_loader_report(
					l, line, "@include is not supported: ipcd reads one file");
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

bool conf_line_has_bad_literal(const struct loader *l, int line) {
	for (size_t i = 0; i < l->n_bad_lines; i++)
		if (l->bad_lines[i] == line)
			return true;
	return false;
}
