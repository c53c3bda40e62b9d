# SPDX-License-Identifier: MIT
"""ipc-client load|rate --repeat N: N whole runs and each figure's median, min, max and spread,
flagged above 10%. Driven against the real ipcd (and socat's echo): the runs are counted on the
server's side, the summary is recomputed from the runs' own JSON objects, and the series'
interruption, exit status, CSV rows and merged histogram are checked. The statistics themselves
are unit-tested (tests/unit/client/test-repeat-stats.c)."""

import csv
import io
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import IPC_CLIENT, SANITIZER_REPORT, finish_client, socat_echo, threaded_echo_server

QUIET = "log = { connections = false; };\n"
LOUD = "log = { connections = true; };\n"
THRESHOLD = 10.0
FIGURES = ["round_trips_per_s", "mib_per_s", "achieved_per_s", "p50_us", "p90_us", "p99_us",
           "p99_9_us", "client_cpu_ns_per_rt", "server_cpu_ns_per_rt"]
TEXT_NAMES = {"round_trips_per_s": "round trips/s", "mib_per_s": "MiB/s",
              "achieved_per_s": "sent/s", "p50_us": "latency p50", "p90_us": "latency p90",
              "p99_us": "latency p99", "p99_9_us": "latency p99.9",
              "client_cpu_ns_per_rt": "client cpu/rt", "server_cpu_ns_per_rt": "server cpu/rt"}
SUMMARY_KINDS = ["median", "min", "max", "spread_percent", "flagged"]
RUN_LINE = re.compile(r"^  run (\d+)/(\d+) +[\d.]+ rt/s +[\d.]+ MiB/s .* exit status (\d)"
                      r"( \(interrupted\))?$", re.M)


def env():
    e = dict(os.environ)
    e.pop("IPCD_SOCKET", None)
    return e


def client(*args, timeout=60, progress=("--progress", "never")):
    p = subprocess.run([IPC_CLIENT, *args, *progress], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout, env=env())
    assert not SANITIZER_REPORT.search(p.stderr), p.stderr
    return p


