# SPDX-License-Identifier: MIT
"""Datagram echoes go only to the socket that sent the datagram. A sender binds a path, sends,
then makes that path lead to another socket (a victim standing in for journald's): through a
symlink (last component or a directory), a hard link, a rename, or a relative name that means
another file to ipcd. ipcd must answer none of them, and must still answer honest senders. The
swap happens while ipcd is stopped (SIGSTOP), so it is in place before ipcd reads the
datagram: no timing luck either way."""

import contextlib
import os
import signal
import socket
import subprocess
import sys

from conftest import dgram_client, sockaddr, wait_until

STATS = "log = { stats_interval = 1; };\n"
OTHER_UID = 12345  # the attacker in the tests that need a uid that is not root's


def all_threads_stopped(pid):
    """True once every thread of pid is in state T: kill() returns before they get there."""
    task = f"/proc/{pid}/task"
    for tid in os.listdir(task):
        try:
            with open(f"{task}/{tid}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            continue  # a thread that has just ended
        if state != "T":
            return False
    return True


@contextlib.contextmanager
def stopped(pid):
    """ipcd (or the systemd-socket-activate that will exec it) does not run inside."""
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: all_threads_stopped(pid), 5, f"pid {pid} to stop", interval=0.001)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def dgram_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sockaddr(path))
    s.settimeout(5)
    return s


def queued(s):
    """Everything waiting in datagram socket s's queue, without waiting for more."""
    out = []
    s.setblocking(False)
    try:
        while True:
            out.append(s.recv(1 << 16))
    except BlockingIOError:
        pass
    finally:
        s.settimeout(5)
    return out


def assert_nothing_reflected(d, victim):
    """An honest round trip after the attack: ipcd serves its socket in order, so once this
    echo is back the attack datagram has been handled, and whatever it sent is queued."""
    assert d.exchange(b"control ping") == b"control ping"
    assert queued(victim) == []


def wait_unanswerable(d, n):
    try:
        d.wait_log(r"Stats: .* datagrams \(%d unanswerable, 0 dropped" % n)
    except AssertionError as e:
        raise AssertionError(f"{e}; the log:\n{d.log()}") from None


def replace_with_symlink(path, target):
    os.unlink(path)
    os.symlink(target, path)


def make_reachable(d, workdir):
    """Lets another uid reach d's socket (the private directory is root's)."""
    os.chmod(workdir, 0o711)
    os.chmod(d.dir, 0o711)
    os.chmod(d.sock, 0o666)


def attacker_dir(workdir):
    att = os.path.join(workdir, "att")
    os.mkdir(att, 0o755)
    os.chown(att, OTHER_UID, OTHER_UID)
    return att


# Runs as OTHER_UID. "echo": binds PATH, sends, prints the echo. "send": binds PATH, sends and
# exits without waiting. "rename": as "send", then renames SRC over PATH.
ATTACKER = r"""
import os, socket, sys
mode, ipcd, path = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(5)
s.sendto(b"forged as " + mode.encode(), ipcd)
if mode == "echo":
    sys.stdout.write(s.recv(4096).decode())
elif mode == "rename":
    os.rename(sys.argv[4], path)
"""


