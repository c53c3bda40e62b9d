/* SPDX-License-Identifier: MIT */
/*
 * Numbers, sizes and durations as people write them. One unit table per kind drives both
 * parsing and printing, so what ipcd prints it also reads back. Pure: no logging, no globals.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse.h"

struct unit {
	const char *suffix;
	uint64_t factor;
};

/* Printing uses the first entry of each factor, in this order. SIZE_UNITS_HELP names them all;
 * test-parse checks that it does. */
static const struct unit size_units[] = {
	{ "EiB", UINT64_C(1) << 60 },
	{ "PiB", UINT64_C(1) << 50 },
	{ "TiB", UINT64_C(1) << 40 },
	{ "GiB", UINT64_C(1) << 30 },
	{ "MiB", UINT64_C(1) << 20 },
	{ "KiB", UINT64_C(1) << 10 },
	{ "B", 1 },
	{ "E", UINT64_C(1) << 60 },
	{ "P", UINT64_C(1) << 50 },
	{ "T", UINT64_C(1) << 40 },
	{ "G", UINT64_C(1) << 30 },
	{ "M", UINT64_C(1) << 20 },
	{ "K", UINT64_C(1) << 10 },
};

static const struct unit time_units[] = {
	{ "h", 3600 * USEC_PER_SEC },
	{ "min", 60 * USEC_PER_SEC },
	{ "s", USEC_PER_SEC },
	{ "ms", USEC_PER_MSEC },
	{ "us", 1 },
};

static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

/* Reads a run of at least one decimal digit at *p, advancing *p past all of it even when it
 * overflows (-ERANGE), so that the caller can still tell junk after it (-EINVAL first). */
static int parse_digits(const char **p, uint64_t *ret) {
	uint64_t v = 0;
	bool overflow = false;

	if (!is_digit(**p))
		return -EINVAL;
	for (; is_digit(**p); (*p)++) {
		unsigned d = (unsigned)(**p - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	*ret = v;
	return overflow ? -ERANGE : 0;
}

int parse_uint64(const char *s, uint64_t *ret) {
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_digits(&s, &v);
	if (r == -EINVAL || *s)
		return -EINVAL;
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

/*
 * "<digits>[.<digits>]<suffix>" → value × factor. The fraction is kept exact: it must come out
 * as a whole number of base units, so "0.5K" is 512 but "0.1K" is refused rather than rounded.
 */
static int parse_with_units(const char *s, const struct unit *units, size_t n_units,
			    uint64_t default_factor, bool case_fold, uint64_t *ret) {
	uint64_t whole, frac = 0, frac_scale = 1, factor = 0;
	const char *p = s;
	int overflow;

	if (!s)
		return -EINVAL;
	/* An overflow counts only once the whole string has turned out to be well formed. */
	overflow = parse_digits(&p, &whole);
	if (overflow == -EINVAL)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			if (frac_scale >= UINT64_C(1000000000000))
				return -EINVAL; /* more digits than any unit can make exact */
			frac = frac * 10 + (uint64_t)(*p - '0');
			frac_scale *= 10;
		}
	}

	if (*p == '\0')
		factor = default_factor;
	else
		for (size_t i = 0; i < n_units; i++)
			if (case_fold ? strcasecmp(p, units[i].suffix) == 0
				      : strcmp(p, units[i].suffix) == 0) {
				factor = units[i].factor;
				break;
			}
	if (factor == 0)
		return -EINVAL;

	if (overflow < 0 || whole > UINT64_MAX / factor)
		return -ERANGE;
	uint64_t v = whole * factor;
	if (frac > 0) {
		/* frac < 10^12 < 2^40 and factor <= 2^60: the product needs 128 bits */
		unsigned __int128 f = (unsigned __int128)frac * factor;
		if (f % frac_scale != 0)
			return -EINVAL;
		uint64_t add = (uint64_t)(f / frac_scale);
		if (v > UINT64_MAX - add)
			return -ERANGE;
		v += add;
	}
	*ret = v;
	return 0;
}

bool size_unit_known(const char *suffix) {
	for (size_t i = 0; i < ARRAY_SIZE(size_units); i++)
		if (strcasecmp(suffix, size_units[i].suffix) == 0)
			return true;
	return false;
}

int parse_size(const char *s, uint64_t *ret_bytes) {
	return parse_with_units(s, size_units, ARRAY_SIZE(size_units), 1, true, ret_bytes);
}

int parse_duration(const char *s, uint64_t default_unit_usec, uint64_t *ret_usec) {
	return parse_with_units(s, time_units, ARRAY_SIZE(time_units), default_unit_usec, false,
				ret_usec);
}

char *format_size(char *buf, size_t len, uint64_t bytes) {
	/* The binary units come first in the table, largest first, ending with "B". */
	for (size_t i = 0; i < ARRAY_SIZE(size_units); i++) {
		const struct unit *u = &size_units[i];
		if (u->factor == 1) {
			snprintf(buf, len, "%llu B", (unsigned long long)bytes);
			break;
		}
		if (bytes >= u->factor) {
			snprintf(buf, len, "%.1f %s", (double)bytes / (double)u->factor, u->suffix);
			break;
		}
	}
	return buf;
}

char *format_duration(char *buf, size_t len, uint64_t usec) {
	if (usec == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	/* The largest unit that divides evenly keeps the value exact; "us" always does. */
	for (size_t i = 0; i < ARRAY_SIZE(time_units); i++)
		if (usec % time_units[i].factor == 0) {
			snprintf(buf, len, "%llu%s",
				 (unsigned long long)(usec / time_units[i].factor),
				 time_units[i].suffix);
			break;
		}
	return buf;
}

char *format_timespan(char *buf, size_t len, uint64_t usec) {
	if (usec < USEC_PER_MSEC * 10)
		snprintf(buf, len, "%.1fms", (double)usec / USEC_PER_MSEC);
	else if (usec < USEC_PER_SEC)
		snprintf(buf, len, "%llums", (unsigned long long)(usec / USEC_PER_MSEC));
	else if (usec < 60 * USEC_PER_SEC)
		snprintf(buf, len, "%.1fs", (double)usec / USEC_PER_SEC);
	else if (usec < 3600 * USEC_PER_SEC)
		snprintf(buf, len, "%llumin %llus",
			 (unsigned long long)(usec / (60 * USEC_PER_SEC)),
			 (unsigned long long)(usec / USEC_PER_SEC % 60));
	else
		snprintf(buf, len, "%lluh %llumin",
			 (unsigned long long)(usec / (3600 * USEC_PER_SEC)),
			 (unsigned long long)(usec / (60 * USEC_PER_SEC) % 60));
	return buf;
}
