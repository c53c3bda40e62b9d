/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for parse.c and sockaddr.c: any string either parses or fails cleanly with
 * the output untouched, every success agrees with the other parsers and its unit table, and
 * every duration format_duration() prints reads back as the same value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "parse.h"
#include "sockaddr.h"

#define SENTINEL UINT64_C(0xdeadbeefcafef00d)
#define STRING_MAX 1024

static const struct {
	const char *suffix;
	uint64_t factor;
} size_suffixes[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "K", UINT64_C(1) << 10 },
	{ "KiB", UINT64_C(1) << 10 },
	{ "M", UINT64_C(1) << 20 },
	{ "MiB", UINT64_C(1) << 20 },
	{ "G", UINT64_C(1) << 30 },
	{ "GiB", UINT64_C(1) << 30 },
	{ "T", UINT64_C(1) << 40 },
	{ "TiB", UINT64_C(1) << 40 },
};

static const struct {
	const char *suffix;
	uint64_t factor;
} time_suffixes[] = {
	{ "us", 1 },
	{ "ms", USEC_PER_MSEC },
	{ "s", USEC_PER_SEC },
	{ "min", 60 * USEC_PER_SEC },
	{ "h", 3600 * USEC_PER_SEC },
};

static const uint64_t default_units[] = { 1, USEC_PER_MSEC, USEC_PER_SEC, 60 * USEC_PER_SEC,
					  3600 * USEC_PER_SEC };

static bool is_bare_number(const char *s) {
	return strspn(s, "0123456789.") == strlen(s);
}

/* What printing a value gives must fit its buffer: a truncated text would read back wrong. */
static void check_formats(uint64_t v) {
	char buf[FORMAT_DURATION_MAX], size[FORMAT_SIZE_MAX], span[32];
	uint64_t back = SENTINEL;
	int r;

	CHECK(format_duration(buf, sizeof(buf), v) == buf, "%" PRIu64, v);
	CHECK(strlen(buf) + 1 < sizeof(buf), "%" PRIu64 " → '%s' may be truncated", v, buf);
	for (size_t i = 0; i < ARRAY_SIZE(default_units); i++) {
		r = parse_duration(buf, default_units[i], &back);
		CHECK(r == 0 && back == v,
		      "%" PRIu64 " → '%s' → r=%d %" PRIu64 " (unit %" PRIu64 ")", v, buf, r, back,
		      default_units[i]);
	}
	CHECK(format_size(size, sizeof(size), v) == size, "%" PRIu64, v);
	CHECK(size[0] && strlen(size) + 1 < sizeof(size), "%" PRIu64 " → '%s'", v, size);
	CHECK(format_timespan(span, sizeof(span), v) == span, "%" PRIu64, v);
	CHECK(span[0] && strlen(span) + 1 < sizeof(span), "%" PRIu64 " → '%s'", v, span);
}

static void check_uint64(const char *s) {
	uint64_t v = SENTINEL, w = SENTINEL;
	char back[32];
	int r = parse_uint64(s, &v);

	CHECK(r == 0 || r == -EINVAL || r == -ERANGE, "'%s' → %d", s, r);
	if (r < 0) {
		CHECK(v == SENTINEL, "'%s' failed but wrote %" PRIu64, s, v);
		/* Overflow is found while reading digits, before any junk after them. */
		CHECK(r != -ERANGE || strspn(s, "0123456789") > 19, "'%s' is out of range", s);
		return;
	}
	/* Digits only, and the same number once leading zeros are gone. */
	CHECK(*s && strspn(s, "0123456789") == strlen(s), "'%s' accepted", s);
	snprintf(back, sizeof(back), "%" PRIu64, v);
	CHECK(strcmp(back, s + MIN(strspn(s, "0"), strlen(s) - 1)) == 0, "'%s' → %" PRIu64, s, v);
	/* A plain number is a size in bytes and a duration in the default unit. */
	CHECK(parse_size(s, &w) == 0 && w == v, "'%s' as a size → %" PRIu64, s, w);
	CHECK(parse_duration(s, 1, &w) == 0 && w == v, "'%s' as usec → %" PRIu64, s, w);
	check_formats(v);
}

static void check_size(const char *s) {
	uint64_t v = SENTINEL, w;
	char text[64];
	int r = parse_size(s, &v);

	CHECK(r == 0 || r == -EINVAL || r == -ERANGE, "'%s' → %d", s, r);
	if (r < 0) {
		CHECK(v == SENTINEL, "'%s' failed but wrote %" PRIu64, s, v);
		return;
	}
	CHECK(s[0] >= '0' && s[0] <= '9', "'%s' accepted", s);
	/* The value in every unit it is a whole multiple of reads back the same. */
	for (size_t i = 0; i < ARRAY_SIZE(size_suffixes); i++) {
		if (v % size_suffixes[i].factor != 0)
			continue;
		snprintf(text, sizeof(text), "%" PRIu64 "%s", v / size_suffixes[i].factor,
			 size_suffixes[i].suffix);
		w = SENTINEL;
		r = parse_size(text, &w);
		CHECK(r == 0 && w == v, "'%s' → %" PRIu64 " but '%s' → r=%d %" PRIu64, s, v, text,
		      r, w);
	}
	check_formats(v);
}