def start(*args):
    return subprocess.Popen([IPC_CLIENT, *args, "--progress", "never"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())



def read_lines_until(stream, pattern, timeout, seen):
    """Reads lines from stream (a pipe) into seen until one matches pattern; bounded."""
    found = threading.Event()

    def reader():
        for line in stream:
            seen.append(line)
            if re.search(pattern, line):
                found.set()
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    assert found.wait(timeout), f"no line /{pattern}/ within {timeout}s: {''.join(seen)}"
    t.join(5)


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def run_figure(result, key):
    """A run's figure, from its own JSON object, as the summary takes it; None if absent."""
    lat, cpu = result["latency_us"], result["cpu"]
    if key in ("round_trips_per_s", "mib_per_s"):
        return result[key]
    if key == "achieved_per_s":
        return result["rate"] and result["rate"]["achieved_per_s"]
    if key.endswith("_us"):
        return lat[key[:-3]]
    side = cpu["client" if key.startswith("client") else "server"]
    return side and side["ns_per_round_trip"]


def assert_summary_matches_runs(doc):
    """Every figure's median, min, max, spread and flag, recomputed from the runs' objects
    (which are printed to 0.1 or 0.001: the summary's own rounding is allowed for)."""
    runs, figures = doc["runs"], doc["repeat"]["figures"]
    assert set(figures) == set(FIGURES)
    for key in FIGURES:
        values = [run_figure(r, key) for r in runs]
        if any(v is None for v in values):
            assert figures[key] is None, (key, values, figures[key])
            continue
        s = figures[key]
        assert s is not None, (key, values)
        step = 0.001 if key in ("mib_per_s",) or key.endswith("_us") else 0.1
        assert s["min"] == min(values), (key, values, s)
        assert s["max"] == max(values), (key, values, s)
        assert abs(s["median"] - median(values)) <= step, (key, values, s)
        if s["median"] == 0:
            assert s["spread_percent"] is None or s["max"] == s["min"]
            continue
        spread = (s["max"] - s["min"]) / s["median"] * 100
        # min, max and the median each printed to `step`: the spread recomputed from them is
        # off by up to the first two's rounding over the median, plus the median's own share.
        tolerance = 0.01 + 2 * step / s["median"] * 100 + spread * step / s["median"]
        assert abs(s["spread_percent"] - spread) <= tolerance, (key, s)
        # The spread is printed to two decimals; one that prints as the threshold can be on
        # either side of it.
        if abs(s["spread_percent"] - THRESHOLD) > 0.01:
            assert s["flagged"] == (s["spread_percent"] > THRESHOLD), (key, s)


# --- the runs and their summary ------------------------------------------------------------


def test_each_run_is_a_whole_run_with_its_own_connections(ipcd):
    d = ipcd(LOUD).start_ready()
    proc = start("load", "-s", d.sock, "-c", "2", "-t", "200ms", "--repeat", "3")
    out, err = finish_client(proc, 30)
    assert proc.returncode == 0, out + err
    # Each run opens its connections anew: three runs of two.
    seen = re.findall(rf"Connection \d+ from pid {proc.pid} uid \d+ gid \d+ on ", d.log())
    assert len(seen) == 6, d.log()
    assert [m[0] for m in RUN_LINE.findall(out)] == ["1", "2", "3"], out
    assert out.startswith("ipc-client load: 2 connections, ") and \
        out.split("\n")[0].endswith(", 3 runs"), out
    assert "  runs          3 of 3\n" in out and "  exit status   0 (the worst run's)\n" in out
    assert err == ""
    assert d.stop() == 0


def test_json_summary_is_that_of_its_runs(ipcd):
    d = ipcd(QUIET).start_ready()
    p = client("load", "-s", d.sock, "-c", "2", "-t", "250ms", "--repeat", "4", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    assert set(doc) == {"kind", "version", "command", "machine", "parameters", "runs", "repeat"}
    assert doc["kind"] == "summary" and doc["command"] == "load"
    rep = doc["repeat"]
    assert set(rep) == {"runs", "completed", "interrupted", "spread", "spread_threshold_percent",
                        "figures", "latency_us", "exit_status"}, rep
    assert (rep["runs"], rep["completed"], rep["interrupted"]) == (4, 4, False)
    assert rep["spread"] == "(max - min) / median" and rep["spread_threshold_percent"] == 10
    assert len(doc["runs"]) == 4
    assert all(r["connections"] == 2 and r["exit_status"] == 0 for r in doc["runs"])
    # Four runs, four start times: each its own run.
    assert len({r["timestamp"] for r in doc["runs"]}) == 4
    assert rep["figures"]["achieved_per_s"] is None  # a closed loop sends no schedule
    assert rep["latency_us"]["count"] == sum(r["round_trips"] for r in doc["runs"])
    assert_summary_matches_runs(doc)
    # The run lines went to standard error, one per run, for a person waiting.
    assert [m[0] for m in RUN_LINE.findall(p.stderr)] == ["1", "2", "3", "4"], p.stderr
    assert d.stop() == 0


def test_rate_compares_what_it_sent(ipcd):
    """rate's achieved figure holds still from run to run: not flagged, honestly."""
    d = ipcd(QUIET).start_ready()
    p = client("rate", "-s", d.sock, "-r", "200", "-t", "500ms", "--repeat", "3", "--json", "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stderr == ""  # -q: no run lines
    doc = json.loads(p.stdout)
    sent = doc["repeat"]["figures"]["achieved_per_s"]
    assert sent is not None and 190 <= sent["median"] <= 210, sent
    assert sent["spread_percent"] < THRESHOLD and sent["flagged"] is False, sent
    assert_summary_matches_runs(doc)
    assert d.stop() == 0


def slow_second_connection_server(path, stop):
    """A stream echo that answers its second connection 20 ms late, every time: with -c 1, the
    second of three runs is far slower than the others whatever else the machine does."""
    def late(data):
        time.sleep(0.02)
        return data
    return threaded_echo_server(path, stop, lambda n: late if n == 1 else bytes)


def test_a_run_slowed_down_on_purpose_is_flagged(workdir):
    """A server that answers the second run's connection 20 ms late: that run's round trips per
    second fall far below the others', and text and JSON both flag the figure."""
    for fmt in ("text", "json"):
        path = os.path.join(workdir, f"slow-{fmt}.sock")
        stop = threading.Event()
        server = slow_second_connection_server(path, stop)
        try:
            proc = start("load", "-s", path, "-c", "1", "-t", "300ms", "--repeat", "3",
                         *(["--json"] if fmt == "json" else []))
            out, err = finish_client(proc, 30)
        finally:
            stop.set()
            server.join(5)
        assert proc.returncode == 0, out + err
        if fmt == "json":
            doc = json.loads(out)
            assert doc["repeat"]["figures"]["round_trips_per_s"]["flagged"] is True, doc
            assert_summary_matches_runs(doc)
            continue
        m = re.search(r"^  round trips/s +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)% !$", out, re.M)
        assert m, out
        med, lo, hi, spread = map(float, m.groups())
        assert spread > THRESHOLD and abs(spread - (hi - lo) / med * 100) < 0.2, out
        assert re.search(r"^  warning       \d+ of the figures vary by more than 10% between runs "
                         r"\(marked !\):$", out, re.M), out
        assert "the runs disagree; pin the threads with --cpus, close other load, or use more " \
               "runs" in out


def test_text_warnings_are_exactly_the_flagged_figures(ipcd):
    d = ipcd(QUIET).start_ready()
    p = client("load", "-s", d.sock, "-b", "1", "-t", "200ms", "--repeat", "3")
    assert p.returncode == 0, p.stdout + p.stderr
    rows = re.findall(r"^  (\S.{12}) +(\S+) +(\S+) +(\S+) +(\S+)%( !)?$", p.stdout, re.M)
    assert len(rows) == 8, p.stdout  # every figure but rate's sent/s
    over = {name.strip() for name, *_, spread, mark in rows if float(spread) > THRESHOLD}
    marked = {name.strip() for name, *_, mark in rows if mark}
    assert marked == over, p.stdout
    warning = re.search(r"^  warning       (\d+) of the figures vary by more than 10%", p.stdout,
                        re.M)
    assert (int(warning[1]) if warning else 0) == len(over), p.stdout
    assert ("the runs disagree" in p.stdout) == bool(over)
    assert d.stop() == 0


# --- --repeat 1, usage ----------------------------------------------------------------------


def shape(text):
    """A text report's line labels, without the figures."""
    return [re.sub(r"\d[\d.]*\s*\w*", "#", line)[:16] for line in text.split("\n")]


@pytest.mark.parametrize("fmt", ["text", "--json", "--csv"])
def test_repeat_1_is_a_single_run(ipcd, fmt):
    d = ipcd(QUIET).start_ready()
    extra = [] if fmt == "text" else [fmt]
    one = client("load", "-s", d.sock, "-t", "200ms", "--repeat", "1", *extra)
    plain = client("load", "-s", d.sock, "-t", "200ms", *extra)
    assert one.returncode == plain.returncode == 0, one.stdout + plain.stdout
    assert one.stderr == plain.stderr == ""
    if fmt == "--json":
        a, b = json.loads(one.stdout), json.loads(plain.stdout)
        assert set(a) == set(b) and "result" in a and "runs" not in a
        for key in ("parameters", "result"):
            assert set(a[key]) == set(b[key])
        a["parameters"]["placement"] = b["parameters"]["placement"]
        assert a["parameters"] == b["parameters"]
    elif fmt == "--csv":
        a, b = list(csv.reader(io.StringIO(one.stdout))), list(csv.reader(io.StringIO(plain.stdout)))
        assert len(a) == len(b) == 2 and a[0] == b[0] and a[1][0] == "summary"
    else:
        assert shape(one.stdout) == shape(plain.stdout), one.stdout + plain.stdout
        assert "run 1/1" not in one.stdout
    assert d.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["load", "--repeat", "0"], "--repeat '0': out of range (allowed: 1 to 1000)"),
    (["rate", "--repeat", "1001"], "--repeat '1001': out of range (allowed: 1 to 1000)"),
    (["load", "--repeat", "x"], "--repeat 'x': not a whole number (allowed: 1 to 1000)"),
    (["load", "--repeat", "-2"], "--repeat '-2': not a whole number"),
    (["load", "--repeat"], "option '--repeat' needs an argument"),
    (["ping", "--repeat", "3"], "--repeat is not an option of 'ping'"),
    (["echo", "--repeat", "3"], "--repeat is not an option of 'echo'"),
    (["suite", "qt", "--repeat", "3"], "--repeat is not an option of 'suite'"),
    (["load", "--repeat", "3", "-i", "1s"], "-i and --repeat 3 are mutually exclusive"),
])
def test_repeat_usage_errors(args, message):
    p = client(*args[:1], "-s", "/nonexistent", *args[1:], progress=())
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stdout == ""
    assert p.stderr.startswith(f"ipc-client: {message}"), p.stderr
    assert p.stderr.endswith("\nTry 'ipc-client --help'.\n"), p.stderr


