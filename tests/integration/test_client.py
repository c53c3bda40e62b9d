# SPDX-License-Identifier: MIT
"""ipc-client, the measured load tool, driven as a user would: against the real ipcd, against
echo servers the project did not write (socat, a deliberately corrupting one written here),
and against nothing at all. Every count it reports is checked exactly; the only latency
assertions are those the design promises (a stalled server shows in the open loop's p99)."""

import csv
import io
import json
import os
import re
import resource
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import IPC_CLIENT, SANITIZER_REPORT, finish_client, socat_echo, wait_until

QUIET = "log = { connections = false; };\n"
LOUD = "log = { connections = true; };\n"  # the connect lines tell when a client runs
ERROR_KEYS = ("refused", "closed_by_server", "connect_failed", "connect_timeout", "reset",
              "eof_early", "timed_out", "verify_failures", "lost", "short_connections")


def client_env(**extra):
    env = dict(os.environ, **extra)
    if "IPCD_SOCKET" not in extra:
        env.pop("IPCD_SOCKET", None)  # only -s says where the server is, unless a test says
    return env


def check_sanitizer(stderr):
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    report = SANITIZER_REPORT.search(text)
    assert not report, f"sanitizer report from ipc-client:\n{text}"


def run_client(*args, timeout=30, input=None, env=None, binary=False):
    """ipc-client with args; its stdout and stderr as text, or as bytes if input is bytes or
    binary is set (text mode would turn a '\r' into a '\n')."""
    binary = binary or isinstance(input, bytes)
    p = subprocess.run([IPC_CLIENT, *args], input=input, capture_output=True, timeout=timeout,
                       stdin=None if input is not None else subprocess.DEVNULL,
                       text=not binary, env=env or client_env())
    check_sanitizer(p.stderr)
    return p


def run_json(*args, timeout=30):
    """ipc-client ... --json: the process and its one JSON document."""
    p = run_client(*args, "--json", timeout=timeout)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"stdout is not one JSON document (exit {p.returncode}):\n"
                             f"{p.stdout}\nstderr:\n{p.stderr}")
    return p, doc


