# SPDX-License-Identifier: MIT
"""One datagram socket serves every peer, and the kernel charges each echo to it until the peer
reads it: a peer that never reads must lose its own echoes, not everyone's (issue 11, item 3).
Before the shares, one hog sending 4 × 60000 bytes left 0 of 5 pings answered, and ipc-client
load -c 40 --depth 4 -b 4K against the default configuration failed every connection."""

import json
import re
import socket
import subprocess
import threading
import time

from conftest import IPC_CLIENT, dgram_client, sockaddr, wait_until

STATS = 'log = { stats_interval = "1s"; };\n'
BIG = 60000


def pings_answered(d, workdir, n=5):
    c = dgram_client(workdir, f"pinger-{time.monotonic_ns()}.sock", timeout=1.0)
    answered = 0
    for i in range(n):
        c.sendto(b"ping %d" % i, sockaddr(d.sock))
        try:
            answered += c.recv(64) == b"ping %d" % i
        except socket.timeout:
            pass
    c.close()
    return answered


def hog(d, workdir, name, count, connected):
    """A socket that sends count big datagrams and never reads a byte."""
    h = dgram_client(workdir, name, timeout=5.0)
    if connected:
        h.connect(sockaddr(d.sock))
    for _ in range(count):
        if connected:
            h.send(b"h" * BIG)
        else:
            h.sendto(b"h" * BIG, sockaddr(d.sock))
    return h


def stats(d):
    d.wait_log(r"Stats: .* datagrams \(")
    return re.findall(r"datagrams \((\d+) unanswerable, (\d+) dropped, (\d+) oversize, "
                      r"(\d+) to peers not reading\)", d.log())[-1]


def load(d, *args, timeout=60):
    p = subprocess.run([IPC_CLIENT, "load", "-s", d.sock, "--type", "dgram", *args],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def test_a_hog_that_never_reads_keeps_only_its_share(ipcd, workdir):
    # 200 × 60000 bytes is more than the whole send buffer ipcd asks for (8 MiB): without a
    # share per peer this one socket would take all of it.
    d = ipcd(STATS, kind="dgram").start_ready()
    h = hog(d, workdir, "hog.sock", 200, connected=True)
    assert pings_answered(d, workdir) == 5
    wait_until(lambda: int(stats(d)[3]) > 0, 5, "echoes held back from the hog")
    assert "its socket has not read 1.0 MiB of echoes" in d.log()
    # What the hog holds unread is its share, not the buffer.
    held = subprocess.run(["ss", "-xHm", "src", d.sock], capture_output=True, text=True).stdout
    queued = int(re.search(r"\bt(\d+),", held).group(1))
    assert 900_000 < queued <= 1 << 20, held
    h.close()


def test_an_unconnected_hog_is_also_held_by_the_kernel(ipcd, workdir):
    # Sent with sendto(): the kernel itself refuses more than net.unix.max_dgram_qlen echoes
    # queued at it, which ipcd counts as dropped.
    d = ipcd(STATS, kind="dgram").start_ready()
    h = hog(d, workdir, "hog.sock", 200, connected=False)
    assert pings_answered(d, workdir) == 5
    wait_until(lambda: int(stats(d)[1]) + int(stats(d)[3]) > 0, 5, "echoes not sent to the hog")
    h.close()


def assert_clean(out, lost_per_million):
    # Nothing corrupted, unexpected or cut off. A few lost echoes are the bound ipcd(8)
    # states: the kernel cannot say which peer read what, so on a machine busy enough that
    # readers fall behind, a reader can be charged another's unread echoes and refused one.
    result = json.loads(out)["result"]
    errors = result["errors"]
    assert result["round_trips"] > 1000, out
    assert errors["lost"] <= result["round_trips"] * lost_per_million // 1_000_000, out
    assert {k: v for k, v in errors.items() if k != "lost"} == dict.fromkeys(
        set(errors) - {"lost"}, 0), out


def test_ordinary_load_runs_clean(ipcd):
    # The load the issue saw fail against the default configuration: a mismatch on every
    # connection. Seen once on a loaded machine (ASan build beside other builds): 4 of
    # 384,757 echoes lost, 10 per million.
    d = ipcd(kind="dgram").start_ready()
    rc, out = load(d, "-c", "40", "-b", "4K", "--depth", "4", "-t", "4", "--json")
    assert_clean(out, 100)


def test_load_runs_clean_beside_a_hog(ipcd, workdir):
    # A burst hog that never reads holds its share and no more: ipc-client's echoes all come
    # back.
    d = ipcd(STATS, kind="dgram").start_ready()
    hog(d, workdir, "hog.sock", 100, connected=True)
    rc, out = load(d, "-c", "40", "-b", "4K", "--depth", "4", "-t", "3", "--json")
    assert_clean(out, 100)
    assert pings_answered(d, workdir) == 5
    wait_until(lambda: int(stats(d)[3]) > 0, 5, "echoes held back from the hog")


def test_a_flooder_that_never_reads_is_held_back(ipcd, workdir):
    # A connected peer that sends without pause and never reads. Until it is first refused
    # its echoes can take the credit of those that read (ipcd(8) says so), so a few echoes of
    # the load may be lost on a busy machine; the load goes on, nothing is corrupted, the
    # flooder is refused, and everyone else is answered.
    d = ipcd(STATS, kind="dgram").start_ready()
    stop = threading.Event()

    def flood():
        s = dgram_client(workdir, "flooder.sock", timeout=2.0)
        s.connect(sockaddr(d.sock))
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                s.send(b"n" * BIG)
            except (socket.timeout, BlockingIOError):
                pass
        s.close()

    t = threading.Thread(target=flood)
    t.start()
    try:
        rc, out = load(d, "-c", "40", "-b", "4K", "--depth", "4", "-t", "3",
                       "--io-timeout", "2s", "--json")
    finally:
        stop.set()
        t.join(10)
    assert_clean(out, 10_000)
    assert pings_answered(d, workdir) == 5
    wait_until(lambda: int(stats(d)[3]) > 0, 5, "echoes held back from the flooder")
