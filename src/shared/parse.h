/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Strict number parsing shared by ipcd and ipc-client. Each parser accepts the whole string or
 * nothing: no sign, no leading or trailing blanks, no junk. Failures are -EINVAL (not a number
 * of that kind) or -ERANGE (does not fit in 64 bits); the output is untouched on failure.
 * Range checks against a setting's limits are the caller's, because the message names the
 * setting.
 */

/* Decimal digits only. */
int parse_uint64(const char *s, uint64_t *ret);

/* A byte count: "512", "64K", "1.5MiB", "16M". K, M, G, T, P and E are powers of 1024, as are
 * KiB … EiB; suffixes ignore case. A fraction must give a whole number of bytes. */
int parse_size(const char *s, uint64_t *ret_bytes);

/* Every suffix parse_size() takes, for messages that list them. */
#define SIZE_UNITS_HELP "B, K, M, G, T, P, E (powers of 1024) or KiB, MiB, GiB, TiB, PiB, EiB"

/* Whether parse_size() takes suffix (any case): for tests that keep SIZE_UNITS_HELP true. */
bool size_unit_known(const char *suffix);

/* A duration: "500ms", "1.5s", "250us", "2min", "1h". A bare number is in default_unit_usec
 * (USEC_PER_SEC for settings given in seconds). A fraction must give whole microseconds. */
int parse_duration(const char *s, uint64_t default_unit_usec, uint64_t *ret_usec);

/* For people: "512 B", "64.0 KiB", "1.3 GiB". Returns buf. */
char *format_size(char *buf, size_t len, uint64_t bytes);

/* Exact, and parseable by parse_duration(): "300s", "1500ms", "0". Returns buf. */
char *format_duration(char *buf, size_t len, uint64_t usec);

/* For people, rounded: "0.4ms", "12ms", "1.5s", "2min 5s", "3h 20min". Returns buf. */
char *format_timespan(char *buf, size_t len, uint64_t usec);

/*
 * After getopt_long() returned '?' or ':' (optstring starting with ':', opterr = 0, so that it
 * prints nothing): one line in buf naming the option as it was typed, from argv, optind and
 * optopt, and what is wrong with it ("option '--json' takes no argument"). c is what
 * getopt_long() returned; argv and options are what it was given. Returns -EINVAL.
 */
struct option;
int parse_getopt_error(int c, char *const *argv, const struct option *options, char *buf,
		       size_t len);

#define FORMAT_SIZE_MAX 32
#define FORMAT_DURATION_MAX 32