# --- the series' end: signals, failures ----------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_in_the_second_run_ends_the_series(ipcd, sig):
    d = ipcd(LOUD).start_ready()
    proc = start("load", "-s", d.sock, "-t", "1s", "--repeat", "5", "--json")
    seen = []
    read_lines_until(proc.stderr, r"run 1/5", 20, seen)
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = finish_client(proc, 30)
    assert proc.returncode == 0, out + err
    doc = json.loads(out)
    rep = doc["repeat"]
    assert (rep["runs"], rep["completed"], rep["interrupted"]) == (5, 2, True), rep
    assert [r["interrupted"] for r in doc["runs"]] == [False, True]
    assert_summary_matches_runs(doc)
    # No third run started: two runs' connections only.
    assert len(re.findall(rf"Connection \d+ from pid {proc.pid} uid \d+ gid \d+ on ", d.log())) == 2
    assert "run 2/5" in err and "(interrupted)" in err and "run 3/5" not in err, err
    assert d.stop() == 0


def test_interrupted_series_text_says_so(ipcd):
    d = ipcd(QUIET).start_ready()
    proc = start("load", "-s", d.sock, "-t", "1s", "--repeat", "5")
    seen = []
    read_lines_until(proc.stdout, r"run 1/5", 20, seen)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = finish_client(proc, 30)
    out = "".join(seen) + out
    assert proc.returncode == 0, out + err
    assert [(m[0], m[3]) for m in RUN_LINE.findall(out)] == [("1", ""), ("2", " (interrupted)")]
    assert "  runs          2 of 5: interrupted by a signal, the summary covers the runs " \
           "done\n" in out, out
    assert d.stop() == 0


