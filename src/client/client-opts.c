/* SPDX-License-Identifier: MIT */
/*
 * ipc-client's command line: argv → struct client_opts, and every check that can be made
 * before opening anything. A problem is one line in the caller's buffer; nothing here prints
 * except --help and --version, and nothing exits.
 * Pure: no logging, no event loop; its only I/O is --help and --version on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client-opts-internal.h"
#include "client-opts.h"
#include "cpulist.h"
#include "macro.h"
#include "parse.h"
#include "sockaddr.h"

#ifndef RUNSTATEDIR
#error "RUNSTATEDIR must come from the build"
#endif

#define CONNECTIONS_MAX 1000000
#define CHUNK_MAX (64u << 20)
#define IN_FLIGHT_MAX (UINT64_C(1) << 30)
#define THREADS_MAX 1024
#define RATE_MAX 100000000
#define COUNT_MAX 1000000000

#define BIT(c) (1u << (c))
#define ALL_COMMANDS                                                                               \
	(BIT(CMD_LOAD) | BIT(CMD_PING) | BIT(CMD_RATE) | BIT(CMD_SUITE) | BIT(CMD_ECHO))
#define RUNS (BIT(CMD_LOAD) | BIT(CMD_RATE) | BIT(CMD_SUITE))

static const char *const command_names[_CMD_MAX] = {
	[CMD_LOAD] = "load",   [CMD_PING] = "ping", [CMD_RATE] = "rate",
	[CMD_SUITE] = "suite", [CMD_ECHO] = "echo",
};

const char *client_command_to_string(enum client_command c) {
	return c < _CMD_MAX ? command_names[c] : NULL;
}

const char *client_type_to_string(int type) {
	return type == SOCK_STREAM ? "stream" : type == SOCK_SEQPACKET ? "seqpacket" : "dgram";
}

enum {
	OPT_TOTAL = 0x100,
	OPT_DEPTH,
	OPT_TYPE,
	OPT_VERIFY,
	OPT_NO_VERIFY,
	OPT_WARMUP,
	OPT_JSON,
	OPT_CSV,
	OPT_PROGRESS,
	OPT_CONNECT_TIMEOUT,
	OPT_IO_TIMEOUT,
	OPT_VERSION,
	OPT_HISTOGRAM,
	OPT_CPUS,
	OPT_EXPORT_JSON,
	OPT_EXPORT_SVG,
	OPT_REPEAT,
};

/* Which commands take each option. */
static const struct {
	int opt;
	const char *name;
	unsigned commands;
} option_commands[] = {
	{ 'c', "-c", BIT(CMD_LOAD) | BIT(CMD_RATE) },
	{ 'b', "-b", BIT(CMD_LOAD) | BIT(CMD_RATE) | BIT(CMD_PING) },
	{ 'n', "-n", BIT(CMD_LOAD) | BIT(CMD_PING) | BIT(CMD_SUITE) },
	{ OPT_TOTAL, "--total", BIT(CMD_LOAD) },
	{ 't', "-t", BIT(CMD_LOAD) | BIT(CMD_RATE) },
	{ OPT_DEPTH, "--depth", BIT(CMD_LOAD) },
	{ 'r', "-r", BIT(CMD_RATE) },
	{ 'j', "-j", RUNS },
	{ 'i', "-i", ALL_COMMANDS & ~BIT(CMD_ECHO) },
	{ OPT_WARMUP, "--warmup", BIT(CMD_LOAD) | BIT(CMD_RATE) },
	{ OPT_JSON, "--json", ALL_COMMANDS & ~BIT(CMD_ECHO) },
	{ OPT_CSV, "--csv", ALL_COMMANDS & ~BIT(CMD_ECHO) },
	{ OPT_PROGRESS, "--progress", RUNS },
	{ OPT_VERIFY, "--verify", ALL_COMMANDS & ~BIT(CMD_ECHO) },
	{ OPT_NO_VERIFY, "--no-verify", ALL_COMMANDS & ~BIT(CMD_ECHO) },
	/* A suite is many runs: one file would not say which. */
	{ OPT_HISTOGRAM, "--histogram", BIT(CMD_LOAD) | BIT(CMD_RATE) | BIT(CMD_PING) },
	{ OPT_CPUS, "--cpus", RUNS },
	{ OPT_EXPORT_JSON, "--export-json", BIT(CMD_SUITE) },
	{ OPT_EXPORT_SVG, "--export-svg", BIT(CMD_SUITE) },
	{ OPT_REPEAT, "--repeat", BIT(CMD_LOAD) | BIT(CMD_RATE) },
};

