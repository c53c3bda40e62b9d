# SPDX-License-Identifier: MIT
"""The sd_notify protocol as systemd sees it: READY, STATUS, WATCHDOG, RELOADING, STOPPING."""

import signal

from conftest import connect, recv_exact, wait_until


def test_ready_only_after_listeners_are_live(ipcd):
    d = ipcd()
    d.start()
    # socket-activated: ipcd is not running until the first connection arrives
    assert d.notify.find("READY=1") is None
    with connect(d.sock) as c:
        c.sendall(b"x")
        assert recv_exact(c, 1) == b"x"
    ready = d.notify.wait_for("READY=1")
    assert "STATUS=" in "".join(d.notify.messages[: ready + 1])
    assert d.stop() == 0


def test_status_tracks_connections(ipcd):
    d = ipcd().start_ready()
    conns = [connect(d.sock) for _ in range(3)]
    for c in conns:
        c.sendall(b"ping")
        assert recv_exact(c, 4) == b"ping"
    wait_until(lambda: any(s.startswith("3 connections,") for s in d.notify.statuses()), 5,
               "STATUS with 3 connections")
    for c in conns:
        c.close()
    wait_until(lambda: d.notify.statuses()[-1].startswith("0 connections,"), 5,
               "STATUS back to 0 connections")
    assert "echoed" in d.notify.statuses()[-1]
    assert d.stop() == 0


def test_watchdog_keepalives(ipcd):
    d = ipcd(watchdog_usec=400000).start_ready()
    first = d.notify.wait_for("WATCHDOG=1")
    d.notify.wait_for("WATCHDOG=1", start=first + 1, timeout=2)
    assert d.stop() == 0


def test_reload_is_bracketed_by_reloading_and_ready(ipcd):
    d = ipcd().start_ready()
    start = len(d.notify.poll())
    d.signal(signal.SIGHUP)
    reloading = d.notify.wait_for("RELOADING=1", start)
    assert "MONOTONIC_USEC=" in d.notify.messages[reloading]
    d.notify.wait_for("READY=1", reloading + 1)
    assert d.stop() == 0


def test_stopping_then_exit_zero(ipcd):
    d = ipcd().start_ready()
    d.signal(signal.SIGTERM)
    d.notify.wait_for("STOPPING=1")
    assert d.wait_exit() == 0
    d.wait_log(r"Stopped after .* 1 connections")


def test_status_carries_the_last_reload_result(ipcd):
    d = ipcd("limits = { max_connections = 10; };\n").start_ready()
    assert "last reload" not in d.notify.statuses()[-1]

    def reload(conf):
        d.write_conf(conf)
        start = len(d.notify.poll())
        d.signal(signal.SIGHUP)
        d.notify.wait_for("READY=1", d.notify.wait_for("RELOADING=1", start) + 1)
        return start

    # Refused: why, with file and line, and how many more errors there were.
    start = reload("limits = {\n  max_connections = 100;\n  buffer_size = 1;\n  bogus = 1;\n};\n")
    refused = (f"; last reload: refused: {d.conf_path}:3: limits.buffer_size = 1: out of range "
               "(allowed: 512 to 16777216 bytes")
    i = d.notify.wait_for(refused, start)
    assert d.notify.poll()[i].rstrip().endswith(" (and 1 more)"), d.notify.poll()[i]
    # ... and it stays while the counters change, until the next reload.
    with connect(d.sock) as c:
        c.sendall(b"ping")
        assert recv_exact(c, 4) == b"ping"
        wait_until(lambda: d.notify.statuses()[-1].startswith("1 connection,"), 5,
                   "STATUS with 1 connection")
        assert refused in "; " + d.notify.statuses()[-1].split("; ", 1)[1]

    start = reload("limits = { max_connections = 5; };\n")
    d.notify.wait_for("; last reload: applied (1 setting changed)", start)
    start = reload("limits = { max_connections = 5; };\n")
    d.notify.wait_for("; last reload: applied (0 settings changed)", start)
    assert "last reload: refused" not in d.notify.statuses()[-1]
    assert d.stop() == 0
