#!/bin/sh
# make demo: start ipcd the way systemd would (socket activation, on a temporary socket), push
# traffic through it, show the echo and the daemon's log, and stop it.
# Usage: ./demo.sh BUILD/ipcd CONF
set -eu
ipcd=$1 conf=$2
dir=$(mktemp -d /tmp/ipcd-demo.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

echo "== systemd-socket-activate owns $dir/ipcd.sock; ipcd starts on the first connection"
systemd-socket-activate -l "$dir/ipcd.sock" --fdname=ipcd "$ipcd" -c "$conf" 2>"$dir/log" &
pid=$!
i=0
while [ ! -S "$dir/ipcd.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

echo "== a line through socat:"
printf 'hello from make demo\n' | socat -t 2 - "UNIX-CONNECT:$dir/ipcd.sock"

echo "== 8 MiB of random bytes, compared on the way back:"
head -c 8388608 /dev/urandom >"$dir/in"
socat -t 5 -b 65536 "UNIX-CONNECT:$dir/ipcd.sock" - <"$dir/in" >"$dir/out"
if cmp -s "$dir/in" "$dir/out"; then echo "8388608 bytes echoed, identical"; else
	echo "MISMATCH"; exit 1; fi

echo "== SIGTERM: drain and exit"
kill -TERM "$pid"
wait "$pid" || true
pid=
echo "== the daemon's log (stderr; under systemd these are structured journal entries):"
sed 's/^/   /' "$dir/log"
