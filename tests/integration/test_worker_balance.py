# SPDX-License-Identifier: MIT
"""Where connections run (balance.c): a thin load stays on worker 0, a saturated worker hands
connections to an idle one, an idle worker hands its connections back down. Watched through
the metrics (ipcd_worker_connections, ipcd_connections_moved_total); every byte the client
sends is verified, and connections that moved keep their limits, drain on SIGTERM and reach
the fd store like any other.

A worker is saturated by construction, not by hoping the machine is fast enough: ipcd's
threads share one CPU with four busy loops, and the client runs on another. The worker then
always has work and gets little of its CPU, so it is runnable (running or waiting to run, what
balance.c measures from schedstat) nearly all the time."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import IPC_CLIENT, connect, is_closed_by_peer, recv_exact, wait_until
from test_fdstore import Manager, write_conf

CPUS = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(
    len(CPUS) < 2 or not os.path.exists("/proc/thread-self/schedstat"),
    reason="needs two CPUs to place the server and the client apart, and schedstat")
SERVER_CPU, CLIENT_CPU = (CPUS + CPUS)[:2]

SAMPLE = re.compile(r'^(ipcd_worker_connections\{worker="(\d+)"\}|ipcd_connections_moved_total) '
                    r'(\d+)$', re.M)


def scrape(path):
    """{"workers": [conns of worker 0, 1, …], "moved": n} from the metrics socket at path."""
    r = subprocess.run(["curl", "-sS", "--max-time", "5", "--unix-socket", path,
                        "http://localhost/metrics"], capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    workers, moved = {}, None
    for m in SAMPLE.finditer(r.stdout.decode()):
        if m.group(2) is not None:
            workers[int(m.group(2))] = int(m.group(3))
        else:
            moved = int(m.group(3))
    return {"workers": [workers[i] for i in sorted(workers)], "moved": moved}


def started(ipcd, conf=""):
    """ipcd with workers = 2, binding its echo and metrics sockets itself."""
    d = ipcd("", activate=False)
    d.metrics = os.path.join(d.dir, "m.sock")
    d.write_conf(f'workers = 2;\nlisten = [ "{d.sock}" ];\nmetrics = [ "{d.metrics}" ];\n'
                 'log = { connections = false; level = "debug"; };\n' + conf)
    d.start()
    d.notify.wait_for("READY=1", timeout=10)
    return d


def pin_threads(pid, cpus):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(tid), cpus)


@contextlib.contextmanager
def crowded(pid, hogs=4):
    """Every thread of ipcd (pid) on SERVER_CPU with four busy loops, for the block: a worker
    gets a fifth of that CPU, so a client with a fraction of another still outruns it. Each
    loop runs in a session of its own, so that it weighs as much as ipcd also where the
    scheduler shares a CPU between sessions first (autogroup) and only then between threads."""
    pin_threads(pid, {SERVER_CPU})
    running = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                start_new_session=True,
                                preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}))
               for _ in range(hogs)]
    try:
        yield
    finally:
        for hog in running:
            hog.kill()
            hog.wait(10)
        pin_threads(pid, set(CPUS))


def client(sock, command, *args):
    """ipc-client on CLIENT_CPU, away from the server's."""
    return subprocess.Popen([IPC_CLIENT, command, "-s", sock, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            preexec_fn=lambda: os.sched_setaffinity(0, {CLIENT_CPU}))


def finish(p, timeout=60):
    out = p.communicate(timeout=timeout)[0].decode()
    assert p.returncode == 0, out
    return out


def watch(d, p, every=0.1):
    """Scrapes d until p ends; returns every scrape."""
    seen = []
    while p.poll() is None:
        seen.append(scrape(d.metrics))
        time.sleep(every)
    return seen


FLOOD_CONNECTIONS = 200


def flood(sock, seconds):
    """More than a crowded worker can echo: a byte in flight on each of FLOOD_CONNECTIONS."""
    return client(sock, "load", "-c", str(FLOOD_CONNECTIONS), "-b", "1", "-t", str(seconds))


def idle_connections_that_moved(d, pid, n):
    """n idle connections that moved to worker 1 and back down to worker 0. Opened first, they
    are the oldest on worker 0 when a flood of 200 more saturates it, so they are among the
    half it hands to worker 1 (the oldest go first); once the flood ends they come back, given
    back after the spread's trial or packed down as idle. Returns them and how many connections
    were accepted in all."""
    mark = len(d.log())
    held = []
    for _ in range(n):
        c = connect(d.sock)
        c.sendall(b"x")
        assert recv_exact(c, 1) == b"x"
        held.append(c)
    assert scrape(d.metrics)["workers"] == [n, 0]
    with crowded(pid):
        finish(flood(d.sock, 2))
    wait_until(lambda: scrape(d.metrics)["workers"] == [n, 0], 5, "the held ones back on worker 0")
    log = d.log()[mark:]
    assert re.search(r"Worker 0 is \S+ busy: moved 10[0-9] connections to worker 1", log), log
    assert re.search(r"Worker 1 (is \S+ busy: moved its|gave its) \d+ connections (down|back) to "
                     r"worker 0", log), log
    return held, n + FLOOD_CONNECTIONS


def accepted_and_open(path):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", "--unix-socket", path,
                        "http://localhost/metrics"], capture_output=True, timeout=10)
    text = r.stdout.decode()
    total = lambda name: sum(int(v) for v in re.findall(rf"^{name}{{[^}}]*}} (\d+)$", text, re.M))
    return total("ipcd_connections_accepted_total"), total("ipcd_connections_open")


