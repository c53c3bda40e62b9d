/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for client-opts.c: any command line either gives options within the ranges
 * ipc-client(1) documents, or one non-empty line of error with the output untouched. The input
 * is the arguments after "ipc-client", separated by NUL or newline bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client-opts.h"
#include "fuzz.h"
#include "macro.h"
#include "sockaddr.h"

#define ARGS_MAX 32
#define ARG_LEN_MAX 256

#define IN(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

static unsigned max_threads;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)argc;
	(void)argv;
	/* --help and --version print to stdout; the fuzzer's own output is on stderr. */
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		abort();
	close(fd);
	/* The default socket must not depend on who runs the fuzzer. */
	unsetenv("IPCD_SOCKET");
	unsetenv("POSIXLY_CORRECT");
	max_threads = (unsigned)MAX(1024, sysconf(_SC_NPROCESSORS_CONF));
	return 0;
}

/* The documented ranges (ipc-client(1)) and the rules between options. */
static void check_opts(const struct client_opts *o) {
	struct unix_address a;

	CHECK(o->command < _CMD_MAX, "command %d", (int)o->command);
	CHECK(o->socket && unix_address_parse(o->socket, &a) == 0, "socket '%s'",
	      o->socket ? o->socket : "(null)");
	CHECK(o->type == SOCK_STREAM || o->type == SOCK_SEQPACKET || o->type == SOCK_DGRAM,
	      "type %d", o->type);
	CHECK(IN(o->threads, 1u, max_threads), "threads %u", o->threads);
	CHECK(o->progress == PROGRESS_AUTO || o->progress == PROGRESS_ALWAYS ||
		      o->progress == PROGRESS_NEVER,
	      "progress %d", (int)o->progress);
	CHECK(!(o->json && o->csv), "json and csv");
	CHECK(IN(o->connect_timeout_usec, USEC_PER_MSEC, 3600 * USEC_PER_SEC), "%" PRIu64,
	      o->connect_timeout_usec);
	CHECK(IN(o->io_timeout_usec, USEC_PER_MSEC, 3600 * USEC_PER_SEC), "%" PRIu64,
	      o->io_timeout_usec);
	CHECK(o->warmup_usec <= 3600 * USEC_PER_SEC, "%" PRIu64, o->warmup_usec);
	CHECK(IN(o->connections, 1, 1000000), "connections %" PRIu64, o->connections);
	CHECK(IN(o->chunk, 1, 64 << 20), "chunk %" PRIu64, o->chunk);
	CHECK(IN(o->depth, 1, 1024), "depth %" PRIu64, o->depth);
	CHECK(IN(o->rate, 1, 100000000), "rate %" PRIu64, o->rate);
	CHECK(IN(o->duration_usec, USEC_PER_MSEC, 24 * 3600 * USEC_PER_SEC), "%" PRIu64,
	      o->duration_usec);
	/* A suite's 0 is "each row's own". */
	CHECK(IN(o->count, 1, 1000000000) || (o->command == CMD_SUITE && o->count == 0),
	      "count %" PRIu64, o->count);
	CHECK(o->ping_interval_usec <= 3600 * USEC_PER_SEC, "%" PRIu64, o->ping_interval_usec);
	CHECK(o->report_interval_usec == 0 ||
		      IN(o->report_interval_usec, 10 * USEC_PER_MSEC, 3600 * USEC_PER_SEC),
	      "%" PRIu64, o->report_interval_usec);
	if (o->limit == LIMIT_DURATION)
		CHECK(o->warmup_usec < o->duration_usec, "warmup %" PRIu64 " of %" PRIu64,
		      o->warmup_usec, o->duration_usec);
	else
		CHECK(o->command == CMD_LOAD, "limit %d for %s", (int)o->limit,
		      client_command_to_string(o->command));
	if (o->command == CMD_LOAD) {
		CHECK(o->depth * o->chunk <= UINT64_C(1) << 30, "depth %" PRIu64 " × %" PRIu64,
		      o->depth, o->chunk);
		if (o->limit == LIMIT_BYTES_PER_CONN)
			CHECK(IN(o->bytes_per_conn, o->chunk, UINT64_C(1) << 50), "%" PRIu64,
			      o->bytes_per_conn);
		if (o->limit == LIMIT_TOTAL_BYTES)
			CHECK(o->total_bytes <= UINT64_C(1) << 56 &&
				      o->total_bytes / o->connections >= o->chunk,
			      "%" PRIu64 " over %" PRIu64, o->total_bytes, o->connections);
	}
	if (o->command == CMD_LOAD || o->command == CMD_RATE)
		CHECK(o->threads <= o->connections, "%u threads", o->threads);
	if (o->command == CMD_RATE)
		CHECK(o->rate >= o->connections, "rate %" PRIu64, o->rate);
	if (o->command == CMD_SUITE)
		CHECK(o->suite && (strcmp(o->suite, "qt") == 0 || strcmp(o->suite, "transports") == 0),
		      "suite");
	CHECK(o->n_sockets <= CLIENT_SOCKETS_MAX, "%zu sockets", o->n_sockets);
	if (o->n_sockets > 0 || o->export_json || o->export_svg)
		CHECK(o->command == CMD_SUITE && strcmp(o->suite, "transports") == 0,
		      "transports options for %s", client_command_to_string(o->command));
	for (size_t i = 0; i < o->n_sockets; i++) {
		struct listen_address a;
		CHECK(listen_address_parse(o->sockets[i], &a) == 0, "socket '%s'", o->sockets[i]);
	}
	CHECK(IN(o->repeat, 1, 1000), "repeat %" PRIu64, o->repeat);
	if (o->repeat > 1)
		CHECK((o->command == CMD_LOAD || o->command == CMD_RATE) &&
			      o->report_interval_usec == 0,
		      "repeat %" PRIu64 " for %s", o->repeat, client_command_to_string(o->command));
	CHECK(client_command_to_string(o->command) && client_type_to_string(o->type), "names");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char **argv, err[CLIENT_ERROR_MAX];
	struct client_opts o, untouched;
	int argc = 1, r;

	/* Each argument its own allocation, so that reading past one is caught. */
	argv = calloc(ARGS_MAX + 2, sizeof(char *));
	if (!argv || !(argv[0] = strdup("ipc-client")))
		abort();
	for (size_t i = 0; i < size && argc <= ARGS_MAX;) {
		size_t n = 0;
		while (i + n < size && data[i + n] != '\0' && data[i + n] != '\n')
			n++;
		if (!(argv[argc++] = strndup((const char *)data + i, MIN(n, ARG_LEN_MAX))))
			abort();
		i += n + 1;
	}
	argv = realloc(argv, (size_t)(argc + 1) * sizeof(char *));
	if (!argv)
		abort();

	memset(&o, 0x5a, sizeof(o));
	untouched = o;
	memset(err, 0, sizeof(err));
	r = client_opts_parse(argc, argv, &o, err, sizeof(err));
	CHECK(r == 0 || r == 1 || r == -EINVAL, "r=%d", r);
	if (r == -EINVAL)
		CHECK(err[0] && !strchr(err, '\n') && strlen(err) < sizeof(err), "error '%s'", err);
	if (r != 0)
		CHECK(memcmp(&o, &untouched, sizeof(o)) == 0, "r=%d but the options were written",
		      r);
	else
		check_opts(&o);

	/* getopt_long() may have permuted the arguments; each is still freed once. */
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	return 0;
}
