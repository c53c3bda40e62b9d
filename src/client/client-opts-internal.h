/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* client-opts-system.c: what the option checks need to know about this machine. */

/* The CPUs this process may run on (at least 1). */
unsigned client_opts_cpu_count(void);

/* The largest message a unix socket of this type can send here (the send buffer less the
 * kernel's overhead); UINT64_MAX when it cannot be told, and the kernel says it at run time. */
uint64_t client_opts_max_message(int type);

/* net.unix.max_dgram_qlen, or UINT64_MAX when it cannot be read. */
uint64_t client_opts_max_dgram_queue(void);
