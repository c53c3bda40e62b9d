# SPDX-License-Identifier: MIT
"""Access control with real users: the test creates two, runs clients as each, and checks
allow lists and per-UID limits by uid, group and name; it removes them again at the end."""

import os
import pwd
import re
import subprocess
import sys

import pytest

from conftest import wait_until

USERS = ("ipcdtest1", "ipcdtest2")

# Runs as the test user: opens N connections, echoes once on each, reports, holds them until
# stdin closes. One line per connection: "ok I" or "closed I".
CLIENT = """
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
conns = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(b"hi")
        got = s.recv(2)
    except OSError:
        got = b""
    print(("ok %d" if got == b"hi" else "closed %d") % i, flush=True)
    conns.append(s)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def users():
    if os.geteuid() != 0:
        pytest.skip("needs root to create users")
    made = []
    try:
        for name in USERS:
            try:
                pwd.getpwnam(name)
            except KeyError:
                subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                                "--shell", "/usr/sbin/nologin", name], check=True, timeout=30)
                made.append(name)
        yield {name: pwd.getpwnam(name) for name in USERS}
    finally:
        for name in made:
            subprocess.run(["userdel", name], timeout=30)


class AsUser:
    """Clients running as one user, holding their connections until closed."""

    def __init__(self, user, path, n):
        self.p = subprocess.Popen([sys.executable, "-c", CLIENT, path, str(n)],
                                  user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines = [self.p.stdout.readline().strip() for _ in range(n)]

    def served(self):
        return sum(line.startswith("ok") for line in self.lines)

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def reachable_ipcd(ipcd, workdir, conf):
    """Self-bound, so the test sets who may open the socket: everyone, access lists decide."""
    os.chmod(workdir, 0o711)
    path = os.path.join(workdir, "open.sock")
    d = ipcd('socket_mode = "0666";\n' + conf, activate=False, listen=path,
             args=["--listen", path])
    os.chmod(d.dir, 0o711)
    d.start()
    d.notify.wait_for("READY=1")
    return d


def test_allow_uids_by_name(ipcd, workdir, users):
    a, b = users["ipcdtest1"], users["ipcdtest2"]
    d = reachable_ipcd(ipcd, workdir, 'access = { allow_uids = [ "ipcdtest1" ]; };\n')
    ok = AsUser(a, d.sock, 1)
    no = AsUser(b, d.sock, 1)
    assert ok.served() == 1 and no.served() == 0
    # The denial names the peer: its uid and the pid of the process that connected.
    line = d.wait_log(rf"Denied connection \d+ from pid {no.p.pid} uid {b.pw_uid} gid "
                      rf"{b.pw_gid}: not in access.allow_uids or allow_gids").group(0)
    assert str(b.pw_uid) in line
    ok.close()
    no.close()
    assert d.stop() == 0


def test_allow_gids_admits_members_only(ipcd, workdir, users):
    a, b = users["ipcdtest1"], users["ipcdtest2"]
    d = reachable_ipcd(ipcd, workdir, f"access = {{ allow_gids = [ {b.pw_gid} ]; }};\n")
    ok = AsUser(b, d.sock, 1)
    no = AsUser(a, d.sock, 1)
    assert ok.served() == 1 and no.served() == 0
    d.wait_log(rf"Denied connection \d+ from pid {no.p.pid} uid {a.pw_uid} ")
    ok.close()
    no.close()
    assert d.stop() == 0


def test_per_uid_limit_counts_each_user_apart(ipcd, workdir, users):
    a, b = users["ipcdtest1"], users["ipcdtest2"]
    d = reachable_ipcd(ipcd, workdir, "limits = { max_connections_per_uid = 2; };\n")
    first_a = AsUser(a, d.sock, 3)
    first_b = AsUser(b, d.sock, 3)
    # Two each, whoever else is connected; the third of each is refused.
    assert first_a.lines == ["ok 0", "ok 1", "closed 2"]
    assert first_b.lines == ["ok 0", "ok 1", "closed 2"]
    log = d.wait_log(rf"Refused connection \d+ from pid {first_b.p.pid} uid {b.pw_uid} gid \d+: "
                     r"max-connections-per-uid").string
    assert re.search(rf"from pid {first_a.p.pid} uid {a.pw_uid} gid \d+: "
                     r"max-connections-per-uid", log)
    # A's slots free up when A's connections close; B's stay taken.
    first_a.close()

    def a_gets_a_slot():
        probe = AsUser(a, d.sock, 1)
        probe.close()
        return probe.served() == 1

    wait_until(a_gets_a_slot, 5, "a free slot for ipcdtest1")
    again_b = AsUser(b, d.sock, 1)
    assert again_b.served() == 0
    again_b.close()
    first_b.close()
    assert d.stop() == 0
