/* SPDX-License-Identifier: MIT */
#pragma once

#include <sched.h>
#include <stddef.h>

/* CPU lists as taskset(1) and /proc's Cpus_allowed_list write them: "0", "0,2", "0-3,6". */

/* 0 and the set, or -EINVAL (not a list) or -ERANGE (a CPU beyond CPU_SETSIZE). */
int cpulist_parse(const char *s, cpu_set_t *ret);

/* The set as a list, ranges joined: "0-3,6"; "" for an empty set. Returns buf. */
#define CPULIST_MAX 256
char *cpulist_format(char *buf, size_t len, const cpu_set_t *set);

/* The n-th CPU of the set, counting round robin in ascending order; -1 for an empty set. */
int cpulist_nth(const cpu_set_t *set, unsigned n);