_printf_(3, 4) static int fail(char *err, size_t len, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

enum number_kind {
	NUM_COUNT,
	NUM_SIZE,
	NUM_TIME,
};

/* One option value: parsed, range-checked, or one line saying why not. */
static int parse_number(const char *opt, const char *value, enum number_kind kind, uint64_t min,
			uint64_t max, uint64_t *ret, char *err, size_t len) {
	char lo[32], hi[32];
	uint64_t v;
	int r;

	r = kind == NUM_COUNT  ? parse_uint64(value, &v)
	    : kind == NUM_SIZE ? parse_size(value, &v)
			       : parse_duration(value, USEC_PER_SEC, &v);
	if (kind == NUM_TIME) {
		format_duration(lo, sizeof(lo), min);
		format_duration(hi, sizeof(hi), max);
	} else {
		snprintf(lo, sizeof(lo), "%" PRIu64, min);
		snprintf(hi, sizeof(hi), "%" PRIu64, max);
	}
	if (r == -EINVAL)
		return fail(err, len, "%s '%s': not %s (allowed: %s to %s%s)", opt, value,
			    kind == NUM_COUNT  ? "a whole number"
			    : kind == NUM_SIZE ? "a size"
					       : "a duration",
			    lo, hi,
			    kind == NUM_SIZE   ? ", with " SIZE_UNITS_HELP
			    : kind == NUM_TIME ? ", with us, ms, s, min or h"
					       : "");
	if (r < 0 || v < min || v > max)
		return fail(err, len, "%s '%s': out of range (allowed: %s to %s)", opt, value, lo,
			    hi);
	*ret = v;
	return 0;
}

/* --cpus: a list of CPUs, every one of them among those this process may run on. */
static int parse_cpus(const char *value, struct client_opts *o, char *err, size_t len) {
	char allowed_text[CPULIST_MAX];
	cpu_set_t allowed, outside;
	int r;

	r = cpulist_parse(value, &o->cpus);
	if (r < 0)
		return fail(err, len, "--cpus '%s': %s", value,
			    r == -ERANGE ? "a CPU number is too large"
					 : "not a CPU list (such as 0, 0,2 or 0-3)");
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return fail(err, len, "--cpus '%s': cannot read the CPUs allowed: %s", value,
			    strerror(errno));
	CPU_AND(&outside, &o->cpus, &allowed);
	CPU_XOR(&outside, &outside, &o->cpus);
	if (CPU_COUNT(&outside) > 0) {
		char bad[CPULIST_MAX];
		return fail(err, len, "--cpus '%s': CPU %s not allowed here (allowed: %s)", value,
			    cpulist_format(bad, sizeof(bad), &outside),
			    cpulist_format(allowed_text, sizeof(allowed_text), &allowed));
	}
	o->pinned = true;
	return 0;
}

#define OPT_CODES 0x120

struct given {
	const char *value[OPT_CODES];
	bool set[OPT_CODES];
};

static bool allowed_for(int opt, enum client_command cmd, const char **ret_name) {
	for (size_t i = 0; i < ARRAY_SIZE(option_commands); i++)
		if (option_commands[i].opt == opt) {
			*ret_name = option_commands[i].name;
			return option_commands[i].commands & BIT(cmd);
		}
	return true;
}

/* Options a person may bring from another tool, and ours that do that job: ping(8) counts
 * with -c, which is the number of connections here. */
static const struct {
	int opt;
	enum client_command command;
	const char *what, *instead;
} option_instead[] = {
	{ 'c', CMD_PING, "its count of round trips", "-n" },
};

static int not_an_option(int opt, const char *name, enum client_command cmd, const char *value,
			 char *err, size_t len) {
	for (size_t i = 0; i < ARRAY_SIZE(option_instead); i++)
		if (option_instead[i].opt == opt && option_instead[i].command == cmd)
			return fail(err, len,
				    "%s is not an option of '%s': %s is %s, as in '%s %s %s'", name,
				    command_names[cmd], option_instead[i].what,
				    option_instead[i].instead, command_names[cmd],
				    option_instead[i].instead, value);
	return fail(err, len, "%s is not an option of '%s'", name, command_names[cmd]);
}

/* err may be NULL: then only whether s is a command. */
static int parse_command(const char *s, enum client_command *ret, char *err, size_t len) {
	for (int c = 0; c < _CMD_MAX; c++)
		if (strcmp(s, command_names[c]) == 0) {
			*ret = (enum client_command)c;
			return 0;
		}
	return err ? fail(err, len, "unknown command '%s' (load, ping, rate, suite or echo)", s)
		   : -EINVAL;
}

static void set_defaults(struct client_opts *o) {
	const char *env = getenv("IPCD_SOCKET");

	*o = (struct client_opts){
		.command = o->command,
		.socket = env && *env ? env : RUNSTATEDIR "/ipcd/ipcd.sock",
		.type = SOCK_STREAM,
		.verify = true,
		.progress = PROGRESS_AUTO,
		.connect_timeout_usec = 5 * USEC_PER_SEC,
		.io_timeout_usec = 10 * USEC_PER_SEC,
		.connections = 1,
		.chunk = o->command == CMD_LOAD ? 4096 : 64,
		.limit = LIMIT_DURATION,
		.duration_usec = 5 * USEC_PER_SEC,
		.depth = 1,
		.rate = 1000,
		.count = 10,
		.ping_interval_usec = USEC_PER_SEC,
		.repeat = 1,
	};
}

/*
 * "ipc-client -c 5 load": the words are those of a valid line, in the wrong order. getopt_long()
 * has moved the operands to the end (argv[first…]), so the options are argv[1…first-1] in the
 * order given; the line is shown again with the first operand, the command, in front.
 */
static int command_after_options(int argc, char **argv, int first, char *err, size_t len) {
	enum client_command cmd;
	size_t at;

	if (parse_command(argv[first], &cmd, NULL, 0) < 0)
		return fail(err, len, "unexpected argument '%s'", argv[first]);
	at = (size_t)snprintf(err, len, "options follow the command: ipc-client %s",
			      command_names[cmd]);
	for (int i = 1; i < argc && at < len; i++)
		if (i != first)
			at += (size_t)snprintf(err + at, len - at, " %s", argv[i]);
	return -EINVAL;
}

/*
 * Collects raw values; what they mean depends on the command, so they are read afterwards.
 * command is argv[0] here, or NULL when argv starts with options ("ipc-client --help").
 */
static int collect(int argc, char **argv, const char *command, struct given *g,
		   struct client_opts *o, char *err, size_t len) {
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "connections", required_argument, NULL, 'c' },
		{ "chunk", required_argument, NULL, 'b' },
		{ "bytes", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'n' },
		{ "total", required_argument, NULL, OPT_TOTAL },
		{ "time", required_argument, NULL, 't' },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "rate", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "csv", no_argument, NULL, OPT_CSV },
		{ "histogram", required_argument, NULL, OPT_HISTOGRAM },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "export-json", required_argument, NULL, OPT_EXPORT_JSON },
		{ "export-svg", required_argument, NULL, OPT_EXPORT_SVG },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{},
	};
	int c;

	optind = 0; /* a fresh scan, also when called twice in one process (tests) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:c:b:n:t:r:j:i:qh", options, NULL)) >= 0)
		switch (c) {
			case 'h':
				client_opts_help();
				return 1;
			case OPT_VERSION:
				printf("ipc-client %s\n", VERSION);
				return 1;
			case ':':
			case '?':
				return parse_getopt_error(c, argv, options, err, len);
			default:
				g->set[c] = true;
				g->value[c] = optarg;
				/* Each one: suite transports takes several. */
				if (c == 's' && o->n_sockets == CLIENT_SOCKETS_MAX)
					return fail(err, len, "-s: at most %d sockets",
						    CLIENT_SOCKETS_MAX);
				if (c == 's')
					o->sockets[o->n_sockets++] = optarg;
		}
	if (optind < argc) {
		if (!command)
			return command_after_options(argc, argv, optind, err, len);
		if (o->command != CMD_SUITE || o->suite)
			return fail(err, len, "unexpected argument '%s'", argv[optind]);
		o->suite = argv[optind++];
		if (optind < argc)
			return fail(err, len, "unexpected argument '%s'", argv[optind]);
	}
	return 0;
}

