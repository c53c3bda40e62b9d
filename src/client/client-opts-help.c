/* SPDX-License-Identifier: MIT */
/*
 * ipc-client --help: the usage text, kept apart from the parser it describes.
 * Pure: no logging; its only I/O is the text on stdout.
 */
#include <stdio.h>

#include "client-opts.h"
#include "parse.h"

#ifndef RUNSTATEDIR
#error "RUNSTATEDIR must come from the build"
#endif

void client_opts_help(void) {
	printf("Usage: ipc-client COMMAND [OPTIONS]\n"
	       "\n"
	       "Pushes measured, verified traffic through an echo server.\n"
	       "\n"
	       "Commands:\n"
	       "  load            closed loop: each connection sends a chunk, reads its echo, "
	       "repeats\n"
	       "  ping            one connection, one round trip at a time, like ping(8)\n"
	       "  rate            open loop at a fixed rate; latency counted from the scheduled "
	       "send\n"
	       "  suite qt        the Qt local-socket benchmark matrix, as one table\n"
	       "  suite transports  ipcd over each transport against the kernel's floors\n"
	       "  echo            stdin to the server, its echo to stdout\n"
	       "\n"
	       "Options:\n"
	       "  -s, --socket ADDRESS     server socket: PATH, @NAME, tcp:IPV4:PORT or "
	       "tcp:[IPV6]:PORT\n"
	       "                           (default: $IPCD_SOCKET, else %s/ipcd/ipcd.sock);\n"
	       "                           suite transports: each one, seqpacket:PATH, dgram:PATH\n"
	       "      --type TYPE          stream, seqpacket or dgram (default: stream)\n"
	       "  -c, --connections N      connections (load, rate; default 1)\n"
	       "  -b, --chunk SIZE         bytes per message (load 4K, rate 64, ping 64)\n"
	       "  -n, --bytes SIZE         load: bytes per connection; ping: COUNT round trips "
	       "(10);\n"
	       "                           suite transports: COUNT round trips per row\n"
	       "      --total SIZE         load: bytes over all connections\n"
	       "  -t, --time TIME          load, rate: run this long (default 5s)\n"
	       "      --depth K            load: chunks in flight per connection (default 1)\n"
	       "  -r, --rate N             rate: messages per second over all connections (1000)\n"
	       "  -j, --threads N          threads (default: one per CPU, at most one per "
	       "connection)\n"
	       "  -i, --interval TIME      ping: time between round trips (1s); others: a line per "
	       "TIME\n"
	       "      --warmup TIME        load, rate: leave the first TIME out of the figures\n"
	       "      --cpus LIST          pin thread i to the i-th CPU of LIST (0,2 or 0-3)\n"
	       "      --repeat N           load, rate: N whole runs, then each figure's median, "
	       "min,\n"
	       "                           max and spread (1 to 1000; default 1)\n"
	       "      --verify, --no-verify  check every echoed byte (default: on)\n"
	       "      --json, --csv        machine-readable result on stdout\n"
	       "      --histogram FILE     load, rate, ping: latency distribution to FILE, "
	       "HdrHistogram text\n"
	       "      --export-json FILE, --export-svg FILE\n"
	       "                           suite transports: the JSON, or a chart, to FILE too\n"
	       "      --progress WHEN      auto, always or never (auto: on a terminal)\n"
	       "      --connect-timeout TIME  per connection (default 5s)\n"
	       "      --io-timeout TIME    per exchange (default 10s)\n"
	       "  -q, --quiet              only the summary\n"
	       "      --version            print the version and exit\n"
	       "  -h, --help               print this help and exit\n"
	       "\n"
	       "SIZE takes " SIZE_UNITS_HELP ".\n"
	       "TIME takes us, ms, s, min or h; a bare number is seconds. Exit status: 0 all "
	       "traffic\n"
	       "echoed and verified, 1 the run had errors, 2 usage error, 3 could not connect at "
	       "all.\n"
	       "See ipc-client(1).\n",
	       RUNSTATEDIR);
}
