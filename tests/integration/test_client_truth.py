# SPDX-License-Identifier: MIT
"""ipc-client tells the truth at the edges (issue 12, items 1-4): a missed rate target, a run
that measured nothing, a lost datagram and a server's close are each reported as what they
are, with an exit status a script can trust. Against ipcd and against small servers the project
did not write: one that drops datagrams, one that flips a bit, one that never reads."""

import json
import os
import re
import socket
import subprocess
import threading

import pytest

from conftest import IPC_CLIENT


def client(*args, timeout=60, user=None):
    cmd = [IPC_CLIENT, *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


class DatagramServer:
    """An echo server for datagrams that drops every 50th one, or flips a bit in the 30th."""

    def __init__(self, path, mode):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.mode, self.n, self.stopping = mode, 0, False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(1 << 20)
            except socket.timeout:
                continue
            self.n += 1
            if self.mode == "drop" and self.n % 50 == 0:
                continue
            if self.mode == "flip" and self.n == 30:
                data = data[:3] + bytes([data[3] ^ 1]) + data[4:]
            try:
                self.sock.sendto(data, addr)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def dgram_server(workdir):
    servers = []

    def make(mode):
        s = DatagramServer(os.path.join(workdir, f"{mode}.sock"), mode)
        servers.append(s)
        return os.path.join(workdir, f"{mode}.sock")
    yield make
    for s in servers:
        s.close()


DGRAM_LOAD = ["--type", "dgram", "-b", "512", "-n", "128K", "-c", "2", "--io-timeout", "300ms"]


@pytest.mark.parametrize("depth", ["1", "4"])
def test_a_lost_datagram_is_counted_lost_not_corrupt(dgram_server, depth):
    # Before: depth 1 said "timed out", depth 4 "verify failed ... first differing byte".
    path = dgram_server("drop")
    rc, out = client("load", "-s", path, *DGRAM_LOAD, "--depth", depth, "--json")
    assert rc == 1, out
    result = json.loads(out)["result"]
    assert result["errors"]["lost"] == 10, out  # 2 x 256 datagrams, every 50th dropped
    assert result["errors"]["verify_failures"] == 0 and result["errors"]["timed_out"] == 0
    assert result["round_trips"] == 512 - 10


@pytest.mark.parametrize("depth", ["1", "4"])
def test_a_flipped_bit_is_still_a_verify_failure(dgram_server, depth):
    path = dgram_server("flip")
    rc, out = client("load", "-s", path, *DGRAM_LOAD, "--depth", depth)
    assert rc == 1, out
    assert "verify failed 1" in out and "lost" not in out, out
    assert "first differing byte at offset" in out


def test_a_missed_rate_target_is_an_error_that_names_the_client(ipcd):
    # Before: rate -r 2000000 -c 10 -t 1 sent 53% of what was due and exited 0, errors none.
    # No one client thread sends 50 million messages a second.
    d = ipcd().start_ready()
    rc, out = client("rate", "-s", d.sock, "-r", "50000000", "-c", "1", "-t", "1s", "-b", "1")
    assert rc == 1, out
    assert "target 50000000/s" in out and "due and never sent" in out, out
    assert "missed        the target" in out
    rc, out = client("rate", "-s", d.sock, "-r", "50000000", "-c", "1", "-t", "1s", "-b", "1",
                     "--json")
    rate = json.loads(out)["result"]["rate"]
    assert rc == 1 and rate["missed"] and rate["unsent"] > 0 and rate["due"] > rate["sent"]
    assert rate["bottleneck"] == "client", rate
    rc, out = client("rate", "-s", d.sock, "-r", "50000000", "-c", "1", "-t", "1s", "-b", "1",
                     "--csv")
    header, row = out.strip().splitlines()[-2:]
    fields = dict(zip(header.split(","), row.split(",")))
    assert rc == 1 and fields["target_per_s"] == "50000000" and int(fields["unsent"]) > 0


def test_a_server_that_does_not_read_is_named_the_bottleneck(workdir):
    # A server the project did not write: it accepts and never reads, so the sockets fill.
    path = os.path.join(workdir, "deaf.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except socket.timeout:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        rc, out = client("rate", "-s", path, "-r", "20000", "-c", "2", "-t", "1s", "-b", "64K",
                         "--io-timeout", "2s", "--json")
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        srv.close()
    rate = json.loads(out)["result"]["rate"]
    # Exit 3: not one connection completed an echo.
    assert rc == 3 and rate["missed"] and rate["bottleneck"] == "server", out


def test_a_rate_that_is_met_exits_zero(ipcd):
    d = ipcd().start_ready()
    rc, out = client("rate", "-s", d.sock, "-r", "2000", "-c", "4", "-t", "1s", "--json")
    rate = json.loads(out)["result"]["rate"]
    assert rc == 0 and not rate["missed"] and rate["bottleneck"] is None, out


def test_a_warmup_that_leaves_nothing_to_measure_never_exits_zero(ipcd):
    # The end is a byte count: the warm-up outlasts it, and nothing is measured.
    d = ipcd().start_ready()
    rc, out = client("load", "-s", d.sock, "-b", "1K", "-n", "64K", "--warmup", "10s")
    assert rc == 1, out
    assert "measured      nothing: the warm-up took the whole run" in out


def test_a_close_by_the_server_is_not_a_refusal(ipcd):
    # Before: "connected 2000" beside "refused 976" against max_connections = 1024.
    d = ipcd("limits = { max_connections = 4; };\n").start_ready()
    rc, out = client("load", "-s", d.sock, "-c", "8", "-t", "1s")
    assert rc == 1, out
    assert "connected     4 of 8 opened" in out, out
    assert "closed by server 4" in out and "refused" not in out, out


def test_a_failed_connect_says_why(ipcd, workdir):
    rc, out = client("load", "-s", os.path.join(workdir, "nothing.sock"), "-t", "1s")
    assert rc == 3, out
    assert "connect error No such file or directory: no such socket" in out, out
    d = ipcd().start_ready()
    rc, out = client("load", "-s", d.sock, "-t", "1s", "--type", "seqpacket")
    assert rc == 3, out
    assert "it is not a seqpacket socket (see --type)" in out, out
    os.chmod(workdir, 0o755)
    os.chmod(d.sock, 0o600)
    rc, out = client("load", "-s", d.sock, "-t", "1s", user="65534")
    assert rc == 3, out
    assert re.search(r"connect error Permission denied: \S+ has mode 0600, owner uid 0, "
                     r"group '?\w+'?: only its owner may connect", out), out
    os.chmod(d.sock, 0o660)
    os.chown(d.sock, 0, 4)  # a group of Debian's base system
    rc, out = client("load", "-s", d.sock, "-t", "1s", user="65534")
    assert rc == 3 and "has mode 0660, owner uid 0, group 'adm': members of group 'adm' may " \
        "connect" in out, out
