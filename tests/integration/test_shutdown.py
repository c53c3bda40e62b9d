# SPDX-License-Identifier: MIT
"""Stopping: SIGTERM/SIGINT drain what is in flight, shutdown_timeout cuts off the rest,
nothing new is accepted meanwhile, and exit_on_idle ends an idle daemon by itself."""

import re
import signal
import socket
import time

from conftest import connect, fill_until_stuck, is_closed_by_peer, recv_exact, recv_until_eof

# The harness is a service manager (it sets NOTIFY_SOCKET), so SIGTERM would hand connections
# to the fd store (tested in test_fdstore.py); these tests are about draining them.
DRAIN = "preserve_connections = false;\n"
LOG_CONNECTIONS = "log = { connections = true; };\n"  # the close lines are off by default

STOPPED = r"Stopped after .*: (\d+) connections, .*, (\d+) cut off by shutdown"


def stopped(d):
    """(accepted, cut off by shutdown) from the summary line."""
    m = d.wait_log(STOPPED)
    return int(m.group(1)), int(m.group(2))


def test_sigterm_drains_bytes_in_flight(ipcd):
    d = ipcd(DRAIN + "limits = { buffer_size = 4096; max_message_size = 4096; };\n"
             "shutdown_timeout = 10;\n").start_ready()
    with connect(d.sock) as c:
        sent = fill_until_stuck(c, 1 << 20)
        assert len(sent) > 4096  # more than ipcd's buffer is in flight
        d.signal(signal.SIGTERM)
        d.notify.wait_for("STOPPING=1")
        assert recv_exact(c, len(sent), timeout=10) == sent
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b""
    assert d.wait_exit() == 0
    assert stopped(d) == (2, 0)


def test_shutdown_timeout_cuts_off_a_client_that_stays(ipcd):
    d = ipcd(DRAIN + "shutdown_timeout = 1;\n" + LOG_CONNECTIONS).start_ready()
    with connect(d.sock) as c:
        c.sendall(b"here to stay")
        assert recv_exact(c, 12) == b"here to stay"
        d.signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert is_closed_by_peer(c, timeout=5)
        waited = time.monotonic() - signalled
    assert 0.9 <= waited <= 4, f"cut off after {waited:.2f}s with shutdown_timeout = 1"
    assert d.wait_exit() == 0
    d.wait_log(r"Connection \d+ from pid \d+ uid 0 gid \d+ closed \(shutdown\)")
    assert stopped(d) == (2, 1)


def test_no_new_connections_during_drain(ipcd):
    d = ipcd(DRAIN).start_ready()
    old = connect(d.sock)
    old.sendall(b"before")
    assert recv_exact(old, 6) == b"before"
    d.signal(signal.SIGTERM)
    d.notify.wait_for("STOPPING=1")
    with connect(d.sock) as late:  # the backlog takes it; ipcd must not
        late.sendall(b"too late")
        late.settimeout(0.5)
        try:
            echo = late.recv(100)
        except socket.timeout:
            echo = None
        assert echo is None, "a connection made during the drain was served"
        old.sendall(b"still draining")
        assert recv_exact(old, 14) == b"still draining"
        old.close()
        assert d.wait_exit() == 0
        assert is_closed_by_peer(late)  # ipcd is gone, the backlog with it
    assert stopped(d) == (2, 0)


def test_exit_on_idle_waits_for_the_last_connection(ipcd):
    d = ipcd("exit_on_idle = 1;\n")
    d.start()
    with connect(d.sock) as c:  # this connection starts ipcd and keeps it busy
        c.sendall(b"busy")
        assert recv_exact(c, 4) == b"busy"
        d.notify.wait_for("READY=1")
        time.sleep(2)  # twice exit_on_idle: it must not count while a connection is open
        assert d.proc.poll() is None, "exited with a connection open"
        c.sendall(b"still here")
        assert recv_exact(c, 10) == b"still here"
    closed = time.monotonic()
    assert d.wait_exit(timeout=4) == 0
    assert time.monotonic() - closed >= 0.9, "exited before exit_on_idle had passed"
    assert re.search(r"No connections for 1s, exiting \(exit_on_idle\)", d.log())
    assert stopped(d) == (1, 0)


def test_sigint_drains_like_sigterm(ipcd):
    d = ipcd().start_ready()
    with connect(d.sock) as c:
        c.sendall(b"first")
        assert recv_exact(c, 5) == b"first"
        d.signal(signal.SIGINT)
        d.notify.wait_for("STOPPING=1")
        c.sendall(b"during the drain")
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b"during the drain"
    assert d.wait_exit() == 0
    d.wait_log(r"Stopping on SIGINT")
    assert stopped(d) == (2, 0)
