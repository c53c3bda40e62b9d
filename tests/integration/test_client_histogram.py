# SPDX-License-Identifier: MIT
"""ipc-client --histogram FILE (issue 15, item 5): after the report, the whole latency
distribution in HdrHistogram's percentile-distribution text. Driven against the real ipcd: the
file is read as HdrHistogram's plotter and the wrk2 scripts read it, column by column, and
checked against the JSON report of the same run. A file that cannot be written costs the exit
status, never the report."""

import json
import os
import re
import subprocess

import pytest

from conftest import IPC_CLIENT, SANITIZER_REPORT

QUIET = "log = { connections = false; };\n"
HEADER = "       Value     Percentile TotalCount 1/(1-Percentile)"
# %12.3f %14.12f %10d %14.2f, and the last row without its infinite fourth column.
ROW = re.compile(r"^( {0,11}\d+\.\d{3}) ([01]\.\d{12}) ( {0,9}\d+)(?: ( {0,13}\d+\.\d{2}))?$")
FOOTER = [
    re.compile(r"^#\[Mean    = ( {0,11}\d+\.\d{3}), StdDeviation   = ( {0,11}\d+\.\d{3})\]$"),
    re.compile(r"^#\[Max     = ( {0,11}\d+\.\d{3}), Total count    = ( {0,11}\d+)\]$"),
    re.compile(r"^#\[Buckets = ( {0,11}\d+), SubBuckets     = ( {0,11}\d+)\]$"),
]
PRECISION = 1 / 128  # hist.h: a bucket is at most 1/128 of its values wide
ROUNDING = 0.0015  # two figures, each printed to the nanosecond in microseconds


