# SPDX-License-Identifier: MIT
"""Structured logging as the journal receives it. No journald runs here, so the test stands in
for it: in a private mount namespace /run/systemd is a directory of ours, and the socket the
journal protocol writes to (/run/systemd/journal/socket) is one the test reads."""

import os
import shutil
import socket
import subprocess

import pytest

from conftest import IPCD, connect, recv_exact, wait_until

MESSAGE_IDS = {
    "start": "8b425d899d124fb48b32fb7e7e9efb4d",
    "ready": "9ec5317039de4184a608e020962a1382",
    "connect": "0b45c0c5b4ff4000ac84e963cf3205f7",
    "disconnect": "e21c26cd81a24740a5182f3e9ee9265b",
    "refused": "1398f5479c5c475ea6452d671a40397f",
    "stop": "bf4b8b774b4b4cee9995881d72b7390c",
}


def parse_native(datagram):
    """The journal's native protocol: FIELD=value lines (no binary values here)."""
    fields = {}
    for line in datagram.decode().split("\n"):
        if "=" in line:
            k, v = line.split("=", 1)
            fields[k] = v
    return fields


def run_with_journal(workdir, command, exercise):
    """Runs command(journal_stream) (ipcd, or what execs it) with its stderr the journal stream
    and the journal's socket ours, calls exercise(), stops it with SIGTERM (exit 0 wanted).
    Returns the entries the journal got and what reached stderr instead."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private mount namespace")
    fake_run = os.path.join(workdir, "run-systemd")
    os.makedirs(os.path.join(fake_run, "journal"))
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind(os.path.join(fake_run, "journal", "socket"))
    stderr_path = os.path.join(workdir, "stderr")
    with open(stderr_path, "wb") as err:
        st = os.fstat(err.fileno())
        stream = f"{st.st_dev}:{st.st_ino}"
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount --bind "$0" /run/systemd && exec "$@"', fake_run] + command(stream),
            stdout=err, stderr=err, env=dict(os.environ, JOURNAL_STREAM=stream),
            stdin=subprocess.DEVNULL)
    try:
        exercise(proc)
        proc.terminate()
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    entries = []
    journal.setblocking(False)
    while True:
        try:
            entries.append(parse_native(journal.recv(1 << 16)))
        except BlockingIOError:
            break
    journal.close()
    with open(stderr_path) as f:
        return entries, f.read()


def test_events_carry_message_ids_and_fields(workdir):
    conf = os.path.join(workdir, "ipcd.conf")
    with open(conf, "w") as f:
        f.write("limits = { max_connections = 1; };\nlog = { connections = true; };\n")
    path = os.path.join(workdir, "j.sock")

    def exercise(proc):
        wait_until(lambda: os.path.exists(path) or proc.poll() is not None, 5, "socket")
        with connect(path) as c:
            c.sendall(b"hi")
            assert recv_exact(c, 2) == b"hi"
            with connect(path) as refused:
                assert refused.recv(10) == b""

    entries, stderr = run_with_journal(
        workdir, lambda stream: [IPCD, "-c", conf, "--listen", path], exercise)
    by_event = {}
    for e in entries:
        by_event.setdefault(e.get("IPCD_EVENT"), []).append(e)
    for event, message_id in MESSAGE_IDS.items():
        assert event in by_event, f"no {event} entry in {entries}"
        assert all(e["MESSAGE_ID"] == message_id for e in by_event[event])
        assert all(e["SYSLOG_IDENTIFIER"] == "ipcd" for e in by_event[event])
    conn = by_event["connect"][0]
    assert conn["IPCD_PEER_UID"] == "0" and int(conn["IPCD_PEER_PID"]) > 0
    assert conn["PRIORITY"] == "6"
    refused = by_event["refused"][0]
    assert refused["IPCD_REASON"] == "max-connections" and refused["PRIORITY"] == "4"
    gone = [e for e in by_event["disconnect"] if e.get("IPCD_REASON") == "eof"][0]
    assert gone["IPCD_BYTES"] == "2" and int(gone["IPCD_DURATION_USEC"]) >= 0
    assert "IPCD_BYTES" in by_event["stop"][0]
    # Nothing went to stderr: the journal took it all.
    assert stderr == ""