/* The suite's name, and what only one of them takes. */
static int check_suite(struct client_opts *o, const struct given *g, char *err, size_t len) {
	bool transports = o->suite && strcmp(o->suite, "transports") == 0;

	if (!o->suite)
		return fail(err, len, "missing suite name (allowed: qt, transports)");
	if (!transports && strcmp(o->suite, "qt") != 0)
		return fail(err, len, "unknown suite '%s' (allowed: qt, transports)", o->suite);
	if (!transports && (g->set[OPT_EXPORT_JSON] || g->set[OPT_EXPORT_SVG] || g->set['n']))
		return fail(err, len, "%s: only for suite transports",
			    g->set[OPT_EXPORT_JSON]  ? "--export-json"
			    : g->set[OPT_EXPORT_SVG] ? "--export-svg"
						     : "-n");
	if (!g->set['n'])
		o->count = 0; /* each row's own */
	if (!transports) {
		o->n_sockets = 0;
		return 0;
	}
	if (g->set[OPT_TYPE])
		return fail(err, len,
			    "--type: suite transports takes each socket's type from its "
			    "address (seqpacket:PATH, dgram:PATH)");
	for (size_t i = 0; i < o->n_sockets; i++) {
		struct listen_address a;
		int r = listen_address_parse(o->sockets[i], &a);
		if (r < 0)
			return fail(err, len, "-s '%s' %s", o->sockets[i],
				    listen_address_error(o->sockets[i], r));
	}
	o->export_json = g->value[OPT_EXPORT_JSON];
	o->export_svg = g->value[OPT_EXPORT_SVG];
	return 0;
}

