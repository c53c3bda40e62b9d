# SPDX-License-Identifier: MIT
"""SIGHUP: a good file applies (to new connections) and logs the difference; a bad one is
refused whole and the old configuration keeps serving."""

import os
import signal
import socket
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
