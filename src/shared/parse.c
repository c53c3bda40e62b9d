/* SPDX-License-Identifier: MIT */
/*
 * Numbers, sizes and durations as people write them. One unit table per kind drives both
 * parsing and printing, so what ipcd prints it also reads back; and getopt_long()'s failures
 * as one line for people.
 * Pure: no logging, no event loop, no globals of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
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

/* Appends to buf at *at; on truncation *at stays at the end and the line is cut short. */
_printf_(4, 5) static void append(char *buf, size_t len, size_t *at, const char *fmt, ...) {
	va_list ap;
	int n;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	*at = n < 0 ? len : MIN(len, *at + (size_t)n);
}

/* Long options whose names start with the n bytes at name. */
static unsigned long_matches(const struct option *options, const char *name, size_t n) {
	unsigned matches = 0;

	for (const struct option *o = options; o->name; o++)
		matches += strncmp(o->name, name, n) == 0;
	return matches;
}

/* Whether the n bytes at name start a long option of code val that takes no argument. */
static bool takes_no_argument(const struct option *options, const char *name, size_t n, int val) {
	for (const struct option *o = options; o->name; o++)
		if (strncmp(o->name, name, n) == 0 && o->has_arg == no_argument && !o->flag &&
		    o->val == val)
			return true;
	return false;
}

int parse_getopt_error(int c, char *const *argv, const struct option *options, char *buf,
		       size_t len) {
	/* A long option's failure has always consumed it, so it is argv[optind - 1]; a short
	 * one may be inside a cluster ("-vZq") that optind has not left, and only optopt names
	 * it. getopt_long() sets optopt to 0 for an unknown or ambiguous long option, to the
	 * option's code for one given an argument it does not take (an int, often no letter),
	 * and to the letter for a short option. */
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	bool dashdash = strncmp(arg, "--", 2) == 0;
	const char *name = dashdash ? arg + 2 : "";
	size_t n = strcspn(name, "="), at = 0;

	if (c == '?' && optopt != 0 && dashdash && name[n] == '=' &&
	    takes_no_argument(options, name, n, optopt)) {
		snprintf(buf, len, "option '--%.*s' takes no argument", (int)n, name);
	} else if (c == ':' && dashdash) {
		snprintf(buf, len, "option '%s' needs an argument", arg);
	} else if (c == '?' && optopt == 0 && n > 0 && long_matches(options, name, n) > 1) {
		/* getopt_long() took none of several names that start alike. */
		const char *sep = "";
		append(buf, len, &at, "option '--%.*s' is ambiguous (", (int)n, name);
		for (const struct option *o = options; o->name; o++)
			if (strncmp(o->name, name, n) == 0) {
				append(buf, len, &at, "%s--%s", sep, o->name);
				sep = ", ";
			}
		append(buf, len, &at, ")");
	} else if (c == '?' && optopt == 0) {
		snprintf(buf, len, "unknown option '%.*s'", n > 0 ? (int)n + 2 : (int)strlen(arg),
			 arg);
	} else {
		/* A byte that is no printable letter (part of "-é", say) is shown as its value. */
		char letter[8];
		if (optopt > ' ' && optopt < 0x7f)
			snprintf(letter, sizeof(letter), "-%c", optopt);
		else
			snprintf(letter, sizeof(letter), "-\\x%02x", (unsigned)optopt & 0xffu);
		snprintf(buf, len,
			 c == ':' ? "option '%s' needs an argument" : "unknown option '%s'",
			 letter);
	}
	return -EINVAL;
}
