/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for conf.c: any file either loads into a configuration that keeps the
 * table's rules, or is refused with at least one message and nothing returned; and what
 * conf_dump() writes loads back into the same configuration, dumped identically.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "macro.h"
#include "sockaddr.h"

/* Two memory files, for the input and for its dump: nothing on disk to clean up. */
static struct file {
	int fd;
	char path[64];
} input = { -EBADF, "" }, dumped = { -EBADF, "" };

struct messages {
	const char *path;
	unsigned n;
	char first[1100];
};

static void file_open(struct file *f, const char *name) {
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd < 0)
		abort();
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

static void file_set(struct file *f, const void *data, size_t size) {
	if (ftruncate(f->fd, 0) < 0 || (size > 0 && pwrite(f->fd, data, size, 0) != (ssize_t)size))
		abort();
}

/* Every message names the file first, as the daemon prints it. */
static void collect(const char *m, void *userdata) {
	struct messages *ms = userdata;
	size_t n = strlen(ms->path);

	CHECK(strncmp(m, ms->path, n) == 0 && m[n] == ':', "message without the file: '%s'", m);
	if (ms->n++ == 0)
		snprintf(ms->first, sizeof(ms->first), "%s", m);
}

static int load(struct file *f, struct messages *ms, struct ipcd_config **ret) {
	struct ipcd_config *c = NULL;
	int r;

	*ms = (struct messages){ .path = f->path };
	r = conf_load(f->path, true, collect, ms, &c);
	/* Refused with a reason and nothing returned, or accepted silently: never half of it.
	 * A file that cannot be read as text gives its errno (-EBADMSG for a NUL byte). */
	if (r < 0)
		CHECK(!c && ms->n > 0, "r=%d, %u messages", r, ms->n);
	else
		CHECK(r == 0 && c && ms->n == 0, "r=%d, %u messages, first '%s'", r, ms->n,
		      ms->first);
	*ret = c;
	return r;
}

static bool ids_valid(const struct id_list *l) {
	if (l->n > CONF_IDS_MAX || (l->n > 0) != (l->ids != NULL))
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == UINT32_MAX)
			return false;
	return true;
}

/* The rules between settings, and the ones a plain C struct cannot express by its type. */
static void check_valid(const struct ipcd_config *c) {
	CHECK(c->max_connections >= 1 && c->max_connections <= 1048576, "%" PRIu64,
	      c->max_connections);
	CHECK(c->max_connections_per_uid <= c->max_connections, "%" PRIu64,
	      c->max_connections_per_uid);
	CHECK(c->max_message_size >= 1 && c->max_message_size <= c->buffer_size, "%" PRIu64,
	      c->max_message_size);
	CHECK(c->buffer_size >= 512 && c->buffer_size <= 16 << 20, "%" PRIu64, c->buffer_size);
	CHECK(c->idle_timeout_usec <= UINT64_C(86400) * USEC_PER_SEC, "%" PRIu64,
	      c->idle_timeout_usec);
	CHECK(c->socket_mode <= 0777, "%" PRIo64, c->socket_mode);
	CHECK(c->workers <= 1024, "%" PRIu64, c->workers);
	CHECK(c->log_level >= LOG_ERR && c->log_level <= LOG_DEBUG, "%" PRIu64, c->log_level);
	CHECK(ids_valid(&c->allow_uids) && ids_valid(&c->allow_gids), "%zu/%zu ids",
	      c->allow_uids.n, c->allow_gids.n);
	CHECK(c->listen.n >= 1 && c->listen.n <= CONF_LISTEN_MAX, "%zu listen", c->listen.n);
	for (size_t i = 0; i < c->listen.n; i++) {
		struct listen_address a;
		CHECK(listen_address_parse(c->listen.items[i], &a) == 0, "listen '%s'",
		      c->listen.items[i]);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(c->listen.items[i], c->listen.items[j]) != 0, "'%s' twice",
			      c->listen.items[i]);
	}
}

static char *dump(const struct ipcd_config *c, size_t *ret_size) {
	char *text = NULL;
	FILE *f = open_memstream(&text, ret_size);

	if (!f)
		abort();
	conf_dump(c, f);
	if (fclose(f) != 0)
		abort();
	return text;
}

static void print_change(const char *name, const char *old_value, const char *new_value,
			 bool restart_only, void *userdata) {
	(void)restart_only;
	(void)userdata;
	fprintf(stderr, "reloaded dump changes %s: %s → %s\n", name, old_value, new_value);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	file_open(&input, "fuzz-conf");
	file_open(&dumped, "fuzz-conf-dump");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct ipcd_config *c = NULL, *d = NULL;
	char *text1, *text2;
	size_t n1, n2;
	struct messages ms;

	file_set(&input, data, size);
	if (load(&input, &ms, &c) < 0)
		return 0;
	check_valid(c);

	text1 = dump(c, &n1);
	file_set(&dumped, text1, n1);
	if (load(&dumped, &ms, &d) < 0) {
		fprintf(stderr, "dump:\n%s", text1);
		CHECK(false, "the dump of a loaded configuration does not load back: %s", ms.first);
	}
	text2 = dump(d, &n2);
	if (n1 != n2 || memcmp(text1, text2, n1) != 0) {
		fprintf(stderr, "first dump:\n%s\nsecond dump:\n%s\n", text1, text2);
		CHECK(false, "the dump does not read back identically");
	}
	CHECK(conf_diff(c, d, print_change, NULL) == 0, "the reloaded dump differs");
	free(text1);
	free(text2);
	conf_unref(c);
	conf_unref(d);
	return 0;
}
