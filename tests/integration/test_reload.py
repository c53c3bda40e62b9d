# SPDX-License-Identifier: MIT
"""SIGHUP: a good file applies (to new connections) and logs the difference; a bad one is
refused whole and the old configuration keeps serving."""

import os
import signal
import socket
import subprocess
import time

from conftest import connect, dgram_client, is_closed_by_peer, recv_exact


def reload(d):
    start = len(d.notify.poll())
    d.signal(signal.SIGHUP)
    d.notify.wait_for("READY=1", d.notify.wait_for("RELOADING=1", start) + 1)


def test_good_reload_applies_and_logs_changes(ipcd):
    d = ipcd("limits = { max_connections = 10; };\n").start_ready()
    held = connect(d.sock)
    held.sendall(b"a")
    assert recv_exact(held, 1) == b"a"
    d.write_conf("limits = { max_connections = 1; };\nworkers = 3;\n")
    reload(d)
    log = d.wait_log(r"Reloaded '.*ipcd\.conf': 2 settings changed").string
    assert "limits.max_connections: 10 -> 1" in log
    assert "workers: 0 -> 3 (takes effect on restart)" in log
    # The held connection lives on; a new one is over the new limit.
    held.sendall(b"b")
    assert recv_exact(held, 1) == b"b"
    with connect(d.sock) as c:
        assert is_closed_by_peer(c)
    d.wait_log(r"Refused connection \d+ from pid \d+ uid 0 gid 0: max-connections")
    held.close()
    assert d.stop() == 0


def test_bad_reload_keeps_the_old_configuration(ipcd):
    d = ipcd("limits = { max_connections = 1; };\n").start_ready()
    d.write_conf("limits = {\n  max_connections = 100;\n  buffer_size = 1;\n};\n")
    reload(d)
    log = d.wait_log(r"keeping the previous configuration").string
    assert "ipcd.conf:3: limits.buffer_size = 1: out of range" in log
    assert "max_connections: 1 -> 100" not in log
    # Still the old limit of 1: one connection is served, a second is refused.
    with connect(d.sock) as first:
        first.sendall(b"x")
        assert recv_exact(first, 1) == b"x"
        with connect(d.sock) as second:
            assert is_closed_by_peer(second)
    assert d.stop() == 0


def test_reload_of_a_vanished_file_keeps_running(ipcd):
    d = ipcd("").start_ready()
    os.unlink(d.conf_path)
    reload(d)
    d.wait_log(r"ipcd\.conf: cannot read: No such file or directory")
    assert d.exchange(b"alive") == b"alive"
    assert d.stop() == 0


def test_reload_reaches_datagram_sockets(ipcd, workdir):
    d = ipcd("limits = { max_message_size = 100; };\n", kind="dgram").start_ready()
    c = dgram_client(workdir, timeout=1)
    c.sendto(b"x" * 50, d.sock)
    assert c.recv(200) == b"x" * 50
    d.write_conf("limits = { max_message_size = 10; };\n")
    reload(d)
    d.wait_log(r"Reloaded")
    # The worker picks the new limits up on its own thread: poll until a 50-byte datagram
    # is no longer answered, while a small one still is.
    deadline = time.monotonic() + 5
    while True:
        c.sendto(b"y" * 50, d.sock)
        try:
            c.recv(200)
        except socket.timeout:
            break
        assert time.monotonic() < deadline, "max_message_size did not change on reload"
    c.sendto(b"z" * 10, d.sock)
    assert c.recv(200) == b"z" * 10
    c.close()
    assert d.stop() == 0


SLOW_PARSE_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
/* libconfig's parser, made to take 3 s while the flag file exists. */
int config_read_string(void *config, const char *text) {
	static int (*next)(void *, const char *);
	const char *flag = getenv("SLOW_PARSE_FLAG");
	if (!next)
		next = (int (*)(void *, const char *))dlsym(RTLD_NEXT, "config_read_string");
	if (flag && access(flag, F_OK) == 0)
		sleep(3);
	return next(config, text);
}
"""


def test_a_slow_reload_does_not_stop_the_main_loop(ipcd, workdir):
    # Parsing runs on a thread of its own: while it takes 3 s, ipcd still accepts and echoes
    # on new connections and still pings the watchdog. Before, the main loop parsed, and a
    # file libconfig is slow on (80,000 settings took 28 s) held both.
    src, so, flag = (os.path.join(workdir, n) for n in ("slow.c", "slow.so", "slow.flag"))
    with open(src, "w") as f:
        f.write(SLOW_PARSE_C)
    subprocess.run([os.environ.get("CC") or "cc", "-shared", "-fPIC", "-o", so, src, "-ldl"],
                   check=True, timeout=60)
    asan = os.environ.get("ASAN_OPTIONS", "")
    d = ipcd(watchdog_usec=1_000_000,
             env={"LD_PRELOAD": so, "SLOW_PARSE_FLAG": flag,
                  "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"})
    d.start_ready()
    open(flag, "w").close()
    start = len(d.notify.poll())
    d.signal(signal.SIGHUP)
    reloading = d.notify.wait_for("RELOADING=1", start)
    assert d.exchange(b"while it parses") == b"while it parses"
    assert "Reloaded" not in d.log()
    d.wait_log(r"Reloaded '.*ipcd\.conf': 0 settings changed", timeout=10)
    ready = d.notify.wait_for("READY=1", reloading + 1)
    pings = [m for m in d.notify.poll()[reloading:ready] if "WATCHDOG=1" in m]
    assert len(pings) >= 3, d.notify.poll()[reloading:ready]
    os.unlink(flag)
    assert d.stop() == 0
