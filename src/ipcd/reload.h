/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "conf.h"

/* What a load reported: each error logged and counted, the first kept for STATUS=. */
struct conf_errors {
	unsigned n;
	char first[200];
};

/* The file, then what it asks of the system (that a max_message_size message can be sent
 * here). Logs every problem. 1 when the file does not exist and the defaults are used (as
 * conf_load()), -ENOMEM, or another negative errno when it is not valid. */
int config_load(const char *path, bool must_exist, struct conf_errors *e, struct ipcd_config **ret);

/*
 * Reloads on a thread of their own, so that parsing never stalls the main loop (accepting,
 * the watchdog, STATUS=). done runs on the loop with the result: r and e as config_load()
 * gave them, and on success the new configuration, whose reference it takes. A request while
 * one loads asks for one more load after it, however many come.
 */
typedef void (*reload_done_t)(int r, struct ipcd_config *c, const struct conf_errors *e,
			      void *userdata);

struct reloader;

int reloader_new(sd_event *event, const char *path, bool must_exist, reload_done_t done,
		 void *userdata, struct reloader **ret);
/* true: a load started now; false: one is running, and another follows it. <0: failed to
 * start one (nothing runs). */
int reloader_request(struct reloader *r);
/* Waits for a running load (a fraction of a second: the file is capped) and frees. */
struct reloader *reloader_free(struct reloader *r);
