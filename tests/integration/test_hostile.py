# SPDX-License-Identifier: MIT
"""Clients that misbehave: never read, vanish mid-transfer, reset, half-close in odd orders,
storm the listener. ipcd's memory stays bounded, the misbehaving ones are counted, and well
behaved clients (a verified ipc-client load, run alongside) see no errors at all."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

from conftest import IPC_CLIENT, connect, recv_exact, recv_until_eof, rss_kib, wait_until


def start_load(d, *args):
    """A verified ipc-client load in the background: the well-behaved client."""
    return subprocess.Popen([IPC_CLIENT, "load", "-s", d.sock, "--json", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_load(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"exit {p.returncode}: {err}\n{out}"
    result = json.loads(out)["result"]
    assert all(v == 0 for v in result["errors"].values()), result["errors"]
    return result


def test_writers_that_never_read_are_held_by_backpressure(ipcd):
    """20 connections push as much as they can and never read: the kernel and ipcd stop them at
    buffer_size each, ipcd's memory grows by at most that, and a load alongside is unaffected."""
    buffer_size, n = 65536, 20
    d = ipcd("log = { connections = false; };\nworkers = 2;\n").start_ready()
    base = rss_kib(d.pid)
    load = start_load(d, "-c", "4", "-b", "1K", "-t", "3")
    hogs = [connect(d.sock) for _ in range(n)]
    chunk = b"\xa5" * 65536
    pushed = 0
    deadline = time.monotonic() + 5
    for h in hogs:
        h.setblocking(False)
    # Try to write 1 GiB in all; backpressure stops it after a few hundred KiB each.
    while time.monotonic() < deadline and pushed < (1 << 30):
        progress = 0
        for h in hogs:
            try:
                sent = h.send(chunk)
                pushed += sent
                progress += sent
            except BlockingIOError:
                pass
        if progress == 0:
            break
    per_conn = pushed / n
    grown = rss_kib(d.pid) - base
    result = finish_load(load)
    print(f"\n{n} never-reading writers pushed {per_conn / 1024:.0f} KiB each before "
          f"backpressure; ipcd RSS grew {grown} KiB; load alongside: p99 "
          f"{result['latency_us']['p99']:.0f} us, {result['round_trips_per_s']:.0f} rt/s")
    assert pushed < (1 << 30) / 10, "nothing held the writers back"
    # At most one buffer_size of held echo per connection, plus allocator slack.
    assert grown * 1024 <= n * buffer_size + (8 << 20), f"RSS grew {grown} KiB"
    for h in hogs:
        h.close()
    assert d.stop() == 0


def test_clients_killed_mid_transfer(ipcd, workdir):
    d = ipcd("workers = 2;\nlog = { connections = true; };\n").start_ready()
    load = start_load(d, "-c", "4", "-b", "4K", "-t", "3")
    writer = ("import os, socket, sys\n"
              "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
              "s.sendall(b'ready')\n"
              "while True: s.sendall(os.urandom(65536)); s.recv(65536)\n")
    procs = [subprocess.Popen([sys.executable, "-c", writer, d.sock]) for _ in range(8)]
    time.sleep(0.5)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finish_load(load)
    # Each vanished client is a closed connection, counted; none brought anything else down.
    wait_until(lambda: len([l for l in d.log().splitlines()
                            if "closed (eof)" in l or "closed (error)" in l]) >= 12, 10,
               "the killed clients' disconnects")
    assert d.exchange(b"still here") == b"still here"
    assert d.stop() == 0


def test_reset_by_a_client_that_closes_with_echo_unread(ipcd):
    """On a unix socket, closing with unread data resets the peer: ipcd's next write fails."""
    d = ipcd("limits = { buffer_size = 4096; max_message_size = 4096; };\n"
             "log = { connections = true; };\n").start_ready()
    c = connect(d.sock)
    c.sendall(os.urandom(1 << 20)[:200000])  # more than fits: ipcd holds echo it cannot write
    time.sleep(0.2)
    c.close()
    d.wait_log(r"closed \((error|eof)\)")
    assert d.exchange(b"next") == b"next"
    assert d.stop() == 0


def test_tcp_reset_with_so_linger_zero(ipcd):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    d = ipcd("log = { connections = true; };\n", listen=f"127.0.0.1:{port}").start()

    def tcp():
        return socket.create_connection(("127.0.0.1", port), timeout=5)

    wait_until(lambda: _connectable(tcp), 5, "the TCP listener")
    for _ in range(5):
        c = tcp()
        c.sendall(os.urandom(300000))  # far more than it will read back
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
    d.wait_log(r"closed \(error\)")
    with tcp() as c:
        c.sendall(b"after the resets")
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b"after the resets"
    assert d.stop() == 0


def _connectable(make):
    try:
        make().close()
        return True
    except OSError:
        return False


def test_half_close_in_every_order(ipcd):
    d = ipcd("").start_ready()
    # EOF at once, nothing sent: ipcd closes its side, nothing comes back.
    with connect(d.sock) as c:
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b""
    # Data, EOF, then read: everything before the EOF comes back, then EOF.
    with connect(d.sock) as c:
        c.sendall(b"abc" * 10000)
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b"abc" * 10000
    # The client stops reading first (SHUT_RD) but keeps writing and finally closes: ipcd
    # neither hangs nor spins, and serves others.
    with connect(d.sock) as c:
        c.shutdown(socket.SHUT_RD)
        c.sendall(b"x" * 1000)
        c.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
    # Both directions at once.
    with connect(d.sock) as c:
        c.sendall(b"y" * 1000)
        c.shutdown(socket.SHUT_RDWR)
    # Close while ipcd still holds echo for us.
    c = connect(d.sock)
    c.sendall(b"z" * 100000)
    c.close()
    assert d.exchange(b"all fine") == b"all fine"
    assert d.stop() == 0
    assert "Sanitizer" not in d.log()


def test_connection_storm_ten_times_max_connections(ipcd):
    limit = 50
    d = ipcd(f"limits = {{ max_connections = {limit}; }};\nlog = {{ connections = false; }};\n"
             ).start_ready()
    storm = [connect(d.sock) for _ in range(10 * limit)]  # all connect: the backlog takes them
    for c in storm:
        c.setblocking(False)
    # The first `limit` are admitted and stay; the rest are closed as ipcd reaches them in
    # its backlog, which on a busy machine takes a while.
    closed = set()

    def count_closed():
        for i, c in enumerate(storm):
            if i in closed:
                continue
            try:
                if c.recv(1) == b"":
                    closed.add(i)
            except (BlockingIOError, InterruptedError):
                pass
            except ConnectionResetError:
                closed.add(i)
        return len(closed)

    wait_until(lambda: count_closed() >= 9 * limit, 20, f"{9 * limit} refused connections closed")
    # Exactly `limit` left, and each of them answers below.
    alive = [c for i, c in enumerate(storm) if i not in closed]
    assert len(alive) == limit, (len(alive), len(closed))
    for c in alive:
        c.setblocking(True)
        c.sendall(b"ok")
        assert recv_exact(c, 2) == b"ok"
    for c in storm:
        c.close()
    # Healthy afterwards, and STATUS says what happened.
    wait_until(lambda: d.notify.statuses() and
               d.notify.statuses()[-1].startswith("0 connections,") and
               d.notify.statuses()[-1].endswith(f"{9 * limit} refused"), 5,
               f"STATUS with 0 connections and {9 * limit} refused")
    assert d.exchange(b"after the storm") == b"after the storm"
    assert d.stop() == 0
