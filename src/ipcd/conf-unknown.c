/* SPDX-License-Identifier: MIT */
/*
 * Unknown-setting detection: walks each group's children against the table and, for a
 * plausible typo, names the setting that was probably meant.
 * Pure: no I/O, no logging.
 */
#include <libconfig.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf-internal.h"
#include "macro.h"

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

/* The known setting closest to an unknown one, if it is a plausible typo. A leaf that exists
 * in another group ("limits.workers") counts as close too. */
static const char *suggest(const char *unknown) {
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < CONF_N_SETTINGS; i++) {
		const char *name = conf_settings[i].name;
		size_t d = MIN(edit_distance(unknown, name),
			       edit_distance(conf_leaf_of(unknown), conf_leaf_of(name)));
		if (d < best_d) {
			best_d = d;
			best = name;
		}
	}
	return best_d <= 2 && best_d * 3 < strlen(conf_leaf_of(unknown)) ? best : NULL;
}

static bool is_group_name(const char *name, size_t len) {
	for (size_t i = 0; i < CONF_N_SETTINGS; i++)
		if (strncmp(conf_settings[i].name, name, len) == 0 &&
		    conf_settings[i].name[len] == '.')
			return true;
	return false;
}

static bool is_setting_name(const char *name) {
	for (size_t i = 0; i < CONF_N_SETTINGS; i++)
		if (strcmp(conf_settings[i].name, name) == 0)
			return true;
	return false;
}

void conf_check_unknown(struct loader *l, const config_setting_t *group, const char *prefix) {
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
				conf_check_unknown(l, s, full);
			else
				conf_loader_report(l, config_setting_source_line(s),
						   "%s must be a group: %s = { … };", full, full);
			continue;
		}
		hint = suggest(full);
		if (hint)
			conf_loader_report(l, config_setting_source_line(s),
					   "unknown setting \"%s\" (did you mean \"%s\"?)", full,
					   hint);
		else
			conf_loader_report(l, config_setting_source_line(s),
					   "unknown setting \"%s\"", full);
	}
}