def test_thin_load_stays_on_worker_0(ipcd):
    d = started(ipcd)
    p = client(d.sock, "rate", "-r", "2000", "-c", "50", "-t", "3")
    seen = watch(d, p)
    finish(p)
    assert len(seen) >= 10
    assert max(s["workers"][0] for s in seen) == 50
    assert all(s["workers"][1] == 0 for s in seen), seen
    assert all(s["moved"] == 0 for s in seen)
    assert d.stop() == 0


def test_saturated_worker_spreads_and_every_byte_comes_back(ipcd):
    d = started(ipcd)
    with crowded(d.pid):
        p = flood(d.sock, 2)
        seen = watch(d, p)
        finish(p)  # exit 0: every echoed byte verified, also across the moves
    assert seen[-1]["moved"] >= 100, seen  # half of worker 0's 200, at least once
    assert any(s["workers"][1] > 0 for s in seen), seen
    assert re.search(r"Worker 0 is \d+\.\d% busy: moved 100 connections to worker 1", d.log())
    wait_until(lambda: scrape(d.metrics)["workers"] == [0, 0], 5, "every connection closed")
    assert d.stop() == 0


def test_idle_worker_packs_down_and_moved_connections_keep_their_limits(ipcd):
    d = started(ipcd, "limits = { max_connections_per_uid = 250; idle_timeout = 60; };\n")
    held, accepted = idle_connections_that_moved(d, d.pid, 10)
    # Counted once, when accepted; open once, wherever they run.
    assert accepted_and_open(d.metrics) == (accepted, 10)
    for i, c in enumerate(held):
        msg = b"still here %d" % i
        c.sendall(msg)
        assert recv_exact(c, len(msg)) == msg
    # They still hold their slots, exactly: 240 more make 250, the 251st is refused.
    more = [connect(d.sock) for _ in range(240)]
    for c in more:
        c.sendall(b"y")
        assert recv_exact(c, 1) == b"y"
    with connect(d.sock) as extra:
        assert is_closed_by_peer(extra)
    d.wait_log(r"Refused connection \d+ .*: max-connections-per-uid")
    for c in more:
        c.close()
    # SIGTERM drains them like any other: what was sent just before still comes back.
    for c in held:
        c.sendall(b"last")
    d.signal(signal.SIGTERM)
    for c in held:
        assert recv_exact(c, 4) == b"last"
        c.shutdown(socket.SHUT_WR)
        assert is_closed_by_peer(c)
        c.close()
    assert d.wait_exit() == 0


def test_moved_connections_go_to_the_fd_store_and_come_back(workdir):
    m = Manager(workdir)
    log = os.path.join(workdir, "ipcd.log")
    metrics = os.path.join(workdir, "m.sock")
    conf = write_conf(workdir, 'workers = 2;\nlog = { connections = false; level = "debug"; };\n')
    # The metrics socket is passed too, as systemd would (passed sockets replace metrics = ).
    lm = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lm.bind(metrics)
    lm.listen(16)

    class D:  # what idle_connections_that_moved needs of a daemon
        sock = m.sock_path
    D.metrics = metrics
    try:
        m.store.insert(0, ("metrics", os.dup(lm.fileno())))
        first = m.start(conf, log)
        D.log = lambda: open(log).read()
        held, _ = idle_connections_that_moved(D, first.pid, 4)
        for c in held:
            c.sendall(b"before")
        for c in held:
            assert recv_exact(c, 6) == b"before"
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        m.poll()
        assert len(m.store) == 4, open(log).read()
        for i, c in enumerate(held):
            c.sendall(b"during %d;" % i)
        m.store.insert(0, ("metrics", os.dup(lm.fileno())))
        second = m.start(conf, log)
        for i, c in enumerate(held):
            want = b"during %d;" % i
            assert recv_exact(c, len(want)) == want
        for c in held:
            c.close()
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        m.close()
        lm.close()