def start_client(*args):
    return subprocess.Popen([IPC_CLIENT, *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=client_env())



def connections_seen(d, pid):
    """Connections from process pid that ipcd logged as accepted."""
    return len(re.findall(rf"Connection \d+ from pid {pid} uid \d+ gid \d+ on ", d.log()))


def assert_no_errors(result):
    assert {k: result["errors"][k] for k in ERROR_KEYS} == dict.fromkeys(ERROR_KEYS, 0)
    assert result["mismatches"] == []


def assert_latency_sane(result):
    lat = result["latency_us"]
    assert lat["count"] == result["round_trips"]
    assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    assert lat["min"] <= lat["mean"] <= lat["max"]
    assert lat["overflow"] == 0


def assert_clean_run(p, doc, connections, round_trips, bytes_received):
    assert p.returncode == 0, p.stdout + p.stderr
    r = doc["result"]
    assert r["connections"] == connections
    assert r["round_trips"] == round_trips
    assert r["bytes_received"] == bytes_received
    assert r["bytes_sent"] == bytes_received
    assert r["interrupted"] is False
    assert r["exit_status"] == 0
    assert_no_errors(r)
    assert_latency_sane(r)


# --- 1. closed loop against ipcd ---------------------------------------------------------


def test_load_stream_counts_every_round_trip_and_byte(ipcd):
    d = ipcd(QUIET).start_ready()
    p, doc = run_json("load", "-s", d.sock, "-c", "20", "-b", "1K", "-n", "64K")
    assert_clean_run(p, doc, 20, 20 * 64, 20 * 65536)
    params = doc["parameters"]
    assert (params["connections"], params["chunk"], params["bytes_per_connection"],
            params["total_bytes"]) == (20, 1024, 65536, 20 * 65536)
    assert (params["type"], params["mode"], params["depth"], params["verify"]) == \
        ("stream", "closed", 1, True)
    assert p.stderr == ""
    assert d.stop() == 0


def test_load_total_that_does_not_divide_evenly(ipcd):
    d = ipcd(QUIET).start_ready()
    p, doc = run_json("load", "-s", d.sock, "--total", "10001", "-c", "3", "-b", "1000")
    # 3334 + 3334 + 3333 bytes: four chunks each, the last one short.
    assert_clean_run(p, doc, 3, 12, 10001)
    assert doc["parameters"]["total_bytes"] == 10001
    assert d.stop() == 0


# --- 2. the documented report formats ----------------------------------------------------


def test_json_has_every_documented_key_and_csv_matches(ipcd):
    d = ipcd(QUIET).start_ready()
    p, doc = run_json("load", "-s", d.sock, "-c", "2", "-b", "100", "-n", "1000")
    assert p.returncode == 0
    assert set(doc) == {"kind", "version", "command", "machine", "parameters", "result"}
    assert doc["kind"] == "summary"
    assert doc["command"] == "load"
    assert isinstance(doc["version"], str) and doc["version"]
    assert set(doc["machine"]) == {"cpus", "kernel"}
    assert doc["machine"]["cpus"] in {os.cpu_count(), len(os.sched_getaffinity(0))}
    assert doc["machine"]["kernel"] == os.uname().release
    assert set(doc["parameters"]) == {
        "socket", "type", "mode", "connections", "chunk", "depth", "rate",
        "bytes_per_connection", "total_bytes", "duration_s", "warmup_s", "threads", "verify",
        "connect_timeout_s", "io_timeout_s", "placement"}
    assert doc["parameters"]["socket"] == d.sock
    assert set(doc["result"]) == {
        "connections", "connect_s", "elapsed_s", "round_trips", "bytes_sent", "bytes_received",
        "round_trips_per_s", "mib_per_s", "interrupted", "latency_us", "errors", "mismatches",
        "exit_status", "connections_opened", "rate", "connect_error", "timestamp", "cpu"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["result"]["timestamp"])
    assert set(doc["result"]["latency_us"]) == {
        "count", "min", "p50", "p90", "p99", "p99_9", "max", "mean", "stddev", "overflow"}
    assert set(doc["result"]["errors"]) == set(ERROR_KEYS)
    assert doc["result"]["round_trips"] == 20

    p = run_client("load", "-s", d.sock, "-c", "2", "-b", "100", "-n", "1000", "--csv")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 2, p.stdout
    header, row = list(csv.reader(io.StringIO(p.stdout)))
    assert len(header) == len(row) > 10
    fields = dict(zip(header, row))
    assert (fields["command"], fields["type"], fields["mode"]) == ("load", "stream", "closed")
    assert (fields["connections"], fields["chunk"], fields["round_trips"]) == ("2", "100", "20")
    assert all(fields[k] == "0" for k in ERROR_KEYS)
    assert d.stop() == 0


def test_core_fields_in_every_format(ipcd):
    # Issue 12, item 7: min, socket, threads, interrupted, timestamp and exit status in text,
    # JSON and CSV alike, and latencies in microseconds everywhere (ping's CSV was in ms).
    d = ipcd(QUIET).start_ready()
    args = ("load", "-s", d.sock, "-c", "2", "-b", "100", "-n", "1000")
    p = run_client(*args)
    assert re.match(r"ipc-client load: 2 connections, 2 threads, 100 B chunks", p.stdout)
    assert re.search(r"^  started       \d{4}-\d\d-\d\dT[\d:.]+Z$", p.stdout, re.M)
    assert re.search(r"^                min \S+", p.stdout, re.M)
    assert p.stdout.splitlines()[-1] == "  exit status   0"
    p, doc = run_json(*args)
    r = doc["result"]
    assert (doc["parameters"]["socket"], doc["parameters"]["threads"]) == (d.sock, 2)
    assert r["interrupted"] is False and r["exit_status"] == 0 and r["latency_us"]["min"] > 0
    p = run_client(*args, "--csv")
    header, row = list(csv.reader(io.StringIO(p.stdout)))
    f = dict(zip(header, row))
    assert (f["socket"], f["threads"], f["interrupted"], f["exit_status"]) == \
        (d.sock, "2", "false", "0")
    assert float(f["min_us"]) > 0 and f["timestamp"].endswith("Z")
    p = run_client("ping", "-s", d.sock, "-n", "2", "-i", "0", "--csv")
    assert p.returncode == 0, p.stdout + p.stderr
    header, row = list(csv.reader(io.StringIO(p.stdout)))
    f = dict(zip(header, row))
    assert not [h for h in header if h.endswith("_ms")], header
    assert (f["kind"], f["command"], f["socket"], f["exit_status"]) == \
        ("summary", "ping", d.sock, "0")
    assert 0 < float(f["min_us"]) <= float(f["max_us"]) and f["timestamp"].endswith("Z")
    p, doc = run_json("ping", "-s", d.sock, "-n", "2", "-i", "0")
    assert doc["kind"] == "summary" and doc["result"]["exit_status"] == 0
    assert doc["result"]["interrupted"] is False and doc["result"]["timestamp"].endswith("Z")
    assert d.stop() == 0


# --- 3. message sockets ------------------------------------------------------------------


def test_load_seqpacket(ipcd):
    d = ipcd(QUIET, kind="seqpacket").start_ready()
    p, doc = run_json("load", "-s", d.sock, "--type", "seqpacket", "-c", "4", "-b", "1000",
                      "-n", "100K")
    # 102400 bytes: 102 messages of 1000 bytes and one of 400, per connection.
    assert_clean_run(p, doc, 4, 4 * 103, 4 * 102400)
    assert doc["parameters"]["type"] == "seqpacket"
    assert d.stop() == 0


def test_load_dgram(ipcd):
    d = ipcd(QUIET, kind="dgram").start_ready()
    p, doc = run_json("load", "-s", d.sock, "--type", "dgram", "-c", "2", "-b", "512",
                      "-n", "50K")
    assert_clean_run(p, doc, 2, 2 * 100, 2 * 51200)
    assert doc["parameters"]["type"] == "dgram"
    assert d.stop() == 0


# --- 4. an echo server the project did not write -----------------------------------------


def test_load_against_socat(workdir):
    with socat_echo(workdir) as path:
        p, doc = run_json("load", "-s", path, "-c", "4", "-b", "4K", "-n", "256K")
        assert_clean_run(p, doc, 4, 4 * 64, 4 * 262144)


# --- 5. a server that corrupts one byte --------------------------------------------------


class CorruptingEchoServer:
    """Echoes every byte of each stream connection except the one at stream offset `offset`,
    which goes back with its bits flipped."""

    def __init__(self, path, offset):
        self.path = path
        self.offset = offset
        self.stopping = threading.Event()
        self.threads = []
        self.errors = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.listener.settimeout(0.05)
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        position = 0
        conn.settimeout(0.05)
        with conn:
            while not self.stopping.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return  # the client gave up on us: a reset is expected
                if not data:
                    return
                at = self.offset - position
                if 0 <= at < len(data):
                    data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
                position += len(data)
                try:
                    conn.settimeout(5)
                    conn.sendall(data)
                    conn.settimeout(0.05)
                except OSError:
                    return

    def stop(self):
        self.stopping.set()
        self.acceptor.join(5)
        self.listener.close()
        for t in self.threads:
            t.join(5)
        assert not self.acceptor.is_alive()
        assert not any(t.is_alive() for t in self.threads)


def test_verify_reports_connection_and_offset_of_a_corrupted_byte(workdir):
    server = CorruptingEchoServer(os.path.join(workdir, "bad.sock"), offset=5000)
    try:
        p, doc = run_json("load", "-s", server.path, "-c", "3", "-b", "1K", "-n", "16K")
        assert p.returncode == 1, p.stdout + p.stderr
        r = doc["result"]
        assert r["exit_status"] == 1
        assert r["connections"] == 3
        assert r["errors"]["verify_failures"] == 3
        assert r["errors"]["short_connections"] == 3
        assert sorted((m["connection"], m["offset"]) for m in r["mismatches"]) == \
            [(0, 5000), (1, 5000), (2, 5000)]
        # Chunks 0-3 (bytes 0-4095) came back intact on each; chunk 4 holds byte 5000.
        assert r["round_trips"] == 3 * 4
        assert r["bytes_received"] == 3 * 4096

        p = run_client("load", "-s", server.path, "-c", "3", "-b", "1K", "-n", "16K")
        assert p.returncode == 1, p.stdout + p.stderr
        for i in range(3):
            assert f"connection {i}, first differing byte at offset 5000" in p.stdout, p.stdout
        assert re.search(r"^  errors +verify failed 3, short connections 3$", p.stdout, re.M), \
            p.stdout
    finally:
        server.stop()


# --- 6. a daemon at its connection limit -------------------------------------------------


def test_connections_beyond_max_connections_count_as_closed_by_server(ipcd):
    d = ipcd("limits = { max_connections = 5; };\n" + LOUD).start_ready()
    d.wait_log(r"Connection 1 .*closed")  # the wake-up exchange is gone: 5 slots free
    # Bound by time, not count: the five admitted stay open until ipcd has taken all ten from
    # its backlog, however late its accepting thread runs. With -n, one of them could finish
    # and free its slot first on a busy machine, and a sixth would be let in.
    p, doc = run_json("load", "-s", d.sock, "-c", "10", "-b", "100", "-t", "1")
    assert p.returncode == 1, p.stdout + p.stderr
    r = doc["result"]
    assert r["exit_status"] == 1
    # connect() succeeds into the backlog for all ten; ipcd then closes the five over its
    # limit before they see any echo: opened, not connected, and closed by the server.
    assert r["connections_opened"] == 10 and r["connections"] == 5
    assert r["errors"]["closed_by_server"] == 5
    assert {k: v for k, v in r["errors"].items() if k != "closed_by_server"} == \
        dict.fromkeys(set(ERROR_KEYS) - {"closed_by_server"}, 0)
    assert r["mismatches"] == []
    assert r["round_trips"] > 0
    assert r["bytes_received"] == r["bytes_sent"] == 100 * r["round_trips"]
    assert len(re.findall(r"Refused connection \d+ .*: max-connections$", d.log(), re.M)) == 5
    assert d.stop() == 0


# --- 7. the open loop does not hide a stalled server -------------------------------------


def test_rate_shows_a_stalled_server_in_p99(ipcd):
    d = ipcd(LOUD).start_ready()
    # Arithmetic: -r 2000 for -t 1 schedules 2000 messages, one every 0.5 ms from t0. All
    # four connections appear in ipcd's log just before t0 (the client connects them all,
    # then starts). The stall begins a = ~0.25 s after that and lasts at least 0.5 s (SIGCONT
    # is sent only after the sleep), so it ends at b >= a + 0.5 s. A message scheduled at
    # s in [a, b - 0.35 s] cannot be echoed before b: its latency, counted from s, is at
    # least 0.35 s. That window is >= 0.15 s long, i.e. >= 300 messages = 15 % of the run,
    # far more than the 1 % above p99, so p99 >= 350 ms (less < 1 % histogram error) and
    # the first message of the stall waits nearly the whole 0.5 s. The window stays inside
    # the run as long as a <= t0 + 0.85 s, a margin of 0.6 s for scheduling noise.
    proc = start_client("rate", "-s", d.sock, "-r", "2000", "-c", "4", "-b", "64", "-t", "1",
                        "--json")
    try:
        wait_until(lambda: connections_seen(d, proc.pid) == 4 or proc.poll() is not None, 10,
                   "the client's connections")
        time.sleep(0.25)
        d.signal(signal.SIGSTOP)
        try:
            time.sleep(0.5)
        finally:
            d.signal(signal.SIGCONT)
    finally:
        out, err = finish_client(proc)
    assert proc.returncode == 0, out + err
    doc = json.loads(out)
    r = doc["result"]
    assert doc["parameters"]["mode"] == "open" and doc["parameters"]["rate"] == 2000
    assert_no_errors(r)
    assert_latency_sane(r)
    assert r["latency_us"]["max"] >= 450000
    assert r["latency_us"]["p99"] >= 300000
    assert d.stop() == 0


def test_rate_without_a_stall_has_low_latency(ipcd):
    d = ipcd(QUIET).start_ready()
    p, doc = run_json("rate", "-s", d.sock, "-r", "2000", "-c", "4", "-b", "64", "-t", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    r = doc["result"]
    assert_no_errors(r)
    assert_latency_sane(r)
    # Nothing stalls: every message is sent on time and echoed at once. 100 ms is ample on
    # any machine; a client that sends late or in bursts shows here.
    assert r["latency_us"]["p99"] < 100000, r["latency_us"]
    # The schedule holds 2000 messages in one second; a little slack for the stop timer.
    assert 1900 <= r["round_trips"] <= 2100, r
    assert d.stop() == 0


# --- 8. the progress bar is for terminals only -------------------------------------------


def test_progress_bar_only_on_a_terminal_or_when_asked(ipcd):
    d = ipcd(QUIET).start_ready()
    p = run_client("load", "-s", d.sock, "-c", "2", "-t", "1", binary=True)
    assert p.returncode == 0, p.stdout + p.stderr
    for stream in (p.stdout, p.stderr):
        assert b"\r" not in stream and b"[#" not in stream
    assert p.stderr == b""
    assert p.stdout.startswith(b"ipc-client load: ")

    p = run_client("load", "-s", d.sock, "-c", "2", "-t", "1", "--progress", "always",
                   binary=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(rb"\r\[#*\s*\] +\d+%", p.stderr), p.stderr
    assert b"\r" not in p.stdout
    assert p.stdout.startswith(b"ipc-client load: ")
    assert d.stop() == 0


# --- 9. ping -----------------------------------------------------------------------------


def test_ping_prints_each_round_trip_and_a_summary(ipcd):
    d = ipcd(QUIET).start_ready()
    p = run_client("ping", "-s", d.sock, "-n", "5", "-i", "50ms")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    replies = [l for l in lines if " bytes from " in l]
    assert len(replies) == 5, p.stdout
    for seq, line in enumerate(replies):
        assert re.fullmatch(rf"64 bytes from {re.escape(d.sock)}: seq={seq} "
                            rf"time=\d+(?:\.\d+)? (?:ns|us|ms|s)", line), line
    assert lines[:5] == replies
    assert re.search(r"^5 transmitted, 5 received, 0\.0% loss", p.stdout, re.M), p.stdout
    assert re.search(r"^rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ (?:ns|us|ms|s)$",
                     p.stdout, re.M)
    assert p.stderr == ""

    p, doc = run_json("ping", "-s", d.sock, "-n", "5", "-i", "50ms")
    assert p.returncode == 0, p.stdout + p.stderr
    assert doc["command"] == "ping"
    r = doc["result"]
    assert r["transmitted"] == r["received"] == 5
    assert r["loss_percent"] == 0 and r["verify_failures"] == 0
    assert r["latency_us"]["count"] == 5

    p = run_client("ping", "-s", d.sock, "-n", "3", "-i", "0", "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    assert " bytes from " not in p.stdout
    assert "3 transmitted, 3 received, 0.0% loss" in p.stdout
    assert d.stop() == 0


def test_ping_dgram(ipcd):
    d = ipcd(QUIET, kind="dgram").start_ready()
    p = run_client("ping", "-s", d.sock, "--type", "dgram", "-n", "3", "-i", "20ms")
    assert p.returncode == 0, p.stdout + p.stderr
    assert len(re.findall(r"^64 bytes from .*: seq=\d+ time=", p.stdout, re.M)) == 3
    assert "3 transmitted, 3 received, 0.0% loss" in p.stdout
    assert d.stop() == 0


# --- 10. echo ----------------------------------------------------------------------------


def test_echo_returns_stdin_exactly(ipcd):
    d = ipcd(QUIET).start_ready()
    data = os.urandom(1 << 20)
    p = run_client("echo", "-s", d.sock, input=data)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) == len(data) and p.stdout == data
    # The socket may also come from the environment.
    p = run_client("echo", input=b"from the environment\n",
                   env=client_env(IPCD_SOCKET=d.sock))
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"from the environment\n"
    assert d.stop() == 0


def test_echo_seqpacket(ipcd):
    d = ipcd(QUIET, kind="seqpacket").start_ready()
    data = b"one small message\n\0binary\xff\n"
    p = run_client("echo", "-s", d.sock, "--type", "seqpacket", input=data, timeout=20)
    assert p.returncode == 0, p.stderr
    assert p.stdout == data
    assert d.stop() == 0


# --- 11. suite ---------------------------------------------------------------------------


def test_suite_qt_with_no_server_exits_3_with_the_whole_matrix(workdir):
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 10064:
        pytest.skip("the suite's 10000-connection row needs a hard fd limit of 10064")
    path = os.path.join(workdir, "nothing-here.sock")
    start = time.monotonic()
    p, doc = run_json("suite", "qt", "-s", path, timeout=30)
    took = time.monotonic() - start
    assert p.returncode == 3, p.stdout + p.stderr
    assert took < 15  # every connect fails at once; this is a hang guard, not a benchmark
    assert doc["command"] == "suite" and doc["suite"] == "qt"
    rows = doc["rows"]
    matrix = [(r["workload"], r["parameters"]["connections"], r["parameters"]["chunk"],
               r["parameters"]["total_bytes"]) for r in rows]
    assert matrix == \
        [("pingPong", n, 1, 100000) for n in (10, 50, 100, 1000, 10000)] + \
        [("dataExchange", n, b, 50000 * b) for n in (1, 5, 10) for b in (100, 1000, 10000, 100000)]
    for r in rows:
        res = r["result"]
        assert res["connections"] == 0 and res["round_trips"] == 0
        assert res["errors"]["connect_failed"] == r["parameters"]["connections"]
        assert res["exit_status"] == 3


# --- 12. exit statuses 3 and 2 -----------------------------------------------------------


def test_no_server_at_all_exits_3(workdir):
    p, doc = run_json("load", "-s", "/nonexistent/x.sock", "-c", "3", "-n", "4K")
    assert p.returncode == 3, p.stdout + p.stderr
    r = doc["result"]
    assert r["connections"] == 0 and r["exit_status"] == 3
    assert r["errors"]["connect_failed"] == 3  # ENOENT
    assert r["round_trips"] == 0
    # A socket file nobody listens on: refused, not failed.
    path = os.path.join(workdir, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    p, doc = run_json("load", "-s", path, "-c", "2", "-n", "4K")
    assert p.returncode == 3, p.stdout + p.stderr
    assert doc["result"]["connections"] == 0
    assert doc["result"]["errors"]["refused"] == 2
    p = run_client("ping", "-s", "/nonexistent/x.sock", "-n", "1")
    assert p.returncode == 3
    p = run_client("echo", "-s", "/nonexistent/x.sock", input="x")
    assert p.returncode == 3 and p.stdout == ""


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["load", "-c", "0"],
    ["load", "-c", "12abc"],
    ["load", "-b", "5X"],
    ["load", "--type", "pipe"],
    ["load", "-n", "1M", "-t", "1"],
    ["load", "-b", "4K", "-n", "1K"],
    ["load", "--json", "--csv"],
    ["load", "--bogus"],
    ["load", "-c"],
    ["ping", "--total", "5"],
    ["rate", "-r", "2", "-c", "4"],
    ["load", "-s", "/" + "x" * 200],
    ["suite", "nope"],
    ["load", "--progress", "sometimes"],
])
def test_usage_errors_exit_2_with_two_lines(args):
    # Were an argument list accepted, this is where it would go: nowhere.
    p = run_client(*args, env=client_env(IPCD_SOCKET="/nonexistent/x.sock"))
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 2, p.stderr
    assert lines[0].startswith("ipc-client: ") and len(lines[0]) > len("ipc-client: ")
    assert lines[1] == "Try 'ipc-client --help'."


# --- 13. periodic lines ------------------------------------------------------------------


def test_interval_lines_in_every_format(ipcd):
    # Before: intervals in text only, printed before the header; JSON and CSV had none, and
    # the last, partial interval was never reported.
    d = ipcd(QUIET).start_ready()
    p = run_client("load", "-s", d.sock, "-c", "2", "-t", "1.1s", "-i", "200ms")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("ipc-client load: 2 connections"), p.stdout
    periodic = [l for l in lines if l.startswith("  [")]
    assert lines[1:1 + len(periodic)] == periodic  # right after the header, nothing between
    stamps = []
    for line in periodic:
        m = re.fullmatch(r"  \[ *(\d+\.\d)s\] +\d+\.\d rt/s +\d+\.\d\d MiB/s +p50 \S+ +p99 \S+ +"
                         r"max \S+ +0 errors", line)
        assert m, line
        stamps.append(float(m.group(1)))
    assert stamps == sorted(stamps) and len(stamps) >= 5
    assert stamps[-1] >= 1.0  # the last, partial interval (1.0 s to 1.1 s) is there

    p = run_client("load", "-s", d.sock, "-c", "2", "-t", "1.1s", "-i", "200ms", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    docs = [json.loads(l) for l in p.stdout.splitlines()]  # JSON Lines: each line a document
    intervals, summary = docs[:-1], docs[-1]
    assert summary["kind"] == "summary" and len(intervals) >= 5
    assert all(i["kind"] == "interval" and i["command"] == "load" for i in intervals)
    assert all({"p50", "p99", "max"} <= set(i["latency_us"]) for i in intervals)
    assert sum(i["round_trips"] for i in intervals) == summary["result"]["round_trips"]
    assert intervals[-1]["span_s"] < 0.2 and intervals[-1]["t_s"] >= 1.0

    p = run_client("load", "-s", d.sock, "-c", "2", "-t", "1.1s", "-i", "200ms", "--csv")
    assert p.returncode == 0, p.stdout + p.stderr
    header, *rows = list(csv.reader(io.StringIO(p.stdout)))
    assert all(len(r) == len(header) for r in rows)
    kinds = [dict(zip(header, r))["kind"] for r in rows]
    assert kinds[-1] == "summary" and set(kinds[:-1]) == {"interval"} and len(kinds) >= 6
    first = dict(zip(header, rows[0]))
    assert float(first["p50_us"]) > 0 and float(first["max_us"]) >= float(first["p99_us"])
    assert d.stop() == 0


def test_progress_goes_to_a_terminal_whatever_stdout_is(ipcd):
    # stderr a terminal, stdout a pipe: the bar is drawn (before: only when both were).
    d = ipcd(QUIET).start_ready()
    master, slave = os.openpty()
    try:
        p = subprocess.run([IPC_CLIENT, "load", "-s", d.sock, "-t", "1s"], stdout=subprocess.PIPE,
                           stderr=slave, timeout=30)
        os.close(slave)
        slave = None
        drawn = b""
        while True:
            r, _, _ = select.select([master], [], [], 0.5)
            if not r:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0
    assert b"rt/s" in drawn and b"[#" in drawn, drawn
    assert p.stdout.startswith(b"ipc-client load: ")
    assert d.stop() == 0


def test_an_empty_run_has_no_latency_figures(ipcd):
    # Nothing measured: null percentiles in JSON and empty ones in CSV, never a 0 us one.
    d = ipcd(QUIET).start_ready()
    p, doc = run_json("load", "-s", d.sock, "-b", "1K", "-n", "8K", "--warmup", "10s")
    assert p.returncode == 1, p.stdout + p.stderr
    lat = doc["result"]["latency_us"]
    assert lat["count"] == 0 and all(lat[k] is None for k in ("min", "p50", "p99", "max", "mean"))
    p = run_client("load", "-s", d.sock, "-b", "1K", "-n", "8K", "--warmup", "10s", "--csv")
    header, row = list(csv.reader(io.StringIO(p.stdout)))
    fields = dict(zip(header, row))
    assert fields["p50_us"] == fields["max_us"] == "" and fields["round_trips"] == "0"
    assert d.stop() == 0


# --- 14. SIGINT ends a run cleanly -------------------------------------------------------


def test_sigint_ends_the_run_with_a_clean_report(ipcd):
    d = ipcd(LOUD).start_ready()
    proc = start_client("load", "-s", d.sock, "-c", "4", "-b", "1K", "-t", "10", "--json")
    try:
        wait_until(lambda: connections_seen(d, proc.pid) == 4 or proc.poll() is not None, 10,
                   "the client's connections")
        time.sleep(0.5)
        assert proc.poll() is None
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
    finally:
        out, err = finish_client(proc, timeout=10)
    assert time.monotonic() - start < 5
    assert proc.returncode == 0, out + err
    r = json.loads(out)["result"]
    assert r["interrupted"] is True
    assert r["connections"] == 4
    assert r["round_trips"] > 0
    assert r["bytes_received"] == r["round_trips"] * 1024
    assert r["elapsed_s"] < 10
    assert_no_errors(r)
    assert_latency_sane(r)
    assert d.stop() == 0


# --- 15. busy connections are not idle ---------------------------------------------------


def test_idle_timeout_spares_busy_connections(ipcd):
    d = ipcd("limits = { idle_timeout = 1; };\n" + QUIET).start_ready()
    p, doc = run_json("load", "-s", d.sock, "-c", "10", "-b", "1K", "-t", "2.5")
    assert p.returncode == 0, p.stdout + p.stderr
    r = doc["result"]
    assert r["connections"] == 10
    assert r["round_trips"] > 0
    assert r["bytes_received"] == r["round_trips"] * 1024
    assert_no_errors(r)
    assert "(idle)" not in d.log()
    assert d.stop() == 0


def test_a_report_that_cannot_be_written_is_a_failure(ipcd):
    d = ipcd("").start_ready()
    with open("/dev/full", "w") as full:
        r = subprocess.run([IPC_CLIENT, "load", "-s", d.sock, "-t", "0.2", "--json"],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 1
    assert "failed to write the report" in r.stderr
    assert d.stop() == 0


def test_ping_a_chunk_larger_than_the_socket_buffers(ipcd, workdir):
    """ping sends and reads at once: an echo server writes back while it reads, so a chunk
    above the socket buffers (about 200 KiB here) must not wait to be sent whole."""
    d = ipcd(QUIET).start_ready()
    with socat_echo(workdir) as path:
        for server in (d.sock, path):
            for size in ("512K", "4M"):
                p = run_client("ping", "-s", server, "-b", size, "-n", "3", "-i", "0", "-q",
                               "--io-timeout", "5s", timeout=60)
                assert p.returncode == 0, f"{server} -b {size}:\n{p.stdout}{p.stderr}"
                assert "3 transmitted, 3 received, 0.0% loss" in p.stdout, p.stdout
    assert d.stop() == 0