def test_no_server_at_all_exits_3():
    p = client("load", "-s", "/nonexistent/ipcd.sock", "-t", "100ms", "--repeat", "3", "--json")
    assert p.returncode == 3, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    assert [r["exit_status"] for r in doc["runs"]] == [3, 3, 3]
    assert doc["repeat"]["exit_status"] == 3
    assert doc["repeat"]["figures"]["p50_us"] is None
    assert doc["repeat"]["figures"]["round_trips_per_s"]["median"] == 0


def test_server_gone_mid_series_is_the_worst_runs_status(ipcd):
    """Runs after the server went away cannot connect (3 each); the series, which did connect,
    exits 1, not 3: some of its runs reached the server."""
    d = ipcd(QUIET).start_ready()
    proc = start("load", "-s", d.sock, "-t", "300ms", "--repeat", "4", "--json")
    seen = []
    read_lines_until(proc.stderr, r"run 1/4", 20, seen)
    d.signal(signal.SIGKILL)
    d.wait_exit()
    out, err = finish_client(proc, 30)
    assert proc.returncode == 1, out + err
    doc = json.loads(out)
    statuses = [r["exit_status"] for r in doc["runs"]]
    assert len(statuses) == 4 and statuses[0] == 0 and statuses[-1] == 3, statuses
    assert doc["repeat"]["exit_status"] == 1