static void check_duration(const char *s) {
	uint64_t got[ARRAY_SIZE(default_units)];
	int rs[ARRAY_SIZE(default_units)];
	char text[64];

	for (size_t i = 0; i < ARRAY_SIZE(default_units); i++) {
		uint64_t v = SENTINEL;
		int r = parse_duration(s, default_units[i], &v);

		CHECK(r == 0 || r == -EINVAL || r == -ERANGE, "'%s' → %d", s, r);
		rs[i] = r;
		got[i] = v;
		if (r < 0) {
			CHECK(v == SENTINEL, "'%s' failed but wrote %" PRIu64, s, v);
			continue;
		}
		CHECK(s[0] >= '0' && s[0] <= '9', "'%s' accepted", s);
		check_formats(v);
		for (size_t j = 0; j < ARRAY_SIZE(time_suffixes); j++) {
			uint64_t w = SENTINEL;
			if (v % time_suffixes[j].factor != 0)
				continue;
			snprintf(text, sizeof(text), "%" PRIu64 "%s", v / time_suffixes[j].factor,
				 time_suffixes[j].suffix);
			r = parse_duration(text, 1, &w);
			CHECK(r == 0 && w == v, "'%s' → %" PRIu64 " but '%s' → r=%d %" PRIu64, s, v,
			      text, r, w);
		}
	}
	/* With a unit written, the default unit cannot matter; without one, it only scales. */
	for (size_t i = 1; i < ARRAY_SIZE(default_units); i++) {
		if (!is_bare_number(s)) {
			CHECK(rs[i] == rs[0] && got[i] == got[0],
			      "'%s': r=%d/%d %" PRIu64 "/%" PRIu64, s, rs[0], rs[i], got[0],
			      got[i]);
			continue;
		}
		if (rs[0] == 0 && rs[i] == 0)
			CHECK(got[i] / default_units[i] == got[0] && got[i] % default_units[i] == 0,
			      "'%s': %" PRIu64 " us but %" PRIu64 " in unit %" PRIu64, s, got[0],
			      got[i], default_units[i]);
		if (rs[0] == 0 && rs[i] < 0)
			CHECK(rs[i] == -ERANGE, "'%s': %" PRIu64 " us but r=%d in unit %" PRIu64, s,
			      got[0], rs[i], default_units[i]);
	}
}

static void check_address(const char *s) {
	struct unix_address a;
	size_t n = strlen(s);
	int r;

	memset(&a, 0xa5, sizeof(a));
	r = unix_address_parse(s, &a);
	CHECK(r == 0 || r == -EINVAL || r == -ENAMETOOLONG, "'%s' → %d", s, r);
	if (r == -ENAMETOOLONG)
		CHECK(n >= sizeof(a.sun.sun_path), "'%s' (%zu bytes) is too long", s, n);
	if (r < 0)
		return;
	CHECK(n > 0 && a.sun.sun_family == AF_UNIX && a.len <= sizeof(a.sun), "'%s': len %u", s,
	      (unsigned)a.len);
	if (s[0] == '@') {
		CHECK(n > 1 && unix_address_is_abstract(&a), "'%s'", s);
		CHECK(a.len == offsetof(struct sockaddr_un, sun_path) + n, "'%s': len %u", s,
		      (unsigned)a.len);
		CHECK(memcmp(a.sun.sun_path + 1, s + 1, n - 1) == 0, "'%s': name differs", s);
	} else {
		CHECK(!unix_address_is_abstract(&a), "'%s'", s);
		CHECK(a.len == offsetof(struct sockaddr_un, sun_path) + n + 1, "'%s': len %u", s,
		      (unsigned)a.len);
		CHECK(strcmp(a.sun.sun_path, s) == 0, "'%s': path differs", s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char *s;
	uint64_t raw = 0;

	if (size > STRING_MAX)
		return -1; /* longer strings only repeat what the first kilobyte exercises */
	/* The string ends at the first NUL, as a C caller would see it. */
	s = strndup((const char *)data, size);
	if (!s)
		abort();
	check_uint64(s);
	check_size(s);
	check_duration(s);
	check_address(s);
	/* The first 8 bytes as a number reach values no decimal text in the corpus would. */
	memcpy(&raw, data, MIN(size, sizeof(raw)));
	check_formats(raw);
	free(s);
	return 0;
}
