# SPDX-License-Identifier: MIT
"""ipc-client suite transports, as README.md and ipc-client(1) document it: the same rows through
ipcd over unix stream, seqpacket, datagram, abstract stream and TCP (one ipcd, the shipped
conf/ipcd-transports.conf with only its addresses made private), then through the kernel's
floors. Every row checks its bytes; a server that changes them is caught. The rows are cut to a
few thousand round trips with -n; no timing is asserted."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import xml.etree.ElementTree as ET

import pytest

from conftest import (IPC_CLIENT, SANITIZER_REPORT, SOCAT_ECHO, SRCDIR, run_ipcd, stop_socat,
                      threaded_echo_server, wait_until)

SUITE_TIMEOUT = 120
WORKLOADS = [("pingPong", 1), ("dataExchange", 100), ("dataExchange", 1000),
             ("dataExchange", 10000), ("dataExchange", 100000)]
FLOORS = ["socketpair", "pipe", "shared memory"]
SHIPPED = os.path.join(SRCDIR, "conf", "ipcd-transports.conf")
LISTEN = re.compile(r"^listen\s*=\s*\[(.*?)\];", re.M | re.S)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shipped_listen():
    with open(SHIPPED) as f:
        return re.findall(r'"([^"]*)"', LISTEN.search(f.read()).group(1))


def private_sockets(workdir):
    """The shipped five, in their order and kinds, in workdir and on a free port."""
    tag = os.path.basename(workdir)
    return [f"{workdir}/stream.sock", f"seqpacket:{workdir}/seqpacket.sock",
            f"dgram:{workdir}/dgram.sock", f"@{tag}-transports", f"tcp:127.0.0.1:{free_port()}"]


@pytest.fixture
def transports_ipcd(ipcd, workdir):
    """One ipcd on the shipped config, its listen list swapped for private addresses."""
    sockets = private_sockets(workdir)
    with open(SHIPPED) as f:
        text = f.read()
    listen = "listen = [ " + ", ".join(f'"{s}"' for s in sockets) + " ];"
    d = ipcd(LISTEN.sub(listen, text), activate=False)
    d.start_ready()
    return d, sockets


def run_suite(*args, timeout=SUITE_TIMEOUT):
    p = subprocess.run([IPC_CLIENT, "suite", "transports", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    report = SANITIZER_REPORT.search(p.stderr)
    assert not report, f"sanitizer report from ipc-client:\n{p.stderr}"
    return p


def suite_json(*args):
    p = run_suite("--json", *args)
    return p, json.loads(p.stdout)


def sockets_args(sockets):
    return [a for s in sockets for a in ("-s", s)]


def test_the_shipped_config_is_valid_and_the_suite_defaults_are_its_sockets():
    r = run_ipcd("--check-config", "-c", SHIPPED)
    assert r.returncode == 0, r.stderr
    # Nothing listens on these here (or something does): either way each row names its socket.
    p, doc = suite_json("-n", "1", "--io-timeout", "2s")
    named = []
    for row in doc["rows"]:
        if not row["floor"] and row["socket"] not in named:
            named.append(row["socket"])
    assert named == shipped_listen()


def test_every_row_runs_clean_through_ipcd_and_the_floors(transports_ipcd):
    d, sockets = transports_ipcd
    n = 2000
    p, doc = suite_json(*sockets_args(sockets), "-n", str(n))
    assert p.returncode == 0, p.stdout + p.stderr
    rows = doc["rows"]
    names = ["unix stream", "unix seqpacket", "unix dgram", "abstract stream", "TCP"] + FLOORS
    assert [r["transport"] for r in rows] == [t for t in names for _ in WORKLOADS]
    assert [(r["workload"], r["parameters"]["chunk"]) for r in rows] == WORKLOADS * len(names)
    for row in rows:
        res, what = row["result"], (row["transport"], row["parameters"]["chunk"])
        assert row["skipped"] is None, what
        assert res["round_trips"] == n, what
        assert res["bytes_received"] == res["bytes_sent"] == n * row["parameters"]["chunk"], what
        assert row["parameters"]["verify"] is True
        assert all(v == 0 for v in res["errors"].values()), (what, res["errors"])
        assert res["exit_status"] == 0, what
        assert res["latency_us"]["count"] == n, what
        # The server's CPU on every row: ipcd's own, credentials or not; a floor's echo.
        assert res["cpu"]["server"] is not None, (what, res["cpu"]["server_absent"])
        if row["floor"]:
            assert res["cpu"]["server"]["pid"] != d.pid, what
        else:
            assert res["cpu"]["server"]["pid"] == d.pid, what
    for w in range(len(WORKLOADS)):
        ratios = [r["ratio_to_best"] for r in rows[w::len(WORKLOADS)]]
        assert max(ratios) == 1.0 and all(0 < x <= 1.0 for x in ratios), ratios
        best = max(rows[w::len(WORKLOADS)], key=lambda r: r["result"]["round_trips_per_s"])
        for r in rows[w::len(WORKLOADS)]:
            want = r["result"]["round_trips_per_s"] / best["result"]["round_trips_per_s"]
            assert r["ratio_to_best"] == pytest.approx(want, abs=1e-3)
    # Each floor's echo was a child of the client's, and is gone with it.
    for row in rows:
        if row["floor"]:
            assert not os.path.exists(f"/proc/{row['result']['cpu']['server']['pid']}")


def test_the_table_and_the_exported_json_and_chart(transports_ipcd, workdir):
    _, sockets = transports_ipcd
    out_json, out_svg = os.path.join(workdir, "t.json"), os.path.join(workdir, "t.svg")
    p = run_suite(*sockets_args(sockets[:1]), "-n", "500", "--export-json", out_json,
                  "--export-svg", out_svg)
    assert p.returncode == 0, p.stdout + p.stderr
    text = p.stdout
    assert text.startswith("ipc-client suite transports: 1 connection, 1 chunk in flight")
    for workload, chunk in WORKLOADS:
        assert f"{workload}, {chunk}-byte chunks, 500 round trips" in text
    sections = text.split("\n\n")[2:]
    assert len(sections) == len(WORKLOADS)
    for s in sections:
        lines = s.splitlines()[2:]
        assert [ln.split()[0] for ln in lines] == ["unix", "socketpair", "pipe", "shared"]
        assert sum("1.00x" in ln for ln in lines) >= 1
    with open(out_json) as f:
        doc = json.load(f)
    assert doc["suite"] == "transports" and len(doc["rows"]) == 4 * len(WORKLOADS)
    svg = ET.parse(out_svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == ns + "svg"
    bars = [r for r in svg.iter(ns + "rect") if r.get("fill") != "white"]
    assert len(bars) == 4 * len(WORKLOADS)
    titles = [t.text for t in svg.iter(ns + "text") if t.get("font-weight") == "bold"]
    assert sum("chunks" in t for t in titles) == len(WORKLOADS)
    assert max(int(b.get("width")) for b in bars) == 420  # the best row of a panel


def test_csv_has_a_row_per_transport_and_workload(transports_ipcd):
    _, sockets = transports_ipcd
    p = run_suite(*sockets_args(sockets[3:]), "-n", "300", "--csv")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("transport,floor,ratio_to_best,kind,")
    assert lines[0].endswith(",note")
    assert len(lines) == 1 + 5 * len(WORKLOADS)
    assert [ln.split(",")[0] for ln in lines[1:6]] == ['"abstract stream"'] * 5


def test_a_socket_nobody_listens_on_is_said_and_the_floors_still_run(workdir):
    missing = os.path.join(workdir, "nobody.sock")
    p = run_suite("-s", missing, "-n", "200")
    assert p.returncode == 3, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert any(re.match(r"\s+unix stream\s+did not connect: No such file or directory", ln)
               for ln in lines)
    assert sum("skipped: the first row on this socket did not connect" in ln
               for ln in lines) == len(WORKLOADS) - 1
    for floor in FLOORS:
        rows = [ln for ln in lines if ln.strip().startswith(floor) and "x " in ln]
        assert len(rows) == len(WORKLOADS), (floor, p.stdout)


def test_against_socat_over_tcp_a_server_the_project_did_not_write(workdir):
    port = free_port()
    listen = f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"
    socat = subprocess.Popen(SOCAT_ECHO + [listen, "PIPE"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_until(listening, 5, "socat's port")
        p, doc = suite_json("-s", f"tcp:127.0.0.1:{port}", "-n", "300")
    finally:
        stop_socat(socat)
    assert p.returncode == 0, p.stderr
    tcp = [r for r in doc["rows"] if r["transport"] == "TCP"]
    assert len(tcp) == len(WORKLOADS)
    for r in tcp:
        assert r["result"]["round_trips"] == 300 and r["result"]["errors"]["verify_failures"] == 0
        # No unix row named a server: nothing to check a TCP peer against.
        assert r["result"]["cpu"]["server"] is None
        assert r["result"]["cpu"]["server_absent"]


def corrupting_server(path, stop):
    """A stream echo that flips one bit of every 1000th byte."""
    def flipper(_):
        seen = 0

        def flip(data):
            nonlocal seen
            data = bytearray(data)
            for i in range(len(data)):
                if (seen + i) % 1000 == 999:
                    data[i] ^= 0x20
            seen += len(data)
            return data
        return flip
    return threaded_echo_server(path, stop, flipper)


def test_a_server_that_changes_bytes_is_caught(workdir):
    path = os.path.join(workdir, "bad.sock")
    stop = threading.Event()
    t = corrupting_server(path, stop)
    try:
        p, doc = suite_json("-s", path, "-n", "200", "--io-timeout", "5s")
    finally:
        stop.set()
        t.join(5)
    # 1, or 3 when a connection's only echoes were wrong: none completed (ipc-client(1)).
    assert p.returncode in (1, 3), p.stderr
    rows = [r for r in doc["rows"] if not r["floor"]]
    # pingPong sends 200 bytes in all, below the first flipped byte; the rest are caught.
    assert rows[0]["result"]["errors"]["verify_failures"] == 0
    for r in rows[1:]:
        assert r["result"]["errors"]["verify_failures"] > 0, r["parameters"]["chunk"]
        assert r["result"]["mismatches"]
    for r in doc["rows"]:
        if r["floor"]:
            assert r["result"]["exit_status"] == 0


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def test_a_stuck_floor_echo_times_out_and_a_signal_ends_the_suite(workdir):
    """The socketpair echo is stopped (SIGSTOP): --io-timeout ends its row, the echo is killed,
    and SIGINT then ends the suite with a table and no process left behind."""
    p = subprocess.Popen([IPC_CLIENT, "suite", "transports", "--json", "-s",
                          os.path.join(workdir, "nobody.sock"), "-n", "100000000",
                          "--io-timeout", "1s"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = wait_until(lambda: children_of(p.pid), 10, "the first floor's echo")[0]
        os.kill(first, signal.SIGSTOP)
        wait_until(lambda: children_of(p.pid) and children_of(p.pid)[0] != first, 10,
                   "the next row's echo")
        second = children_of(p.pid)[0]
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert not SANITIZER_REPORT.search(err), err
    assert p.returncode == 3, err  # the socket nobody listens on is the worst row
    doc = json.loads(out)
    floors = [r for r in doc["rows"] if r["floor"]]
    stuck, stopped = floors[0], floors[1]
    assert stuck["result"]["errors"]["timed_out"] == 1
    assert stuck["result"]["cpu"]["server"]["pid"] == first
    assert stopped["result"]["interrupted"] is True
    assert stopped["result"]["errors"]["timed_out"] == 0
    assert stopped["result"]["errors"]["eof_early"] == 0
    assert all(r["skipped"] == "interrupted before it ran" for r in floors[2:])
    for pid in (first, second):
        assert not os.path.exists(f"/proc/{pid}"), f"echo {pid} left behind"


@pytest.mark.parametrize("args, message", [
    (["--type", "seqpacket"], "takes each socket's type from its address"),
    (["-s", "dgram:tcp:127.0.0.1:80"], "TCP is stream only"),
    (["-s", "seqpacket:"], "is not \"seqpacket:\" or \"dgram:\" and a socket path"),
    (["-s", "tcp:1.2.3.4"], "not a TCP address"),
    (["-n", "0"], "-n '0'"),
    (["-s", "/a"] * 17, "at most 16 sockets"),
])
def test_usage_errors(args, message):
    p = run_suite(*args, timeout=10)
    assert p.returncode == 2, p.stdout
    assert message in p.stderr, p.stderr


@pytest.mark.parametrize("args", [["--export-json", "x"], ["--export-svg", "x"], ["-n", "5"]])
def test_only_transports_takes_its_options(args):
    p = subprocess.run([IPC_CLIENT, "suite", "qt", *args], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2 and "only for suite transports" in p.stderr, p.stderr


def test_an_export_that_cannot_be_written_fails_after_the_table(workdir):
    p = run_suite("-s", os.path.join(workdir, "nobody.sock"), "-n", "50",
                  "--export-json", os.path.join(workdir, "no", "such", "dir.json"))
    assert p.returncode == 3  # the socket's own status is worse than the file's
    assert "No such file or directory" in p.stderr
    assert "pingPong, 1-byte chunks" in p.stdout
