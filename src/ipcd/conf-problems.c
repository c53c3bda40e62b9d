/* SPDX-License-Identifier: MIT */
/*
 * The loader's problem list: every check adds its messages here, and the loader has them
 * reported in line order once the whole file has been checked. Below the checks and the
 * loader; it calls none of them.
 * Pure: no I/O, no logging.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-internal.h"
#include "macro.h"

/* Keeps msg for conf_loader_flush(). */
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
_printf_(2, 3) void conf_loader_report_whole(struct loader *l, const char *fmt, ...) {
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_message(l, 0, msg);
}

/* "FILE:LINE: …", or "FILE: …" for line 0. */
_printf_(3, 4) void conf_loader_report(struct loader *l, int line, const char *fmt, ...) {
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
void conf_loader_flush(struct loader *l, conf_report_fn fn, void *userdata) {
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
