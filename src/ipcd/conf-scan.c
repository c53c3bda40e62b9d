/* SPDX-License-Identifier: MIT */
/*
 * The file as written, token by token, with comments skipped and lines counted: for the checks
 * that look at what libconfig does not say (integer literals, values as written, syntax error
 * hints). Not a parser: it knows libconfig's tokens, not its grammar.
 * Pure: no I/O, no logging.
 */
#include <string.h>

#include "conf-internal.h"

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

void conf_scan_init(struct conf_scanner *sc, const char *text) {
	*sc = (struct conf_scanner){ .p = text, .line = 1 };
}

bool conf_scan_next(struct conf_scanner *sc, struct conf_token *ret) {
	const char *p = sc->p;

	for (;;) {
		if (*p == '\n') {
			sc->line++;
			p++;
		} else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') {
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p = strchrnul(p, '\n');
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				sc->line += *p == '\n';
			p += *p ? 2 : 0;
		} else
			break;
	}
	*ret = (struct conf_token){ .kind = TOKEN_PUNCT, .start = p, .line = sc->line };
	if (!*p) {
		ret->kind = TOKEN_END;
	} else if (*p == '"') {
		ret->kind = TOKEN_STRING;
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			sc->line += *p == '\n';
		}
		p += *p ? 1 : 0;
	} else if (*p == '@') {
		ret->kind = TOKEN_DIRECTIVE;
		p = strchrnul(p, '\n');
	} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '*') {
		ret->kind = TOKEN_NAME;
		while (is_name_char(*p))
			p++;
	} else if (is_digit(*p) || ((*p == '-' || *p == '+') && is_digit(p[1]))) {
		ret->kind = TOKEN_INT;
		p += *p == '-' || *p == '+';
		ret->hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
		for (p += ret->hex ? 2 : 0; ret->hex ? is_hex_digit(*p) : is_digit(*p); p++)
			;
		if (!ret->hex && (*p == '.' || *p == 'e' || *p == 'E')) {
			ret->kind = TOKEN_FLOAT;
			p += strspn(p, "0123456789.eE+-");
		} else if (*p == 'L') {
			ret->int64 = true;
			p += p[1] == 'L' ? 2 : 1;
		}
	} else
		p++;
	ret->end = p;
	sc->p = p;
	return ret->kind != TOKEN_END;
}

bool conf_token_is(const struct conf_token *t, const char *s) {
	size_t n = strlen(s);
	return (size_t)(t->end - t->start) == n && strncmp(t->start, s, n) == 0;
}