# --- CSV, histogram, another server ---------------------------------------------------------


def test_csv_has_a_row_per_run_and_the_summary_rows(ipcd):
    d = ipcd(QUIET).start_ready()
    p = client("rate", "-s", d.sock, "-r", "500", "-t", "300ms", "--repeat", "3", "--csv")
    assert p.returncode == 0, p.stdout + p.stderr
    single = client("rate", "-s", d.sock, "-r", "500", "-t", "100ms", "--csv")
    header, *rows = list(csv.reader(io.StringIO(p.stdout)))
    assert header == next(csv.reader(io.StringIO(single.stdout)))
    assert [r[0] for r in rows] == ["run"] * 3 + SUMMARY_KINDS
    assert all(len(r) == len(header) for r in rows)
    rows = [dict(zip(header, r)) for r in rows]
    runs, summary = rows[:3], {r["kind"]: r for r in rows[3:]}
    for key in ("round_trips_per_s", "achieved_per_s", "p50_us", "p99_9_us"):
        values = [float(r[key]) for r in runs]
        assert float(summary["min"][key]) == min(values), key
        assert float(summary["max"][key]) == max(values), key
        assert float(summary["median"][key]) == median(values), key
        assert summary["flagged"][key] == \
            ("true" if float(summary["spread_percent"][key]) > THRESHOLD else "false")
    assert all(s["exit_status"] == "0" and s["interrupted"] == "false" and
               s["round_trips"] == "" for s in summary.values())
    assert d.stop() == 0


def test_histogram_holds_every_runs_round_trips(ipcd, workdir):
    d = ipcd(QUIET).start_ready()
    path = os.path.join(workdir, "all.hgrm")
    p = client("load", "-s", d.sock, "-t", "200ms", "--repeat", "3", "--json", "--histogram",
               path)
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    with open(path) as f:
        text = f.read()
    total = int(re.search(r"Total count    = +(\d+)\]", text)[1])
    assert total == sum(r["round_trips"] for r in doc["runs"]) == \
        doc["repeat"]["latency_us"]["count"]
    assert total > max(r["round_trips"] for r in doc["runs"])
    assert d.stop() == 0


def test_socat_echo_three_runs(workdir):
    """A server the project did not write; it forks per connection, so its CPU time is never
    read, and the summary says so instead of summarising part of it."""
    with socat_echo(workdir) as path:
        p = client("load", "-s", path, "-c", "2", "-t", "300ms", "--repeat", "3")
        assert p.returncode == 0, p.stdout + p.stderr
        assert [m[0] for m in RUN_LINE.findall(p.stdout)] == ["1", "2", "3"], p.stdout
        assert "  server cpu/rt n/a (not measured in every run)\n" in p.stdout, p.stdout
        assert re.search(r"^  round trips/s +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+%( !)?$", p.stdout, re.M)
        j = client("load", "-s", path, "-t", "200ms", "--repeat", "3", "--json", "-q")
        assert j.returncode == 0, j.stdout + j.stderr
        doc = json.loads(j.stdout)
        assert doc["repeat"]["figures"]["server_cpu_ns_per_rt"] is None
        assert doc["repeat"]["figures"]["client_cpu_ns_per_rt"] is not None
        assert_summary_matches_runs(doc)
