/* SPDX-License-Identifier: MIT */
/*
 * libconfig's syntax errors in words: it says "syntax error" and a line, so the line is looked
 * at for the common causes (a size without quotes, yes for true, a group never closed) and the
 * message says what to write instead. Where the cause is not clear, it says no more than
 * libconfig did.
 * Pure: no I/O, no logging.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf-internal.h"
#include "macro.h"

#define OPEN_MAX 32

static bool is_punct(const struct conf_token *t, const char *chars) {
	return t->kind == TOKEN_PUNCT && strchr(chars, *t->start);
}

/* Where a value stands: after "name =", or as an element of an array or a list. */
static bool starts_value(const struct conf_token *prev) {
	return is_punct(prev, "=:[(");
}

/* The token is a word of its own, not the start of something longer (a path, say). */
static bool ends_word(const struct conf_token *t) {
	return !*t->end || strchr(" \t\r\n;,])}#", *t->end);
}

static bool is_bool_word(const struct conf_token *t) {
	static const char *const words[] = { "yes", "no", "on", "off" };
	size_t n = (size_t)(t->end - t->start);

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strlen(words[i]) == n && strncasecmp(t->start, words[i], n) == 0)
			return true;
	return false;
}

/* A hint from one token on the error's line, given the ones around it; false if none. */
static bool token_hint(const struct conf_token *prev, const struct conf_token *t,
		       const struct conf_token *next, char *buf, size_t len) {
	int n = (int)(t->end - t->start);

	/* 64K, 16MiB, 90s, 1.5M: a number and a unit, which libconfig reads as two tokens. */
	if (t->kind == TOKEN_NAME && (prev->kind == TOKEN_INT || prev->kind == TOKEN_FLOAT) &&
	    prev->end == t->start && ends_word(t)) {
		int m = (int)(t->end - prev->start);
		snprintf(buf, len,
			 "syntax error at '%.*s': write sizes and durations as strings: \"%.*s\"",
			 m, prev->start, m, prev->start);
		return true;
	}
	/* "limits { … }": the "=" left out. */
	if (is_punct(t, "{[(") && prev->kind == TOKEN_NAME) {
		int m = (int)(prev->end - prev->start);
		snprintf(buf, len, "syntax error at '%c': write \"%.*s = %c … %c\"", *t->start, m,
			 prev->start, *t->start,
			 *t->start == '{'   ? '}'
			 : *t->start == '[' ? ']'
					    : ')');
		return true;
	}
	/* A setting where a value should be: "( level = … )" for a group. */
	if (t->kind == TOKEN_NAME && is_punct(prev, "[(") && is_punct(next, "=:")) {
		snprintf(buf, len, "syntax error at '%.*s': settings go in a group, { … }", n,
			 t->start);
		return true;
	}
	if (t->kind == TOKEN_NAME && starts_value(prev) && !is_punct(next, "=:") && ends_word(t)) {
		if (n == 4 && strncasecmp(t->start, "true", 4) == 0)
			return false;
		if (n == 5 && strncasecmp(t->start, "false", 5) == 0)
			return false;
		if (is_bool_word(t))
			snprintf(buf, len, "syntax error at '%.*s': a boolean is true or false", n,
				 t->start);
		else
			snprintf(buf, len,
				 "syntax error at '%.*s': write strings in double quotes: \"%.*s\"",
				 n, t->start, n, t->start);
		return true;
	}
	return false;
}

void conf_syntax_error_text(const char *text, int line, const char *error, char *buf, size_t len) {
	struct conf_token t, prev = { .kind = TOKEN_END }, open[OPEN_MAX];
	struct conf_scanner sc;
	size_t depth = 0;

	if (!error)
		error = "syntax error";
	if (strcmp(error, "mismatched element type in array") == 0) {
		snprintf(buf, len,
			 "syntax error: %s: an array [ … ] holds values of one type: quote every "
			 "entry, or write a list ( … )",
			 error);
		return;
	}
	if (strcmp(error, "syntax error") != 0) {
		snprintf(buf, len, "syntax error: %s", error);
		return;
	}
	snprintf(buf, len, "syntax error");
	if (!text)
		return;
	conf_scan_init(&sc, text);
	for (; conf_scan_next(&sc, &t); prev = t) {
		if (t.line > line)
			return; /* libconfig stopped on the line: nothing there was recognised */
		if (t.line == line) {
			struct conf_scanner ahead = sc;
			struct conf_token next;
			(void)conf_scan_next(&ahead, &next);
			if (token_hint(&prev, &t, &next, buf, len))
				return;
		}
		if (is_punct(&t, "{[(")) {
			if (depth == OPEN_MAX)
				return; /* too deep to say which one is not closed */
			open[depth++] = t;
		} else if (is_punct(&t, "}])")) {
			const char *pairs = "{}[]()";
			if (depth > 0 && strchr(pairs, *open[depth - 1].start)[1] == *t.start) {
				depth--;
				continue;
			}
			if (t.line != line)
				return;
			if (depth == 0)
				snprintf(buf, len,
					 "syntax error at '%c': nothing is open for it to close",
					 *t.start);
			else
				snprintf(buf, len,
					 "syntax error at '%c': the '%c' on line %d is not closed",
					 *t.start, *open[depth - 1].start, open[depth - 1].line);
			return;
		}
	}
	/* At the end of the file, with something still open. */
	if (depth > 0 && line >= prev.line)
		snprintf(buf, len,
			 "syntax error at the end of the file: the '%c' on line %d is not closed",
			 *open[depth - 1].start, open[depth - 1].line);
}
