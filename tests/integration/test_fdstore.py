# SPDX-License-Identifier: MIT
"""Zero-downtime restart: on SIGTERM ipcd hands its live connections to the service manager's
fd store, and the next instance adopts them. The test plays the service manager: it owns the
listening socket, reads FDSTORE=1 messages (with their fds) from the notify socket, and passes
listener and stored connections to the next ipcd as systemd would."""

import array
import os
import signal
import socket
import subprocess
import sys
import time

from conftest import IPCD, connect, fill_until_stuck, recv_exact, recv_until_eof, wait_until

# Runs in the child: puts the given fds at 3, 4, … and execs ipcd with LISTEN_* for its own pid.
LAUNCH = """
import os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
names, argv = sys.argv[2], sys.argv[3:]
high = [os.dup(fd) for fd in fds]  # out of the way of 3, 4, … first
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.set_inheritable(3 + i, True)
env = dict(os.environ, LISTEN_FDS=str(len(fds)), LISTEN_PID=str(os.getpid()),
           LISTEN_FDNAMES=names)
os.execve(argv[0], argv, env)
"""


class Manager:
    """The parts of systemd this needs: a listener, a notify socket and an fd store."""

    def __init__(self, workdir):
        self.dir = workdir
        self.sock_path = os.path.join(workdir, "ipcd.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.sock_path)
        self.listener.listen(128)
        self.notify_path = os.path.join(workdir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.setblocking(False)
        self.messages = []
        self.store = []  # (name, fd)
        self.procs = []

    def poll(self):
        while True:
            try:
                msg, anc, _, _ = self.notify.recvmsg(4096, socket.CMSG_SPACE(253 * 4))
            except BlockingIOError:
                return
            text = msg.decode()
            self.messages.append(text)
            fds = array.array("i")
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            if "FDSTORE=1" in text.split("\n"):
                name = next((line[7:] for line in text.split("\n")
                             if line.startswith("FDNAME=")), "stored")
                self.store += [(name, fd) for fd in fds]
            else:
                for fd in fds:
                    os.close(fd)

    def saw(self, needle):
        self.poll()
        return any(needle in m for m in self.messages)

    def start(self, conf_path, log_path):
        """Starts ipcd with the listener and everything in the store, as a restart would."""
        fds = [self.listener.fileno()] + [fd for _, fd in self.store]
        names = ":".join(["ipcd"] + [name for name, _ in self.store])
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        env.pop("JOURNAL_STREAM", None)
        self.messages = []
        with open(log_path, "ab") as log:
            p = subprocess.Popen([sys.executable, "-c", LAUNCH, ",".join(map(str, fds)), names,
                                  IPCD, "-c", conf_path], pass_fds=fds, env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        # What the new instance adopted is its own now; the manager's copies go.
        for _, fd in self.store:
            os.close(fd)
        self.store = []
        wait_until(lambda: self.saw("READY=1") or p.poll() is not None, 10, "READY=1")
        assert p.poll() is None, open(log_path).read()
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        for _, fd in self.store:
            os.close(fd)
        self.listener.close()
        self.notify.close()


def write_conf(workdir, text):
    path = os.path.join(workdir, "ipcd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_restart_is_invisible_to_clients(workdir):
    m = Manager(workdir)
    log = os.path.join(workdir, "ipcd.log")
    conf = write_conf(workdir, "workers = 2;\nlog = { connections = true; };\n")
    try:
        first = m.start(conf, log)
        clients = [connect(m.sock_path) for _ in range(6)]
        for i, c in enumerate(clients):
            c.sendall(b"before %d;" % i)
            assert recv_exact(c, len(b"before %d;" % i)) == b"before %d;" % i

        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        m.poll()
        assert len(m.store) == 6 and all(name == "connection" for name, _ in m.store)
        text = open(log).read()
        assert "handing to the fd store 6 connections" in text
        assert "6 handed to the fd store" in text
        assert "closed (preserved)" in text

        # Between instances, nothing serves the clients: what they send waits in the socket.
        for i, c in enumerate(clients):
            c.sendall(b"during %d;" % i)
        time.sleep(0.2)

        second = m.start(conf, log)
        assert "Adopted 6 connections from the fd store" in open(log).read()
        for i, c in enumerate(clients):
            want = b"during %d;" % i
            assert recv_exact(c, len(want)) == want
            c.sendall(b"after %d;" % i)
            assert recv_exact(c, len(b"after %d;" % i)) == b"after %d;" % i
        # New clients are served by the same listener, alongside.
        with connect(m.sock_path) as fresh:
            fresh.sendall(b"new")
            fresh.shutdown(socket.SHUT_WR)
            assert recv_until_eof(fresh) == b"new"
        for c in clients:
            c.close()
        second.send_signal(signal.SIGINT)  # drains: nothing stays behind
        assert second.wait(20) == 0
    finally:
        m.close()


def test_echo_held_at_sigterm_is_flushed_before_the_hand_over(workdir):
    m = Manager(workdir)
    log = os.path.join(workdir, "ipcd.log")
    conf = write_conf(workdir, "limits = { buffer_size = 4096; max_message_size = 4096; };\n")
    try:
        first = m.start(conf, log)
        c = connect(m.sock_path)
        # Until ipcd holds a full buffer and stopped reading: backpressure.
        sent = fill_until_stuck(c, 8 << 20)
        first.send_signal(signal.SIGTERM)
        # ipcd must write out what it holds before it lets go; the client reads meanwhile.
        got = bytearray()
        while first.poll() is None or len(got) < len(sent):
            c.settimeout(0.5)
            try:
                data = c.recv(1 << 16)
            except socket.timeout:
                if first.poll() is not None:
                    break
                continue
            assert data, "the connection ended instead of being handed over"
            got += data
            if len(got) >= len(sent) and first.poll() is not None:
                break
        assert first.wait(20) == 0
        m.poll()
        assert len(m.store) == 1
        second = m.start(conf, log)
        # Whatever the first instance had not read yet, the second one echoes.
        got += recv_exact(c, len(sent) - len(got), timeout=10)
        assert bytes(got) == bytes(sent)
        c.close()
        second.send_signal(signal.SIGINT)
        assert second.wait(20) == 0
    finally:
        m.close()


def test_stored_connections_end_when_the_manager_closes_them(workdir):
    """A real stop: systemd closes what it stored, and clients see EOF."""
    m = Manager(workdir)
    log = os.path.join(workdir, "ipcd.log")
    try:
        first = m.start(write_conf(workdir, ""), log)
        c = connect(m.sock_path)
        c.sendall(b"x")
        assert recv_exact(c, 1) == b"x"
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        m.poll()
        assert len(m.store) == 1
        for _, fd in m.store:
            os.close(fd)
        m.store = []
        c.settimeout(5)
        assert c.recv(10) == b""
        c.close()
    finally:
        m.close()


def test_preserve_off_drains_instead(workdir):
    m = Manager(workdir)
    log = os.path.join(workdir, "ipcd.log")
    try:
        first = m.start(write_conf(workdir, "preserve_connections = false;\nshutdown_timeout = 1;\n"),
                        log)
        c = connect(m.sock_path)
        c.sendall(b"x")
        assert recv_exact(c, 1) == b"x"
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        m.poll()
        assert m.store == []
        c.settimeout(5)
        assert c.recv(10) == b""  # closed at the end of the drain
        c.close()
    finally:
        m.close()


def test_listener_named_connection_is_still_a_listener(workdir):
    """Names can be wrong; SO_ACCEPTCONN decides."""
    m = Manager(workdir)
    log = os.path.join(workdir, "ipcd.log")
    try:
        m.store = [("connection", os.dup(m.listener.fileno()))]
        m.listener.close()
        m.listener = socket.socket(fileno=os.dup(m.store[0][1]))
        # Start with only the misnamed listener (the real one is the same socket).
        fd = m.store.pop()[1]
        env = dict(os.environ, NOTIFY_SOCKET=m.notify_path)
        with open(log, "ab") as out:
            p = subprocess.Popen([sys.executable, "-c", LAUNCH, str(fd), "connection", IPCD, "-c",
                                  write_conf(workdir, "")], pass_fds=[fd], env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        m.procs.append(p)
        os.close(fd)
        wait_until(lambda: m.saw("READY=1") or p.poll() is not None, 10, "READY=1")
        with connect(m.sock_path) as c:
            c.sendall(b"hi")
            assert recv_exact(c, 2) == b"hi"
        p.send_signal(signal.SIGINT)
        assert p.wait(20) == 0
    finally:
        m.close()