def run_client(*args, timeout=60, cwd=None):
    env = dict(os.environ)
    env.pop("IPCD_SOCKET", None)
    p = subprocess.run([IPC_CLIENT, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, env=env, cwd=cwd)
    assert not SANITIZER_REPORT.search(p.stderr), p.stderr
    return p


def parse_hgrm(text):
    """Rows as (value, percentile, total count, 1/(1-p) or None) and the footer, checking
    every line's layout on the way; fails on anything else."""
    lines = text.split("\n")
    assert lines[0] == HEADER and lines[1] == "", text
    assert lines[-1] == "", "the file ends with a newline"
    rows, i = [], 2
    while (m := ROW.match(lines[i])):
        rows.append((float(m[1]), float(m[2]), int(m[3]), m[4] and float(m[4])))
        i += 1
    footer = []
    for pattern in FOOTER:
        m = pattern.match(lines[i])
        assert m, f"line {i + 1}: {lines[i]!r}\n{text}"
        footer.append((float(m[1]), float(m[2])))
        i += 1
    assert lines[i].startswith("# ipc-client: values in microseconds"), text
    assert i + 2 == len(lines), text
    (mean, stddev), (max_, total), (buckets, sub_buckets) = footer
    return rows, {"mean": mean, "stddev": stddev, "max": max_, "count": int(total),
                  "buckets": int(buckets), "sub_buckets": int(sub_buckets)}


def plotter_points(text):
    """What HdrHistogram's plotter takes from the text: of the lines not starting with '#',
    those of four numbers, as (1/(1-Percentile), Value)."""
    points = []
    for line in text.split("\n"):
        fields = line.split()
        if not line.startswith("#") and len(fields) == 4:
            try:
                points.append((float(fields[3]), float(fields[0])))
            except ValueError:
                continue
    return points


def assert_distribution(text, latency):
    """The file describes the same round trips as the report's latency_us object."""
    rows, footer = parse_hgrm(text)
    n = latency["count"]
    assert n > 0 and len(rows) >= 2
    percentiles = [r[1] for r in rows]
    assert percentiles == sorted(set(percentiles)), "percentiles ascend strictly"
    assert percentiles[0] == 0.0 and percentiles[-1] == 1.0
    for prev, row in zip(rows, rows[1:]):
        assert row[0] >= prev[0] and row[2] >= prev[2], (prev, row)
    for value, p, count, inverse in rows[:-1]:
        assert count >= p * n, "a row's count holds its percentile of the round trips"
        # The file prints p to 12 decimals and 1/(1-p) to 2, both from the exact p: the
        # rounding of p (up to 5e-13) moves 1/(1-p) by up to inverse² × 5e-13, which at
        # p = 1 - 2^-17 (inverse 131072) is 0.0086, more than the 0.005 of the inverse's own.
        slack = 0.005 + inverse * inverse * 5e-13 + 1e-9 * inverse
        assert abs(inverse - 1 / (1 - p)) <= slack, (p, inverse)
    last = rows[-1]
    assert last[2] == n and last[3] is None, last
    assert rows[-2][2] == n, "the bucket that completes the count also has a row of its own"
    # The footer's figures are exact, as are the report's; both print to the nanosecond.
    assert footer["count"] == n
    assert abs(footer["max"] - latency["max"]) <= ROUNDING
    assert abs(footer["mean"] - latency["mean"]) <= ROUNDING
    assert abs(footer["stddev"] - latency["stddev"]) <= ROUNDING
    assert (footer["buckets"], footer["sub_buckets"]) == (37, 256)
    # No value above the largest time, and the last is it.
    assert last[0] == footer["max"]
    # The first row bounds the smallest time; the median row, the report's median. Each value
    # is the top of its bucket, the report's the middle: apart by at most the precision.
    first, median = rows[0], next(r for r in rows if r[1] == 0.5)
    assert latency["min"] - ROUNDING <= first[0] <= latency["min"] * (1 + PRECISION) + ROUNDING
    assert latency["p50"] - ROUNDING <= median[0] <= latency["p50"] * (1 + PRECISION) + ROUNDING
    assert len(plotter_points(text)) == len(rows) - 1
    return rows, footer


# --- a run's distribution ----------------------------------------------------------------


def test_load_writes_the_distribution_of_its_round_trips(ipcd, workdir):
    d = ipcd(QUIET).start_ready()
    path = os.path.join(workdir, "load.hgrm")
    with open(path, "w") as f:
        f.write("an earlier file, replaced whole\n" * 1000)
    p = run_client("load", "-s", d.sock, "-c", "4", "-j", "2", "-b", "64", "-t", "1s",
                   "--json", "--histogram", path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stderr == ""
    result = json.loads(p.stdout)["result"]
    with open(path) as f:
        text = f.read()
    rows, footer = assert_distribution(text, result["latency_us"])
    assert rows[-1][2] == result["round_trips"] > 1000
    assert d.stop() == 0


def test_rate_writes_the_distribution_of_its_round_trips(ipcd, workdir):
    d = ipcd(QUIET).start_ready()
    path = os.path.join(workdir, "rate.hgrm")
    p = run_client("rate", "-s", d.sock, "-c", "2", "-r", "2000", "-t", "1s", "--json",
                   "--histogram", path)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(p.stdout)["result"]
    with open(path) as f:
        rows, _ = assert_distribution(f.read(), result["latency_us"])
    assert rows[-1][2] == result["round_trips"]
    assert d.stop() == 0


@pytest.mark.parametrize("kind", ["stream", "seqpacket", "dgram"])
def test_ping_writes_the_distribution_of_its_round_trips(ipcd, workdir, kind):
    d = ipcd(QUIET, kind=kind).start_ready()
    path = os.path.join(workdir, "ping.hgrm")
    p = run_client("ping", "-s", d.sock, "--type", kind, "-n", "500", "-i", "0", "-q",
                   "--json", "--histogram", path)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(p.stdout)["result"]
    with open(path) as f:
        rows, _ = assert_distribution(f.read(), result["latency_us"])
    assert rows[-1][2] == result["received"] == 500
    assert d.stop() == 0


def test_text_report_and_histogram_together(ipcd, workdir):
    """Without --json the report is the usual text, and the file the same text format."""
    d = ipcd(QUIET).start_ready()
    path = os.path.join(workdir, "ping.hgrm")
    p = run_client("ping", "-s", d.sock, "-n", "20", "-i", "0", "--histogram", path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "20 transmitted, 20 received" in p.stdout
    with open(path) as f:
        rows, footer = parse_hgrm(f.read())
    assert footer["count"] == rows[-1][2] == 20
    assert d.stop() == 0


# --- a file that cannot be written ---------------------------------------------------------


def unwritable(workdir):
    return {
        "directory": (workdir, "Is a directory"),
        "missing directory": (os.path.join(workdir, "none", "x.hgrm"),
                              "No such file or directory"),
        "/proc": ("/proc/x", None),
        "full disk": ("/dev/full", "No space left on device"),
    }


@pytest.mark.parametrize("case", ["directory", "missing directory", "/proc", "full disk"])
def test_ping_that_cannot_write_its_histogram_reports_then_fails(ipcd, workdir, case):
    path, reason = unwritable(workdir)[case]
    d = ipcd(QUIET).start_ready()
    p = run_client("ping", "-s", d.sock, "-n", "5", "-i", "0", "--json", "--histogram", path)
    assert p.returncode == 1, p.stdout + p.stderr
    doc = json.loads(p.stdout)  # the report is whole
    assert doc["result"]["received"] == 5 and doc["result"]["exit_status"] == 0
    m = re.fullmatch(r"ipc-client: failed to write the histogram to '(.*)': (.+)\n", p.stderr)
    assert m and m[1] == path, p.stderr
    assert reason is None or m[2] == reason, p.stderr
    assert d.stop() == 0


@pytest.mark.parametrize("command", ["load", "rate"])
def test_run_that_cannot_write_its_histogram_reports_then_fails(ipcd, workdir, command):
    d = ipcd(QUIET).start_ready()
    p = run_client(command, "-s", d.sock, "-t", "200ms", "--histogram", workdir)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "  exit status   0\n" in p.stdout  # the report, whole, and what the run was
    assert p.stderr == f"ipc-client: failed to write the histogram to '{workdir}': " \
                       "Is a directory\n"
    assert d.stop() == 0


# --- usage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["suite", "qt", "--histogram", "h"], "--histogram is not an option of 'suite'"),
    (["echo", "--histogram", "h"], "--histogram is not an option of 'echo'"),
    (["load", "--histogram", "-"], "--histogram '-': standard output holds the report"),
    (["ping", "--histogram", ""], "--histogram '': empty file name"),
    (["rate", "--histogram"], "option '--histogram' needs an argument"),
])
def test_histogram_usage_errors(workdir, args, message):
    p = run_client(*args, cwd=workdir)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stdout == ""
    assert p.stderr.startswith(f"ipc-client: {message}"), p.stderr
    assert p.stderr.endswith("\nTry 'ipc-client --help'.\n"), p.stderr
    assert not os.path.exists(os.path.join(workdir, "h"))
