/* SPDX-License-Identifier: MIT */
/*
 * What the command line puts over the file (--listen, -v), applied to a loaded configuration
 * so that --check-config prints the configuration ipcd would run with.
 * Pure: no I/O, no logging.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf-internal.h"
#include "conf.h"
#include "macro.h"

int conf_override(struct ipcd_config *c, char *const *paths, size_t n_paths, bool debug) {
	struct str_list l = { NULL, 0 };

	if (n_paths > CONF_LISTEN_MAX)
		return -E2BIG;
	if (n_paths > 0) {
		if (!(l.items = calloc(n_paths, sizeof(char *))))
			return -ENOMEM;
		for (; l.n < n_paths; l.n++)
			if (!(l.items[l.n] = strdup(paths[l.n]))) {
				conf_str_list_clear(&l);
				return -ENOMEM;
			}
		conf_str_list_clear(&c->listen);
		c->listen = l;
	}
	if (debug)
		c->log_level = LOG_DEBUG;
	return 0;
}
