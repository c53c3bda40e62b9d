# SPDX-License-Identifier: MIT
"""ipc-client reports CPU time (issue 15, item 2): the client's and the server's, per round trip
and in cores, in text, JSON and CSV, the server's read from /proc for the process that holds the
connection, and absent with the reason when no such process can be read: a forking server
(socat), a datagram socket. And --cpus pins the threads (item 3), which every report states."""

import contextlib
import csv
import io
import json
import os
import re
import subprocess

import pytest

from conftest import IPC_CLIENT, socat_echo, wait_until

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
        assert {"client_cpu_ns_per_rt", "client_cores", "server_cpu_ns_per_rt",
                "server_cores"} <= set(header) and header[-1] == "note", header
        ran = [dict(zip(header, r)) for r in rows if not r[-1].startswith("skipped")]
        assert ran and all(float(r["client_cores"]) > 0 for r in ran), out


# Placement (issue 15, item 3): --cpus pins the threads, and every report says where they ran.

def allowed_cpus():
    return sorted(os.sched_getaffinity(0))


def cpus_allowed_lists(pid):
    """Cpus_allowed_list of each of a process's threads."""
    lists = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("Cpus_allowed_list:"):
                        lists[int(tid)] = line.split()[1]
    return lists


def test_without_cpus_the_report_says_not_pinned(ipcd):
    d = ipcd().start_ready()
    out = ping_pong(d.sock)
    cpus = ",".join(map(str, allowed_cpus())) if len(allowed_cpus()) == 1 else None
    m = re.search(r"^  placement     not pinned \(CPUs (\S+) allowed\)$", out, re.M)
    assert m, out
    assert cpus is None or m[1] == cpus, out
    doc = json.loads(ping_pong(d.sock, "--json"))
    assert doc["parameters"]["placement"]["pinned"] is False, doc["parameters"]


def run_watching_threads(args, settled):
    """Runs ipc-client, sampling its threads' CPU lists until settled(lists) or its end (a thread
    just made may show its creator's CPUs for a moment); the output and the last sample."""
    p = subprocess.Popen([IPC_CLIENT, *args, "--progress", "never"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    seen = [[]]
    try:
        wait_until(lambda: p.poll() is not None or
                   seen.append(sorted(cpus_allowed_lists(p.pid).values())) or settled(seen[-1]),
                   5, "the driver's threads on their CPUs")
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert p.returncode == 0, out + err
    return out, seen[-1]


def test_cpus_pins_every_thread_while_it_runs(ipcd):
    d = ipcd().start_ready()
    cpu = str(allowed_cpus()[0])
    # Main thread and two driver threads, all on that CPU.
    out, lists = run_watching_threads(["load", "-s", d.sock, "-b", "1", "-c", "2", "-j", "2",
                                       "-t", "2", "--cpus", cpu], lambda l: len(l) >= 3)
    assert len(lists) >= 3 and set(lists) == {cpu}, lists
    assert re.search(rf"^  placement     pinned to CPU {cpu}$", out, re.M), out


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_cpus_list_deals_one_cpu_to_each_thread(ipcd):
    d = ipcd().start_ready()
    a, b = allowed_cpus()[:2]
    both = f"{a}-{b}" if b == a + 1 else f"{a},{b}"
    # The main thread on both, then one driver thread (two by default: one per CPU) on each.
    want = sorted([both, str(a), str(b)])
    out, lists = run_watching_threads(["load", "-s", d.sock, "-b", "1", "-c", "2", "-t", "2",
                                       "--cpus", f"{a},{b}", "--csv"], lambda l: l == want)
    assert lists == want, lists
    header, row = list(csv.reader(io.StringIO(out)))
    v = dict(zip(header, row))
    assert v["pinned"] == "true" and v["threads"] == "2" and v["cpus"] == both, v


@pytest.mark.parametrize("cpus", ["4096", "1-0", "x", "0,", ""])
def test_cpus_that_are_not_a_list_are_a_usage_error(cpus):
    rc, out, err = client("load", "-s", "/nonexistent", "--cpus", cpus)
    assert rc == 2 and f"--cpus '{cpus}': " in err and "Try 'ipc-client --help'." in err, \
        out + err


def test_cpus_not_allowed_here_are_a_usage_error():
    outside = max(allowed_cpus()) + 1
    rc, out, err = client("load", "-s", "/nonexistent", "--cpus", f"0-{outside}")
    assert rc == 2 and f"CPU {outside} not allowed here" in err, out + err
    assert out == "", out
