# SPDX-License-Identifier: MIT
"""ipc-client suite qt, run as README.md and ipc-client(1) document it, against ipcd with the
shipped conf/ipcd.conf (max_connections = 1024). A row the limits make impossible, the
server's connection limit or the client's own open files, is skipped with a note and is no
failure; every row that runs passes, and the exit status is 0. The whole matrix runs (the suite
has no shorter form), about half a minute; no timing is asserted."""

import csv
import io
import json
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import IPC_CLIENT, SANITIZER_REPORT, SRCDIR

SUITE_TIMEOUT = 110  # seconds; the matrix takes about 30 on a 2-CPU machine
PING_PONG = (10, 50, 100, 1000, 10000)
DATA_EXCHANGE = [(n, b) for n in (1, 5, 10) for b in (100, 1000, 10000, 100000)]
MATRIX = [("pingPong", n, 1) for n in PING_PONG] + \
    [("dataExchange", n, b) for n, b in DATA_EXCHANGE]
FDS_SPARE = 64  # open files ipc-client keeps beyond one per connection
ROW = re.compile(r"^(pingPong|dataExchange)\s+(\d+)\s+(\d+)\s+(.*)$")


def shipped_conf():
    with open(os.path.join(SRCDIR, "conf", "ipcd.conf")) as f:
        return f.read()


