#!/bin/sh
# make demo: start ipcd the way systemd would (socket activation, on a temporary socket, with
# conf/ipcd.conf), push measured traffic through it with ipc-client, print the report, stop it.
# Usage: ./demo.sh BUILD_DIR CONF
set -eu
build=$1 conf=$2
dir=$(mktemp -d /tmp/ipcd-demo.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT
export IPCD_SOCKET="$dir/ipcd.sock"

echo "== systemd-socket-activate owns $IPCD_SOCKET; ipcd starts on the first connection"
systemd-socket-activate -l "$IPCD_SOCKET" --fdname=ipcd "$build/ipcd" -c "$conf" 2>"$dir/log" &
pid=$!
i=0
while [ ! -S "$IPCD_SOCKET" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

echo
echo "== ipc-client echo: a line there and back"
printf 'hello from make demo\n' | "$build/ipc-client" echo

echo
echo "== ipc-client ping: one connection, one round trip at a time"
"$build/ipc-client" ping -n 5 -i 100ms

echo
echo "== ipc-client load: 16 connections, 4 KiB chunks, 3 seconds, every byte verified"
"$build/ipc-client" load -c 16 -b 4K -t 3

echo
echo "== SIGTERM: ipcd drains and exits"
kill -TERM "$pid"
wait "$pid" || true
pid=
echo "== the daemon's log (stderr here; under systemd, structured journal entries):"
grep -v -e '^Connection ' "$dir/log" | sed 's/^/   /'
echo "   ($(grep -c '^Connection ' "$dir/log") per-connection lines not shown)"
