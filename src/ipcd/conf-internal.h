/* SPDX-License-Identifier: MIT */
/*
 * What the conf-*.c files share and nobody outside the conf module sees: the settings table,
 * the loader's state, and the functions one piece of the module calls in another.
 */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#include "conf.h"
#include "macro.h"

enum kind {
	KIND_COUNT,   /* integer */
	KIND_SIZE,    /* integer bytes, or a string with a unit */
	KIND_SECONDS, /* integer seconds, or a string with a unit; stored in usec */
	KIND_BOOL,
	KIND_LEVEL,   /* syslog level name */
	KIND_MODE,    /* octal string */
	KIND_SOCKETS, /* list of listen addresses: "PATH", "@name", "seqpacket:…", "dgram:…",
			 "tcp:…" */
	KIND_STREAM_SOCKETS, /* the same, stream only: "PATH", "@name", "tcp:…" */
	KIND_UIDS,           /* list of user names or numbers */
	KIND_GIDS,           /* list of group names or numbers */
};

struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	uint64_t def, min, max;
	const char *zero; /* what 0 means, when it is special */
	bool restart_only;
};

/* A number, not the table's size, so that the loader can size an array by it: conf.c checks
 * that the two agree. */
#define CONF_N_SETTINGS 20

extern const struct setting conf_settings[];
extern const char *const conf_level_names[LOG_DEBUG + 1];

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
	bool bad[CONF_N_SETTINGS];
	int bad_lines[LOADER_ERRORS_MAX]; /* lines with a truncated literal: reported already */
	size_t n_bad_lines;
};

/* conf.c */
void conf_unrefp(struct ipcd_config **c);
void conf_str_list_clear(struct str_list *l);
/* The name after the last dot: "max_connections" for "limits.max_connections". */
const char *conf_leaf_of(const char *name);

/* conf-text.c */
/* s as a libconfig string: quoted, with '"' and '\\' escaped. */
void conf_string_text(char *buf, size_t len, const char *s);
void conf_allowed_text(const struct setting *st, char *buf, size_t len);

/* conf-problems.c: the loader's problem list, below every check */
/* "FILE:LINE: …", or "FILE: …" for line 0. */
_printf_(3, 4) void conf_loader_report(struct loader *l, int line, const char *fmt, ...);
/* A message that names the file itself, as a sentence: no "FILE:" prefix. */
_printf_(2, 3) void conf_loader_report_whole(struct loader *l, const char *fmt, ...);
/* Reports every kept message in line order through fn, then frees them. */
void conf_loader_flush(struct loader *l, conf_report_fn fn, void *userdata);

/* conf-scan.c */
enum token_kind {
	TOKEN_END,
	TOKEN_NAME,
	TOKEN_INT,
	TOKEN_FLOAT,
	TOKEN_STRING,    /* with its quotes */
	TOKEN_DIRECTIVE, /* "@include …", to the end of the line */
	TOKEN_PUNCT,     /* one character: = : ; , { } [ ] ( ), or anything else */
};

struct conf_token {
	enum token_kind kind;
	const char *start, *end; /* in the text */
	int line;                /* where it starts */
	bool hex, int64;         /* TOKEN_INT: 0x…, an L suffix */
};

struct conf_scanner {
	const char *p;
	int line;
};

void conf_scan_init(struct conf_scanner *sc, const char *text);
/* The next token, comments skipped; false (and TOKEN_END) at the end of the text. */
bool conf_scan_next(struct conf_scanner *sc, struct conf_token *ret);
bool conf_token_is(const struct conf_token *t, const char *s);

/* conf-literal.c */
bool conf_check_int_literals(struct loader *l);
bool conf_line_has_bad_literal(const struct loader *l, int line);
/* The number that "leaf = …" on line has, as the file writes it ("0660", not 660); false if
 * the line has none. */
bool conf_number_as_written(const char *text, int line, const char *leaf, char *buf, size_t len);

/* conf-hint.c */
/* libconfig's error on line in words, with a hint where what the file has there shows a
 * common cause ("syntax error at '64K': write sizes …"); without one when unsure. */
void conf_syntax_error_text(const char *text, int line, const char *error, char *buf, size_t len);

/* conf-parse.c */
/* Fills reason and returns -EINVAL when s is not a valid value for st; -ENOMEM. */
int conf_parse_setting(const struct setting *st, const config_setting_t *s, struct ipcd_config *c,
		       char *reason, size_t len);

/* conf-unknown.c */
/* Reports every setting under group that the table does not know, with a suggestion. */
void conf_check_unknown(struct loader *l, const config_setting_t *group, const char *prefix);
