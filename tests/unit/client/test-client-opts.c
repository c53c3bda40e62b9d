/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client-opts.h"
#include "macro.h"
#include "parse.h"
#include "tests.h"

#define MAX_ARGS 16

static int parse(const char *line, struct client_opts *o, char *err) {
	static char buf[512];
	char *argv[MAX_ARGS] = { "ipc-client" };
	int argc = 1;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *tok = strtok(buf, " "); tok && argc < MAX_ARGS; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	err[0] = '\0';
	return client_opts_parse(argc, argv, o, err, CLIENT_ERROR_MAX);
}

static const struct {
	const char *args;
	const char *message;
} bad[] = {
	{ "", "missing command" },
	{ "--bogus", "unknown option '--bogus'" },
	{ "frob", "unknown command 'frob'" },
	{ "load -c 0", "-c '0': out of range (allowed: 1 to 1000000)" },
	{ "load -c -5", "-c '-5': not a whole number" },
	{ "load -c 99999999999999999999999", "-c '99999999999999999999999': out of range" },
	{ "load -c 10x", "-c '10x': not a whole number" },
	{ "load -b 0", "-b '0': out of range" },
	{ "load -b 65M", "-b '65M': out of range (allowed: 1 to 67108864)" },
	{ "load -b 1Q", "-b '1Q': not a size" },
	{ "load -b 1Q", "with " SIZE_UNITS_HELP ")" },
	{ "load -n 2P", "-n '2P': out of range (allowed: 1 to 1125899906842624)" },
	{ "load --total 65P", "--total '65P': out of range" },
	{ "load -b 0.1K", "-b '0.1K': not a size" },
	{ "load -t 0", "-t '0': out of range" },
	{ "load -t 5parsecs", "-t '5parsecs': not a duration" },
	{ "load -n 100 -b 4K", "-n 100 is less than one chunk (-b 4.0 KiB)" },
	{ "load -n 1M -t 5", "-n, --total and -t are mutually exclusive" },
	{ "load --total 1K -c 10 -b 1K", "--total 1K is less than one chunk" },
	{ "load --depth 0", "--depth '0': out of range" },
	{ "load --depth 1024 -b 64M", "in flight per connection" },
	{ "load --warmup 5s -t 5s", "--warmup 5s must be shorter than the run" },
	{ "load -r 10", "-r is not an option of 'load'" },
	{ "load -j 0", "-j '0': out of range" },
	{ "load --json --csv", "--json and --csv are mutually exclusive" },
	{ "load --verify --no-verify", "mutually exclusive" },
	{ "load --type pipe", "--type 'pipe': not a socket type" },
	{ "load --type seqpacket -b 16M", "larger than a seqpacket message can be here" },
	{ "load --type dgram --depth 1000", "net.unix.max_dgram_qlen" },
	{ "load --progress sometimes", "--progress 'sometimes': not a choice" },
	{ "load -s @", "-s '@': empty" },
	{ "load extra", "unexpected argument 'extra'" },
	{ "load -c", "option '-c' needs an argument" },
	{ "rate -r 0", "-r '0': out of range" },
	{ "rate -r 5 -c 10", "-r 5 is less than one message per second for each of the 10" },
	{ "rate --depth 2", "--depth is not an option of 'rate'" },
	{ "ping -n 0", "-n '0': out of range" },
	{ "ping -c 5", "-c is not an option of 'ping'" },
	{ "suite", "missing suite name" },
	{ "suite qtx", "unknown suite 'qtx'" },
	{ "suite qt -c 5", "-c is not an option of 'suite'" },
	{ "echo --json", "--json is not an option of 'echo'" },
	{ "load --connect-timeout 0", "--connect-timeout '0': out of range" },
};

TEST(bad_invocations_get_one_clear_line) {
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct client_opts o;
		char err[CLIENT_ERROR_MAX];
		int r = parse(bad[i].args, &o, err);
		if (r != -EINVAL || !strstr(err, bad[i].message) || strchr(err, '\n'))
			ASSERT_FAIL_("'%s': r=%d, message \"%s\", wanted \"%s\"", bad[i].args, r,
				     err, bad[i].message);
	}
}

