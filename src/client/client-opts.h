/* SPDX-License-Identifier: MIT */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum client_command {
	CMD_LOAD,
	CMD_PING,
	CMD_RATE,
	CMD_SUITE,
	CMD_ECHO,
	_CMD_MAX,
};

enum progress_mode {
	PROGRESS_AUTO,
	PROGRESS_ALWAYS,
	PROGRESS_NEVER,
};

/* How a load run ends: each connection's bytes, all connections' bytes, or a time. */
enum load_limit {
	LIMIT_BYTES_PER_CONN,
	LIMIT_TOTAL_BYTES,
	LIMIT_DURATION,
};

#define CLIENT_SOCKETS_MAX 16

/* Everything the command line says, validated; all times in usec, sizes in bytes. */
struct client_opts {
	enum client_command command;
	const char *socket;
	int type; /* SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM */
	unsigned threads;
	bool verify;
	uint64_t warmup_usec;
	uint64_t report_interval_usec; /* -i: periodic lines, 0 = off */
	bool json, csv, quiet;
	enum progress_mode progress;
	uint64_t connect_timeout_usec;
	uint64_t io_timeout_usec;

	uint64_t connections;
	uint64_t chunk;
	enum load_limit limit;
	uint64_t bytes_per_conn; /* -n for load */
	uint64_t total_bytes;    /* --total */
	uint64_t duration_usec;  /* -t */
	uint64_t depth;
	uint64_t rate; /* messages per second, for rate */

	uint64_t count;              /* ping -n; suite -n: each row's round trips, 0: its own */
	uint64_t ping_interval_usec; /* ping --interval */
	const char *suite;
	/* suite transports: the ipcd sockets, written as ipcd's listen entries (every -s given) */
	const char *sockets[CLIENT_SOCKETS_MAX];
	size_t n_sockets;
	const char *export_json; /* suite transports: the JSON document to this file too */
	const char *export_svg;  /* suite transports: the chart to this file */
	const char *histogram;   /* --histogram FILE: the distribution after the run, or NULL */
	uint64_t repeat;         /* --repeat: independent complete runs of load or rate (1: one) */

	bool pinned;    /* --cpus: the driver's threads are pinned … */
	cpu_set_t cpus; /* … one to each of these, round robin; all of them for the rest */
};

/* --help: the usage text on stdout (client-opts-help.c). */
void client_opts_help(void);

#define CLIENT_ERROR_MAX 256
#define CLIENT_REPEAT_MAX 1000 /* --repeat */

/*
 * Parses and validates argv. 0: run; 1: help or version was printed, exit 0; -EINVAL: a usage
 * error, described in one line in err (without a program name prefix).
 */
int client_opts_parse(int argc, char **argv, struct client_opts *ret, char *err, size_t errlen);

const char *client_command_to_string(enum client_command c);
const char *client_type_to_string(int type);