/* Combinations that cannot work, found before anything is opened. */
static int check_combinations(struct client_opts *o, const struct given *g, char *err, size_t len) {
	char a[FORMAT_SIZE_MAX], b[FORMAT_SIZE_MAX];
	int limits = g->set['n'] + g->set[OPT_TOTAL] + g->set['t'], r;

	if (o->command == CMD_SUITE) {
		r = check_suite(o, g, err, len);
		if (r < 0)
			return r;
	}
	if (o->command == CMD_LOAD) {
		if (limits > 1)
			return fail(err, len, "-n, --total and -t are mutually exclusive");
		if (g->set['n']) {
			o->limit = LIMIT_BYTES_PER_CONN;
			if (o->bytes_per_conn < o->chunk)
				return fail(err, len, "-n %s is less than one chunk (-b %s)",
					    g->value['n'], format_size(a, sizeof(a), o->chunk));
		} else if (g->set[OPT_TOTAL]) {
			o->limit = LIMIT_TOTAL_BYTES;
			if (o->total_bytes / o->connections < o->chunk)
				return fail(err, len,
					    "--total %s is less than one chunk (-b %s) for each of "
					    "the %" PRIu64 " connections",
					    g->value[OPT_TOTAL],
					    format_size(a, sizeof(a), o->chunk), o->connections);
		}
		if (o->depth * o->chunk > IN_FLIGHT_MAX)
			return fail(err, len,
				    "--depth %" PRIu64 " of -b %s is %s in flight per connection "
				    "(allowed: at most %s)",
				    o->depth, format_size(a, sizeof(a), o->chunk),
				    format_size(b, sizeof(b), o->depth * o->chunk),
				    format_size((char[FORMAT_SIZE_MAX]){ 0 }, FORMAT_SIZE_MAX,
						IN_FLIGHT_MAX));
	}
	if (o->limit == LIMIT_DURATION && g->set[OPT_WARMUP] && o->warmup_usec >= o->duration_usec)
		return fail(err, len, "--warmup %s must be shorter than the run (-t %s)",
			    g->value[OPT_WARMUP], g->set['t'] ? g->value['t'] : "5s");
	if (o->type != SOCK_STREAM && o->command != CMD_ECHO &&
	    o->chunk > client_opts_max_message(o->type))
		return fail(err, len,
			    "-b %s is larger than a %s message can be here (at most %" PRIu64
			    " bytes, the socket send buffer)",
			    format_size(a, sizeof(a), o->chunk), client_type_to_string(o->type),
			    client_opts_max_message(o->type));
	if (o->type == SOCK_DGRAM && o->depth > client_opts_max_dgram_queue())
		return fail(err, len,
			    "--depth %" PRIu64 " exceeds net.unix.max_dgram_qlen (%" PRIu64
			    "): the server's echoes could not be queued and would be lost",
			    o->depth, client_opts_max_dgram_queue());
	if (o->command == CMD_RATE && o->rate < o->connections)
		return fail(err, len,
			    "-r %" PRIu64 " is less than one message per second for each of the "
			    "%" PRIu64 " connections",
			    o->rate, o->connections);
	/* More threads than connections would only idle. */
	if (o->command == CMD_LOAD || o->command == CMD_RATE)
		o->threads = (unsigned)MIN((uint64_t)o->threads, o->connections);
	return 0;
}

