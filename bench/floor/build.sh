#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the floor programs: bench/floor/build.sh OUTDIR (default build/bench).
# Plain cc, nothing from src/ (only floor.h, the start, signals and wait the
# experiments share), so nothing of ipcd can skew the floor.
set -eu
here=$(dirname "$0")
out=${1:-build/bench}
CC=${CC:-cc}
mkdir -p "$out"
for p in floor-server floor-client pair-ping; do
	$CC -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -pthread -o "$out/$p" "$here/$p.c"
done
