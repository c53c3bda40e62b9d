# SPDX-License-Identifier: MIT
"""ipc-client ping's numbers (issue 12, item 5): the times it prints keep their precision at IPC
scale, and its summary counts every round that was due, also one whose chunk could not be sent
because the server had gone. Driven against the real ipcd and against echo servers the project
did not write (socat, and small Python servers written here). Nothing here asserts how long
anything took: only how the figures are written and that they agree with each other."""

import json
import os
import re
import socket
import subprocess
import threading

import pytest

from conftest import IPC_CLIENT, SANITIZER_REPORT, socat_echo

QUIET = "log = { connections = false; };\n"
NSEC = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}
NUMBER = r"(\d+(?:\.\d+)?)"
UNIT = r"(ns|us|µs|ms|s)"
REPLY = re.compile(rf"^(\d+) bytes from (.+): seq=(\d+) time={NUMBER} {UNIT}$")
RTT = re.compile(rf"^rtt (min/avg/max/mdev|p50/p90/p99/p99\.9) = {NUMBER}/{NUMBER}/{NUMBER}/"
                 rf"{NUMBER} {UNIT}$")
SUMMARY = re.compile(r"^(\d+) transmitted, (\d+) received, (\d+\.\d)% loss, time \d+ms$")


def run_ping(*args, timeout=60):
    """ipc-client ping with args; every wait in it is bounded by timeout."""
    env = dict(os.environ)
    env.pop("IPCD_SOCKET", None)
    p = subprocess.run([IPC_CLIENT, "ping", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout, env=env)
    assert not SANITIZER_REPORT.search(p.stderr), p.stderr
    return p


class Figure:
    """One printed time: its text, its value in nanoseconds, and how far rounding can have
    moved it."""

    def __init__(self, text, unit):
        self.text, self.unit = text, unit
        self.nsec = float(text) * NSEC[unit]
        decimals = len(text.split(".")[1]) if "." in text else 0
        self.slack = 0.5 * 10 ** -decimals * NSEC[unit]

    @property
    def significant_digits(self):
        return len(self.text.replace(".", "").lstrip("0"))

    @property
    def decimals(self):
        return len(self.text.split(".")[1]) if "." in self.text else 0


def parse_text(stdout):
    """The reply lines as Figures, the summary counts and the two rtt lines as lists of
    Figures; fails on any line it does not know."""
    replies, counts, rtt = [], None, {}
    for line in stdout.splitlines():
        if m := REPLY.match(line):
            replies.append(Figure(m[4], m[5]))
        elif m := SUMMARY.match(line):
            counts = (int(m[1]), int(m[2]), float(m[3]))
        elif m := RTT.match(line):
            rtt[m[1]] = [Figure(m[i], m[6]) for i in range(2, 6)]
        elif not line.startswith("--- ") and "echoes differed" not in line:
            raise AssertionError(f"unexpected line {line!r} in:\n{stdout}")
    return replies, counts, rtt


def assert_precise(stdout, count):
    """Every time printed keeps three significant digits (the minimum sets the resolution of
    the summary, so mdev alone may show fewer), and the summary agrees with the replies."""
    replies, counts, rtt = parse_text(stdout)
    assert len(replies) == count, stdout
    assert counts == (count, count, 0.0), stdout
    for r in replies:
        assert r.significant_digits >= 3, f"time={r.text} {r.unit} loses precision:\n{stdout}"
    summary, percentiles = rtt["min/avg/max/mdev"], rtt["p50/p90/p99/p99.9"]
    figures = summary + percentiles
    assert len({f.unit for f in figures}) == 1, stdout
    assert len({f.decimals for f in figures}) == 1, stdout
    for f in summary[:3] + percentiles:
        assert f.significant_digits >= 3, f"{f.text} {f.unit} loses precision:\n{stdout}"
    # The summary's min and max are the smallest and largest reply; its mean, theirs.
    low, high = min(replies, key=lambda r: r.nsec), max(replies, key=lambda r: r.nsec)
    mn, avg, mx = summary[:3]
    assert abs(mn.nsec - low.nsec) <= mn.slack + low.slack, stdout
    assert abs(mx.nsec - high.nsec) <= mx.slack + high.slack, stdout
    mean = sum(r.nsec for r in replies) / len(replies)
    assert abs(avg.nsec - mean) <= avg.slack + max(r.slack for r in replies), stdout
    for f in percentiles:
        assert mn.nsec - mn.slack <= f.nsec <= mx.nsec + mx.slack, stdout


class OneEchoServer:
    """Echoes the first chunk it gets, then closes: the connection (stream, seqpacket) or its
    socket (dgram). A server that goes away in the middle of a ping run, as an idle timeout or
    a restart makes one do; every wait in it is bounded."""

    def __init__(self, path, kind, chunk=64):
        self.path, self.kind, self.chunk = path, kind, chunk
        self.sock = socket.socket(socket.AF_UNIX, {"stream": socket.SOCK_STREAM,
                                                   "seqpacket": socket.SOCK_SEQPACKET,
                                                   "dgram": socket.SOCK_DGRAM}[kind])
        self.sock.bind(path)
        self.sock.settimeout(20)
        if kind != "dgram":
            self.sock.listen(4)
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            if self.kind == "dgram":
                data, peer = self.sock.recvfrom(1 << 16)
                self.sock.sendto(data, peer)
                return
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(20)
                data = b""
                while len(data) < self.chunk:
                    part = conn.recv(self.chunk - len(data))
                    if not part:
                        break
                    data += part
                conn.sendall(data)
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()

    def join(self):
        self.thread.join(30)
        assert not self.thread.is_alive(), "the server thread did not end"
        assert self.error is None, self.error


def assert_lost_rounds_explained(p, count):
    """A run cut short: it fails, every round that was due counts as transmitted, and each
    one not received has one line on stderr saying why."""
    assert p.returncode == 1, p.stdout + p.stderr
    m = re.search(r"^(\d+) transmitted, (\d+) received, (\d+\.\d)% loss", p.stdout, re.M)
    assert m, p.stdout
    transmitted, received, loss = int(m[1]), int(m[2]), float(m[3])
    reasons = re.findall(r"^ipc-client: seq=(\d+): (.*)$", p.stderr, re.M)
    assert received >= 1, p.stdout + p.stderr
    assert transmitted - received == len(reasons) >= 1, p.stdout + p.stderr
    assert transmitted <= count, p.stdout
    # The lost round is the last one made, and the loss figure is the count's.
    assert int(reasons[-1][0]) == transmitted - 1, p.stderr
    assert loss == round(100.0 * (transmitted - received) / transmitted, 1), p.stdout
    return transmitted, received, reasons


# --- 1. times keep their precision at IPC scale -------------------------------------------


@pytest.mark.parametrize("kind", ["stream", "seqpacket", "dgram"])
def test_ping_times_keep_three_significant_digits(ipcd, kind):
    d = ipcd(QUIET, kind=kind).start_ready()
    p = run_ping("-s", d.sock, "--type", kind, "-b", "1", "-n", "50", "-i", "0",
                 "--io-timeout", "2s")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stderr == ""
    assert_precise(p.stdout, 50)
    assert d.stop() == 0


def test_ping_times_against_socat_keep_three_significant_digits(workdir):
    with socat_echo(workdir) as path:
        p = run_ping("-s", path, "-b", "1", "-n", "50", "-i", "0")
    assert p.returncode == 0, p.stdout + p.stderr
    assert_precise(p.stdout, 50)


def test_ping_dgram_one_byte_echoes_are_not_taken_for_late_ones(ipcd):
    """A 1-byte echo equals one of the 16 rounds before it about one time in 16. ping must
    take it as the echo it waits for, not drop it as a late one and count the round lost."""
    d = ipcd(QUIET, kind="dgram").start_ready()
    p = run_ping("-s", d.sock, "--type", "dgram", "-b", "1", "-n", "200", "-i", "0", "-q",
                 "--io-timeout", "5s", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(p.stdout)["result"]
    assert (r["transmitted"], r["received"], r["verify_failures"]) == (200, 200, 0), p.stderr
    assert d.stop() == 0


# --- 2. a server that goes away: the summary says what happened ----------------------------


@pytest.mark.parametrize("kind", ["stream", "seqpacket"])
def test_ping_counts_the_round_an_idle_close_cut_off(ipcd, kind):
    """ipcd closes the idle connection between two rounds: the next round's send fails, and it
    counts as transmitted and lost rather than vanishing from the summary."""
    d = ipcd("limits = { idle_timeout = 1; };\n", kind=kind).start_ready()
    p = run_ping("-s", d.sock, "--type", kind, "-n", "3", "-i", "2s", "--io-timeout", "5s")
    d.wait_log(r"closed \(idle", timeout=10)
    _, _, reasons = assert_lost_rounds_explained(p, 3)
    assert "the server closed the connection" in reasons[-1][1], p.stderr
    assert "Broken pipe" not in p.stderr
    assert d.stop() == 0


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("kind", ["stream", "seqpacket"])
def test_ping_against_a_server_that_hangs_up_after_one_echo(workdir, kind, output):
    path = os.path.join(workdir, f"one-{kind}.sock")
    server = OneEchoServer(path, kind)
    args = ["-s", path, "--type", kind, "-n", "3", "-i", "1s", "--io-timeout", "5s"]
    p = run_ping(*args, *(["--json"] if output == "json" else []))
    server.join()
    if output == "text":
        transmitted, received, reasons = assert_lost_rounds_explained(p, 3)
        assert (transmitted, received) == (2, 1), p.stdout + p.stderr
        assert "the server closed the connection" in reasons[-1][1], p.stderr
    else:
        assert p.returncode == 1, p.stdout + p.stderr
        r = json.loads(p.stdout)["result"]
        assert (r["transmitted"], r["received"], r["loss_percent"]) == (2, 1, 50.0), r
        assert r["latency_us"]["count"] == 1


def test_ping_dgram_counts_a_send_to_a_server_that_is_gone(workdir):
    """The datagram server answers once and closes its socket: the next send is refused. That
    round was due, so it is transmitted and lost."""
    path = os.path.join(workdir, "one-dgram.sock")
    server = OneEchoServer(path, "dgram")
    p = run_ping("-s", path, "--type", "dgram", "-n", "3", "-i", "1s", "--io-timeout", "2s")
    server.join()
    _, _, reasons = assert_lost_rounds_explained(p, 3)
    assert reasons[-1][1].startswith("failed to send: "), p.stderr