TEST(defaults_and_values) {
	struct client_opts o;
	char err[CLIENT_ERROR_MAX];

	unsetenv("IPCD_SOCKET");
	ASSERT_EQ(parse("load", &o, err), 0);
	ASSERT_EQ(o.command, CMD_LOAD);
	ASSERT_STREQ(o.socket, RUNSTATEDIR "/ipcd/ipcd.sock");
	ASSERT_EQ(o.type, SOCK_STREAM);
	ASSERT_EQ(o.connections, 1);
	ASSERT_EQ(o.threads, 1); /* never more threads than connections */
	ASSERT_EQ(o.limit, LIMIT_DURATION);
	ASSERT_TRUE(o.verify);

	setenv("IPCD_SOCKET", "@from-env", 1);
	ASSERT_EQ(parse("load -c 100 -b 64K -n 1MiB --depth 4 -j 2 --no-verify --type seqpacket",
			&o, err),
		  0);
	ASSERT_STREQ(o.socket, "@from-env");
	ASSERT_EQ(o.connections, 100);
	ASSERT_EQ(o.chunk, 65536);
	ASSERT_EQ(o.limit, LIMIT_BYTES_PER_CONN);
	ASSERT_EQ(o.bytes_per_conn, 1 << 20);
	ASSERT_EQ(o.depth, 4);
	ASSERT_EQ(o.threads, 2);
	ASSERT_TRUE(!o.verify);
	ASSERT_EQ(o.type, SOCK_SEQPACKET);

	ASSERT_EQ(parse("ping -n 5 -i 200ms -s /tmp/x.sock", &o, err), 0);
	ASSERT_EQ(o.count, 5);
	ASSERT_EQ(o.ping_interval_usec, 200000);
	ASSERT_STREQ(o.socket, "/tmp/x.sock");

	ASSERT_EQ(parse("rate -r 5000 -c 10 -t 1.5s -i 500ms", &o, err), 0);
	ASSERT_EQ(o.rate, 5000);
	ASSERT_EQ(o.duration_usec, 1500000);
	ASSERT_EQ(o.report_interval_usec, 500000);

	ASSERT_EQ(parse("load --total 10000 -c 3 -b 1000", &o, err), 0);
	ASSERT_EQ(o.limit, LIMIT_TOTAL_BYTES);
	ASSERT_EQ(o.total_bytes, 10000);

	/* The largest amounts the man page names, in the units it names them in. */
	ASSERT_EQ(parse("load -n 1P", &o, err), 0);
	ASSERT_EQ(o.bytes_per_conn, UINT64_C(1) << 50);
	ASSERT_EQ(parse("load --total 64PiB", &o, err), 0);
	ASSERT_EQ(o.total_bytes, UINT64_C(1) << 56);

	ASSERT_EQ(parse("suite qt --json", &o, err), 0);
	ASSERT_STREQ(o.suite, "qt");
	ASSERT_TRUE(o.json);
	unsetenv("IPCD_SOCKET");
}