def as_attacker(*args):
    def drop():
        os.setgroups([])
        os.setgid(OTHER_UID)
        os.setuid(OTHER_UID)
    p = subprocess.run([sys.executable, "-c", ATTACKER, *args], preexec_fn=drop,
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_symlinked_sender_path_is_not_followed(ipcd, workdir):
    d = ipcd(STATS, kind="dgram").start_ready()
    victim = dgram_socket(os.path.join(workdir, "journal.sock"))
    a_path = os.path.join(workdir, "a.sock")
    a = dgram_client(workdir, "a.sock")
    with stopped(d.pid):
        a.sendto(b"forged journal entry", d.sock)
        replace_with_symlink(a_path, victim.getsockname())
    assert_nothing_reflected(d, victim)
    wait_unanswerable(d, 1)
    assert "symbolic link" in d.log()
    a.close()
    assert d.stop() == 0


def test_symlinked_directory_component_is_not_followed(ipcd, workdir):
    d = ipcd(STATS, kind="dgram").start_ready()
    vdir, sdir = os.path.join(workdir, "vdir"), os.path.join(workdir, "sdir")
    os.mkdir(vdir)
    os.mkdir(sdir)
    victim = dgram_socket(os.path.join(vdir, "s.sock"))  # the same name as the sender's
    sender = dgram_socket(os.path.join(sdir, "s.sock"))
    with stopped(d.pid):
        sender.sendto(b"forged through a directory", d.sock)
        os.rename(sdir, sdir + ".old")
        os.symlink(vdir, sdir)
    assert_nothing_reflected(d, victim)
    wait_unanswerable(d, 1)
    sender.close()
    assert d.stop() == 0


def test_symlink_in_the_datagram_that_starts_ipcd(ipcd, workdir):
    """The activating datagram was queued before ipcd asked for credentials: ipcd cannot tell
    who sent it, and the path checks alone must hold."""
    d = ipcd(STATS, kind="dgram").start()
    victim = dgram_socket(os.path.join(workdir, "journal.sock"))
    a_path = os.path.join(workdir, "a.sock")
    a = dgram_client(workdir, "a.sock")
    with stopped(d.pid):  # systemd-socket-activate: it execs ipcd once this is queued
        a.sendto(b"forged before ipcd ran", d.sock)
        replace_with_symlink(a_path, victim.getsockname())
    d.notify.wait_for("READY=1")
    assert_nothing_reflected(d, victim)
    wait_unanswerable(d, 1)
    a.close()
    assert d.stop() == 0


def test_hard_link_in_the_datagram_that_starts_ipcd(ipcd, workdir):
    """Without credentials there is no owner to compare: a second name on the socket file is
    what gives the hard link away. Root makes the link, standing in for an attacker on a host
    with fs.protected_hardlinks=0."""
    d = ipcd(STATS, kind="dgram").start()
    victim = dgram_socket(os.path.join(workdir, "journal.sock"))
    a_path = os.path.join(workdir, "a.sock")
    a = dgram_client(workdir, "a.sock")
    with stopped(d.pid):
        a.sendto(b"forged before ipcd ran", d.sock)
        os.link(victim.getsockname(), a_path + ".tmp")
        os.replace(a_path + ".tmp", a_path)
    d.notify.wait_for("READY=1")
    assert_nothing_reflected(d, victim)
    wait_unanswerable(d, 1)
    assert "hard link" in d.log()
    a.close()
    assert d.stop() == 0


def test_relative_sender_path_is_not_resolved_in_ipcds_directory(ipcd, workdir, monkeypatch):
    """A relative address names a file in the sender's working directory, which ipcd cannot
    know; resolved in ipcd's own (here workdir, under systemd '/') it can name anything: no
    symlink needed, "run/systemd/journal/socket" would be journald's."""
    monkeypatch.chdir(workdir)  # ipcd inherits it
    d = ipcd(STATS, kind="dgram").start_ready()
    os.mkdir(os.path.join(workdir, "v"))
    victim = dgram_socket(os.path.join(workdir, "v", "journal.sock"))
    elsewhere = os.path.join(workdir, "elsewhere")
    os.makedirs(os.path.join(elsewhere, "v"))
    monkeypatch.chdir(elsewhere)
    sender = dgram_socket("v/journal.sock")  # elsewhere/v/journal.sock
    sender.sendto(b"forged by a relative name", d.sock)
    monkeypatch.chdir(workdir)
    assert_nothing_reflected(d, victim)
    assert queued(sender) == []
    wait_unanswerable(d, 1)
    sender.close()
    assert d.stop() == 0


def test_sender_of_another_uid_is_answered_only_at_its_own_socket(ipcd, workdir):
    """As uid OTHER_UID: its own socket gets its echo, a root-owned socket put at its address
    gets nothing. Two ways to put it there:

    - rename: the attacker owns the directory, so it may rename any entry in it, even one
      root's, over its own socket. (In a sticky directory such as /tmp it could not rename
      root's entry; renaming a root-owned directory over its own needs write access to that
      directory: impossible, so not tested.)
    - hard link: with fs.protected_hardlinks=1 (Debian's default) nobody may link a socket
      they do not own, so root makes the link here, standing in for a host where that sysctl
      is 0.
    """
    d = ipcd(STATS, kind="dgram").start_ready()
    make_reachable(d, workdir)
    assert_renamed_and_linked_get_nothing(d, workdir)
    assert "does not own" in d.log()
    assert d.stop() == 0


def assert_renamed_and_linked_get_nothing(d, workdir):
    """The attacker's own socket gets its echo; a root-owned socket renamed or hard-linked over
    the attacker's address while ipcd is stopped gets nothing once it runs again."""
    att = attacker_dir(workdir)
    assert as_attacker("echo", d.sock, os.path.join(att, "own.sock")) == "forged as echo"

    victim_in_att = dgram_socket(os.path.join(att, "victim.sock"))  # root's, the attacker's dir
    victim = dgram_socket(os.path.join(workdir, "journal.sock"))
    renamed, linked = os.path.join(att, "renamed.sock"), os.path.join(att, "linked.sock")
    with stopped(d.pid):
        as_attacker("rename", d.sock, renamed, victim_in_att.getsockname())
        as_attacker("send", d.sock, linked)
        os.link(victim.getsockname(), linked + ".tmp")
        os.replace(linked + ".tmp", linked)
    assert d.exchange(b"control ping") == b"control ping"  # as in assert_nothing_reflected
    assert {"renamed": queued(victim_in_att), "linked": queued(victim)} == \
        {"renamed": [], "linked": []}
    wait_unanswerable(d, 2)


def test_honest_senders_in_a_batch_with_an_attacker(ipcd, workdir):
    """Path and abstract senders, one address several times in a batch, beside an attacker
    and a path that became a plain file: every honest echo arrives, byte-exact and in order,
    and nothing else does."""
    d = ipcd(STATS, kind="dgram").start_ready()
    os.mkdir(os.path.join(workdir, "deep"))
    victim = dgram_socket(os.path.join(workdir, "journal.sock"))
    a = dgram_client(workdir, "a.sock")
    b = dgram_socket(os.path.join(workdir, "deep", "b.sock"))
    x = dgram_socket(f"@ipcd-test-{os.getpid()}-x")
    s_path, f_path = os.path.join(workdir, "s.sock"), os.path.join(workdir, "f.sock")
    s, f = dgram_client(workdir, "s.sock"), dgram_client(workdir, "f.sock")
    sent = {a: [b"a1", os.urandom(300), b""], b: [bytes(range(256))], x: [b"x1", b"\0x2\0"]}
    with stopped(d.pid):  # 10 datagrams at most fit in ipcd's queue: 9 arrive as one batch
        a.sendto(sent[a][0], d.sock)
        x.sendto(sent[x][0], d.sock)
        s.sendto(b"forged 1", d.sock)
        a.sendto(sent[a][1], d.sock)
        f.sendto(b"to a plain file", d.sock)
        b.sendto(sent[b][0], d.sock)
        x.sendto(sent[x][1], d.sock)
        s.sendto(b"forged 2", d.sock)
        a.sendto(sent[a][2], d.sock)
        replace_with_symlink(s_path, victim.getsockname())
        os.unlink(f_path)
        open(f_path, "w").close()
    for c, want in sent.items():
        for data in want:
            got, addr = c.recvfrom(1 << 16)
            assert (got, addr) == (data, d.sock)
    assert_nothing_reflected(d, victim)
    for c in sent:
        assert queued(c) == []
    wait_unanswerable(d, 3)
    for c in (a, b, x, s, f, victim):
        c.close()
    assert d.stop() == 0
