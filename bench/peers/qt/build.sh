#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the Qt peer: bench/peers/qt/build.sh OUTDIR (default build/bench).
# Needs Debian's qtbase5-dev (Qt5Network via pkg-config).
set -eu
here=$(dirname "$0")
out=${1:-build/bench}
mkdir -p "$out"
${CXX:-g++} -O2 -fPIC -Wall -Wextra -o "$out/qt_echo" "$here/qt_echo.cpp" \
	$(pkg-config --cflags --libs Qt5Network)