#define NUMBER(code, opt, kind, min, max, field)                                                   \
	do {                                                                                       \
		if (g.set[code] && (r = parse_number(opt, g.value[code], kind, min, max, &o.field, \
						     err, len)) < 0)                               \
			return r;                                                                  \
	} while (0)

int client_opts_parse(int argc, char **argv, struct client_opts *ret, char *err, size_t len) {
	struct client_opts o = { .command = CMD_LOAD };
	struct given g = { .set = { false } };
	struct socket_address a;
	const char *name;
	int r;

	if (argc < 2)
		return fail(err, len, "missing command (load, ping, rate, suite or echo)");
	if (argv[1][0] == '-') {
		/* Only --help and --version stand without a command. */
		r = collect(argc, argv, NULL, &g, &o, err, len);
		return r != 0 ? r
			      : fail(err, len, "missing command (load, ping, rate, suite or echo)");
	}
	r = parse_command(argv[1], &o.command, err, len);
	if (r < 0)
		return r;
	set_defaults(&o);
	r = collect(argc - 1, argv + 1, argv[1], &g, &o, err, len);
	if (r != 0)
		return r;
	for (int c = 0; c < OPT_CODES; c++)
		if (g.set[c] && !allowed_for(c, o.command, &name))
			return not_an_option(c, name, o.command, g.value[c], err, len);

	if (g.set['s'])
		o.socket = g.value['s'];
	r = socket_address_parse(o.socket, &a);
	if (r < 0)
		return fail(err, len, "-s '%s': %s", o.socket,
			    r == -ENAMETOOLONG ? "too long for a unix socket address"
			    : strncmp(o.socket, SOCKET_ADDRESS_TCP_PREFIX,
				      strlen(SOCKET_ADDRESS_TCP_PREFIX)) == 0
				    ? "not a TCP address (allowed: tcp:IPV4:PORT or "
				      "tcp:[IPV6]:PORT, numeric, port 1 to 65535)"
				    : "empty");
	if (g.set[OPT_TYPE]) {
		const char *t = g.value[OPT_TYPE];
		o.type = strcmp(t, "stream") == 0      ? SOCK_STREAM
			 : strcmp(t, "seqpacket") == 0 ? SOCK_SEQPACKET
			 : strcmp(t, "dgram") == 0     ? SOCK_DGRAM
						       : -1;
		if (o.type < 0)
			return fail(err, len,
				    "--type '%s': not a socket type (allowed: stream, "
				    "seqpacket, dgram)",
				    t);
	}
	if (socket_address_is_inet(&a) && o.type != SOCK_STREAM)
		return fail(err, len, "--type %s: TCP is stream only (-s '%s')",
			    client_type_to_string(o.type), o.socket);
	if (g.set[OPT_PROGRESS]) {
		const char *p = g.value[OPT_PROGRESS];
		if (strcmp(p, "auto") == 0)
			o.progress = PROGRESS_AUTO;
		else if (strcmp(p, "always") == 0)
			o.progress = PROGRESS_ALWAYS;
		else if (strcmp(p, "never") == 0)
			o.progress = PROGRESS_NEVER;
		else
			return fail(err, len,
				    "--progress '%s': not a choice (allowed: auto, always, "
				    "never)",
				    p);
	}
	o.json = g.set[OPT_JSON];
	o.csv = g.set[OPT_CSV];
	o.quiet = g.set['q'];
	if (o.json && o.csv)
		return fail(err, len, "--json and --csv are mutually exclusive");
	if (g.set[OPT_HISTOGRAM]) {
		o.histogram = g.value[OPT_HISTOGRAM];
		if (o.histogram[0] == '\0')
			return fail(err, len, "--histogram '': empty file name");
		/* Standard output holds the report; /dev/stdout asks for both on purpose. */
		if (strcmp(o.histogram, "-") == 0)
			return fail(err, len,
				    "--histogram '-': standard output holds the report (name a "
				    "file, or /dev/stdout)");
	}
	if (g.set[OPT_VERIFY] && g.set[OPT_NO_VERIFY])
		return fail(err, len, "--verify and --no-verify are mutually exclusive");
	o.verify = !g.set[OPT_NO_VERIFY];

	NUMBER('c', "-c", NUM_COUNT, 1, CONNECTIONS_MAX, connections);
	NUMBER('b', "-b", NUM_SIZE, 1, CHUNK_MAX, chunk);
	NUMBER(OPT_DEPTH, "--depth", NUM_COUNT, 1, 1024, depth);
	NUMBER('r', "-r", NUM_COUNT, 1, RATE_MAX, rate);
	NUMBER(OPT_CONNECT_TIMEOUT, "--connect-timeout", NUM_TIME, USEC_PER_MSEC,
	       3600 * USEC_PER_SEC, connect_timeout_usec);
	NUMBER(OPT_IO_TIMEOUT, "--io-timeout", NUM_TIME, USEC_PER_MSEC, 3600 * USEC_PER_SEC,
	       io_timeout_usec);
	NUMBER(OPT_WARMUP, "--warmup", NUM_TIME, 0, 3600 * USEC_PER_SEC, warmup_usec);
	NUMBER('t', "-t", NUM_TIME, USEC_PER_MSEC, 24 * 3600 * USEC_PER_SEC, duration_usec);
	if (o.command == CMD_SUITE)
		NUMBER('n', "-n", NUM_COUNT, 1, COUNT_MAX, count);
	if (o.command == CMD_PING) {
		NUMBER('n', "-n", NUM_COUNT, 1, COUNT_MAX, count);
		NUMBER('i', "-i", NUM_TIME, 0, 3600 * USEC_PER_SEC, ping_interval_usec);
	} else {
		if (o.command != CMD_SUITE)
			NUMBER('n', "-n", NUM_SIZE, 1, UINT64_C(1) << 50, bytes_per_conn);
		NUMBER('i', "-i", NUM_TIME, 10 * USEC_PER_MSEC, 3600 * USEC_PER_SEC,
		       report_interval_usec);
	}
	NUMBER(OPT_TOTAL, "--total", NUM_SIZE, 1, UINT64_C(1) << 56, total_bytes);
	NUMBER(OPT_REPEAT, "--repeat", NUM_COUNT, 1, CLIENT_REPEAT_MAX, repeat);
	/* Interval lines of many runs, one after another, would not say which run they are. */
	if (o.repeat > 1 && o.report_interval_usec)
		return fail(err, len, "-i and --repeat %s are mutually exclusive",
			    g.value[OPT_REPEAT]);
	if (g.set[OPT_CPUS] && (r = parse_cpus(g.value[OPT_CPUS], &o, err, len)) < 0)
		return r;
	{
		uint64_t threads = 0;
		if (g.set['j'] && (r = parse_number("-j", g.value['j'], NUM_COUNT, 1, THREADS_MAX,
						    &threads, err, len)) < 0)
			return r;
		o.threads = threads    ? (unsigned)threads
			    : o.pinned ? (unsigned)CPU_COUNT(&o.cpus)
				       : client_opts_cpu_count();
	}
	if (o.command != CMD_SUITE)
		o.n_sockets = 0; /* -s is one socket, o.socket: the list is the suite's */
	r = check_combinations(&o, &g, err, len);
	if (r < 0)
		return r;
	*ret = o;
	return 0;
}
