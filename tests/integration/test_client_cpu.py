# SPDX-License-Identifier: MIT
"""ipc-client reports CPU time (issue 15, item 2): the client's and the server's, per round trip
and in cores, in text, JSON and CSV, the server's read from /proc for the process that holds the
connection, and absent with the reason when no such process can be read: a forking server
(socat), a datagram socket."""

import csv
import io
import json
import re
import subprocess

import pytest

from conftest import IPC_CLIENT, socat_echo

UNITS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
CPU_LINE = re.compile(r"^  cpu +client (\d+(?:\.\d+)?)(ns|us|ms|s)/round trip \(([\d.]+) core\), "
                      r"server (.*)$", re.M)
SIDE = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|ms|s)/round trip \(([\d.]+) core\)$")


def client(*args, timeout=60):
    p = subprocess.run([IPC_CLIENT, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ping_pong(sock, *args):
    """A 1-byte closed loop, long enough for the server's ticks and schedstat to move."""
    rc, out, err = client("load", "-s", sock, "-b", "1", "-t", "1", "--progress", "never", *args)
    assert rc == 0, out + err
    return out


def test_text_has_client_and_server_cpu_per_round_trip(ipcd):
    d = ipcd().start_ready()
    out = ping_pong(d.sock)
    m = CPU_LINE.search(out)
    assert m, out
    client_ns = float(m[1]) * UNITS[m[2]]
    assert 0 < client_ns < 1e6, out
    assert 0 < float(m[3]) <= 2.5, out  # at most the machine's threads' worth
    s = SIDE.match(m[4])
    assert s, out
    assert float(s[1]) * UNITS[s[2]] > 0, out
    assert d.proc.poll() is None, d.log()


def test_json_cpu_names_the_server_pid(ipcd):
    d = ipcd().start_ready()
    doc = json.loads(ping_pong(d.sock, "--json", "-c", "2", "--warmup", "200ms"))
    cpu = doc["result"]["cpu"]
    assert 0 < cpu["client"]["ns_per_round_trip"] < 1e6, cpu
    assert cpu["client"]["cores"] > 0, cpu
    assert cpu["server"] is not None, cpu
    assert cpu["server"]["pid"] == d.pid, cpu
    assert cpu["server"]["ns_per_round_trip"] > 0, cpu
    assert cpu["server"]["cores"] > 0, cpu
    assert cpu["server_absent"] is None, cpu


def test_csv_cpu_columns_are_filled(ipcd):
    d = ipcd().start_ready()
    header, row = list(csv.reader(io.StringIO(ping_pong(d.sock, "--csv"))))
    assert len(header) == len(row), (header, row)
    v = dict(zip(header, row))
    assert 0 < float(v["client_cpu_ns_per_rt"]) < 1e6, v
    assert float(v["client_cores"]) > 0, v
    assert float(v["server_cpu_ns_per_rt"]) > 0, v
    assert float(v["server_cores"]) > 0, v


def test_rate_and_warmup_report_cpu_too(ipcd):
    d = ipcd().start_ready()
    rc, out, err = client("rate", "-s", d.sock, "-r", "2000", "-t", "1", "--warmup", "200ms",
                          "--json")
    assert rc == 0, out + err
    cpu = json.loads(out)["result"]["cpu"]
    assert cpu["client"]["ns_per_round_trip"] > 0 and cpu["server"]["pid"] == d.pid, cpu


def test_forking_server_has_no_server_cpu(workdir):
    # socat made the listening socket, but each connection is served by a child it forks: the
    # pid in the credentials is not the process doing the work, and no figure is better than
    # the parent's near-zero one.
    with socat_echo(workdir) as path:
        out = ping_pong(path)
        m = CPU_LINE.search(out)
        assert m and m[4].startswith("n/a (") and "does not hold the connection" in m[4], out
        doc = json.loads(ping_pong(path, "--json"))
        cpu = doc["result"]["cpu"]
        assert cpu["server"] is None and "does not hold" in cpu["server_absent"], cpu
        assert cpu["client"]["ns_per_round_trip"] > 0, cpu
        header, row = list(csv.reader(io.StringIO(ping_pong(path, "--csv"))))
        v = dict(zip(header, row))
        assert v["server_cpu_ns_per_rt"] == "" and v["server_cores"] == "", v
        assert float(v["client_cpu_ns_per_rt"]) > 0, v


def test_datagram_server_has_no_peer_pid(ipcd):
    d = ipcd(kind="dgram").start_ready()
    rc, out, err = client("load", "--type", "dgram", "-s", d.sock, "-b", "1", "-t", "0.5",
                          "--json")
    assert rc == 0, out + err
    cpu = json.loads(out)["result"]["cpu"]
    assert cpu["server"] is None and "no peer pid" in cpu["server_absent"], cpu


@pytest.mark.parametrize("fmt", ["--json", "--csv"])
def test_suite_rows_carry_cpu(ipcd, fmt):
    d = ipcd().start_ready()
    rc, out, err = client("suite", "qt", "-s", d.sock, fmt, "--progress", "never", timeout=300)
    assert rc == 0, out + err
    if fmt == "--json":
        rows = [r for r in json.loads(out)["rows"] if r["result"]]
        assert rows and all(r["result"]["cpu"]["client"]["cores"] > 0 for r in rows), out
    else:
        header, *rows = list(csv.reader(io.StringIO(out)))
        assert header[-5:] == ["client_cpu_ns_per_rt", "client_cores", "server_cpu_ns_per_rt",
                               "server_cores", "note"], header
        ran = [dict(zip(header, r)) for r in rows if not r[-1].startswith("skipped")]
        assert ran and all(float(r["client_cores"]) > 0 for r in ran), out
