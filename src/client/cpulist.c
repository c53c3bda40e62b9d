/* SPDX-License-Identifier: MIT */
/*
 * CPU lists for --cpus and the report's placement line: parsing, printing, and which CPU the
 * n-th thread gets. Validation against the CPUs this process may use is client-opts.c's.
 * Pure: no logging, no I/O.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "cpulist.h"

/* A CPU number: digits only, below CPU_SETSIZE. Advances *s past it. */
static int parse_cpu(const char **s, unsigned *ret) {
	unsigned v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v >= CPU_SETSIZE)
			return -ERANGE;
	}
	*s = p;
	*ret = v;
	return 0;
}

int cpulist_parse(const char *s, cpu_set_t *ret) {
	cpu_set_t set;
	int r;

	CPU_ZERO(&set);
	for (;;) {
		unsigned lo, hi;

		r = parse_cpu(&s, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (*s == '-') {
			s++;
			r = parse_cpu(&s, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return -EINVAL;
		}
		for (unsigned c = lo; c <= hi; c++)
			CPU_SET(c, &set);
		if (*s == '\0')
			break;
		if (*s++ != ',')
			return -EINVAL;
	}
	*ret = set;
	return 0;
}

char *cpulist_format(char *buf, size_t len, const cpu_set_t *set) {
	size_t at = 0;
	bool first = true;

	buf[0] = '\0';
	for (unsigned c = 0; c < CPU_SETSIZE && at < len; c++) {
		unsigned end = c;
		int n;

		if (!CPU_ISSET(c, set))
			continue;
		while (end + 1 < CPU_SETSIZE && CPU_ISSET(end + 1, set))
			end++;
		n = end == c ? snprintf(buf + at, len - at, "%s%u", first ? "" : ",", c)
			     : snprintf(buf + at, len - at, "%s%u-%u", first ? "" : ",", c, end);
		at += n > 0 ? (size_t)n : 0;
		first = false;
		c = end;
	}
	return buf;
}

int cpulist_nth(const cpu_set_t *set, unsigned n) {
	int count = CPU_COUNT(set);

	if (count == 0)
		return -1;
	n %= (unsigned)count;
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && n-- == 0)
			return (int)c;
	return -1; /* not reached: count said there were enough */
}