/* getopt_long()'s failures name the option as it was typed (issue 12, item 8). */
static const struct {
	const char *args;
	const char *message;
} exact[] = {
	{ "load --json=1", "option '--json' takes no argument" },
	{ "load --json=", "option '--json' takes no argument" },
	{ "load --js=1", "option '--js' takes no argument" },
	{ "load --help=x", "option '--help' takes no argument" },
	{ "--version=2", "option '--version' takes no argument" },
	{ "load --bogus=1", "unknown option '--bogus'" },
	{ "load --bogus", "unknown option '--bogus'" },
	{ "load -Z", "unknown option '-Z'" },
	{ "load -qZq", "unknown option '-Z'" },
	{ "load --json -Zq", "unknown option '-Z'" },
	{ "load -qs", "option '-s' needs an argument" },
	{ "load --socket", "option '--socket' needs an argument" },
	{ "load --ver", "option '--ver' is ambiguous (--verify, --version)" },
	{ "load --co", "option '--co' is ambiguous (--connections, --count, --connect-timeout)" },
	{ "ping -c 3", "-c is not an option of 'ping': its count of round trips is -n, as in "
		       "'ping -n 3'" },
	{ "ping --connections=3", "-c is not an option of 'ping': its count of round trips is -n, "
				  "as in 'ping -n 3'" },
	{ "-c 5 load", "options follow the command: ipc-client load -c 5" },
	{ "--json ping -n 3", "options follow the command: ipc-client ping --json -n 3" },
	{ "-s @x suite qt", "options follow the command: ipc-client suite -s @x qt" },
	{ "-c 5 frob", "unexpected argument 'frob'" },
	{ "-c 5", "missing command (load, ping, rate, suite or echo)" },
};

TEST(getopt_failures_name_the_option) {
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++) {
		struct client_opts o;
		char err[CLIENT_ERROR_MAX];
		int r = parse(exact[i].args, &o, err);
		if (r != -EINVAL || strcmp(err, exact[i].message) != 0)
			ASSERT_FAIL_("'%s': r=%d, message \"%s\", wanted \"%s\"", exact[i].args, r,
				     err, exact[i].message);
	}
}

TEST(options_before_the_command_fit_a_short_buffer) {
	char *argv[] = { "ipc-client", "-s", "@a-rather-long-socket-name", "--json", "load" };
	struct client_opts o;
	char err[24];

	ASSERT_EQ(client_opts_parse((int)ARRAY_SIZE(argv), argv, &o, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "options follow the comm");
}

/* A warm-up that leaves nothing to measure is a usage error wherever that is known before the
 * run (issue 12, item 2); with a byte count it is not. */
TEST(warmup_must_leave_something_to_measure) {
	static const struct {
		const char *args;
		const char *message;
	} refused[] = {
		{ "load -t 5s --warmup 10s", "--warmup 10s must be shorter than the run (-t 5s)" },
		{ "load -t 1s --warmup 1s", "--warmup 1s must be shorter than the run (-t 1s)" },
		{ "load --warmup 1h", "--warmup 1h must be shorter than the run (-t 5s)" },
		{ "load --warmup 5s", "--warmup 5s must be shorter than the run (-t 5s)" },
		{ "rate -t 2s --warmup 1h", "--warmup 1h must be shorter than the run (-t 2s)" },
		{ "rate --warmup 5000ms", "--warmup 5000ms must be shorter than the run (-t 5s)" },
	};
	struct client_opts o;
	char err[CLIENT_ERROR_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		int r = parse(refused[i].args, &o, err);
		if (r != -EINVAL || strcmp(err, refused[i].message) != 0)
			ASSERT_FAIL_("'%s': r=%d, message \"%s\", wanted \"%s\"", refused[i].args,
				     r, err, refused[i].message);
	}
	ASSERT_EQ(parse("load -t 5s --warmup 4999ms", &o, err), 0);
	ASSERT_EQ(o.warmup_usec, 4999000);
	ASSERT_EQ(parse("rate -t 1h --warmup 1h", &o, err), -EINVAL);
	ASSERT_EQ(parse("rate -t 2h --warmup 1h", &o, err), 0);
	/* How long a count takes is known only once it has been sent: the run decides. */
	ASSERT_EQ(parse("load -n 1M --warmup 1h", &o, err), 0);
	ASSERT_EQ(o.limit, LIMIT_BYTES_PER_CONN);
	ASSERT_EQ(o.warmup_usec, 3600 * USEC_PER_SEC);
	ASSERT_EQ(parse("load --total 1M --warmup 10s", &o, err), 0);
	ASSERT_EQ(o.limit, LIMIT_TOTAL_BYTES);
}
