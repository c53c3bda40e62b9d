/* SPDX-License-Identifier: MIT */
/*
 * The settings table, one row per setting, that drives the rest of the conf module, and the
 * configuration object's lifetime. No libconfig type leaves the module (conf-internal.h is
 * its own).
 * Pure: no logging; problems go to the caller's report function.
 */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf-internal.h"
#include "conf.h"
#include "macro.h"

#ifndef RUNSTATEDIR
#error "RUNSTATEDIR must come from the build"
#endif

#define SEC(s) ((uint64_t)(s)*USEC_PER_SEC)
#define AT(field) offsetof(struct ipcd_config, field)

/* Rows of one group are adjacent: the dump opens a group when the prefix changes. */
const struct setting conf_settings[] = {
	{ "limits.max_connections", KIND_COUNT, AT(max_connections), 1024, 1, 1048576, NULL,
	  false },
	{ "limits.max_connections_per_uid", KIND_COUNT, AT(max_connections_per_uid), 0, 0, 1048576,
	  "off", false },
	{ "limits.buffer_size", KIND_SIZE, AT(buffer_size), 65536, 512, 16 << 20, NULL, false },
	{ "limits.max_message_size", KIND_SIZE, AT(max_message_size), 65536, 1, 16 << 20, NULL,
	  false },
	{ "limits.idle_timeout", KIND_SECONDS, AT(idle_timeout_usec), SEC(300), 0, SEC(86400),
	  "off", false },
	{ "limits.max_connection_bytes", KIND_SIZE, AT(max_connection_bytes), 0, 0,
	  UINT64_C(1) << 62, "off", false },
	{ "limits.max_connection_time", KIND_SECONDS, AT(max_connection_time_usec), 0, 0,
	  SEC(UINT64_C(1) << 31), "off", false },
	{ "limits.accept_rate", KIND_COUNT, AT(accept_rate), 0, 0, 10000000, "off", false },
	{ "access.allow_uids", KIND_UIDS, AT(allow_uids), 0, 0, 0, NULL, false },
	{ "access.allow_gids", KIND_GIDS, AT(allow_gids), 0, 0, 0, NULL, false },
	{ "listen", KIND_SOCKETS, AT(listen), 0, 1, CONF_LISTEN_MAX, NULL, true },
	{ "metrics", KIND_STREAM_SOCKETS, AT(metrics), 0, 0, CONF_LISTEN_MAX, NULL, true },
	{ "socket_mode", KIND_MODE, AT(socket_mode), 0660, 0, 0777, NULL, true },
	{ "workers", KIND_COUNT, AT(workers), 0, 0, 1024, "one per CPU", true },
	{ "shutdown_timeout", KIND_SECONDS, AT(shutdown_timeout_usec), SEC(10), 0, SEC(3600), NULL,
	  false },
	{ "exit_on_idle", KIND_SECONDS, AT(exit_on_idle_usec), 0, 0, SEC(86400), "never", false },
	{ "preserve_connections", KIND_BOOL, AT(preserve_connections), 1, 0, 1, NULL, false },
	{ "log.level", KIND_LEVEL, AT(log_level), LOG_INFO, LOG_ERR, LOG_DEBUG, NULL, false },
	{ "log.connections", KIND_BOOL, AT(log_connections), 0, 0, 1, NULL, false },
	{ "log.stats_interval", KIND_SECONDS, AT(stats_interval_usec), SEC(60), 0, SEC(86400),
	  "off", false },
};

const char *const conf_level_names[] = {
	[LOG_ERR] = "err",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* The loader sizes its per-setting array with the number from conf-internal.h. */
_Static_assert(ARRAY_SIZE(conf_settings) == CONF_N_SETTINGS,
	       "CONF_N_SETTINGS is not the table's size");

#define DEFAULT_LISTEN RUNSTATEDIR "/ipcd/ipcd.sock"

static uint64_t *field_u64(struct ipcd_config *c, const struct setting *st) {
	return (uint64_t *)((char *)c + st->offset);
}

struct ipcd_config *conf_ref(struct ipcd_config *c) {
	if (c)
		atomic_fetch_add_explicit(&c->n_ref, 1, memory_order_relaxed);
	return c;
}

void conf_str_list_clear(struct str_list *l) {
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	*l = (struct str_list){ NULL, 0 };
}

static void conf_free(struct ipcd_config *c) {
	free(c->allow_uids.ids);
	free(c->allow_gids.ids);
	conf_str_list_clear(&c->listen);
	conf_str_list_clear(&c->metrics);
	free(c);
}

struct ipcd_config *conf_unref(struct ipcd_config *c) {
	/* acq_rel: the last owner must see every other owner's reads finished before freeing. */
	if (c && atomic_fetch_sub_explicit(&c->n_ref, 1, memory_order_acq_rel) == 1)
		conf_free(c);
	return NULL;
}

void conf_unrefp(struct ipcd_config **c) {
	conf_unref(*c);
}

struct ipcd_config *conf_new_default(void) {
	struct ipcd_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	atomic_init(&c->n_ref, 1);
	for (size_t i = 0; i < ARRAY_SIZE(conf_settings); i++) {
		const struct setting *st = &conf_settings[i];
		if (st->kind == KIND_BOOL)
			*(bool *)((char *)c + st->offset) = st->def;
		else if (st->kind != KIND_SOCKETS && st->kind != KIND_STREAM_SOCKETS &&
			 st->kind != KIND_UIDS && st->kind != KIND_GIDS)
			*field_u64(c, st) = st->def;
	}
	c->listen.items = calloc(1, sizeof(char *));
	if (!c->listen.items || !(c->listen.items[0] = strdup(DEFAULT_LISTEN))) {
		conf_free(c);
		return NULL;
	}
	c->listen.n = 1;
	return c;
}

size_t conf_n_settings(void) {
	return ARRAY_SIZE(conf_settings);
}

const char *conf_setting_name(size_t i) {
	return i < ARRAY_SIZE(conf_settings) ? conf_settings[i].name : NULL;
}

const char *conf_leaf_of(const char *name) {
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

bool conf_id_list_contains(const struct id_list *l, uint32_t id) {
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	return false;
}
