#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the experimental floor variants: bench/experiments/build.sh OUTDIR
# (default build/bench/experiments). Plain cc, like bench/floor/build.sh. uring-server
# needs liburing (Debian: liburing-dev); without it, it is skipped with a note.
set -eu
here=$(dirname "$0")
out=${1:-build/bench/experiments}
CC=${CC:-cc}
CFLAGS="-O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE"
mkdir -p "$out"
for p in splice-server plain-dgram-server mmsg-dgram-server; do
	$CC $CFLAGS -o "$out/$p" "$here/$p.c"
done
if printf '#include <liburing.h>\nint main(void) { struct io_uring r; return io_uring_queue_init(1, &r, 0) & 0; }\n' |
	$CC $CFLAGS -x c -o /dev/null - -luring >/dev/null 2>&1; then
	$CC $CFLAGS -o "$out/uring-server" "$here/uring-server.c" -luring
else
	echo "build.sh: liburing not installed (apt-get install liburing-dev): skipping uring-server" >&2
fi