def run_suite(sock, *args, nofile=None):
    """`ipc-client suite qt ARGS`, the socket in $IPCD_SOCKET as a user would set it; nofile:
    the (soft, hard) open-file limit to run it under."""
    env = dict(os.environ, IPCD_SOCKET=sock)

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    p = subprocess.run([IPC_CLIENT, "suite", "qt", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=SUITE_TIMEOUT, env=env,
                       preexec_fn=limit if nofile else None)
    report = SANITIZER_REPORT.search(p.stderr)
    assert not report, f"sanitizer report from ipc-client:\n{p.stderr}"
    return p


def skip_notes(p, connections):
    """The lines, in the table or on stderr, that mark a row of `connections` as skipped."""
    return [line for line in (p.stdout + p.stderr).splitlines()
            if "skipped" in line and re.search(rf"\b{connections}\b", line)]


def test_suite_qt_on_the_shipped_config_skips_what_max_connections_refuses(ipcd):
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 10000 + FDS_SPARE:
        pytest.skip("the 10000-connection row needs a hard open-file limit of 10064, or the "
                    "client's own limit, not the server's, is what skips it")
    d = ipcd(shipped_conf()).start_ready()
    p = run_suite(d.sock)
    out = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert p.returncode == 0, out
    ran, marked = {}, {}
    for line in p.stdout.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        key = (m[1], int(m[2]), int(m[3]))
        fields = m[4].split()
        if len(fields) == 6 and fields[0].isdigit():
            ran[key] = int(fields[-1])  # the errors column
        else:
            marked[key] = m[4]
    # Every row but the one max_connections makes impossible ran, without a single error.
    assert sorted(ran) == sorted(k for k in MATRIX if k != ("pingPong", 10000, 1)), out
    assert all(errors == 0 for errors in ran.values()), out
    # That one is marked skipped, with the server's limit the probe found, not run and failed.
    assert ("pingPong", 10000, 1) not in ran, out
    notes = skip_notes(p, 10000)
    assert notes and any("1024" in n for n in notes), out
    assert all("skipped" in v for v in marked.values()), out
    assert d.proc.poll() is None, d.log()


def test_suite_qt_skips_rows_over_the_clients_open_file_limit(ipcd):
    # 164 open files leave room for 100 connections: the 1000 and 10000 rows cannot run.
    d = ipcd(shipped_conf()).start_ready()
    p = run_suite(d.sock, "--json", nofile=(164, 164))
    out = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert p.returncode == 0, out
    doc = json.loads(p.stdout)
    ran, marked = [], []
    for r in doc["rows"]:
        key = (r["workload"], r["parameters"]["connections"], r["parameters"]["chunk"])
        if r.get("skipped"):
            marked.append(key)
            assert r.get("result") is None, out
            continue
        ran.append(key)
        res = r["result"]
        assert res["exit_status"] == 0 and res["interrupted"] is False, out
        assert not any(res["errors"].values()), out
        assert res["round_trips"] == (100000 if key[0] == "pingPong" else 50000), out
    assert ran == [k for k in MATRIX if k[1] <= 100], out
    assert set(marked) <= {k for k in MATRIX if k[1] > 100}, out
    for n in (1000, 10000):
        notes = skip_notes(p, n)
        assert notes and all("open-file limit" in note for note in notes), out


def limited_server_slow_to_accept(path, limit, expected, pause, stop):
    """A unix stream echo server that holds at most `limit` connections and turns the rest away
    (accepts and closes them), as ipcd does at max_connections, but that stops accepting for
    `pause` seconds once it holds `limit`: the probe's other connections wait in the backlog
    until the first ones have had their echo. It accepts no more than `expected` connections,
    and when they have all gone, or stop (an Event) is set, it closes its socket: the rows after
    the probe find no server. Returns its thread."""
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(256)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)

    def accept(held, seen):
        try:
            c, _ = ls.accept()
        except BlockingIOError:
            return seen
        if len(held) >= limit:
            c.close()
        else:
            held.add(c)
            sel.register(c, selectors.EVENT_READ)
        return seen + 1

    def echo(c, held):
        try:
            data = c.recv(4096)
            if data:
                c.sendall(data)
                return
        except OSError:
            pass
        sel.unregister(c)
        held.discard(c)
        c.close()

    def serve():
        held, seen, resume = set(), 0, None
        try:
            while not stop.is_set() and (seen < expected or held):
                if resume is not None and time.monotonic() >= resume:
                    sel.register(ls, selectors.EVENT_READ)
                    resume = None
                for key, _ in sel.select(0.05):
                    if key.fileobj is ls:
                        seen = accept(held, seen)
                        if seen in (limit, expected):
                            sel.unregister(ls)
                        if seen == limit:
                            resume = time.monotonic() + pause
                    else:
                        echo(key.fileobj, held)
        finally:
            for c in held:
                c.close()
            ls.close()
            os.unlink(path)
            sel.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_the_probe_holds_its_connections_so_a_slow_accept_shows_the_real_limit(workdir):
    # The server holds 10 connections and accepts nothing for a second once it has them, while
    # the probe's other 90 wait in its backlog. A probe connection that closed after its echo
    # would let the next one in, and the limit would read 20, 50 or none at all: each must stay
    # open until the probe is over. After the probe the server is gone, so the rows that could
    # run fail to connect: only the skip notes are this test's business.
    path = os.path.join(workdir, "limited.sock")
    stop = threading.Event()
    server = limited_server_slow_to_accept(path, limit=10, expected=100, pause=1.0, stop=stop)
    try:
        p = run_suite(path, nofile=(164, 164))  # room for 100 connections: the probe's size
    finally:
        stop.set()
        server.join(5)
    out = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert not server.is_alive(), out
    ping_pong = {int(m[2]): m[4] for m in map(ROW.match, p.stdout.splitlines())
                 if m and m[1] == "pingPong"}
    assert ping_pong[50] == ping_pong[100] == \
        "skipped: the server accepts at most 10 connections at once", out
    assert ping_pong[1000] == ping_pong[10000] == \
        "skipped: the client's open-file limit allows 100 connections", out


def test_an_interrupted_suite_marks_its_rows(ipcd):
    # SIGINT during the matrix: the row it cut short says "interrupted", the rows it never
    # reached say so too, in the CSV's note column; what ran is reported as it was.
    d = ipcd(shipped_conf()).start_ready()
    proc = subprocess.Popen([IPC_CLIENT, "suite", "qt", "-s", d.sock, "--csv"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(5)  # past the probe, inside the matrix (about 30 s), whichever row
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=SUITE_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    header, *rows = list(csv.reader(io.StringIO(out)))
    notes = [dict(zip(header, r))["note"] for r in rows]
    assert len(rows) == len(MATRIX), out + err
    limit = "skipped: the server accepts at most 1024 connections at once"
    cut = notes.index("interrupted")
    assert all(n in ("", limit) for n in notes[:cut]), notes  # ran, or over the limit
    # Those after it never ran: interrupted before they could, or skipped for a limit anyway.
    assert all(n in ("skipped: interrupted before it ran", limit) for n in notes[cut + 1:]), \
        notes
    assert "skipped: interrupted before it ran" in notes
    assert dict(zip(header, rows[cut]))["interrupted"] == "true"
    assert d.stop() == 0
